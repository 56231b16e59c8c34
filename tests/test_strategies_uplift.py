"""Holdout uplift: metrics.json reports both arms, and the 95% intervals cover the true
effect where the truth is known."""

import numpy as np
import pytest

from sim import kpis
from sim.uplift import Z95, difference, incremental_roi, ratio_difference
from tests.conftest import run

ARGS = ("customers=12000", "days=150", "seed=21", "holdout=0.2")


def test_uplift_interval_covers_the_true_effect_measured_by_a_paired_run():
    """Common random numbers make the truth knowable: the same seed under `none` is what
    the treated arm would have done without the strategy (same customers, same draws)."""
    treated = run("strategy=personalised", "strategy.every_days=7", "strategy.discount=0.2", *ARGS)
    untreated = run("strategy=none", *ARGS)
    uplift = treated.metrics["uplift"]
    per_t, per_u = kpis.per_customer(treated.model), kpis.per_customer(untreated.model)
    arm_t, arm_u = ~treated.model.outcome.holdout, ~untreated.model.outcome.holdout
    day0 = treated.model.base_customers  # the same customers, split alike, in both runs
    assert np.array_equal(arm_t[:day0], arm_u[:day0])
    n = arm_t[:day0].sum()

    def per_day0_customer(kpi):  # the arm's total per its customers on day 0
        return (per_t[kpi][arm_t].sum() - per_u[kpi][arm_u].sum()) / n

    truth = {
        "net_profit_per_customer": per_day0_customer("net_profit"),
        "revenue_per_customer": per_day0_customer("revenue"),
        "repurchase_rate": treated.metrics["repurchase_rate"]
        - untreated.metrics["repurchase_rate"],
    }
    assert truth["revenue_per_customer"] > 1  # a real effect, not a null
    for key, true in truth.items():
        u = uplift[key]
        assert u["low"] <= true <= u["high"], (key, true, u)
    # the paired truth is what the holdout estimates: the arms differ only by chance
    none_uplift = untreated.metrics["uplift"]
    for key in truth:
        assert none_uplift[key]["low"] <= 0 <= none_uplift[key]["high"], key
    assert none_uplift["incremental_roi"] is None


def test_metrics_contract_for_the_holdout():
    result = run("strategy=blanket", "customers=2000", "days=60", "holdout=0.1")
    m = result.metrics
    hold = result.model.outcome.holdout
    assert m["customers"] == (~hold).sum() and m["holdout"]["customers"] == hold.sum()
    assert m["holdout"]["messages_sent"] == 0
    assert set(m["holdout"]) == set(kpis.compute(result.model))
    per = kpis.per_customer(result.model)
    for key, value in (("net_profit", "net_profit"), ("revenue", "revenue")):
        assert np.isclose(per[value][~hold].sum(), m[key])
        assert np.isclose(per[value][hold].sum(), m["holdout"][key])
    # per customer on record on day 0 in each arm (the newcomers' sales count in the totals)
    n_t = m["customers"] - m["new_customers"]
    n_h = m["holdout"]["customers"] - m["holdout"]["new_customers"]
    assert n_t + n_h == result.model.base_customers and m["new_customers"] > 0
    est = m["uplift"]["net_profit_per_customer"]["estimate"]
    assert np.isclose(est, m["net_profit"] / n_t - m["holdout"]["net_profit"] / n_h)
    u = m["uplift"]
    margin = m["gross_profit"] / n_t - m["holdout"]["gross_profit"] / n_h
    cost = m["marketing_cost"] / n_t - m["holdout"]["marketing_cost"] / n_h
    assert np.isclose(u["incremental_roi"], (margin - cost) / cost)
    assert np.isclose(
        u["repurchase_rate"]["estimate"],
        m["repurchase_rate"] - m["holdout"]["repurchase_rate"],
    )
    no_holdout = run("strategy=blanket", "customers=300", "days=10").metrics
    assert "holdout" not in no_holdout and "uplift" not in no_holdout


def test_welch_and_delta_method_intervals_have_their_nominal_coverage():
    rng = np.random.default_rng(0)
    hits = np.zeros(3)
    reps = 2000
    for _ in range(reps):
        t = rng.gamma(0.5, 20, 300)  # skewed, like profit per customer; true mean 10
        h = rng.gamma(0.5, 16, 900)  # true mean 8
        d = difference(t, h)
        hits[0] += d["low"] <= 2 <= d["high"]
        bt, bh = rng.random(400) < 0.5, rng.random(400) < 0.5
        rt, rh = bt & (rng.random(400) < 0.4), bh & (rng.random(400) < 0.3)
        r = ratio_difference(rt, bt, rh, bh)
        hits[1] += r["low"] <= 0.1 <= r["high"]
        hits[2] += abs(d["high"] - d["low"] - 2 * Z95 * _se(t, h)) < 1e-9
    assert np.all(np.abs(hits[:2] / reps - 0.95) < 0.015), hits / reps
    assert hits[2] == reps


def _se(t, h):
    return np.sqrt(t.var(ddof=1) / len(t) + h.var(ddof=1) / len(h))


def test_incremental_roi_is_profit_over_cost():
    # 10 more margin and 4 more cost per treated customer: (10 - 4) / 4
    day0 = np.ones(5)
    margin_t, margin_h = np.full(5, 30.0), np.full(5, 20.0)
    assert incremental_roi(margin_t, np.full(5, 5.0), margin_h, np.full(5, 1.0), day0, day0) == 1.5
    # a newcomer's sales count, spread over the day-0 customers: the treated arm's 5 x 60 of
    # margin and 5 x 2 of cost over its 4 day-0 customers, against 100 and 5 over 5
    joined = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    margin, cost = 300 / 4 - 100 / 5, 10 / 4 - 5 / 5
    roi = incremental_roi(margin_t * 2, np.full(5, 2.0), margin_h, np.ones(5), joined, day0)
    assert roi == pytest.approx((margin - cost) / cost)
    assert incremental_roi(*[np.ones(3)] * 6) is None
    one = difference(np.array([1.0]), np.array([2.0, 3.0]))
    assert one["estimate"] == -1.5 and one["low"] is None and one["high"] is None


def test_a_holdout_that_rounds_to_nobody_measures_nothing():
    """holdout=0.001 of 100 customers is an empty arm: its uplift was the treated arm's whole
    value (an empty arm counted as zero), now null, as an interval with too few is."""
    metrics = run("customers=100", "holdout=0.001", "strategy=blanket", "days=30").metrics
    assert metrics["holdout"]["customers"] == 0
    for kpi in ("net_profit_per_customer", "revenue_per_customer", "repurchase_rate"):
        assert metrics["uplift"][kpi] == {"estimate": None, "low": None, "high": None}
    assert metrics["uplift"]["incremental_roi"] is None
