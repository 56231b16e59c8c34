"""`retail-sim`'s preflight: the whole command line checked before Hydra starts, so that a
mistake stops with one line and nothing is written (no run folder, no half-made sweep).

It checks every value of every sweep (both ends of an optimiser's interval), the `hydra.*`
settings that would otherwise fail after Hydra has made its folders, a twin file the runs
would read, and that a rerun into an earlier sweep's folder replaces only the jobs it names.
"""

from __future__ import annotations

import re
import shutil
import sys
from importlib.resources import files
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Glob, IntervalSweep, Override, OverrideType
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from experiments.aggregate import read_file, read_plan
from experiments.configdir import split_config_dir
from experiments.destination import folder_problem
from experiments.errors import check_parallel_runs
from experiments.sweep import compose_with_hydra, config_sweeps, planned_jobs
from sim.config import (
    GROUP_DEFAULTS,
    MAX_SEED,
    ConfigError,
    compose,
    did_you_mean,
    searchpath_override,
    validate,
)
from sim.simulate import build_strategy
from sim.twin import read_twin
from strategies.base import campaigns_of
from strategies.caps import Capped

# config groups of which a run takes one option: a list would merge several into one run
RUN_GROUPS = {*GROUP_DEFAULTS, "cap"}
JOB_NUMBER = "${hydra.job.num}"  # Hydra's default job folder: the job's number in the sweep


def preflight(argv: list[str]) -> None:
    """Compose and check everything the command line asks for. Configs in a --config-dir
    folder are found as Hydra will find them."""
    config_dir, argv = split_config_dir(argv)
    search = [searchpath_override(config_dir)] if config_dir else []
    overrides = [a for a in argv if ("=" in a or a.startswith("~")) and not a.startswith("-")]
    parsed = list(zip(overrides, _parse(overrides), strict=True))
    for text, override in parsed:
        value = override.value()
        _check_hydra_sweep(text, override)
        _check_empty_mapping(text, override)
        if override.key_or_group in RUN_GROUPS and isinstance(value, list) and len(value) > 1:
            raise ConfigError(
                f"{text}: a list merges these {override.key_or_group} configs into one run; to "
                f"run each, sweep them: -m {override.key_or_group}={','.join(map(str, value))}"
            )
    # the sweeps' values are checked below, and so are strategy settings, with each strategy
    plain = [text for text, o in parsed if not o.is_sweep_override() and not _sets_strategy(o)]
    composed = compose_with_hydra([*search, *plain])
    multirun = "-m" in argv or "--multirun" in argv or composed.hydra.mode == RunMode.MULTIRUN
    sweeps = [(text, o) for text, o in parsed if o.is_sweep_override()]
    if sweeps and not multirun:  # Hydra's answer is six lines
        text, override = sweeps[0]
        list_form = "" if override.key_or_group in RUN_GROUPS else " (or write a list as key=[a,b])"
        raise ConfigError(f"{text} is a sweep: add -m to run one job per value{list_form}")
    _check_hydra_settings(composed.hydra, multirun)
    twins: set[tuple[str, str]] = set()
    strategies: set[str] = set()
    built = []
    if multirun:
        _check_tuned_settings(composed)
    swept = config_sweeps(overrides, composed)
    _check_strategy_settings(search, swept)
    for variant in _variants(swept):
        strategies |= {v.split("=", 1)[1] for v in variant if v.startswith("strategy=")}
        cfg = compose([*search, *variant])
        validate(cfg)
        built.append(build_strategy(cfg.strategy, cfg))
        twin = cfg.population.twin_file if cfg.population.kind == "twin" else None
        if twin and (twin, cfg.store.start_date) not in twins:  # before Hydra makes a folder
            _warn_on_calendar_shift(twin, str(cfg.store.start_date))
            twins.add((twin, cfg.store.start_date))
        if cfg.get("validate") is not None:
            from experiments.validate import check

            check(cfg)
    _warn_on_unsent_exemptions(built)
    if multirun:
        _rerun_matches_plan(composed, [o for o in overrides if not o.startswith("hydra")])
        _check_baseline(composed, strategies)


