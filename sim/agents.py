"""The reference path: each customer a Mesa agent with her own `step()`, written for reading.

It applies the same rules as `sim.fast` (both follow `sim.behaviour`) and takes the same
addressed random draws, one customer at a time, so that a test can check the fast path
against it. It is far slower: use it for small populations and to read what a customer does.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from sim import behaviour as rules
from sim.config import PopulationConfig
from sim.engine import (
    COMPLAINT,
    ITEMS,
    NEXT_VISIT,
    PURCHASE_DRAWS,
    REFERRAL,
    SPEND,
    SPEND_ACCEPT,
    SPEND_NORMAL,
    STYLE,
    TOP_UP,
    Baskets,
    Delivery,
    Reception,
)
from sim.population import Customers, GammaSpend, style_choice
from sim.random import Streams


class CustomerAgent(mesa.Agent):
    """One customer: her hidden traits, her mood and fatigue, her clocks and her open offer."""

    def __init__(
        self,
        model: mesa.Model,
        engine: AgentCustomers,
        customers: Customers,
        i: int,
        day: int,
        first_purchase_today: bool,
    ):
        super().__init__(model)
        self.engine = engine
        self.row = len(engine.agents)
        self.key = int(customers.key[i])
        self.lam = float(customers.lam[i])
        self.mu = float(customers.mu[i])
        self.spend_rate = float(customers.spend_rate[i])
        self.items_mean = float(customers.items_mean[i])
        self.price_sensitivity = float(customers.price_sensitivity[i])
        self.affinity = customers.affinity[i].astype(np.float64)
        self.referral = float(customers.referral[i])
        self.alive = bool(customers.alive[i])
        self.churn_clock = float(customers.churn_clock[i])
        self.buy_clock = float(customers.buy_clock[i]) if self.alive else math.inf
        self.comeback_clock = float(customers.comeback_clock[i])
        self.comeback_day = (
            rules.NEVER_BACK
            if self.alive
            else int(rules.comeback_day(day, self.comeback_clock, engine.comeback_rate))
        )
        self.fatigue = [0.0] * engine.n_channels  # per channel, decays every night
        self.satisfaction = 0.0
        self.recognised = 0.0
        self.boost = 0.0  # extra visit intensity from messages she read
        self.offer: Delivery | None = None  # the open offer she holds, with its campaign
        self.offer_expiry = -1
        self.churned_today = False
        self.buying_today = False
        self.first_visit_day = day if first_purchase_today else None  # her clocks start after

    def draw(self, purpose: str, day: int, slot: int = 0) -> float:
        """Her own addressed uniform draw (the same number the fast path uses)."""
        return float(self.engine.streams.uniform(purpose, np.array([self.key]), day, slot)[0])

    # -------------------------------------------------------------- messages
    def receive(self, d: Delivery, style: int | None, slot: int) -> tuple[bool, bool, bool]:
        """A message reaches her; returns (read, opted out, came back from having left)."""
        b = self.engine.b
        if style is None:
            rel = float(rules.generic_relevance(self.affinity, self.engine.mix))
        else:
            rel = float(rules.styled_relevance(self.affinity[style], self.affinity.max()))
        u_read, u_opt = self.engine.streams.uniform_pair(
            "message", np.array([self.key]), d.day, slot
        )
        read = bool(u_read[0] < rules.read_probability(d.read_rate, self.fatigue[d.channel], b))
        if not self.alive:
            revived = read and d.offer is not None and self._revived_by(d, slot)
            return read, False, revived
        self.fatigue[d.channel] += float(
            rules.message_fatigue(d.fatigue_weight, rel, d.personal, b)
        )
        p_opt = rules.opt_out_probability(d.opt_out_rate, self.fatigue[d.channel], b)
        opted_out = bool(u_opt[0] < p_opt)
        if read:
            self.satisfaction -= float(rules.irritation(rel, b))
            self.boost += float(rules.response_boost(d.effect, rel, d.personal, b))
            if d.offer is not None:
                self._take_offer(d)
        return read, opted_out, False

    def _revived_by(self, d: Delivery, slot: int) -> bool:
        p_back = rules.revival_probability(d.offer.discount, self.price_sensitivity, self.engine.b)
        if self.draw("revive", d.day, slot) >= p_back:
            return False
        self.alive = True
        self.comeback_day = rules.NEVER_BACK
        self.churn_clock = -math.log(self.draw("churn", d.day))
        self.buy_clock = -math.log(self.draw("buy", d.day))
        self._take_offer(d)
        return True

    def _take_offer(self, d: Delivery) -> None:
        if self.offer is None or self.offer.offer.discount <= d.offer.discount:
            self.offer = d
            self.offer_expiry = d.day + d.offer.expiry_days

    def _offer_pull(self) -> float:
        if self.offer is None:
            return 1.0
        return float(
            rules.offer_pull(self.offer.offer.discount, self.price_sensitivity, self.engine.b)
        )

    # -------------------------------------------------------------- the day
    def step(self) -> None:
        """Her day: she may silently leave; if not, she may come in and buy."""
        self.churned_today = self.buying_today = False
        day = self.model.day
        if day == self.first_visit_day:  # she has just bought: a second visit would merge
            return
        if not self.alive:
            if day != self.comeback_day:
                return
            # she comes back on her own: into the store today, with a fresh lifetime
            self.alive = True
            self.comeback_day = rules.NEVER_BACK
            self.comeback_clock = -math.log(self.draw("comeback", day))  # for next time
            self.churn_clock = -math.log(self.draw("churn", day))
            self.buy_clock = 0.0
        b = self.engine.b
        hazard = rules.hazard_multiplier(sum(self.fatigue), self.satisfaction, self.recognised, b)
        self.churn_clock -= self.mu * float(hazard)
        if self.churn_clock <= 0:
            self.alive = False
            self.churned_today = True
            back = rules.comeback_day(day + 1, self.comeback_clock, self.engine.comeback_rate)
            self.comeback_day = int(back)
            return
        lift = float(self.model.store.visit_lift[day])
        self.buy_clock -= self.lam * self._offer_pull() * lift + self.boost
        self.buying_today = self.buy_clock <= 0

    def shop(self, day: int) -> tuple[float, float, int, int, int, bool, bool]:
        """What she buys: (list amount, paid, items, style, redeemed campaign, complaint,
        referral)."""
        engine, b = self.engine, self.engine.b
        u = engine.streams.uniform_matrix(
            "purchase", np.array([self.key]), day, np.arange(len(PURCHASE_DRAWS))
        )[0]
        draws = (
            u[SPEND_NORMAL : SPEND_NORMAL + 1],
            u[SPEND_ACCEPT : SPEND_ACCEPT + 1],
            u[SPEND : SPEND + 1],
        )
        spend = float(engine.spend(*draws, self.spend_rate)[0])
        style = int(style_choice(u[STYLE : STYLE + 1], self.affinity[None, :], engine.mix)[0])
        items = 1 + int(rules.extra_items(u[ITEMS : ITEMS + 1], np.array([self.items_mean]))[0])
        redeemed, discount = -1, 0.0
        if self.offer is not None and self.offer_expiry >= day:
            terms = self.offer.offer
            if spend < terms.min_spend and u[TOP_UP] < b.min_spend_top_up:
                spend = terms.min_spend
            if spend >= terms.min_spend:
                redeemed, discount = self.offer.batch, spend * terms.discount
                self.offer = None
        referral = self.satisfaction >= 0 and u[REFERRAL] < self.referral
        complaint = u[COMPLAINT] < engine.complaint_rate
        self.buy_clock -= math.log(u[NEXT_VISIT])  # the day's overshoot counts toward the next
        return spend, spend - discount, items, style, redeemed, complaint, referral

    def end_day(self, day: int) -> None:
        """Overnight: her offer may expire; fatigue, mood and message effects fade."""
        if self.offer is not None and self.offer_expiry == day:
            self.offer = None
        self.fatigue = [f * self.engine.fatigue_keep for f in self.fatigue]
        self.satisfaction *= self.engine.satisfaction_keep
        self.boost *= self.engine.boost_keep


class AgentCustomers:
    """The customer engine as a crowd of `CustomerAgent`s (see `sim.engine.CustomerEngine`)."""

    def __init__(
        self,
        model: mesa.Model,
        population: PopulationConfig,
        style_mix: np.ndarray,
        n_channels: int,
        complaint_rate: float,
        streams: Streams,
    ) -> None:
        self.model = model
        self.b = population.behaviour
        self.spend = GammaSpend(population.spend_p)
        self.mix = style_mix
        self.n_channels = n_channels
        self.comeback_rate = population.comeback_rate_per_year / 365
        self.complaint_rate = complaint_rate
        self.streams = streams
        self.fatigue_keep = rules.daily_decay(self.b.fatigue_half_life_days)
        self.satisfaction_keep = rules.daily_decay(self.b.satisfaction_half_life_days)
        self.boost_keep = rules.daily_decay(self.b.response_half_life_days)
        self.agents: list[CustomerAgent] = []

    def add(self, customers: Customers, day: int, first_purchase_today: bool) -> None:
        for i in range(len(customers)):
            agent = CustomerAgent(self.model, self, customers, i, day, first_purchase_today)
            self.agents.append(agent)

    def keys(self) -> np.ndarray:
        return np.array([a.key for a in self.agents], dtype=np.uint64)

    def alive(self) -> np.ndarray:
        return np.array([a.alive for a in self.agents])

    def fatigue_total(self) -> np.ndarray:
        return np.array([sum(a.fatigue) for a in self.agents])

    def fatigue_sum(self) -> float:
        return float(self.fatigue_total().sum())

    def receive(self, d: Delivery) -> Reception:
        outcomes = [
            self.agents[row].receive(
                d,
                None if d.style is None else int(d.style[j]),
                int(d.slot if np.ndim(d.slot) == 0 else d.slot[j]),
            )
            for j, row in enumerate(d.customers)
        ]
        read, opted_out, revived = (
            np.array(col, dtype=bool).reshape(-1) for col in zip(*outcomes, strict=True)
        )
        return Reception(read=read, opted_out=opted_out, revived=revived)

    def change_satisfaction(self, customers: np.ndarray, delta: np.ndarray | float) -> None:
        for row, change in zip(customers, np.broadcast_to(delta, len(customers)), strict=True):
            self.agents[row].satisfaction += float(change)

    def set_cold(self, count: int) -> None:
        """Agents who left before day 0 simply return at once from `step`."""

    def set_recognised(self, customers: np.ndarray, recognised: np.ndarray) -> None:
        for row, value in zip(customers, recognised, strict=True):
            self.agents[row].recognised = float(value)

    def live(self, day: int, visit_lift: float) -> tuple[np.ndarray, np.ndarray]:
        self.model.agents.do("step")
        churned = [a.row for a in self.agents if a.churned_today]
        buyers = [a.row for a in self.agents if a.buying_today]
        return np.array(churned, dtype=np.int64), np.array(buyers, dtype=np.int64)

    def shop(self, buyers: np.ndarray, day: int) -> Baskets:
        rows = [self.agents[row].shop(day) for row in buyers]
        columns = list(zip(*rows, strict=True)) if rows else [[]] * 7
        spend, paid, items, style, batch, complaint, referral = (np.array(c) for c in columns)
        return Baskets(
            buyers=np.asarray(buyers, dtype=np.int64),
            list_amount=spend.astype(np.float64),
            paid=paid.astype(np.float64),
            items=items.astype(np.int32),
            style=style.astype(np.int8),
            offer_batch=batch.astype(np.int32),
            complaint=complaint.astype(bool),
            referral=referral.astype(bool),
        )

    def end_day(self, day: int) -> None:
        for agent in self.agents:
            agent.end_day(day)
