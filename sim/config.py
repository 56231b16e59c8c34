"""The configuration schema: types and valid ranges of every setting.

Values and the note on where each default comes from live in the YAML files under
`configs/`; this module only says what a value may be, so that Hydra rejects unknown keys and
wrong types, and `validate` rejects nonsense (negative customers, a probability above 1) with
one line naming the key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import functools
import math
import numbers
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.errors import ConfigCompositionException
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue


class ConfigError(ValueError):
    """A setting that cannot be simulated; the message is one line naming the key and the fix."""


class _NotASetting(ConfigError, ConfigCompositionException):
    """An override of a key the config lacks: still the composition error Hydra raises for it,
    for callers that catch that, with a message naming the setting meant."""


def _in(lo: float | None = None, hi: float | None = None, default: Any = MISSING) -> Any:
    """A field whose value must lie in [lo, hi]."""
    return field(default=default, metadata={"range": (lo, hi)})


PROB = (0.0, 1.0)
MAX_STYLES = 128  # a style is kept in one byte (int8) in the records and the ledger
MAX_SEED = 2**32 - 1  # the largest root seed of a run (sim.random's streams take 32 bits)


def whole(name: str, value: Any, lo: int = 0) -> int:
    """A count (days, messages, purchases) as an int, or a one-line ValueError naming it: a
    fraction would silently shift a schedule (an offer open 7.5 days never closed), a flag
    (`true`) or a word would pass as a number or fail mid-run."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if real and math.isfinite(value) and float(value).is_integer() and value >= lo:
        return int(value)
    raise ValueError(f"{name}={value}: give a whole number of at least {lo}")


def flag(name: str, value: Any) -> bool:
    """A yes/no setting as a bool, or a one-line ValueError naming it: to Python any word is
    true, so `personal=no` would silently switch the setting on."""
    if isinstance(value, bool):
        return value
    raise ValueError(f"{name}={value}: give true or false")


def names(value: Any) -> list[str]:
    """A setting's list of names; one name alone (`triggers=birthday`, as a command line
    gives it) is a list of one, not of its letters."""
    return [value] if isinstance(value, str) else list(value)


def number(name: str, value: Any, lo: float = 0.0, hi: float = math.inf) -> float:
    """A finite amount in [lo, hi] as a float, or a one-line ValueError naming it (NaN compares
    false with every bound, so unchecked it would pass and switch a rule off silently)."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if real and math.isfinite(value) and lo <= value <= hi:
        return float(value)
    bounds = f"between {lo} and {hi}" if math.isfinite(hi) else f"at least {lo}"
    raise ValueError(f"{name}={value}: give a number {bounds}")


@dataclass
class BehaviourConfig:
    """How customers respond: the uncertain parameters a robustness sweep varies."""

    style_rate_exponent: float = _in(0, 5)
    style_hazard_exponent: float = _in(0, 5)
    message_purchase_prob: float = _in(*PROB)
    response_half_life_days: float = _in(0.1, 365)
    offer_pull: float = _in(0, 100)
    personal_effect: float = _in(0, 10)
    personal_fatigue: float = _in(0, 10)
    irrelevance_fatigue: float = _in(0, 10)
    irritation: float = _in(0, 10)
    fatigue_half_life_days: float = _in(0.1, 3650)
    fatigue_read_penalty: float = _in(0, 10)
    fatigue_opt_out: float = _in(0, 10)
    fatigue_churn: float = _in(0, 10)
    satisfaction_half_life_days: float = _in(0.1, 3650)
    satisfaction_churn: float = _in(0, 10)
    recognition_churn: float = _in(0, 10)
    complaint_hit: float = _in(0, 10)
    recovery_bonus: float = _in(0, 10)
    slow_handling_penalty: float = _in(0, 10)
    abandon_penalty: float = _in(0, 20)
    call_recognition: float = _in(0, 10)
    revival_prob: float = _in(*PROB)
    min_spend_top_up: float = _in(*PROB)


@dataclass
class PopulationConfig:
    """Who the customers are: the heterogeneity the store never observes directly."""

    kind: str = "synthetic"
    twin_file: str | None = None
    purchase_r: float = _in(1e-6, 1e3)
    purchase_alpha_days: float = _in(1e-6, 1e6)
    dropout_s: float = _in(1e-6, 1e3)
    dropout_beta_days: float = _in(1e-6, 1e6)
    spend_p: float = _in(1e-6, 1e3)
    spend_q: float = _in(1.0 + 1e-6, 1e3)
    spend_gamma: float = _in(1e-6, 1e7)
    items_mean: float = _in(1.0, 50)
    price_sensitivity_shape: float = _in(1e-3, 1e3)
    # below 0.01 a customer's Gamma draws for every style can all underflow to 0 (no affinity)
    style_concentration: float = _in(1e-2, 1e3)
    referral_propensity: float = _in(*PROB)
    referred_rate_boost: float = _in(0, 10)
    history_days: int = _in(0, 36500)
    new_customers_per_year: float = _in(0, 100)
    comeback_rate_per_year: float = _in(0, 100)
    birthday_recorded: float = _in(*PROB)
    behaviour: BehaviourConfig = field(default_factory=BehaviourConfig)


@dataclass
class CalendarEvent:
    """A stretch of days when more customers visit (new-season arrivals, a sale)."""

    name: str = MISSING
    month: int = _in(1, 12)
    day: int = _in(1, 31)
    days: int = _in(1, 366)
    visit_lift: float = _in(0, 50)


@dataclass
class StaffConfig:
    """The store's people who handle complaints and advisor calls (a SimPy resource)."""

    advisors_per_10k_customers: float = _in(0, 1e4)
    hours_per_day: float = _in(0, 24)
    complaint_hours: float = _in(1e-3, 24)
    call_hours: float = _in(1e-3, 24)
    hourly_cost: float = _in(0, 1e4)
    fast_days: int = _in(0, 365)
    max_wait_days: int = _in(1, 365)


