"""`retail-sim experiment=validate`: does the model reproduce what is known about real customers?

A decision maker asks "why should I believe this simulation?". Each check runs a scenario on
several seeds and measures it the way a published fact (DOMAIN.md) was measured:

- `hillstrom`: one plain email to a random half of the recent buyers lifts their two-week
  conversion by what Hillstrom's test found, and about half of the mailed buyers would have
  bought anyway (the same seed run with no email says who);
- `unsubscribe_per_send`: opt-outs per email sent stay in the published per-send range at
  ordinary frequencies;
- `frequency_inverted_u`: net profit against message frequency is an inverted U;
- `cdnow_silent_buy_again`: with no intervention, customers silent 6-9 months buy again within
  39 weeks at CDNOW's rate;
- `backfire`: aggressive irrelevant messaging raises a segment's (true) churn;
- `holdout_uplift`: what a store measures with its holdout agrees with the true uplift.

Runs of one seed share their customers and every draw the strategy does not touch (common
random numbers), so effects are measured paired by seed. The suite writes `validation.json`
(`{"checks": [{"name", "measured", "target", "passed"}, ...]}`) and `report.html` into the
run's output directory, prints one line per check and exits with status 1 when a check fails.
Settings and targets, each with its source, are in configs/experiment/validate.yaml.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from experiments.aggregate import per_customer
from experiments.errors import check_parallel_runs, one_line
from experiments.run import write_atomic
from experiments.stats import mean_interval, paired_difference
from sim import uplift
from sim.config import MAX_SEED, ConfigError, PopulationConfig, validate
from sim.kpis import COHORT_DAYS
from sim.simulate import RunResult, build_strategy, simulate

CHECKS = (
    "hillstrom",
    "unsubscribe_per_send",
    "frequency_inverted_u",
    "cdnow_silent_buy_again",
    "backfire",
    "holdout_uplift",
)
NONE = {"_target_": "strategies.none.NoStrategy"}


# ---------------------------------------------------------------------------- settings
@dataclass
class HillstromSettings:
    """Hillstrom's test: a one-shot plain email to a random half of the recent buyers."""

    source: str = ""
    population: PopulationConfig = MISSING  # Hillstrom's traits; its behaviour is the run's
    customers: int = MISSING
    start_date: str = MISSING  # day 0, the send day
    channel: str = MISSING
    mailed_share: float = MISSING  # the random share that gets the email
    window_days: int = MISSING  # conversion: bought within this many days of the send
    recent_days: int = MISSING  # the test's customers bought within this many days before it
    lift_pp: list[float] = MISSING
    bought_anyway: list[float] = MISSING


@dataclass
class UnsubscribeSettings:
    """Opt-outs per message sent at ordinary frequencies of a plain message."""

    source: str = ""
    channel: str = MISSING
    every_days: list[int] = MISSING
    per_send: list[float] = MISSING


@dataclass
class FrequencySettings:
    """Net profit of plain messages every k days, against sending nothing."""

    source: str = ""
    channel: str = MISSING
    every_days: list[int] = MISSING


@dataclass
class CdnowSettings:
    """Natural buy-again rate of silent customers with no intervention."""

    source: str = ""
    rate: list[float] = MISSING


@dataclass
class BackfireSettings:
    """Plain messages every `every_days` days for `days` days, against sending nothing."""

    source: str = ""
    channel: str = MISSING
    every_days: int = MISSING
    days: int = MISSING


@dataclass
class HoldoutSettings:
    """The run's `strategy` with its `holdout`, against `none` on the same seed."""

    source: str = ""


@dataclass
class ValidateConfig:
    """`validate` in configs/experiment/validate.yaml."""

    checks: list[str] = MISSING
    seeds: list[int] = MISSING
    n_jobs: int = -1  # runs at once (joblib: -1 = every core)
    hillstrom: HillstromSettings = field(default_factory=HillstromSettings)
    unsubscribe_per_send: UnsubscribeSettings = field(default_factory=UnsubscribeSettings)
    frequency_inverted_u: FrequencySettings = field(default_factory=FrequencySettings)
    cdnow_silent_buy_again: CdnowSettings = field(default_factory=CdnowSettings)
    backfire: BackfireSettings = field(default_factory=BackfireSettings)
    holdout_uplift: HoldoutSettings = field(default_factory=HoldoutSettings)


