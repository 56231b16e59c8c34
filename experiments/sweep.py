"""Sweeps: what a multirun will launch, its progress, and its report at the end.

`SweepReport` is a Hydra callback (configured under `hydra.callbacks` by the experiment
configs, `configs/experiment/*.yaml`):

- at the start of a multirun (main process) it writes `plan.json` into the sweep directory:
  every job the sweep will launch, so that a job that never produced results is listed as
  missing even if its directory was never made;
- at the end of each job (in the worker) it prints one progress line, and when the job failed
  it writes the reason (one line) and the traceback to `error.txt` in the job's directory;
- at the end of the multirun (main process) it aggregates the finished jobs and writes
  `summary.csv`, `comparison.csv` and `report.html`. When a job failed, Hydra stops with an
  error before that point; the report is then built on exit, listing what is missing.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import re
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException, HydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from experiments.aggregate import ERROR, PLAN, per_customer
from experiments.errors import USER_ERRORS, one_line
from sim.config import ConfigError, compose

FINISHED = ".finished"  # the sweep's jobs in the order they finished (the progress count)
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
PLUGINS = {  # config group option -> the optional extra that installs it (pyproject.toml)
    "hydra/sweeper/optuna": "tune",
    "hydra/launcher/ray": "ray",
    "hydra/launcher/submitit": "submitit",
}


# ---------------------------------------------------------------------------- the plan
def _dedupe(overrides: list[str]) -> list[str]:
    """One override per key, the last one winning, in the position of the first (as Hydra's
    basic sweeper merges `hydra.sweeper.params` with the command line)."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    merged: dict[str, str] = {}
    for text, override in zip(overrides, parsed, strict=True):
        merged[override.get_key_element()] = text
    return list(merged.values())


def planned_jobs(config: DictConfig, task: list[str] | None = None) -> list[list[str]] | None:
    """Each job's overrides, in Hydra's job-number order, for the basic sweeper (None for an
    optimiser, whose jobs depend on results). `task`: the command line's overrides, `hydra.*`
    ones left out (default: the config's record of them, which a config composed before the
    sweep starts lacks the sweeps of)."""
    sweeper = config.hydra.sweeper
    if sweeper.get("_target_") != BASIC_SWEEPER:
        return None
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    params = [f"{k}={v}" for k, v in (sweeper.get("params") or {}).items()]
    if task is None:
        task = list(OmegaConf.to_container(config.hydra.overrides.task, resolve=False))
    overrides = OverridesParser.create().parse_overrides(params + task)
    batches = BasicSweeper.split_arguments(overrides, sweeper.get("max_batch_size"))
    return [job for batch in batches for job in batch]


def config_sweeps(argv: list[str], composed: DictConfig) -> list[str]:
    """The command line's overrides (`hydra...` ones left out) with the sweeps that a chosen
    experiment config declares in `hydra.sweeper.params` merged in as Hydra's basic sweeper
    merges them, so that the preflight checks every value a sweep will run. `composed` is
    the command line's config with its `hydra` node (`compose_with_hydra`)."""
    overrides = [a for a in argv if not a.startswith("hydra")]
    parsed = OverridesParser.create().parse_overrides(argv)
    chosen = [o.key_or_group for o in parsed if not o.is_sweep_override()]
    if "experiment" not in chosen:
        return [_seed_ends(o) for o in overrides]
    params = composed.hydra.sweeper.get("params") or {}
    config = [f"{k}={v}" for k, v in params.items() if not str(k).startswith("hydra")]
    return [_seed_ends(o) for o in _dedupe([*config, *overrides])]


def compose_with_hydra(overrides: list[str]) -> DictConfig:
    """The config with its `hydra` node, as Hydra will compose it; a missing optional plugin
    is named with the extra that installs it."""
    try:
        return compose(overrides, with_hydra=True)
    except HydraException as exc:
        for plugin, extra in PLUGINS.items():
            if plugin in str(exc):
                raise ConfigError(
                    f"{plugin} is an optional plugin: install it with pip install -e "
                    f"'.[{extra}]' (see the README)"
                ) from None
        removed = re.match(r"Error merging override ~([\w.]+)", str(exc))
        if removed and "does not support deletion" in str(exc.__cause__ or exc):
            key = removed[1]
            raise ConfigError(f"~{key}: {key} cannot be removed: set its value instead") from None
        raise


