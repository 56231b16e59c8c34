"""`retail-sim`: one simulation run, or a Hydra sweep of runs (`-m`), with results on disk.

Each run writes into its Hydra output directory: `metrics.json` (the KPIs), the daily KPI
series (`daily.csv` or `daily.parquet`) and `config.yaml` (the resolved config, enough to
reproduce the run), and prints a short KPI summary.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from experiments.configdir import searchpath_override, split_config_dir
from experiments.errors import exit_on_user_error
from experiments.sweep import config_sweeps, reports_progress
from sim.config import ConfigError, compose, register_schema, validate
from sim.simulate import RunResult, build_strategy, simulate

log = logging.getLogger("retail-sim")

SUMMARY = [
    ("net_profit", "net profit", "{:,.0f}"),
    ("revenue", "revenue", "{:,.0f}"),
    ("marketing_cost", "marketing cost", "{:,.0f}"),
    ("transactions", "transactions", "{:,}"),
    ("aov", "average ticket", "{:,.2f}"),
    ("repurchase_rate", "repurchase rate", "{:.1%}"),
    ("churn_rate", "churn (true)", "{:.1%}"),
    ("lapsed_rate", "lapsed 180d+", "{:.1%}"),
    ("reactivation_rate", "reactivation", "{:.1%}"),
    ("clv", "CLV per customer", "{:,.2f}"),
    ("vip_share", "VIP share", "{:.1%}"),
    ("messages_sent", "messages sent", "{:,}"),
    ("opt_out_rate", "opted out", "{:.1%}"),
    ("complaints", "complaints", "{:,}"),
]


def format_summary(metrics: dict[str, Any], title: str) -> str:
    """The KPIs a strategist looks at first, one per line."""
    rows = [f"{label:>17}  {fmt.format(metrics[key])}" for key, label, fmt in SUMMARY]
    return "\n".join([title, *rows])


def write_atomic(path: Path, text: str | None = None, writer=None) -> None:
    """Write a file whole or not at all: a crash never leaves a half-written result."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        if writer is not None:
            writer(tmp)
        else:
            Path(tmp).write_text(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_run(result: RunResult, cfg: DictConfig, out_dir: Path) -> None:
    """metrics.json, the daily series and the resolved config, side by side."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    if cfg.output.daily_format == "parquet":
        write_atomic(out_dir / "daily.parquet", writer=lambda p: result.daily.to_parquet(p))
    else:
        write_atomic(out_dir / "daily.csv", writer=lambda p: result.daily.to_csv(p, index=False))
    metrics = json.dumps(result.metrics, indent=2, sort_keys=True)
    write_atomic(out_dir / "metrics.json", metrics + "\n")


def _progress(day: int, days: int) -> None:
    if day == days or day % max(days // 4, 1) == 0:
        log.info("day %d of %d", day, days)


@hydra.main(version_base=None, config_path="pkg://retail_sim_configs", config_name="config")
def _app(cfg: DictConfig) -> float:
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    sweep = hydra_cfg.mode == RunMode.MULTIRUN
    if cfg.get("validate") is not None:  # experiment=validate: the validity suite
        from experiments.validate import run_suite

        return run_suite(cfg, out_dir)
    # In a sweep a mistake fails this job only: Hydra records it and the other jobs go on
    # (an exit here would stop the whole joblib pool).
    with nullcontext() if sweep else exit_on_user_error("retail-sim"):
        result = simulate(cfg, progress=_progress)
    save_run(result, cfg, out_dir)
    if not (sweep and reports_progress(hydra_cfg)):  # else one progress line per job
        strategy = cfg.strategy._target_.rsplit(".", 1)[-1]
        title = f"{strategy}, seed {cfg.seed}: results in {out_dir}"
        print(format_summary(result.metrics, title))
    return float(result.metrics["net_profit"])


def _variants(overrides: list[str]) -> list[list[str]]:
    """Each value of each sweep (`a=1,2`, `seed=range(3)`), the other sweeps at their first
    value; sweeps with no list of values (an optimiser's interval) are left to the sweeper."""
    choices = []
    for text, override in zip(
        overrides, OverridesParser.create().parse_overrides(overrides), strict=True
    ):
        if not override.is_sweep_override():
            choices.append([text])
            continue
        try:
            values = list(override.sweep_string_iterator())
        except (HydraException, TypeError, ValueError):
            continue
        if not values:
            raise ConfigError(f"{text} sweeps over no values: give at least one")
        choices.append([f"{override.get_key_element()}={value}" for value in values])
    first = [values[0] for values in choices]
    variants = [first]
    for i, values in enumerate(choices):
        variants += [[*first[:i], value, *first[i + 1 :]] for value in values[1:]]
    return variants


def preflight(argv: list[str]) -> None:
    """Compose and check the config before Hydra starts, so that a bad override, an unknown
    key or strategy, or a nonsensical value stops with one line and nothing is written.
    Configs in a --config-dir folder are found as Hydra will find them."""
    config_dir, argv = split_config_dir(argv)
    search = [searchpath_override(config_dir)] if config_dir else []
    overrides = config_sweeps([a for a in argv if "=" in a and not a.startswith("-")], search)
    for variant in _variants(overrides):
        cfg = compose([*search, *variant])
        validate(cfg)
        build_strategy(cfg.strategy, cfg)
        if cfg.get("validate") is not None:
            from experiments.validate import check

            check(cfg)


def main() -> None:
    register_schema()
    with exit_on_user_error("retail-sim"):
        preflight(sys.argv[1:])
    _app()