def settings(cfg: DictConfig) -> ValidateConfig:
    """The suite's settings, typed and checked: a mistake is one ConfigError naming the key."""
    try:
        node = OmegaConf.merge(OmegaConf.structured(ValidateConfig), cfg.validate)
        s: ValidateConfig = OmegaConf.to_object(node)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"validate: {one_line(exc)}") from None
    s.checks = list(dict.fromkeys(s.checks))  # each check once, in the order given
    unknown = [c for c in s.checks if c not in CHECKS]
    if unknown or not s.checks:
        what = f"unknown check '{unknown[0]}'" if unknown else "no check chosen"
        raise ConfigError(f"validate.checks: {what}: choose from {', '.join(CHECKS)}")
    if not s.seeds or min(s.seeds) < 0 or max(s.seeds) > MAX_SEED:
        raise ConfigError(
            f"validate.seeds={list(s.seeds)}: give one or more seeds between 0 and {MAX_SEED}, "
            "e.g. [1,2,3,4,5]"
        )
    check_parallel_runs("validate.n_jobs", s.n_jobs)
    _at_least("validate.hillstrom.window_days", [s.hillstrom.window_days], 1)
    _at_least("validate.hillstrom.recent_days", [s.hillstrom.recent_days], 1)
    if not 0 < s.hillstrom.mailed_share < 1:
        raise ConfigError("validate.hillstrom.mailed_share must lie between 0 and 1")
    _at_least("validate.unsubscribe_per_send.every_days", s.unsubscribe_per_send.every_days, 1)
    _at_least("validate.frequency_inverted_u.every_days", s.frequency_inverted_u.every_days, 1)
    if len(set(s.frequency_inverted_u.every_days)) < 3:
        raise ConfigError(
            "validate.frequency_inverted_u.every_days needs at least 3 different frequencies "
            "(an interior best needs one on each side)"
        )
    _at_least("validate.backfire.every_days", [s.backfire.every_days], 1)
    _at_least("validate.backfire.days", [s.backfire.days], 1)
    _band("validate.hillstrom.lift_pp", s.hillstrom.lift_pp)
    _band("validate.hillstrom.bought_anyway", s.hillstrom.bought_anyway)
    _band("validate.unsubscribe_per_send.per_send", s.unsubscribe_per_send.per_send)
    _band("validate.cdnow_silent_buy_again.rate", s.cdnow_silent_buy_again.rate)
    for name in ("hillstrom", "unsubscribe_per_send", "frequency_inverted_u", "backfire"):
        channel = getattr(s, name).channel
        if name in s.checks and channel not in cfg.channels:
            raise ConfigError(
                f"validate.{name}.channel={channel} is not a channel of the store: choose one "
                f"of {', '.join(cfg.channels)}"
            )
    if "holdout_uplift" in s.checks and not cfg.holdout > 0:
        raise ConfigError(
            "holdout_uplift measures against the holdout: set holdout above 0, e.g. holdout=0.1"
        )
    if "cdnow_silent_buy_again" in s.checks and cfg.days < COHORT_DAYS:
        raise ConfigError(
            f"cdnow_silent_buy_again measures 39 weeks: set days to at least {COHORT_DAYS}, or "
            "leave the check out of validate.checks"
        )
    return s


def _at_least(key: str, values: list[int], low: int) -> None:
    if not values or min(values) < low:
        raise ConfigError(f"{key}={list(values)}: every value must be at least {low}")


def _band(key: str, band: Any) -> None:
    values = list(band)
    if len(values) != 2 or values[0] > values[1]:
        raise ConfigError(f"{key}={values} is not a target range: give [low, high]")


def check(cfg: DictConfig) -> None:
    """Check the settings and every run the chosen checks need, before anything runs (each
    kind of run once: `settings` has checked the seeds); a mistake names the check."""
    s = settings(cfg)
    configs, roles = plan(cfg, s)
    seen = set()
    for name, by_role in roles.items():
        for key in (k for keys in by_role.values() for k in keys):
            config = configs[key]
            kind = json.dumps({**config, "seed": 0}, sort_keys=True)
            if kind in seen:
                continue
            seen.add(kind)
            run_cfg = OmegaConf.create(config)
            try:
                validate(run_cfg)
                build_strategy(run_cfg.strategy, run_cfg)
            except ConfigError as exc:
                raise ConfigError(f"validate.{name}: {exc}") from None


