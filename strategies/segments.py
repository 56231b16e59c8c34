"""Segmentations of the store's record: lifecycle stages, RFM scores and value tiers.

Segments use fixed business cut-offs (days, purchases, spend), as stores set them, rather
than quantiles: a segment is then a few array operations over any subset of customers, cheap
enough to recompute every day at a million customers. Every function takes the
`ObservableView` and optionally the rows to segment (all customers when None).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np

from sim.config import number, whole
from sim.ledger import ObservableView

STAGES = ("new", "active", "lapsing", "sleeping", "lost")
NEW, ACTIVE, LAPSING, SLEEPING, LOST = range(len(STAGES))

TIERS = ("core_vip", "active_vip", "potential_vip", "sleeping_vip", "sleeping", "lost")
CORE_VIP, ACTIVE_VIP, POTENTIAL_VIP, SLEEPING_VIP, SLEEPING_TIER, LOST_TIER = range(len(TIERS))


def _rows(rows: np.ndarray | slice | None) -> np.ndarray | slice:
    return slice(None) if rows is None else rows


@dataclass(frozen=True)
class Lifecycle:
    """Lifecycle stage by days since purchase (DOMAIN.md): new, active, lapsing, sleeping, lost.

    Args:
        new_days: "new" while her first purchase is fewer than this many days ago.
        active_days: "active" while her latest purchase is fewer than this many days ago.
        sleeping_days: "sleeping" once silent this many days ("lapsing" in between).
        lost_days: "lost" once silent this many days.
    """

    new_days: int = 30
    active_days: int = 90
    sleeping_days: int = 180
    lost_days: int = 365

    def __post_init__(self) -> None:
        for name in ("new_days", "active_days", "sleeping_days", "lost_days"):
            object.__setattr__(self, name, whole(f"lifecycle {name}", getattr(self, name)))
        if not self.active_days <= self.sleeping_days <= self.lost_days:
            raise ValueError(
                "lifecycle stages need new_days >= 0 and active_days <= sleeping_days <= lost_days"
            )

    def __call__(self, view: ObservableView, rows: np.ndarray | slice | None = None) -> np.ndarray:
        """Stage code (index into `STAGES`) of each customer in `rows`."""
        r = _rows(rows)
        silent = view.recency(r)
        stage = (
            ACTIVE
            + (silent >= self.active_days).astype(np.int8)
            + (silent >= self.sleeping_days)
            + (silent >= self.lost_days)
        ).astype(np.int8)
        stage[view.day - view.first_purchase_day[r] < self.new_days] = NEW
        return stage

    labels = STAGES


@dataclass(frozen=True)
class RFM:
    """RFM scores 1 (worst) to 5 (best) from fixed cut-offs, and the value tiers they give.

    Recency is days since her latest purchase, frequency her purchase days on record,
    monetary her recorded spend. Value tiers follow the RFM 8-cell reading (DOMAIN.md):
    R, F, M high = core VIP; R, F high, M low = active VIP (upsell); R high, F low = potential
    VIP (nurture); R low, F, M high = sleeping VIP (win back); other R low = sleeping; lost
    once R is at its lowest score.

    Args:
        recency_days: four cut-offs in days; fewer days than the first scores 5.
        frequency: four purchase counts; at least the last scores 5.
        monetary: four spend levels; at least the last scores 5.
        high_r: recency score from which R counts as high.
        high_f: frequency score from which F counts as high.
        high_m: monetary score from which M counts as high.
    """

    recency_days: tuple[int, ...] = (30, 90, 180, 365)
    frequency: tuple[int, ...] = (2, 3, 5, 8)
    monetary: tuple[float, ...] = (150.0, 300.0, 600.0, 1200.0)
    high_r: int = 4
    high_f: int = 3
    high_m: int = 4

    def __post_init__(self) -> None:
        for name, check in (("recency_days", whole), ("frequency", whole), ("monetary", number)):
            cuts = [check(f"RFM {name}", x) for x in getattr(self, name)]
            if len(cuts) != 4 or np.any(np.diff(cuts) <= 0):
                raise ValueError(f"RFM {name} needs four increasing cut-offs, got {cuts}")
            object.__setattr__(self, name, tuple(cuts))
        for name in ("high_r", "high_f", "high_m"):
            score = whole(f"RFM {name}", getattr(self, name), 1)
            if score > 5:
                raise ValueError(f"RFM {name}={score}: scores run from 1 to 5")
            object.__setattr__(self, name, score)

    def scores(self, view: ObservableView, rows: np.ndarray | None = None) -> np.ndarray:
        """(n, 3) int8: R, F and M scores, 1 to 5."""
        r = _rows(rows)
        silent = view.recency(r)
        out = np.empty((len(silent), 3), dtype=np.int8)
        out[:, 0] = 5 - np.searchsorted(self.recency_days, silent, side="right")
        out[:, 1] = 1 + np.searchsorted(self.frequency, view.purchases[r], side="right")
        out[:, 2] = 1 + np.searchsorted(self.monetary, view.spend[r], side="right")
        return out

    def __call__(self, view: ObservableView, rows: np.ndarray | slice | None = None) -> np.ndarray:
        """Value tier code (index into `TIERS`) of each customer in `rows`.

        The same as thresholding `scores`, but compared with the cut-offs directly: this runs
        every day over the customers due for a treatment."""
        r = _rows(rows)
        silent = view.recency(r)
        k = 5 - self.high_r  # R score >= high_r <=> fewer than k+1 cut-offs at or below silent
        r_high = silent < self.recency_days[k] if k < 4 else np.ones(len(silent), dtype=bool)
        f_high = _score_at_least(view.purchases[r], self.frequency, self.high_f)
        m_high = _score_at_least(view.spend[r], self.monetary, self.high_m)
        tier = np.full(len(silent), SLEEPING_TIER, dtype=np.int8)
        tier[f_high & m_high] = SLEEPING_VIP
        tier[r_high] = POTENTIAL_VIP
        tier[r_high & f_high] = ACTIVE_VIP
        tier[r_high & f_high & m_high] = CORE_VIP
        tier[silent >= self.recency_days[-1]] = LOST_TIER
        return tier

    labels = TIERS


def _score_at_least(values: np.ndarray, cuts: tuple, high: int) -> np.ndarray:
    """Score 1 + (cut-offs at or below the value) >= high, as one comparison."""
    if high <= 1:
        return np.ones(len(values), dtype=bool)
    return values >= cuts[high - 2]


def day_of_year(date: dt.date) -> int:
    """Day of year 0-364 as birthdays are recorded (a common year); -1 on February 29."""
    doy = date.timetuple().tm_yday - 1
    if date.month > 2 and calendar.isleap(date.year):
        return doy - 1
    if date.month == 2 and date.day == 29:
        return -1
    return doy


def favourite_style(view: ObservableView, rows: np.ndarray) -> np.ndarray:
    """The style each customer bought most often, from her recorded purchases (int8)."""
    return view.style_counts[rows].argmax(axis=1).astype(np.int8)
