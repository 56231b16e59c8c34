"""Where results will go, checked before any work: a run, a sweep, a fit or a benchmark that
took minutes must not end with nowhere to put what it made."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path


def folder_problem(path: Path) -> str | None:
    """Why results could not be written in the folder `path` (which need not exist yet), or
    None when they can.

    It tries: making and removing a folder in the nearest one that exists answers alike for
    permissions, read-only disks and special file systems such as /proc, and for root, whom
    `os.access` lets write anywhere."""
    path = Path(path).absolute()
    nearest = next(p for p in (path, *path.parents) if p.exists())
    if not nearest.is_dir():
        return f"{nearest} is a file, not a folder"
    try:
        os.rmdir(tempfile.mkdtemp(dir=nearest, prefix=".retail-sim-check-"))
    except OSError as exc:  # /proc says "no such file": no help to a user
        why = "" if exc.errno == errno.ENOENT else f" ({(exc.strerror or str(exc)).lower()})"
        return f"cannot write in {nearest}{why}"
    return None