# ---------------------------------------------------------------------------- runs
@dataclass
class RunData:
    """What the checks read from one finished run: its KPIs and, per day-0 customer (the same
    rows in every run of a seed), the facts the checks measure."""

    metrics: dict[str, Any]
    holdout: np.ndarray  # bool: in the holdout arm
    alive_start: np.ndarray  # bool: a customer on day 0 (not silently gone)
    churned: np.ndarray  # bool: silently left during the run
    last_purchase_at_start: np.ndarray  # day of her last purchase before day 0 (negative)
    first_purchase_day: np.ndarray  # her first purchase in the run, -1 for none
    reachable: dict[str, np.ndarray]  # per channel, bool: contact on file
    messages: dict[str, np.ndarray]  # per channel: messages she was sent
    sent: dict[str, int]  # per channel: messages sent to anyone
    opt_outs: dict[str, int]  # per channel: opt-outs of anyone


def run_data(result: RunResult) -> RunData:
    """The facts the checks need from a run, small enough to send between processes."""
    model = result.model
    o, record = model.outcome, model.ledger.record
    base = model.base_customers  # day-0 customers: the rows below it
    tx = model.ledger.transactions
    customer, day = tx.column("customer"), tx.column("day")
    first = np.full(o.n, -1, dtype=np.int32)
    rows, at = np.unique(customer, return_index=True)  # the log is in day order
    first[rows] = day[at]
    names = list(model.channels.names)
    opted = np.bincount(model.ledger.opt_outs.column("channel"), minlength=len(names))
    return RunData(
        metrics=result.metrics,
        holdout=o.holdout[:base].copy(),
        alive_start=o.alive_start[:base].copy(),
        churned=o.churned[:base].copy(),
        last_purchase_at_start=o.last_purchase_at_start[:base].copy(),
        first_purchase_day=first[:base],
        reachable={c: record.reachable[:base, i].copy() for i, c in enumerate(names)},
        messages={c: record.messages[:base, i].copy() for i, c in enumerate(names)},
        sent={c: int(record.messages[:, i].sum()) for i, c in enumerate(names)},
        opt_outs={c: int(opted[i]) for i, c in enumerate(names)},
    )


def simulate_run(config: dict[str, Any]) -> RunData:
    """One run of the suite (in a worker process): simulate, keep what the checks read."""
    return run_data(simulate(OmegaConf.create(config)))


def plain(channel: str, every_days: int) -> dict[str, Any]:
    """A plain message (no offer) to everyone contactable on `channel` every `every_days`."""
    return {
        "_target_": "strategies.blanket.Blanket",
        "channel": channel,
        "every_days": int(every_days),
        "discount": 0.0,
    }


class Runs:
    """The runs the chosen checks need, each once however many checks read it."""

    def __init__(self, cfg: DictConfig) -> None:
        base = OmegaConf.to_container(cfg, resolve=True)
        base.pop("validate")
        self.base = base
        self.configs: dict[str, dict[str, Any]] = {}

    def add(self, seed: int, strategy: dict[str, Any], **overrides: Any) -> str:
        """A run of the store's config with `strategy`, `seed` and top-level `overrides`
        (`store` and `population` as whole nodes); returns its key."""
        config = copy.deepcopy(self.base)
        config.update({"seed": int(seed), "strategy": strategy, "holdout": 0.0, **overrides})
        key = json.dumps(config, sort_keys=True)
        self.configs.setdefault(key, config)
        return key


Roles = dict[str, list[str]]  # a check's runs: role (e.g. "none") -> one run key per seed


def plan(cfg: DictConfig, s: ValidateConfig) -> tuple[dict[str, dict[str, Any]], dict[str, Roles]]:
    """Every run the chosen checks need, and per check its runs by role."""
    runs = Runs(cfg)
    roles = {name: PLANS[name](runs, s, cfg) for name in s.checks}
    return runs.configs, roles


def _plan_hillstrom(runs: Runs, s: ValidateConfig, cfg: DictConfig) -> Roles:
    h = s.hillstrom
    store = {**runs.base["store"], "start_date": h.start_date}
    # Hillstrom's customers differ in traits (how often they buy), not in how customers respond
    # to messages: that is the model under test, so the behaviour is the run's own.
    population = {
        **dataclasses.asdict(h.population),
        "behaviour": runs.base["population"]["behaviour"],
    }
    common = {
        "customers": h.customers,
        "days": h.window_days,
        "holdout": h.mailed_share,  # the holdout arm is the unmailed half
        "store": store,
        "population": population,
    }
    once = plain(h.channel, h.window_days)  # day 0 only: the next send falls after the run
    return {
        "email": [runs.add(seed, once, **common) for seed in s.seeds],
        "none": [runs.add(seed, NONE, **common) for seed in s.seeds],
    }


