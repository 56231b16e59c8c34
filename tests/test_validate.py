"""`retail-sim experiment=validate`: the suite end to end at tiny sizes, its exit status, its
one-line errors, and each check's measurement and verdict on constructed runs."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from experiments.validate import (
    CHECKS,
    BackfireSettings,
    CdnowSettings,
    FrequencySettings,
    HillstromSettings,
    RunData,
    UnsubscribeSettings,
    check,
    judge_backfire,
    judge_cdnow,
    judge_frequency,
    judge_hillstrom,
    judge_holdout,
    judge_unsubscribe,
    measure_backfire,
    measure_cdnow,
    measure_frequency,
    measure_hillstrom,
    measure_holdout,
    measure_unsubscribe,
)
from sim.config import ConfigError, compose
from tests.conftest import PROJECT

TINY = (
    "customers=300",
    "days=273",  # the shortest run with CDNOW's 39-week window
    "validate.hillstrom.customers=3000",
    "validate.seeds=[1,2]",
    "validate.frequency_inverted_u.every_days=[1,7,30]",
    "validate.backfire.days=30",
    "validate.n_jobs=2",  # the parallel path
)


def retail_sim(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    code = "from experiments.run import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, env=env
    )


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("validate") / "run"
    done = retail_sim("experiment=validate", *TINY, f"hydra.run.dir={out}", cwd=out.parent)
    return out, done


def test_suite_writes_every_check_and_a_report(suite):
    out, done = suite
    assert done.returncode in (0, 1), done.stderr
    checks = json.loads((out / "validation.json").read_text())["checks"]
    assert [c["name"] for c in checks] == list(CHECKS)
    for c in checks:
        assert set(c) == {"name", "measured", "target", "passed"}
        assert isinstance(c["passed"], bool)
        assert isinstance(c["measured"], int | float | dict)
        assert isinstance(c["target"], str) or (
            len(c["target"]) == 2 and c["target"][0] <= c["target"][1]
        )
    lines = [line for line in done.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert sorted(line.split()[1].rstrip(":") for line in lines) == sorted(CHECKS)
    for line in lines:
        name = line.split()[1].rstrip(":")
        passed = next(c["passed"] for c in checks if c["name"] == name)
        assert line.startswith("PASS" if passed else "FAIL") and "target" in line
    assert done.returncode == (0 if all(c["passed"] for c in checks) else 1)
    report = (out / "report.html").read_text()
    assert "Why believe this simulation" in report and "<table" in report
    assert 'src="data:image/png;base64,' in report  # net profit against message frequency
    for name in CHECKS:
        assert name in report


@pytest.mark.parametrize(("band", "status"), [("[0.0,1.0]", 0), ("[0.9,1.0]", 1)])
def test_exit_status_says_whether_every_check_passed(tmp_path, band, status):
    done = retail_sim(
        "experiment=validate",
        "customers=300",
        "days=273",
        "validate.checks=[cdnow_silent_buy_again]",
        "validate.seeds=[1]",
        f"validate.cdnow_silent_buy_again.rate={band}",
        "validate.n_jobs=1",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert done.returncode == status, done.stderr
    checks = json.loads((tmp_path / "run" / "validation.json").read_text())["checks"]
    assert [c["passed"] for c in checks] == [status == 0]


def test_an_unknown_check_stops_with_one_line_before_anything_runs(tmp_path):
    done = retail_sim(
        "experiment=validate",
        "validate.checks=[hillstrom,nonsense]",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("retail-sim: error: validate.checks: unknown check 'nonsense'")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ("validate.hillstrom.lift_pp=[0.7,0.3]", "validate.hillstrom.lift_pp"),
        ("validate.backfire.channel=fax", "validate.backfire.channel=fax"),
        ("validate.seeds=[]", "validate.seeds"),
        ("validate.n_jobs=0", "validate.n_jobs=0 runs nothing: give how many runs go at once"),
        ("validate.cdnow_silent_buy_again.rate=[0.2,0.1]", "validate.cdnow_silent_buy_again.rate"),
        ("validate.frequency_inverted_u.every_days=[7,30]", "at least 3 different"),
        ("validate.hillstrom.population.purchase_alpha_days=-1", "validate.hillstrom: population"),
        ("days=100", "set days to at least 273"),
        ("holdout=0", "set holdout above 0"),
    ],
)
def test_bad_settings_name_the_setting(override, says):
    with pytest.raises(ConfigError, match=re.escape(says)):
        check(compose(["experiment=validate", override]))


# ---------------------------------------------------------------------------- constructed runs
def run_data(n: int, **columns) -> RunData:
    """A run of `n` day-0 customers, everyone a recent buyer with every channel on file and
    nothing else happening, except for the `columns` given."""
    data = {
        "metrics": {},
        "holdout": np.zeros(n, dtype=bool),
        "alive_start": np.ones(n, dtype=bool),
        "churned": np.zeros(n, dtype=bool),
        "last_purchase_at_start": np.full(n, -30),
        "first_purchase_day": np.full(n, -1),
        "reachable": {"email": np.ones(n, dtype=bool), "sms": np.ones(n, dtype=bool)},
        "messages": {"email": np.zeros(n, dtype=int), "sms": np.zeros(n, dtype=int)},
        "sent": {"email": 0, "sms": 0},
        "opt_outs": {"email": 0, "sms": 0},
    }
    return RunData(**{**data, **columns})


HILLSTROM = HillstromSettings(
    channel="email",
    window_days=14,
    recent_days=365,
    lift_pp=[0.31, 0.68],
    bought_anyway=[0.4, 0.7],
)


def hillstrom_runs(mailed_buyers: int, control_buyers: int, anyway: int):
    """10,000 recent buyers with an email, the first half mailed: `mailed_buyers` of them buy
    within two weeks (`anyway` of those also without the email), 30 more just after, and
    `control_buyers` of the unmailed half buy. 200 more customers buy but do not count: 100
    bought over a year ago, 100 have no email on file."""
    n, half = 10_200, 5_000
    holdout = (np.arange(n) >= half) & (np.arange(n) < 10_000) | (np.arange(n) % 2 == 1)
    holdout[:half] = False
    last = np.full(n, -30)
    last[10_000:10_100] = -400
    reach = np.arange(n) < 10_100
    email_day, none_day = np.full(n, -1), np.full(n, -1)
    email_day[:mailed_buyers] = 3
    email_day[mailed_buyers : mailed_buyers + 30] = 14  # after the window
    none_day[:anyway] = 9
    for day in (email_day, none_day):
        day[half : half + control_buyers] = 5
        day[10_000:] = 2

    def run(day):
        return run_data(
            n,
            holdout=holdout,
            last_purchase_at_start=last,
            first_purchase_day=day,
            reachable={"email": reach},
            messages={"email": (~holdout & reach).astype(int)},
        )

    return [run(email_day)], [run(none_day)]


def test_hillstrom_measures_the_mailed_half_against_the_unmailed_half():
    email, none = hillstrom_runs(mailed_buyers=100, control_buyers=60, anyway=50)
    m = measure_hillstrom(email, none, HILLSTROM)
    assert m["mailed_conversion"] == pytest.approx(0.02)
    assert m["control_conversion"] == pytest.approx(0.012)
    assert m["lift_pp"] == pytest.approx(0.8)
    assert m["lift_pp_low"] < 0.8 < m["lift_pp_high"]
    assert m["bought_anyway"] == pytest.approx(0.5)
    assert m["customers_per_seed"] == 10_000
    assert not judge_hillstrom(m, HILLSTROM).passed  # +0.8 pp: above Hillstrom's range
    email, none = hillstrom_runs(mailed_buyers=80, control_buyers=55, anyway=40)
    good = judge_hillstrom(measure_hillstrom(email, none, HILLSTROM), HILLSTROM)
    assert good.passed and "+0.50 pp" in good.line
    email, none = hillstrom_runs(mailed_buyers=80, control_buyers=55, anyway=70)
    assert not judge_hillstrom(measure_hillstrom(email, none, HILLSTROM), HILLSTROM).passed


def test_unsubscribe_is_opt_outs_per_message_sent_pooled_over_seeds():
    settings = UnsubscribeSettings(channel="email", every_days=[7, 3], per_send=[0.001, 0.003])
    runs = {
        "7": [
            run_data(1, sent={"email": 10_000}, opt_outs={"email": 10}),
            run_data(1, sent={"email": 10_000}, opt_outs={"email": 30}),
        ],
        "3": [run_data(1, sent={"email": 20_000}, opt_outs={"email": 50})],
    }
    m = measure_unsubscribe(runs, "email")
    assert m == {"every_7_days": 0.002, "every_3_days": 0.0025}
    assert judge_unsubscribe(m, settings).passed
    runs["3"] = [run_data(1, sent={"email": 20_000}, opt_outs={"email": 80})]  # 0.4% per send
    assert not judge_unsubscribe(measure_unsubscribe(runs, "email"), settings).passed


FREQUENCY = FrequencySettings(channel="email", every_days=[1, 7, 30, 90])
NOISE = np.array([0.3, -0.2, 0.1, -0.25, 0.05])  # a seed's luck, shared by its runs


def profits(by_frequency: dict[str, float]) -> dict[str, list[float]]:
    """Net profit per customer on 5 seeds: the seed's luck, shared by all its runs, plus a
    little noise of each run's own."""
    rng = np.random.default_rng(1)
    return {k: list(v + NOISE + rng.normal(0, 0.05, len(NOISE))) for k, v in by_frequency.items()}


