"""What a strategy can do: send messages (with offers), queue advisor calls, set loyalty fields.

These are the only ways a strategy touches customers, so caps and the holdout can filter
everything a strategy proposes in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.config import number, whole

MAX_TIER = 127  # the record keeps a tier in one signed byte
MAX_STYLE = 127  # and a style


class ActionError(TypeError, ValueError):
    """An action of the wrong kind (a list for Actions, a number for an Offer): a mistake in
    the strategy's settings or code that the commands name in one line, as they do bad
    values (ValueError)."""


@dataclass(frozen=True)
class Offer:
    """A coupon: `discount` off the ticket when she spends at least `min_spend` before expiry."""

    discount: float
    min_spend: float = 0.0
    expiry_days: int = 7

    def __post_init__(self) -> None:
        discount = number("offer discount", self.discount, 0, 1)
        if not 0 < discount < 1:
            raise ValueError(f"offer discount {self.discount}: give a share above 0 and below 1")
        object.__setattr__(self, "discount", discount)
        object.__setattr__(self, "min_spend", number("offer min_spend", self.min_spend))
        object.__setattr__(self, "expiry_days", whole("offer expiry_days", self.expiry_days, 1))

    @classmethod
    def optional(cls, discount: float, min_spend: float, expiry_days: int) -> Offer | None:
        """The coupon a strategy's settings describe, or None for a discount of 0 (a message
        with no offer); a negative or NaN discount is refused, not read as "no offer"."""
        if number("offer discount", discount, 0, 1) == 0:
            return None
        return cls(discount, min_spend, expiry_days)


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
        self.customers = rows(self.customers, f"MessageBatch {self.campaign} customers")
        if not isinstance(self.channel, str):
            raise ActionError(f"MessageBatch {self.campaign}: channel must be a channel's name")
        if self.offer is not None and not isinstance(self.offer, Offer):
            raise ActionError(
                f"MessageBatch {self.campaign}: offer must be a sim.actions.Offer or None, "
                f"not {type(self.offer).__name__}"
            )
        if self.style is not None:
            style = rows(self.style, f"MessageBatch {self.campaign} style")
            if style.shape != self.customers.shape:
                raise ValueError("MessageBatch.style needs one style per recipient")
            if len(style) and not 0 <= style.min() <= style.max() <= MAX_STYLE:
                raise ValueError(
                    f"MessageBatch {self.campaign} style: give positions in view.styles"
                )
            self.style = style.astype(np.int8)

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
    points: np.ndarray | float | None = None
    tier: np.ndarray | int | None = None

    def __post_init__(self) -> None:
        self.customers = rows(self.customers, "LoyaltyUpdate customers")
        n = len(self.customers)
        if self.points is not None:
            points = np.asarray(self.points, dtype=np.float64)
            if points.ndim == 0:  # one value for all
                points = np.full(n, points)
            if points.shape != (n,) or not np.isfinite(points).all():
                raise ValueError("LoyaltyUpdate points: give one finite number per customer")
            self.points = points
        if self.tier is not None:
            tier = np.asarray(self.tier)
            if tier.ndim == 0:
                tier = np.full(n, tier)
            if tier.shape != (n,) or (n and (tier.dtype.kind not in "iu" or tier.min() < 0)):
                raise ValueError(
                    "LoyaltyUpdate tier: give one whole number per customer, 0 (none) or more"
                )
            if n and tier.max() > MAX_TIER:
                raise ValueError(f"LoyaltyUpdate tier {tier.max()}: tiers run from 0 to {MAX_TIER}")
            self.tier = tier.astype(np.int8)

    def subset(self, keep: np.ndarray) -> LoyaltyUpdate:
        return LoyaltyUpdate(
            self.customers[keep],
            None if self.points is None else self.points[keep],
            None if self.tier is None else self.tier[keep],
        )


@dataclass
class Actions:
    """Everything a strategy proposes for one day."""

    messages: list[MessageBatch] = field(default_factory=list)
    loyalty: list[LoyaltyUpdate] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name, kind in (("messages", MessageBatch), ("loyalty", LoyaltyUpdate)):
            items = getattr(self, name)
            if not isinstance(items, list) or not all(isinstance(x, kind) for x in items):
                raise ActionError(f"Actions.{name} must be a list of {kind.__name__}")


def rows(values: object, what: str) -> np.ndarray:
    """Customer rows (or style numbers) as a 1-D int64 array: a boolean mask or fractional
    rows would otherwise be read as row numbers (a mask as rows 0 and 1), silently messaging
    the wrong customers."""
    array = np.asarray(values)
    if array.ndim != 1 or (len(array) and array.dtype.kind not in "iu"):
        hint = ""
        if array.dtype == bool:
            hint = " (for a mask, use np.flatnonzero(mask))"
        elif array.dtype.kind in "OUS" and what.endswith("style"):  # names, not positions
            hint = " (positions in view.styles: view.styles.index(name))"
        raise ValueError(f"{what} must be a 1-D array of whole numbers{hint}")
    return array.astype(np.int64, copy=False)


def check_rows(customers: np.ndarray, n: int, what: str) -> None:
    """Stop on a row no customer has: a bug in the strategy, not a choice to drop."""
    if len(customers) and (customers.min() < 0 or customers.max() >= n):
        raise ValueError(f"{what}: customer rows must be between 0 and {n - 1}")


def once_each(customers: np.ndarray) -> np.ndarray:
    """Mask keeping each customer's first message in a batch: a campaign messages a customer
    at most once a day."""
    keep = np.ones(len(customers), dtype=bool)
    if len(customers) > 1 and np.any(customers[1:] <= customers[:-1]):  # not distinct, sorted
        keep[:] = False
        keep[np.unique(customers, return_index=True)[1]] = True
    return keep