def _plan_unsubscribe(runs: Runs, s: ValidateConfig, cfg: DictConfig) -> Roles:
    u = s.unsubscribe_per_send
    return {str(k): [runs.add(seed, plain(u.channel, k)) for seed in s.seeds] for k in u.every_days}


def _plan_frequency(runs: Runs, s: ValidateConfig, cfg: DictConfig) -> Roles:
    f = s.frequency_inverted_u
    roles = {"none": [runs.add(seed, NONE) for seed in s.seeds]}
    for k in sorted(set(f.every_days)):
        roles[str(k)] = [runs.add(seed, plain(f.channel, k)) for seed in s.seeds]
    return roles


def _plan_cdnow(runs: Runs, s: ValidateConfig, cfg: DictConfig) -> Roles:
    return {"none": [runs.add(seed, NONE) for seed in s.seeds]}


def _plan_backfire(runs: Runs, s: ValidateConfig, cfg: DictConfig) -> Roles:
    b = s.backfire
    return {
        "messaged": [
            runs.add(seed, plain(b.channel, b.every_days), days=b.days) for seed in s.seeds
        ],
        "none": [runs.add(seed, NONE, days=b.days) for seed in s.seeds],
    }


def _plan_holdout(runs: Runs, s: ValidateConfig, cfg: DictConfig) -> Roles:
    strategy = runs.base["strategy"]
    return {
        "strategy": [runs.add(seed, strategy, holdout=cfg.holdout) for seed in s.seeds],
        "none": [runs.add(seed, NONE, holdout=cfg.holdout) for seed in s.seeds],
    }


PLANS: dict[str, Callable[[Runs, ValidateConfig, DictConfig], Roles]] = {
    "hillstrom": _plan_hillstrom,
    "unsubscribe_per_send": _plan_unsubscribe,
    "frequency_inverted_u": _plan_frequency,
    "cdnow_silent_buy_again": _plan_cdnow,
    "backfire": _plan_backfire,
    "holdout_uplift": _plan_holdout,
}


# ---------------------------------------------------------------------------- checks
@dataclass
class CheckResult:
    """One check: what it measured against its target, and how a reader should take it."""

    name: str
    measured: Any  # a number or a small dict
    target: Any  # a string or [low, high]
    passed: bool
    line: str  # the console line: measured against target
    sentence: str  # the report's plain-language reading
    source: str

    def record(self) -> dict[str, Any]:
        """The entry in validation.json."""
        return {
            "name": self.name,
            "measured": _plain(self.measured),
            "target": _plain(self.target),
            "passed": bool(self.passed),
        }


def in_band(value: float | None, band: list[float]) -> bool:
    """Whether a measured value lies in a target range (never for a missing value)."""
    return value is not None and math.isfinite(value) and band[0] <= value <= band[1]


def _share(x: np.ndarray) -> float:
    return float(np.mean(x)) if len(x) else math.nan


def _bought(run: RunData, window_days: int) -> np.ndarray:
    day = run.first_purchase_day
    return (day >= 0) & (day < window_days)


def _points(share: float | None) -> float:
    """A difference of shares in percentage points."""
    return math.nan if share is None else 100 * share


def _every(days: int | str) -> str:
    return "every day" if int(days) == 1 else f"every {days} days"


def _pct(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.{digits}f}%"


def _num(x: float | None, fmt: str = "+.2f") -> str:
    return "n/a" if x is None or not math.isfinite(x) else format(x, fmt)


def measure_hillstrom(email: list[RunData], none: list[RunData], h: HillstromSettings) -> dict:
    """Two-week conversion of recent buyers with the channel on file, mailed half against
    unmailed half (pooled over seeds), and the share of mailed buyers who also bought in the
    same seed's run with no email."""
    mailed, unmailed, anyway, eligible_total = [], [], [], 0
    for e, n in zip(email, none, strict=True):
        if len(e.holdout) != len(n.holdout):
            raise ValueError("hillstrom: the email and no-email runs of a seed differ in customers")
        eligible = (e.last_purchase_at_start >= -h.recent_days) & e.reachable[h.channel]
        bought, bought_without = _bought(e, h.window_days), _bought(n, h.window_days)
        mailed.append(bought[eligible & ~e.holdout])
        unmailed.append(bought[eligible & e.holdout])
        anyway.append(bought_without[eligible & (e.messages[h.channel] > 0) & bought])
        eligible_total += int(eligible.sum())
    t, c = np.concatenate(mailed), np.concatenate(unmailed)
    lift = uplift.difference(t.astype(float), c.astype(float))
    return {
        "control_conversion": _share(c),
        "mailed_conversion": _share(t),
        "lift_pp": _points(lift["estimate"]) if len(t) and len(c) else math.nan,
        "lift_pp_low": _points(lift["low"]),
        "lift_pp_high": _points(lift["high"]),
        "bought_anyway": _share(np.concatenate(anyway)),
        "customers_per_seed": eligible_total / max(len(email), 1),
    }


