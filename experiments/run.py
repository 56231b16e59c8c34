"""`retail-sim`: one simulation run, or a Hydra sweep of runs (`-m`), with results on disk.

Each run writes into its Hydra output directory: `metrics.json` (the KPIs), the daily KPI
series (`daily.csv` or `daily.parquet`) and `config.yaml` (the resolved config, enough to
reproduce the run), and prints a short KPI summary.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from experiments.aggregate import ERROR
from experiments.errors import exit_on_user_error
from experiments.preflight import preflight
from experiments.sweep import JobFailed, failure_reason, reports_progress
from sim.config import ConfigError, register_schema
from sim.simulate import RunResult, simulate

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


def _new_file_mode() -> int:
    """The mode open() gives a new file under the user's umask (read once, at import: the
    umask can only be read by setting it)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _new_file_mode()


def write_atomic(
    path: Path, text: str | None = None, writer: Callable[[str], object] | None = None
) -> None:
    """Write a file whole or not at all: a crash never leaves a half-written result."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        if writer is not None:
            writer(tmp)
        else:
            Path(tmp).write_text(text)
        os.chmod(tmp, _FILE_MODE)  # mkstemp's 0600 would hide results from the user's group
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
    if hydra_cfg.mode != RunMode.MULTIRUN:
        with exit_on_user_error("retail-sim", clean_up=lambda: _remove_hydra_files(out_dir)):
            return _run(cfg, out_dir, summary=True)
    # In a sweep a failure fails this job only: Hydra records it and the other jobs go on (an
    # exit here would stop the whole joblib pool); the job's error.txt keeps the traceback.
    try:  # a sweep that reports progress prints one line per job, not each run's summary
        return _run(cfg, out_dir, summary=not reports_progress(hydra_cfg))
    except Exception as exc:
        raise JobFailed(
            f"retail-sim: error: {failure_reason(exc)} (traceback in {out_dir / ERROR}); "
            "the sweep's report lists every run that failed"
        ) from exc


def _run(cfg: DictConfig, out_dir: Path, summary: bool) -> float:
    """The run (or the validity suite) into `out_dir`; with `summary`, its KPIs printed."""
    if cfg.get("validate") is not None:  # experiment=validate: the validity suite
        from experiments.validate import run_suite

        return run_suite(cfg, out_dir)
    result = simulate(cfg, progress=_progress)
    save_run(result, cfg, out_dir)
    if summary:
        strategy = cfg.strategy._target_.rsplit(".", 1)[-1]
        title = f"{strategy}, seed {cfg.seed}: results in {out_dir}"
        print(format_summary(result.metrics, title))
    return float(result.metrics["net_profit"])


def _remove_hydra_files(out_dir: Path) -> None:
    """A single run that stops on a mistake leaves no folder: Hydra had made it, with its
    `.hydra/` and `run.log`, before the run began. Only those are removed, and the folder
    only if that empties it (it may be a folder the user named)."""
    shutil.rmtree(out_dir / ".hydra", ignore_errors=True)
    (out_dir / "run.log").unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        out_dir.rmdir()


def _check_order(argv: list[str]) -> None:
    """Hydra reads its options only before the overrides: after them, `-m` ends in eight
    lines of usage blaming the overrides."""
    seen = next((a for a in argv if not a.startswith("-") and ("=" in a or a[:1] in "+~")), None)
    if seen is None:
        return
    late = next((a for a in argv[argv.index(seen) + 1 :] if a.startswith("-")), None)
    if late:
        raise ConfigError(
            f"{late} comes after the overrides: give -m, --config-dir and Hydra's other options "
            f"first (retail-sim {late} ... {seen} ...)"
        )


def main() -> None:
    register_schema()
    with exit_on_user_error("retail-sim"):
        _check_order(sys.argv[1:])
        preflight(sys.argv[1:])
    _app()


if __name__ == "__main__":
    main()
