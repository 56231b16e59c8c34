"""Folders of user configs (`retail-sim --config-dir mystore`), e.g. what retail-sim-calibrate
writes: its population and store files join the built-in ones on Hydra's search path."""

from __future__ import annotations

from pathlib import Path


def searchpath_override(config_dir: str | Path) -> str:
    """The override that adds a folder of configs to the search path, as `--config-dir` does.

    For `sim.config.compose`, which cannot take --config-dir; like Hydra's own --config-dir,
    the folder is searched after the built-in configs.
    """
    path = Path(config_dir).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ValueError(
            f"config directory {path} is a file (--config-dir): give the folder that holds it"
        )
    if not path.is_dir():
        raise FileNotFoundError(f"config directory {path} not found (--config-dir)")
    quoted = f"file://{path}".replace("\\", "\\\\").replace("'", "\\'")
    return f"hydra.searchpath=['{quoted}']"


def split_config_dir(argv: list[str]) -> tuple[str | None, list[str]]:
    """Hydra's --config-dir/-cd value in a command line, and the command line without it."""
    rest, found, i = [], None, 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--config-dir", "-cd") and i + 1 < len(argv):
            found, i = argv[i + 1], i + 2
            continue
        if arg.startswith("--config-dir="):
            found = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return found, rest
