"""Uplift against the holdout: what the strategy changed, per customer, with 95% intervals.

The holdout (`holdout=0.1`) is a random share of customers kept out of every action, so the
difference between the arms estimates the strategy's average effect per customer. Every
figure is "treated arm minus holdout arm", and a ratio of sums in each arm, R = sum(y) /
sum(x), with a delta-method normal 95% interval: R has variance var(y - R x) / (n mean(x)^2).

- `net_profit_per_customer`, `revenue_per_customer`: the arm's total (`sim.kpis.per_customer`
  summed over everyone in the arm, newcomers and referred friends too) per customer of the
  arm on record on day 0. Day 0's customers are the denominator because a policy does not
  change them: one that annoys customers brings fewer friends, and its total spread over the
  customers at the end would look larger per customer than it is.
- `repurchase_rate`: difference of the arms' repurchase rates (customers who bought twice or
  more / customers who bought, as in `sim.kpis`).
- `incremental_roi`: (incremental margin - incremental cost) / incremental cost, where per
  day-0 customer the incremental margin is the difference of the arms' gross profit
  (list-price sales x gross margin) and the incremental cost the difference of their
  marketing cost (messages + discounts + advisor time). It equals incremental net profit /
  incremental cost: 0.5 means each unit spent came back with 0.5 profit on top; -1 means
  the spend bought nothing; below -1, it also cost margin. null when the treated arm was
  sent nothing or the incremental cost is not positive (no campaign spend to return on).

An interval is null when an arm has fewer than two customers, and the estimate too when an
arm has none to divide by (a holdout share that rounds to nobody): an empty arm is no zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim import kpis
from sim.model import StoreModel

Z95 = 1.959963984540054  # two-sided 95% normal quantile
# the uplift block's KPIs with a 95% interval, and their parts
INTERVAL_KPIS = ("net_profit_per_customer", "revenue_per_customer", "repurchase_rate")
INTERVAL_PARTS = ("estimate", "low", "high")
# every number of the block under a dotted name, as retail-sim-regress's claims name them
KPIS = (*(f"{kpi}.{part}" for kpi in INTERVAL_KPIS for part in INTERVAL_PARTS), "incremental_roi")


def _interval(estimate: float, variance: float) -> dict[str, float | None]:
    if not np.isfinite(variance):
        return {"estimate": float(estimate), "low": None, "high": None}
    half = Z95 * float(np.sqrt(variance))
    return {"estimate": float(estimate), "low": estimate - half, "high": estimate + half}


def difference(treated: np.ndarray, holdout: np.ndarray) -> dict[str, float | None]:
    """Difference of means with a Welch normal 95% interval (e.g. visit rates of two groups)."""
    estimate = float(np.mean(treated) - np.mean(holdout)) if len(treated) and len(holdout) else 0.0
    if len(treated) < 2 or len(holdout) < 2:
        return _interval(estimate, np.inf)
    variance = np.var(treated, ddof=1) / len(treated) + np.var(holdout, ddof=1) / len(holdout)
    return _interval(estimate, variance)


def _ratio(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """R = sum(y) / sum(x) and its delta-method variance (R is nan for an empty sum(x))."""
    n, total = len(x), float(x.sum())
    if n < 2 or total == 0:
        return (float(y.sum()) / total if total else np.nan), np.inf
    r = float(y.sum()) / total
    return r, float(np.var(y - r * x, ddof=1)) / (n * (total / n) ** 2)


def ratio_difference(
    y_treated: np.ndarray, x_treated: np.ndarray, y_holdout: np.ndarray, x_holdout: np.ndarray
) -> dict[str, float | None]:
    """Difference of two ratios of sums (rates among a sub-population) with a 95% interval."""
    r_t, v_t = _ratio(y_treated.astype(np.float64), x_treated.astype(np.float64))
    r_h, v_h = _ratio(y_holdout.astype(np.float64), x_holdout.astype(np.float64))
    if np.isnan(r_t) or np.isnan(r_h):  # an arm with no one to measure
        return {"estimate": None, "low": None, "high": None}
    return _interval(r_t - r_h, v_t + v_h)


def incremental_roi(
    margin_t: np.ndarray,
    cost_t: np.ndarray,
    margin_h: np.ndarray,
    cost_h: np.ndarray,
    day0_t: np.ndarray,
    day0_h: np.ndarray,
) -> float | None:
    """(incremental margin - incremental cost) / incremental cost, per day-0 customer."""
    n_t, n_h = float(day0_t.sum()), float(day0_h.sum())
    if not n_t or not n_h:
        return None
    cost = float(cost_t.sum()) / n_t - float(cost_h.sum()) / n_h
    if cost <= 0:
        return None
    margin = float(margin_t.sum()) / n_t - float(margin_h.sum()) / n_h
    return (margin - cost) / cost


def compute(model: StoreModel, tallies: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """The uplift block of metrics.json: treated arm minus holdout arm (`tallies` as in
    `kpis.compute`)."""
    values = kpis.per_customer(model, tallies)
    h = model.outcome.holdout
    t = ~h
    day0 = (np.arange(len(h)) < model.base_customers).astype(np.float64)
    bought = (values["transactions"] >= 1).astype(np.float64)
    repeated = (values["transactions"] >= 2).astype(np.float64)
    sent = int(model.ledger.record.messages[t].sum())
    roi = incremental_roi(
        values["gross_profit"][t],
        values["marketing_cost"][t],
        values["gross_profit"][h],
        values["marketing_cost"][h],
        day0[t],
        day0[h],
    )

    def per_day0_customer(kpi: str) -> dict[str, float | None]:
        return ratio_difference(values[kpi][t], day0[t], values[kpi][h], day0[h])

    return {
        "net_profit_per_customer": per_day0_customer("net_profit"),
        "revenue_per_customer": per_day0_customer("revenue"),
        "repurchase_rate": ratio_difference(repeated[t], bought[t], repeated[h], bought[h]),
        "incremental_roi": roi if sent else None,
    }