def _seed_ends(override: str) -> str:
    """`seed=range(1,11)` -> `seed=1,10`: a seed is valid when it lies in the schema's range,
    so checking the smallest and largest covers every seed of the sweep (and saves the
    preflight a config composition per seed)."""
    parsed = OverridesParser.create().parse_override(override)
    if parsed.get_key_element() != "seed" or not parsed.is_discrete_sweep():
        return override
    try:
        seeds = [int(v) for v in parsed.sweep_string_iterator()]
    except (ValueError, HydraException):  # not numbers, or a glob(): checked as they are
        return override
    return f"seed={min(seeds)},{max(seeds)}" if len(seeds) > 1 else override


def reports_progress(hydra_cfg: DictConfig) -> bool:
    """Whether this sweep has a `SweepReport` callback (which prints a line per job)."""
    callbacks = hydra_cfg.get("callbacks") or {}
    return any(str(c.get("_target_", "")).endswith(".SweepReport") for c in callbacks.values())


# ---------------------------------------------------------------------------- the callback
class SweepReport(Callback):
    """Plan, progress and report of a sweep (see the module docstring).

    Args:
        baseline: the strategy the others are compared with, seed by seed.
        validation_seeds: seeds on which `experiment=tune` re-runs its best setting, the
            strategy's default setting and the baseline, for an honest interval (fresh seeds:
            the seed the optimiser tuned on would flatter the winner).
        report: build the report at the end (False: only plan and progress).
        recheck_jobs: let Hydra's basic sweeper compose every job's config before launching
            any (off: the preflight has checked every sweep value; see `_skip_recheck`).
    """

    def __init__(
        self,
        baseline: str = "none",
        validation_seeds: list[int] | None = None,
        report: bool = True,
        recheck_jobs: bool = False,
    ) -> None:
        self.baseline = baseline
        self.validation_seeds = list(validation_seeds or [])
        self.report = report
        self.recheck_jobs = recheck_jobs
        self._sweep_dir: Path | None = None
        self._started = 0.0
        self._restore: Any = None

    # ------------------------------------------------------------ main process
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir)).absolute()
        sweep_dir.mkdir(parents=True, exist_ok=True)
        jobs = planned_jobs(config)
        sweeper = config.hydra.sweeper
        total = len(jobs) if jobs is not None else int(sweeper.get("n_trials") or 0)
        plan = {
            "total": total,
            "baseline": self.baseline,
            "validation_seeds": self.validation_seeds,
            "n_jobs": _n_jobs(config),
            "jobs": [{"num": i, "overrides": o} for i, o in enumerate(jobs or [])],
        }
        earlier = _read_json(sweep_dir / PLAN)
        if earlier and earlier.get("jobs"):
            # rerunning missing jobs into an earlier sweep's directory (see the README):
            # that sweep's plan stays the plan, so its report still covers every job
            plan, total = earlier, int(earlier.get("total") or total)
            os.utime(sweep_dir / PLAN)  # the progress clock starts now
        else:
            _write(sweep_dir / PLAN, json.dumps(plan, indent=1) + "\n")
        self._sweep_dir, self._started = sweep_dir, time.time()
        n_jobs = plan["n_jobs"]
        launcher = str(config.hydra.launcher.get("_target_", "")).rsplit(".", 1)[-1]
        at_once = f"{n_jobs} at a time" if isinstance(n_jobs, int) else f"by the {launcher}"
        print(
            f"retail-sim: {total or 'up to ?'} runs into {sweep_dir}, {at_once}; each line "
            "below is one finished run",
            flush=True,
        )
        if self.report:
            atexit.register(self._finish_on_exit)
            # the main process waits while the jobs run: load the plotting libraries meanwhile
            threading.Thread(target=_preload_report, daemon=True).start()
        if not self.recheck_jobs:
            self._skip_recheck()

    def _skip_recheck(self) -> None:
        """Hydra's basic sweeper composes every job's config in the main process, one after
        the other, before it launches any (about a third of a run's time per job here: 20 s
        for the comparison). retail-sim's preflight has already composed and checked every
        sweep value, and a job whose combination of values fails is recorded as failed
        without stopping the others, so this sweep skips that second check."""
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

        original = BasicSweeper.validate_batch_is_legal
        BasicSweeper.validate_batch_is_legal = lambda self, batch: None
        self._restore = (BasicSweeper, original)

    def _restore_recheck(self) -> None:
        if self._restore is not None:
            cls, original = self._restore
            cls.validate_batch_is_legal = original
            self._restore = None

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._restore_recheck()
        if self.report:
            atexit.unregister(self._finish_on_exit)
            self._finish(failed=False)

    def _finish_on_exit(self) -> None:
        self._restore_recheck()
        self._finish(failed=True)

    def _finish(self, failed: bool) -> None:
        if self._sweep_dir is None:
            return
        from reports.build import build_and_tell

        built = build_and_tell(self._sweep_dir, interrupted=failed, started=self._started)
        if built is None and not failed:  # the runs are safe, but a script must not see success
            sys.exit(1)

    # ------------------------------------------------------------ each job (worker)
    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._job_started = time.time()

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        out = Path(str(config.hydra.runtime.output_dir))
        sweep_dir = out.parent
        label = _short_label(list(job_return.overrides or []), sweep_dir)
        if job_return.status == JobStatus.FAILED:
            exc = job_return._return_value  # the exception (.return_value would raise it)
            if isinstance(exc, JobFailed) and exc.__cause__ is not None:
                exc = exc.__cause__  # what went wrong in the run
            reason = failure_reason(exc)
            trace = "".join(traceback.format_exception(exc))
            _write(out / ERROR, f"{reason}\n\n{trace}")  # the reason, then where it happened
            line = f"FAILED {label}: {reason}"
        else:
            (out / ERROR).unlink(missing_ok=True)  # a rerun that worked
            metrics = _read_metrics(out)
            value = ""
            profit = per_customer(metrics)["net_profit_per_customer"] if metrics else math.nan
            if math.isfinite(profit):
                value = f": net profit per customer {profit:,.2f}"
            line = f"{label}{value}"
        took = time.time() - getattr(self, "_job_started", time.time())
        done = _finished_rank(sweep_dir, out.name)
        print(f"{_counter(sweep_dir, done)} {line} ({took:.1f} s)", flush=True)


