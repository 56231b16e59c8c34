"""One-line errors for users: bad configs, overrides and inputs never end in a traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from sim.config import ConfigError

USER_ERRORS = (ConfigError, HydraException, OmegaConfBaseException, ValueError, FileNotFoundError)


def one_line(exc: BaseException) -> str:
    """The first meaningful line of an error message (Hydra's carry extra context lines)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


@contextmanager
def exit_on_user_error(program: str) -> Iterator[None]:
    """Turn a user's mistake into `program: error: <one line>` and exit status 2."""
    try:
        yield
    except USER_ERRORS as exc:
        print(f"{program}: error: {one_line(exc)}", file=sys.stderr)
        sys.exit(2)
