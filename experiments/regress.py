"""`retail-sim-regress`: notice in CI when a change moves strategy outcomes.

    retail-sim-regress [--scenarios FILE] [--baseline FILE] [--update] [--jobs N]

Runs a pinned set of scenarios (strategies x fixed seeds; by default the package's
`experiments/regress/scenarios.yaml`) and checks two layers:

* exact: with the seeds fixed a run is deterministic, so every KPI of every run (nested ones
  flattened into dotted names, e.g. `holdout.messages_sent`) must equal the committed
  baseline (by default `baseline.json` next to the scenarios file) up to float noise. What
  moved is printed as a table, with the command that accepts it (`--update`);
* statistical: claims any legitimate change must keep (caps cut opt-outs, win-back raises
  reactivation), tested as one-sided paired t-tests over the seeds with both error rates
  printed, and deterministic claims (the holdout is never messaged).

Exit status: 0 all hold; 1 a KPI moved or a claim failed; 2 bad input (one line on stderr).
`--update` reruns, rewrites the baseline atomically, prints what moved and exits 0.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import numbers
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from joblib import Parallel, delayed
from omegaconf import DictConfig
from scipy import stats

from experiments.destination import folder_problem
from experiments.errors import USER_ERRORS, exit_on_user_error, one_line
from experiments.run import write_atomic
from sim import uplift
from sim.config import MAX_SEED, ConfigError, compose, did_you_mean, validate
from sim.kpis import COHORT_DAYS, COHORT_KPIS, GLOSSARY, SHARES
from sim.simulate import build_strategy, simulate

PROG = "retail-sim-regress"
DEFAULT_SCENARIOS = Path(__file__).with_name("regress") / "scenarios.yaml"
BASELINE_NAME = "baseline.json"  # the default baseline sits next to its scenarios file
REL_TOL, ABS_TOL = 1e-9, 1e-12  # float noise; any larger change of a KPI is a change
FORMAT = 1  # of the baseline file
MAX_ROWS = 50  # rows of the table of moved KPIs (the per-KPI summary below it is complete)
SUITE_KEYS = ("common", "seeds", "alpha", "scenarios", "claims")
RELATIONS = {"higher_than": ">", "lower_than": "<", "equals": "=="}
CLAIM_KEYS = ("name", "scenario", "kpi", *RELATIONS)
# nested KPIs by group (`holdout.churn_rate`); both exist only in runs with a holdout
KPI_GROUPS = {"holdout": tuple(GLOSSARY), "uplift": uplift.KPIS}
KPIS = (*GLOSSARY, *(f"{group}.{kpi}" for group, kpis in KPI_GROUPS.items() for kpi in kpis))

Runs = dict[str, dict[int, dict[str, float]]]  # scenario -> seed -> KPI -> value


@dataclass(frozen=True)
class Claim:
    """A statement about outcomes that must survive any legitimate change of the model."""

    name: str
    scenario: str
    kpi: str
    relation: str  # higher_than, lower_than or equals
    other: Any  # the scenario it is compared with, or the value for equals

    @property
    def paired(self) -> bool:
        return self.relation != "equals"

    @property
    def scenarios(self) -> list[str]:
        return [self.scenario, self.other] if self.paired else [self.scenario]

    def describe(self) -> str:
        return f"{self.scenario} {self.kpi} {RELATIONS[self.relation]} {self.other}"


@dataclass(frozen=True)
class Suite:
    """A scenarios file: what to run, on which seeds, and what must hold."""

    path: Path
    common: list[str]
    seeds: list[int]
    alpha: float
    scenarios: dict[str, list[str]]
    claims: list[Claim]

    def overrides(self, scenario: str) -> list[str]:
        """The scenario's overrides after the common ones: for the same key, its own win."""
        return [*self.common, *self.scenarios[scenario]]


@dataclass(frozen=True)
class Change:
    """One difference from the baseline: a KPI that `moved`, or a scenario (`seed` None), a
    run (`kpi` None) or a KPI that is `missing` now or `new` since the baseline."""

    kind: str  # moved, missing or new
    scenario: str
    seed: int | None = None
    kpi: str | None = None
    before: float | None = None
    now: float | None = None


@dataclass(frozen=True)
class Verdict:
    """A claim's result over the seeds, with the two chances of getting it wrong."""

    claim: Claim
    holds: bool
    agree: str  # e.g. "8/8": seeds on the claimed side
    mean: float | None = None  # mean paired difference, scenario minus the other
    dz: float | None = None  # standardized paired effect: mean / sd of the differences
    p: float | None = None
    fail_chance: float | None = None  # 1 - power at the observed effect
    note: str = ""


