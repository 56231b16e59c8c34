"""The fast path: every customer's hidden state as numpy columns, moved a day at a time.

Purchases and churn run on hazard clocks: each customer holds an Exp(1) budget per clock and
spends her current intensity from it every day; the clock fires when the budget runs out,
and only then is a new budget drawn. With constant intensities this is exactly a Poisson
purchase process and an exponential lifetime (Pareto/NBD), at most one purchase a day (the
literature's same-day merge), and a day costs a handful of array operations however few
customers act. Fatigue per channel decays lazily (its value is brought up to date only when
a message on that channel needs it). The stocks that drive the daily clocks (total fatigue,
satisfaction, message effects) fade without a pass of their own: they are stored in units
of a base day and scaled by the day's factor where the clocks read them (see `_fade_to`).
"""

from __future__ import annotations

import math

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
from sim.table import Table

FATIGUE_MEMORY_DAYS = 3650  # fatigue older than this has decayed to nothing
# 0-d operands: numpy converts a Python number on every call, which costs as much as the
# arithmetic on a day's few buyers
_ZERO32 = np.zeros((), dtype=np.float32)
FADE_RANGE_BITS = 30  # stored stocks reach at most 2**30 times their value (float32 is safe)


class ArrayCustomers:
    """Hidden state of all customers as columns of one growing `Table`.

    Args:
        population: the `population` config (traits and `behaviour`).
        style_mix: the store's style shares.
        n_channels: number of channels (fatigue is kept per channel).
        complaint_rate: share of purchases that lead to a complaint.
        streams: the run's random streams.
        capacity: rows to allocate up front (grows by doubling).
        horizon: days the run lasts (comebacks after it are never scheduled).
    """

    def __init__(
        self,
        population: PopulationConfig,
        style_mix: np.ndarray,
        n_channels: int,
        complaint_rate: float,
        streams: Streams,
        capacity: int,
        horizon: int,
    ) -> None:
        self.b = population.behaviour
        self.spend = GammaSpend(population.spend_p)
        self.mix = style_mix
        self._complaint_rate = np.array(complaint_rate)  # 0-d float64, as the uniforms
        self._top_up = np.array(population.behaviour.min_spend_top_up)
        self.streams = streams
        self.comeback_rate = population.comeback_rate_per_year / 365
        # day -> (rows due back that day, their next comeback clock, their churn clock)
        self._comebacks: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        self.horizon = horizon
        b = self.b
        self.fatigue_keep = rules.daily_decay(b.fatigue_half_life_days)
        self.satisfaction_keep = rules.daily_decay(b.satisfaction_half_life_days)
        self.boost_keep = rules.daily_decay(b.response_half_life_days)
        fastest = min(self.fatigue_keep, self.satisfaction_keep, self.boost_keep)
        self._rebase_after = max(1, int(FADE_RANGE_BITS / -math.log2(fastest)))
        self._faded = 0  # days the stored stocks have faded since their base day
        # float32 0-d constants: numpy would convert a Python float on every call
        self._recognition_churn = np.array(b.recognition_churn, dtype=np.float32)
        t = self.t = Table(capacity, live_views=False)  # rows are always indexed below t.n
        # float32 where a day's arithmetic touches every customer: half the memory traffic.
        t.add("key", np.uint64)
        t.add("lam", np.float32)
        t.add("mu", np.float32)
        t.add("spend_rate", np.float64)
        t.add("items_mean", np.float32)
        t.add("price_sensitivity", np.float32)
        t.add("affinity", np.float32, len(style_mix))
        t.add("favourite", np.float32)  # affinity of her favourite style (see _update_relevance)
        t.add("generic_relevance", np.float32)
        t.add("referral", np.float32)
        t.add("alive", bool)
        t.add("recognised", np.float32)  # 1 while she holds a loyalty tier
        t.add("churn_clock", np.float32)
        t.add("buy_clock", np.float32)
        t.add("fatigue", np.float32, n_channels)  # as of fatigue_day, per channel
        t.add("fatigue_day", np.int32, n_channels)
        # stored in base-day units (see _fade_to): the day's value is stored x the day's scale
        t.add("fatigue_total", np.float32)
        t.add("satisfaction", np.float32)
        t.add("boost", np.float32)  # extra purchase intensity from read messages
        t.add("offer_batch", np.int32, fill=-1)
        t.add("offer_discount", np.float32)
        t.add("offer_min_spend", np.float32)
        t.add("offer_expiry", np.int32, fill=-1)
        t.add("offer_pull", np.float32, fill=1.0)
        t.add("visit_rate", np.float32)  # lam x offer pull: the base of her visit intensity
        t.add("comeback_clock", np.float64)  # Exp(1): how long after leaving she comes back
        t.add("comeback_day", np.int32, fill=rules.NEVER_BACK)  # when she comes back, if gone
        self._fatigue_left = self.fatigue_keep ** np.arange(
            FATIGUE_MEMORY_DAYS + 1, dtype=np.float32
        )
        self._scratch = np.empty((2, 0), dtype=np.float32)
        self._cold = 0  # the first rows, dead since before day 0 (see set_cold)
        self._new_today: int | None = None  # first row of today's joiners (see add)
        self._thawed = np.empty(0, dtype=np.int64)  # cold rows back (sorted): see set_cold
        self._is_thawed = np.zeros(0, dtype=bool)  # per cold row: is she in _thawed?
        self._anyone_recognised = False
        self._last_expiry = -1  # no offer is open after this day
        self._expiring: dict[int, list[np.ndarray]] = {}  # day -> rows whose offer ends then
        self._relevance_rows = 0  # favourite and generic_relevance are set up to this row
        self._purchase_addresses = streams.addresses(
            "purchase", horizon, np.arange(len(PURCHASE_DRAWS))
        )
        # the day's scales of the stored stocks (see _fade_to)
        self._fatigue_scale, self._satisfaction_scale, self._boost_scale = _constants(3)
        self._fatigue_churn, self._satisfaction_churn = _constants(2)
        self._fatigue_unit, self._satisfaction_unit, self._boost_unit = _constants(3)
        (self._lift,) = _constants(1)  # the calendar's visit lift today
        self._fade_to(0)

    def add(self, customers: Customers, day: int, first_purchase_today: bool) -> None:
        """Customers join (the day-0 base, newcomers, referred friends) with fresh clocks;
        those who join with their first purchase today start them tomorrow (a second visit
        the same day merges into the first): they are the table's last rows until then."""
        if first_purchase_today and self._new_today is None:
            self._new_today = self.t.n
        rows = self.t.append(
            len(customers),
            key=customers.key,
            lam=customers.lam,
            mu=customers.mu,
            spend_rate=customers.spend_rate,
            items_mean=customers.items_mean,
            price_sensitivity=customers.price_sensitivity,
            affinity=customers.affinity,
            referral=customers.referral,
            alive=customers.alive,
            churn_clock=customers.churn_clock,
            buy_clock=customers.buy_clock,
            comeback_clock=customers.comeback_clock,
            visit_rate=customers.lam,
        )
        gone = (~customers.alive).nonzero()[0]  # left before day 0 (the base only)
        if len(gone):
            self.t.churn_clock[rows.start + gone] = np.inf  # neither clock fires for her
            self.t.buy_clock[rows.start + gone] = np.inf
            self._schedule_comebacks(rows.start + gone, customers.comeback_clock[gone], day)

    def _schedule_comebacks(self, rows: np.ndarray, clock: np.ndarray, left_day: int) -> None:
        """Those who left on `left_day` come back on the day `rules.comeback_day` gives
        their Exp(1) `clock`; the few due within the run wait in per-day buckets. Most are due
        after it, so they are dropped first: day < horizon exactly when clock / rate is.

        The draws of their return day (the next comeback clock, the new lifetime) are taken
        now, all at once: a few draws on each day would cost more than the whole batch."""
        if self.comeback_rate <= 0:
            return
        soon = clock / self.comeback_rate < self.horizon - left_day
        if not np.count_nonzero(soon):  # cheaper than .any() for a day's few
            return
        rows = rows[soon]
        days = rules.comeback_day(left_day, clock[soon], self.comeback_rate)
        self.t.comeback_day[rows] = days
        order = days.argsort(kind="stable")
        rows, days = rows[order], days[order]
        keys = self.t.key[rows]
        comeback = self.streams.exponential_on("comeback", keys, days)
        churn = self.streams.exponential_on("churn", keys, days).astype(np.float32)
        starts = np.concatenate(([True], days[1:] != days[:-1])).nonzero()[0]
        for first, last in zip(starts, [*starts[1:], len(days)], strict=True):
            due = (rows[first:last], comeback[first:last], churn[first:last])
            self._comebacks.setdefault(int(days[first]), []).append(due)

    def _come_back(self, day: int) -> None:
        """Customers due back today return to the store (a purchase today) with a fresh
        lifetime, unless an offer already brought them back."""
        due = self._comebacks.pop(day, None)
        if due is None:
            return
        t = self.t
        if len(due) == 1:
            rows, comeback, churn = due[0]
        else:
            rows, comeback, churn = (np.concatenate(part) for part in zip(*due, strict=True))
        back = (t.comeback_day[rows] == day) & ~t.alive[rows]  # none is cold (set_cold)
        rows = rows[back]
        t.alive[rows] = True
        t.comeback_day[rows] = rules.NEVER_BACK
        t.comeback_clock[rows] = comeback[back]  # next time
        t.churn_clock[rows] = churn[back]
        t.buy_clock[rows] = 0.0  # she comes in today

    def _thaw(self, rows: np.ndarray) -> None:
        """Cold rows (gone before day 0) that are back, or due back, join the daily clocks."""
        cold = rows[rows < self._cold]
        new = cold[~self._is_thawed[cold]]  # most are back already: no re-sort for them
        if len(new):
            if len(new) > 1:
                new = np.unique(new)  # one customer may come twice (two complaints handled)
            self._is_thawed[new] = True
            thawed = np.concatenate([self._thawed, new])
            thawed.sort()  # np.union1d would cost several times more, for what is known apart
            self._thawed = thawed

    def keys(self) -> np.ndarray:
        return self.t.key[: self.t.n]

    def alive(self) -> np.ndarray:
        return self.t.alive[: self.t.n]

    def fatigue_total(self) -> np.ndarray:
        return self.t.fatigue_total[: self.t.n] * self._fatigue_scale

    def fatigue_sum(self) -> float:
        """Everyone's total fatigue added up, for the daily mean: summed in float32 as
        stored, scaled once (a float64 sum would cost twice as much)."""
        return float(np.add.reduce(self.t.fatigue_total[: self.t.n])) * float(self._fatigue_scale)

    def satisfaction(self) -> np.ndarray:
        return self.t.satisfaction[: self.t.n] * self._satisfaction_scale

    def _channel_fatigue(self, idx: np.ndarray, channel: int, day: int) -> np.ndarray:
        t = self.t
        # one channel's column, then the customers: numpy's 2-D fancy indexing costs twice
        age = np.minimum(day - t.fatigue_day[:, channel][idx], FATIGUE_MEMORY_DAYS)
        return t.fatigue[:, channel][idx] * self._fatigue_left[age]

    def _update_relevance(self) -> None:
        """Set the relevance columns of customers who joined since the last message: they
        are read only when a message goes out, and one pass over a few sends' joiners costs
        less than one per day's joiners."""
        t, start = self.t, self._relevance_rows
        if start < t.n:
            new = slice(start, t.n)
            affinity = t.affinity[new]
            t.favourite[new] = affinity.max(axis=1)
            t.generic_relevance[new] = rules.generic_relevance(affinity, self.mix)
            self._relevance_rows = t.n

    def receive(self, d: Delivery) -> Reception:
        """Messages reach customers: some read them, which moves visits, offers and mood."""
        self._update_relevance()
        t, b, idx = self.t, self.b, d.customers
        keys = t.key[idx]
        alive = t.alive[idx]
        fatigue = self._channel_fatigue(idx, d.channel, d.day)
        u_read, u_opt = self.streams.uniform_pair("message", keys, d.day, d.slot)
        read = u_read < rules.read_probability(d.read_rate, fatigue, b)
        # Only those still customers tire, opt out or respond: work on them alone.
        here = alive.nonzero()[0]
        rows = idx[here]
        if d.style is None:
            rel = t.generic_relevance[rows]
        else:
            rel = rules.styled_relevance(t.affinity[rows, d.style[here]], t.favourite[rows])
        added = rules.message_fatigue(d.fatigue_weight, rel, d.personal, b)
        tired = fatigue[here] + added
        t.fatigue[:, d.channel][rows] = tired
        t.fatigue_day[:, d.channel][rows] = d.day
        t.fatigue_total[rows] += added * self._fatigue_unit
        opted_out = np.zeros(len(idx), dtype=bool)
        opted_out[here] = u_opt[here] < rules.opt_out_probability(d.opt_out_rate, tired, b)
        engaged = read[here]
        seen = rows[engaged]
        t.satisfaction[seen] -= rules.irritation(rel[engaged], b) * self._satisfaction_unit
        boost = rules.response_boost(d.effect, rel[engaged], d.personal, b)
        t.boost[seen] += boost * self._boost_unit
        revived = np.zeros(len(idx), dtype=bool)
        if d.offer is not None:
            self._open_offer(seen, d)
            lapsed = (read & ~alive).nonzero()[0]
            p_back = rules.revival_probability(
                d.offer.discount, t.price_sensitivity[idx[lapsed]], b
            )
            slot = d.slot if np.ndim(d.slot) == 0 else d.slot[lapsed]
            revived[lapsed] = self.streams.uniform("revive", keys[lapsed], d.day, slot) < p_back
            back = idx[revived]
            self._thaw(back)
            t.alive[back] = True
            t.comeback_day[back] = rules.NEVER_BACK
            t.churn_clock[back] = self.streams.exponential("churn", t.key[back], d.day)
            t.buy_clock[back] = self.streams.exponential("buy", t.key[back], d.day)
            self._open_offer(back, d)
        return Reception(read=read, opted_out=opted_out, revived=revived)

    def _open_offer(self, idx: np.ndarray, d: Delivery) -> None:
        """She now holds this offer, unless she already holds a better open one."""
        t, offer = self.t, d.offer
        better = (t.offer_batch[idx] < 0) | (t.offer_discount[idx] <= offer.discount)
        idx = idx[better]
        t.offer_batch[idx] = d.batch
        t.offer_discount[idx] = offer.discount
        t.offer_min_spend[idx] = offer.min_spend
        t.offer_expiry[idx] = d.day + offer.expiry_days
        self._expiring.setdefault(d.day + offer.expiry_days, []).append(idx)
        t.offer_pull[idx] = rules.offer_pull(offer.discount, t.price_sensitivity[idx], self.b)
        t.visit_rate[idx] = t.lam[idx] * t.offer_pull[idx]
        self._last_expiry = max(self._last_expiry, d.day + offer.expiry_days)

    def change_satisfaction(self, idx: np.ndarray, delta: np.ndarray | float) -> None:
        """Her mood moves; one who left before day 0 stays out of the daily clocks (hers stand
        at +inf) and her mood fades overnight like everyone's (see `_fade_to`)."""
        delta = np.asarray(delta, dtype=np.float32) * self._satisfaction_unit
        np.add.at(self.t.satisfaction, idx, delta)

    def set_recognised(self, idx: np.ndarray, recognised: np.ndarray) -> None:
        self.t.recognised[idx] = recognised
        self._anyone_recognised = bool(self.t.recognised[: self.t.n].any())

    def set_cold(self, count: int) -> None:
        """The first `count` rows are customers who left before day 0: the daily clocks skip
        them until an offer brings one back (the store does not know who they are; the
        model does).

        Those due back on their own during the run are thawed at once: their clocks stand at
        +inf until they return, which costs less than thawing them one day at a time."""
        self._cold = count
        self._is_thawed = np.zeros(count, dtype=bool)
        self._thaw(np.flatnonzero(self.t.comeback_day[:count] != rules.NEVER_BACK))

    def _working(self) -> list[slice | np.ndarray]:
        """The rows the daily clocks run over: everyone but the cold block and today's
        newcomers, and the cold customers an offer or a comeback brought back."""
        settled = self.t.n if self._new_today is None else self._new_today
        span = [slice(self._cold, settled)] if settled > self._cold else []
        return [*span, self._thawed] if len(self._thawed) else span

    def live(self, day: int, visit_lift: float) -> tuple[np.ndarray, np.ndarray]:
        """One day of the churn and visit clocks; returns (churned today, buying today)."""
        if self._comebacks:
            self._come_back(day)
        # thawed rows first: they lie before the span, so buyers come out in row order
        self._lift[()] = visit_lift
        parts = [self._clocks(rows, visit_lift == 1.0) for rows in reversed(self._working())]
        if len(parts) == 1:
            churned, buyers = parts[0]
        elif not parts:  # nobody's clocks run today (everyone gone, or only today's joiners)
            churned = buyers = np.empty(0, dtype=np.int64)
        else:
            churned = np.concatenate([p[0] for p in parts])
            buyers = np.concatenate([p[1] for p in parts])
        self.t.alive[churned] = False
        if len(churned):
            self._schedule_comebacks(churned, self.t.comeback_clock[churned], day + 1)
        return churned, buyers

    def _clocks(self, rows: slice | np.ndarray, plain_day: bool) -> tuple[np.ndarray, np.ndarray]:
        """Spend the churn and visit clocks of `rows` (a span: views, in place; thawed rows:
        copies, written back). This is the loop every customer-day pays, so it works over
        preallocated buffers, and a churned customer's clocks stand at +inf so that neither
        fires again without a mask."""
        t = self.t
        churn, buy = t.churn_clock[rows], t.buy_clock[rows]
        n = len(churn)
        if self._scratch.shape[1] < n:
            self._scratch = np.empty((2, t.capacity), dtype=np.float32)
        x, y = self._scratch[0, :n], self._scratch[1, :n]
        # hazard multiplier (see behaviour.hazard_multiplier), then spend the churn clock;
        # the stocks are stored in base-day units, and the day's scale is in the factors
        np.multiply(t.fatigue_total[rows], self._fatigue_churn, out=x)
        x -= np.multiply(t.satisfaction[rows], self._satisfaction_churn, out=y)
        if self._anyone_recognised:
            x -= np.multiply(t.recognised[rows], self._recognition_churn, out=y)
        np.exp(x, out=x)
        x *= t.mu[rows]
        churn -= x
        left = (churn <= _ZERO32).nonzero()[0]
        churn[left] = np.inf
        buy[left] = np.inf
        # visit intensity: base rate x open offer x calendar, plus fading message effects
        if plain_day:  # the calendar lifts no visits today
            buy -= t.visit_rate[rows]
        else:
            buy -= np.multiply(t.visit_rate[rows], self._lift, out=x)
        buy -= np.multiply(t.boost[rows], self._boost_scale, out=x)
        buying = (buy <= _ZERO32).nonzero()[0]
        if isinstance(rows, slice):
            return left + rows.start, buying + rows.start
        t.churn_clock[rows], t.buy_clock[rows] = churn, buy
        return rows[left], rows[buying]

    def shop(self, buyers: np.ndarray, day: int) -> Baskets:
        """What each buyer spends, on which style, and whether her offer is redeemed."""
        t, s = self.t, self.streams
        keys = t.key[buyers]
        u = s.uniform_matrix_at(keys, self._purchase_addresses[day])  # as uniform_matrix
        spend = self.spend(
            u[:, SPEND_NORMAL], u[:, SPEND_ACCEPT], u[:, SPEND], t.spend_rate[buyers]
        )
        style = style_choice(u[:, STYLE], t.affinity[buyers], self.mix)
        items = 1 + rules.extra_items(u[:, ITEMS], t.items_mean[buyers])
        discount = np.zeros(len(buyers))
        offer_batch = np.empty(len(buyers), dtype=np.int32)
        offer_batch.fill(-1)  # np.full costs twice as much for a day's buyers
        if day <= self._last_expiry:  # someone may hold an open offer
            holds = (t.offer_batch[buyers] >= 0) & (t.offer_expiry[buyers] >= day)
            short = holds & (spend < t.offer_min_spend[buyers])
            top_up = short & (u[:, TOP_UP] < self._top_up)
            spend = np.where(top_up, t.offer_min_spend[buyers], spend)
            redeemed = holds & (spend >= t.offer_min_spend[buyers])
            discount[redeemed] = spend[redeemed] * t.offer_discount[buyers[redeemed]]
            offer_batch[redeemed] = t.offer_batch[buyers[redeemed]]
            self._close_offers(buyers[redeemed])
        satisfied = t.satisfaction[buyers] >= _ZERO32
        referral = satisfied & (u[:, REFERRAL] < t.referral[buyers])
        complaint = u[:, COMPLAINT] < self._complaint_rate
        # The day's intensity beyond the threshold counts toward her next visit, as in
        # continuous time (a second purchase the same day merges into this one).
        t.buy_clock[buyers] -= np.log(u[:, NEXT_VISIT])
        return Baskets(
            buyers=buyers,
            list_amount=spend,
            paid=spend - discount,
            items=items,
            style=style,
            offer_batch=offer_batch,
            complaint=complaint,
            referral=referral,
        )

    def _close_offers(self, idx: np.ndarray) -> None:
        t = self.t
        t.offer_batch[idx] = -1
        t.offer_pull[idx] = 1.0
        t.visit_rate[idx] = t.lam[idx]

    def end_day(self, day: int) -> None:
        """Offers expire; fatigue, mood and message effects fade overnight."""
        t = self.t
        self._new_today = None  # tomorrow their clocks run
        ending = self._expiring.pop(day, None)
        if ending is not None:  # unless a better offer has replaced hers since
            rows = np.concatenate(ending)
            self._close_offers(rows[t.offer_expiry[rows] == day])
        self._fade_to(self._faded + 1)

    def _fade_to(self, faded: int) -> None:
        """Total fatigue, satisfaction and message effects fade by a constant factor a day,
        for every customer: rather than scale three columns every night, they are stored in
        units of a base day, and the day's scale (keep ** days since the base) is applied
        where they are read, its inverse where something is added. Before the stored values
        could grow past float32's range, the columns are rescaled once and the base moves."""
        # Python floats written into float32 0-d arrays: a new numpy scalar costs far more
        fatigue = self.fatigue_keep**faded
        satisfaction = self.satisfaction_keep**faded
        boost = self.boost_keep**faded
        if faded >= self._rebase_after:
            t = self.t
            for column, scale in zip(
                (t.fatigue_total, t.satisfaction, t.boost),
                (fatigue, satisfaction, boost),
                strict=True,
            ):
                column[: t.n] *= np.float32(scale)
            faded, fatigue, satisfaction, boost = 0, 1.0, 1.0, 1.0
        self._faded = faded
        self._fatigue_scale[()] = fatigue
        self._satisfaction_scale[()] = satisfaction
        self._fatigue_churn[()] = self.b.fatigue_churn * fatigue
        self._satisfaction_churn[()] = self.b.satisfaction_churn * satisfaction
        self._boost_scale[()] = boost
        self._fatigue_unit[()] = 1 / fatigue  # what adding 1 today adds to the stored
        self._satisfaction_unit[()] = 1 / satisfaction
        self._boost_unit[()] = 1 / boost


def _constants(count: int) -> list[np.ndarray]:
    """Float32 0-d arrays, refilled in place: numpy would convert a Python float on every
    call, and a new numpy scalar a day costs more than all the days' refills."""
    return [np.ones((), dtype=np.float32) for _ in range(count)]