@dataclass
class StoreConfig:
    """The store: its style, margins, calendar and staff."""

    name: str = MISSING
    start_date: str = MISSING
    styles: list[str] = MISSING
    style_mix: list[float] = MISSING
    gross_margin: float = _in(*PROB)
    complaint_rate: float = _in(*PROB)
    vip_spend_threshold: float = _in(0, 1e9)
    annual_discount_rate: float = _in(0, 1)
    calendar: list[CalendarEvent] = field(default_factory=list)
    staff: StaffConfig = field(default_factory=StaffConfig)


@dataclass
class ChannelConfig:
    """One way of reaching a customer, with what it costs and how it tires her."""

    reach: float = _in(*PROB)
    read_rate: float = _in(*PROB)
    reports_reads: bool = MISSING
    effect: float = _in(0, 100)
    fatigue_weight: float = _in(0, 100)
    cost: float = _in(0, 1e4)
    opt_out_rate: float = _in(*PROB)
    needs_staff: bool = MISSING


@dataclass
class OutputConfig:
    """What a run writes besides metrics.json."""

    daily_format: str = "csv"


@dataclass
class Config:
    """One simulation run."""

    customers: int = _in(1, 100_000_000)
    days: int = _in(1, 36500)
    seed: int = _in(0, MAX_SEED)
    holdout: float = _in(0, 0.9, default=0.0)
    implementation: str = "fast"
    population: PopulationConfig = MISSING
    store: StoreConfig = MISSING
    channels: dict[str, ChannelConfig] = MISSING
    strategy: Any = MISSING
    cap: Any = None  # a frequency cap around the strategy (configs/cap/), None or {} for none
    output: OutputConfig = field(default_factory=OutputConfig)
    validate: Any = None  # experiment=validate (schema: experiments.validate.ValidateConfig)


CHOICES = {
    "implementation": ("fast", "reference"),
    "population.kind": ("synthetic", "twin"),
    "output.daily_format": ("csv", "parquet"),
}


@functools.cache
def _type_hints(schema: type) -> dict[str, Any]:
    """A settings class's field types (resolving them is slow, and every run validates)."""
    return typing.get_type_hints(schema)


