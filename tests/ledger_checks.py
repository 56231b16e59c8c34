"""Read a finished run's ledger the way an auditor would: who got what, when, and what she
had done before (helpers for the strategy tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def messages(result) -> pd.DataFrame:
    """Every message delivered: customer, day, batch, channel, campaign, batch (send) day."""
    ledger = result.model.ledger
    frame = ledger.messages.frame()
    batches = pd.DataFrame(ledger.message_batches, columns=["batch", "day", "channel", "campaign"])
    frame = frame.merge(
        batches[["batch", "day", "channel", "campaign"]].rename(columns={"day": "sent_day"}),
        on="batch",
    )
    return frame


def last_purchase_before(result, customers: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Her latest purchase day as the strategy saw it when deciding on `days` (purchases of
    earlier days, and her first purchase if she joined that day)."""
    model = result.model
    record, out = model.ledger.record, model.outcome
    first = record.first_purchase_day[customers]
    prior = np.where(first < 0, out.last_purchase_at_start[customers], first)
    tx = model.ledger.transactions
    c, d = tx.column("customer").astype(np.int64), tx.column("day").astype(np.int64)
    key = np.sort(c * 1_000_000 + d)
    want = np.asarray(customers, dtype=np.int64) * 1_000_000 + np.asarray(days)
    at = np.searchsorted(key, want, side="left") - 1  # latest purchase strictly before
    found = (at >= 0) & (key[np.maximum(at, 0)] // 1_000_000 == customers)
    before = np.where(found, key[np.maximum(at, 0)] % 1_000_000, -(10**6))
    return np.maximum(prior, before)


def most_in_any_window(customers: np.ndarray, days: np.ndarray, window: int) -> int:
    """The most messages any one customer got in any `window` consecutive days."""
    if len(customers) == 0:
        return 0
    key = np.sort(np.asarray(customers, np.int64) * 1_000_000 + np.asarray(days, np.int64))
    ends = np.searchsorted(key, key, side="right")  # through the day of each message
    starts = np.searchsorted(key, key - window + 1, side="left")
    return int((ends - starts).max())


def in_window_at_each(customers, days, window, where) -> np.ndarray:
    """For the messages selected by `where`, how many messages (all selected or not) the same
    customer got in the `window` days ending on that message's day."""
    key = np.sort(np.asarray(customers, np.int64) * 1_000_000 + np.asarray(days, np.int64))
    mine = np.asarray(customers, np.int64)[where] * 1_000_000 + np.asarray(days)[where]
    return np.searchsorted(key, mine, side="right") - np.searchsorted(
        key, mine - window + 1, side="left"
    )
