"""Referral rewards: a welcome reward for the referred friend and a thank-you for her referrer."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.actions import Actions, LoyaltyUpdate
from sim.config import number, whole
from sim.ledger import ObservableView
from strategies.base import Strategy
from strategies.compose import due_today, message, schedule


class Referral(Strategy):
    """Rewards for both sides of a referral (DOMAIN.md: referral rewards for both sides;
    people cluster, friends of a buyer buy more).

    A customer who joined through a friend (`referred` on record) gets a welcome reward
    `welcome_after_days` after her first purchase, to turn one visit into a habit. Her
    referrer, where the record names her (`referrer`, the friend's referral code), gets a
    thank-you reward and points.

    Args:
        welcome_after_days: days after the referred customer's first purchase her reward
            goes out.
        friend_reward: the referred customer's welcome message and coupon.
        referrer_reward: the referrer's thank-you message and coupon.
        referrer_points: loyalty points credited to the referrer per friend (0: none).
    """

    def __init__(
        self,
        welcome_after_days: int = 1,
        friend_reward: dict[str, Any] | None = None,
        referrer_reward: dict[str, Any] | None = None,
        referrer_points: float = 0.0,
    ) -> None:
        self.welcome_after_days = whole("welcome_after_days", welcome_after_days)
        self.friend_reward = message(friend_reward, "referral_welcome")
        self.referrer_reward = message(referrer_reward, "referral_thanks")
        self.referrer_points = number("referrer_points", referrer_points)
        self._seen = 0  # customers on record at the last decision
        self._queue: dict[int, list[np.ndarray]] = {}

    def check(self, channels: list[str], styles: list[str]) -> None:
        self.friend_reward.check(channels)
        self.referrer_reward.check(channels)

    def campaigns(self) -> list[str]:
        return [self.friend_reward.campaign, self.referrer_reward.campaign]

    def decide(self, view: ObservableView) -> Actions:
        joined = np.arange(self._seen, view.n_customers)
        self._seen = view.n_customers
        friends = joined[view.referred[joined] & (view.first_purchase_day[joined] >= view.day)]
        schedule(self._queue, view.day + self.welcome_after_days, friends)
        messages = self.friend_reward.batches(view, due_today(self._queue, view.day))
        loyalty = []
        referrers = view.referrer[friends]
        referrers = referrers[referrers >= 0]
        if len(referrers):
            messages += self.referrer_reward.batches(view, np.unique(referrers))
            if self.referrer_points:
                who, count = np.unique(referrers, return_counts=True)
                loyalty.append(LoyaltyUpdate(who, points=count * self.referrer_points))
        return Actions(messages=messages, loyalty=loyalty)