def _walk(schema: type, node: Any, prefix: str) -> None:
    """Check ranges and choices of `node` against `schema`, recursing into nested settings.

    Keys the schema lacks are refused too: Hydra's `+key=value` adds them past the schema,
    and a misspelt setting would otherwise be carried along and silently ignored."""
    hints = _type_hints(schema)
    unknown = sorted(set(vars(node)) - hints.keys())
    if unknown:
        fix = did_you_mean(unknown[0], list(hints), prefix) or f"remove {prefix}{unknown[0]}"
        raise ConfigError(f"{prefix}{unknown[0]} is not a setting: {fix}")
    for f in dataclasses.fields(schema):
        key, value, kind = f"{prefix}{f.name}", getattr(node, f.name), hints[f.name]
        if isinstance(value, str) and value == MISSING:  # removed on the command line (~key)
            raise ConfigError(f"{key} is not set: give {key} a value instead of removing it")
        lo, hi = f.metadata.get("range", (None, None))
        if isinstance(value, int | float) and not isinstance(value, bool):
            out = not math.isfinite(value)
            out = out or (lo is not None and value < lo) or (hi is not None and value > hi)
            if out:
                bounds = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
                raise ConfigError(f"{key}={value} is out of range: set {key} to a value {bounds}")
        if key in CHOICES and value not in CHOICES[key]:
            raise ConfigError(f"{key}={value} is unknown: choose one of {', '.join(CHOICES[key])}")
        if dataclasses.is_dataclass(kind):
            _walk(kind, value, f"{key}.")
        elif typing.get_origin(kind) is list and dataclasses.is_dataclass(typing.get_args(kind)[0]):
            for i, item in enumerate(value):
                _walk(typing.get_args(kind)[0], item, f"{key}[{i}].")
        elif typing.get_origin(kind) is dict and dataclasses.is_dataclass(typing.get_args(kind)[1]):
            for name, item in value.items():
                _walk(typing.get_args(kind)[1], item, f"{key}.{name}.")


# config groups a run needs, and the option the built-in config picks (configs/config.yaml)
GROUP_DEFAULTS = {
    "population": "default",
    "store": "default",
    "channels": "default",
    "strategy": "none",
}


def with_schema(cfg: DictConfig) -> DictConfig:
    """`cfg` typed by the schema (a config saved as YAML or built from a dict is not)."""
    if OmegaConf.get_type(cfg) is Config:
        return cfg
    return OmegaConf.merge(OmegaConf.structured(Config), cfg)


def validate(cfg: DictConfig) -> Config:
    """Reject settings that would make the simulation meaningless, naming the key; return
    them as plain dataclasses (what a run reads: attribute access is cheap there).

    Hydra's schema already rejects unknown keys and wrong types; this adds the ranges and the
    relations between settings (e.g. a style mix that matches the list of styles).
    """
    cfg = with_schema(cfg)
    try:
        run = OmegaConf.to_object(cfg)
    except MissingMandatoryValue as exc:  # e.g. strategy=[]: no config chosen from the group
        key = exc.full_key
        fix = f"pick one, e.g. {key}={GROUP_DEFAULTS[key]}" if key in GROUP_DEFAULTS else ""
        raise ConfigError(f"{key} is not set: {fix or f'give {key} a value'}") from None
    _walk(Config, run, "")  # the plain objects: reading DictConfig nodes one by one is slow
    store = cfg.store
    if len(store.style_mix) != len(store.styles):
        raise ConfigError(
            f"store.style_mix has {len(store.style_mix)} shares for {len(store.styles)} styles: "
            "give one share per entry of store.styles"
        )
    if (
        not all(0 <= s < math.inf for s in store.style_mix)
        or not 0 < sum(store.style_mix) < math.inf
    ):
        raise ConfigError("store.style_mix must be non-negative shares with a positive sum")
    repeated = next((s for i, s in enumerate(store.styles) if s in store.styles[:i]), None)
    if repeated is not None:
        raise ConfigError(f"store.styles names {repeated} twice: give each style once")
    if len(store.styles) > MAX_STYLES:
        raise ConfigError(
            f"store.styles has {len(store.styles)} styles: at most {MAX_STYLES}; group the "
            "rarest into broader styles"
        )
    for i, event in enumerate(store.calendar):
        try:
            dt.date(2001, event.month, event.day)  # a common year: no February 29
        except ValueError:
            raise ConfigError(
                f"store.calendar[{i}] ({event.name}) has no date {event.month}-{event.day}: "
                "give a day that exists in every year"
            ) from None
    try:
        start = dt.date.fromisoformat(str(store.start_date))
    except ValueError:
        raise ConfigError(
            f"store.start_date={store.start_date} is not a date: write it as YYYY-MM-DD"
        ) from None
    if (dt.date.max - start).days < cfg.days:
        raise ConfigError(
            f"store.start_date={store.start_date} with days={cfg.days} runs past the last "
            f"date there is ({dt.date.max}): give an earlier start"
        )
    if cfg.population.kind == "twin" and not cfg.population.twin_file:
        raise ConfigError(
            "population.kind=twin needs population.twin_file: point it at a calibrated twin "
            "(written by retail-sim-calibrate)"
        )
    if not isinstance(cfg.strategy, DictConfig) or "_target_" not in cfg.strategy:
        raise ConfigError(
            "strategy has no _target_: pick a built-in (strategy=none) or give your class as "
            "strategy._target_=mypackage.MyStrategy"
        )
    cap = cfg.get("cap")
    if cap and (not isinstance(cap, DictConfig) or not cap.get("_target_")):
        raise ConfigError(
            "cap has no _target_: pick one from configs/cap (cap=none, cap=weekly) or give "
            "cap._target_=strategies.caps.FrequencyCap"
        )
    return run