# --- the scenarios file ------------------------------------------------------------------


def load_suite(path: Path) -> Suite:
    """Read and check a scenarios file whole, so a typo stops before a minute of runs."""
    if not path.is_file():
        raise ConfigError(f"no scenarios file at {path}: give --scenarios a YAML file that exists")
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text: give --scenarios a YAML file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "cannot parse"
        raise ConfigError(f"{path} is not valid YAML{where} ({problem}): fix the file") from None

    def bad(message: str) -> ConfigError:
        return ConfigError(f"{path}: {message}")

    if not isinstance(doc, dict):
        raise bad(f"expected a mapping with the keys {', '.join(SUITE_KEYS)}")
    unknown = [key for key in doc if key not in SUITE_KEYS]
    if unknown:
        raise bad(f"unknown key {unknown[0]!r}: use only {', '.join(SUITE_KEYS)}")
    common = _overrides(doc.get("common"), "common", bad)
    seeds = doc.get("seeds")
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(_is_int(s) and 0 <= s <= MAX_SEED for s in seeds)
        or len(set(seeds)) != len(seeds)
    ):
        raise bad(f"seeds must be a list of distinct integers from 0 to {MAX_SEED}, e.g. [1, 2, 3]")
    alpha = doc.get("alpha", 0.01)
    if not _is_number(alpha) or not 0 < alpha < 0.5:
        raise bad(f"alpha={alpha} must be a number between 0 and 0.5, e.g. alpha: 0.01")
    raw = doc.get("scenarios")
    if not isinstance(raw, dict) or not raw:
        raise bad("scenarios must map names to lists of overrides, e.g. none: [strategy=none]")
    scenarios = {str(name): _overrides(o, f"scenario {name}", bad) for name, o in raw.items()}
    if len(scenarios) < len(raw):  # 2020 and "2020" are two YAML keys but one name
        names = [str(name) for name in raw]
        same = next(name for name in names if names.count(name) > 1)
        raise bad(f"two scenarios are named {same!r}: give each scenario its own name")
    raw_claims = doc.get("claims") or []
    if not isinstance(raw_claims, list):
        raise bad("claims must be a list of mappings (name, scenario, kpi, and a relation)")
    claims = [_claim(item, i, scenarios, bad) for i, item in enumerate(raw_claims)]
    names = [claim.name for claim in claims]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise bad(f"two claims are named {duplicate!r}: give each claim its own name")
    if len(seeds) < 2 and any(claim.paired for claim in claims):
        raise bad("paired claims need at least 2 seeds (5 or more for a useful test): add seeds")
    return Suite(path, common, list(seeds), float(alpha), scenarios, claims)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader refusing a key given twice in one mapping: PyYAML keeps the last
    one silently, so a second scenario of the same name replaced the first."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults` may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):  # refused below with PyYAML's own message
                continue
            if key in first:
                raise yaml.constructor.ConstructorError(
                    problem=f"found key {key!r} twice, first at line {first[key].line + 1}",
                    problem_mark=key_node.start_mark,
                )
            first[key] = key_node.start_mark
        return super().construct_mapping(node, deep)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _overrides(value: Any, what: str, bad: Callable[[str], ConfigError]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(o, str) and ("=" in o or o.startswith("~")) for o in value
    ):
        raise bad(f"{what} must be a list of overrides key=value, e.g. [strategy=blanket]")
    keys = [o.lstrip("+~").split("=", 1)[0] for o in value]
    seed = next((o for o, key in zip(value, keys, strict=True) if key == "seed"), None)
    if seed:
        raise bad(f"{what} sets {seed}: the seeds come from `seeds:`, remove the override")
    hydra = next((o for o, key in zip(value, keys, strict=True) if key.startswith("hydra")), None)
    if hydra:  # the scenarios run in this process: Hydra's settings would be ignored
        raise bad(f"{what} sets {hydra}: scenarios run without Hydra's folders, remove it")
    return list(value)


