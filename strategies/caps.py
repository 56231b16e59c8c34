"""Frequency caps, quiet periods and daily budgets: a filter any strategy can be put under.

`FrequencyCap` filters whatever a strategy proposes before it goes out; `Capped` puts a
strategy under one. From the command line a cap comes from the `cap` config group and wraps
whichever strategy is chosen (`retail-sim strategy=rfm_tiering cap=weekly`).

A cap "at most `max` messages in any `days` consecutive days" holds on the messages ledger
itself, in every sliding window. Per customer and scope (all channels together, or one
channel) the cap keeps the days of her latest sends, newest first, in a small numpy array
(one row per customer), so a check costs a few array operations per proposed message.
Messages on a queued channel (phone: they wait for an advisor and go out on a later day, or
never) count as pending from the day they are admitted until they appear on the ledger or the
staff desk has given up on them; counting a pending message as sent today keeps every window
within its cap whichever day it finally goes out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.actions import Actions, MessageBatch, check_rows, once_each
from sim.config import names, whole
from sim.ledger import NEVER, ObservableView
from strategies.base import Strategy, campaigns_of, check_settings, require_channel
from strategies.segments import STAGES, Lifecycle

ALL = -1  # scope key of a cap over all channels together


@dataclass(frozen=True)
class Limit:
    """At most `max` messages in any `days` consecutive days.

    Args:
        max: messages allowed in the window (0 blocks the scope entirely).
        days: window length in days.
        channel: the channel capped, None for all channels together.
        stages: lifecycle stages the cap applies to, judged when a message is proposed
            (None: every customer), e.g. [sleeping, lost] for "1 a month for sleeping ones";
            a queued call is judged by her stage on the day it is queued.
    """

    max: int
    days: int
    channel: str | None = None
    stages: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "max", whole("cap limit max", self.max))
        object.__setattr__(self, "days", whole("cap limit days", self.days, 1))
        if self.stages is not None:
            stages = (self.stages,) if isinstance(self.stages, str) else tuple(self.stages)
            unknown = [s for s in stages if s not in STAGES]
            if unknown:
                raise ValueError(
                    f"cap limit stages: unknown stage '{unknown[0]}': choose from "
                    + ", ".join(STAGES)
                )
            object.__setattr__(self, "stages", stages)


def _quiet_period(period: dict[str, Any]) -> dict[str, int]:
    """A quiet period's {month, day, days} as whole numbers, on a day that exists every year."""
    if set(period) != {"month", "day", "days"}:
        raise ValueError(f"quiet period {dict(period)}: give exactly month, day and days")
    out = {key: whole(f"quiet period {key}", period[key], 1) for key in ("month", "day", "days")}
    try:
        dt.date(2001, out["month"], out["day"])  # a common year: no February 29
    except ValueError:
        raise ValueError(
            f"quiet period {out['month']}-{out['day']} is not a day of every year"
        ) from None
    return out


def _within(date: dt.date, period: dict[str, int]) -> bool:
    """`date` falls in the yearly stretch {month, day, days} (which may span a new year)."""
    for year in (date.year - 1, date.year):
        start = dt.date(year, period["month"], period["day"])
        if 0 <= (date - start).days < period["days"]:
            return True
    return False


