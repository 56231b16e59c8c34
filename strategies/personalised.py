"""Personalised recommendations instead of a blanket blast: same schedule, her own style."""

from __future__ import annotations

import numpy as np

from sim.actions import Actions
from sim.config import whole
from sim.ledger import ObservableView
from strategies.base import Strategy
from strategies.compose import Message


class Personalised(Strategy):
    """Every reachable customer, on the blanket's schedule, gets a message addressed to her
    by name showing the style she has bought most (from `style_counts`), not the store's mix
    (DOMAIN.md: personalisation from recorded purchases instead of "everything 20% off").

    Args:
        channels: channels in order of preference (the first she can be reached on).
        every_days: days between sends (day 0 is the first send).
        personal: address her by name.
        discount: the offer's discount (0: a recommendation with no offer).
        min_spend: minimum ticket for the offer.
        expiry_days: days the offer stays open.
    """

    def __init__(
        self,
        channels: list[str] | None = None,
        every_days: int = 14,
        personal: bool = True,
        discount: float = 0.1,
        min_spend: float = 0.0,
        expiry_days: int = 7,
    ) -> None:
        self.every_days = whole("every_days", every_days, 1)
        self.message = Message(
            channels=["sms"] if channels is None else channels,
            campaign="personalised",
            personal=personal,
            styled=True,
            discount=discount,
            min_spend=min_spend,
            expiry_days=expiry_days,
        )

    def check(self, channels: list[str], styles: list[str]) -> None:
        self.message.check(channels)

    def campaigns(self) -> list[str]:
        return [self.message.campaign]

    def decide(self, view: ObservableView) -> Actions:
        if view.day % self.every_days:
            return Actions()
        everyone = np.arange(view.n_customers)
        return Actions(messages=self.message.batches(view, everyone))