def test_frequency_passes_an_inverted_u_only():
    baseline = list(10 + NOISE)
    u_shape = measure_frequency(profits({"1": 7, "7": 12, "30": 11.5, "90": 10.5}), baseline)
    assert u_shape["best_every_days"] == 7
    assert u_shape["profit_vs_none"]["7"][0] == pytest.approx(2.0, abs=0.1)
    assert judge_frequency(u_shape, FREQUENCY).passed
    rising = measure_frequency(profits({"1": 7, "7": 9, "30": 10, "90": 10.6}), baseline)
    assert rising["best_every_days"] == 90
    assert not judge_frequency(rising, FREQUENCY).passed
    # the best is interior but no better than the least frequent beyond the noise
    flat = measure_frequency(profits({"1": 7, "7": 10.52, "30": 10.5, "90": 10.5}), baseline)
    assert flat["best_minus_every_90_days"][1] < 0
    assert not judge_frequency(flat, FREQUENCY).passed


def test_cdnow_is_the_mean_rate_over_seeds():
    runs = [run_data(1, metrics={"silent_6_9m_buy_again_39w": x}) for x in (0.15, 0.16, 0.155)]
    m = measure_cdnow(runs)
    assert m["rate"] == pytest.approx(0.155) and m["low"] < 0.155 < m["high"]
    assert judge_cdnow(m, CdnowSettings(rate=[0.14, 0.17])).passed
    assert not judge_cdnow(m, CdnowSettings(rate=[0.16, 0.17])).passed
    missing = measure_cdnow([run_data(1, metrics={"silent_6_9m_buy_again_39w": None})])
    assert not judge_cdnow(missing, CdnowSettings(rate=[0.0, 1.0])).passed