def _warn_on_unsent_exemptions(built: list[Any]) -> None:
    """Say so when a frequency cap exempts a campaign none of the run's strategies sends (a
    misspelling exempts nothing). A warning, not a refusal: the cap is the store's policy,
    shared by strategies that send different campaigns, so a name may be meant for another
    strategy. Checked against all of a sweep's strategies; skipped if one of them cannot say
    what it sends (no `campaigns()`)."""
    sent = [campaigns_of(strategy) for strategy in built]
    if any(listed is None for listed in sent):
        return
    campaigns = list(dict.fromkeys(name for listed in sent for name in listed))
    caps = [strategy.cap for strategy in built if isinstance(strategy, Capped)]
    exempt = set().union(*(getattr(cap, "exempt", set()) for cap in caps))
    listed = ", ".join(campaigns) or "no messages"
    for name in sorted(exempt - set(campaigns)):
        hint = did_you_mean(name, campaigns)
        print(
            f"retail-sim: warning: cap exempt_campaigns names '{name}', which no strategy run "
            f"here sends (they send {listed}): it exempts nothing" + (f"; {hint}" if hint else ""),
            file=sys.stderr,
        )


def _check_hydra_sweep(text: str, override: Override) -> None:
    """Hydra's own settings take one value (Hydra answers a sweep of one in three lines); an
    optimiser's search space is given as the setting's own sweep, which it reads."""
    key = override.key_or_group
    if not key.startswith("hydra.") or not override.is_sweep_override():
        return
    tuned = key.removeprefix("hydra.sweeper.params.")
    if tuned != key:
        value = text.split("=", 1)[1]
        raise ConfigError(
            f"{text}: give the range to search as the setting's own sweep: {tuned}={value}"
        )
    raise ConfigError(f"{text}: Hydra's own settings take one value, not a sweep")


def _check_empty_mapping(text: str, override: Override) -> None:
    """`key={}` merges an empty mapping into the key's, so every entry stays: the user who
    meant "none" (`cap.daily_limit={}`) got them all."""
    if override.value() != {} or override.type != OverrideType.CHANGE:
        return
    key = override.key_or_group
    fix = (
        f"pick a config, e.g. {key}={GROUP_DEFAULTS.get(key, 'none')}"
        if key in RUN_GROUPS
        else f"clear it with {key}=null, or drop one entry with ~{key}.<name>"
    )
    raise ConfigError(f"{text} changes nothing (an empty mapping keeps every entry): {fix}")


