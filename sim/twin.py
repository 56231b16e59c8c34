"""A digital twin: a store's real customers, each continuing her own recorded history.

`retail-sim-calibrate` writes a twin file (a numpy .npz archive) holding every calibrated
customer's record at the end of the calibration period as arrays indexed by row 0..n-1:
customer ids never enter it. `load_twin` turns it into the day-0 `Customers` of a run
(`population.kind=twin`, day 0 = the day after the calibration end):

* the record (first and last purchase day, purchase days, total spend, latest style) is the
  observed one;
* the hidden traits are one draw from their posterior given that record, under the
  population's own Pareto/NBD and Gamma-Gamma parameters (per day): alive or not at the end of
  the calibration period, purchase rate lam and dropout hazard mu
  (`sim.btyd.sample_pareto_nbd_posterior`), spend rate nu
  (`sim.btyd.sample_gamma_gamma_posterior`). An alive customer's churn clock is a fresh Exp(1)
  draw: the exponential lifetime is memoryless;
* style affinity and attach rate are posterior draws too when the export had style and item
  columns (see `_sample_affinity`, `_sample_items_mean`); every other trait (price
  sensitivity, reachability, birthday, referral propensity) is drawn as for a synthetic
  customer (`sample_customers`).

With every behavioural covariate switched off, a twin run with no strategy is the fitted
Pareto/NBD model continuing each customer's history: its expected holdout transactions are
the model's conditional expectations. Draws come from the generator the caller passes
(the run's `streams.generator("twin")`): the same seed gives the same twin.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.btyd import sample_gamma_gamma_posterior, sample_pareto_nbd_posterior
from sim.config import PopulationConfig
from sim.population import Customers, sample_customers

__all__ = ["TwinFileError", "TwinHistory", "load_twin", "read_twin", "save_twin"]

TWIN_FORMAT = 1
AFFINITY_SWEEPS = 20  # Gibbs sweeps for the style affinity posterior (see _sample_affinity)
ITEMS_GRID = 256  # prior quantiles on which the attach-rate posterior is evaluated


class TwinFileError(ValueError):
    """The twin file cannot be used; the message is one line saying why and what to do."""


@dataclass
class TwinHistory:
    """Each customer's record at the end of the calibration period, one row per customer.

    Days are relative to day 0 of the twin run, the day after the calibration end, so all are
    negative. With x = purchases - 1, the BTYD summary in days is t_x = last - first and
    T = -1 - first (the calibration end is day -1).
    """

    first_purchase_day: np.ndarray  # int32
    last_purchase_day: np.ndarray  # int32: latest purchase in the calibration period
    purchases: np.ndarray  # int32: distinct purchase days (x + 1)
    spend: np.ndarray  # float64: total spend in the calibration period
    x_spend: np.ndarray  # int32: repeat purchases with positive spend (Gamma-Gamma's x)
    monetary: np.ndarray  # float64: their mean spend; NaN without any
    extra_items: np.ndarray  # int64: items beyond the first per ticket, summed over tickets
    item_tickets: np.ndarray  # int32: tickets with an item count (0 without an items column)
    style_counts: np.ndarray  # (n, styles) int32: purchases per style; (n, 0) without styles
    last_style: np.ndarray  # int8: style of the latest purchase, -1 unknown
    day0: int  # proleptic Gregorian ordinal of day 0 (the day after the calibration end)

    def __len__(self) -> int:
        return len(self.purchases)

    @property
    def start_date(self) -> dt.date:
        return dt.date.fromordinal(self.day0)

    def btyd_days(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, t_x, T) in days, as `sim.transactions.summarise(..., time_unit_days=1)`."""
        x = (self.purchases - 1).astype(float)
        t_x = (self.last_purchase_day - self.first_purchase_day).astype(float)
        T = (-1 - self.first_purchase_day).astype(float)
        return x, t_x, T


