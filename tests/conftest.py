"""Shared helpers: compose configs as the command line would, run small simulations."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sim.config import compose
from sim.simulate import RunResult, simulate

PROJECT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT.parent / "shared" / "data"


def run(*overrides: str, strategy=None) -> RunResult:
    """Simulate with command-line style overrides; `strategy` replaces the configured one."""
    return simulate(compose(list(overrides)), strategy=strategy)


def run_cli(capsys, main: Callable[[list[str]], None], *args: object) -> tuple[int, str, str]:
    """Run a command's `main` in-process: (exit status, stdout, stderr)."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exited:
        code = exited.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The project built as a wheel, once per test session (several tests install it)."""
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(PROJECT)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    return next(out.glob("retail_sim-*.whl"))


@pytest.fixture(scope="session")
def cdnow_path() -> Path:
    """The shared CDNOW sample; the tests that need it skip in a clone without shared/."""
    path = SHARED_DATA / "CDNOW_sample.txt"
    if not path.exists():
        pytest.skip(f"CDNOW sample not found at {path} (it lives in the project's shared/ folder)")
    return path