def _check_strategy_settings(search: list[str], overrides: list[str]) -> None:
    """A strategy setting given (or swept) beside several strategies must be a setting of
    each: a sweep runs every strategy with every value, so `strategy=none,blanket
    strategy.every_days=7,14` would fail in every `none` job. Say how to compare variants."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    settings = [
        (text, o.key_or_group)
        for text, o in zip(overrides, parsed, strict=True)
        if _sets_strategy(o)
    ]
    choice = next((o for o in parsed if o.key_or_group == "strategy"), None)
    if not settings or choice is None or not choice.is_sweep_override():
        return
    try:
        names = list(choice.sweep_string_iterator())
    except (HydraException, TypeError, ValueError):
        return  # the variants' check names the problem
    keys = [key for _, key in settings]
    lacking = {}  # strategy -> the first setting it does not have
    for name in names:
        cfg = compose([*search, f"strategy={name}"])
        missing = [k for k in keys if OmegaConf.select(cfg, k, default=_ABSENT) is _ABSENT]
        if missing:
            lacking[name] = missing[0]
    having = [name for name in names if name not in lacking]
    if lacking and having:  # none has it: the variants' check names a misspelt setting
        name, key = next(iter(lacking.items()))
        text = next(text for text, k in settings if k == key)
        example = having[0]
        raise ConfigError(
            f"{text}: {name} has no setting {key.removeprefix('strategy.')}, and a sweep runs "
            f"every strategy with every value: to compare variants of {example} with {name}, "
            f"give each variant a strategy file in a --config-dir folder "
            f"(strategy/{example}_variant.yaml: defaults: [{example}, _self_] and the setting) "
            f"and sweep strategy={name},{example},{example}_variant"
        )


_ABSENT = object()  # OmegaConf.select's answer for a key the config does not have


def _sets_strategy(override: Override) -> bool:
    """A `strategy.<setting>=value` override (not an addition with + or a removal with ~): a
    setting of the chosen strategy, which a sweep of strategies may lack."""
    return override.key_or_group.startswith("strategy.") and override.type == OverrideType.CHANGE


def _warn_on_calendar_shift(twin: str, start_date: str) -> None:
    """Read the twin file (its problems stop the run here) and say so when the store starts on
    another day than the twin's day 0: allowed (a deliberate shift), but with the default
    store's date the seasons would fall on the wrong days of the customers' histories."""
    day0 = read_twin(twin).start_date.isoformat()
    if day0 != start_date:
        print(
            f"retail-sim: warning: the twin's day 0 is {day0} but store.start_date is "
            f"{start_date}: the calendar's events fall on the store's dates; use "
            f"store=calibrated from the twin's folder, or store.start_date={day0}",
            file=sys.stderr,
        )


def _variants(overrides: list[str]) -> list[list[str]]:
    """Each value of each sweep (`a=1,2`, `seed=range(3)`, both ends of `interval(0, 0.3)`),
    the other sweeps at their first value."""
    choices = []
    for text, override in zip(
        overrides, OverridesParser.create().parse_overrides(overrides), strict=True
    ):
        key = override.get_key_element()
        if not override.is_sweep_override():
            choices.append([text])
            continue
        value = override.value()
        if isinstance(value, Glob):  # the report plans every job, and glob needs Hydra's loader
            raise ConfigError(f"{text}: glob() sweeps are not supported: list the values (a,b,c)")
        if isinstance(value, IntervalSweep):
            if value.start > value.end:
                raise ConfigError(f"{text}: the interval is empty: give its low end first")
            choices.append([f"{key}={value.start}", f"{key}={value.end}"])
            continue
        try:
            values = list(override.sweep_string_iterator())
        except (HydraException, TypeError, ValueError):
            continue
        if not values:
            raise ConfigError(f"{text} sweeps over no values: give at least one")
        choices.append([f"{key}={value}" for value in values])
    first = [values[0] for values in choices]
    variants = [first]
    for i, values in enumerate(choices):
        variants += [[*first[:i], value, *first[i + 1 :]] for value in values[1:]]
    return variants


def _check_hydra_settings(h: DictConfig, multirun: bool) -> None:
    """The `hydra.*` settings that Hydra would only trip on once it has made its folders."""
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    folder = _resolved(h.sweep.dir if multirun else h.run.dir)
    if folder is not None and not folder.strip():
        raise ConfigError(
            f"{key} is empty: results would land loose in the current folder; give a folder, "
            f"or leave {key} out for a new one under {'multirun' if multirun else 'outputs'}/"
        )
    if folder is not None:
        _check_folder(Path(folder), key)
    if not multirun:
        if folder is not None:
            _check_unused(Path(folder))
        return
    if "SlurmLauncher" in str(h.launcher.get("_target_", "")) and shutil.which("srun") is None:
        raise ConfigError(
            "hydra/launcher=submitit_slurm sends each run to SLURM, which this machine lacks "
            "(no srun): run the command on the cluster, or use hydra/launcher=submitit_local"
        )
    check_parallel_runs("hydra.launcher.n_jobs", h.launcher.get("n_jobs"))
    trials = h.sweeper.get("n_trials")
    if trials is not None and trials < 1:
        raise ConfigError(f"hydra.sweeper.n_trials={trials}: give at least 1 trial")
    _check_optimiser(h.sweeper)
    seeds = _report_settings(h).get("validation_seeds")
    if seeds is not None:
        _check_validation_seeds(seeds)


def _check_optimiser(sweeper: DictConfig) -> None:
    """The Optuna sweeper's settings that failed only after the first trials had run."""
    n_jobs = sweeper.get("n_jobs")
    if n_jobs is not None and (not isinstance(n_jobs, int) or n_jobs < 1):
        raise ConfigError(
            f"hydra.sweeper.n_jobs={n_jobs}: give how many trials run at once (1 or more)"
        )
    direction = sweeper.get("direction")
    if direction is not None and str(direction).lower() not in ("maximize", "minimize"):
        raise ConfigError(
            f"hydra.sweeper.direction={direction}: give maximize (a run returns its net "
            "profit) or minimize"
        )
    storage = str(sweeper.get("storage") or "")
    if storage.startswith("sqlite:///"):
        database = Path(storage.removeprefix("sqlite:///"))
        problem = folder_problem(database.parent)
        if problem:
            raise ConfigError(
                f"hydra.sweeper.storage={storage}: {problem}: give a database in a folder you "
                "can write to, or storage=null to keep the study in memory"
            )


