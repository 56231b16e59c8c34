"""The built-in strategy library: each runs, keeps away from the holdout and the hidden
state, and does on the ledger exactly what its configuration says."""

import datetime as dt
import itertools
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from sim import kpis
from sim.actions import Actions
from sim.ledger import ObservableView
from sim.model import StoreModel
from strategies.base import campaigns_of
from strategies.blanket import Blanket
from strategies.caps import Capped, FrequencyCap
from strategies.compose import Combine
from strategies.loyalty import Loyalty
from strategies.segments import RFM, STAGES, TIERS, Lifecycle, day_of_year
from strategies.winback import Winback
from tests.conftest import PROJECT, run
from tests.ledger_checks import last_purchase_before, messages
from tests.test_observable import Snoop, _reachable

BUILT_INS = [
    "none",
    "blanket",
    "capped_blanket",
    "rfm_tiering",
    "lifecycle",
    "winback",
    "loyalty",
    "referral",
    "personalised",
]
SMALL = ("customers=1500", "days=120", "seed=3", "holdout=0.1")
UPLIFT_KEYS = {"net_profit_per_customer", "revenue_per_customer", "repurchase_rate"}


@pytest.fixture(scope="module")
def runs():
    return {name: run(f"strategy={name}", *SMALL) for name in BUILT_INS}


def test_every_built_in_runs_with_a_holdout_and_reports_both_arms(runs):
    for name, result in runs.items():
        m = result.metrics
        assert m["holdout"]["messages_sent"] == 0, name
        assert m["holdout"]["customers"] + m["customers"] == result.model.ledger.record.n
        assert set(m["uplift"]) == UPLIFT_KEYS | {"incremental_roi"}, name
        for key in UPLIFT_KEYS:
            u = m["uplift"][key]
            assert u["low"] <= u["estimate"] <= u["high"], (name, key)
        if name != "none":
            assert m["messages_sent"] > 0, name
    assert runs["none"].metrics["uplift"]["incremental_roi"] is None  # nothing spent


def test_every_built_in_declares_the_campaigns_it_sends(runs):
    """A frequency cap checks `exempt_campaigns` against the declared names: a campaign sent
    but not declared would have a correct exemption refused."""
    for name, result in runs.items():
        declared = campaigns_of(result.model.strategy)
        assert declared is not None, name
        assert set(messages(result).campaign) <= set(declared), name
    assert campaigns_of(runs["none"].model.strategy) == []


def test_the_holdout_receives_nothing(runs):
    for name, result in runs.items():
        model = result.model
        hold = model.outcome.holdout
        assert hold.sum() > 100
        assert model.ledger.record.messages[hold].sum() == 0, name
        assert kpis.sales(model)["discount_cost"][hold].sum() == 0, name
        assert model.ledger.record.tier[hold].max() == 0, name
        assert model.ledger.record.points[hold].max() == 0, name
        touched = np.concatenate(
            [messages(result).customer.to_numpy(), model.ledger.loyalty.column("customer")]
        )
        assert not hold[touched].any(), name


def test_built_ins_hold_no_path_to_hidden_state(runs):
    for name, result in runs.items():
        for obj in _reachable(result.model.strategy):
            assert not isinstance(obj, StoreModel), name
            assert type(obj).__module__ not in ("sim.fast", "sim.agents", "sim.model"), name


class DeepSnoop(Snoop):
    """Also reads the recent-events accessors strategies use, and keeps what they return."""

    def decide(self, view):
        self.kept = (view.transactions_since(view.day - 1), view.messages_since(view.day - 1))
        return super().decide(view)


