"""The response model: how a customer's state moves when she is messaged, served or buys.

Every rule is a plain formula that works on numpy arrays (the fast path) and on single
numbers (the per-agent reference path), so both paths share one definition of each rule.
One exception: the fast path spends `hazard_multiplier` inline, over the stocks it stores
in base-day units (`sim.fast.ArrayCustomers._clocks`); a test holds the two together.
`b` is the `population.behaviour` config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.config import BehaviourConfig, StaffConfig

# A rule's per-customer operand: a column over customers (the fast path) or one customer's
# number (the reference path).
Values = np.ndarray | float

# Relevance of a typical generic promotion; response figures (Hillstrom) are stated for it.
GENERIC_RELEVANCE = 0.5


def daily_decay(half_life_days: float) -> float:
    """Factor a stock keeps each day: fatigue and satisfaction fade with this half-life."""
    return 0.5 ** (1.0 / half_life_days)


def generic_relevance(affinity: np.ndarray, mix: np.ndarray) -> np.ndarray:
    """How well generic content (the store's whole mix) suits her: her liking of the mix
    relative to her favourite style, from 0 to 1. `affinity` is (n, styles) or (styles,)."""
    return (affinity @ mix) / affinity.max(axis=-1)


def styled_relevance(affinity_of_style: np.ndarray, favourite: np.ndarray) -> np.ndarray:
    """How well a message showing one style suits her: 1 for her favourite style, near 0 for
    one she dislikes (sporty items to a French-elegant customer)."""
    return affinity_of_style / favourite


def read_probability(read_rate: float, channel_fatigue: Values, b: BehaviourConfig) -> Values:
    """Fatigue on a channel lowers the chance that the next message on it is read."""
    return read_rate * np.exp(-b.fatigue_read_penalty * channel_fatigue)


def opt_out_probability(base_rate: float, channel_fatigue: Values, b: BehaviourConfig) -> Values:
    """Each message risks an opt-out; the risk rises with fatigue (care turns into harassment)."""
    return np.minimum(base_rate * np.exp(b.fatigue_opt_out * channel_fatigue), 1.0)


def message_fatigue(weight: float, rel: Values, personal: bool, b: BehaviourConfig) -> Values:
    """Fatigue a message adds: more on an intrusive channel or when irrelevant, less if personal."""
    return (
        weight
        * (1.0 + b.irrelevance_fatigue * (1.0 - rel))
        * (b.personal_fatigue if personal else 1.0)
    )


def irritation(rel: Values, b: BehaviourConfig) -> Values:
    """Satisfaction lost to a message that shows what she dislikes (below generic relevance)."""
    return b.irritation * np.maximum(GENERIC_RELEVANCE - rel, 0.0) / GENERIC_RELEVANCE


def response_boost(effect: float, rel: Values, personal: bool, b: BehaviourConfig) -> Values:
    """Extra purchase intensity per day a read message starts with; it fades with a half-life.

    Summed over the days it lasts, it adds `message_purchase_prob` of a purchase for a generic
    message on the reference channel, scaled by relevance, channel effect and personal address.
    """
    keep = daily_decay(b.response_half_life_days)
    scale = effect * (rel / GENERIC_RELEVANCE) * (b.personal_effect if personal else 1.0)
    return b.message_purchase_prob * (1.0 - keep) * scale


def offer_pull(discount: Values, price_sensitivity: Values, b: BehaviourConfig) -> Values:
    """Multiplier on her visit intensity while she holds an open offer."""
    return 1.0 + b.offer_pull * discount * price_sensitivity


def revival_probability(discount: float, price_sensitivity: Values, b: BehaviourConfig) -> Values:
    """Chance a read offer brings back a customer who had silently left."""
    return np.minimum(b.revival_prob * discount * price_sensitivity, 1.0)


NEVER_BACK = 2**31 - 1  # the comeback "day" of a customer who will not come back


def comeback_day(left_day: int | np.ndarray, exp_draw: Values, rate_per_day: float) -> np.ndarray:
    """The day a customer who left on `left_day` comes back on her own, from an Exp(1) draw:
    sleepers return at a constant rate (CDNOW: silent customers buy again more often than a
    buy-till-you-die model allows). A rate of 0 keeps every churn permanent (Pareto/NBD)."""
    if rate_per_day <= 0:
        return np.full(np.shape(exp_draw), NEVER_BACK, dtype=np.int64)
    days = np.minimum(np.floor(np.asarray(exp_draw) / rate_per_day), NEVER_BACK // 2)
    return (left_day + days).astype(np.int64)


def hazard_multiplier(
    fatigue_total: Values, satisfaction: Values, recognised: Values, b: BehaviourConfig
) -> Values:
    """Churn hazard relative to her base: fatigue and dissatisfaction raise it, recognition
    lowers it."""
    return np.exp(
        b.fatigue_churn * fatigue_total
        - b.satisfaction_churn * satisfaction
        - b.recognition_churn * recognised
    )


def complaint_outcome(delay_days: np.ndarray, staff: StaffConfig, b: BehaviourConfig) -> np.ndarray:
    """Satisfaction change when a complaint is handled after `delay_days`.

    Handling removes the hit the complaint caused; fast handling adds goodwill (the service
    recovery effect), each day past the fast window costs some.
    """
    late = np.maximum(delay_days - staff.fast_days, 0)
    return b.complaint_hit + np.where(late == 0, b.recovery_bonus, -b.slow_handling_penalty * late)


def extra_items(u: np.ndarray, items_mean: np.ndarray) -> np.ndarray:
    """Items beyond the first on a ticket: geometric with the customer's mean (inversion)."""
    extra_mean = np.maximum(items_mean - 1.0, 1e-9)
    q = extra_mean / (1.0 + extra_mean)
    return np.floor(np.log(u) / np.log(q)).astype(np.int32)
