"""Collect a sweep's job directories into tables: one row per job, and the comparison.

A sweep directory holds one sub-directory per job (Hydra's `hydra.sweep.subdir`, the job
number), each with `metrics.json`, `config.yaml`, the daily series and Hydra's `.hydra/`
record of the job's overrides. A job that failed or is still running has no `metrics.json`,
and one of a job's files may be unreadable (truncated, not JSON or YAML, or a metrics.json
without KPIs): such a job is listed as missing, with the reason, and everything else is still
aggregated.

- `summary.csv`: one row per job: status, strategy, scenario, seed and every KPI (treated
  arm), the per-customer KPIs, the holdout arm's KPIs and the holdout-measured uplift.
- `comparison.csv`: one row per scenario x strategy x KPI: the mean over seeds, and the
  difference against the baseline strategy (`none`) paired by seed with its 95% interval, the
  unpaired interval for contrast, and for the KPIs the holdout measures, the holdout-measured
  uplift next to the true one (which only a simulation can know).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from experiments.stats import Interval, paired_difference, unpaired_difference
from sim.kpis import GLOSSARY
from sim.uplift import INTERVAL_KPIS, INTERVAL_PARTS

BASELINE = "none"
PLAN = "plan.json"  # written by the sweep callback: every job the sweep will launch
# a sweep directory holds one of: the callback's plan, the record Hydra's basic sweeper
# writes at the start, the results its optuna sweeper writes at the end
SWEEP_FILES = (PLAN, "multirun.yaml", "optimization_results.yaml")
ERROR = "error.txt"  # written by the sweep callback when a job fails: why (one line), traceback
SUMMARY, COMPARISON = "summary.csv", "comparison.csv"

PER_CUSTOMER = {
    "net_profit_per_customer": "net_profit",
    "revenue_per_customer": "revenue",
    "marketing_cost_per_customer": "marketing_cost",
    "messages_per_customer": "messages_sent",
}
DERIVED_GLOSSARY = {
    "net_profit_per_customer": "net profit / customers on record on day 0",
    "revenue_per_customer": "revenue / customers on record on day 0",
    "marketing_cost_per_customer": "marketing cost / customers on record on day 0",
    "messages_per_customer": "messages sent / customers on record on day 0",
    "incremental_roi": "extra net profit per unit of extra marketing cost, against the "
    "baseline on the same seeds (0.5: each unit spent came back with 0.5 on top; below 0: "
    "the spend did not pay for itself)",
}
KPIS = [*GLOSSARY, *PER_CUSTOMER]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# ---------------------------------------------------------------------------- jobs on disk
@dataclass
class Job:
    """One job of a sweep as found on disk (or only planned)."""

    name: str  # the job's directory name (Hydra's job number)
    dir: Path
    overrides: list[str]
    status: str  # done | failed | unreadable | unfinished | not started
    metrics: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    error: str | None = None
    strategy: str = "?"
    seed: int | None = None
    scenario: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status == "done"

    def override(self, key: str) -> str | None:
        """What the job's overrides set `key` to (`strategy=blanket`: blanket), if anything."""
        return dict(map(_split, self.overrides)).get(key)


def read_file(folder: Path, name: str, shape: type, problems: list[str]) -> Any:
    """A sweep's or job's JSON or YAML file; None when it cannot be used (truncated, not JSON
    or YAML, or not the mapping or list written there), with the reason added to `problems`."""
    fmt = "JSON" if name.endswith(".json") else "YAML"
    try:
        text = (folder / name).read_text()
        value = json.loads(text) if fmt == "JSON" else yaml.load(text, Loader=_Loader)
    except OSError as exc:
        problems.append(f"{name} cannot be read ({exc.strerror})")
        return None
    except (ValueError, yaml.YAMLError) as exc:
        problems.append(f"{name} is not valid {fmt} ({_why(exc)})")
        return None
    if not isinstance(value, shape):
        kind = "list" if shape is list else "object" if fmt == "JSON" else "mapping"
        problems.append(f"{name} is not a {fmt} {kind}")
        return None
    return value