def test_a_capped_strategy_still_sees_only_the_record():
    result = run("customers=300", "days=4", "cap=weekly", strategy=DeepSnoop())
    assert isinstance(result.model.strategy, Capped)
    snoop = result.model.strategy.strategy  # the run's own copy, under the cap
    assert len(snoop.errors) == 4 * 6  # every attempt on hidden state failed, every day
    hidden = result.model.customers
    buffers = [getattr(hidden.t, name).base for name in hidden.t.names()]
    for obj in [*_reachable(snoop.views[-1]), *_reachable(snoop.kept)]:
        assert not isinstance(obj, StoreModel)
        if isinstance(obj, np.ndarray):
            assert not any(obj is b or obj.base is b for b in buffers if b is not None)
    with pytest.raises(ValueError, match="read-only"):
        snoop.kept[0]["paid"][:] = 0


def test_recent_transactions_match_the_whole_log():
    result = run("customers=800", "days=30", "seed=2")
    view = ObservableView(result.model.ledger, 30, dt.date(2025, 1, 31), None, 30, ["a"])
    whole = view.transactions()
    for since in (0, 12, 29, 31):
        recent = view.transactions_since(since)
        expect = whole[whole.day >= since]
        assert np.array_equal(recent["customer"], expect.customer.to_numpy())
        assert np.allclose(recent["paid"], expect.paid.to_numpy())


def test_winback_reaches_only_customers_silent_at_least_the_threshold(runs):
    result = runs["winback"]
    strategy = result.model.strategy
    sent = messages(result)
    sent = sent[sent.campaign.str.startswith("winback_")]
    assert len(sent) > 100
    silent = sent.day.to_numpy() - last_purchase_before(
        result, sent.customer.to_numpy(), sent.day.to_numpy()
    )
    assert silent.min() >= strategy.rungs[0][0] == 60  # the first silence contacted
    # each rung on the day her silence reaches it, never at or beyond max_silence_days
    rung_days = {f"winback_{name}": after for after, name in _rungs(strategy)}
    assert np.array_equal(silent, sent.campaign.map(rung_days).to_numpy())
    assert silent.max() < strategy.max_silence_days


def _rungs(strategy):
    return [(after, m.campaign.removeprefix("winback_")) for after, m in strategy.rungs]


def test_birthday_greetings_land_the_configured_days_ahead():
    result = run(
        "strategy=lifecycle",
        "strategy.birthday_days_ahead=5",
        "strategy.birthday_max_silence_days=0",
        "customers=3000",
        "days=40",
        "seed=5",
    )
    sent = messages(result)
    sent = sent[sent.campaign == "birthday"]
    start = result.model.store.start_date
    greeted_for = [day_of_year(start + dt.timedelta(days=d + 5)) for d in sent.day]
    recorded = result.model.ledger.record.birthday_recorded[sent.customer.to_numpy()]
    assert len(sent) > 100 and np.array_equal(recorded, greeted_for)
    # and everyone reachable with a birthday in the window was greeted, once
    assert not sent.duplicated("customer").any()
    model = result.model
    record, out, channels = model.ledger.record, model.outcome, model.channels
    reachable = record.reachable[:, [channels.index("sms"), channels.index("wechat")]].any(axis=1)
    due = set()
    for d in range(40):
        target = day_of_year(start + dt.timedelta(days=d + 5))
        on_record = out.joined_day[: record.n] <= d
        due |= set(np.flatnonzero(on_record & (record.birthday_recorded == target)).tolist())
    # those never opted out of anything and outside the holdout: their greeting cannot be lost
    sure = {c for c in due if reachable[c] and not out.opted_out[c] and not out.holdout[c]}
    assert len(sure) > 100 and sure <= set(sent.customer.tolist())


def test_new_vip_onboarding_follows_its_schedule():
    result = run("strategy=lifecycle", "strategy.vip_spend=400", "customers=3000", "days=60")
    sent = messages(result)
    welcome = sent[sent.campaign == "vip_welcome"].set_index("customer").day
    benefits = sent[sent.campaign == "vip_benefits"].set_index("customer").day
    calls = sent[sent.campaign == "vip_call"].set_index("customer").sent_day
    assert len(welcome) > 20 and len(benefits) > 20 and len(calls) > 5
    both = welcome.index.intersection(benefits.index)
    assert (benefits[both] - welcome[both] == 3).all()
    both = welcome.index.intersection(calls.index)
    assert (calls[both] - welcome[both] == 15).all()  # the day the call was queued


