"""Sleepers come back: those who left return at `population.comeback_rate_per_year`."""

import numpy as np
import pytest

from tests.conftest import run


def _returns_of_the_gone(result) -> int:
    """Customers who had left before day 0 and bought during the run (no strategy: nothing
    but a comeback can bring one back)."""
    model = result.model
    base = model.ledger.record.first_purchase_day < 0  # on the books before day 0
    gone = np.flatnonzero(base & ~model.outcome.alive_start)
    tx = model.ledger.transactions.frame()
    return int(tx.loc[tx["customer"].isin(gone), "customer"].nunique())


def test_without_comebacks_who_left_never_buys_again():
    result = run("customers=3000", "days=365", "population.comeback_rate_per_year=0")
    assert _returns_of_the_gone(result) == 0  # the pure Pareto/NBD: churn is permanent


def test_comebacks_bring_back_about_the_configured_share():
    rate = 0.5
    result = run("customers=3000", "days=365", f"population.comeback_rate_per_year={rate}")
    model = result.model
    gone = int(((model.ledger.record.first_purchase_day < 0) & ~model.outcome.alive_start).sum())
    returned = _returns_of_the_gone(result)
    expected = gone * (1 - np.exp(-rate))  # each comes back once at most within a year
    assert abs(returned - expected) < 4 * np.sqrt(expected)


def test_comebacks_raise_the_silent_customers_buy_again_rate():
    off = run("customers=5000", "days=365", "population.comeback_rate_per_year=0").metrics
    on = run("customers=5000", "days=365", "population.comeback_rate_per_year=0.5").metrics
    assert on["silent_6_9m_buy_again_39w"] > off["silent_6_9m_buy_again_39w"] + 0.05


def test_a_gone_customers_mood_fades_overnight_in_both_implementations():
    """The fast path skips those who left before day 0 until something touches them; a call
    she answers does, and from then on her mood fades like everyone's."""
    for implementation in ("fast", "reference"):
        model = run("customers=400", "days=2", f"implementation={implementation}").model
        gone = int(np.flatnonzero(~model.outcome.alive_start)[0])
        model.customers.change_satisfaction(np.array([gone]), 1.0)
        model.customers.end_day(model.days)
        if implementation == "fast":
            mood = model.customers.satisfaction()[gone]
        else:
            mood = model.customers.agents[gone].satisfaction
        assert mood == pytest.approx(model.customers.satisfaction_keep), implementation
