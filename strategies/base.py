"""The strategy interface: read the store's record, propose today's actions.

A strategy is any object with `decide(view) -> Actions`. `view` is a
`sim.ledger.ObservableView`: the store's record (transactions, messages and their outcomes,
opt-outs, points, tiers, recorded profile fields), today's date and calendar event. It holds
no hidden trait, so a strategy can only act on what a real store could know.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import Any

from sim.actions import Actions
from sim.ledger import ObservableView


class Strategy(ABC):
    """Base class for retention strategies (subclassing is optional, `decide` is the contract)."""

    @abstractmethod
    def decide(self, view: ObservableView) -> Actions:
        """Today's messages, advisor calls and loyalty updates."""

    def check(
        self, channels: list[str], styles: list[str], events: list[str] | None = None
    ) -> None:
        """Raise ValueError for settings the store cannot honour (an unknown channel, style or
        calendar event), before the run starts. Optional: a strategy without it is checked as
        it runs, and one that takes no `events` is called without them."""
        return None

    def campaigns(self) -> list[str] | None:
        """The campaign names its messages may carry, so that the preflight can warn of a
        frequency cap's misspelt `exempt_campaigns` (which would exempt nothing, without a
        word). None: it cannot say, and the names go unchecked."""
        return None


def check_settings(
    part: Any, channels: list[str], styles: list[str], events: list[str] | None
) -> None:
    """Run `part.check` if it has one, with the store's calendar `events` when it takes them:
    a strategy written for `check(channels, styles)` keeps working."""
    check = getattr(part, "check", None)
    if not callable(check):
        return
    if "events" in inspect.signature(check).parameters:
        check(channels, styles, events=events)
    else:
        check(channels, styles)


def campaigns_of(part: Any) -> list[str] | None:
    """`part.campaigns()` for any strategy object: one without the method cannot say."""
    declared = getattr(part, "campaigns", None)
    return declared() if callable(declared) else None


def require_channel(channel: str, channels: list[str]) -> None:
    """The one-line error for a strategy configured with a channel the store does not have."""
    if channel not in channels:
        raise ValueError(f"unknown channel '{channel}': choose one of {', '.join(channels)}")
