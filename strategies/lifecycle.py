"""Lifecycle triggers: thank-you and return coupon, birthday greetings, new-VIP onboarding."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from sim.actions import Actions
from sim.config import names, number, whole
from sim.ledger import ObservableView
from strategies.base import Strategy
from strategies.compose import Message, due_today, message, schedule, yesterday_purchases
from strategies.segments import day_of_year

TRIGGERS = ("thank_you", "birthday", "onboarding")


class LifecycleTriggers(Strategy):
    """Messages triggered by where a customer is in her life with the store (DOMAIN.md:
    lifecycle triggers): a thank-you with a return coupon some days after her first
    purchase, a birthday greeting with a coupon some days before her recorded birthday, and
    onboarding for a new VIP (welcome, benefits explained, an advisor call).

    Each message is a `strategies.compose.Message` config: {channels, personal, styled,
    discount, min_spend, expiry_days}.

    Args:
        triggers: the triggers that run, any of thank_you, birthday, onboarding.
        thank_you_days: days after her first purchase the thank-you goes out.
        thank_you: the thank-you message and its return coupon.
        birthday_days_ahead: days before her recorded birthday the greeting goes out.
        birthday_max_silence_days: greet only customers who bought within this many days
            (0: every customer with a birthday on record).
        birthday: the birthday greeting and its coupon.
        vip_spend: recorded spend at which a customer becomes a VIP; crossing it starts the
            onboarding (the day after the purchase that crossed it is onboarding day 0).
        welcome_day: onboarding day of the welcome.
        welcome: the welcome message.
        benefits_day: onboarding day the VIP benefits are explained.
        benefits: the benefits message.
        advisor_call_day: onboarding day of the advisor's call.
        advisor_call: the advisor call (on a channel that needs staff, e.g. phone).
    """

    def __init__(
        self,
        triggers: list[str] | None = None,
        thank_you_days: int = 7,
        thank_you: dict[str, Any] | None = None,
        birthday_days_ahead: int = 7,
        birthday_max_silence_days: int = 0,
        birthday: dict[str, Any] | None = None,
        vip_spend: float = 1000.0,
        welcome_day: int = 0,
        welcome: dict[str, Any] | None = None,
        benefits_day: int = 3,
        benefits: dict[str, Any] | None = None,
        advisor_call_day: int = 15,
        advisor_call: dict[str, Any] | None = None,
    ) -> None:
        thank_you_days = whole("thank_you_days", thank_you_days)
        birthday_days_ahead = whole("birthday_days_ahead", birthday_days_ahead)
        birthday_max_silence_days = whole("birthday_max_silence_days", birthday_max_silence_days)
        welcome_day = whole("welcome_day", welcome_day)
        benefits_day = whole("benefits_day", benefits_day)
        advisor_call_day = whole("advisor_call_day", advisor_call_day)
        if birthday_days_ahead > 300:
            raise ValueError("birthday_days_ahead must be at most 300")
        self.triggers = set(names(triggers if triggers is not None else TRIGGERS))
        unknown = self.triggers - set(TRIGGERS)
        if unknown:
            raise ValueError(
                f"unknown trigger '{sorted(unknown)[0]}': choose from {', '.join(TRIGGERS)}"
            )
        self.thank_you_days = thank_you_days
        self.thank_you = message(thank_you, "thank_you")
        self.birthday_days_ahead = birthday_days_ahead
        self.birthday_max_silence_days = birthday_max_silence_days
        self.birthday = message(birthday, "birthday")
        self.vip_spend = number("vip_spend", vip_spend)
        self.steps = {
            "welcome": (welcome_day, message(welcome, "vip_welcome")),
            "benefits": (benefits_day, message(benefits, "vip_benefits")),
            "advisor_call": (
                advisor_call_day,
                message(advisor_call or {"channels": ["phone"], "personal": True}, "vip_call"),
            ),
        }
        self._queue: dict[str, dict[int, list[np.ndarray]]] = {k: {} for k in self.steps}

    def check(self, channels: list[str], styles: list[str]) -> None:
        for m in self._messages():
            m.check(channels)

    def campaigns(self) -> list[str]:
        return [m.campaign for m in self._messages()]

    def _messages(self) -> list[Message]:
        return [self.thank_you, self.birthday, *(m for _, m in self.steps.values())]

    def decide(self, view: ObservableView) -> Actions:
        d = view.day
        messages = []
        if "thank_you" in self.triggers:
            first_purchase = np.flatnonzero(view.first_purchase_day == d - self.thank_you_days)
            messages += self.thank_you.batches(view, first_purchase)
        if "birthday" in self.triggers:
            messages += self.birthday.batches(view, self._birthdays(view))
        new_vips = self._new_vips(view) if "onboarding" in self.triggers else []
        for step, (offset, _) in self.steps.items():
            schedule(self._queue[step], d + offset, new_vips)
        for step, (_, msg) in self.steps.items():
            messages += msg.batches(view, due_today(self._queue[step], d))
        return Actions(messages=messages)

    def _birthdays(self, view: ObservableView) -> np.ndarray:
        target = day_of_year(view.date + dt.timedelta(days=self.birthday_days_ahead))
        if target < 0:
            return np.empty(0, dtype=np.int64)
        rows = np.flatnonzero(view.birthday_recorded == target)
        if self.birthday_max_silence_days:
            rows = rows[view.recency(rows) < self.birthday_max_silence_days]
        return rows

    def _new_vips(self, view: ObservableView) -> np.ndarray:
        """Customers whose recorded spend crossed `vip_spend` with yesterday's purchase."""
        buyers, paid = yesterday_purchases(view)
        spend = view.spend[buyers]
        return buyers[(spend >= self.vip_spend) & (spend - paid < self.vip_spend)]
