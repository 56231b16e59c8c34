"""Customers: hidden traits, what the store has on record, and the sampler that creates them.

Following RecSim's split, a customer is a state (here `Customers`, arrays with one row per
customer), a sampler that creates it (`sample_customers`, `sample_base`) and a response model
that moves it (`sim.behaviour`). Traits are bulk draws made once, at set-up: the day-0 base,
the scheduled newcomers and the pool referred friends come from (see `sim.model`). Draws made
during the run (a purchase's spend, `GammaSpend`) are fixed functions of counter-based uniforms
(`sim.random`), so that a customer's luck does not depend on who else bought that day.

With every behavioural covariate switched off, purchases and churn are exactly a Pareto/NBD
process: purchase rate lam ~ Gamma(r, alpha), dropout hazard mu ~ Gamma(s, beta), spend per
visit ~ Gamma(p, nu) with nu ~ Gamma(q, gamma) (Gamma-Gamma).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from scipy.special import gammaincinv, ndtri

from sim import behaviour as rules
from sim.config import PopulationConfig
from sim.random import Streams


class GammaSpend:
    """Gamma(shape, rate) draws, each a fixed function of three uniforms, so that a
    purchase's spend does not depend on who else bought that day.

    Marsaglia and Tsang's method (2000) makes an exact Gamma draw from a normal (the quantile
    of the first uniform) and an acceptance test on the second, and accepts 99.5% of them at the
    default shape (more at larger ones). The rest, and every draw of a shape below 1, where
    the method does not hold, invert the third uniform exactly. The mix is still exactly
    Gamma: an accepted draw is, and a rejected one is replaced by an independent exact one.
    Inversion alone (scipy's gammaincinv, about 0.85 us a draw) took a tenth of a
    million-customer run.

    Args:
        shape: the Gamma shape (the Gamma-Gamma `p`).
    """

    def __init__(self, shape: float) -> None:
        self.shape = shape
        self.accept_reject = shape >= 1
        d = shape - 1 / 3
        # 0-d operands: numpy converts a Python float on every call (see sim.fast)
        self._d = np.array(d)
        self._c = np.array(1 / math.sqrt(9 * d) if self.accept_reject else 0.0)
        self._half = np.array(0.5)
        self._tiny = np.array(np.finfo(np.float64).tiny)

    def __call__(
        self,
        u_normal: np.ndarray,
        u_accept: np.ndarray,
        u_inverse: np.ndarray,
        rate: float | np.ndarray,
    ) -> np.ndarray:
        if not self.accept_reject:
            return gammaincinv(self.shape, u_inverse) / rate
        d, z = self._d, ndtri(u_normal)
        v = np.multiply(z, self._c)
        v += 1.0
        v3 = v * v
        v3 *= v  # a draw of d * v3, kept where log(u) < z^2/2 + d - d*v3 + d*log(v3)
        bound = np.multiply(z, z)
        bound *= self._half
        bound += d
        bound -= np.multiply(v3, d)
        np.maximum(v3, self._tiny, out=v)  # v3 <= 0 is rejected: its bound is about -708 d
        bound += np.multiply(np.log(v, out=v), d, out=v)
        x = np.multiply(v3, d)
        rejected = (np.log(u_accept) >= bound).nonzero()[0]
        if len(rejected):
            x[rejected] = gammaincinv(self.shape, u_inverse[rejected])
        x /= rate
        return x


def style_choice(u: np.ndarray, affinity: np.ndarray, mix: np.ndarray) -> np.ndarray:
    """The style she buys: the store's mix weighted by her affinity (inversion of one uniform)."""
    # column-major: numpy accumulates over the styles twice as fast with each contiguous
    cumulative = np.add.accumulate(np.multiply(affinity, mix, order="F"), axis=-1)
    threshold = u * cumulative[..., -1]
    return np.add.reduce(cumulative[..., :-1] < threshold[..., None], axis=-1, dtype=np.int8)


@dataclass
class Customers:
    """Every customer's hidden traits, recorded profile and history, one row each.

    The model keeps these; a strategy only ever sees the recorded fields through the ledger.
    """

    # hidden traits
    key: np.ndarray  # uint64: stable identity that addresses her counter-based draws
    lam: np.ndarray  # purchase intensity per day while alive
    mu: np.ndarray  # churn hazard per day
    spend_rate: np.ndarray  # Gamma-Gamma nu: spend per visit ~ Gamma(p, rate nu)
    items_mean: np.ndarray  # mean items per ticket (attach rate)
    price_sensitivity: np.ndarray  # how much a discount moves her (mean 1)
    affinity: np.ndarray  # (n, styles): how much she likes each style (rows sum to 1)
    referral: np.ndarray  # chance a satisfied purchase brings a friend
    alive: np.ndarray  # bool: still a customer (the store cannot see this)
    churn_clock: np.ndarray  # Exp(1) hazard budget left before she silently churns
    comeback_clock: np.ndarray  # Exp(1): when one who has left comes back (see comeback_day)
    buy_clock: np.ndarray  # Exp(1) budget of purchase intensity before her next visit
    # recorded profile and history
    reachable: np.ndarray  # (n, channels) bool: contact on file
    birthday_recorded: np.ndarray  # day of year, or -1 where staff never recorded it
    first_purchase_day: np.ndarray  # relative to day 0 of the run (negative: before the run)
    last_purchase_day: np.ndarray
    purchases: np.ndarray  # purchase days so far
    spend: np.ndarray  # total spend so far
    last_style: np.ndarray  # style of the latest purchase
    first_items: np.ndarray  # items on her first ticket (a newcomer's purchase on joining)
    referred: np.ndarray  # bool: came through a friend

    def __len__(self) -> int:
        return len(self.key)

    def rows(self, selection: slice | np.ndarray) -> Customers:
        """The customers in `selection`, as their own `Customers`."""
        columns = self.__dict__
        return Customers(**{name: columns[name][selection] for name in _FIELDS})

    @classmethod
    def concat(cls, parts: list[Customers]) -> Customers:
        """One `Customers` holding the parts one after another."""
        return cls(**{name: np.concatenate([p.__dict__[name] for p in parts]) for name in _FIELDS})


_FIELDS = tuple(f.name for f in fields(Customers))  # customers join daily: look them up once


def sample_customers(
    rng: np.random.Generator,
    keys: np.ndarray,
    day: int | np.ndarray,
    population: PopulationConfig,
    style_mix: np.ndarray,
    channel_reach: np.ndarray,
    referred: bool,
) -> Customers:
    """Draw customers who first buy on `day` (one day for all, or one per customer).

    Bulk draws from `rng`, one trait after another, so a set of customers is a fixed function
    of the generator's seed: numpy's own gamma sampler, with no per-shape set-up to pay.
    """
    n, n_styles, n_channels = len(keys), len(style_mix), len(channel_reach)
    b = population.behaviour
    mix = style_mix / style_mix.sum()
    affinity = rng.standard_gamma(population.style_concentration, size=(n, n_styles))
    affinity /= affinity.sum(axis=1, keepdims=True)
    fit = n_styles * (affinity @ mix)  # mean 1 under symmetric affinities
    lam = rng.standard_gamma(population.purchase_r, size=n) / population.purchase_alpha_days
    lam *= fit**b.style_rate_exponent * (1.0 + population.referred_rate_boost * referred)
    mu = rng.standard_gamma(population.dropout_s, size=n) / population.dropout_beta_days
    mu *= fit ** (-b.style_hazard_exponent)
    spend_rate = rng.standard_gamma(population.spend_q, size=n) / population.spend_gamma
    shape = population.price_sensitivity_shape
    price = rng.standard_gamma(shape, size=n) / shape
    referral = np.minimum(rng.standard_exponential(n) * population.referral_propensity, 1.0)
    items_mean = 1.0 + (population.items_mean - 1.0) * rng.standard_exponential(n)
    birthday = rng.integers(0, 365, size=n).astype(np.int16)  # day of year 0..364
    recorded = rng.random(n) < population.birthday_recorded  # the rest the store never learns
    churn_clock = rng.standard_exponential(n)
    buy_clock = rng.standard_exponential(n)
    comeback_clock = rng.standard_exponential(n)
    reachable = rng.random((n, n_channels)) < channel_reach
    first_style = style_choice(rng.random(n), affinity, mix)
    first_spend = rng.standard_gamma(population.spend_p, size=n) / spend_rate
    first_items = 1 + rules.extra_items(rng.random(n), items_mean)
    return Customers(
        key=np.asarray(keys, dtype=np.uint64),
        lam=lam,
        mu=mu,
        spend_rate=spend_rate,
        items_mean=items_mean.astype(np.float32),
        price_sensitivity=price.astype(np.float32),
        affinity=affinity.astype(np.float32),
        referral=referral.astype(np.float32),
        alive=np.ones(n, dtype=bool),
        churn_clock=churn_clock,
        buy_clock=buy_clock,
        comeback_clock=comeback_clock,
        reachable=reachable,
        birthday_recorded=np.where(recorded, birthday, -1).astype(np.int16),
        first_purchase_day=np.broadcast_to(day, n).astype(np.int32),
        last_purchase_day=np.broadcast_to(day, n).astype(np.int32),
        purchases=np.ones(n, dtype=np.int32),
        spend=first_spend,
        last_style=first_style,
        first_items=first_items,
        referred=np.full(n, referred),
    )


def sample_base(
    n: int,
    population: PopulationConfig,
    style_mix: np.ndarray,
    channel_reach: np.ndarray,
    rng: np.random.Generator,
) -> Customers:
    """The store's customers on day 0, each acquired some time in the last `history_days`.

    Their past is drawn from the same Pareto/NBD process the run continues (exactly, not by
    simulating it day by day): lifetime from the churn clock, repeat purchases Poisson over the
    part of it before day 0, the last one at the maximum of uniform purchase times.
    """
    customers = sample_customers(rng, np.arange(n), 0, population, style_mix, channel_reach, False)
    age = rng.random(n) * population.history_days  # days since her first purchase
    with np.errstate(divide="ignore", over="ignore"):  # a hazard that underflows to 0: never
        lifetime = customers.churn_clock / customers.mu
    alive = lifetime > age
    active = np.minimum(lifetime, age)
    repeats = rng.poisson(customers.lam * active)
    last = -age + active * rng.random(n) ** (1.0 / np.maximum(repeats, 1))
    last = np.where(repeats > 0, last, -age)
    repeat_spend = np.where(
        repeats > 0,
        rng.gamma(np.maximum(repeats, 1) * population.spend_p) / customers.spend_rate,
        0,
    )
    customers.alive = alive
    customers.churn_clock = np.where(alive, customers.churn_clock - customers.mu * age, 0.0)
    customers.first_purchase_day = np.floor(-age).astype(np.int32)
    customers.last_purchase_day = np.minimum(np.floor(last), -1).astype(np.int32)
    customers.purchases = (repeats + 1).astype(np.int32)
    customers.spend = customers.spend + repeat_spend
    # Those who already left first: one block the daily clocks can skip, next to no one.
    return customers.rows(np.argsort(alive, kind="stable"))


def initial_customers(
    n: int,
    population: PopulationConfig,
    style_mix: np.ndarray,
    channel_reach: np.ndarray,
    streams: Streams,
) -> Customers:
    """The store's customers on day 0, as `population.kind` says.

    synthetic: `n` customers drawn by `sample_base`. twin: the calibrated store's real
    customers from `population.twin_file` (`sim.twin.load_twin`); `n` is ignored.
    """
    if population.kind == "twin":
        from sim.twin import load_twin  # sim.twin builds on this module

        return load_twin(
            population.twin_file, population, style_mix, channel_reach, streams.generator("twin")
        )
    return sample_base(n, population, style_mix, channel_reach, streams.generator("base"))
