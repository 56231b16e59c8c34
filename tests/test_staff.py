"""The SimPy staff desk: daily capacity, priority and abandonment."""

import pytest

from sim.staff import CALL, COMPLAINT, StaffDesk, Task


def test_daily_capacity_is_advisors_times_hours():
    desk = StaffDesk(advisors=1, hours_per_day=2.0, max_wait_days=30)
    for _ in range(10):
        desk.submit(Task(COMPLAINT, 0, created_day=0, hours=0.5))
    done, _ = desk.work_day(0)
    assert len(done) == 4  # 2 hours / 0.5 hours
    done, _ = desk.work_day(1)
    assert len(done) == 4 and all(t.done_day == 1 for t in done)


def test_complaints_before_calls_and_first_come_first_served():
    desk = StaffDesk(advisors=1, hours_per_day=1.0, max_wait_days=30)
    desk.submit(Task(CALL, 1, 0, 0.5))
    desk.submit(Task(COMPLAINT, 2, 0, 0.5))
    desk.submit(Task(COMPLAINT, 3, 0, 0.5))
    done, _ = desk.work_day(0)
    assert [t.customer for t in done] == [2, 3]


def test_tasks_left_waiting_too_long_are_abandoned():
    desk = StaffDesk(advisors=0, hours_per_day=2.0, max_wait_days=3)
    desk.submit(Task(COMPLAINT, 5, created_day=0, hours=0.5))
    for day in range(3):
        done, given_up = desk.work_day(day)
        assert not done and not given_up
    _, given_up = desk.work_day(3)
    assert [t.customer for t in given_up] == [5] and desk.backlog == 0


def test_a_task_given_up_in_an_advisors_hands_is_marked_started_so_her_hours_are_paid():
    desk = StaffDesk(advisors=1, hours_per_day=1.0, max_wait_days=1)
    desk.submit(Task(COMPLAINT, 1, created_day=0, hours=3.0))  # three days of the advisor
    desk.submit(Task(COMPLAINT, 2, created_day=0, hours=0.5))  # waits behind it
    assert desk.work_day(0) == ([], [])
    done, given_up = desk.work_day(1)  # a day's wait: both give up, one of them in hand
    assert not done and [(t.customer, t.started) for t in given_up] == [(1, True), (2, False)]


def test_advisor_hours_spent_on_a_complaint_she_gave_up_on_are_charged():
    """Under overload, half the advisors' time went on tasks abandoned in their hands, and
    staff_cost left it out."""
    from sim.config import compose
    from sim.simulate import simulate
    from sim.staff import StaffDesk as Desk

    given_up = []
    work_day = Desk.work_day

    def recording(self, day):
        done, dropped = work_day(self, day)
        given_up.extend(dropped)
        return done, dropped

    cfg = [
        "strategy=none",
        "customers=3000",
        "days=200",
        "store.staff.advisors_per_10k_customers=0.2",
    ]
    Desk.work_day = recording
    try:
        result = simulate(compose(cfg))
    finally:
        Desk.work_day = work_day
    staff = result.model.staff_cfg
    complaints = result.model.ledger.complaints.frame()
    handled = int((~complaints["abandoned"]).sum())
    started = sum(t.started for t in given_up)
    assert started > 0  # overload: some gave up while an advisor was on it
    total = result.metrics["staff_cost"] + result.metrics.get("holdout", {}).get("staff_cost", 0)
    assert total == pytest.approx(staff.hourly_cost * staff.complaint_hours * (handled + started))


def test_a_complaint_raised_after_the_days_work_is_handled_the_next_day_even_at_an_idle_desk():
    busy, idle = (StaffDesk(advisors=1, hours_per_day=8.0, max_wait_days=7) for _ in range(2))
    busy.submit(Task(CALL, 9, created_day=4, hours=0.5))
    busy.work_day(4)
    idle.work_day(4)
    for desk in (busy, idle):  # after day 4's work, as customers' complaints come
        desk.submit(Task(COMPLAINT, 1, created_day=4, hours=0.5), from_day=5)
        done, _ = desk.work_day(5)
        assert [(t.customer, t.done_day) for t in done] == [(1, 5)]
