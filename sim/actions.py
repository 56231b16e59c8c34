"""What a strategy can do: send messages (with offers), queue advisor calls, set loyalty fields.

These are the only ways a strategy touches customers, so caps and the holdout can filter
everything a strategy proposes in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Offer:
    """A coupon: `discount` off the ticket when she spends at least `min_spend` before expiry."""

    discount: float
    min_spend: float = 0.0
    expiry_days: int = 7

    def __post_init__(self) -> None:
        if not 0 < self.discount < 1:
            raise ValueError(f"offer discount {self.discount} must be between 0 and 1")
        if self.min_spend < 0 or self.expiry_days < 1:
            raise ValueError("offer min_spend must be >= 0 and expiry_days >= 1")


@dataclass
class MessageBatch:
    """One campaign's messages on one channel: same content kind and offer for all recipients.

    `style` (per recipient, or None for generic content) is the style the message shows;
    personal messages (`personal=True`) are addressed to her by name and tire less.
    A message on a channel that needs staff (phone) queues for an advisor.
    """

    customers: np.ndarray
    channel: str
    campaign: str
    personal: bool = False
    style: np.ndarray | None = None
    offer: Offer | None = None

    def __post_init__(self) -> None:
        self.customers = np.asarray(self.customers, dtype=np.int64)
        if self.style is not None:
            self.style = np.asarray(self.style, dtype=np.int8)
            if self.style.shape != self.customers.shape:
                raise ValueError("MessageBatch.style needs one style per recipient")

    def subset(self, keep: np.ndarray) -> MessageBatch:
        """The same campaign restricted to recipients where `keep` is True."""
        return MessageBatch(
            self.customers[keep],
            self.channel,
            self.campaign,
            self.personal,
            None if self.style is None else self.style[keep],
            self.offer,
        )


@dataclass
class LoyaltyUpdate:
    """Points added (may be negative on redemption) and, optionally, a new tier per customer."""

    customers: np.ndarray
    points: np.ndarray | None = None
    tier: np.ndarray | None = None

    def subset(self, keep: np.ndarray) -> LoyaltyUpdate:
        return LoyaltyUpdate(
            np.asarray(self.customers)[keep],
            None if self.points is None else np.asarray(self.points)[keep],
            None if self.tier is None else np.asarray(self.tier)[keep],
        )


@dataclass
class Actions:
    """Everything a strategy proposes for one day."""

    messages: list[MessageBatch] = field(default_factory=list)
    loyalty: list[LoyaltyUpdate] = field(default_factory=list)
