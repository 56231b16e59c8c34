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
        self.iso_dates = [date.isoformat() for date in self._dates]  # the daily series' dates
        self.event_today, lift = self._calendar(self.start_date, days)
        # the first day of each occurrence (or day 0 inside one): an event lasts many days
        self.event_starts = [
            event is not None and (day == 0 or self.event_today[day - 1] != event)
            for day, event in enumerate(self.event_today)
        ]
        _, year_lift = self._calendar(dt.date(self.start_date.year, 1, 1), 365)
        self.visit_lift = lift / np.mean(year_lift)

    def date(self, day: int) -> dt.date:
        if 0 <= day < len(self._dates):
            return self._dates[day]
        return self.start_date + dt.timedelta(days=day)

    def _calendar(self, first: dt.date, days: int) -> tuple[list[str | None], np.ndarray]:
        """The event of each of `days` days from `first` (the first in the calendar that
        covers it) and its visit lift (1 without one), over all days at once."""
        day = first.toordinal() + np.arange(days)
        years = range(first.year, dt.date.fromordinal(int(day[-1])).year + 1)
        new_year = np.array([dt.date(y, 1, 1).toordinal() for y in years])
        year_of = np.searchsorted(new_year, day, side="right") - 1
        which = np.full(days, -1)  # index of the day's event, -1 for none
        for k, event in enumerate(self.events):
            starts = np.array([dt.date(y, event.month, event.day).toordinal() for y in years])
            since = day - starts[year_of]
            which[(which < 0) & (since >= 0) & (since < event.days)] = k
        lift = np.array([float(event.visit_lift) for event in self.events] + [1.0])  # [-1]: none
        names = [self.events[k].name if k >= 0 else None for k in which.tolist()]
        return names, lift[which]
