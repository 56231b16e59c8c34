"""The store's calendar: events fall on their dates every year and move visits, not their number."""

import datetime as dt

import numpy as np

from sim.config import compose, validate, with_schema
from sim.store import Store


def _store(start: str, days: int) -> Store:
    cfg = with_schema(compose([]))
    cfg.store.start_date = start
    return Store(validate(cfg).store, days)


def test_events_fall_on_their_dates_across_a_new_year():
    store = _store("2025-11-01", 400)  # crosses into 2026
    day = {store.date(d): d for d in range(400)}
    assert store.event_today[day[dt.date(2025, 11, 11)]] == "double_eleven"
    assert store.event_today[day[dt.date(2026, 11, 11)]] == "double_eleven"
    assert store.event_today[day[dt.date(2025, 11, 12)]] is None
    assert store.event_today[day[dt.date(2026, 1, 15)]] == "winter_clearance"  # Jan 2-15
    assert store.event_today[day[dt.date(2026, 1, 16)]] is None
    lift = store.visit_lift
    assert lift[day[dt.date(2026, 11, 11)]] / lift[day[dt.date(2026, 11, 12)]] == 4.0


def test_lifts_average_one_over_a_year():
    store = _store("2025-01-01", 365)
    assert abs(np.mean(store.visit_lift) - 1) < 1e-12


def test_an_empty_calendar_lifts_nothing():
    cfg = with_schema(compose(["store.calendar=[]"]))
    store = Store(validate(cfg).store, 30)
    assert store.event_today == [None] * 30 and np.all(store.visit_lift == 1.0)


def test_an_event_starts_on_its_first_day_or_on_day_0_inside_it():
    """`event` names the event on every one of its days; a strategy acting once per event
    reads `event_starts` (one that read `event` sent 42 drops instead of 2)."""
    store = _store("2025-01-10", 400)  # inside winter_clearance (Jan 2-15)
    day = {store.date(d): d for d in range(400)}
    starts = [store.date(d) for d in range(400) if store.event_starts[d]]
    assert starts[0] == dt.date(2025, 1, 10)
    assert dt.date(2025, 11, 11) in starts and dt.date(2026, 1, 2) in starts
    assert len(starts) == len({(store.event_today[day[s]], s.year) for s in starts})
    for s in starts[1:]:
        assert store.event_today[day[s] - 1] != store.event_today[day[s]]
    event_days = sum(e is not None for e in store.event_today)
    assert event_days > 5 * len(starts)  # events last many days; they start once