def test_loyalty_tiers_change_exactly_at_their_thresholds():
    thresholds = [300.0, 600.0, 1200.0]
    result = run(
        "strategy=loyalty",
        f"strategy.tier_spend=[{','.join(map(str, thresholds))}]",
        "customers=2000",
        "days=90",
        "seed=9",
    )
    model = result.model
    log = model.ledger.loyalty.frame()
    record = model.ledger.record
    base = record.first_purchase_day[log.customer] < 0  # her spend before day 0 is on record
    log = log[base]
    tx = model.ledger.transactions
    key = tx.column("customer").astype(np.int64) * 1_000_000 + tx.column("day")
    order = np.argsort(key, kind="stable")
    key, paid = key[order], np.concatenate([[0.0], np.cumsum(tx.column("paid")[order])])
    customer = log.customer.to_numpy().astype(np.int64)
    since = np.searchsorted(key, customer * 1_000_000 + log.day.to_numpy(), side="left")
    end = np.searchsorted(key, (customer + 1) * 1_000_000, side="left")
    spend_at = record.spend[customer] - (paid[end] - paid[since])  # as the strategy saw it
    expected = np.searchsorted(thresholds, spend_at, side="right")
    assert np.array_equal(log.tier.to_numpy(), expected)
    assert {1, 2, 3} <= set(log.tier)
    rises = log[log.groupby("customer").tier.diff() > 0]
    assert len(rises) > 10  # tiers rose during the run, each the day after the crossing


def test_tier_of_is_exact_at_the_threshold():
    loyalty = Loyalty(tier_spend=[1000, 2500, 5000])
    spend = np.array([0, 999.99, 1000, 2499.99, 2500, 4999.99, 5000, 1e6])
    assert loyalty.tier_of(spend).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]


def test_segments_follow_the_domain_cut_offs():
    result = run("customers=3000", "days=1")
    model = result.model
    view = ObservableView(model.ledger, 1, dt.date(2025, 1, 2), None, 1, ["a"])
    silent = 1 - view.last_purchase_day
    stage = Lifecycle()(view)
    new = 1 - view.first_purchase_day < 30
    assert (stage[new] == STAGES.index("new")).all()
    for name, lo, hi in [("active", 0, 90), ("lapsing", 90, 180), ("sleeping", 180, 365)]:
        sel = ~new & (silent >= lo) & (silent < hi)
        assert (stage[sel] == STAGES.index(name)).all()
    assert (stage[silent >= 365] == STAGES.index("lost")).all()
    tier = RFM()(view)
    core = (silent < 90) & (view.purchases >= 3) & (view.spend >= 600)
    assert (tier[core] == TIERS.index("core_vip")).all()
    assert (
        tier[~core & (silent < 90) & (view.purchases < 3)] == TIERS.index("potential_vip")
    ).all()
    assert (tier[silent >= 365] == TIERS.index("lost")).all()


def test_value_tiers_are_the_rfm_8_cell_reading_of_the_scores():
    result = run("customers=3000", "days=20", "seed=6")
    view = ObservableView(result.model.ledger, 20, dt.date(2025, 1, 21), None, 20, ["a"])
    for high in itertools.product(range(1, 6), repeat=3):
        rfm = RFM(high_r=high[0], high_f=high[1], high_m=high[2])
        s = rfm.scores(view)
        r, f, m = (s[:, k] >= high[k] for k in range(3))
        reading = np.select(
            [s[:, 0] == 1, r & f & m, r & f, r, f & m],
            [TIERS.index(t) for t in ("lost", "core_vip", "active_vip", "potential_vip")]
            + [TIERS.index("sleeping_vip")],
            TIERS.index("sleeping"),
        )
        assert np.array_equal(rfm(view), reading), high
        every_7th = slice(2, view.n_customers, 7)
        assert np.array_equal(rfm(view, every_7th), rfm(view)[every_7th])