def _claim(item: Any, i: int, scenarios: dict, bad: Callable[[str], ConfigError]) -> Claim:
    keys = "name, scenario, kpi and one of higher_than, lower_than, equals"
    if not isinstance(item, dict):
        raise bad(f"claims[{i}] must be a mapping with {keys}")
    name = str(item.get("name") or f"claims[{i}]")
    unknown = [key for key in item if key not in CLAIM_KEYS]
    missing = [key for key in ("name", "scenario", "kpi") if not item.get(key)]
    relations = [key for key in RELATIONS if key in item]
    if unknown or missing or len(relations) != 1:
        problem = (
            f"unknown key {unknown[0]!r}"
            if unknown
            else f"no {missing[0]}"
            if missing
            else "needs exactly one relation"
        )
        raise bad(f"claim {name}: {problem}: give {keys}")
    relation = relations[0]
    other = item[relation]
    if relation != "equals":
        if not isinstance(other, str | int):
            example = next((n for n in scenarios if n != str(item["scenario"])), "<scenario>")
            raise bad(f"claim {name}: {relation}: give one scenario's name, e.g. {example}")
        other = str(other)  # as the scenarios' names, e.g. a scenario named 2020
    claim = Claim(name, str(item["scenario"]), str(item["kpi"]), relation, other)
    for scenario in claim.scenarios:
        if scenario not in scenarios:
            raise bad(
                f"claim {name}: unknown scenario {scenario!r}: choose one of {', '.join(scenarios)}"
            )
    if claim.paired and claim.other == claim.scenario:
        raise bad(
            f"claim {name}: compares scenario {claim.scenario} with itself: "
            f"name another scenario in {relation}"
        )
    if not claim.paired and not _is_number(claim.other):
        raise bad(f"claim {name}: equals must be a number, e.g. equals: 0")
    if claim.kpi not in KPIS:
        raise bad(
            f"claim {name} on scenario {claim.scenario}: unknown kpi {claim.kpi!r}: "
            f"{_kpi_fix(claim.kpi)}"
        )
    return claim


def _kpi_fix(kpi: str) -> str:
    """The likely KPI, looked for among its group's names without the group: with it, the
    shared `uplift.` made `uplift.net_proft` look like `uplift.incremental_roi`."""
    group, _, name = kpi.partition(".")
    if group in KPI_GROUPS:
        names = KPI_GROUPS[group]
        fix = did_you_mean(name, list(names), f"{group}.")
        return fix or "choose one of " + ", ".join(f"{group}.{n}" for n in names)
    return did_you_mean(kpi, list(KPIS)) or (
        "use a KPI of metrics.json, e.g. churn_rate, holdout.messages_sent, "
        "uplift.repurchase_rate.estimate (sim/kpis.py, sim/uplift.py)"
    )


def compose_scenarios(suite: Suite) -> dict[str, DictConfig]:
    """Each scenario's run config, composed and checked as `retail-sim` would, so a bad
    override or an impossible claim stops with one line before anything runs. Composing once
    per scenario (Hydra takes ~0.4 s) and setting the seed per run gives the same config as
    composing with seed=<seed>."""
    configs = {}
    for name in suite.scenarios:
        try:
            cfg = compose([*suite.overrides(name), f"seed={suite.seeds[0]}"])
            validate(cfg)
            build_strategy(cfg.strategy, cfg)
        except USER_ERRORS as exc:
            raise ConfigError(f"{suite.path}: scenario {name}: {one_line(exc)}") from None
        configs[name] = cfg
    for claim in suite.claims:
        for scenario in claim.scenarios:
            if claim.kpi.split(".")[0] in KPI_GROUPS and configs[scenario].holdout == 0:
                raise ConfigError(
                    f"{suite.path}: claim {claim.name}: {claim.kpi} needs a holdout: "
                    f"add holdout=0.1 to scenario {scenario}"
                )
            days = configs[scenario].days
            if claim.kpi.rpartition(".")[2] in COHORT_KPIS and days < COHORT_DAYS:
                raise ConfigError(
                    f"{suite.path}: claim {claim.name}: {claim.kpi} measures 39 weeks but "
                    f"scenario {scenario} runs {days} days: set days to at least {COHORT_DAYS}"
                )
    return configs


# --- running ------------------------------------------------------------------------------


def flatten(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Every numeric KPI of metrics.json under a dotted name (`uplift.repurchase_rate.low`);
    null and non-numeric values are left out."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif (
            isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
        ):
            out[name] = int(value) if isinstance(value, numbers.Integral) else float(value)
    return out


