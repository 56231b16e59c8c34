"""Win-back: a ladder of rising offers to customers who have gone silent, with stop rules."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.actions import Actions
from sim.config import number, whole
from sim.ledger import ObservableView
from strategies.base import Strategy
from strategies.compose import Message, entry_settings, message


class Winback(Strategy):
    """Offers to customers silent a number of days, rising rung by rung (DOMAIN.md: win-back
    offers after N days of silence, possibly a ladder of increasing offers; a "wake-up pool"
    at 60 days, "long time no see" at 90).

    A customer gets rung k on the day her silence reaches its `after_days`. Stop rules: a
    purchase ends the ladder (a new silence starts it again from the first rung); the ladder
    ends after its last rung; nobody silent `max_silence_days` or more is contacted (lost);
    only customers with at least `min_purchases` purchases and `min_lifetime_spend` recorded
    spend are worth winning back; opt-outs are respected (the model drops them).

    Args:
        ladder: rung name -> {after_days, channels, personal, styled, discount, min_spend,
            expiry_days} (see `strategies.compose.Message`); rungs fire in order of
            after_days.
        max_silence_days: stop: no rung at or beyond this silence.
        min_purchases: stop: only customers with at least this many purchase days on record.
        min_lifetime_spend: stop: only customers whose recorded spend reaches this.
    """

    def __init__(
        self,
        ladder: dict[str, dict[str, Any]],
        max_silence_days: int = 365,
        min_purchases: int = 1,
        min_lifetime_spend: float = 0.0,
    ) -> None:
        if not ladder:
            raise ValueError("winback ladder is empty: give at least one rung")
        max_silence_days = whole("max_silence_days", max_silence_days, 1)
        rungs: list[tuple[int, Message]] = []
        for name, spec in ladder.items():
            spec = entry_settings(spec, f"winback rung {name}", f"strategy.ladder.{name}")
            if "after_days" not in spec:
                raise ValueError(f"winback rung {name}: give after_days (days of silence)")
            after = whole(f"winback rung {name} after_days", spec.pop("after_days"), 1)
            if after >= max_silence_days:
                raise ValueError(
                    f"winback rung {name}: after_days={after} is past max_silence_days="
                    f"{max_silence_days}: it would never fire"
                )
            rungs.append((after, message(spec, f"winback_{name}")))
        self.rungs = sorted(rungs, key=lambda r: r[0])
        if len({after for after, _ in self.rungs}) < len(self.rungs):
            raise ValueError("winback rungs need different after_days")
        self.max_silence_days = max_silence_days
        self.min_purchases = whole("min_purchases", min_purchases)
        self.min_lifetime_spend = number("min_lifetime_spend", min_lifetime_spend)

    def check(self, channels: list[str], styles: list[str]) -> None:
        for _, m in self.rungs:
            m.check(channels)

    def campaigns(self) -> list[str]:
        return [m.campaign for _, m in self.rungs]

    def decide(self, view: ObservableView) -> Actions:
        silent = view.recency()
        messages = []
        for after, rung in self.rungs:
            rows = np.flatnonzero(silent == after)
            if self.min_purchases > 1:
                rows = rows[view.purchases[rows] >= self.min_purchases]
            if self.min_lifetime_spend > 0:
                rows = rows[view.spend[rows] >= self.min_lifetime_spend]
            messages += rung.batches(view, rows)
        return Actions(messages=messages)