def test_strategies_combine_and_each_keeps_its_own_campaigns():
    parts = {
        "winback": Winback({"nudge": {"after_days": 30, "discount": 0.1}}),
        "loyalty": Loyalty(tier_spend=[300, 600, 1200]),
    }
    result = run("customers=1000", "days=40", strategy=Combine(parts))
    campaigns = set(messages(result).campaign)
    assert "winback_nudge" in campaigns and any(c.startswith("member_coupon") for c in campaigns)
    assert campaigns <= set(Combine(parts).campaigns())
    assert Combine({**parts, "own": Snoop()}).campaigns() is None  # a part that cannot say
    assert result.model.ledger.record.tier.max() == 3


USER_STRATEGY = re.compile(r"```python\n(# mystore/strategies.py\n.*?)```", re.DOTALL)


def test_a_users_own_strategy_from_outside_the_package_runs_from_the_command_line(tmp_path):
    """The example in the README, saved as the user's own module, run by the CLI
    with a holdout and under a cap."""
    code = USER_STRATEGY.search((PROJECT / "README.md").read_text()).group(1)
    (tmp_path / "mystore").mkdir()
    (tmp_path / "mystore" / "__init__.py").write_text("")
    (tmp_path / "mystore" / "strategies.py").write_text(code)
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from experiments.run import main; main()",
            "strategy._target_=mystore.strategies.ThirtyDayNote",
            "+strategy.days=20",
            "cap=weekly",
            "holdout=0.1",
            "customers=1000",
            "days=60",
            f"hydra.run.dir={out}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": f"{tmp_path}:{PROJECT}", "PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["messages_sent"] > 0 and metrics["holdout"]["messages_sent"] == 0
    assert "uplift" in metrics