def register_schema() -> None:
    """Make the schema known to Hydra as `base_config` (the first entry of config.yaml)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="base_config", node=Config)


def searchpath_override(config_dir: str | Path) -> str:
    """The override that adds a folder of configs to the search path, as `--config-dir` does.

    What `compose(config_dir=...)` adds; like Hydra's own --config-dir, the folder is searched
    after the built-in configs.
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


def compose(
    overrides: list[str] | tuple[str, ...] = (),
    with_hydra: bool = False,
    config_dir: str | Path | None = None,
) -> DictConfig:
    """The run config with command-line style overrides (with Hydra's own `hydra` node if
    asked), as every command and Python composes it; `config_dir` is `--config-dir`'s folder
    of your own configs (e.g. `compose(["strategy=mine"], config_dir="my_configs")`).

    Two of Hydra's answers become one-line ConfigErrors here, for every caller: a file that is
    not valid YAML, and a key the config lacks, which Hydra answers with advice to add it
    with `+key=value` (that the schema then refuses) instead of naming the setting meant."""
    import yaml
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.errors import HydraException

    register_schema()
    overrides = list(overrides)
    if config_dir is not None:
        overrides = [searchpath_override(config_dir), *overrides]
    with initialize_config_module("retail_sim_configs", version_base=None):
        try:
            return hydra_compose("config", overrides=overrides, return_hydra_config=with_hydra)
        except yaml.YAMLError as exc:
            where = " ".join(str(exc).split())
            raise ConfigError(f"a config file is not valid YAML: {where}") from None
        except ConfigCompositionException as exc:
            lacking = re.match(r"Could not override '([^']+)'", str(exc))
            if not lacking:
                raise
            key = lacking.group(1)
            others = [o for o in overrides if o.split("=", 1)[0] != key]
            try:
                cfg = hydra_compose(
                    "config", overrides=others, return_hydra_config=key.startswith("hydra.")
                )
            except (HydraException, yaml.YAMLError):
                raise exc from None  # another problem too: Hydra's message stands
    parent, _, leaf = key.rpartition(".")
    rest = ""  # what follows a misspelt name higher up: channels.smss.cost
    parts = key.split(".")
    for depth in range(1, len(parts) - 1):
        if OmegaConf.select(cfg, ".".join(parts[: depth + 1])) is None:
            parent, leaf = ".".join(parts[:depth]), parts[depth]
            rest = "." + ".".join(parts[depth + 1 :])
            break
    node = OmegaConf.select(cfg, parent) if parent else cfg
    settings = (
        [str(k) for k in node if not str(k).startswith("_")] if isinstance(node, DictConfig) else []
    )
    prefix = f"{parent}." if parent else ""
    fix = did_you_mean(leaf, settings, prefix, rest)
    if fix is None:
        fix = f"choose one of {', '.join(settings)}" if settings else f"{parent} has no settings"
        value = next((o.split("=", 1)[1] for o in overrides if o.startswith(f"{key}=")), "")
        if parent and leaf in cfg:  # e.g. strategy.holdout: the run's own setting
            fix += f"; {leaf} is a setting of the whole run: {leaf}={value}"
        group = OmegaConf.select(cfg, key.split(".", 1)[0])
        target = str(group.get("_target_", "")) if isinstance(group, DictConfig) else ""
        if target and not target.startswith("strategies."):  # the user's own class
            fix += f"; an argument of {target} that its config lacks is added with +{key}={value}"
    raise _NotASetting(f"{key} is not a setting: {fix}")


def did_you_mean(name: str, names: list[str], prefix: str = "", suffix: str = "") -> str | None:
    """The "did you mean customers?" of a misspelt setting, or None when nothing is close."""
    close = difflib.get_close_matches(name, names, n=1)
    return f"did you mean {prefix}{close[0]}{suffix}?" if close else None