def _why(exc: Exception) -> str:
    """Where a JSON or YAML file breaks, in one line."""
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f"line {mark.line + 1}: {exc.problem}"
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno}: {exc.msg}"
    return str(exc).splitlines()[0]


def read_plan(sweep_dir: Path) -> tuple[dict[str, Any], str | None]:
    """The sweep's plan.json ({} when it has none) and, when it cannot be used, why: without
    it the jobs that never started are unknown, and so are the sweep's baseline and
    validation seeds."""
    if not (Path(sweep_dir) / PLAN).exists():
        return {}, None
    problems: list[str] = []
    plan = read_file(Path(sweep_dir), PLAN, dict, problems)
    if plan is not None and not _plan_is_whole(plan):
        problems.append(f"{PLAN} does not hold the plan the sweep wrote")
    return ({}, problems[0]) if problems else (plan, None)


def _plan_is_whole(plan: dict[str, Any]) -> bool:
    jobs = plan.get("jobs", [])
    return (
        isinstance(jobs, list)
        and all(
            isinstance(j, dict) and "num" in j and isinstance(j.get("overrides"), list)
            for j in jobs
        )
        and isinstance(plan.get("baseline", ""), str)
        and isinstance(plan.get("validation_seeds", []), list)
    )


def _sort_key(name: str) -> tuple[int, Any]:
    return (0, int(name)) if name.isdigit() else (1, name)


def is_job_dir(path: Path) -> bool:
    return path.is_dir() and any(
        (path / name).exists() for name in (".hydra", "metrics.json", "config.yaml", ERROR)
    )


def _is_sweep(path: Path) -> bool:
    return any((path / name).exists() for name in SWEEP_FILES)


def check_sweep_dir(path: Path) -> None:
    """Refuse a directory that is not a sweep's, saying what it is, before anything is written
    into it: a single run, a validation suite (its own report.html would be overwritten) or a
    folder of single runs would get a report about "missing" jobs that are no sweep's."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"sweep directory {path} not found")
    if not path.is_dir():
        raise ValueError(f"{path} is a file: give the directory of a sweep")
    if _is_sweep(path):
        return
    give = "give the directory of a sweep (multirun/<date>/<time>, with 0/, 1/, ... inside)"
    if (path / "validation.json").exists():
        raise ValueError(
            f"{path} is the output of the validation suite (experiment=validate), which has "
            f"its own report.html: {give}"
        )
    if (path / ".hydra").is_dir() or (path / "metrics.json").exists():
        if _is_sweep(path.parent):
            give = f"give the sweep that holds it, {path.parent}"
        raise ValueError(f"{path} is the output of a single run, not a sweep: {give}")
    sweeps = sorted(p.parent for name in SWEEP_FILES for p in path.glob(f"*/*/{name}"))
    sweeps += sorted(p.parent for name in SWEEP_FILES for p in path.glob(f"*/{name}"))
    if sweeps:
        give = f"give one of the sweeps inside it, e.g. {sweeps[-1]}"
    if any(is_job_dir(p) for p in path.iterdir()):
        raise ValueError(
            f"{path} holds runs but is not a sweep (it has no {' or '.join(SWEEP_FILES)}): {give}"
        )
    raise FileNotFoundError(f"{path} holds no runs: {give}")


def find_jobs(sweep_dir: Path, plan: dict[str, Any] | None = None) -> list[Job]:
    """Every job of the sweep: the planned ones (plan.json, unless the caller has read it
    already: `plan`) and every job directory found."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise FileNotFoundError(f"sweep directory {sweep_dir} not found")
    if plan is None:
        plan, _ = read_plan(sweep_dir)
    planned = {str(job["num"]): job["overrides"] for job in plan.get("jobs", [])}
    names = {p.name for p in sweep_dir.iterdir() if is_job_dir(p)} | set(planned)
    jobs = [_read_job(sweep_dir / name, planned.get(name)) for name in names]
    jobs.sort(key=lambda j: _sort_key(j.name))
    _label(jobs)
    return jobs


