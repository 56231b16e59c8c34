"""The store model: one simulated day at a time, customers, strategy, staff and the ledger.

Each day: newcomers and referred friends join; the strategy reads the store's record and
proposes actions; the holdout is filtered out; messages go out (phone calls queue for staff);
advisors work the queue (SimPy); customers churn and shop; the day's figures are collected.
The hidden side lives in a customer engine (`sim.fast` or `sim.agents`); everything the store
could know is written to the `Ledger`.
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np

from sim import behaviour as rules
from sim.actions import (
    ActionError,
    Actions,
    LoyaltyUpdate,
    MessageBatch,
    Offer,
    check_rows,
    once_each,
)
from sim.agents import AgentCustomers
from sim.channels import Channels
from sim.config import ChannelConfig, PopulationConfig, StoreConfig
from sim.engine import Baskets, CustomerEngine, Delivery
from sim.fast import ArrayCustomers
from sim.ledger import Ledger, ObservableView
from sim.population import (
    Customers,
    initial_customers,
    sample_customers,
)
from sim.random import Streams
from sim.staff import CALL, COMPLAINT, StaffDesk, Task
from sim.store import Store
from sim.table import Table

SLEEPING_DAYS = 180  # silent this long = sleeping (DOMAIN.md lifecycle stages)
CALL_SLOT = 1_000  # draw slots for served calls, apart from the day's message batches
TIER_LEVELS_REPORTED = range(1, 4)  # loyalty tiers counted in the daily series (silver..diamond)
TIER_COLUMNS = tuple(f"tier_{level}" for level in TIER_LEVELS_REPORTED)
TALLIES = (  # today's counts in the daily series
    "new_customers",
    "transactions",
    "revenue",
    "messages",
    "opt_outs",
    "churned",
    "complaints",
)


class StoreModel(mesa.Model):
    """A clothing store's customers under one retention strategy.

    Args:
        customers: customer records in the store's base on day 0 (a twin population brings
            its own number).
        days: days to simulate.
        seed: root seed of every random stream (same seed, same run).
        population: `population` config: traits, history and the behaviour parameters.
        store: `store` config: styles, margin, calendar, staff.
        channels: `channels` config: one entry per channel.
        strategy: an object with `decide(view) -> Actions` (see `strategies.base`).
        holdout: share of customers kept out of every action (a random control group).
        implementation: "fast" (numpy arrays) or "reference" (one Mesa agent per customer).
    """

    def __init__(
        self,
        *,
        customers: int,
        days: int,
        seed: int,
        population: PopulationConfig,
        store: StoreConfig,
        channels: dict[str, ChannelConfig],
        strategy: Any,
        holdout: float = 0.0,
        implementation: str = "fast",
    ) -> None:
        super().__init__(seed=seed)
        self.days = days
        self.streams = Streams(seed)
        self.store = Store(store, days)
        self.staff_cfg = store.staff
        self.channels = Channels(channels)
        self.population_cfg = population
        self.b = population.behaviour
        self.strategy = strategy
        self.holdout_share = holdout
        self.day = 0
        base = initial_customers(
            customers, population, self.store.style_mix, self.channels.reach, self.streams
        )
        customers = len(base)  # a twin brings its own customers
        self.base_customers = customers  # rows below this: the day-0 base; the rest joined
        capacity = int(customers * (1.1 + population.new_customers_per_year * days / 365)) + 64
        engine_args = (
            population,
            self.store.style_mix,
            len(self.channels),
            self.store.complaint_rate,
            self.streams,
        )
        self.customers: CustomerEngine = (
            ArrayCustomers(*engine_args, capacity, days)
            if implementation == "fast"
            else AgentCustomers(self, *engine_args)
        )
        self.ledger = Ledger(len(self.store.styles), self.channels.names, capacity)
        self.outcome = _outcome_table(capacity)
        # Fractional staffing keeps its exact hours, spread over a whole number of advisors.
        staffing = self.staff_cfg.advisors_per_10k_customers * customers / 10_000
        advisors = max(round(staffing), 1) if staffing > 0 else 0
        hours_each = self.staff_cfg.hours_per_day * staffing / advisors if advisors else 0.0
        self.staff = StaffDesk(advisors, hours_each, self.staff_cfg.max_wait_days)
        # a day's money in day-0 terms (CLV)
        self.present_value = (1.0 / self.store.daily_discount) ** np.arange(days + 1)
        newcomers, self._newcomer_rows = self._schedule_newcomers(customers, days)
        friend_pool = self._friend_pool(customers, days)
        self._friend_pool_size = len(friend_pool)
        self._joiners = Customers.concat([newcomers, friend_pool])  # everyone who may join
        self._referrers = np.empty(0, dtype=np.int64)  # rows of yesterday's referring buyers
        self.today: dict[str, float] = _new_day()
        self.tier_counts = np.zeros(128, dtype=np.int64)  # customers per loyalty tier (>0)
        self._join(base, day=0, first_purchase_today=False)
        alive_rows = np.flatnonzero(base.alive)
        first_alive = alive_rows[0] if len(alive_rows) else len(base)
        self.customers.set_cold(int(first_alive))  # the base's dead head
        self.outcome.alive_start[:] = base.alive
        self.outcome.last_purchase_at_start[:] = base.last_purchase_day
        # one table row a day: Mesa's model reporters would deep-copy each value every day
        self.datacollector = mesa.DataCollector(tables={"daily": list(_daily_row(self))})

    # ---------------------------------------------------------------- the day
    def step(self) -> None:
        d = self.day
        self.today = _new_day()  # before anyone joins: newcomers' first purchases count
        self.today["new_customers"] = self._arrivals(d)
        view = ObservableView(
            self.ledger,
            d,
            self.store.date(d),
            self.store.event_today[d],
            self.days,
            self.store.styles,
            event_starts=self.store.event_starts[d],
        )
        actions = self._admit(self.strategy.decide(view))
        for update in actions.loyalty:
            self._apply_loyalty(update, d)
        for slot, batch in enumerate(actions.messages):
            self._send(batch, d, slot)
        self._staff_day(d)
        churned, buyers = self.customers.live(d, self.store.visit_lift[d])
        self.outcome.churned[churned] = True
        self.today["churned"] = len(churned)
        baskets = self.customers.shop(buyers, d)
        self._record_purchases(baskets, d)
        self._after_purchase(baskets, d)
        self.customers.end_day(d)
        self.datacollector.add_table_row("daily", _daily_row(self))
        self.day += 1

    # ---------------------------------------------------------------- customers join
    def _join(
        self,
        customers: Customers,
        day: int,
        first_purchase_today: bool,
        referrer: np.ndarray | None = None,
    ) -> slice:
        rows = self.outcome.append(len(customers), joined_day=day)
        self.customers.add(customers, day, first_purchase_today)
        self.ledger.add_customers(customers, referrer)
        if self.holdout_share > 0:
            in_holdout = self.streams.uniform("holdout", customers.key, 0) < self.holdout_share
            self.outcome.holdout[rows] = in_holdout
        if first_purchase_today:
            # at list price: no offer is open to someone who has just met the store
            spend = customers.spend
            self._book_sales(
                rows, spend, spend, customers.first_items, customers.last_style, -1, day
            )
        return rows

    def _schedule_newcomers(self, customers: int, days: int) -> tuple[Customers, np.ndarray]:
        """Everyone who will join on her own during the run, drawn up front.

        They do not depend on the strategy, so every run of a seed gets the same newcomers.
        Returns them and, per day, the first row of that day's arrivals.
        """
        rate = customers * self.population_cfg.new_customers_per_year / 365
        per_day = self.streams.generator("arrivals").poisson(rate, size=days)
        count = int(per_day.sum())
        newcomers = sample_customers(
            self.streams.generator("newcomers"),
            customers + np.arange(count, dtype=np.uint64),
            np.repeat(np.arange(days), per_day),
            self.population_cfg,
            self.store.style_mix,
            self.channels.reach,
            False,
        )
        return newcomers, np.concatenate([[0], np.cumsum(per_day)])

    def _friend_pool(self, customers: int, days: int) -> Customers:
        """Profiles for referred friends, drawn once: a friend is addressed into this pool by
        her referrer and the day, so a referrer's friend is the same in every run of a seed,
        without drawing her traits one referral at a time."""
        size = max(4096, int(0.1 * customers * days / 365))
        return sample_customers(
            self.streams.generator("friends"),
            np.zeros(size, dtype=np.uint64),
            0,
            self.population_cfg,
            self.store.style_mix,
            self.channels.reach,
            True,
        )

    def _arrivals(self, d: int) -> int:
        """Scheduled newcomers (same in every run of a seed) and friends referred yesterday.

        Both come from `_joiners`: newcomers in day order, then the friend pool."""
        start, stop = self._newcomer_rows[d], self._newcomer_rows[d + 1]
        friends = len(self._referrers)
        if not friends:
            if stop == start:
                return 0
            joining = self._joiners.rows(slice(start, stop))
            referrer = None  # no referral codes today: the record's -1
        else:
            referrer_keys = self.customers.keys()[self._referrers]
            pick = self.streams.uniform("friend", referrer_keys, d - 1) * self._friend_pool_size
            first_friend = len(self._joiners) - self._friend_pool_size
            pick = first_friend + np.minimum(pick.astype(np.int64), self._friend_pool_size - 1)
            joining = self._joiners.rows(np.concatenate([np.arange(start, stop), pick]))
            met = slice(stop - start, None)
            joining.key[met] = self.streams.derived_keys(referrer_keys, d - 1)
            joining.first_purchase_day[met] = d
            joining.last_purchase_day[met] = d
            # her referral code names who brought her
            referrer = np.concatenate([np.full(stop - start, -1), self._referrers])
            self._referrers = np.empty(0, dtype=np.int64)
        self._join(joining, d, first_purchase_today=True, referrer=referrer)
        return len(joining)

    # ---------------------------------------------------------------- strategy actions
    def _admit(self, actions: Actions) -> Actions:
        """Keep what may go out: each customer once per campaign, never the holdout, and no
        message she cannot receive; a row no customer has, or a style the store lacks,
        stops the run (a strategy bug, not a choice to drop)."""
        if not isinstance(actions, Actions):
            raise ActionError(
                f"{type(self.strategy).__name__}.decide must return sim.actions.Actions, "
                f"not {type(actions).__name__}"
            )
        n, holdout = self.ledger.record.n, self.outcome.holdout
        messages = []
        for batch in actions.messages:
            c = self.channels.index(batch.channel)
            check_rows(batch.customers, n, batch.campaign)
            styles = len(self.store.styles)  # a batch's style numbers are >= 0 already
            if batch.style is not None and len(batch.style) and batch.style.max() >= styles:
                raise ValueError(
                    f"{batch.campaign}: style {batch.style.max()} does not exist: give positions "
                    f"in view.styles (0 to {styles - 1})"
                )
            once = once_each(batch.customers)
            if not once.all():
                batch = batch.subset(once)
            idx = batch.customers
            record = self.ledger.record
            keep = record.reachable[:, c][idx] & ~record.opted_out[:, c][idx]
            if self.holdout_share > 0:
                keep &= ~holdout[idx]
            messages.append(batch.subset(keep))
        loyalty = []
        for update in actions.loyalty:
            check_rows(update.customers, n, "loyalty update")
            if len(np.unique(update.customers)) < len(update.customers):
                raise ValueError(
                    "loyalty update: a customer appears twice; give each customer once "
                    "(add up her points first)"
                )
            loyalty.append(update.subset(~holdout[update.customers]))
        return Actions(messages=messages, loyalty=loyalty)

    def _apply_loyalty(self, update: LoyaltyUpdate, d: int) -> None:
        record, idx = self.ledger.record, update.customers
        if len(idx) == 0:
            return
        if update.points is not None:
            np.add.at(record.points, idx, update.points)
        if update.tier is not None:
            np.subtract.at(self.tier_counts, record.tier[idx], 1)
            record.tier[idx] = update.tier
            np.add.at(self.tier_counts, record.tier[idx], 1)
            self.customers.set_recognised(idx, (record.tier[idx] > 0).astype(np.float32))
        self.ledger.loyalty.append(
            customer=idx,
            day=d,
            points=0.0 if update.points is None else update.points,
            tier=record.tier[idx],
        )

    def _send(self, batch: MessageBatch, d: int, slot: int) -> None:
        c = self.channels.index(batch.channel)
        if len(batch.customers) == 0:
            return
        batch_id = self.ledger.new_batch(
            d, batch.channel, batch.campaign, batch.personal, batch.offer
        )
        if self.channels.needs_staff[c]:
            for i, customer in enumerate(batch.customers):
                style = None if batch.style is None else batch.style[i]
                payload = (batch_id, c, batch.personal, style, batch.offer)
                self.staff.submit(Task(CALL, int(customer), d, self.staff_cfg.call_hours, payload))
            return
        self._deliver(
            batch.customers, c, batch.personal, batch.style, batch.offer, batch_id, d, slot
        )

    def _deliver(
        self,
        idx: np.ndarray,
        c: int,
        personal: bool,
        style: np.ndarray | None,
        offer: Offer | None,
        batch_id: int,
        d: int,
        slot: int | np.ndarray,
    ) -> np.ndarray:
        """Messages reach customers; returns who read them. Costs and outcomes are booked."""
        ch = self.channels
        reception = self.customers.receive(
            Delivery(
                customers=idx,
                channel=c,
                read_rate=ch.read_rate[c],
                effect=ch.effect[c],
                fatigue_weight=ch.fatigue_weight[c],
                opt_out_rate=ch.opt_out_rate[c],
                personal=personal,
                style=style,
                offer=offer,
                batch=batch_id,
                day=d,
                slot=slot,
            )
        )
        out, record = self.outcome, self.ledger.record
        if ch.cost[c]:
            out.cost_pv[idx] += ch.cost[c] * self.present_value[d]
        record.messages[:, c][idx] += 1  # a channel's column first: cheaper than [idx, c]
        record.last_message_day[:, c][idx] = d
        read_seen = reception.read.astype(np.int8) if ch.reports_reads[c] else np.int8(-1)
        self.ledger.messages.append(
            customer=idx,
            day=d,
            batch=batch_id,
            style=-1 if style is None else style,
            read=read_seen,
        )
        quitters = idx[reception.opted_out]
        record.opted_out[:, c][quitters] = True
        out.opted_out[quitters] = True
        self.ledger.opt_outs.append(customer=quitters, day=d, channel=c)
        self.today["messages"] += len(idx)
        self.today["opt_outs"] += len(quitters)
        return reception.read

    # ---------------------------------------------------------------- staff
    def _staff_day(self, d: int) -> None:
        """Advisors work today's queue; handled and abandoned tasks take effect."""
        finished, given_up = self.staff.work_day(d)
        if finished:
            self._tasks_done(finished, d)
        self._pay_advisors([t for t in given_up if t.started], d)  # worked on, too late
        dropped = [t for t in given_up if t.kind == COMPLAINT]
        if dropped:
            who = np.array([t.customer for t in dropped])
            self.customers.change_satisfaction(who, -self.b.abandon_penalty)
            self.ledger.complaints.append(
                customer=who,
                day=np.array([t.created_day for t in dropped]),
                handled_day=-1,
                abandoned=True,
            )

    def _pay_advisors(self, tasks: list[Task], d: int) -> None:
        """The advisor hours `tasks` took, charged to their customers."""
        hourly, present_value = self.staff_cfg.hourly_cost, self.present_value[d]
        staff_cost, cost_pv = self.outcome.staff_cost, self.outcome.cost_pv
        for task in tasks:  # a day's few tasks: numpy calls would cost more than the sums
            cost = task.hours * hourly
            staff_cost[task.customer] += cost
            cost_pv[task.customer] += cost * present_value

    def _tasks_done(self, finished: list[Task], d: int) -> None:
        """Advisor time is paid; handled complaints restore satisfaction; calls are made."""
        self._pay_advisors(finished, d)
        complaints = [t for t in finished if t.kind == COMPLAINT]
        if complaints:
            who = np.array([t.customer for t in complaints])
            created = np.array([t.created_day for t in complaints])
            done = np.array([t.done_day for t in complaints])
            delta = rules.complaint_outcome(done - created, self.staff_cfg, self.b)
            self.customers.change_satisfaction(who, delta)
            self.ledger.complaints.append(
                customer=who, day=created, handled_day=done, abandoned=False
            )
        calls = [t for t in finished if t.kind == CALL]
        if calls:
            self._calls_made(calls, d)

    def _calls_made(self, calls: list[Task], d: int) -> None:
        """Advisor calls made today, delivered like messages, one delivery per campaign (each
        call keeps its own draw slot); a customer who answers feels recognised."""
        by_campaign: dict[int, list[Task]] = {}
        for task in calls:
            by_campaign.setdefault(task.payload[0], []).append(task)
        for batch_id, tasks in by_campaign.items():
            _, c, personal, style, offer = tasks[0].payload
            idx = np.array([t.customer for t in tasks])
            styles = None if style is None else np.array([t.payload[3] for t in tasks], np.int8)
            slots = CALL_SLOT + np.array([t.order for t in tasks])
            answered = self._deliver(idx, c, personal, styles, offer, batch_id, d, slots)
            self.customers.change_satisfaction(idx[answered], self.b.call_recognition)

    # ---------------------------------------------------------------- purchases
    def _record_purchases(self, b: Baskets, d: int) -> None:
        i, out, record = b.buyers, self.outcome, self.ledger.record
        if len(i) == 0:
            return
        out.reactivated[i[record.last_purchase_day[i] <= d - SLEEPING_DAYS]] = True
        record.last_purchase_day[i] = d
        record.purchases[i] += 1
        record.spend[i] += b.paid
        record.style_counts[i, b.style] += 1  # buyers are distinct
        self._book_sales(i, b.list_amount, b.paid, b.items, b.style, b.offer_batch, d)

    def _book_sales(
        self,
        i: np.ndarray | slice,
        list_amount: np.ndarray,
        paid: np.ndarray,
        items: np.ndarray,
        style: np.ndarray,
        offer_batch: np.ndarray | int,
        d: int,
    ) -> None:
        """Sales into the transactions log, from which `sim.kpis.sales` sums each customer's
        tallies once at the end. `i` is the buyers' rows, or the slice of newcomers' fresh
        rows (they join with a purchase every day: a slice keeps that cheap)."""
        self.ledger.transactions.append(
            customer=np.arange(i.start, i.stop) if isinstance(i, slice) else i,
            day=d,
            list_amount=list_amount,
            paid=paid,
            items=items,
            style=style,
            offer_batch=offer_batch,
        )
        self.today["transactions"] += len(paid)
        self.today["revenue"] += float(np.add.reduce(paid))

    def _after_purchase(self, b: Baskets, d: int) -> None:
        """Complaints queue for staff; satisfied customers bring friends tomorrow."""
        complainers = b.buyers[b.complaint]
        if len(complainers):
            self.customers.change_satisfaction(complainers, -self.b.complaint_hit)
            self.outcome.complaints[complainers] += 1
        for customer in complainers.tolist():  # raised after today's staff work
            task = Task(COMPLAINT, customer, d, self.staff_cfg.complaint_hours)
            self.staff.submit(task, from_day=d + 1)
        self.today["complaints"] = len(complainers)
        self._referrers = b.buyers[b.referral]


