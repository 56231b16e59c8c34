"""Every KPI, defined once, for any group of customers (the whole store, treated, holdout).

A KPI is computed from per-customer tallies at the end of the run: sales summed from the
transactions log (`sales`), the facts only the model knows (`StoreModel.outcome`: churn,
costs, opt-outs) and the store's record, so the same definitions serve the whole run, the
treated arm and the holdout arm. The README's glossary repeats `GLOSSARY`.
"""

from __future__ import annotations

import numpy as np

from sim.model import SLEEPING_DAYS, StoreModel

GLOSSARY: dict[str, str] = {
    "customers": "customers in the group: the day-0 base plus everyone who joined during the run",
    "new_customers": "customers who joined during the run (newcomers and referred friends)",
    "revenue": "what customers paid, after discounts",
    "gross_profit": "list-price sales x gross margin, before any marketing cost",
    "marketing_cost": "message costs + discounts given + advisor time (complaints and calls)",
    "net_profit": "gross_profit - marketing_cost",
    "transactions": "purchase occasions (at most one per customer per day)",
    "aov": "average ticket: revenue / transactions",
    "items_per_transaction": "items per ticket (attach rate)",
    "repurchase_rate": "customers who bought at least twice in the run / customers who bought",
    "churn_rate": "true churn: share of customers alive on day 0 who silently left during the run"
    " (only a simulation can know it)",
    "lapsed_rate": f"observable: share of customers whose last purchase was {SLEEPING_DAYS} or"
    " more days before the end of the run (the day after its last)",
    "reactivation_rate": f"customers silent {SLEEPING_DAYS}+ days who bought again / customers"
    f" who were silent {SLEEPING_DAYS}+ days at some point of the run",
    "clv": "customer lifetime value over the run: net profit per customer, discounted to day 0",
    "vip_share": "share of customers whose spend over the last year reaches the store's VIP"
    " threshold (annualised when the run is shorter)",
    "vip_revenue_share": "share of revenue paid by those VIPs",
    "messages_sent": "messages sent, all channels (calls included)",
    "opt_out_rate": "share of customers who opted out of (or blocked) at least one channel",
    "complaints": "complaints raised after purchases",
    "message_cost": "cost of sending messages",
    "discount_cost": "value of discounts redeemed",
    "staff_cost": "advisor time spent on complaints and calls",
    "repeat_within_39w": "CDNOW check: share of customers who joined during the run, at least 39"
    " weeks before its end, whose second purchase came within 39 weeks of the first (null if the"
    " run is shorter)",
    "silent_6_9m_buy_again_39w": "CDNOW check: share of day-0 customers silent 6-9 months who"
    " bought again within the first 39 weeks of the run (null if the run is shorter)",
}

COHORT_DAYS = 273  # 39 weeks, the CDNOW calibration and forecast windows
COHORT_KPIS = ("repeat_within_39w", "silent_6_9m_buy_again_39w")  # null when days < COHORT_DAYS
SILENT_FROM, SILENT_TO = 183, 274  # 6 to 9 months silent
# shares of customers or of revenue: their differences read in percentage points
SHARES = frozenset(k for k in GLOSSARY if k.endswith(("_rate", "_share")) or k in COHORT_KPIS)


def sales(model: StoreModel) -> dict[str, np.ndarray]:
    """Each customer's sales, summed from the transactions log in its order (the same sums,
    to the last bit, as tallies kept purchase by purchase)."""
    tx, n = model.ledger.transactions, model.outcome.n
    customer, day = tx.column("customer"), tx.column("day")
    list_amount, paid = tx.column("list_amount"), tx.column("paid")
    discount = list_amount - paid
    margin = list_amount * model.store.gross_margin - discount
    last_year = day >= model.days - 365
    return {
        "revenue": np.bincount(customer, paid, n),
        "list_spend": np.bincount(customer, list_amount, n),
        "discount_cost": np.bincount(customer, discount, n),
        "transactions": np.bincount(customer, minlength=n),
        "items": np.bincount(customer, tx.column("items"), n).astype(np.int64),
        "spend_last_year": np.bincount(customer[last_year], paid[last_year], n),
        "margin_pv": np.bincount(customer, margin * model.present_value[day], n),
    }