def _read_job(path: Path, planned: list[str] | None) -> Job:
    """A job as its directory has it. A file it cannot read (a truncated config.yaml, say)
    makes the job unreadable, with the reason: it is missing, not a run to compare."""
    problems: list[str] = []
    overrides = planned or []
    if (path / ".hydra" / "overrides.yaml").exists():
        recorded = read_file(path, ".hydra/overrides.yaml", list, problems)
        overrides = overrides if recorded is None else [str(o) for o in recorded]
    job = Job(path.name, path, overrides, "not started")
    if not path.exists():
        return job
    if (path / "metrics.json").exists():
        job.metrics = _read_metrics(path, problems)
    for name in ("config.yaml", ".hydra/config.yaml"):
        if (path / name).exists():
            job.config = read_file(path, name, dict, problems)
            problem = job.config is not None and _config_problem(job.config)
            if problem:
                problems.append(f"{name} {problem} (cut short?)")
                job.config = None
            break
    if job.override("strategy") is None:
        job.strategy = _configured_strategy(job, problems)
    if job.metrics is not None and not problems:
        job.status = "done"
    elif (path / ERROR).exists():
        job.status = "failed"
        lines = (path / ERROR).read_text(errors="replace").strip().splitlines()
        job.error = lines[0] if lines else "failed"  # the reason; a traceback may follow
    elif problems:
        job.status = "unreadable"
        job.error = "; ".join(problems)
    else:
        job.status = "unfinished"
    return job


def _read_metrics(path: Path, problems: list[str]) -> dict[str, Any] | None:
    """The job's metrics.json; None, with the reason, when it holds none of the KPIs (`{}`, or
    some other program's JSON): a finished run with every KPI blank would be compared. Its
    holdout and uplift blocks, if any, must be objects: the summary reads KPIs from them."""
    metrics = read_file(path, "metrics.json", dict, problems)
    if metrics is None:
        return None
    if GLOSSARY.keys().isdisjoint(metrics):
        problems.append("metrics.json holds no KPIs")
        return None
    for block in ("holdout", "uplift"):
        if not isinstance(metrics.get(block) or {}, dict):
            problems.append(f"metrics.json's {block} is not a JSON object")
            return None
    for prefix, kpis in (("", metrics), ("holdout ", metrics.get("holdout") or {})):
        for kpi in GLOSSARY.keys() & kpis.keys():  # a run writes a finite number, or null
            value = kpis[kpi]
            if value is not None and not (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
            ):
                problems.append(f"metrics.json's {prefix}{kpi} is {value!r}, not a number")
                return None
    uplift = metrics.get("uplift") or {}
    for kpi in INTERVAL_KPIS:  # each an {estimate, low, high} object
        if not isinstance(uplift.get(kpi) or {}, dict):
            problems.append(f"metrics.json's uplift {kpi} is not a JSON object")
            return None
    return metrics


RUN_SETTINGS = {"customers": int, "days": int, "seed": int, "holdout": float}
RUN_SECTIONS = ("population", "store", "channels", "strategy")


def _config_problem(config: dict[str, Any]) -> str | None:
    """Why a job's config cannot be the run's (a file cut short can still parse): the report
    reads these settings and sections from it."""
    for key, kind in RUN_SETTINGS.items():
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, int | kind):
            return f"has no number for {key}"
    for key in RUN_SECTIONS:
        if not isinstance(config.get(key), dict):
            return f"has no {key} section"
    return None