def judge_hillstrom(m: dict, h: HillstromSettings) -> CheckResult:
    """Pass when the lift and the bought-anyway share both lie in their target ranges."""
    lo, hi = h.lift_pp
    a_lo, a_hi = h.bought_anyway
    passed = in_band(m["lift_pp"], h.lift_pp) and in_band(m["bought_anyway"], h.bought_anyway)
    line = (
        f"two-week conversion {_pct(m['control_conversion'])} unmailed, "
        f"{_pct(m['mailed_conversion'])} mailed: lift {_num(m['lift_pp'])} pp "
        f"(95% {_num(m['lift_pp_low'])} to {_num(m['lift_pp_high'])}), target {lo:+.2f} to "
        f"{hi:+.2f} pp; mailed buyers who bought anyway {_pct(m['bought_anyway'], 0)}, target "
        f"{a_lo:.0%}-{a_hi:.0%}"
    )
    sentence = (
        f"One plain email to a random half of {m['customers_per_seed']:,.0f} recent buyers "
        f"took two-week buying from {_pct(m['control_conversion'])} (unmailed half) to "
        f"{_pct(m['mailed_conversion'])} ({_num(m['lift_pp'])} points; Hillstrom's real test: "
        f"{lo:+.2f} to {hi:+.2f}), and {_pct(m['bought_anyway'], 0)} of the mailed buyers "
        f"would have bought without it (real: about half)."
    )
    target = f"lift_pp in [{lo}, {hi}] and bought_anyway in [{a_lo}, {a_hi}]"
    return CheckResult("hillstrom", m, target, passed, line, sentence, h.source)


def measure_unsubscribe(by_frequency: dict[str, list[RunData]], channel: str) -> dict:
    """Opt-outs per message sent on `channel`, pooled over seeds, per frequency."""
    out = {}
    for k, runs in by_frequency.items():
        sent = sum(r.sent[channel] for r in runs)
        out[f"every_{k}_days"] = sum(r.opt_outs[channel] for r in runs) / sent if sent else math.nan
    return out


def judge_unsubscribe(m: dict, u: UnsubscribeSettings) -> CheckResult:
    """Pass when every frequency's opt-outs per send lie in the per-send range."""
    passed = all(in_band(v, u.per_send) for v in m.values())
    lo, hi = u.per_send
    every = {key: _every(int(key.split("_")[1])) for key in m}
    rates = ", ".join(f"{every[k]} {_pct(v)}" for k, v in m.items())
    line = f"opt-outs per {u.channel} sent: {rates}; target {_pct(lo)}-{_pct(hi)}"
    spoken = " and ".join(f"{_pct(v)} when sent {every[k]}" for k, v in m.items())
    sentence = (
        f"A plain {u.channel} loses {spoken} of its recipients per send (published: "
        f"{_pct(lo, 1)}-{_pct(hi, 1)} per send)."
    )
    return CheckResult(
        "unsubscribe_per_send", m, list(u.per_send), passed, line, sentence, u.source
    )


def measure_frequency(profit: dict[str, list[float]], baseline: list[float]) -> dict:
    """Extra net profit per customer against sending nothing at each frequency (paired by
    seed), the best frequency, and the best one's paired lead over the most and least
    frequent. `profit` maps every_days (as text) to one value per seed."""
    order = sorted(profit, key=int)
    vs_none = {k: paired_difference(profit[k], baseline) for k in order}
    best = max(order, key=lambda k: (vs_none[k].estimate, -int(k)))
    leads = {}
    for end in (order[0], order[-1]):
        lead = paired_difference(profit[best], profit[end])
        leads[f"best_minus_every_{end}_days"] = [lead.estimate, lead.low, lead.high]
    return {
        "best_every_days": int(best),
        "profit_vs_none": {k: [d.estimate, d.low, d.high] for k, d in vs_none.items()},
        **leads,
    }


