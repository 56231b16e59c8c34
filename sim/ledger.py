"""The store's record: the only facts a strategy may use.

Transactions, messages and their outcomes (where the channel reports them), offers and
redemptions, opt-outs, complaints, loyalty points and tiers, and the profile fields staff
recorded. Hidden traits live in the model, never here: a strategy receives an
`ObservableView` built from this ledger alone, so no path leads from it to a hidden trait.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.table import Table

if TYPE_CHECKING:
    from sim.actions import Offer
    from sim.population import Customers

NEVER = -(10**6)  # "day" of something that never happened, far before any real day


class EventLog:
    """An append-only log of events stored as column chunks, one per append (a day's
    purchases or a send's messages): appending allocates only what is added, so a long run's
    message log never holds a doubled copy of itself. A column given one value for all of a
    chunk's events (the day of a send, its batch) keeps that one value: a year of sends to a
    million customers is some 30 million messages, and those two columns would take 240 MB."""

    def __init__(self, columns: dict[str, Any]) -> None:
        self.dtypes = columns
        self._chunks: list[tuple[int, dict[str, np.ndarray]]] = []  # (events, columns)

    def append(self, **columns: np.ndarray | int | float) -> None:
        """Add events: each column an array of one value per event, or one value for all."""
        size = -1
        for name, value in columns.items():
            if isinstance(value, np.ndarray) and value.ndim:
                if size < 0:
                    size = len(value)
                elif len(value) != size:
                    raise ValueError(f"event column {name} has {len(value)} values, not {size}")
        if size == 0:
            return
        chunk = {}
        for name, dtype in self.dtypes.items():  # a copy each: callers may reuse their arrays
            value = columns[name]
            if isinstance(value, np.ndarray) and value.ndim:
                chunk[name] = value.astype(dtype)
            else:  # one value for all: a 0-d array
                chunk[name] = np.array(value, dtype)
        self._chunks.append((max(size, 1), chunk))

    def column(self, name: str) -> np.ndarray:
        return _joined(self._chunks, name, self.dtypes[name])

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({name: self.column(name) for name in self.dtypes})

    def since(self, day: int) -> dict[str, np.ndarray]:
        """Events on or after `day`, reading chunks from the end: the cost is that of the
        recent events only, however long the log. For logs appended in day order
        (transactions, messages, opt-outs, loyalty), which is how the model writes them."""
        recent = []
        for size, chunk in reversed(self._chunks):
            days = chunk["day"]
            first, last = (days, days) if days.ndim == 0 else (days[0], days[-1])
            if last < day:
                break
            if first >= day:
                recent.append((size, chunk))
                continue
            keep = days >= day  # the chunk that straddles `day`: the oldest one read
            rows = {name: values[keep] if values.ndim else values for name, values in chunk.items()}
            recent.append((int(np.count_nonzero(keep)), rows))
            break
        recent.reverse()
        return {name: _joined(recent, name, dtype) for name, dtype in self.dtypes.items()}


def _joined(chunks: list[tuple[int, dict[str, np.ndarray]]], name: str, dtype: Any) -> np.ndarray:
    """One column over `chunks`, a chunk's one value repeated for each of its events. A
    column with one value in every chunk (a log's day) is one `np.repeat`: an `np.full` per
    chunk took a fifth of the KPIs' time at 10,000 customers."""
    values = [chunk[name] for _, chunk in chunks]
    if not values:
        return np.empty(0, dtype=dtype)
    if not any(value.ndim for value in values):
        return np.repeat(np.array(values, dtype=dtype), [size for size, _ in chunks])
    sizes = (size for size, _ in chunks)
    return np.concatenate(
        [v if v.ndim else np.full(size, v, dtype) for size, v in zip(sizes, values, strict=True)]
    )


class Ledger:
    """Per-customer record columns plus the event logs, indexed by customer row."""

    def __init__(self, n_styles: int, channels: list[str], capacity: int) -> None:
        self.channels = channels
        c = len(channels)
        r = self.record = Table(capacity)
        r.add("first_purchase_day", np.int32)
        r.add("last_purchase_day", np.int32)
        r.add("purchases", np.int32)
        r.add("spend", np.float64)
        r.add("style_counts", np.int32, n_styles)
        r.add("reachable", bool, c)
        r.add("opted_out", bool, c)
        r.add("birthday_recorded", np.int16)
        r.add("referred", bool)
        r.add("referrer", np.int32, fill=-1)  # row of the customer who referred her, -1: unknown
        r.add("points", np.float64)
        r.add("tier", np.int8)
        r.add("last_message_day", np.int32, c, fill=NEVER)
        r.add("messages", np.int32, c)
        self.transactions = EventLog(
            {
                "customer": np.int32,
                "day": np.int32,
                "list_amount": np.float64,
                "paid": np.float64,
                "items": np.int16,
                "style": np.int8,
                "offer_batch": np.int32,
            }
        )
        self.message_batches: list[dict[str, Any]] = []
        self.messages = EventLog(
            {
                "customer": np.int32,
                "day": np.int32,
                "batch": np.int32,
                "style": np.int8,
                "read": np.int8,  # 1 read, 0 not read, -1 the channel does not tell
            }
        )
        self.opt_outs = EventLog({"customer": np.int32, "day": np.int32, "channel": np.int8})
        self.complaints = EventLog(
            {"customer": np.int32, "day": np.int32, "handled_day": np.int32, "abandoned": bool}
        )
        self.loyalty = EventLog(
            {"customer": np.int32, "day": np.int32, "points": np.float64, "tier": np.int8}
        )

    def add_customers(self, customers: Customers, referrer: np.ndarray | None = None) -> None:
        """Open a record for new customers with what the store learnt at their first purchase.

        `referrer` gives, per new customer, the row of the customer who referred her (her
        referral code), -1 for none; without it nobody's referrer is on record.
        """
        extra = {} if referrer is None else {"referrer": referrer}
        rows = self.record.append(
            len(customers),
            first_purchase_day=customers.first_purchase_day,
            last_purchase_day=customers.last_purchase_day,
            purchases=customers.purchases,
            spend=customers.spend,
            reachable=customers.reachable,
            birthday_recorded=customers.birthday_recorded,
            referred=customers.referred,
            **extra,
        )
        # the style of her first (or latest) purchase: new rows' counts start at 0
        self.record.style_counts[np.arange(rows.start, rows.stop), customers.last_style] = 1

    def new_batch(
        self, day: int, channel: str, campaign: str, personal: bool, offer: Offer | None
    ) -> int:
        """Register a campaign send; its id marks its messages and the redemptions of its offer."""
        self.message_batches.append(
            {
                "batch": len(self.message_batches),
                "day": day,
                "channel": channel,
                "campaign": campaign,
                "personal": personal,
                "discount": offer.discount if offer else 0.0,
                "min_spend": offer.min_spend if offer else 0.0,
                "expiry_days": offer.expiry_days if offer else 0,
            }
        )
        return len(self.message_batches) - 1


def _read_only(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


class ObservableView:
    """What a strategy sees on one day: the record, today's date and calendar, nothing hidden.

    Columns come back read-only; a strategy changes customers only through the actions it
    returns. Attributes: `day`, `date`, `event` (the calendar event under way today, on every
    one of its days, or None), `event_starts` (today is the first day of `event`, or the
    run's first day falls inside it), `horizon` (days in the run), `styles`, `channels`,
    `n_customers`.
    """

    __slots__ = ("day", "date", "event", "event_starts", "horizon", "styles", "channels", "_ledger")

    def __init__(
        self,
        ledger: Ledger,
        day: int,
        date: dt.date,
        event: str | None,
        horizon: int,
        styles: list[str],
        event_starts: bool = False,
    ) -> None:
        self._ledger = ledger
        self.day, self.date, self.event, self.horizon = day, date, event, horizon
        self.event_starts = event_starts
        self.styles = list(styles)
        self.channels = list(ledger.channels)

    @property
    def n_customers(self) -> int:
        return self._ledger.record.n

    def __getattr__(self, name: str) -> np.ndarray:
        """Record columns by name: first_purchase_day, last_purchase_day, purchases, spend,
        style_counts, reachable, opted_out, birthday_recorded, referred, referrer, points, tier,
        last_message_day, messages."""
        if name.startswith("_") or name not in self._ledger.record.names():
            raise AttributeError(f"the store's record has no '{name}'")
        return _read_only(getattr(self._ledger.record, name))

    def column(self, name: str) -> np.ndarray:
        """A record column by name, read-only; the way to the per-customer message counts,
        since `messages(...)` is the messages log."""
        return self.__getattr__(name)

    def recency(self, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Days since the last purchase of each customer (of `rows`, if given)."""
        return self.day - self.last_purchase_day[rows]

    def contactable(self, channel: str) -> np.ndarray:
        """Customers with this contact on file who have not opted out of it."""
        if channel not in self.channels:
            raise ValueError(
                f"unknown channel '{channel}': choose one of {', '.join(self.channels)}"
            )
        c = self.channels.index(channel)
        return self.reachable[:, c] & ~self.opted_out[:, c]

    def transactions(self, since_day: int = NEVER) -> pd.DataFrame:
        """Transactions on or after `since_day` (customer, day, amounts, items, style, offer)."""
        frame = self._ledger.transactions.frame()
        return frame[frame.day >= since_day].reset_index(drop=True)

    def messages(self, since_day: int = NEVER) -> pd.DataFrame:
        """Messages on or after `since_day` with their campaign's channel, content and offer."""
        frame = self._ledger.messages.frame()
        batches = pd.DataFrame(self._ledger.message_batches, columns=_BATCH_COLUMNS)
        frame = frame.merge(batches.drop(columns="day"), on="batch", how="left")
        return frame[frame.day >= since_day].reset_index(drop=True)

    def transactions_since(self, day: int) -> dict[str, np.ndarray]:
        """Transactions on or after `day` as numpy columns (customer, day, list_amount, paid,
        items, style, offer_batch). Reads the log from its end, so it costs what the recent
        transactions cost: fit to call every day (e.g. points for yesterday's purchases)."""
        return {k: _read_only(v) for k, v in self._ledger.transactions.since(day).items()}

    def messages_since(self, day: int) -> dict[str, np.ndarray]:
        """Messages on or after `day` as numpy columns (customer, day, batch, style, read),
        plus `channel` (index into `channels`) and `campaign` of each message's batch. Reads
        the log from its end, like `transactions_since`."""
        columns = self._ledger.messages.since(day)
        batches = self._ledger.message_batches
        channel = np.array([self.channels.index(b["channel"]) for b in batches], dtype=np.int8)
        campaign = np.array([b["campaign"] for b in batches], dtype=object)
        columns["channel"] = channel[columns["batch"]] if len(batches) else np.empty(0, np.int8)
        columns["campaign"] = campaign[columns["batch"]] if len(batches) else np.empty(0, object)
        return {k: _read_only(v) for k, v in columns.items()}


_BATCH_COLUMNS = [
    "batch",
    "day",
    "channel",
    "campaign",
    "personal",
    "discount",
    "min_spend",
    "expiry_days",
]