def recorded_strategy(job: Job, problems: list[str]) -> str | None:
    """The strategy config Hydra recorded the job choosing (`.hydra/hydra.yaml`), if any; a
    record it cannot read adds its reason to `problems`."""
    if not (job.dir / ".hydra" / "hydra.yaml").exists():
        return None
    hydra_cfg = read_file(job.dir, ".hydra/hydra.yaml", dict, problems) or {}
    choice = (hydra_cfg.get("hydra") or {}).get("runtime") or {}
    choice = (choice.get("choices") or {}).get("strategy")
    return str(choice) if choice else None


def _configured_strategy(job: Job, problems: list[str]) -> str:
    """The strategy the job's config chose (no override names it): Hydra's record of the
    choice, else the last part of the strategy's class."""
    choice = recorded_strategy(job, problems)
    if choice:
        return choice
    target = ((job.config or {}).get("strategy") or {}).get("_target_")
    return str(target).rsplit(".", 1)[-1] if target else "?"


def _split(override: str) -> tuple[str, str]:
    key, _, value = override.partition("=")
    return key.lstrip("+~"), value


IGNORED_KEYS = ("experiment", "seed")


def _label(jobs: list[Job]) -> None:
    """Strategy label, seed and scenario of each job.

    The strategy label is the strategy's config name (`strategy=blanket`), followed by any of
    its settings the job overrides (`blanket every_days=7`) and the frequency cap when the
    sweep varies it (`blanket cap=weekly`: a cap is part of the policy; `cap=none` is none,
    and so is a cap on `none`, which sends nothing to cap).
    The scenario is every other override whose value differs between jobs (e.g. a behaviour
    parameter a robustness sweep varies); settings common to all jobs (customers=300) are not
    part of it.
    """
    pairs_of = [dict(map(_split, job.overrides)) for job in jobs]
    keys = {key for pairs in pairs_of for key in pairs}
    # a key varies when jobs give it different values, or some jobs leave it out
    varying = {k for k in keys if len({pairs.get(k) for pairs in pairs_of}) > 1}
    for job, pairs in zip(jobs, pairs_of, strict=True):
        name = pairs.get("strategy") or job.strategy
        params = [
            f"{k.split('.', 1)[1]}={v}"
            for k, v in pairs.items()
            if k.startswith("strategy.") and k in varying and k != "strategy._target_"
        ]
        if "strategy._target_" in varying and "strategy._target_" in pairs:
            name = pairs["strategy._target_"].rsplit(".", 1)[-1]
        caps = [  # a cap on sending nothing is sending nothing: none stays none
            f"{k}={v}"
            for k, v in pairs.items()
            if _is_cap(k) and k in varying and not (k == "cap" and v == "none") and name != "none"
        ]
        job.strategy = " ".join([name, *params, *caps])
        seed = (job.config or {}).get("seed", pairs.get("seed"))
        job.seed = int(seed) if seed is not None and str(seed).isdigit() else None
        job.scenario = {
            k: v
            for k, v in pairs.items()
            if k in varying
            and not k.startswith(("strategy", "hydra."))
            and not _is_cap(k)
            and k not in IGNORED_KEYS
        }


def _is_cap(key: str) -> bool:
    return key == "cap" or key.startswith("cap.")


def scenario_label(scenario: dict[str, str]) -> str:
    """`fatigue_churn=0.04, dropout_s=0.9` (the last part of each key), or "" for none."""
    return ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in sorted(scenario.items()))


# ---------------------------------------------------------------------------- summary
def per_customer(metrics: dict[str, Any]) -> dict[str, float]:
    """Totals per customer on record on day 0; nan for a total the metrics lack (a run from
    before that KPI existed), not the zero it would read as.

    Day 0's customers are the same in every run of a seed whatever the policy, so the
    difference per customer is the difference of the totals, scaled. The customers at the end
    would not do: a policy that annoys customers brings fewer referred friends, and its
    profit, spread over fewer customers, would look larger than it is."""
    customers = _number(metrics.get("customers")) - _number(metrics.get("new_customers"))
    return {
        name: (_number(metrics.get(total)) / customers if customers > 0 else math.nan)
        for name, total in PER_CUSTOMER.items()
    }


