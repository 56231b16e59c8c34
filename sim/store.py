"""The store: its style mix, margin and calendar of events that bring customers in."""

from __future__ import annotations

import datetime as dt

import numpy as np

from sim.config import StoreConfig


class Store:
    """What the store sells and when customers come.

    Calendar lifts are normalised so that the visit intensity averages 1 over a year: the
    calendar moves purchases in time without changing their yearly number, so a population
    calibrated on a year of data keeps its fitted rate.
    """

    def __init__(self, cfg: StoreConfig, days: int) -> None:
        self.name: str = cfg.name
        self.start_date = dt.date.fromisoformat(str(cfg.start_date))
        self.styles: list[str] = list(cfg.styles)
        self.style_mix = np.asarray(cfg.style_mix, dtype=np.float64)
        self.style_mix /= self.style_mix.sum()
        self.gross_margin: float = cfg.gross_margin
        self.complaint_rate: float = cfg.complaint_rate
        self.vip_spend_threshold: float = cfg.vip_spend_threshold
        self.daily_discount = (1.0 + cfg.annual_discount_rate) ** (1.0 / 365.0)
        self.events = list(cfg.calendar)
        self._dates = [self.start_date + dt.timedelta(days=day) for day in range(days + 1)]
        today = [self._event_on(self.date(day)) for day in range(days)]
        self.event_today: list[str | None] = [name for name, _ in today]
        first = dt.date(self.start_date.year, 1, 1)
        mean_lift = np.mean([self._event_on(first + dt.timedelta(days=d))[1] for d in range(365)])
        self.visit_lift = np.array([lift for _, lift in today]) / mean_lift

    def date(self, day: int) -> dt.date:
        if 0 <= day < len(self._dates):
            return self._dates[day]
        return self.start_date + dt.timedelta(days=day)

    def _event_on(self, date: dt.date) -> tuple[str | None, float]:
        for event in self.events:
            start = dt.date(date.year, event.month, event.day)
            if 0 <= (date - start).days < event.days:
                return event.name, float(event.visit_lift)
        return None, 1.0
