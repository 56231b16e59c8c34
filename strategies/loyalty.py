"""The loyalty programme: points per unit spent, vouchers, tiers by cumulative spend."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from sim.actions import Actions, LoyaltyUpdate
from sim.config import names, number, whole
from sim.ledger import ObservableView
from strategies.base import Strategy
from strategies.compose import Message, message, yesterday_purchases


class Loyalty(Strategy):
    """Points for every unit spent, redeemed for a voucher; tiers reached by cumulative
    recorded spend, with a member coupon at the tier's discount and early access to new
    arrivals (DOMAIN.md: loyalty programme; silver / gold / diamond by cumulative spend).

    A tier is recorded with `LoyaltyUpdate.tier` (1 = the first tier), and holding one is the
    recognition that lowers a member's churn. Points are credited the day after a purchase;
    tiers change the day after the purchase that crosses a threshold, and never go down.

    Args:
        points_per_unit: points credited per unit paid.
        redeem_points: points exchanged for a voucher as soon as she has them.
        voucher: the voucher message: its offer is what the points buy (e.g. 25% off a ticket
            of 200 or more = 50 off).
        tier_spend: recorded spend at which each tier starts, increasing.
        tier_discount: each tier's member discount, one per tier.
        member_coupon_every_days: days between member coupons (0: none).
        member_coupon: the member coupon message (its discount is the tier's).
        arrival_events: calendar events that bring new-season arrivals.
        arrival_preview: the early-access message members get on the first day of one.
    """

    def __init__(
        self,
        points_per_unit: float = 1.0,
        redeem_points: float = 1000.0,
        voucher: dict[str, Any] | None = None,
        tier_spend: list[float] | None = None,
        tier_discount: list[float] | None = None,
        member_coupon_every_days: int = 30,
        member_coupon: dict[str, Any] | None = None,
        arrival_events: list[str] | None = None,
        arrival_preview: dict[str, Any] | None = None,
    ) -> None:
        spends = tier_spend if tier_spend is not None else [1000.0, 2500.0, 5000.0]
        self.tier_spend = np.array([number("tier_spend", x) for x in spends])
        discounts = tier_discount if tier_discount is not None else [0.05, 0.1, 0.15]
        self.tier_discount = [number("tier_discount", x, 0, 1) for x in discounts]
        if len(self.tier_spend) == 0 or np.any(np.diff(self.tier_spend) <= 0):
            raise ValueError("tier_spend needs at least one threshold, increasing")
        if len(self.tier_discount) != len(self.tier_spend):
            raise ValueError(
                f"tier_discount has {len(self.tier_discount)} values for "
                f"{len(self.tier_spend)} tiers: give one discount per tier"
            )
        self.points_per_unit = number("points_per_unit", points_per_unit)
        self.redeem_points = number("redeem_points", redeem_points)
        if self.redeem_points <= 0:
            raise ValueError(f"redeem_points={redeem_points}: give a number above 0")
        member_coupon_every_days = whole("member_coupon_every_days", member_coupon_every_days)
        self.voucher = message(voucher or {"discount": 0.25, "min_spend": 200.0}, "voucher")
        self.member_coupon_every_days = member_coupon_every_days
        coupon = message(member_coupon, "member_coupon")
        self.coupons = [
            dataclasses.replace(coupon, discount=float(x), campaign=f"{coupon.campaign}_{k + 1}")
            if x > 0
            else None
            for k, x in enumerate(self.tier_discount)
        ]
        self.arrival_events = set(names(arrival_events or []))
        self.arrival_preview = message(arrival_preview, "arrival_preview")
        self._started = False

    def check(
        self, channels: list[str], styles: list[str], events: list[str] | None = None
    ) -> None:
        for m in self._messages():
            m.check(channels)
        unknown = sorted(self.arrival_events - set(events)) if events is not None else []
        if unknown:
            raise ValueError(
                f"arrival_events: the store's calendar has no event '{unknown[0]}': "
                + (f"choose from {', '.join(events)}" if events else "give arrival_events=[]")
            )

    def campaigns(self) -> list[str]:
        return [m.campaign for m in self._messages()]

    def _messages(self) -> list[Message]:
        return [self.voucher, self.arrival_preview, *filter(None, self.coupons)]

    def tier_of(self, spend: np.ndarray) -> np.ndarray:
        """Tier reached with this cumulative spend (0: none)."""
        return np.searchsorted(self.tier_spend, spend, side="right").astype(np.int8)

    def decide(self, view: ObservableView) -> Actions:
        loyalty, messages = [], []
        if not self._started:  # the programme opens: recorded spend so far counts
            self._started = True
            tier = self.tier_of(view.spend)
            members = np.flatnonzero(tier > 0)
            if len(members):
                loyalty.append(LoyaltyUpdate(members, tier=tier[members]))
        buyers, paid = yesterday_purchases(view)
        if len(buyers):
            points = paid * self.points_per_unit
            balance = view.points[buyers] + points
            redeem = buyers[balance >= self.redeem_points]
            vouchers = self.voucher.batches(view, redeem)
            messages += vouchers
            if vouchers:
                sent = np.concatenate([b.customers for b in vouchers])
                points[np.isin(buyers, sent)] -= self.redeem_points
            tier = np.maximum(self.tier_of(view.spend[buyers]), view.tier[buyers])
            loyalty.append(LoyaltyUpdate(buyers, points=points, tier=tier))
        messages += self._member_coupons(view)
        messages += self._arrivals(view)
        return Actions(messages=messages, loyalty=loyalty)

    def _member_coupons(self, view: ObservableView) -> list:
        every = self.member_coupon_every_days
        if not every:
            return []
        rows = np.arange((-view.day) % every, view.n_customers, every)
        tier = view.tier[rows]
        out = []
        for k, coupon in enumerate(self.coupons):
            if coupon is not None:
                out += coupon.batches(view, rows[tier == k + 1])
        return out

    def _arrivals(self, view: ObservableView) -> list:
        if not (view.event_starts and view.event in self.arrival_events):
            return []
        return self.arrival_preview.batches(view, np.flatnonzero(view.tier > 0))