def _outcome_table(capacity: int) -> Table:
    """Per-customer facts only the model knows, kept as the run goes; with the sales in the
    transactions log they give every KPI, for any group of customers (`sim.kpis`)."""
    t = Table(capacity)
    t.add("staff_cost", np.float64)  # advisor time spent on her (complaints, calls)
    t.add("cost_pv", np.float64)  # message and staff costs, discounted to day 0 (for CLV)
    t.add("complaints", np.int32)
    for name in ("opted_out", "churned", "reactivated", "alive_start", "holdout"):
        t.add(name, bool)
    t.add("joined_day", np.int32)
    t.add("last_purchase_at_start", np.int32)  # for the CDNOW "silent 6-9 months" cohort
    return t


def _new_day() -> dict[str, float]:
    """Today's tallies for the daily series, before anything happens."""
    return dict.fromkeys(TALLIES, 0.0)


def _daily_row(m: StoreModel) -> dict[str, Any]:
    """The daily KPI time series: today's row (its keys are the series' columns)."""
    record, today, d = m.ledger.record, m.today, m.day
    return {
        "day": d,
        "date": m.store.iso_dates[d],
        "event": m.store.event_today[d] or "",
        "customers": record.n,
        "alive": np.count_nonzero(m.customers.alive()),
        "active_90d_share": np.count_nonzero(record.last_purchase_day > d - 90) / record.n,
        "transactions": int(today["transactions"]),
        "revenue": round(today["revenue"], 2),
        "messages": int(today["messages"]),
        "opt_outs": int(today["opt_outs"]),
        "churned": int(today["churned"]),
        "new_customers": int(today["new_customers"]),
        "complaints": int(today["complaints"]),
        "staff_backlog": m.staff.backlog,
        "mean_fatigue": m.customers.fatigue_sum() / record.n,
        **dict(
            zip(
                TIER_COLUMNS,
                m.tier_counts[TIER_LEVELS_REPORTED.start : TIER_LEVELS_REPORTED.stop].tolist(),
                strict=True,
            )
        ),
    }
