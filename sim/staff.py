"""The store's operational side in SimPy: advisors with limited hours handle a queue of tasks.

Complaints and advisor calls wait in one priority queue (complaints first, then first come,
first served). SimPy time counts working hours only: day d is [d*H, (d+1)*H) for H working
hours per advisor, so a day's capacity is advisors x H hours. Whatever is not reached today
waits for tomorrow; a task left waiting past `max_wait_days` is abandoned (she gave up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import count

import simpy

COMPLAINT, CALL = 0, 1
_AFTER = 1e-9  # runs stop just past a day's end: SimPy leaves events at `until` unprocessed


@dataclass
class Task:
    """One piece of advisor work for one customer (`payload` tells the model what it was for)."""

    kind: int
    customer: int
    created_day: int
    hours: float
    payload: object = None
    order: int = -1
    done_day: int = -1
    abandoned: bool = False
    started: bool = False  # an advisor took it up: her hours are paid even if she gave up


class StaffDesk:
    """Advisors as SimPy processes pulling tasks from a shared priority queue.

    Args:
        advisors: number of advisors working the queue (0: nothing is ever handled).
        hours_per_day: hours each advisor gives to complaints and calls per day.
        max_wait_days: a task still waiting after this many days is abandoned.
    """

    def __init__(self, advisors: int, hours_per_day: float, max_wait_days: int) -> None:
        self.env = simpy.Environment()
        self.queue = simpy.PriorityStore(self.env)
        self.hours_per_day = hours_per_day
        self.max_wait_days = max_wait_days
        self._order = count()
        self._finished: list[Task] = []
        self.waiting: dict[int, Task] = {}
        for _ in range(advisors if hours_per_day > 0 else 0):
            self.env.process(self._advisor())

    def submit(self, task: Task, from_day: int | None = None) -> None:
        """Queue a task; it waits behind earlier tasks of the same or higher priority. An
        advisor can start it on `from_day` (default: the day it was created): a complaint
        raised after the day's work waits for the next day, whether the desk was busy or
        idle."""
        start = (task.created_day if from_day is None else from_day) * self.hours_per_day
        if self.env.now < start:  # the desk stood idle: its clock catches up first
            self.env.run(until=start)
        task.order = next(self._order)
        self.waiting[task.order] = task
        self.queue.put(simpy.PriorityItem((task.kind, task.order), task))

    def _advisor(self):
        while True:
            item = yield self.queue.get()
            task: Task = item.item
            if task.abandoned:  # she gave up while it waited in the queue
                continue
            task.started = True  # the advisor's hours are spent on it from here
            yield self.env.timeout(task.hours)
            if task.abandoned:  # she gave up while it was being handled: too late for her
                continue
            task.done_day = math.ceil(self.env.now / self.hours_per_day) - 1  # (dH, (d+1)H]
            del self.waiting[task.order]
            self._finished.append(task)

    def work_day(self, day: int) -> tuple[list[Task], list[Task]]:
        """Run the advisors through day `day`; return (finished tasks, tasks given up today)."""
        if self.hours_per_day > 0 and self.waiting:  # an idle desk has nothing to run
            self.env.run(until=(day + 1) * self.hours_per_day + _AFTER)
        finished, self._finished = self._finished, []
        given_up = []
        while self.waiting:  # oldest first: tasks arrive in day order
            task = next(iter(self.waiting.values()))
            if day - task.created_day < self.max_wait_days:
                break
            task.abandoned = True
            del self.waiting[task.order]
            given_up.append(task)
        return finished, given_up

    @property
    def backlog(self) -> int:
        return len(self.waiting)
