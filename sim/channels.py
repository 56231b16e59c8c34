"""Channels (WeChat, SMS, phone, mini-program) as parallel arrays, indexed like the ledger."""

from __future__ import annotations

import numpy as np

from sim.config import ChannelConfig


class Channels:
    """Per-channel reach, read rate, effect, fatigue weight, cost and opt-out rate."""

    def __init__(self, cfg: dict[str, ChannelConfig]) -> None:
        self.names: list[str] = list(cfg.keys())
        if not self.names:
            raise ValueError("channels is empty: configure at least one channel")

        def column(field: str, dtype: type = np.float64) -> np.ndarray:
            return np.array([getattr(cfg[name], field) for name in self.names], dtype=dtype)

        self.reach = column("reach")
        self.read_rate = column("read_rate")
        self.reports_reads = column("reports_reads", bool)
        self.effect = column("effect")
        self.fatigue_weight = column("fatigue_weight")
        self.cost = column("cost")
        self.opt_out_rate = column("opt_out_rate")
        self.needs_staff = column("needs_staff", bool)

    def index(self, name: str) -> int:
        """The channel's column, with a one-line error for an unknown name."""
        if name not in self.names:
            raise ValueError(f"unknown channel '{name}': choose one of {', '.join(self.names)}")
        return self.names.index(name)

    def __len__(self) -> int:
        return len(self.names)