def test_every_built_in_runs_from_the_command_line_with_a_holdout(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from experiments.run import main; main()",
            "-m",
            f"strategy={','.join(BUILT_INS)}",
            "holdout=0.1",
            "customers=400",
            "days=40",
            f"hydra.sweep.dir={tmp_path}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    found = sorted(tmp_path.glob("*/metrics.json"))
    assert len(found) == len(BUILT_INS)
    for path in found:
        metrics = json.loads(path.read_text())
        assert metrics["holdout"]["messages_sent"] == 0 and "uplift" in metrics


def test_strategy_settings_are_checked_before_the_run():
    from sim.config import ConfigError, compose
    from sim.simulate import build_strategy

    for bad, message in [
        (["strategy=rfm_tiering", "strategy.treatments.vip_call.channels=[fax]"], "fax"),
        (["strategy=rfm_tiering", "strategy.treatments.vip_call.segment=gold"], "gold"),
        (["strategy=winback", "strategy.ladder.last_call.after_days=400"], "max_silence"),
        (["strategy=loyalty", "strategy.tier_discount=[0.1]"], "one discount per tier"),
        (["cap=weekly", "cap.limits.sms.channel=fax"], "fax"),
        # a misspelt event would silently never open the members' preview
        (["strategy=loyalty", "strategy.arrival_events=[spring_arrival]"], "'spring_arrival'"),
        (["strategy=loyalty", "cap=weekly", "store.calendar=[]"], r"give arrival_events=\[\]"),
    ]:
        cfg = compose(bad)
        with pytest.raises(ConfigError, match=message):
            build_strategy(cfg.strategy, cfg)


def test_check_gets_the_calendar_only_when_it_asks_for_it():
    """Parts of a capped combination see the store's events; a strategy written for
    `check(channels, styles)` is called as before."""
    from sim.config import ConfigError, compose
    from sim.simulate import check_strategy

    seen = {}

    class TwoArguments:
        def decide(self, view):
            return Actions()

        def check(self, channels, styles):
            seen["styles"] = styles

    class WithEvents(TwoArguments):
        def check(self, channels, styles, events=None):
            seen["events"] = events

    cfg = compose(["strategy=none"])
    combined = Combine({"a": WithEvents(), "b": TwoArguments()})
    check_strategy(Capped(combined, FrequencyCap()), cfg)
    assert seen["styles"] == list(cfg.store.styles)
    assert seen["events"] == [event.name for event in cfg.store.calendar]
    assert "double_eleven" in seen["events"]
    misspelt = Combine({"loyalty": Loyalty(arrival_events=["autumn_arrival"])})
    with pytest.raises(ConfigError, match="no event 'autumn_arrival': choose from"):
        check_strategy(Capped(misspelt, FrequencyCap()), cfg)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        # a fractional count would shift a schedule (an offer open 7.5 days never closed)
        (["strategy=blanket", "strategy.expiry_days=7.5"], r"expiry_days=7\.5: give a whole"),
        (["strategy=blanket", "strategy.every_days=true"], r"every_days=True: give a whole"),
        (["strategy=blanket", "strategy.every_days=abc"], r"every_days=abc: give a whole"),
        (["strategy=blanket", "strategy.discount=-0.1"], r"discount=-0\.1: give a number"),
        (["strategy=blanket", "strategy.discount=nan"], r"discount=nan: give a number"),
        (["strategy=blanket", "strategy.min_spend=nan"], r"min_spend=nan: give a number"),
        (["strategy=personalised", "strategy.channels=[]"], "at least one channel"),
        (["strategy=lifecycle", "strategy.thank_you_days=2.5"], r"thank_you_days=2\.5"),
        (["strategy=winback", "strategy.ladder.wake_up.after_days=60.7"], r"after_days=60\.7"),
        (["strategy=loyalty", "strategy.tier_spend=[1000,2500,nan]"], "tier_spend=nan"),
        (["strategy=loyalty", "strategy.tier_discount=[-0.05,0.1,0.15]"], "tier_discount=-0.05"),
        (["strategy=loyalty", "strategy.member_coupon_every_days=2.5"], "member_coupon_every"),
        (["strategy=rfm_tiering", "strategy.treatments.vip_care.every_days=2.5"], "vip_care"),
        (["strategy=rfm_tiering", "strategy.treatments.vip_call.daily_limit=2.5"], "daily_limit"),
        (["strategy=rfm_tiering", "strategy.treatments.vip_care.discount=-0.2"], "vip_care"),
        (["cap=weekly", "cap.limits.week.max=2.5"], r"cap limit max=2\.5"),
        (["cap=weekly", "cap.daily_limit.sms=-5"], r"daily_limit\.sms=-5"),
        # to Python any word is true: personal=no would have switched personal messages on
        (["strategy=personalised", "strategy.personal=no"], "personalised personal=no: give true"),
        (["strategy=lifecycle", "strategy.thank_you.styled=maybe"], "thank_you styled=maybe"),
        # a strategy's daily_limit 0 is no limit; the cap's would be silence
        (["cap=weekly", "cap.daily_limit.sms=0"], r"daily_limit\.sms=0 would let nothing out"),
        # a group of settings set to null ended in "'NoneType' object is not iterable"
        (
            ["strategy=winback", "strategy.ladder.sleeping=null"],
            r"rung sleeping is null: give its settings, or leave it out with ~strategy\.ladder\.",
        ),
        (
            ["strategy=rfm_tiering", "strategy.treatments.vip_call=null"],
            r"treatment vip_call is null: .* ~strategy\.treatments\.vip_call$",
        ),
    ],
)
def test_a_setting_that_is_no_whole_or_finite_number_is_refused_naming_it(bad, message):
    from sim.config import ConfigError, compose
    from sim.simulate import build_strategy

    cfg = compose(bad)
    with pytest.raises(ConfigError, match=message):
        build_strategy(cfg.strategy, cfg)