def _check_validation_seeds(seeds: object) -> None:
    """The seeds a tuned setting is re-run on (none: no re-run): whole numbers a generator
    accepts, each once (a repeated seed would count the same luck twice)."""
    listed = list(seeds) if isinstance(seeds, (list, tuple, ListConfig)) else None
    key = "hydra.callbacks.report.validation_seeds"
    if listed is None or not all(isinstance(s, int) and not isinstance(s, bool) for s in listed):
        raise ConfigError(f"{key}={seeds}: give a list of whole-number seeds, e.g. [101,102,103]")
    if listed and min(listed) < 0:
        raise ConfigError(f"{key}: seed {min(listed)} is negative: give seeds of 0 or more")
    if listed and max(listed) > MAX_SEED:  # else the report fails after every trial has run
        raise ConfigError(f"{key}: seed {max(listed)} is too large: give seeds up to {MAX_SEED}")
    if len(set(listed)) < len(listed):
        raise ConfigError(f"{key}={listed}: a seed appears twice: give each seed once")


def _check_tuned_settings(composed: DictConfig) -> None:
    """An optimiser tunes settings of the chosen strategy: `experiment=tune strategy=winback`
    would tune blanket's settings on winback, which has none of them (and Hydra's hint, to add
    them with +, would tune settings winback ignores)."""
    params = composed.hydra.sweeper.get("params") or {}
    strategy = composed.hydra.runtime.choices.get("strategy")
    for key in params:
        key = str(key)
        if (
            not key.startswith("strategy.")
            or OmegaConf.select(composed, key, default=_ABSENT) is not _ABSENT
        ):
            continue
        own = ", ".join(k for k in composed.strategy if k != "_target_")
        made_for_it = f"tune_{strategy}"
        fix = (
            f"use experiment={made_for_it}, made for it"
            if (files("retail_sim_configs") / "experiment" / f"{made_for_it}.yaml").is_file()
            else "copy configs/experiment/tune.yaml into a --config-dir folder and list them "
            "under hydra.sweeper.params"
        )
        raise ConfigError(
            f"hydra.sweeper.params.{key}: {strategy} has no setting "
            f"{key.removeprefix('strategy.')} to tune: to tune {strategy}'s own settings "
            f"({own}), {fix}"
        )


def _parse(overrides: list[str]) -> list:
    return OverridesParser.create().parse_overrides(overrides)


def _resolved(node_value: object) -> str | None:
    """A setting's value, or None when it interpolates what only a running Hydra knows."""
    try:
        return str(node_value)
    except OmegaConfBaseException:  # e.g. ${hydra.job.name} outside a run
        return None


def _check_folder(path: Path, key: str) -> None:
    """The results folder can be made and written in."""
    problem = folder_problem(path)
    if problem:
        raise ConfigError(f"{key}={path}: {problem}: give a folder you can write to")


# what a finished run, validity suite or sweep leaves in its folder; `.hydra/` alone is a run
# that crashed, with nothing to lose
RESULTS = ("metrics.json", "validation.json", "plan.json", "*/.hydra")


def _check_unused(folder: Path) -> None:
    """A single run goes to a folder of its own: into an earlier run's folder it would
    replace that run's results and leave a mix of both runs' files (a CSV beside a Parquet
    series, one run's report beside another's metrics). Sweeps rerun jobs instead (see
    `_rerun_matches_plan`)."""
    found = next((hit for pattern in RESULTS for hit in sorted(folder.glob(pattern))), None)
    if found is not None:
        raise ConfigError(
            f"hydra.run.dir={folder} already holds results ({found.relative_to(folder)}): "
            "give a new folder, or move that one away to run again"
        )


