"""The blanket promotion: the same generic offer to everyone reachable, on a fixed schedule."""

from __future__ import annotations

import numpy as np

from sim.actions import Actions, MessageBatch, Offer
from sim.config import whole
from sim.ledger import ObservableView
from strategies.base import Strategy, require_channel

CAMPAIGN = "blanket"  # its name on the ledger


class Blanket(Strategy):
    """ "Everything 10% off" to every contactable customer every `every_days` days.

    Args:
        channel: channel the promotion goes out on.
        every_days: days between sends (day 0 is the first send).
        discount: the offer's discount (0 sends a plain reminder with no offer).
        min_spend: minimum ticket for the offer.
        expiry_days: days the offer stays open.
    """

    def __init__(
        self,
        channel: str = "sms",
        every_days: int = 14,
        discount: float = 0.1,
        min_spend: float = 0.0,
        expiry_days: int = 7,
    ) -> None:
        self.channel = channel
        self.every_days = whole("every_days", every_days, 1)
        self.offer = Offer.optional(discount, min_spend, expiry_days)

    def check(self, channels: list[str], styles: list[str]) -> None:
        require_channel(self.channel, channels)

    def campaigns(self) -> list[str]:
        return [CAMPAIGN]

    def decide(self, view: ObservableView) -> Actions:
        if view.day % self.every_days:
            return Actions()
        everyone = np.flatnonzero(view.contactable(self.channel))
        return Actions(messages=[MessageBatch(everyone, self.channel, CAMPAIGN, offer=self.offer)])
