"""After `experiment=tune`: re-run the best setting on fresh seeds, for an honest interval.

The optimiser tunes on one seed (common random numbers make the trials comparable), so the
best trial's own figure flatters it: some of its lead is that seed's luck. `validate` re-runs
the best setting, the strategy's default setting and the baseline on seeds the optimiser never
saw, into `<sweep>/validation/<n>/` in the usual layout (metrics.json, daily.csv, config.yaml
and `.hydra/overrides.yaml` naming the variant), so the ordinary aggregation compares them
paired by seed.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from joblib import Parallel, delayed
from omegaconf import OmegaConf

from experiments.aggregate import Job, per_customer, read_file, recorded_strategy

RESULTS = "optimization_results.yaml"
VALIDATION = "validation"


def best_params(sweep_dir: Path) -> dict[str, Any] | None:
    """The optimiser's best setting; None before it has finished. ValueError when its results
    file cannot be read: the report would show the trials as if the optimiser had not
    finished, and the validation would have nothing to run."""
    path = Path(sweep_dir) / RESULTS
    if not path.exists():
        return None
    problems: list[str] = []
    results = read_file(path.parent, RESULTS, dict, problems)
    best = (results or {}).get("best_params") or {}
    if problems or not isinstance(best, dict):
        why = problems[0] if problems else f"{RESULTS} has no best_params mapping"
        raise ValueError(
            f"{why}, in {path.parent}: the optimiser's best setting is unknown; delete the file "
            "to report the trials alone"
        )
    return {k: _tidy(v) for k, v in best.items()}


def _tidy(value: Any) -> Any:
    """A setting a store can run: 0.2345678 -> 0.235."""
    if isinstance(value, float) and math.isfinite(value) and value != 0:
        return float(f"{value:.3g}")
    return value


def trials_table(jobs: list[Job], params: list[str]) -> pd.DataFrame:
    """One row per finished trial: its settings and the objective's per-customer figure."""
    rows = []
    for job in jobs:
        if not job.done:
            continue
        pairs = dict(o.split("=", 1) for o in job.overrides if "=" in o)
        row: dict[str, Any] = {"trial": int(job.name) if job.name.isdigit() else job.name}
        for p in params:
            row[p] = yaml.safe_load(pairs[p]) if p in pairs else math.nan
        row["net_profit_per_customer"] = per_customer(job.metrics or {})["net_profit_per_customer"]
        rows.append(row)
    return pd.DataFrame(rows)


def _strategy_choice(job: Job) -> str:
    """The strategy config the trials ran: as their overrides name it, else as Hydra recorded
    the choice, read as the sweep's jobs are (an unreadable record is no choice)."""
    return job.override("strategy") or recorded_strategy(job, []) or "?"


def _strategy_config(name: str) -> dict[str, Any]:
    """The strategy's config as `strategy=<name>` composes it. Called at the end of a sweep,
    inside the Hydra app: its global state is set aside for the composition and restored."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.singleton import Singleton

    from sim.config import compose

    state = Singleton.get_state()
    GlobalHydra.instance().clear()
    try:
        return OmegaConf.to_container(compose([f"strategy={name}"]).strategy, resolve=True)
    finally:
        Singleton.set_state(state)


def _run_one(config: dict[str, Any], out_dir: Path, overrides: list[str]) -> None:
    from experiments.run import save_run, write_atomic
    from sim.simulate import simulate

    cfg = OmegaConf.create(config)
    result = simulate(cfg)
    (out_dir / ".hydra").mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / ".hydra" / "overrides.yaml", yaml.safe_dump(overrides))
    save_run(result, cfg, out_dir)


def validate(
    sweep_dir: Path,
    best: dict[str, Any],
    jobs: list[Job],
    seeds: list[int],
    baseline: str = "none",
    n_jobs: int = 1,
) -> Path | None:
    """Run best, default and baseline settings on `seeds`, given the sweep's `best_params` and
    `jobs` as the report read them; returns the validation directory (None when the sweep has
    no best setting or no finished trial to take the config from)."""
    sweep_dir = Path(sweep_dir)
    trials = [job for job in jobs if job.done and job.config]
    if not best or not trials or not seeds:
        return None
    template = trials[0].config
    choice = _strategy_choice(trials[0])
    base_strategy = _strategy_config(baseline)
    default_strategy = _strategy_config(choice)
    tuned_strategy = copy.deepcopy(default_strategy)
    tuned = [f"{key}={value}" for key, value in best.items()]
    for key, value in best.items():
        node = tuned_strategy
        parts = key.split(".")[1:]  # strategy.every_days -> every_days
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
    variants = [
        ([f"strategy={baseline}"], base_strategy),
        ([f"strategy={choice}"], default_strategy),
        ([f"strategy={choice}", *tuned], tuned_strategy),
    ]
    out = sweep_dir / VALIDATION
    tasks = []
    n = 0
    for seed in seeds:  # seed outer: a partial validation still has complete pairs
        for overrides, strategy in variants:
            config = {**copy.deepcopy(template), "strategy": strategy, "seed": int(seed)}
            job_dir = out / str(n)
            n += 1
            if (job_dir / "metrics.json").exists():
                continue  # rebuilt report: keep what already ran
            tasks.append(delayed(_run_one)(config, job_dir, [*overrides, f"seed={seed}"]))
    Parallel(n_jobs=n_jobs)(tasks)
    return out