def _rerun_matches_plan(cfg: DictConfig, task: list[str]) -> None:
    """Each job gets a folder of its own inside the sweep folder; a sweep into a folder that
    already holds a sweep's jobs reruns jobs of that sweep (see the README): each job must go
    to the folder of the earlier job with the same overrides, or it would replace another
    job's results. `task`: the command line's overrides."""
    subdir = str(OmegaConf.to_container(cfg.hydra.sweep, resolve=False)["subdir"])
    jobs = planned_jobs(cfg, task)
    if Path(subdir).is_absolute():
        raise ConfigError(
            f"hydra.sweep.subdir={subdir} is outside the sweep folder, where the report looks: "
            "give a folder name (by default each job's number)"
        )
    if "${" not in subdir and (jobs is None or len(jobs) > 1):
        raise ConfigError(
            f"hydra.sweep.subdir={subdir} puts every job in one folder, each replacing the "
            "results of the last: leave it out (each job gets its number) or rerun one job"
        )
    sweep_dir = _resolved(cfg.hydra.sweep.dir)
    if not sweep_dir or jobs is None:
        return
    ran = _earlier_jobs(Path(sweep_dir))
    if not ran or ("${" in subdir and subdir != JOB_NUMBER):
        return  # a new sweep, or folders named by settings only a running job knows
    planned = {num: _as_dict(overrides) for num, overrides in ran.items()}
    for num, job in enumerate(jobs):
        folder = str(num) if subdir == JOB_NUMBER else subdir
        wanted = _as_dict(job)
        if planned.get(folder) == wanted:
            continue
        same = [n for n, o in planned.items() if o == wanted]
        what = f"its job {folder} ran {' '.join(ran[folder])}" if folder in ran else "no job"
        fix = f"give hydra.sweep.subdir={same[0]}" if same else "the sweep planned no such job"
        raise ConfigError(f"{' '.join(job)} into sweep {sweep_dir}, folder {folder}: {what}; {fix}")


def _earlier_jobs(sweep_dir: Path) -> dict[str, list[str]]:
    """The jobs an earlier sweep in this folder planned (its plan.json) or, for a sweep with
    no plan (a plain -m sweep), ran (each job folder's record of its overrides)."""
    if (sweep_dir / ".hydra").is_dir():
        raise ConfigError(
            f"hydra.sweep.dir={sweep_dir} holds a single run, which the report would read as a "
            "job: give the sweep a folder of its own"
        )
    plan = read_plan(sweep_dir)[0]  # an unusable one: a new plan
    if plan.get("jobs"):
        return {str(job["num"]): job["overrides"] for job in plan["jobs"]}
    ran = {}
    for record in sorted(sweep_dir.glob("*/.hydra/overrides.yaml")):
        job = record.parent.parent  # a damaged record: the folder holds a job all the same
        overrides = read_file(job, ".hydra/overrides.yaml", list, []) or []
        ran[job.name] = [str(o) for o in overrides]
    return ran


def _check_baseline(cfg: DictConfig, strategies: set[str]) -> None:
    """The strategy the report compares with must run in the sweep, or in the earlier sweep
    a rerun goes into: else every run is made for a report that cannot compare them."""
    baseline = _report_settings(cfg.hydra).get("baseline")
    if not baseline or not strategies or baseline in strategies:
        return
    sweep_dir = _resolved(cfg.hydra.sweep.dir)
    if sweep_dir and _earlier_jobs(Path(sweep_dir)):
        return  # a rerun: the earlier sweep has the baseline's runs
    raise ConfigError(
        f"hydra.callbacks.report.baseline={baseline} is not among the sweep's strategies "
        f"({', '.join(sorted(strategies))}): add it to strategy=... or compare with one of them"
    )


def _report_settings(h: DictConfig) -> DictConfig | dict:
    """The sweep report's settings (`hydra.callbacks.report`), empty when it has none."""
    return (h.get("callbacks") or {}).get("report") or {}


def _as_dict(overrides: list[str]) -> dict[str, str]:
    """Overrides as key -> value, so that their order does not matter."""
    return {
        o.get_key_element(): re.sub(r"\s+", "", o.get_value_element_as_str())
        for o in _parse(list(overrides))
    }
