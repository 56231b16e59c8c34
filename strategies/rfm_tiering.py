"""Value tiering from RFM: a different service level, channel and budget per tier."""

from __future__ import annotations

from typing import Any

from strategies.compose import Segmented
from strategies.segments import RFM


class RfmTiering(Segmented):
    """RFM scores put each customer in a value tier (core VIP, active VIP, potential VIP,
    sleeping VIP, sleeping, lost); each tier gets its own treatments (DOMAIN.md: tiering,
    one-to-one advisor for core VIPs, the RFM 8-cell reading).

    Args:
        treatments: treatment name -> {segment (a tier), channels, every_days, personal,
            styled, discount, min_spend, expiry_days, daily_limit, daily_limit_per_10k}
            (see `strategies.compose.Treatment`); a tier with no treatment gets nothing.
        recency_days: R score cut-offs in days since the latest purchase.
        frequency: F score cut-offs in purchase days on record.
        monetary: M score cut-offs in recorded spend.
        high_r: R score from which recency counts as high.
        high_f: F score from which frequency counts as high.
        high_m: M score from which spend counts as high.
    """

    def __init__(
        self,
        treatments: dict[str, Any],
        recency_days: tuple[int, ...] = RFM.recency_days,
        frequency: tuple[int, ...] = RFM.frequency,
        monetary: tuple[float, ...] = RFM.monetary,
        high_r: int = RFM.high_r,
        high_f: int = RFM.high_f,
        high_m: int = RFM.high_m,
    ) -> None:
        rfm = RFM(tuple(recency_days), tuple(frequency), tuple(monetary), high_r, high_f, high_m)
        super().__init__(rfm, treatments)
