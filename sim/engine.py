"""The interface between the store model and its customers, shared by both implementations.

`StoreModel` does the bookkeeping (ledger, costs, staff, strategy); a customer engine holds
the hidden state and applies the response model. `sim.fast.ArrayCustomers` does it over numpy
arrays; `sim.agents.AgentCustomers` does it one Mesa agent at a time, for readability.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sim.actions import Offer
from sim.population import Customers

# The draws behind one purchase, all from one addressed hash call: (purpose "purchase", slot).
# The spend takes three (see population.GammaSpend); new draws go last, keeping the others'.
PURCHASE_DRAWS = (
    *("spend", "style", "items", "top_up", "referral", "complaint", "next_visit"),
    *("spend_normal", "spend_accept"),
)
(SPEND, STYLE, ITEMS, TOP_UP, REFERRAL, COMPLAINT, NEXT_VISIT, SPEND_NORMAL, SPEND_ACCEPT) = range(
    len(PURCHASE_DRAWS)
)


@dataclass
class Delivery:
    """One campaign's messages reaching their recipients on one channel today."""

    customers: np.ndarray
    channel: int
    read_rate: float
    effect: float
    fatigue_weight: float
    opt_out_rate: float
    personal: bool
    style: np.ndarray | None
    offer: Offer | None
    batch: int
    day: int
    slot: int | np.ndarray  # draw slot: one for the batch, or one per message (served calls)


@dataclass
class Reception:
    """What happened to each message of a delivery (aligned with `Delivery.customers`)."""

    read: np.ndarray
    opted_out: np.ndarray
    revived: np.ndarray


@dataclass
class Baskets:
    """Today's purchases (aligned with `buyers`): what was bought and what followed."""

    buyers: np.ndarray
    list_amount: np.ndarray
    paid: np.ndarray
    items: np.ndarray
    style: np.ndarray
    offer_batch: np.ndarray  # campaign whose offer was redeemed, -1 for none
    complaint: np.ndarray  # bool: the purchase led to a complaint
    referral: np.ndarray  # bool: she brought a friend


class CustomerEngine(Protocol):
    """Hidden customer state and the rules that move it (one row or agent per customer)."""

    def add(self, customers: Customers, day: int, first_purchase_today: bool) -> None:
        """Customers join; those who join with their first purchase today start their
        clocks tomorrow (a second visit the same day merges into the first)."""

    def keys(self) -> np.ndarray: ...

    def alive(self) -> np.ndarray: ...

    def fatigue_total(self) -> np.ndarray: ...

    def fatigue_sum(self) -> float: ...

    def receive(self, delivery: Delivery) -> Reception: ...

    def change_satisfaction(self, customers: np.ndarray, delta: np.ndarray) -> None: ...

    def set_cold(self, count: int) -> None:
        """The first `count` rows are customers who left before day 0: daily work may skip
        them."""

    def set_recognised(self, customers: np.ndarray, recognised: np.ndarray) -> None:
        """Recognition (a loyalty tier) lowers her churn hazard while she holds it."""

    def live(self, day: int, visit_lift: float) -> tuple[np.ndarray, np.ndarray]:
        """One day of churn and visit clocks; returns (churned today, buying today)."""
        ...

    def shop(self, buyers: np.ndarray, day: int) -> Baskets: ...

    def end_day(self, day: int) -> None: ...