def _number(value: Any) -> float:
    try:
        return math.nan if value is None else float(value)
    except (TypeError, ValueError):
        return math.nan


def summary_table(jobs: Iterable[Job]) -> pd.DataFrame:
    """One row per job: who it was, whether it finished, and every KPI it produced."""
    rows = []
    for job in jobs:
        row: dict[str, Any] = {
            "job": job.name,
            "status": job.status,
            "strategy": job.strategy,
            "scenario": scenario_label(job.scenario),
            "seed": job.seed,
        }
        m = job.metrics or {}
        kpis = {**m, **per_customer(m)} if m else {}
        for kpi in KPIS:
            row[kpi] = _number(kpis.get(kpi))
        holdout = m.get("holdout") or {}
        if holdout:
            holdout = {**holdout, **per_customer(holdout)}
        for kpi in KPIS:
            row[f"holdout_{kpi}"] = _number(holdout.get(kpi))
        uplift = m.get("uplift") or {}
        for kpi in INTERVAL_KPIS:
            u = uplift.get(kpi) or {}
            for part in INTERVAL_PARTS:
                row[f"uplift_{kpi}_{part}"] = _number(u.get(part))
        row["uplift_incremental_roi"] = _number(uplift.get("incremental_roi"))
        row["error"] = job.error or ""
        row["dir"] = job.dir.name
        rows.append(row)
    table = pd.DataFrame(rows)
    if not table.empty:
        table["seed"] = table["seed"].astype("Int64")
        table = table[[c for c in table.columns if c in _always or table[c].notna().any()]]
    return table


_always = {"job", "status", "strategy", "scenario", "seed", "error", "dir", *KPIS}


# ---------------------------------------------------------------------------- comparison
def strategies_in_order(summary: pd.DataFrame, baseline: str = BASELINE) -> list[str]:
    """The baseline first, then the others in the order the sweep ran them."""
    names = list(dict.fromkeys(summary["strategy"]))
    return sorted(names, key=lambda s: (s != baseline, names.index(s)))


def comparison_table(summary: pd.DataFrame, baseline: str = BASELINE) -> pd.DataFrame:
    """Per scenario, strategy and KPI: mean over seeds, and the difference against `baseline`
    paired by seed (with the unpaired interval for contrast); for the KPIs the holdout
    measures, the holdout-measured uplift and how often its interval covered the truth."""
    done = summary[summary["status"] == "done"]
    rows: list[dict[str, Any]] = []
    if done.empty:
        return pd.DataFrame(rows)
    kpis = [k for k in KPIS if k in done and done[k].notna().any()]
    for scenario, group in done.groupby("scenario", sort=False):
        group = group.drop_duplicates(["strategy", "seed"])
        base = group[group["strategy"] == baseline].set_index("seed")
        # a holdout gets nothing: its measurement is checked against sending nothing
        nothing = group[group["strategy"] == BASELINE].set_index("seed")
        for strategy in strategies_in_order(group, baseline):
            runs = group[group["strategy"] == strategy].set_index("seed")
            seeds = runs.index.intersection(base.index).sort_values()
            x_all = runs[kpis].to_numpy(dtype=float)
            x, b = runs.loc[seeds, kpis].to_numpy(float), base.loc[seeds, kpis].to_numpy(float)
            b_all = base[kpis].to_numpy(dtype=float)
            for j, kpi in enumerate(kpis):
                if np.isnan(x_all[:, j]).all():
                    continue
                row: dict[str, Any] = {
                    "scenario": scenario,
                    "strategy": strategy,
                    "kpi": kpi,
                    "n_runs": int((~np.isnan(x_all[:, j])).sum()),
                    "mean": float(np.nanmean(x_all[:, j])),
                }
                if len(base):
                    paired = paired_difference(x[:, j], b[:, j])
                    unpaired = unpaired_difference(x_all[:, j], b_all[:, j])
                    row.update(
                        baseline_mean=float(np.nanmean(b_all[:, j])),
                        n_pairs=paired.n,
                        diff=paired.estimate,
                        diff_low=paired.low,
                        diff_high=paired.high,
                        unpaired_low=unpaired.low,
                        unpaired_high=unpaired.high,
                    )
                    if kpi in INTERVAL_KPIS and strategy not in (baseline, BASELINE):
                        row.update(_holdout_columns(runs, nothing, kpi))
                rows.append(row)
            if len(base) and strategy != baseline:
                rows.append(_roi_row(scenario, strategy, runs, base, seeds))
    return pd.DataFrame(rows)