class JobFailed(CompactHydraException):
    """A sweep's job failed. Hydra ends the sweep by raising the first failed job's exception;
    as this kind it prints this one line, where it printed a traceback through its own frames
    (the job's error.txt keeps the run's traceback, and the report lists every failure)."""


def failure_reason(exc: BaseException) -> str:
    """Why a job failed, in one line: the message of a mistake in the settings, the kind and
    message of a bug."""
    reason = one_line(exc)
    return reason if isinstance(exc, USER_ERRORS) else f"{type(exc).__name__}: {reason}"


def _preload_report() -> None:
    # a failure here is reported when the report is built
    with contextlib.suppress(Exception):
        import reports.build  # noqa: F401  (matplotlib, seaborn)


def _short_label(overrides: list[str], sweep_dir: Path) -> str:
    """The overrides that tell this job from the others of the plan (`seed=2 strategy=winback`),
    the last part of each key (`fatigue_churn=0.16`)."""
    plan = _read_json(sweep_dir / PLAN) or {}
    jobs = [job["overrides"] for job in plan.get("jobs", [])]
    common = set.intersection(*(set(o) for o in jobs)) if jobs else {"experiment="}
    shown = [o for o in overrides if o not in common and not o.startswith("experiment=")]
    return " ".join(
        f"{k.rsplit('.', 1)[-1] if not k.startswith('strategy') else k}={v}"
        for k, _, v in (o.partition("=") for o in shown)
    )


def _finished_rank(sweep_dir: Path, job: str) -> int:
    """Jobs of the sweep finished so far, this one included, in the order they finished: each
    appends its name to one log (appending one short line is atomic), and counts the distinct
    names up to its own line. Counting result files instead gave two jobs that finished
    together the same number; a rerun job keeps the count of the jobs already done."""
    log = sweep_dir / FINISHED
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{job}\n".encode())
    finally:
        os.close(fd)
    names = log.read_text().splitlines()
    mine = len(names) - names[::-1].index(job)
    return len(set(names[:mine]))


def _counter(sweep_dir: Path, done: int) -> str:
    """`[ 12/70  0:45, ~3:10 left]`: finished runs, elapsed time and a rough time left."""
    plan = _read_json(sweep_dir / PLAN) or {}
    total = int(plan.get("total") or 0)
    started = (sweep_dir / PLAN).stat().st_mtime if (sweep_dir / PLAN).exists() else None
    width = len(str(total or done))
    text = f"[{done:>{width}}/{total or '?'}"
    if started:
        elapsed = time.time() - started
        text += f" {_clock(elapsed)}"
        if total and done:
            text += f", ~{_clock(elapsed / done * max(total - done, 0))} left"
    return text + "]"


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _n_jobs(config: DictConfig) -> int | str:
    launcher = config.hydra.launcher
    n = launcher.get("n_jobs") if "n_jobs" in launcher else None
    if n is None:
        return 1 if "basic_launcher" in str(launcher.get("_target_", "")) else "?"
    if int(n) < 0:
        from joblib import cpu_count

        return cpu_count() + 1 + int(n)
    return int(n)


def _read_metrics(out: Path) -> dict[str, Any] | None:
    return _read_json(out / "metrics.json")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def warn(message: str) -> None:
    print(f"retail-sim: {message}", file=sys.stderr, flush=True)