class FrequencyCap:
    """Frequency caps, quiet periods and daily budgets over whatever a strategy proposes.

    Args:
        limits: named caps, each {max, days, channel, stages} (see `Limit`): e.g.
            {week: {max: 2, days: 7}, sms: {max: 1, days: 7, channel: sms}}.
        quiet_after_purchase_days: no message to a customer in the days right after a purchase
            (fewer than this many days since it: she just bought, let her be); 0: off.
        quiet_periods: yearly stretches with no messages at all, each {month, day, days}.
        daily_limit: most messages a day per channel, e.g. {phone: 20} (a budget; null: no
            limit); customers with the highest recorded spend go first.
        exempt_campaigns: campaigns the cap never blocks (service messages); they still count
            towards every cap.
        queued_channels: channels whose messages queue for staff and go out later (phone).
        pending_days: days after which a queued message not yet on the ledger has been given
            up (the staff desk's `max_wait_days`).
        lifecycle: stage cut-offs for `stages` (see `strategies.segments.Lifecycle`).
    """

    def __init__(
        self,
        limits: dict[str, dict[str, Any] | Limit] | None = None,
        quiet_after_purchase_days: int = 0,
        quiet_periods: list[dict[str, int]] | None = None,
        daily_limit: dict[str, int] | None = None,
        exempt_campaigns: list[str] | None = None,
        queued_channels: list[str] | None = None,
        pending_days: int = 7,
        lifecycle: dict[str, int] | Lifecycle | None = None,
    ) -> None:
        self.limits = {
            name: spec if isinstance(spec, Limit) else Limit(**spec)
            for name, spec in (limits or {}).items()
        }
        self.quiet_after_purchase_days = whole(
            "quiet_after_purchase_days", quiet_after_purchase_days
        )
        self.quiet_periods = [_quiet_period(p) for p in (quiet_periods or [])]
        self.daily_limit = {
            k: whole(f"daily_limit.{k}", v) for k, v in (daily_limit or {}).items() if v is not None
        }
        shut = [k for k, v in self.daily_limit.items() if v == 0]
        if shut:  # a strategy's own daily_limit 0 means no limit: never read the two apart
            raise ValueError(
                f"daily_limit.{shut[0]}=0 would let nothing out on {shut[0]}: to lift the "
                f"limit remove it (~cap.daily_limit.{shut[0]}); to silence the channel, "
                "leave it out of the strategy"
            )
        self.exempt = set(names(exempt_campaigns or []))
        self.queued = names(queued_channels if queued_channels is not None else ["phone"])
        self.pending_days = whole("pending_days", pending_days)
        self.lifecycle = (
            lifecycle if isinstance(lifecycle, Lifecycle) else Lifecycle(**(lifecycle or {}))
        )
        self._ready = False

    # ------------------------------------------------------------------ set-up
    def check(self, channels: list[str], styles: list[str] | None = None) -> None:
        """Raise ValueError naming a channel the store does not have."""
        named = [(f"limits.{name}.channel", limit.channel) for name, limit in self.limits.items()]
        named += [("daily_limit", c) for c in self.daily_limit]
        named += [("queued_channels", c) for c in self.queued]
        for key, channel in named:
            if channel is not None:
                try:
                    require_channel(channel, channels)
                except ValueError as exc:
                    raise ValueError(f"{key}: {exc}") from None

    def _setup(self, view: ObservableView) -> None:
        self.check(view.channels)
        self._channels = list(view.channels)
        self._queued = {self._channels.index(c) for c in self.queued}
        self._rules: dict[int, list[tuple[Limit, int, np.ndarray | None]]] = {
            c: [] for c in range(len(self._channels))
        }
        width: dict[int, int] = {}
        for limit in self.limits.values():
            scope = ALL if limit.channel is None else self._channels.index(limit.channel)
            stages = None
            if limit.stages is not None:
                stages = np.zeros(len(STAGES), dtype=bool)
                stages[[STAGES.index(s) for s in limit.stages]] = True
            for c in self._rules:
                if scope in (ALL, c):
                    self._rules[c].append((limit, scope, stages))
            width[scope] = max(width.get(scope, 1), limit.max, 1)
        self._cap = 0
        self._sent = {scope: np.empty((0, k), dtype=np.int32) for scope, k in width.items()}
        self._seen = {c: np.empty(0, dtype=np.int32) for c in self._queued}
        self._p_rows = np.empty(0, dtype=np.int64)
        self._p_day = np.empty(0, dtype=np.int32)
        self._p_chan = np.empty(0, dtype=np.int8)
        self._day = None
        self._today: dict[int, int] = {}
        self._ready = True

    def _grow(self, n: int) -> None:
        if n <= self._cap:
            return
        cap = max(n, 2 * self._cap, 1024)
        for scope, sent in self._sent.items():
            grown = np.full((cap, sent.shape[1]), NEVER, dtype=np.int32)
            grown[: len(sent)] = sent
            self._sent[scope] = grown
        for c, seen in self._seen.items():
            grown = np.zeros(cap, dtype=np.int32)
            grown[: len(seen)] = seen
            self._seen[c] = grown
        self._cap = cap

    # ------------------------------------------------------------------ the ledger's news
    def _push(self, scope: int, rows: np.ndarray, day: int) -> None:
        """Record a send on `day` (no earlier than any recorded) for distinct `rows`."""
        sent = self._sent.get(scope)
        if sent is None or len(rows) == 0:
            return
        if sent.shape[1] > 1:
            sent[rows, 1:] = sent[rows, :-1]
        sent[rows, 0] = day

    def _morning(self, view: ObservableView) -> None:
        """Queued messages that went out yesterday join the record of sends; queued messages
        the staff desk has given up on stop counting."""
        self._grow(view.n_customers)
        self._today = {}
        if len(self._p_rows) == 0:
            return
        keep = np.ones(len(self._p_rows), dtype=bool)
        for c in self._queued:
            mine = np.flatnonzero(self._p_chan == c)
            if len(mine) == 0:
                continue
            who = np.unique(self._p_rows[mine])
            now = view.column("messages")[who, c]
            delta = now - self._seen[c][who]
            self._seen[c][who] = now
            if not delta.any():
                continue
            for k in range(int(delta.max())):  # yesterday's calls, newest first in the record
                went = who[delta > k]
                self._push(c, went, view.day - 1)
                self._push(ALL, went, view.day - 1)
            # the oldest pending entries of each customer are the ones that went out
            order = mine[np.argsort(self._p_rows[mine], kind="stable")]
            rows = self._p_rows[order]
            first = np.searchsorted(rows, rows, side="left")
            rank = np.arange(len(rows)) - first
            went_out = rank < delta[np.searchsorted(who, rows)]
            keep[order[went_out]] = False
        keep &= self._p_day >= view.day - 1 - self.pending_days + 1
        self._p_rows, self._p_day, self._p_chan = (
            self._p_rows[keep],
            self._p_day[keep],
            self._p_chan[keep],
        )

    def _pending(self, rows: np.ndarray, scope: int) -> np.ndarray:
        if len(self._p_rows) == 0:
            return np.zeros(len(rows), dtype=np.int64)
        p = self._p_rows if scope == ALL else self._p_rows[self._p_chan == scope]
        p = np.sort(p)
        return np.searchsorted(p, rows, side="right") - np.searchsorted(p, rows, side="left")

    # ------------------------------------------------------------------ filtering
    def filter(self, view: ObservableView, actions: Actions) -> Actions:
        """The proposed actions with every message the caps do not allow removed."""
        if not self._ready:
            self._setup(view)
        if self._day != view.day:
            self._morning(view)
            self._day = view.day
        # a queued call may go out on any of the next `pending_days` days: none may be quiet
        quiet = [
            any(_within(view.date + dt.timedelta(days=k), p) for p in self.quiet_periods)
            for k in range(self.pending_days + 1)
        ]
        quiet_today, quiet_ahead = quiet[0], any(quiet)
        messages = [
            self._admit(view, batch, quiet_ahead if self._is_queued(batch) else quiet_today)
            for batch in actions.messages
        ]
        return Actions(messages=[m for m in messages if len(m.customers)], loyalty=actions.loyalty)

    def _is_queued(self, batch: MessageBatch) -> bool:
        return batch.channel in self.queued

    def _admit(self, view: ObservableView, batch: MessageBatch, quiet: bool) -> MessageBatch:
        c = self._channels.index(batch.channel)
        idx = batch.customers
        check_rows(idx, view.n_customers, batch.campaign)
        keep = once_each(idx)  # as the model admits them
        keep &= view.reachable[idx, c] & ~view.opted_out[idx, c]
        if batch.campaign not in self.exempt:
            if quiet:
                keep[:] = False
            if self.quiet_after_purchase_days:
                keep &= view.recency(idx) >= self.quiet_after_purchase_days
            rules = self._rules[c]
            if rules and keep.any():
                at = np.flatnonzero(keep)
                rows = idx[at]
                stage = None
                for limit, scope, stages in rules:
                    applies = slice(None)
                    if stages is not None:
                        if stage is None:
                            stage = self.lifecycle(view, rows)
                        applies = stages[stage]
                    used = (self._sent[scope][rows, : limit.max] >= view.day - limit.days + 1).sum(
                        axis=1
                    ) + self._pending(rows, scope)
                    blocked = np.zeros(len(rows), dtype=bool)
                    blocked[applies] = used[applies] >= limit.max
                    keep[at[blocked]] = False
            budget = self.daily_limit.get(batch.channel)
            if budget is not None:
                room = max(budget - self._today.get(c, 0), 0)
                at = np.flatnonzero(keep)
                if len(at) > room:
                    keep[:] = False
                    if room:
                        top = np.argpartition(-view.spend[idx[at]], room - 1)[:room]
                        keep[at[top]] = True
        admitted = batch.subset(keep)
        rows = admitted.customers
        self._today[c] = self._today.get(c, 0) + len(rows)
        if c in self._queued:
            self._p_rows = np.concatenate([self._p_rows, rows])
            self._p_day = np.concatenate([self._p_day, np.full(len(rows), view.day, np.int32)])
            self._p_chan = np.concatenate([self._p_chan, np.full(len(rows), c, np.int8)])
            self._seen[c][rows] = view.column("messages")[rows, c]
        else:
            self._push(c, rows, view.day)
            self._push(ALL, rows, view.day)
        return admitted


class Capped(Strategy):
    """Any strategy under a frequency cap: what it proposes is filtered by `cap` first.

    Args:
        strategy: the strategy capped (any object with `decide(view)`).
        cap: a `FrequencyCap` (or its config dict).
    """

    def __init__(self, strategy: Any, cap: FrequencyCap | dict[str, Any]) -> None:
        self.strategy = strategy
        self.cap = cap if isinstance(cap, FrequencyCap) else FrequencyCap(**cap)

    def check(
        self, channels: list[str], styles: list[str], events: list[str] | None = None
    ) -> None:
        check_settings(self.strategy, channels, styles, events)
        self.cap.check(channels, styles)

    def campaigns(self) -> list[str] | None:
        return campaigns_of(self.strategy)

    def decide(self, view: ObservableView) -> Actions:
        actions = self.strategy.decide(view)
        if not isinstance(actions, Actions):
            return actions  # the model names the mistake
        return self.cap.filter(view, actions)
