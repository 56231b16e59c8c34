"""The growing columns behind customers and the ledger: appends, fill values, growth."""

import numpy as np
import pytest

from sim.ledger import EventLog
from sim.table import Table


def test_append_writes_given_columns_and_keeps_the_rest_at_fill():
    t = Table(capacity=2)
    t.add("day", np.int32)
    t.add("referrer", np.int32, fill=-1)
    t.add("styles", np.int32, width=3)
    first = t.append(2, day=np.array([4, 5]))
    second = t.append(3, day=7, referrer=np.array([0, 1, 0]))  # one value for all; grows
    assert (first, second) == (slice(0, 2), slice(2, 5))
    assert t.day.tolist() == [4, 5, 7, 7, 7]
    assert t.referrer.tolist() == [-1, -1, 0, 1, 0]
    assert t.styles.shape == (5, 3) and not t.styles.any()


def test_append_refuses_columns_of_another_length():
    t = Table(capacity=4)
    t.add("day", np.int32)
    with pytest.raises(ValueError, match="column day has 3"):
        t.append(2, day=np.arange(3))
    assert t.n == 0


def test_event_log_takes_one_value_for_all_and_refuses_ragged_columns():
    log = EventLog({"customer": np.int32, "day": np.int32})
    log.append(customer=np.array([3, 1]), day=9)
    log.append(customer=np.empty(0, dtype=np.int64), day=10)  # nothing happened
    assert log.column("customer").tolist() == [3, 1] and log.column("day").tolist() == [9, 9]
    log.append(customer=np.array([5, 6, 7]), day=12)  # every chunk holds one day
    assert log.column("day").tolist() == [9, 9, 12, 12, 12]
    assert log.column("day").dtype == np.int32
    with pytest.raises(ValueError, match="event column day has 1 values, not 2"):
        log.append(customer=np.array([1, 2]), day=np.array([4]))


def test_event_log_keeps_one_value_for_all_and_reads_it_back_per_event():
    log = EventLog({"customer": np.int32, "day": np.int32})
    log.append(customer=np.array([3, 1]), day=9)  # a send: one day for its messages
    log.append(customer=np.array([4]), day=np.array([11]))
    log.append(customer=np.array([5, 6, 7]), day=np.array([11, 12, 12]))
    assert log._chunks[0][1]["day"].ndim == 0  # kept as one value, not two
    assert log.column("day").tolist() == [9, 9, 11, 11, 12, 12]
    assert log.column("day").dtype == np.int32
    assert log.frame().customer.tolist() == [3, 1, 4, 5, 6, 7]
    recent = log.since(12)  # from the end: the straddling chunk gives its rows from day 12
    assert recent["customer"].tolist() == [6, 7] and recent["day"].tolist() == [12, 12]
    assert log.since(9)["day"].tolist() == [9, 9, 11, 11, 12, 12]
    assert log.since(13)["customer"].dtype == np.int32 and len(log.since(13)["day"]) == 0


def test_without_live_views_columns_are_whole_and_follow_growth():
    t = Table(capacity=2, live_views=False)
    t.add("day", np.int32, fill=-1)
    t.append(1, day=3)
    assert t.day.tolist() == [3, -1]  # the whole column: the owner indexes below t.n
    t.append(2, day=np.array([4, 5]))  # grows: the attribute is the new column
    assert t.n == 3 and t.day[: t.n].tolist() == [3, 4, 5] and len(t.day) == t.capacity