_DTYPES = {
    "first_purchase_day": np.int32,
    "last_purchase_day": np.int32,
    "purchases": np.int32,
    "spend": np.float64,
    "x_spend": np.int32,
    "monetary": np.float64,
    "extra_items": np.int64,
    "item_tickets": np.int32,
    "style_counts": np.int32,
    "last_style": np.int8,
}


def save_twin(path: str | Path, history: TwinHistory) -> None:
    """Write the twin file: numeric arrays only (uncompressed, so that a text search of the
    file for customer ids is meaningful)."""
    arrays = {name: np.asarray(getattr(history, name), dtype=t) for name, t in _DTYPES.items()}
    with open(path, "wb") as f:
        np.savez(
            f,
            format_version=np.int32(TWIN_FORMAT),
            day0=np.int64(history.day0),
            **arrays,
        )


def read_twin(path: str | Path) -> TwinHistory:
    """Read and check a twin file written by `save_twin`."""
    path = Path(path)
    if path.is_dir():
        raise TwinFileError(f"twin file {path} is a folder: point at the twin.npz inside it")
    if not path.is_file():
        raise FileNotFoundError(
            f"twin file {path} not found: run retail-sim-calibrate, or point "
            "population.twin_file at its twin.npz (an absolute path)"
        )
    if not zipfile.is_zipfile(path):  # np.load would guess a pickle and suggest allow_pickle
        raise TwinFileError(
            f"twin file {path} is not a twin (an .npz archive written by retail-sim-calibrate)"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            stored = {name: data[name] for name in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:  # BadZipFile: a damaged member
        raise TwinFileError(f"twin file {path} is not a readable .npz archive ({exc})") from None
    missing = [k for k in ("format_version", "day0", *_DTYPES) if k not in stored]
    if missing:
        raise TwinFileError(
            f"twin file {path} lacks {', '.join(missing)}: write it with retail-sim-calibrate"
        )
    if int(stored["format_version"]) != TWIN_FORMAT:
        raise TwinFileError(
            f"twin file {path} has format {int(stored['format_version'])}, this version reads "
            f"{TWIN_FORMAT}: calibrate again with this version"
        )
    h = TwinHistory(
        day0=int(stored["day0"]), **{k: stored[k].astype(t) for k, t in _DTYPES.items()}
    )
    n = len(h.purchases)
    wrong = [k for k in _DTYPES if len(getattr(h, k)) != n]
    if wrong or h.style_counts.ndim != 2 or n == 0:
        raise TwinFileError(f"twin file {path} is inconsistent (array lengths differ or empty)")
    bad = (
        (h.purchases < 1)
        | (h.first_purchase_day > h.last_purchase_day)
        | (h.last_purchase_day > -1)
        | ((h.purchases == 1) & (h.first_purchase_day != h.last_purchase_day))
        | (h.x_spend > h.purchases - 1)
        | ((h.x_spend > 0) & ~(h.monetary > 0))
        | (h.last_style >= h.style_counts.shape[1])
    )
    if bad.any():
        rows = np.flatnonzero(bad)
        raise TwinFileError(
            f"twin file {path} has impossible histories at rows {', '.join(map(str, rows[:5]))}"
            f"{' ...' if len(rows) > 5 else ''}: calibrate again"
        )
    return h


def load_twin(
    path: str | Path,
    population: PopulationConfig,
    style_mix: np.ndarray,
    channel_reach: np.ndarray,
    rng: np.random.Generator,
) -> Customers:
    """The twin's customers on day 0: observed records, hidden traits drawn from the posterior.

    Rows (and keys) 0..n-1 follow the twin file. Draws use `rng` in a fixed order.
    """
    h = read_twin(path)
    n, n_styles = len(h), len(style_mix)
    if h.style_counts.shape[1] and h.style_counts.shape[1] != n_styles:
        raise TwinFileError(
            f"the twin was calibrated with {h.style_counts.shape[1]} styles but the store sells "
            f"{n_styles}: run with the calibrated store (store=calibrated) or a store with the "
            "same styles"
        )
    c = sample_customers(rng, np.arange(n), 0, population, style_mix, channel_reach, False)
    x, t_x, T = h.btyd_days()
    days = {
        "r": population.purchase_r,
        "alpha": population.purchase_alpha_days,
        "s": population.dropout_s,
        "beta": population.dropout_beta_days,
    }
    alive, lam, mu = sample_pareto_nbd_posterior(days, x, t_x, T, rng)
    spend = {"p": population.spend_p, "q": population.spend_q, "gamma": population.spend_gamma}
    c.alive = alive
    c.lam, c.mu = lam, mu
    c.churn_clock = np.where(alive, c.churn_clock, 0.0)  # a fresh Exp(1): memoryless lifetime
    c.spend_rate = sample_gamma_gamma_posterior(spend, h.x_spend, h.monetary, rng)
    if h.style_counts.shape[1]:
        mix = np.asarray(style_mix, dtype=float) / np.sum(style_mix)
        seen = h.style_counts.sum(axis=1) > 0
        affinity = c.affinity.astype(float)
        affinity[seen] = _sample_affinity(
            h.style_counts[seen], population.style_concentration, mix, rng
        )
        c.affinity = affinity.astype(np.float32)
    c.last_style = np.where(h.last_style >= 0, h.last_style, c.last_style).astype(np.int8)
    has_items = h.item_tickets > 0
    if has_items.any():
        items = c.items_mean.astype(float)
        items[has_items] = _sample_items_mean(
            population.items_mean, h.extra_items[has_items], h.item_tickets[has_items], rng
        )
        c.items_mean = items.astype(np.float32)
    c.first_purchase_day = h.first_purchase_day.astype(np.int32)
    c.last_purchase_day = h.last_purchase_day.astype(np.int32)
    c.purchases = h.purchases.astype(np.int32)
    c.spend = h.spend.astype(np.float64)
    return c


def _sample_affinity(
    counts: np.ndarray, concentration: float, mix: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Posterior draws of style affinity given purchases per style.

    In the simulator affinity = g / sum(g) with g_k ~ Gamma(concentration, 1), and a purchase
    is of style k with probability g_k m_k / sum_j g_j m_j (m the store's mix). With N
    purchases, the auxiliary U ~ Gamma(N, rate sum_j g_j m_j) makes the conditionals
    conjugate: g_k | U ~ Gamma(concentration + n_k, rate 1 + U m_k). A few Gibbs sweeps from
    a start near the posterior mix well.
    """
    counts = counts.astype(float)
    total = counts.sum(axis=1)
    g = rng.gamma(concentration + counts)
    for _ in range(AFFINITY_SWEEPS):
        u = rng.gamma(total) / (g @ mix)
        g = rng.gamma(concentration + counts) / (1.0 + u[:, None] * mix)
    return g / g.sum(axis=1, keepdims=True)


def _sample_items_mean(
    prior_mean: float, extra: np.ndarray, tickets: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Posterior draws of the attach rate (mean items per ticket) given the recorded tickets.

    In the simulator items per ticket = 1 + Geometric with mean e, e ~ Exponential(mean
    items_mean - 1). The posterior of e is evaluated on ITEMS_GRID prior quantiles (equal
    prior mass, so the weights are the likelihood (1 + e)^-tickets (e / (1 + e))^extra).
    """
    e0 = prior_mean - 1.0
    if e0 <= 0:
        return np.ones(len(extra))
    grid = -e0 * np.log1p(-(np.arange(ITEMS_GRID) + 0.5) / ITEMS_GRID)
    out = np.empty(len(extra))
    for start in range(0, len(extra), 20_000):
        part = slice(start, start + 20_000)
        log_w = extra[part, None] * np.log(grid / (1.0 + grid)) - tickets[part, None] * np.log1p(
            grid
        )
        w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
        cdf = np.cumsum(w, axis=1)
        pick = (cdf < rng.random(len(w))[:, None] * cdf[:, -1:]).sum(axis=1)
        out[part] = 1.0 + grid[np.minimum(pick, ITEMS_GRID - 1)]
    return out
