"""Building blocks of the built-in strategies: messages, treatments per segment, combinations.

A strategy composes in layers: a segmentation (`strategies.segments`) puts each customer in a
segment; treatments say what each segment receives, on which channel, how often and within
what daily budget; frequency caps (`strategies.caps`) then filter whatever is proposed, and
the model's holdout filter comes last. Everything works on arrays of customer rows.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from sim.actions import Actions, MessageBatch, Offer
from sim.config import flag, names, number, whole
from sim.ledger import ObservableView
from strategies.base import Strategy, campaigns_of, check_settings, require_channel
from strategies.segments import favourite_style


@dataclass
class Message:
    """One kind of message: content, channel preference and offer.

    Args:
        channels: channels in order of preference: each customer gets the message on the first
            one she can be reached on (contact on file, not opted out).
        campaign: its name on the ledger.
        personal: addressed to her by name (works better and tires less).
        styled: shows the style she bought most (a recommendation) instead of the store's mix.
        discount: the offer's discount, 0 for a message with no offer.
        min_spend: the offer's minimum ticket.
        expiry_days: days the offer stays open.
    """

    channels: list[str] = field(default_factory=lambda: ["wechat", "sms"])
    campaign: str = "message"
    personal: bool = False
    styled: bool = False
    discount: float = 0.0
    min_spend: float = 0.0
    expiry_days: int = 7

    def __post_init__(self) -> None:
        self.channels = names(self.channels)
        self.personal = flag(f"{self.campaign} personal", self.personal)
        self.styled = flag(f"{self.campaign} styled", self.styled)
        if not self.channels:
            raise ValueError(f"{self.campaign}: give at least one channel")
        try:
            self._offer = Offer.optional(self.discount, self.min_spend, self.expiry_days)
        except ValueError as exc:
            raise ValueError(f"{self.campaign}: {exc}") from None

    @property
    def offer(self) -> Offer | None:
        return self._offer

    def check(self, channels: list[str]) -> None:
        for channel in self.channels:
            require_channel(channel, channels)

    def batches(self, view: ObservableView, rows: np.ndarray, limit: int = 0) -> list[MessageBatch]:
        """The message to `rows`, one batch per channel; with `limit` > 0, to at most that many
        reachable customers, those with the highest recorded spend first (a daily budget)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return []
        chosen = np.full(len(rows), -1, dtype=np.int8)
        for k, channel in enumerate(self.channels):
            c = view.channels.index(channel)
            free = chosen < 0
            chosen[free & view.reachable[rows, c] & ~view.opted_out[rows, c]] = k
        reached = chosen >= 0
        rows, chosen = rows[reached], chosen[reached]
        if limit and len(rows) > limit:
            top = np.sort(np.argpartition(-view.spend[rows], limit - 1)[:limit])
            rows, chosen = rows[top], chosen[top]
        out = []
        for k, channel in enumerate(self.channels):
            who = rows[chosen == k]
            if len(who):
                style = favourite_style(view, who) if self.styled else None
                out.append(
                    MessageBatch(who, channel, self.campaign, self.personal, style, self.offer)
                )
        return out


def message(cfg: Message | dict[str, Any] | None, campaign: str) -> Message:
    """A `Message` from its config (a dict from YAML), named `campaign` unless it says."""
    if isinstance(cfg, Message):
        return cfg
    return Message(**{"campaign": campaign, **(cfg or {})})


@dataclass
class Treatment(Message):
    """What one segment receives, how often, and within what daily budget.

    Args (besides those of `Message`):
        segment: the segment treated (a label of the strategy's segmentation).
        every_days: each customer in the segment is due once every this many days, staggered
            by customer so that sends spread evenly over the days; 0 switches it off.
        daily_limit: most recipients a day (a budget, e.g. advisor calls); 0 for no limit.
        daily_limit_per_10k: the same per 10,000 customers on record (scales with the store);
            used when `daily_limit` is 0.
    """

    segment: str = ""
    every_days: int = 30
    daily_limit: int = 0
    daily_limit_per_10k: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.every_days = whole(f"{self.campaign} every_days", self.every_days)
        self.daily_limit = whole(f"{self.campaign} daily_limit", self.daily_limit)
        self.daily_limit_per_10k = number(
            f"{self.campaign} daily_limit_per_10k", self.daily_limit_per_10k
        )
        self._salt = zlib.crc32(self.campaign.encode())

    def due(self, view: ObservableView) -> slice:
        """Rows due today: every `every_days`-th customer, a different slice each day (a
        slice, so that reading the record for them costs no gather)."""
        if self.every_days == 0:
            return slice(0, 0)
        start = (self._salt - view.day) % self.every_days
        return slice(start, view.n_customers, self.every_days)

    def limit(self, view: ObservableView) -> int:
        if self.daily_limit:
            return self.daily_limit
        return math.ceil(self.daily_limit_per_10k * view.n_customers / 10_000)


