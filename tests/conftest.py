"""Shared helpers: compose configs as the command line would, run small simulations."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.config import compose
from sim.simulate import RunResult, simulate

PROJECT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT.parent / "shared" / "data"


def run(*overrides: str, strategy=None) -> RunResult:
    """Simulate with command-line style overrides; `strategy` replaces the configured one."""
    return simulate(compose(list(overrides)), strategy=strategy)


@pytest.fixture
def cdnow_path() -> Path:
    path = SHARED_DATA / "CDNOW_sample.txt"
    if not path.exists():
        pytest.skip(f"CDNOW sample not found at {path} (it lives in the project's shared/ folder)")
    return path
