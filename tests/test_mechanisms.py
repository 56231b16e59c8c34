"""Each mechanism of the customer model moves outcomes the way the domain says it should.

Runs that differ only in one setting share their random draws (common random numbers), so
the comparisons below are paired and a few thousand customers suffice.
"""

import numpy as np
import pytest

from sim import kpis
from sim.actions import Actions, MessageBatch, Offer
from tests.conftest import run

SMALL = ("customers=3000", "days=150", "seed=11")


def test_more_blanket_messages_raise_opt_outs_and_churn():
    rare = run(*SMALL, "strategy=blanket", "strategy.every_days=28").metrics
    often = run(*SMALL, "strategy=blanket", "strategy.every_days=2").metrics
    assert often["messages_sent"] > 10 * rare["messages_sent"]
    assert often["opt_out_rate"] > 3 * rare["opt_out_rate"]
    assert often["churn_rate"] > rare["churn_rate"] + 0.015  # paired: 2.3 points measured


class OneOffer:
    """On `day`, a 20% WeChat offer to the even rows who can receive it, showing `style`:
    'favourite' picks the style she bought most (relevant), an int forces one style."""

    def __init__(self, style, day=5):
        self.style, self.day = style, day

    def decide(self, view):
        if view.day != self.day:
            return Actions()
        who = np.flatnonzero(view.contactable("wechat"))
        who = who[who % 2 == 0]
        if self.style == "favourite":
            style = view.style_counts[who].argmax(axis=1)
        else:
            style = np.full(len(who), self.style)
        batch = MessageBatch(who, "wechat", "one-off", personal=True, style=style, offer=Offer(0.2))
        return Actions(messages=[batch])


def _purchases(result, rows, first_day, last_day):
    tx = result.model.ledger.transactions.frame()
    window = tx[(tx.day >= first_day) & (tx.day <= last_day)]
    return int(window.customer.isin(rows).sum())


def test_a_relevant_offer_raises_short_term_visits():
    args = ("customers=40000", "days=25", "seed=5")
    base = run(*args)
    relevant = run(*args, strategy=OneOffer("favourite"))
    sporty = run(*args, strategy=OneOffer(3))  # the store's least-stocked style
    record = base.model.ledger.record
    sent = np.flatnonzero(record.reachable[:40000, 0])  # day-0 base: same rows in every run
    sent, unsent = sent[sent % 2 == 0], sent[sent % 2 == 1]
    before = _purchases(base, sent, 5, 19)
    after = _purchases(relevant, sent, 5, 19)
    assert after > 1.08 * before  # ~35% read it, and many on file have silently left
    assert _purchases(relevant, unsent, 5, 19) == _purchases(base, unsent, 5, 19)
    assert after > _purchases(sporty, sent, 5, 19)


class DailyReminders:
    """A plain SMS to everyone reachable every day until `stop`, then silence."""

    def __init__(self, stop):
        self.stop = stop

    def decide(self, view):
        if view.day >= self.stop:
            return Actions()
        return Actions(messages=[MessageBatch(np.flatnonzero(view.contactable("sms")), "sms", "r")])


def test_fatigue_decays_once_messages_stop():
    daily = run("customers=2000", "days=80", strategy=DailyReminders(stop=20)).daily
    fatigue = daily.mean_fatigue.to_numpy()
    assert fatigue[19] > fatigue[5] > 0
    after = fatigue[20:]
    assert np.all(np.diff(after) < 0)
    assert after[-1] < 0.1 * fatigue[19]


def test_stocks_fade_at_their_half_lives_across_the_fast_paths_rebasing():
    """The fast path stores fatigue and satisfaction in units of a base day that moves every
    few weeks (with short-lived message effects, every few days); across those moves they
    fade as nightly fading would."""
    model = run(
        "customers=300",
        "days=20",
        "strategy=blanket",
        "population.behaviour.response_half_life_days=0.5",
    ).model
    customers, days = model.customers, 400
    assert customers._rebase_after < days / 10  # the premise: many moves of the base
    rows = np.flatnonzero(customers.fatigue_total() > 0)[:20]  # sent a message
    assert len(rows) == 20
    customers.change_satisfaction(rows, 1.0)
    fatigue, mood = customers.fatigue_total()[rows], customers.satisfaction()[rows]
    for day in range(20, 20 + days):
        customers.end_day(day)
    np.testing.assert_allclose(
        customers.fatigue_total()[rows], fatigue * customers.fatigue_keep**days, rtol=1e-4
    )
    np.testing.assert_allclose(
        customers.satisfaction()[rows], mood * customers.satisfaction_keep**days, rtol=1e-4
    )
    everyone = customers.fatigue_total().astype(np.float64).sum()  # the daily series' sum
    np.testing.assert_allclose(customers.fatigue_sum(), everyone, rtol=1e-5)