def run_one(cfg: DictConfig, seed: int) -> tuple[dict[str, float], float]:
    """One run's flattened KPIs and its wall time; a run depends on its config and seed
    alone, so it gives the same KPIs in any process."""
    start = time.perf_counter()
    cfg = copy.deepcopy(cfg)
    cfg.seed = seed
    kpis = flatten(simulate(cfg).metrics)
    return kpis, time.perf_counter() - start


def run_suite(
    suite: Suite, configs: dict[str, DictConfig], jobs: int, say: Callable[[str], None]
) -> Runs:
    """Every scenario on every seed, one progress line per finished run."""
    tasks = [(name, seed) for seed in suite.seeds for name in suite.scenarios]
    if jobs == 1:
        results: Iterable = (run_one(configs[name], seed) for name, seed in tasks)
    else:
        calls = (delayed(run_one)(configs[name], seed) for name, seed in tasks)
        results = Parallel(n_jobs=jobs, return_as="generator")(calls)
    runs: Runs = {name: {} for name in suite.scenarios}
    width = len(str(len(tasks)))
    for i, ((name, seed), (kpis, seconds)) in enumerate(zip(tasks, results, strict=True), 1):
        runs[name][seed] = kpis
        say(f"[{i:>{width}}/{len(tasks)}] {name} seed={seed}: {seconds:.1f} s")
    return {name: dict(sorted(by_seed.items())) for name, by_seed in runs.items()}


# --- the baseline -------------------------------------------------------------------------


def versions() -> dict[str, str]:
    """What a baseline's numbers depend on beyond the code: numpy's random streams above all
    (identical only within one numpy version), then the platform's float arithmetic."""

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    try:
        requires = metadata.requires("retail-sim") or []
    except metadata.PackageNotFoundError:
        requires = []
    pin = next((r for r in requires if r.startswith("numpy")), "not pinned")
    return {
        "numpy": np.__version__,
        "numpy_pin": pin,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "scipy": version("scipy"),
        "retail-sim": version("retail-sim"),
    }


def baseline_document(suite: Suite, runs: Runs) -> dict[str, Any]:
    """The baseline file's content: the runs' KPIs, and what they were made with."""
    return {
        "format": FORMAT,
        "made_by": f"{PROG} --update",
        "versions": versions(),
        "scenarios": {name: suite.overrides(name) for name in suite.scenarios},
        "runs": {
            name: {str(seed): kpis for seed, kpis in by_seed.items()}
            for name, by_seed in runs.items()
        },
    }


def write_baseline(path: Path, document: dict[str, Any]) -> None:
    """Write the baseline whole or not at all (temp file, then os.replace), keeping the old
    file's permissions (a fresh one is readable by everyone, like any file in a checkout)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644

    def write(tmp: str) -> None:
        Path(tmp).write_text(json.dumps(document, indent=1) + "\n")
        os.chmod(tmp, mode)

    write_atomic(path, writer=write)


def check_destination(path: Path, scenarios: Path) -> None:
    """Stop before the runs, not after them, when --update could not write the baseline:
    `write_baseline` creates missing folders, so the nearest existing one must be a folder
    that can be written in."""
    if path.exists() and not path.is_file():
        raise ConfigError(f"baseline {path} is not a regular file: give --baseline a JSON file")
    if path.exists() and path.samefile(scenarios):
        raise ConfigError(
            f"baseline {path} is the scenarios file: give --baseline a file of its own, "
            f"e.g. {scenarios.parent / BASELINE_NAME}"
        )
    if path.exists() and path.suffix.lower() != ".json":  # someone's CSV, say: never replaced
        raise ConfigError(
            f"baseline {path} exists and is no .json file: --update would replace it; give "
            f"--baseline a .json file, e.g. {path.with_suffix('.json')}"
        )
    problem = folder_problem(path.absolute().parent)
    if problem:
        raise ConfigError(
            f"cannot write baseline {path}: {problem}: "
            "give --baseline a path in a folder you can write to"
        )


def load_baseline(path: Path, accept: str) -> dict[str, Any]:
    """A baseline file, checked; its `runs` with integer seeds."""
    if not path.is_file():
        raise ConfigError(f"no baseline at {path}: run `{accept}` to create it")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = (
            f"line {exc.lineno}: {exc.msg}"
            if isinstance(exc, json.JSONDecodeError)
            else "not UTF-8 text"
        )
        raise ConfigError(
            f"{path} is not valid JSON ({where}): restore it from git "
            f"or make a new one with `{accept}`"
        ) from None
    doc = doc if isinstance(doc, dict) else {}
    runs, scenarios = doc.get("runs"), doc.get("scenarios") or {}
    well_formed = (
        doc.get("format") == FORMAT
        and isinstance(doc.get("versions") or {}, dict)
        and isinstance(scenarios, dict)
        and all(
            isinstance(overrides, list) and all(isinstance(o, str) for o in overrides)
            for overrides in scenarios.values()
        )
        and isinstance(runs, dict)
        and all(
            isinstance(by_seed, dict)
            and all(
                str(seed).isdigit()
                and isinstance(kpis, dict)
                and all(_is_number(v) for v in kpis.values())
                for seed, kpis in by_seed.items()
            )
            for by_seed in runs.values()
        )
    )
    if not well_formed:
        raise ConfigError(
            f"{path} is not a {PROG} baseline (format {FORMAT}): restore it from git or make "
            f"a new one with `{accept}`"
        )
    doc["runs"] = {
        name: {int(seed): kpis for seed, kpis in by_seed.items()} for name, by_seed in runs.items()
    }
    return doc


def compare(before: Runs, now: Runs) -> list[Change]:
    """Every difference between the baseline's runs and these, beyond float noise."""
    changes = []
    for name in [*before, *(n for n in now if n not in before)]:
        if name not in now or name not in before:
            changes.append(Change("missing" if name in before else "new", name))
            continue
        for seed in [*before[name], *(s for s in now[name] if s not in before[name])]:
            old, new = before[name].get(seed), now[name].get(seed)
            if old is None or new is None:
                changes.append(Change("missing" if new is None else "new", name, seed))
                continue
            for kpi in [*old, *(k for k in new if k not in old)]:
                a, b = old.get(kpi), new.get(kpi)
                if a is None or b is None:
                    changes.append(Change("missing" if b is None else "new", name, seed, kpi, a, b))
                elif not math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL):
                    changes.append(Change("moved", name, seed, kpi, a, b))
    return changes