def judge_frequency(m: dict, f: FrequencySettings) -> CheckResult:
    """Pass when the best frequency is interior and beats both ends beyond the noise."""
    order = sorted(m["profit_vs_none"], key=int)
    best = str(m["best_every_days"])
    leads = [m[f"best_minus_every_{end}_days"] for end in (order[0], order[-1])]
    interior = best not in (order[0], order[-1])
    passed = interior and all(low is not None and low > 0 for _, low, _ in leads)
    gain = m["profit_vs_none"][best][0]
    (most, most_low, most_high), (least, least_low, least_high) = leads
    line = (
        f"best {_every(best)} ({_num(gain)} per customer vs none); best minus "
        f"{_every(order[0])} {_num(most)} (95% {_num(most_low)} to {_num(most_high)}), minus "
        f"{_every(order[-1])} {_num(least)} (95% {_num(least_low)} to {_num(least_high)}); target: "
        "an interior best that beats both ends"
    )
    best_msg = (
        f"a message {_every(best)} earns the most ({_num(gain)} per customer over sending nothing)"
    )
    if passed:
        reading = (
            f"is an inverted U: {best_msg}; {_every(order[0])} earns {_num(most)} less and "
            f"{_every(order[-1])} {_num(least)} less"
        )
    elif not interior:
        end = "least" if best == order[-1] else "most"
        reading = f"is not an inverted U: {best_msg}, the {end} frequent tried"
    else:
        reading = (
            f"is not a clear inverted U: {best_msg}, but not beyond the noise more than both "
            f"{_every(order[0])} and {_every(order[-1])}"
        )
    sentence = (
        f"Net profit against how often a plain {f.channel} goes out {reading} (Zhang, Kumar & "
        "Cosguner 2017: too few messages leave money on the table, too many destroy it)."
    )
    target = "best frequency interior; best beats the most and the least frequent (95% paired)"
    return CheckResult("frequency_inverted_u", m, target, passed, line, sentence, f.source)


def measure_cdnow(none: list[RunData]) -> dict:
    """Share of day-0 customers silent 6-9 months who bought again within 39 weeks, mean over
    seeds with its t-interval."""
    rates = [r.metrics.get("silent_6_9m_buy_again_39w") for r in none]
    ci = mean_interval([math.nan if x is None else x for x in rates])
    return {"rate": ci.estimate, "low": ci.low, "high": ci.high}


def judge_cdnow(m: dict, c: CdnowSettings) -> CheckResult:
    """Pass when the mean rate lies in CDNOW's range."""
    lo, hi = c.rate
    passed = in_band(m["rate"], c.rate)
    line = (
        f"{_pct(m['rate'], 1)} (95% {_pct(m['low'], 1)} to {_pct(m['high'], 1)}) of customers "
        f"silent 6-9 months bought again within 39 weeks; target {_pct(lo, 0)}-{_pct(hi, 0)}"
    )
    sentence = (
        f"Left alone, {_pct(m['rate'], 1)} of customers silent for 6-9 months buy again within "
        f"39 weeks (CDNOW's real customers: 15-16%); a win-back campaign's reactivation must "
        "be judged against this, not against zero."
    )
    return CheckResult("cdnow_silent_buy_again", m, list(c.rate), passed, line, sentence, c.source)


def measure_backfire(messaged: list[RunData], none: list[RunData], channel: str) -> dict:
    """True churn of the customers on the channel's list who were customers on day 0, with and
    without the messages, and the increase paired by seed."""
    with_msgs, without = [], []
    for m, n in zip(messaged, none, strict=True):
        segment = m.alive_start & m.reachable[channel]
        with_msgs.append(_share(m.churned[segment]))
        without.append(_share(n.churned[segment]))
    increase = paired_difference(with_msgs, without)
    return {
        "segment": f"customers on the {channel} list on day 0",
        "churn_none": float(np.mean(without)),
        "churn_messaged": float(np.mean(with_msgs)),
        "increase": increase.estimate,
        "low": increase.low,
        "high": increase.high,
    }