def test_too_little_staff_slows_complaints_and_loses_customers():
    args = ("customers=6000", "days=150", "store.complaint_rate=0.25")
    staffed = run(*args, "store.staff.advisors_per_10k_customers=10")
    short = run(*args, "store.staff.advisors_per_10k_customers=0.5")

    def handling(result):
        c = result.model.ledger.complaints.frame()
        handled = c[~c.abandoned]
        complainers = result.model.outcome.complaints > 0
        churned = result.model.outcome.churned[complainers].mean()
        return (handled.handled_day - handled.day).mean(), c.abandoned.mean(), churned

    delay_ok, abandoned_ok, churn_ok = handling(staffed)
    delay_short, abandoned_short, churn_short = handling(short)
    assert delay_short > delay_ok + 1
    assert abandoned_short > 0.2 > abandoned_ok
    assert churn_short > churn_ok + 0.03


def test_customers_blanket_cannot_reach_buy_exactly_the_same():
    args = ("customers=5000", "days=200", "seed=3")
    none, blanket = run(*args, "strategy=none"), run(*args, "strategy=blanket")
    record = none.model.ledger.record
    unreachable = np.flatnonzero(~record.reachable[:5000, 1])  # no SMS number on file
    assert len(unreachable) > 300

    def their_purchases(result):
        tx = result.model.ledger.transactions.frame()
        return tx[tx.customer.isin(unreachable)].reset_index(drop=True)

    same = their_purchases(none)
    assert len(same) > 100
    assert same.equals(their_purchases(blanket))
    assert blanket.metrics["transactions"] != none.metrics["transactions"]


def test_with_covariates_off_the_model_is_pareto_nbd():
    """No calendar, style, complaints, referrals or newcomers: purchases and survival of a
    fresh cohort must match the Pareto/NBD closed forms (DOMAIN.md CDNOW parameters)."""
    days = 365
    result = run(
        "customers=40000",
        f"days={days}",
        "population.history_days=0",
        "population.new_customers_per_year=0",
        "population.referral_propensity=0",
        "population.behaviour.style_rate_exponent=0",
        "population.behaviour.style_hazard_exponent=0",
        "store.complaint_rate=0",
        "store.calendar=[]",
    )
    r, alpha, s, beta = 0.553, 74.046, 0.606, 81.683
    expected_repeats = r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + days)) ** (s - 1))
    expected_alive = (beta / (beta + days)) ** s
    repeats = kpis.sales(result.model)["transactions"].mean()
    alive = result.model.customers.alive().mean()
    assert abs(repeats / expected_repeats - 1) < 0.03
    assert abs(alive - expected_alive) < 0.01


@pytest.mark.parametrize(("implementation", "customers"), [("fast", 5000), ("reference", 400)])
def test_a_customer_buys_at_most_once_a_day_newcomers_included(implementation, customers):
    """A newcomer joins with her first purchase; her clocks start the next day, so a second
    visit that day merges into it (it was counted as a repeat purchase)."""
    result = run(f"implementation={implementation}", f"customers={customers}", "days=120", "seed=3")
    tx = result.model.ledger.transactions.frame()
    assert not tx.duplicated(["customer", "day"]).any()
    newcomers = result.model.ledger.record.n - result.model.base_customers
    assert result.metrics["new_customers"] == newcomers == result.daily["new_customers"].sum()


def test_a_store_whose_customers_have_all_left_still_runs():
    """Every day-0 customer gone and newcomers' clocks not yet started: no clock runs today."""
    result = run("customers=200", "days=5", "population.dropout_beta_days=0.000001")
    assert result.metrics["customers"] > 200  # newcomers still come, and buy on joining
    assert result.metrics["transactions"] == result.metrics["new_customers"]