def test_backfire_compares_the_segment_churn_paired_by_seed():
    settings = BackfireSettings(channel="sms", every_days=1, days=91)
    n = 1000
    reach = np.arange(n) < 800  # the segment: on the sms list and a customer on day 0
    alive = np.arange(n) >= 100

    def run(churned: int, outside: int = 0):
        churn = np.zeros(n, dtype=bool)
        churn[100 : 100 + churned] = True
        churn[800 : 800 + outside] = True  # not on the list: not in the segment
        return run_data(n, churned=churn, alive_start=alive, reachable={"sms": reach})

    none = [run(40), run(45), run(50)]
    m = measure_backfire([run(60), run(70), run(72)], none, "sms")
    assert m["churn_none"] == pytest.approx(45 / 700)
    assert m["churn_messaged"] == pytest.approx(202 / 3 / 700)
    assert m["low"] > 0 and judge_backfire(m, settings).passed
    assert "This checks the direction only" in judge_backfire(m, settings).sentence
    assert "sms list" in m["segment"]
    same = measure_backfire([run(40, 50), run(45, 50), run(50, 50)], none, "sms")
    assert same["increase"] == 0 and not judge_backfire(same, settings).passed


def holdout_runs(estimate: float, half_width: float, truth: float):
    strategy = run_data(
        1,
        metrics={
            "net_profit": 100.0 + truth * 10,
            # 10 customers on day 0 in both runs, but one friend fewer under the strategy: the
            # truth is counted on day 0's customers, as the report counts it
            "customers": 11,
            "new_customers": 1,
            "uplift": {
                "net_profit_per_customer": {
                    "estimate": estimate,
                    "low": estimate - half_width,
                    "high": estimate + half_width,
                }
            },
        },
    )
    none = run_data(1, metrics={"net_profit": 100.0, "customers": 12, "new_customers": 2})
    return strategy, none


def test_holdout_estimate_must_cover_the_true_uplift():
    pairs = [holdout_runs(2.0, 1.0, 1.5), holdout_runs(1.0, 1.0, 1.5)]
    m = measure_holdout([s for s, _ in pairs], [n for _, n in pairs])
    assert m["holdout_estimate"] == pytest.approx(1.5)
    assert m["true_uplift"] == pytest.approx(1.5)
    assert m["high"] - 1.5 == pytest.approx(np.sqrt(2) / 2, rel=1e-6)  # pooled: narrower
    assert m["seeds_covered"] == 2
    assert judge_holdout(m, "winback", 0.1, "").passed
    assert "only loosely" not in judge_holdout(m, "winback", 0.1, "").sentence
    pairs = [holdout_runs(1.5, 4.0, 1.5), holdout_runs(1.5, 4.0, 1.5)]  # wider than the effect
    wide = measure_holdout([s for s, _ in pairs], [n for _, n in pairs])
    assert (
        "only loosely that a holdout measures without bias"
        in judge_holdout(wide, "winback", 0.1, "").sentence
    )
    pairs = [holdout_runs(4.0, 1.0, 1.5), holdout_runs(4.0, 1.0, 1.5)]
    far = measure_holdout([s for s, _ in pairs], [n for _, n in pairs])
    assert far["seeds_covered"] == 0 and not judge_holdout(far, "winback", 0.1, "").passed