def judge_backfire(m: dict, b: BackfireSettings) -> CheckResult:
    """Pass when the segment's churn rises beyond the noise (paired interval above zero)."""
    passed = m["low"] is not None and math.isfinite(m["low"]) and m["low"] > 0
    months = b.days / 30.4
    line = (
        f"{months:.0f}-month churn of {m['segment']}: {_pct(m['churn_none'], 1)} with no "
        f"messages, {_pct(m['churn_messaged'], 1)} with a plain {b.channel} "
        f"{_every(b.every_days)}: {_num(100 * m['increase'], '+.1f')} pp (95% "
        f"{_num(100 * m['low'], '+.1f')} to {_num(100 * m['high'], '+.1f')}); target: an "
        "increase whose interval excludes zero"
    )
    sentence = (
        f"Contact can backfire: a plain {b.channel} {_every(b.every_days)} raised the "
        f"{months:.0f}-month churn of {m['segment']} from {_pct(m['churn_none'], 1)} to "
        f"{_pct(m['churn_messaged'], 1)} (Ascarza et al. 2016, a field experiment: 6.4% to 10.0%). "
        "This checks the direction only: with the same customers in both runs, messages can "
        "only add churn, so any fatigue effect at all passes; the size, "
        f"{_num(100 * m['increase'], '+.1f')} points against the experiment's +3.6, is for the "
        "reader to weigh."
    )
    target = "churn increase > 0, 95% paired interval excluding zero"
    return CheckResult("backfire", m, target, passed, line, sentence, b.source)


def measure_holdout(strategy: list[RunData], none: list[RunData]) -> dict:
    """The holdout-measured uplift in net profit per customer, averaged over seeds with the
    pooled interval of independent estimates, and the true uplift: the treated arm's net
    profit per customer minus that of the same seed's `none` run (same customers)."""
    estimates, variances, truths, covered = [], [], [], 0
    for s, n in zip(strategy, none, strict=True):
        u = s.metrics["uplift"]["net_profit_per_customer"]
        truth = _per_customer(s.metrics) - _per_customer(n.metrics)
        estimates.append(math.nan if u["estimate"] is None else u["estimate"])
        truths.append(truth)
        if u["low"] is None:
            variances.append(math.nan)
            continue
        variances.append(((u["high"] - u["low"]) / (2 * uplift.Z95)) ** 2)
        covered += u["low"] <= truth <= u["high"]
    half = uplift.Z95 * math.sqrt(sum(variances)) / len(variances)
    estimate = float(np.mean(estimates))
    return {
        "holdout_estimate": estimate,
        "low": estimate - half,
        "high": estimate + half,
        "true_uplift": float(np.mean(truths)),
        "seeds_covered": covered,
        "seeds": len(estimates),
    }


def _per_customer(metrics: dict[str, Any]) -> float:
    """Net profit per customer on record on day 0, as the report counts it."""
    return per_customer(metrics)["net_profit_per_customer"]


def judge_holdout(m: dict, strategy: str, holdout: float, source: str) -> CheckResult:
    """Pass when the true uplift lies in the holdout estimate's 95% interval."""
    passed = in_band(m["true_uplift"], [m["low"], m["high"]])
    line = (
        f"{strategy}: holdout-measured uplift {_num(m['holdout_estimate'])} per customer (95% "
        f"{_num(m['low'])} to {_num(m['high'])}), true uplift {_num(m['true_uplift'])}; each "
        f"seed's interval covered its truth in {m['seeds_covered']} of {m['seeds']}; target: "
        "the truth inside the interval"
    )
    sentence = (
        f"What a store would measure with a {holdout:.0%} holdout ({_num(m['holdout_estimate'])} "
        f"net profit per customer for {strategy}, 95% {_num(m['low'])} to {_num(m['high'])}) "
        f"{'contains' if passed else 'misses'} the true effect only a simulation can know "
        f"({_num(m['true_uplift'])}: the same customers without the strategy)."
    )
    if (m["high"] - m["low"]) / 2 > abs(m["true_uplift"]):
        sentence += (
            " Its interval is wider than the effect itself, so this shows only loosely that a "
            "holdout measures without bias: more seeds would test it harder."
        )
    target = "true uplift within the holdout estimate's 95% interval"
    return CheckResult("holdout_uplift", m, target, passed, line, sentence, source)


def evaluate(
    name: str, roles: dict[str, list[RunData]], s: ValidateConfig, strategy: str, holdout: float
) -> CheckResult:
    """Measure and judge one check from its finished runs (`strategy` and `holdout`: the run's
    strategy, by name, and holdout share, for holdout_uplift)."""
    if name == "hillstrom":
        return judge_hillstrom(
            measure_hillstrom(roles["email"], roles["none"], s.hillstrom), s.hillstrom
        )
    if name == "unsubscribe_per_send":
        u = s.unsubscribe_per_send
        return judge_unsubscribe(measure_unsubscribe(roles, u.channel), u)
    if name == "frequency_inverted_u":
        profit = {k: [_per_customer(r.metrics) for r in runs] for k, runs in roles.items()}
        baseline = profit.pop("none")
        f = s.frequency_inverted_u
        return judge_frequency(measure_frequency(profit, baseline), f)
    if name == "cdnow_silent_buy_again":
        return judge_cdnow(measure_cdnow(roles["none"]), s.cdnow_silent_buy_again)
    if name == "backfire":
        b = s.backfire
        return judge_backfire(measure_backfire(roles["messaged"], roles["none"], b.channel), b)
    m = measure_holdout(roles["strategy"], roles["none"])
    return judge_holdout(m, strategy, holdout, s.holdout_uplift.source)


