"""`simulate()` leaves the interpreter as it found it."""

import gc

import pytest

from sim.actions import Actions
from tests.conftest import run


class _Breaks:
    def decide(self, view) -> Actions:
        if view.day == 3:
            raise RuntimeError("strategy failed")
        return Actions()


def test_the_collector_threshold_is_restored_after_a_run_and_after_a_failure():
    before = gc.get_threshold()
    run("customers=200", "days=5")
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError, match="strategy failed"):
        run("customers=200", "days=5", strategy=_Breaks())
    assert gc.get_threshold() == before


@pytest.mark.parametrize("days", [273, 300])
def test_the_39_week_cohort_takes_every_newcomer_whose_39_weeks_the_run_covers(days):
    """Her 39 weeks are her joining day and the 272 after: a newcomer who joined on day
    `days - 273` is fully observed (a 273-day run measured no one)."""
    import numpy as np

    result = run("strategy=none", "customers=3000", f"days={days}", "seed=4")
    m = result.model
    tx = m.ledger.transactions.frame()
    joined = m.outcome.joined_day[: m.outcome.n]
    rows = np.arange(m.outcome.n)
    cohort = rows[(rows >= m.base_customers) & (joined <= days - 273)]
    window = tx[tx["day"] < joined[tx["customer"]] + 273]
    repeats = (window.groupby("customer").size().reindex(cohort, fill_value=0) >= 2).mean()
    assert len(cohort) > 0 and (joined[cohort] == days - 273).any()
    assert result.metrics["repeat_within_39w"] == pytest.approx(repeats)