@pytest.mark.parametrize(
    ("base", "key", "name", "read"),
    [
        (["strategy=lifecycle"], "strategy.triggers", "birthday", lambda s: s.triggers),
        (
            ["strategy=loyalty"],
            "strategy.arrival_events",
            "spring_arrivals",
            lambda s: s.arrival_events,
        ),
        (
            ["strategy=blanket", "cap=weekly"],
            "cap.exempt_campaigns",
            "blanket",
            lambda s: s.cap.exempt,
        ),
        (["strategy=blanket", "cap=weekly"], "cap.queued_channels", "sms", lambda s: s.cap.queued),
    ],
    ids=["triggers", "arrival_events", "exempt_campaigns", "queued_channels"],
)
def test_one_name_where_a_list_goes_is_a_list_of_one_not_of_its_letters(base, key, name, read):
    """`triggers=birthday`, as a command line gives it: its letters were read as names."""
    from sim.config import compose
    from sim.simulate import build_strategy

    one, listed = (compose([*base, f"{key}={value}"]) for value in (name, f"[{name}]"))
    assert list(read(build_strategy(one.strategy, one))) == [name]
    assert list(read(build_strategy(listed.strategy, listed))) == [name]


def test_a_whole_number_written_as_a_float_is_taken():
    blanket = Blanket(every_days=7.0, expiry_days=5.0)
    assert blanket.every_days == 7 and blanket.offer.expiry_days == 5
    assert isinstance(blanket.offer.expiry_days, int)


def test_one_strategy_object_runs_several_seeds_each_from_a_fresh_start():
    capped = Capped(Blanket(), FrequencyCap(limits={"sms": {"max": 1, "days": 30}}))
    for strategy in (capped, Loyalty()):
        first, second = (run("customers=1000", "days=40", strategy=strategy) for _ in range(2))
        assert first.metrics == second.metrics


def test_members_get_one_preview_on_the_first_day_of_each_new_season_arrival():
    result = run("strategy=loyalty", "customers=3000", "days=365", "seed=2")
    m = result.model
    sent = messages(result)
    days = sorted(set(sent.loc[sent["campaign"] == "arrival_preview", "day"].tolist()))
    firsts = [d for d in range(365) if m.store.event_starts[d]]
    arrivals = [
        d for d in firsts if m.store.event_today[d] in ("spring_arrivals", "autumn_arrivals")
    ]
    assert days == arrivals and len(days) == 2  # spring and autumn, once each


@pytest.mark.parametrize(
    ("args", "says"),
    [
        # decide returned a list: a one-line error, not Hydra's traceback
        (["strategy._target_=mystore.strategies.ReturnsList"], "ReturnsList.decide must return"),
        # a setting of the user's own class needs +: the message says so
        (
            ["strategy._target_=mystore.strategies.ReturnsList", "strategy.days=5"],
            "added with +strategy.days=5",
        ),
    ],
)
def test_mistakes_in_a_users_own_strategy_stop_with_one_line(tmp_path, args, says):
    (tmp_path / "mystore").mkdir()
    (tmp_path / "mystore" / "__init__.py").write_text("")
    (tmp_path / "mystore" / "strategies.py").write_text(
        "class ReturnsList:\n"
        "    def __init__(self, days=30):\n"
        "        self.days = days\n"
        "    def decide(self, view):\n"
        "        return []\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", "from experiments.run import main; main()", *args]
        + ["customers=200", "days=5", f"hydra.run.dir={tmp_path / 'out'}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": f"{tmp_path}:{PROJECT}", "PATH": ""},
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and says in done.stderr, done.stderr


def test_a_strategy_class_given_for_an_instance_is_named():
    from sim.config import ConfigError, compose
    from sim.simulate import simulate

    with pytest.raises(ConfigError, match=r"strategy Blanket is a class: give an instance"):
        simulate(compose(["customers=100", "days=2"]), strategy=Blanket)