def entry_settings(spec: Any, what: str, key: str) -> dict[str, Any]:
    """One named entry's settings (a win-back rung, a treatment) as a dict; an entry set to
    null (`key=null`) says how to leave it out, where dict(None) said nothing useful."""
    if spec is None:
        raise ValueError(f"{what} is null: give its settings, or leave it out with ~{key}")
    return dict(spec)


def build_treatments(cfg: dict[str, Treatment | dict[str, Any]]) -> dict[str, Treatment]:
    """Treatments from their configs, each named after its key unless it says."""
    known = {f.name for f in fields(Treatment)}
    out = {}
    for name, spec in cfg.items():
        if isinstance(spec, Treatment):
            out[name] = spec
            continue
        spec = entry_settings(spec, f"treatment {name}", f"strategy.treatments.{name}")
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"treatment {name}: unknown setting(s) {', '.join(sorted(unknown))}")
        out[name] = Treatment(**{"campaign": name, **spec})
    return out


class Segmented(Strategy):
    """A segmentation feeds treatments: each treatment goes to the due customers of its segment.

    Args:
        segmentation: callable `(view, rows) -> segment code per row` (rows: an index array
            or a slice) with `labels`, the segment names (e.g. `strategies.segments.RFM()`).
        treatments: treatment name -> `Treatment` (or its config dict).
    """

    def __init__(self, segmentation: Any, treatments: dict[str, Any]) -> None:
        self.segmentation = segmentation
        self.treatments = build_treatments(treatments)
        labels = list(segmentation.labels)
        for name, t in self.treatments.items():
            if t.segment not in labels:
                raise ValueError(
                    f"treatment {name}: unknown segment '{t.segment}': choose one of "
                    + ", ".join(labels)
                )
        self._codes = {name: labels.index(t.segment) for name, t in self.treatments.items()}

    def check(self, channels: list[str], styles: list[str]) -> None:
        for t in self.treatments.values():
            t.check(channels)

    def campaigns(self) -> list[str]:
        return [t.campaign for t in self.treatments.values()]

    def decide(self, view: ObservableView) -> Actions:
        messages = []
        for name, t in self.treatments.items():
            due = t.due(view)
            if due.start >= due.stop:
                continue
            hits = np.flatnonzero(self.segmentation(view, due) == self._codes[name])
            messages += t.batches(view, due.start + due.step * hits, t.limit(view))
        return Actions(messages=messages)


class Combine(Strategy):
    """Several strategies run together: their proposals go out side by side (a frequency cap
    around the combination sees them all).

    Args:
        parts: name -> strategy (Hydra instantiates each from its own `_target_`).
    """

    def __init__(self, parts: dict[str, Any]) -> None:
        if not parts:
            raise ValueError("Combine needs at least one part")
        self.parts = dict(parts)

    def check(
        self, channels: list[str], styles: list[str], events: list[str] | None = None
    ) -> None:
        for part in self.parts.values():
            check_settings(part, channels, styles, events)

    def campaigns(self) -> list[str] | None:
        """Every part's campaigns; None if a part cannot say."""
        declared = [campaigns_of(part) for part in self.parts.values()]
        if any(listed is None for listed in declared):
            return None
        return [name for listed in declared for name in listed]

    def decide(self, view: ObservableView) -> Actions:
        out = Actions()
        for part in self.parts.values():
            actions = part.decide(view)
            out.messages += actions.messages
            out.loyalty += actions.loyalty
        return out


def schedule(queue: dict[int, list[np.ndarray]], day: int, rows: np.ndarray) -> None:
    """Remember `rows` for `day` (follow-ups such as onboarding steps)."""
    if len(rows):
        queue.setdefault(day, []).append(np.asarray(rows, dtype=np.int64))


def due_today(queue: dict[int, list[np.ndarray]], day: int) -> np.ndarray:
    """Rows scheduled for `day`, taken off the queue."""
    parts = queue.pop(day, [])
    return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)


def yesterday_purchases(view: ObservableView) -> tuple[np.ndarray, np.ndarray]:
    """Customers who bought yesterday (distinct rows) and what each paid yesterday.

    Exactly yesterday's transactions: today's newcomers' first purchases, already on the
    ledger when the strategy decides, are counted tomorrow with the rest of today's."""
    tx = view.transactions_since(view.day - 1)
    yesterday = tx["day"] == view.day - 1
    if not yesterday.any():
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    buyers, at = np.unique(tx["customer"][yesterday], return_inverse=True)
    return buyers.astype(np.int64), np.bincount(at, weights=tx["paid"][yesterday])