# --- reporting ----------------------------------------------------------------------------


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.10g}"


def _pct(before: float, now: float) -> str:
    return f"{(now - before) / abs(before):+.4%}" if before else "from 0"


def _chance(value: float | None) -> str:
    if value is None:
        return "-"
    return "<1e-12" if value < 1e-12 else f"{value:.1e}" if value < 0.01 else f"{value:.2f}"


def table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """Rows under a header in aligned columns (`right`: the right-aligned ones)."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "  " + "  ".join(cells).rstrip()

    return [line(header), *map(line, rows)]


def change_lines(changes: list[Change], max_rows: int) -> list[str]:
    """What a CI log reader needs: each change (scenario, seed, KPI, baseline, now, change),
    then one line per moved KPI, complete even when the table is cut at `max_rows`."""
    rows = []
    for c in changes:
        seed = "all" if c.seed is None else str(c.seed)
        if c.kind == "moved":
            delta = f"{c.now - c.before:+.6g}"
            rows.append(
                [c.scenario, seed, c.kpi, _num(c.before), _num(c.now), delta, _pct(c.before, c.now)]
            )
        else:
            what = "scenario" if c.seed is None else "run" if c.kpi is None else "KPI"
            where = (
                "in the baseline, not now" if c.kind == "missing" else "new, not in the baseline"
            )
            row = [
                c.scenario,
                seed,
                c.kpi or "-",
                _num(c.before),
                _num(c.now),
                f"{what} {where}",
                "",
            ]
            rows.append(row)
    shown = rows if max_rows <= 0 else rows[:max_rows]
    header = ["scenario", "seed", "KPI", "baseline", "now", "change", "change %"]
    lines = table(header, shown, right={1, 3, 4, 5, 6})
    if len(shown) < len(rows):
        lines.append(f"  ... and {len(rows) - len(shown)} more rows (--max-rows 0 shows all)")
    by_kpi: dict[str, list[Change]] = {}
    for c in changes:
        if c.kind == "moved":
            by_kpi.setdefault(c.kpi, []).append(c)
    if by_kpi:
        summary = []
        for kpi, moved in by_kpi.items():
            big = max(moved, key=lambda c: abs(c.now - c.before) / (abs(c.before) or 1.0))
            scenarios = len({c.scenario for c in moved})
            where = f"{big.scenario} seed {big.seed}"
            summary.append(
                [
                    kpi,
                    f"{_count(len(moved), 'run')}, {_count(scenarios, 'scenario')}",
                    _pct(big.before, big.now),
                    where,
                ]
            )
        lines.append("Moved KPIs:")
        lines += table(["KPI", "moved in", "largest change", "in"], summary, right={2})
    return lines


def _count(n: int, noun: str) -> str:
    """'1 scenario', '2 scenarios'."""
    return f"{n} {noun}{'s' * (n != 1)}"


def _absent(changes: list[Change]) -> list[str]:
    """Whole scenarios, runs or KPIs missing or new, each KPI by name (a renamed KPI is one
    name missing and one new, in every run), e.g. ["missing now: 1 scenario, aov (70 runs)"]."""
    phrases = []
    for kind, title in (("missing", "missing now"), ("new", "new")):
        counts: dict[str, int] = {}
        for c in changes:
            if c.kind == kind:
                level = "scenario" if c.seed is None else "run" if c.kpi is None else c.kpi
                counts[level] = counts.get(level, 0) + 1
        if counts:
            items = ", ".join(
                _count(n, level)
                if level in ("scenario", "run")
                else f"{level} ({_count(n, 'run')})"
                for level, n in counts.items()
            )
            phrases.append(f"{title}: {items}")
    return phrases


def unpinned_numpy(now: dict[str, str]) -> str | None:
    """The problem when the installed numpy is not the pinned one, else None."""
    pin = now["numpy_pin"]
    if "==" in pin and pin.replace(" ", "") != f"numpy=={now['numpy']}":
        return f"numpy {now['numpy']} is installed but retail-sim pins {pin}"
    return None


def version_notes(baseline: dict[str, Any]) -> tuple[str | None, list[str]]:
    """Say plainly when the baseline and this machine differ in numpy (or platform), and
    which of the two to fix: the installed numpy when it is not the pin, else the baseline.
    Returns the numpy note (moved KPIs may come from it alone) and the others."""
    then, now = baseline.get("versions") or {}, versions()
    numpy_note = None
    wrong_numpy = unpinned_numpy(now)
    streams = (
        "numpy promises identical random streams only within one version, so KPIs can move "
        "with no change to the model"
    )
    if wrong_numpy:
        numpy_note = (
            f"{wrong_numpy} (the baseline was made with numpy {then.get('numpy', 'unknown')}): "
            f"{streams}. Install the pin (pip install -e .) and run again."
        )
    elif then.get("numpy") != now["numpy"]:
        numpy_note = (
            f"the baseline was made with numpy {then.get('numpy', 'unknown')}, not the pinned "
            f"{now['numpy']} installed here: {streams}. If the pin changed on purpose, "
            "regenerate the baseline with --update and commit it with the pin."
        )
    others = [
        f"{key} {now[key]} (baseline {then[key]})"
        for key in ("python", "machine", "scipy")
        if key in then and then[key] != now[key]
    ]
    notes = ["also different from the baseline: " + ", ".join(others)] if others else []
    return numpy_note, notes


# --- claims -------------------------------------------------------------------------------


def judge(claim: Claim, runs: Runs, alpha: float) -> Verdict:
    """One claim over the seeds. A comparison is a one-sided paired t-test at `alpha`; its
    `fail_chance` is 1 - power of that test at the observed standardized effect (noncentral
    t): the chance that a legitimate change with the same true effect fails it anyway."""
    values = runs[claim.scenario]
    missing = sorted(
        {s for name in claim.scenarios for s, kpis in runs[name].items() if claim.kpi not in kpis}
    )
    if missing:
        return Verdict(
            claim, False, "-", note=f"{claim.kpi} is not in the metrics of seeds {missing}"
        )
    if not claim.paired:
        wrong = {s: kpis[claim.kpi] for s, kpis in values.items() if kpis[claim.kpi] != claim.other}
        note = ", ".join(f"seed {s}: {_num(v)}" for s, v in wrong.items())
        return Verdict(claim, not wrong, f"{len(values) - len(wrong)}/{len(values)}", note=note)
    other = runs[claim.other]
    seeds = [seed for seed in values if seed in other]
    x = np.array([values[s][claim.kpi] for s in seeds], dtype=float)
    y = np.array([other[s][claim.kpi] for s in seeds], dtype=float)
    sign = 1.0 if claim.relation == "higher_than" else -1.0
    d = sign * (x - y)  # positive: the claimed direction
    n, mean = len(d), float(np.mean(x - y))
    agree = f"{int(np.sum(d > 0))}/{n}"
    sd = float(np.std(d, ddof=1)) if n > 1 else 0.0
    if sd == 0:  # the same difference on every seed: nothing to test against
        holds = n > 1 and bool(np.all(d > 0))
        return Verdict(claim, holds, agree, mean, None, float(not holds), float(not holds))
    alternative = "greater" if claim.relation == "higher_than" else "less"
    p = float(stats.ttest_rel(x, y, alternative=alternative).pvalue)
    dz = float(np.mean(d)) / sd
    critical = stats.t.ppf(1 - alpha, n - 1)
    fail = float(stats.nct.cdf(critical, n - 1, dz * math.sqrt(n)))
    return Verdict(claim, p < alpha, agree, mean, sign * dz, p, fail)


def claim_lines(verdicts: list[Verdict], alpha: float, seeds: int) -> list[str]:
    """The claims with both error rates: the chance a claim passes although its effect is
    gone (alpha) and the chance a legitimate change fails it (false alarm, 1 - power)."""
    if not verdicts:
        return ["Claims: none in the scenarios file."]
    tested = [v for v in verdicts if v.claim.paired]
    fails = [v.fail_chance for v in tested if v.fail_chance is not None and v.holds]
    family_fail = 1 - math.prod(1 - f for f in fails)
    family_alpha = min(1.0, len(tested) * alpha)
    lines = [
        f"Claims, paired over {seeds} seeds; a comparison is a one-sided paired t-test at "
        f"alpha {alpha:g}.",
        f"  missed regression: a claim whose effect is gone still passes by luck with chance "
        f"<= {alpha:g} (alpha);",
        f"    any of the {len(tested)} tested claims: <= {family_alpha:g} (Bonferroni).",
        "  false alarm: a legitimate change with the same true effect fails the claim with the "
        "chance in the last column",
        "    (1 - power at the observed standardized effect dz, noncentral t); any of those "
        f"that hold: {_chance(family_fail)}.",
    ]
    rows = [
        [
            "holds" if v.holds else "FAILS",
            v.claim.name,
            v.claim.describe(),
            v.agree,
            "-" if v.mean is None else _difference(v.claim.kpi, v.mean),
            "-" if v.dz is None else f"{v.dz:.2f}",
            "-" if v.p is None else f"{v.p:.1e}" if v.p else "0",
            (_chance(v.fail_chance) if v.holds else "-") if v.claim.paired else "0 (exact)",
        ]
        for v in verdicts
    ]
    header = ["result", "claim", "test", "seeds", "mean diff", "dz", "p", "false alarm"]
    lines += table(header, rows, right={3, 4, 5, 6, 7})
    lines += [f"  {v.claim.name}: {v.note}" for v in verdicts if v.note]
    return lines


def _difference(kpi: str, mean: float) -> str:
    """A share's difference in percentage points (+0.47 pt, as the README states claims), any
    other KPI's in its own units; `kpi` may be nested (`uplift.churn_rate.estimate`)."""
    if any(part in SHARES for part in kpi.split(".")):
        return f"{mean * 100:+.3g} pt"
    return f"{mean:+.4g}"


