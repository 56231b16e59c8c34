"""Folders of user configs on a command line (`retail-sim --config-dir mystore`), e.g. what
retail-sim-calibrate writes: `sim.config.searchpath_override` puts them on Hydra's search
path."""

from __future__ import annotations


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
