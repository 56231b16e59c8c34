"""Frequency caps hold on the messages ledger itself: in every sliding window, overall and
per channel, per lifecycle stage, through quiet periods and daily budgets, even for advisor
calls that wait in the staff queue and go out days later."""

import datetime as dt

import numpy as np
import pytest

from sim.actions import Actions, MessageBatch, Offer
from sim.config import ConfigError, compose
from sim.simulate import build_strategy
from strategies.caps import Capped, FrequencyCap, Limit
from tests.conftest import run
from tests.ledger_checks import (
    in_window_at_each,
    last_purchase_before,
    messages,
    most_in_any_window,
)


class Flood:
    """Proposes far more than any cap allows: every channel, every day, with duplicates."""

    def decide(self, view):
        everyone = np.arange(view.n_customers)
        batches = [
            # first, and more calls than advisors can make: some wait days, some are given up
            MessageBatch(everyone[view.day % 40 :: 40], "phone", "call", personal=True),
            MessageBatch(everyone, "sms", "daily_sms", offer=Offer(0.1)),
            MessageBatch(np.concatenate([everyone, everyone[::3]]), "wechat", "daily_wechat"),
            MessageBatch(everyone[view.day % 2 :: 2], "app", "app"),
            MessageBatch(everyone, "sms", "second_sms"),
        ]
        return Actions(messages=batches)


CAP_ARGS = (
    "cap=weekly",
    "customers=1500",
    "days=100",
    "seed=4",
    "holdout=0.1",
)


@pytest.fixture(scope="module")
def flooded():
    return run(*CAP_ARGS, strategy=Flood())


def test_no_cap_is_exceeded_in_any_window(flooded):
    cap = flooded.model.strategy.cap
    sent = messages(flooded)
    assert set(sent.channel) == {"sms", "wechat", "app", "phone"}
    assert sent[sent.channel == "phone"].pipe(lambda f: (f.day > f.sent_day).any())  # queued
    for name, limit in cap.limits.items():
        scope = sent if limit.channel is None else sent[sent.channel == limit.channel]
        c, d = scope.customer.to_numpy(), scope.day.to_numpy()
        if limit.stages is None:
            assert most_in_any_window(c, d, limit.days) <= limit.max, name
            if name != "phone":
                assert most_in_any_window(c, d, limit.days) == limit.max, name  # it binds
        else:
            # a message to a customer in one of these stages the day it went out: her window
            # ending that day is within the cap (a queued call is judged by her stage the day
            # it was queued, so only messages that go out when proposed are selected here)
            silent = d - last_purchase_before(flooded, c, d)
            stage = np.select(
                [silent < 90, silent < 180, silent < 365], ["active", "lapsing", "sleeping"], "lost"
            )
            new = d - flooded.model.ledger.record.first_purchase_day[c] < 30
            stage[new] = "new"
            selected = np.isin(stage, limit.stages) & (scope.channel != "phone").to_numpy()
            assert selected.sum() > 50, name
            counts = in_window_at_each(c, d, limit.days, selected)
            assert counts.max() <= limit.max, name


def test_messages_wait_out_the_quiet_days_after_a_purchase(flooded):
    sent = messages(flooded)
    sent = sent[sent.channel != "phone"]  # calls are checked when queued, made later
    c, d = sent.customer.to_numpy(), sent.day.to_numpy()
    assert (d - last_purchase_before(flooded, c, d)).min() >= 3


def test_no_calls_beyond_the_daily_budget_and_no_messages_in_a_quiet_period():
    start = dt.date(2025, 1, 1)
    result = run(
        *CAP_ARGS,
        "days=60",
        "cap.daily_limit.phone=4",
        "cap.quiet_periods=[{month: 1, day: 20, days: 6}]",
        strategy=Flood(),
    )
    sent = messages(result)
    queued_per_day = sent[sent.channel == "phone"].groupby("sent_day").size()
    assert queued_per_day.max() == 4
    quiet = [(start + dt.timedelta(days=int(x)) - dt.date(2025, 1, 20)).days for x in sent.day]
    assert not any(0 <= q < 6 for q in quiet)  # calls too: none queued that could land there
    assert sent.day.min() == 0 and sent.day.max() == 59


def test_a_cap_blocks_nothing_it_need_not():
    uncapped = run("strategy=blanket", "customers=800", "days=30")
    capped = run(
        "strategy=blanket",
        "customers=800",
        "days=30",
        "cap=weekly",
        "cap.quiet_after_purchase_days=0",
        "cap.limits.sleeping.max=9",
        "cap.limits.lapsing.max=9",
    )
    assert capped.metrics == uncapped.metrics  # fortnightly sms is within every remaining cap


def test_capped_blanket_sends_fewer_messages_than_blanket():
    args = ("customers=1500", "days=90", "seed=2")
    blanket = run("strategy=blanket", *args).metrics
    capped = run("strategy=capped_blanket", *args).metrics
    assert capped["messages_sent"] < 0.8 * blanket["messages_sent"]
    assert capped["opt_out_rate"] < blanket["opt_out_rate"]


def test_limits_are_validated():
    with pytest.raises(ValueError, match="stage"):
        Limit(max=1, days=7, stages=["asleep"])
    with pytest.raises(ValueError, match="days"):
        Limit(max=1, days=0)
    cap = FrequencyCap(limits={"x": {"max": 1, "days": 7, "channel": "fax"}})
    with pytest.raises(ValueError, match="fax"):
        Capped(Flood(), cap).check(["sms", "phone"], [])


def test_a_bad_cap_setting_is_blamed_on_the_cap_not_the_strategy():
    cfg = compose(["strategy=blanket", "cap=weekly", "cap.limits.wechat.channel=fax"])
    with pytest.raises(ConfigError, match=r"^cap: limits\.wechat\.channel: unknown channel 'fax'"):
        build_strategy(cfg.strategy, cfg)
