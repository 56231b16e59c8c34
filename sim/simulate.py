"""One entry point for a run, whichever implementation carries it: `simulate(cfg)`."""

from __future__ import annotations

import copy
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from sim import kpis, uplift
from sim.config import ConfigError, validate, with_schema
from sim.model import StoreModel
from strategies.base import check_settings
from strategies.caps import Capped


@dataclass
class RunResult:
    """A finished run: its KPIs, the daily series and the model (inspectable afterwards)."""

    metrics: dict[str, Any]
    daily: pd.DataFrame
    model: StoreModel


def build_strategy(strategy_cfg: DictConfig, cfg: DictConfig | None = None) -> Any:
    """The configured strategy object, or a one-line ConfigError saying what is wrong.

    With the run's `cfg`, the strategy's own `check(channels, styles)` runs too, and the
    strategy comes wrapped in the run's frequency cap (`cfg.cap`) if it has one.
    """
    target = strategy_cfg.get("_target_")
    strategy = _instantiate(strategy_cfg, f"strategy {target}")
    if not callable(getattr(strategy, "decide", None)):
        raise ConfigError(f"strategy {target} has no decide(view) method")
    if cfg is not None:
        check_strategy(strategy, cfg)
        strategy = apply_cap(strategy, cfg)
    return strategy


def apply_cap(strategy: Any, cfg: DictConfig) -> Any:
    """`strategy` under the run's frequency cap (`cfg.cap`, the `cap` config group), or as it
    is when the run has none: the cap filters what the strategy proposes, before the holdout.
    """
    cap_cfg = cfg.get("cap")
    if not cap_cfg or not cap_cfg.get("_target_"):
        return strategy
    cap = _instantiate(cap_cfg, f"cap {cap_cfg.get('_target_')}")
    if not callable(getattr(cap, "filter", None)):
        raise ConfigError(f"cap {cap_cfg.get('_target_')} has no filter(view, actions) method")
    check_strategy(cap, cfg, "cap")
    return Capped(strategy, cap)


def _instantiate(node: DictConfig, what: str) -> Any:
    try:
        return instantiate(node, _convert_="all")
    except InstantiationException as exc:
        lines = str(exc.__cause__ or exc).strip().splitlines()
        said = [line for line in lines if not line.startswith("full_key:")]  # Hydra's last line
        reason = (said or lines or [type(exc).__name__])[-1]
        if reason.endswith("is installed?"):  # the user's own module, not on the path
            reason += (
                " Run from the folder that holds it, or add that folder to PYTHONPATH "
                "(PYTHONPATH=. retail-sim ...)"
            )
        if "Expected a callable target" in reason and "of type 'module'" in reason:
            target = node.get("_target_")
            reason = f"{target} is a module: give the class in it ({target}.<ClassName>)"
        raise ConfigError(f"{what} could not be built: {reason}") from None


def check_strategy(strategy: Any, cfg: DictConfig, what: str = "strategy") -> None:
    """Let the strategy (or the cap) refuse settings the store cannot honour, before
    anything runs; `what` names the config group in the message."""
    events = [event.name for event in cfg.store.calendar]
    try:
        check_settings(strategy, list(cfg.channels.keys()), list(cfg.store.styles), events)
    except ValueError as exc:
        raise ConfigError(f"{what}: {exc}") from None


def simulate(
    cfg: DictConfig,
    progress: Callable[[int, int], None] | None = None,
    strategy: Any = None,
) -> RunResult:
    """Run the configured store for `cfg.days` days and compute its KPIs.

    `progress(day, days)` is called after each simulated day. `strategy`, an object with
    `decide(view)`, replaces the configured one (for strategies built in Python); the run
    works on a copy of it, so one object can run several seeds, each from a fresh start
    (strategies remember what they did: a cap its recent sends, a loyalty programme that it
    has opened).
    """
    cfg = with_schema(cfg)
    run = validate(cfg)
    if strategy is not None:
        if isinstance(strategy, type):
            name = strategy.__name__
            raise ConfigError(f"strategy {name} is a class: give an instance, e.g. {name}()")
        if not callable(getattr(strategy, "decide", None)):
            raise ConfigError(f"strategy {type(strategy).__name__} has no decide(view) method")
        strategy = copy.deepcopy(strategy)
        check_strategy(strategy, cfg)
        strategy = apply_cap(strategy, cfg)
    model = StoreModel(
        customers=run.customers,
        days=run.days,
        seed=run.seed,
        population=run.population,
        store=run.store,
        channels=run.channels,
        strategy=build_strategy(cfg.strategy, cfg) if strategy is None else strategy,
        holdout=run.holdout,
        implementation=run.implementation,
    )
    with _rare_garbage_collection():
        for day in range(cfg.days):
            model.step()
            if progress:
                progress(day + 1, cfg.days)
    return RunResult(metrics(model), model.datacollector.get_table_dataframe("daily"), model)


@contextmanager
def _rare_garbage_collection() -> Iterator[None]:
    """A day allocates many short-lived containers and next to no reference cycles; at
    CPython's default threshold the cycle collector ran every few hundred of them, a
    twentieth of a run's time at 10,000 customers. It runs every 100,000 during the run."""
    thresholds = gc.get_threshold()
    gc.set_threshold(100_000, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def metrics(model: StoreModel) -> dict[str, Any]:
    """What metrics.json holds: the treated arm's KPIs at the top level (every customer when
    there is no holdout); with a holdout, also `holdout` (the same KPIs for the holdout arm)
    and `uplift` (treated minus holdout per customer, with 95% intervals, and the
    incremental ROI; see `sim.uplift`)."""
    holdout, tallies = model.outcome.holdout, kpis.sales(model)  # the log, summed once
    out: dict[str, Any] = kpis.compute(model, ~holdout, tallies)
    if model.holdout_share > 0:
        out["holdout"] = kpis.compute(model, holdout, tallies)
        out["uplift"] = uplift.compute(model, tallies)
    return out
