"""The fast path and the per-agent reference path implement the same rules."""

import numpy as np

from sim import behaviour as rules
from tests.conftest import run

KPIS = ("transactions", "revenue", "churn_rate", "opt_out_rate", "messages_sent", "complaints")


def test_fast_and_reference_agree_within_sampling_error():
    fast, ref = [], []
    for seed in range(1, 5):
        args = ("customers=600", "days=60", f"seed={seed}", "strategy=blanket")
        fast.append([run(*args).metrics[k] for k in KPIS])
        ref.append([run(*args, "implementation=reference").metrics[k] for k in KPIS])
    fast, ref = np.array(fast, dtype=float), np.array(ref, dtype=float)
    spread = fast.std(axis=0, ddof=1) / np.sqrt(len(fast))  # sampling error of a mean
    assert np.all(np.abs(fast.mean(axis=0) - ref.mean(axis=0)) <= 2 * spread + 1e-9)
    # they take the same addressed draws, so in practice they agree exactly
    assert np.allclose(fast, ref, rtol=1e-6)


def test_reference_customers_are_inspectable_mesa_agents():
    result = run("customers=50", "days=3", "implementation=reference")
    agents = list(result.model.agents)
    assert len(agents) == result.metrics["customers"]
    one = agents[0]
    assert {"lam", "mu", "satisfaction", "fatigue", "buy_clock"} <= set(vars(one))


def test_comebacks_agree_between_fast_and_reference():
    """Customers who left come back on the same day, with the same purchase, in both paths
    (a high comeback rate so that many do within a short run)."""
    args = ("customers=400", "days=90", "strategy=winback", "population.comeback_rate_per_year=3")
    fast, ref = run(*args), run(*args, "implementation=reference")
    tx_fast = fast.model.ledger.transactions.frame()
    tx_ref = ref.model.ledger.transactions.frame()
    base = fast.model.ledger.record.first_purchase_day < 0  # on the books before day 0
    gone = np.flatnonzero(base & ~fast.model.outcome.alive_start)
    assert tx_fast["customer"].isin(gone).sum() > 20  # many came back
    exact = ["customer", "day", "items", "style", "offer_batch"]
    assert tx_fast[exact].equals(tx_ref[exact])
    # amounts agree to float32 precision (the fast path keeps discounts in float32)
    assert np.allclose(tx_fast["paid"], tx_ref["paid"], rtol=1e-6)
    assert fast.metrics["reactivation_rate"] == ref.metrics["reactivation_rate"]


def test_fast_churn_clocks_spend_the_shared_hazard_rule():
    """The fast path spends the churn hazard inline, over its stored units: one day of its
    clocks takes mu x `behaviour.hazard_multiplier` from each running churn clock, with
    fatigue, dissatisfaction and a loyalty tier all in play."""
    result = run("strategy=loyalty", "customers=3000", "days=90", "seed=2")
    model = result.model
    engine, t = model.customers, model.customers.t
    n = t.n
    before = t.churn_clock[:n].astype(np.float64)
    recognised = t.recognised[:n].astype(np.float64)
    hazard = rules.hazard_multiplier(
        engine.fatigue_total(), engine.satisfaction(), recognised, model.b
    )
    assert recognised.any() and np.ptp(engine.fatigue_total()) > 0 and np.ptp(hazard) > 0
    engine.live(model.day, 1.0)
    after = t.churn_clock[:n].astype(np.float64)
    ran = np.isfinite(before) & np.isfinite(after)  # alive before and after today
    assert ran.sum() > 1000
    spent = before[ran] - after[ran]
    expected = (t.mu[:n] * hazard)[ran]
    rounding = 2 * np.finfo(np.float32).eps * np.abs(before[ran])  # the clocks are float32
    assert np.all(np.abs(spent - expected) <= 1e-4 * expected + rounding)
