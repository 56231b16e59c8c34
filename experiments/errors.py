"""One-line errors for users: bad configs, overrides and inputs never end in a traceback."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from sim.config import ConfigError

# a file that is missing or that the user may not read or write is theirs to fix
USER_ERRORS = (
    ConfigError,
    HydraException,
    OmegaConfBaseException,
    ValueError,
    FileNotFoundError,
    PermissionError,
)


def one_line(exc: BaseException) -> str:
    """Hydra's and OmegaConf's multi-line messages folded into one line that keeps the
    problem, the key and the fix (e.g. the list of available options); an OS's file error
    as the file and the reason."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror.lower()}: check the path and its permissions"
    text = str(exc).split("Config search path")[0]
    options = re.findall(r"^\t(\S+)$", text, flags=re.MULTILINE)
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.startswith("\t") and not line.strip().startswith("object_type")
    ]
    message = " ".join(lines).replace("Available options in", "choose one of the options in")
    if options:
        message += " " + ", ".join(options)
    cause = exc.__cause__
    if cause is not None and str(cause).strip():
        message += f" ({str(cause).strip().splitlines()[0]})"
    return message or type(exc).__name__


def check_parallel_runs(key: str, n_jobs: object) -> None:
    """A joblib `n_jobs` setting: 0 runs nothing, and joblib says so only in a traceback,
    after the work has begun (negative counts are joblib's "all cores but ...")."""
    if n_jobs == 0:
        raise ConfigError(
            f"{key}=0 runs nothing: give how many runs go at once (1 or more), or -1 for one "
            "per core"
        )


@contextmanager
def exit_on_user_error(
    program: str, clean_up: Callable[[], object] | None = None
) -> Iterator[None]:
    """Turn a user's mistake into `program: error: <one line>` and exit status 2, after
    `clean_up` removes what the failed command had begun to write."""
    try:
        yield
    except USER_ERRORS as exc:
        if clean_up is not None:
            clean_up()
        print(f"{program}: error: {one_line(exc)}", file=sys.stderr)
        sys.exit(2)