# ---------------------------------------------------------------------------- the suite
def _plain(value: Any) -> Any:
    """JSON-ready: numpy numbers as Python ones, floats to 6 decimals, nan as null."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return round(float(value), 6) if math.isfinite(value) else None
    return value


def execute(configs: dict[str, dict[str, Any]], n_jobs: int) -> Iterator[tuple[str, RunData]]:
    """Run every config (in parallel with `n_jobs` != 1); yields (key, RunData) as each
    finishes."""
    keys = list(configs)
    if n_jobs == 1:
        for key in keys:
            yield key, simulate_run(configs[key])
        return
    from joblib import Parallel, delayed

    pool = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    yield from pool(delayed(_keyed)(key, configs[key]) for key in keys)


def _keyed(key: str, config: dict[str, Any]) -> tuple[str, RunData]:
    return key, simulate_run(config)


def _strategy_name(cfg: DictConfig) -> str:
    """The strategy's config name (`winback`), as the other reports call it."""
    from hydra.core.hydra_config import HydraConfig

    choice = (
        HydraConfig.get().runtime.choices.get("strategy") if HydraConfig.initialized() else None
    )
    return choice or str(cfg.strategy._target_).rsplit(".", 1)[-1]


def _about(cfg: DictConfig, s: ValidateConfig) -> str:
    """How the checks were run, for the report."""
    h = s.hillstrom
    return (
        f"{cfg.store.name}: {cfg.customers:,} customers over {cfg.days} days (Hillstrom: "
        f"{h.customers:,} customers, {h.window_days} days; backfire: {s.backfire.days} days), "
        f"seeds {', '.join(map(str, s.seeds))}. Runs of one seed share their customers and every "
        "draw a strategy does not touch, so each effect is measured paired by seed. Settings, "
        "targets and their sources: configs/experiment/validate.yaml."
    )


def run_suite(cfg: DictConfig, out_dir: Path) -> float:
    """Run the chosen checks, print a line per check as soon as its runs are done, write
    validation.json and report.html into `out_dir`, and exit with status 1 if any failed.
    Returns the share of checks that passed."""
    from reports.validation import write_report

    started = time.time()
    s = settings(cfg)
    configs, roles = plan(cfg, s)
    strategy = _strategy_name(cfg)
    print(
        f"retail-sim: validity suite, {len(s.checks)} checks from {len(configs)} runs on seeds "
        f"{', '.join(map(str, s.seeds))}; results in {out_dir}",
        flush=True,
    )
    done: dict[str, RunData] = {}
    results: dict[str, CheckResult] = {}
    for key, data in execute(configs, s.n_jobs):
        done[key] = data
        for name in s.checks:
            keys = [k for ks in roles[name].values() for k in ks]
            if name not in results and all(k in done for k in keys):
                runs = {role: [done[k] for k in ks] for role, ks in roles[name].items()}
                result = evaluate(name, runs, s, strategy, cfg.holdout)
                results[name] = result
                print(f"{'PASS' if result.passed else 'FAIL'}  {name}: {result.line}", flush=True)
    checks = [results[name] for name in s.checks]
    out_dir.mkdir(parents=True, exist_ok=True)
    document = {"checks": [c.record() for c in checks]}
    write_atomic(out_dir / "validation.json", json.dumps(document, indent=2) + "\n")
    write_report(
        out_dir / "report.html",
        [{**c.record(), "sentence": c.sentence, "source": c.source} for c in checks],
        _about(cfg, s),
        s.frequency_inverted_u.channel,
    )
    passed = sum(c.passed for c in checks)
    print(
        f"retail-sim: {passed} of {len(checks)} checks passed in {time.time() - started:.0f} s\n"
        f"  validation.json  {out_dir / 'validation.json'}\n"
        f"  report.html      {out_dir / 'report.html'}",
        flush=True,
    )
    if passed < len(checks):
        sys.exit(1)
    return passed / len(checks)
