"""The SimPy staff desk: daily capacity, priority and abandonment."""

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