def _holdout_columns(runs: pd.DataFrame, nothing: pd.DataFrame, kpi: str) -> dict[str, Any]:
    """The holdout-measured uplift of each run, averaged over seeds; and the share of runs
    whose holdout interval covered that seed's true uplift against sending nothing (the
    `none` runs: without them, no truth to cover)."""
    est = f"uplift_{kpi}_estimate"
    if est not in runs or runs[est].isna().all():
        return {}
    seeds = runs.index.intersection(nothing.index).sort_values()
    truth = runs.loc[seeds, kpi] - nothing.loc[seeds, kpi]
    # a holdout too small for an interval in every run leaves no such column in the summary
    no_interval = pd.Series(math.nan, index=runs.index)
    all_low = runs.get(f"uplift_{kpi}_low", no_interval)
    all_high = runs.get(f"uplift_{kpi}_high", no_interval)
    with_interval = all_low.notna() & all_high.notna()
    low, high = all_low.loc[seeds], all_high.loc[seeds]
    covers = ((low <= truth) & (truth <= high))[with_interval.loc[seeds]]
    # the typical estimate and interval over the same runs, so that the one lies in the other
    typical = runs[with_interval] if with_interval.any() else runs
    return {
        "holdout_estimate": float(typical[est].mean()),
        "holdout_low": float(all_low[with_interval].mean()),
        "holdout_high": float(all_high[with_interval].mean()),
        "holdout_covers": float(covers.mean()) if len(covers) else math.nan,
    }


def _roi_row(
    scenario: str, strategy: str, runs: pd.DataFrame, base: pd.DataFrame, seeds: list[int]
) -> dict[str, Any]:
    """Incremental ROI: extra net profit per unit of extra marketing spend (true, from the
    paired runs), and what a single run's holdout typically measures: the median over runs,
    since a run whose extra spend is small gives a ratio far out (a mean of ratios from -17 to
    +91 said little)."""
    net = (
        runs.loc[seeds, "net_profit_per_customer"] - base.loc[seeds, "net_profit_per_customer"]
    ).mean()
    cost = (
        runs.loc[seeds, "marketing_cost_per_customer"]
        - base.loc[seeds, "marketing_cost_per_customer"]
    ).mean()
    row = {
        "scenario": scenario,
        "strategy": strategy,
        "kpi": "incremental_roi",
        "n_runs": len(runs),
        "n_pairs": len(seeds),
        "diff": float(net / cost) if len(seeds) and cost > 0 else math.nan,
    }
    if "uplift_incremental_roi" in runs and runs["uplift_incremental_roi"].notna().any():
        row["holdout_estimate"] = float(runs["uplift_incremental_roi"].median())
    return row


COLUMNS = [
    "scenario",
    "strategy",
    "kpi",
    "n_runs",
    "mean",
    "baseline_mean",
    "n_pairs",
    "diff",
    "diff_low",
    "diff_high",
    "unpaired_low",
    "unpaired_high",
    "holdout_estimate",
    "holdout_low",
    "holdout_high",
    "holdout_covers",
]


