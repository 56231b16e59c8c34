"""Customers: hidden traits, what the store has on record, and the sampler that creates them.

Following RecSim's split, a customer is a state (here `Customers`, arrays with one row per
customer), a sampler that creates it (`sample_base`, `sample_newcomers`) and a response model
that moves it (`sim.behaviour`). Traits are drawn from uniforms through quantile functions so
that the same code serves the day-0 base and scheduled newcomers (sequential draws) and
referred friends (counter-based draws addressed by the referrer, see `sim.random`).

With every behavioural covariate switched off, purchases and churn are exactly a Pareto/NBD
process: purchase rate lam ~ Gamma(r, alpha), dropout hazard mu ~ Gamma(s, beta), spend per
visit ~ Gamma(p, nu) with nu ~ Gamma(q, gamma) (Gamma-Gamma).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np
from scipy import stats
from scipy.stats.sampling import FastGeneratorInversion

from sim.config import PopulationConfig
from sim.random import Streams


@lru_cache(maxsize=32)
def _gamma_quantile(shape: float) -> FastGeneratorInversion:
    return FastGeneratorInversion(stats.gamma(shape))


def gamma_from_uniform(u: np.ndarray, shape: float, rate: float | np.ndarray) -> np.ndarray:
    """Gamma(shape, rate) by inversion, so that a draw is a fixed function of its uniform."""
    if shape == 1.0:  # the exponential: exact and far cheaper than numerical inversion
        return -np.log1p(-u) / rate
    return _gamma_quantile(float(shape)).ppf(u) / rate


def style_choice(u: np.ndarray, affinity: np.ndarray, mix: np.ndarray) -> np.ndarray:
    """The style she buys: the store's mix weighted by her affinity (inversion of one uniform).

    A loop over the few styles, each step over all customers at once.
    """
    weight = affinity * mix
    threshold = u * weight.sum(axis=1)
    cumulative = np.zeros(len(u))
    choice = np.zeros(len(u), dtype=np.int8)
    for k in range(len(mix) - 1):
        cumulative += weight[:, k]
        choice += cumulative < threshold
    return choice


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
    fit: np.ndarray  # her liking of the store's mix; 1 for an average customer
    referral: np.ndarray  # chance a satisfied purchase brings a friend
    birthday: np.ndarray  # day of year 0..364
    alive: np.ndarray  # bool: still a customer (the store cannot see this)
    churn_clock: np.ndarray  # Exp(1) hazard budget left before she silently churns
    # recorded profile and history
    reachable: np.ndarray  # (n, channels) bool: contact on file
    birthday_recorded: np.ndarray  # day of year, or -1 where staff never recorded it
    first_purchase_day: np.ndarray  # relative to day 0 of the run (negative: before the run)
    last_purchase_day: np.ndarray
    purchases: np.ndarray  # purchase days so far
    spend: np.ndarray  # total spend so far
    last_style: np.ndarray  # style of the latest purchase
    referred: np.ndarray  # bool: came through a friend

    def __len__(self) -> int:
        return len(self.key)

    def rows(self, selection: slice | np.ndarray) -> Customers:
        """The customers in `selection`, as their own `Customers`."""
        return Customers(**{f.name: getattr(self, f.name)[selection] for f in fields(self)})

    @classmethod
    def concat(cls, parts: list[Customers]) -> Customers:
        """One `Customers` holding the parts one after another."""
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        )


class _Columns:
    """Hands out consecutive columns of a uniform matrix, so each trait owns its draws."""

    def __init__(self, u: np.ndarray) -> None:
        self.u, self.next = u, 0

    def take(self, k: int | None = None) -> np.ndarray:
        width = 1 if k is None else k
        block = self.u[:, self.next : self.next + width]
        self.next += width
        return block[:, 0] if k is None else block


def uniforms_per_customer(n_styles: int, n_channels: int) -> int:
    """Width of the uniform matrix `customers_from_uniforms` consumes."""
    return n_styles + n_channels + 11


def uniform_matrix(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    """(n, width) uniforms laid out column by column, since traits are read a column at a time."""
    return rng.random((width, n)).T


def customers_from_uniforms(
    u: np.ndarray,
    keys: np.ndarray,
    day: int | np.ndarray,
    population: PopulationConfig,
    style_mix: np.ndarray,
    channel_reach: np.ndarray,
    referred: bool,
) -> Customers:
    """Turn a matrix of uniforms (one row per customer) into customers who first buy on `day`.

    `day` is one day for all, or one per customer.
    """
    n, n_styles, n_channels = len(keys), len(style_mix), len(channel_reach)
    b = population.behaviour
    c = _Columns(u)
    mix = style_mix / style_mix.sum()
    affinity = gamma_from_uniform(c.take(n_styles), population.style_concentration, 1.0)
    affinity /= affinity.sum(axis=1, keepdims=True)
    fit = n_styles * (affinity @ mix)  # mean 1 under symmetric affinities
    lam = gamma_from_uniform(c.take(), population.purchase_r, population.purchase_alpha_days)
    lam *= fit**b.style_rate_exponent * (1.0 + population.referred_rate_boost * referred)
    mu = gamma_from_uniform(c.take(), population.dropout_s, population.dropout_beta_days)
    mu *= fit ** (-b.style_hazard_exponent)
    spend_rate = gamma_from_uniform(c.take(), population.spend_q, population.spend_gamma)
    shape = population.price_sensitivity_shape
    price = gamma_from_uniform(c.take(), shape, shape)
    referral = np.minimum(-np.log(c.take()) * population.referral_propensity, 1.0)
    items_mean = 1.0 + (population.items_mean - 1.0) * gamma_from_uniform(c.take(), 1.0, 1.0)
    birthday = np.floor(c.take() * 365).astype(np.int16)
    recorded = c.take() < population.birthday_recorded
    churn_clock = -np.log(c.take())
    reachable = c.take(n_channels) < channel_reach
    first_style = style_choice(c.take(), affinity, mix)
    first_spend = gamma_from_uniform(c.take(), population.spend_p, spend_rate)
    return Customers(
        key=np.asarray(keys, dtype=np.uint64),
        lam=lam,
        mu=mu,
        spend_rate=spend_rate,
        items_mean=items_mean.astype(np.float32),
        price_sensitivity=price.astype(np.float32),
        affinity=affinity.astype(np.float32),
        fit=fit.astype(np.float32),
        referral=referral.astype(np.float32),
        birthday=birthday,
        alive=np.ones(n, dtype=bool),
        churn_clock=churn_clock,
        reachable=reachable,
        birthday_recorded=np.where(recorded, birthday, -1).astype(np.int16),
        first_purchase_day=np.broadcast_to(day, n).astype(np.int32),
        last_purchase_day=np.broadcast_to(day, n).astype(np.int32),
        purchases=np.ones(n, dtype=np.int32),
        spend=first_spend,
        last_style=first_style,
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
    width = uniforms_per_customer(len(style_mix), len(channel_reach))
    customers = customers_from_uniforms(
        uniform_matrix(rng, n, width), np.arange(n), 0, population, style_mix, channel_reach, False
    )
    age = rng.random(n) * population.history_days  # days since her first purchase
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
    # Those still alive first: the dead tail is one block the daily clocks can skip.
    return customers.rows(np.argsort(~alive, kind="stable"))


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