# --- the command --------------------------------------------------------------------------


def regress(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    """Check the runs against the baseline and the claims (or with --update, rewrite the
    baseline); the exit status."""
    scenarios = args.scenarios or DEFAULT_SCENARIOS
    path = args.baseline or scenarios.parent / BASELINE_NAME
    accept = [PROG, "--update"]
    accept += ["--scenarios", str(args.scenarios)] if args.scenarios else []
    accept += ["--baseline", str(args.baseline)] if args.baseline else []
    accept_cmd = shlex.join(accept)
    if args.jobs < 1:
        raise ValueError(f"--jobs {args.jobs}: give the number of runs at a time, 1 or more")
    if args.max_rows < 0:
        raise ValueError(f"--max-rows {args.max_rows}: give a number of rows, or 0 for all")
    suite = load_suite(scenarios)
    configs = compose_scenarios(suite)
    if path.is_dir():
        raise ConfigError(
            f"baseline {path} is a directory: give --baseline a file, e.g. {path / BASELINE_NAME}"
        )
    if args.update:
        check_destination(path, scenarios)
        wrong_numpy = unpinned_numpy(versions())
        if wrong_numpy:  # the baseline would fail on every machine with the pin
            raise ConfigError(f"{wrong_numpy}: install the pin (pip install -e .) before --update")
    baseline = None
    if not args.update:
        baseline = load_baseline(path, accept_cmd)
    elif path.is_file():
        try:
            baseline = load_baseline(path, accept_cmd)
        except ConfigError as exc:
            why = str(exc).split(": restore it", 1)[0]
            say(f"note: the old baseline is unreadable ({why}); a new one replaces it")
    n_runs = len(suite.scenarios) * len(suite.seeds)
    say(
        f"{PROG}: {len(suite.scenarios)} scenarios x {len(suite.seeds)} seeds = {n_runs} runs "
        f"({args.jobs} at a time) from {scenarios}, "
        f"{'to write' if args.update else 'against'} {path}"
    )
    start = time.perf_counter()
    runs = run_suite(suite, configs, args.jobs, say)
    say(f"{n_runs} runs in {time.perf_counter() - start:.0f} s")
    changes = compare(baseline["runs"], runs) if baseline else []
    moved = [c for c in changes if c.kind == "moved"]
    kpis = _count(len({c.kpi for c in moved}), "KPI")
    where = _count(len({c.scenario for c in moved}), "scenario")
    verdicts = [judge(claim, runs, suite.alpha) for claim in suite.claims]
    failed = sum(not v.holds for v in verdicts)

    say("")
    if baseline:
        for name, overrides in (baseline.get("scenarios") or {}).items():
            if name in suite.scenarios and overrides != suite.overrides(name):
                added = [o for o in suite.overrides(name) if o not in overrides]
                removed = [o for o in overrides if o not in suite.overrides(name)]
                diff = " ".join([*(f"+{o}" for o in added), *(f"-{o}" for o in removed)])
                say(f"note: scenario {name}'s overrides differ from the baseline's: {diff}")
    title = "What moved against the old baseline" if args.update else "Exact layer"
    if baseline is None:
        say(f"{title}: no old baseline to compare with.")
    elif changes:
        absent = "".join(f"; {phrase}" for phrase in _absent(changes))
        say(f"{title}: {kpis} moved in {where}{absent}")
        for line in change_lines(changes, args.max_rows):
            say(line)
    else:
        say(f"{title}: every KPI of every run matches the baseline.")
    numpy_note, notes = version_notes(baseline) if baseline and not args.update else (None, [])
    for note in (numpy_note, *notes):
        if note:
            say(f"note: {note}")
    say("")
    for line in claim_lines(verdicts, suite.alpha, len(suite.seeds)):
        say(line)
    say("")
    if failed and not args.update:
        say(
            "A failing claim means its effect is gone (a finding: mend the model, or change the "
            "claim in the scenarios file on purpose) or too small for these seeds: add seeds or "
            "customers to the scenarios file rather than raise alpha."
        )
    if changes and not args.update:
        if numpy_note:  # the moves may be numpy's alone
            say("Settle the numpy note above before accepting anything.")
        else:
            say(f"If the changes are intended, accept them with: {accept_cmd}")
            say(f"and commit {path} with the change that moved them.")
    values = sum(len(k) for by_seed in runs.values() for k in by_seed.values())
    if args.update:
        write_baseline(path, baseline_document(suite, runs))
        if failed:
            say(f"warning: {failed} of {len(verdicts)} claims fail: checks fail until they hold")
        say(f"UPDATED: wrote {path} ({values} KPI values from {n_runs} runs); commit it")
        return 0
    if changes or failed:
        claims = f"{failed} of {len(verdicts)} claims failed" if verdicts else "no claims"
        extra = "".join(f"; {phrase}" for phrase in _absent(changes))
        say(f"REGRESSION: {kpis} moved in {where}{extra}; {claims}")
        return 1
    n = len(verdicts)
    say(f"OK: {values} KPI values in {n_runs} runs match the baseline; {n} of {n} claims hold")
    return 0


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument(
        "--scenarios", type=Path, help=f"scenarios YAML file (default: {DEFAULT_SCENARIOS})"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help=f"baseline JSON file (default: {BASELINE_NAME} next to the scenarios file)",
    )
    parser.add_argument("--update", action="store_true", help="rerun and rewrite the baseline")
    parser.add_argument(
        "--jobs", type=int, default=1, help="runs at a time (the results do not depend on it)"
    )
    parser.add_argument(
        "--max-rows", type=int, default=MAX_ROWS, help="rows of the table of changes (0: all)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """The console script: exit 0 all hold, 1 a KPI moved or a claim failed, 2 bad input."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    with exit_on_user_error(PROG):
        status = regress(args, lambda line: print(line, flush=True))
    sys.exit(status)


if __name__ == "__main__":
    main()