def compute(
    model: StoreModel,
    group: np.ndarray | None = None,
    tallies: dict[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """KPIs of the customers selected by the boolean mask `group` (all customers if None);
    `tallies` is `sales(model)` when the caller has it already (one sum of the log serves
    every group)."""
    o, record = model.outcome, model.ledger.record
    s = sales(model) if tallies is None else tallies
    g = np.ones(o.n, dtype=bool) if group is None else group
    n = int(g.sum())
    revenue = float(s["revenue"][g].sum())
    transactions = int(s["transactions"][g].sum())
    gross = float(s["list_spend"][g].sum()) * model.store.gross_margin
    messages = record.messages[g]  # per channel
    costs = {
        "message_cost": float((messages.sum(axis=0) * model.channels.cost).sum()),
        "discount_cost": float(s["discount_cost"][g].sum()),
        "staff_cost": float(o.staff_cost[g].sum()),
    }
    marketing = sum(costs.values())
    buyers = s["transactions"][g] >= 1
    alive_start = o.alive_start[g]
    silent_at_end = model.days - record.last_purchase_day[g] >= SLEEPING_DAYS
    was_sleeping = o.reactivated[g] | silent_at_end
    window = min(model.days, 365)
    vip = s["spend_last_year"][g] * (365 / window) >= model.store.vip_spend_threshold
    return {
        "customers": n,
        "new_customers": int(g[model.base_customers :].sum()),  # day-0 newcomers too
        "revenue": revenue,
        "gross_profit": gross,
        "marketing_cost": marketing,
        "net_profit": gross - marketing,
        "transactions": transactions,
        "aov": _ratio(revenue, transactions),
        "items_per_transaction": _ratio(float(s["items"][g].sum()), transactions),
        "repurchase_rate": _ratio((s["transactions"][g] >= 2).sum(), buyers.sum()),
        "churn_rate": _ratio((o.churned[g] & alive_start).sum(), alive_start.sum()),
        "lapsed_rate": _ratio(silent_at_end.sum(), n),
        "reactivation_rate": _ratio(o.reactivated[g].sum(), was_sleeping.sum()),
        "clv": _ratio(float(s["margin_pv"][g].sum() - o.cost_pv[g].sum()), n),
        "vip_share": _ratio(vip.sum(), n),
        "vip_revenue_share": _ratio(float(s["revenue"][g][vip].sum()), revenue),
        "messages_sent": int(messages.sum()),
        "opt_out_rate": _ratio(o.opted_out[g].sum(), n),
        "complaints": int(o.complaints[g].sum()),
        **costs,
        **_cdnow_cohorts(model, g),
    }


def per_customer(
    model: StoreModel, tallies: dict[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Per-customer values behind the money KPIs, one entry per customer row: summed over a
    group they give its `revenue`, `gross_profit`, `marketing_cost` and `net_profit` (message
    costs are each channel's messages times its cost). `transactions` counts her purchases.
    `tallies` as in `compute`."""
    o, record = model.outcome, model.ledger.record
    s = sales(model) if tallies is None else tallies
    gross = s["list_spend"] * model.store.gross_margin
    message_cost = record.messages @ model.channels.cost
    marketing = message_cost + s["discount_cost"] + o.staff_cost
    return {
        "revenue": s["revenue"],
        "gross_profit": gross,
        "marketing_cost": marketing,
        "net_profit": gross - marketing,
        "transactions": s["transactions"],
    }


def _cdnow_cohorts(model: StoreModel, g: np.ndarray) -> dict[str, float | None]:
    """The two published natural-behaviour figures, measured the way they were published."""
    if model.days < COHORT_DAYS:
        return dict.fromkeys(COHORT_KPIS)
    o, tx = model.outcome, model.ledger.transactions
    customer, day = tx.column("customer"), tx.column("day")
    joined, newcomer = o.joined_day, np.arange(o.n) >= model.base_customers
    # her 39 weeks, joined .. joined + 272, lie inside the run's days 0 .. days - 1
    eligible = g & newcomer & (joined <= model.days - COHORT_DAYS)
    in_window = day < joined[customer] + COHORT_DAYS
    purchases = np.bincount(customer[in_window], minlength=o.n)
    silent = g & ~newcomer
    silent &= (-o.last_purchase_at_start >= SILENT_FROM) & (-o.last_purchase_at_start <= SILENT_TO)
    bought = np.bincount(customer[day < COHORT_DAYS], minlength=o.n) > 0
    return {
        "repeat_within_39w": _ratio((purchases[eligible] >= 2).sum(), eligible.sum()),
        "silent_6_9m_buy_again_39w": _ratio(bought[silent].sum(), silent.sum()),
    }


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else 0.0