def pairwise(summary: pd.DataFrame, a: str, b: str, kpi: str, scenario: str = "") -> Interval:
    """Paired difference `a - b` of one KPI over the seeds both ran (e.g. best vs runner-up)."""
    done = summary[(summary["status"] == "done") & (summary["scenario"] == scenario)]
    x = done[done["strategy"] == a].drop_duplicates("seed").set_index("seed")[kpi]
    y = done[done["strategy"] == b].drop_duplicates("seed").set_index("seed")[kpi]
    seeds = x.index.intersection(y.index).sort_values()
    return paired_difference(x.loc[seeds].to_numpy(float), y.loc[seeds].to_numpy(float))


# ---------------------------------------------------------------------------- daily series
DAILY_COLUMNS = ("day", "active_90d_share", "messages", "mean_fatigue", "opt_outs", "customers")


def daily_table(
    jobs: Iterable[Job], scenario: str | None = "", problems: list[str] | None = None
) -> pd.DataFrame:
    """The finished jobs' daily series stacked (strategy, seed, day, ...), for the figures.
    Only jobs of `scenario` (all when None); columns named `tier_*` come along if present. A
    series that cannot be used is left out, with one line on it added to `problems`."""
    frames = []
    for job in jobs:
        if not job.done or (scenario is not None and scenario_label(job.scenario) != scenario):
            continue
        frame, problem = _read_daily(job)
        if frame is None:
            if problems is not None:
                problems.append(
                    f"job {job.name} ({job.strategy}, seed {job.seed}): {problem}: left out of "
                    "the daily figures"
                )
            continue
        keep = [c for c in frame.columns if c in DAILY_COLUMNS or c.startswith("tier")]
        frame = frame[keep].assign(strategy=job.strategy, seed=job.seed)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _read_daily(job: Job) -> tuple[pd.DataFrame | None, str]:
    """The job's daily series, or None and why it cannot be used: absent, not a table,
    without a column the figures need, or not one whole row per day of the run."""
    names = [n for n in ("daily.csv", "daily.parquet") if (job.dir / n).exists()]
    if not names:
        return None, "no daily series (daily.csv)"
    path = job.dir / names[0]
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (OSError, ValueError, ImportError) as exc:
        return None, f"{path.name} cannot be read ({_why(exc)})"
    lacking = [c for c in DAILY_COLUMNS if c not in frame.columns]
    if lacking:
        return None, f"{path.name} has no column {', '.join(lacking)}"
    days = (job.config or {}).get("days")
    if isinstance(days, int) and len(frame) != days:
        return None, f"{path.name} has {len(frame)} days of the run's {days}"
    if frame[list(DAILY_COLUMNS)].isna().any(axis=None):
        return None, f"{path.name} has empty values (cut short?)"
    return frame, ""


# ---------------------------------------------------------------------------- writing
def write_csv(table: pd.DataFrame, path: Path) -> None:
    """Whole or not at all, with floats written the same way every time."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    table.to_csv(tmp, index=False, float_format="%.10g")
    os.replace(tmp, path)


def aggregate(
    sweep_dir: Path, baseline: str = BASELINE, jobs: list[Job] | None = None
) -> tuple[list[Job], pd.DataFrame, pd.DataFrame]:
    """Read the sweep (unless its `jobs` are already read), write summary.csv and
    comparison.csv into it, return the tables."""
    sweep_dir = Path(sweep_dir)
    jobs = find_jobs(sweep_dir) if jobs is None else jobs
    summary = summary_table(jobs)
    comparison = comparison_table(summary, baseline) if not summary.empty else pd.DataFrame()
    if not comparison.empty:
        comparison = comparison.reindex(columns=[c for c in COLUMNS if c in comparison.columns])
    write_csv(summary, sweep_dir / SUMMARY)
    write_csv(comparison, sweep_dir / COMPARISON)
    return jobs, summary, comparison


def missing(jobs: Iterable[Job]) -> list[Job]:
    return [job for job in jobs if not job.done]
