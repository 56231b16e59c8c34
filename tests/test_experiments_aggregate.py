"""Aggregating a sweep from its job directories, including failed, unfinished and never-started
jobs, with fabricated metrics.json files of known values (no simulation needed)."""

import json
import math
import shutil
import subprocess
import sys

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest
import yaml
from omegaconf import OmegaConf

from experiments import aggregate as agg
from experiments import destination, tune
from reports import build, html
from sim.kpis import GLOSSARY
from tests.conftest import PROJECT, run_cli

SEEDS = [1, 2, 3, 4, 5]


def _metrics(npc: float, customers: int = 1000, holdout: bool = True, **kpis) -> dict:
    m = dict.fromkeys(GLOSSARY, 0.0)
    m.update(
        customers=customers,
        net_profit=npc * customers,
        revenue=2 * npc * customers,
        marketing_cost=0.5 * customers,
        messages_sent=3 * customers,
        repurchase_rate=0.4,
        reactivation_rate=0.1,
        opt_out_rate=0.01,
        churn_rate=0.3,
        repeat_within_39w=None,
        silent_6_9m_buy_again_39w=None,
    )
    m.update(kpis)
    if holdout:
        m["holdout"] = {**m, "net_profit": (npc - 1.0) * 100, "customers": 100}
        m["uplift"] = {
            "net_profit_per_customer": {"estimate": 1.0, "low": -2.0, "high": 4.0},
            "revenue_per_customer": {"estimate": 2.0, "low": -3.0, "high": 7.0},
            "repurchase_rate": {"estimate": 0.01, "low": -0.02, "high": 0.04},
            "incremental_roi": 1.5,
        }
    return m


def _job(sweep, num, overrides, metrics=None, error=None, config=None, daily=True, in_sweep=True):
    """A job's directory; `in_sweep`: with the multirun.yaml Hydra's sweeper writes beside it
    (False: the directory of a single run)."""
    d = sweep / str(num)
    (d / ".hydra").mkdir(parents=True)
    if in_sweep:
        (sweep / "multirun.yaml").touch()
    (d / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if config is not None:
        (d / "config.yaml").write_text(yaml.safe_dump(config))
    if metrics is not None:
        (d / "metrics.json").write_text(json.dumps(metrics))
        if daily:
            days = np.arange((config or {}).get("days", 30))  # a whole series
            pd.DataFrame(
                {
                    "day": days,
                    "customers": 1000,
                    "active_90d_share": 0.25 - days / 1000,
                    "messages": (days % 7 == 0) * 100,
                    "opt_outs": 0,
                    "mean_fatigue": 0.1,
                }
            ).to_csv(d / "daily.csv", index=False)
    if error is not None:
        (d / "error.txt").write_text(error + "\n")
    return d


def _config(strategy: str, seed: int) -> dict:
    from omegaconf import OmegaConf

    from sim.config import compose

    cfg = OmegaConf.to_container(compose([f"strategy={strategy}", f"seed={seed}"]), resolve=True)
    return cfg


@pytest.fixture(scope="module")
def base_configs():
    return {s: _config(s, 1) for s in ("none", "blanket")}


def fabricate(sweep, effects: dict[str, float], base_configs, noise=0.05, seed=0, holdout=True):
    """A finished compare-style sweep: per seed a large shared level and per strategy a known
    effect plus a little noise of its own. Returns the jobs' overrides in job order."""
    rng = np.random.default_rng(seed)
    plan, num = [], 0
    for s in SEEDS:
        level = rng.normal(80.0, 5.0)
        for strategy, effect in effects.items():
            overrides = [f"seed={s}", f"strategy={strategy}", "experiment=compare"]
            config = {**base_configs["none" if strategy == "none" else "blanket"], "seed": s}
            value = level + effect + (rng.normal(0, noise) if strategy != "none" else 0.0)
            _job(sweep, num, overrides, _metrics(value, holdout=holdout), config=config)
            plan.append({"num": num, "overrides": overrides})
            num += 1
    return plan


def test_profit_per_customer_is_counted_on_day_0s_customers(tmp_path, base_configs):
    """The policy earns the same total but ends with fewer customers (it annoyed customers
    who would have referred friends): no extra profit per customer, and the whole-base
    figure is counted on the day-0 base, treated and holdout arms alike."""
    num = 0
    for s in SEEDS:
        for strategy, customers, joined in (("none", 1000, 100), ("blanket", 950, 50)):
            m = _metrics(80_000 / customers, customers=customers, new_customers=joined)
            m["holdout"].update(customers=100, new_customers=10)
            overrides = [f"seed={s}", f"strategy={strategy}"]
            _job(tmp_path, num, overrides, m, config={**base_configs[strategy], "seed": s})
            num += 1
    _, summary, comparison = agg.aggregate(tmp_path)
    profit = html.kpi_rows(comparison, "net_profit_per_customer").loc["blanket"]
    assert profit["mean"] == pytest.approx(80_000 / 900)
    assert profit["diff"] == pytest.approx(0.0, abs=1e-9)
    assert html.base_size(summary) == 900 + 90


def test_summary_has_one_row_per_job_and_lists_what_is_missing(tmp_path, base_configs):
    plan = fabricate(tmp_path, {"none": 0.0, "blanket": 1.0}, base_configs)
    # a failed job, one still running (no metrics, no error) and one never started
    _job(tmp_path, 10, ["seed=6", "strategy=none", "experiment=compare"], error="RuntimeError: x")
    _job(tmp_path, 11, ["seed=6", "strategy=blanket", "experiment=compare"])
    plan += [
        {"num": n, "overrides": o}
        for n, o in [
            (10, ["seed=6", "strategy=none", "experiment=compare"]),
            (11, ["seed=6", "strategy=blanket", "experiment=compare"]),
            (12, ["seed=7", "strategy=none", "experiment=compare"]),
        ]
    ]
    (tmp_path / "plan.json").write_text(json.dumps({"total": len(plan), "jobs": plan}))
    jobs, summary, comparison = agg.aggregate(tmp_path)
    assert len(summary) == 13 == len(jobs)
    status = summary.set_index("job")["status"]
    assert (status.iloc[:10] == "done").all()
    assert status["10"] == "failed" and status["11"] == "unfinished"
    assert status["12"] == "not started"
    assert summary.set_index("job").loc["10", "error"] == "RuntimeError: x"
    assert set(summary["strategy"]) == {"none", "blanket"}
    assert summary["scenario"].eq("").all()  # experiment=compare is common to all jobs
    assert {"net_profit_per_customer", "holdout_net_profit", "uplift_incremental_roi"} <= set(
        summary.columns
    )
    on_disk = pd.read_csv(tmp_path / agg.SUMMARY, keep_default_na=False)
    assert len(on_disk) == 13
    # the comparison uses the 5 finished pairs only
    row = comparison.set_index(["strategy", "kpi"]).loc[("blanket", "net_profit_per_customer")]
    assert row["n_pairs"] == 5
    assert row["diff_low"] < 1.0 < row["diff_high"]
    assert row["diff_high"] - row["diff_low"] < 0.3  # paired: the shared level cancels
    assert row["unpaired_high"] - row["unpaired_low"] > 5  # unpaired: it does not
    assert row["holdout_estimate"] == pytest.approx(1.0)
    assert row["holdout_covers"] == 1.0  # every run's (-2, 4) holds the true ~1.0
    missing = [j.name for j in agg.missing(jobs)]
    assert missing == ["10", "11", "12"]


def test_holdout_and_uplift_are_optional(tmp_path, base_configs):
    fabricate(tmp_path, {"none": 0.0, "blanket": -0.5}, base_configs, holdout=False)
    _, summary, comparison = agg.aggregate(tmp_path)
    assert not any(c.startswith(("holdout_", "uplift_")) for c in summary.columns)
    assert "holdout_estimate" not in comparison.columns
    profit = comparison.set_index(["strategy", "kpi"]).loc[("blanket", "net_profit_per_customer")]
    assert profit["diff"] == pytest.approx(-0.5, abs=0.1)


def test_a_holdout_too_small_for_an_interval_leaves_it_blank_and_the_report_builds(
    tmp_path, base_configs
):
    """With few customers a run's holdout may give an estimate but no interval: in every run
    (the summary then has no interval column) or in some (the typical estimate and interval
    are taken over the same runs, so that the one lies inside the other)."""
    fabricate(tmp_path, {"none": 0.0, "blanket": 1.0}, base_configs)
    for i, path in enumerate(sorted(tmp_path.glob("*/metrics.json"))):
        m = json.loads(path.read_text())
        m["uplift"]["repurchase_rate"] = {"estimate": 0.0, "low": None, "high": None}
        if i % 4 == 1:  # some of blanket's runs: no profit interval, an estimate far off
            m["uplift"]["net_profit_per_customer"] = {"estimate": -50.0, "low": None, "high": None}
        path.write_text(json.dumps(m))
    _, summary, comparison = agg.aggregate(tmp_path)
    assert "uplift_repurchase_rate_low" not in summary.columns
    rows = comparison.set_index(["strategy", "kpi"])
    assert math.isnan(rows.loc[("blanket", "repurchase_rate"), "holdout_low"])
    profit = rows.loc[("blanket", "net_profit_per_customer")]
    assert profit["holdout_low"] <= profit["holdout_estimate"] <= profit["holdout_high"]
    assert profit["holdout_estimate"] == pytest.approx(1.0)
    assert build.build(tmp_path).report.exists()


def test_a_twin_sweeps_report_counts_the_twins_own_customers(tmp_path, base_configs):
    """A twin brings its customers; the `customers` setting it ignores is not the count."""
    fabricate(tmp_path, {"none": 0.0, "blanket": 1.0}, base_configs)
    for path in tmp_path.glob("*/config.yaml"):
        config = yaml.safe_load(path.read_text())
        config["population"]["kind"] = "twin"
        path.write_text(yaml.safe_dump(config))
    page = build.build(tmp_path).report.read_text()
    assert "1,100 customers" in page  # 1,000 treated + 100 in the holdout, none new
    assert "10,000 customers" not in page


def test_a_folder_where_the_report_writes_a_file_is_refused_before_anything(
    tmp_path, capsys, base_configs
):
    fabricate(tmp_path, {"none": 0.0, "blanket": 1.0}, base_configs)
    (tmp_path / "report.html").mkdir()
    before = _files(tmp_path)
    code, out, err = report_cli(capsys, tmp_path)
    assert code == 2 and "report.html is a folder, where the report writes a file" in err
    assert _files(tmp_path) == before and not list(tmp_path.glob(".*tmp"))


def test_labels_scenarios_and_tuned_variants(tmp_path):
    a = _job(
        tmp_path,
        0,
        ["seed=1", "strategy=blanket", "population.dropout_s=0.4", "days=30"],
        _metrics(1.0),
    )
    _job(
        tmp_path,
        1,
        ["seed=1", "strategy=blanket", "population.dropout_s=0.9", "days=30"],
        _metrics(1.0),
    )
    _job(
        tmp_path, 2, ["strategy=blanket", "strategy.every_days=7", "seed=9", "days=30"], _metrics(1)
    )
    jobs = agg.find_jobs(tmp_path)
    assert a.name == jobs[0].name
    assert jobs[0].scenario == {"population.dropout_s": "0.4"}
    assert agg.scenario_label(jobs[1].scenario) == "dropout_s=0.9"
    assert [j.strategy for j in jobs] == ["blanket", "blanket", "blanket every_days=7"]
    assert [j.seed for j in jobs] == [1, 1, 9]


def test_the_strategy_comes_from_hydras_record_when_no_override_names_it(tmp_path):
    for num, record in enumerate(["hydra: {runtime: {choices: {strategy: winback}}}", "hydra: {"]):
        d = _job(tmp_path, num, [f"seed={num}"], _metrics(1.0))
        (d / ".hydra" / "hydra.yaml").write_text(record)
    read, broken = agg.find_jobs(tmp_path)
    assert (read.strategy, read.status) == ("winback", "done")
    assert broken.status == "unreadable"  # not a policy of its own named after a class
    assert broken.error.startswith(".hydra/hydra.yaml is not valid YAML (line ")


def _finding(tmp_path, effects, base_configs, noise):
    fabricate(tmp_path, effects, base_configs, noise=noise)
    _, summary, comparison = agg.aggregate(tmp_path)
    return html.finding(summary, comparison, "none", days=365)


def test_finding_names_a_clear_winner_with_its_interval_and_cost(tmp_path, base_configs):
    text = _finding(tmp_path, {"none": 0.0, "a": 2.0, "b": 1.0}, base_configs, noise=0.05)
    assert text.startswith("<b>a</b> earns the most incremental profit")
    assert "95% interval" in text and "5 of 5" in text and "runner-up, b" in text
    assert "messages per customer" in text and "opting out" in text


def test_finding_warns_when_few_seeds_stand_behind_it(tmp_path, base_configs):
    fabricate(tmp_path, {"none": 0.0, "a": 2.0, "b": 1.0}, base_configs, noise=0.05)
    _, summary, _ = agg.aggregate(tmp_path)
    assert "first look" not in html.finding(summary, agg.comparison_table(summary), "none", 365)
    two = summary[summary["seed"] <= 2]
    text = html.finding(two, agg.comparison_table(two), "none", 365)
    assert text.startswith("<b>a</b> earns the most") and "2 of 2" in text
    assert text.endswith(
        "Only 2 simulated repeats: an interval from so few can be far off in "
        "either direction (its own width is noisy), so read this as a first look and run at "
        "least 5 seeds before deciding."
    )


def test_finding_says_when_the_best_two_are_within_the_noise(tmp_path, base_configs):
    text = _finding(tmp_path, {"none": 0.0, "a": 2.0, "b": 1.95}, base_configs, noise=0.5)
    assert "No single winner" in text and "within the noise" in text
    assert "a minus b" in text


def test_finding_when_nothing_beats_sending_nothing(tmp_path, base_configs):
    text = _finding(tmp_path, {"none": 0.0, "a": -1.0, "b": -2.0}, base_configs, noise=0.05)
    assert "Every policy tested earns less than sending nothing" in text
    text = _finding(tmp_path / "z", {"none": 0.0, "a": 0.01}, base_configs, noise=1.0)
    assert "No policy earns clearly more than sending nothing" in text


def test_report_builds_from_a_partial_sweep_and_lists_the_missing_runs(tmp_path, base_configs):
    fabricate(tmp_path, {"none": 0.0, "blanket": 1.0}, base_configs)
    _job(
        tmp_path,
        10,
        ["seed=6", "strategy=blanket", "experiment=compare"],
        error="ValueError: exploded",
    )
    built = build.build(tmp_path)
    assert built.kind == "compare"
    page = built.report.read_text()
    assert page.count("data:image/png;base64,") >= 5  # figures inline
    assert "Missing runs" in page and "ValueError: exploded" in page
    assert "Assumptions behind this run" in page and "Default boutique" in page
    assert "paired by seed" in page
    assert [j.name for j in built.missing] == ["10"]
    # these runs' configs have no holdout: the note does not speak of one
    assert "the whole-base figure scales it to all of them" in page
    assert "holdout included" not in page


def test_robustness_counts_how_often_each_policy_stays_best(tmp_path, base_configs):
    rng = np.random.default_rng(3)
    num = 0
    # scenario 1: a clearly best; scenario 2: b clearly best; scenario 3: a and b tie
    effects = {"0.04": {"a": 2.0, "b": 1.0}, "0.16": {"a": 0.5, "b": 1.5}, "0.08": {"a": 1, "b": 1}}
    for churn, eff in effects.items():
        for s in SEEDS:
            level = rng.normal(80, 5)
            shared = rng.normal(0, 0.02)  # the tie: a and b identical run by run
            for strategy, effect in {"none": 0.0, **eff}.items():
                own = shared if churn == "0.08" else rng.normal(0, 0.02)
                value = level + effect + own
                overrides = [
                    f"population.behaviour.fatigue_churn={churn}",
                    f"seed={s}",
                    f"strategy={strategy}",
                ]
                config = {**base_configs["none"], "seed": s}
                _job(tmp_path, num, overrides, _metrics(value), config=config, daily=False)
                num += 1
    built = build.build(tmp_path)
    assert built.kind == "robustness"
    wins = pd.read_csv(tmp_path / build.ROBUSTNESS).set_index("strategy")
    assert wins.loc["a", "best"] + wins.loc["b", "best"] == 3
    assert wins.loc["a", "clearly_best"] == 1 and wins.loc["b", "clearly_best"] == 1
    assert wins.loc["a", "beats_baseline"] == 3
    text = built.report.read_text()
    assert "combinations of the uncertain behaviour parameters" in text
    # a and b each win one scenario, a tie takes the third: the churn setting tips it
    assert "The assumption that tips it is <b>fatigue_churn</b>" in text
    assert "how much fatigue raises silent churn" in text  # what the varied setting means
    assert "The policies' settings" in text


def test_a_lone_policy_is_clearly_best_only_where_it_clearly_beats_sending_nothing(
    tmp_path, base_configs
):
    """With one policy the runner-up is sending nothing: a policy that loses money is not
    called clearly best, nor its choice robust."""
    rng = np.random.default_rng(5)
    num = 0
    for churn in ("0.04", "0.16"):
        for s in SEEDS:
            level = rng.normal(80, 5)
            for strategy, effect in {"none": 0.0, "a": -1.0}.items():
                overrides = [f"population.behaviour.fatigue_churn={churn}", f"seed={s}"]
                value = level + effect + (rng.normal(0, 0.02) if effect else 0.0)
                config = {**base_configs["none"], "seed": s}
                _job(
                    tmp_path,
                    num,
                    [*overrides, f"strategy={strategy}"],
                    _metrics(value),
                    config=config,
                    daily=False,
                )
                num += 1
    built = build.build(tmp_path)
    wins = pd.read_csv(tmp_path / build.ROBUSTNESS).set_index("strategy")
    assert wins.loc["a", "best"] == 2 and wins.loc["a", "clearly_best"] == 0
    page = built.report.read_text()
    assert "It never earns clearly more than sending nothing" in page
    assert "does not hinge on these assumptions" not in page


def report_cli(capsys, *args: object) -> tuple[int, str, str]:
    return run_cli(capsys, build.main, *args)


def _files(folder) -> dict:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _validation_suite(folder):
    """What `retail-sim experiment=validate` leaves: its record, validation.json, its report."""
    _job(folder.parent, folder.name, ["experiment=validate"], in_sweep=False)
    (folder / "validation.json").write_text(json.dumps({"checks": []}))
    (folder / "report.html").write_text("<html>the validation suite's own report</html>")


@pytest.mark.parametrize(
    ("make", "given", "says"),
    [
        (_validation_suite, "val", "is the output of the validation suite (experiment=validate)"),
        (
            lambda d: _job(d.parent, d.name, ["seed=1"], _metrics(1.0), in_sweep=False),
            "run",
            "is the output of a single run, not a sweep: give the directory of a sweep",
        ),
        (  # a job of a sweep: the sweep is named
            lambda d: _job(d, 0, ["seed=1"], _metrics(1.0)),
            "sweep/0",
            "sweep/0 is the output of a single run, not a sweep: give the sweep that holds it",
        ),
        (  # outputs/<date>: single runs side by side
            lambda d: [_job(d, t, ["seed=1"], _metrics(1.0), in_sweep=False) for t in "ab"],
            "day",
            "day holds runs but is not a sweep (it has no plan.json or multirun.yaml",
        ),
        (  # multirun/: the sweeps are a level or two below
            lambda d: _job(d / "2026-11-24" / "10-00-00", 0, ["seed=1"], _metrics(1.0)),
            "multirun",
            "multirun holds no runs: give one of the sweeps inside it, e.g. ",
        ),
    ],
    ids=["validation-suite", "single-run", "job-of-a-sweep", "folder-of-runs", "folder-of-sweeps"],
)
def test_report_command_refuses_a_directory_that_is_not_a_sweep(
    tmp_path, capsys, make, given, says
):
    made = tmp_path / given.split("/")[0]
    make(made)
    before = _files(tmp_path)
    code, out, err = report_cli(capsys, tmp_path / given)
    assert code == 2 and out == ""
    assert err.startswith("retail-sim-report: error:") and err.count("\n") == 1, err
    assert says in err and "Traceback" not in err
    assert _files(tmp_path) == before  # nothing written, the suite's report.html untouched


def test_report_command_refuses_a_baseline_the_sweep_did_not_run(tmp_path, capsys, base_configs):
    fabricate(tmp_path, {"none": 0.0, "blanket": 1.0}, base_configs)
    build.build(tmp_path)
    before = _files(tmp_path)
    code, out, err = report_cli(capsys, tmp_path, "--baseline", "blankett")
    assert code == 2 and out == "" and "Traceback" not in err
    assert err == (
        "retail-sim-report: error: --baseline 'blankett' is not a strategy of this sweep: "
        "choose one of none, blanket\n"
    )
    assert _files(tmp_path) == before  # its comparison against none is not overwritten
    code, _, _ = report_cli(capsys, tmp_path, "--baseline", "blanket")
    profit = pd.read_csv(tmp_path / agg.COMPARISON).set_index(["strategy", "kpi"])["diff"]
    assert code == 0 and profit[("none", "net_profit_per_customer")] == pytest.approx(-1, abs=0.1)


def test_a_report_against_another_baseline_names_it_and_keeps_the_holdout_against_none(
    tmp_path, base_configs
):
    """The holdout got nothing: its measurement is checked against none, and a report that
    compares with another policy says so instead of setting the two side by side."""
    fabricate(tmp_path, {"none": 0.0, "blanket": 1.0, "winback": 4.5}, base_configs)
    build.build(tmp_path, baseline="blanket")
    text = (tmp_path / "report.html").read_text()
    assert "sending nothing" not in text.replace("measures a policy against sending nothing", "")
    assert "more than <i>blanket</i>" in text and "What a real store would measure" not in text
    assert "while this report compares with <i>blanket</i>" in text
    rows = pd.read_csv(tmp_path / agg.COMPARISON).set_index(["strategy", "kpi"])
    winback = rows.loc[("winback", "net_profit_per_customer")]
    assert winback["diff"] == pytest.approx(3.5, abs=0.2)  # against blanket
    # every run's holdout interval is [-2, 4]: it misses winback's truth against none, +4.5
    # (against blanket, +3.5, it would have covered it)
    assert winback["holdout_covers"] == 0.0
    assert np.isnan(rows.loc[("none", "net_profit_per_customer")].get("holdout_covers", np.nan))


def test_a_sweep_folder_that_cannot_be_written_is_refused_before_anything(
    tmp_path, capsys, monkeypatch, base_configs
):
    """A sweep shared read-only: the report failed with a traceback when it wrote (a tuning
    sweep's only after its fresh-seed runs). Root writes anywhere, so the OS's answer to
    anyone else is given here."""
    fabricate(tmp_path, {"none": 0.0, "blanket": 1.0}, base_configs)
    before = _files(tmp_path)

    def read_only(dir, prefix):
        raise PermissionError(13, "Permission denied", dir)

    monkeypatch.setattr(destination.tempfile, "mkdtemp", read_only)
    code, out, err = report_cli(capsys, tmp_path)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert f"{tmp_path}: cannot write in {tmp_path} (permission denied): the report" in err
    assert _files(tmp_path) == before


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("config.yaml", b"seed: 2\nstore: {name: Def", "config.yaml is not valid YAML (line 3: "),
        ("config.yaml", b"PK\x03\x04\x00", "config.yaml is not valid YAML (unacceptable char"),
        ("config.yaml", b"just a sentence\n", "config.yaml is not a YAML mapping"),
        ("metrics.json", b'{"customers": 1000, "net_pro', "metrics.json is not valid JSON (line 1"),
        ("metrics.json", b"{}", "metrics.json holds no KPIs"),
        ("metrics.json", b'{"detail": "Not Found"}', "metrics.json holds no KPIs"),
        ("metrics.json", b"[1000, 81.5]", "metrics.json is not a JSON object"),
        ("metrics.json", b"81.5", "metrics.json is not a JSON object"),
        ("metrics.json", b'{"customers": 1000, "holdout": [1]}', "metrics.json's holdout is not a"),
        (".hydra/overrides.yaml", b"- seed=2\n- [strat", ".hydra/overrides.yaml is not valid YAML"),
        ("config.yaml", b"customers: 1000\ndays:", "config.yaml has no number for days (cut"),
        (
            "config.yaml",
            b"customers: 1000\ndays: 30\nseed: 2\nholdout: 0.1\n",
            "config.yaml has no population",
        ),
        (
            "metrics.json",
            b'{"customers": 1000, "uplift": {"net_profit_per_customer": 5}}',
            "metrics.json's uplift net_profit_per_customer is not a JSON object",
        ),
        # a run writes a finite number or null: NaN or text was a blank, silently left out
        (
            "metrics.json",
            b'{"customers": 1000, "net_profit": NaN}',
            "metrics.json's net_profit is nan, not a",
        ),
        (
            "metrics.json",
            b'{"customers": 1000, "net_profit": "abc"}',
            "metrics.json's net_profit is 'abc'",
        ),
        (
            "metrics.json",
            b'{"customers": 9, "holdout": {"aov": true}}',
            "metrics.json's holdout aov is True",
        ),
    ],
    ids=[
        "truncated-config",
        "config-not-yaml",
        "config-not-a-mapping",
        "truncated-metrics",
        "empty-metrics",
        "metrics-without-kpis",
        "metrics-a-list",
        "metrics-a-number",
        "holdout-a-list",
        "truncated-overrides",
        "config-cut-after-a-key",
        "config-cut-before-its-sections",
        "uplift-entry-a-number",
        "kpi-nan",
        "kpi-text",
        "holdout-kpi-a-flag",
    ],
)
def test_a_job_with_an_unreadable_file_is_missing_with_the_reason(
    tmp_path, capsys, base_configs, name, content, reason
):
    plan = fabricate(tmp_path, {"none": 0.0, "blanket": 1.0}, base_configs)
    (tmp_path / "plan.json").write_text(json.dumps({"total": len(plan), "jobs": plan}))
    (tmp_path / "3" / name).write_bytes(content)  # seed 2, blanket
    code, out, err = report_cli(capsys, tmp_path)
    assert code == 0 and "Traceback" not in err, err
    assert "9 of 10 runs finished" in out
    assert f"job 3 (seed=2 strategy=blanket experiment=compare) unreadable: {reason}" in out
    summary = pd.read_csv(tmp_path / agg.SUMMARY, keep_default_na=False).set_index("job")
    assert summary.loc[3, "status"] == "unreadable" and summary.loc[3, "error"].startswith(reason)
    page = (tmp_path / build.REPORT).read_text()
    assert "Missing runs" in page and html.esc(reason) in page
    comparison = pd.read_csv(tmp_path / agg.COMPARISON).set_index(["strategy", "kpi"])
    assert comparison.loc[("blanket", "net_profit_per_customer"), "n_pairs"] == 4


def test_a_kpi_missing_from_metrics_is_blank_not_zero(tmp_path, base_configs):
    """A run from before a KPI existed still counts, without that KPI: its missing net profit
    must not read as zero profit per customer."""
    fabricate(tmp_path, {"none": 0.0, "blanket": 1.0}, base_configs)
    metrics = json.loads((tmp_path / "3" / "metrics.json").read_text())  # seed 2, blanket
    del metrics["net_profit"]
    (tmp_path / "3" / "metrics.json").write_text(json.dumps(metrics))
    jobs, summary, comparison = agg.aggregate(tmp_path)
    assert jobs[3].status == "done"
    assert math.isnan(summary.loc[3, "net_profit_per_customer"])
    pairs = comparison.set_index(["strategy", "kpi"])["n_pairs"]
    assert pairs[("blanket", "net_profit_per_customer")] == 4
    assert pairs[("blanket", "revenue_per_customer")] == 5
    trials = tune.trials_table(jobs, [])["net_profit_per_customer"]  # raised a KeyError
    assert math.isnan(trials[3]) and trials.notna().sum() == 9


def test_the_tuned_strategy_is_the_one_the_trials_name(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "hydra.yaml").write_text("hydra: {runtime: {choices: {strat")
    job = agg.Job("0", tmp_path, ["strategy=blanket", "strategy.every_days=7"], "done")
    assert tune._strategy_choice(job) == "blanket"  # the broken record raised a yaml error


@pytest.mark.parametrize("customers", [None, 0, "many"])
def test_per_customer_kpis_are_blank_without_a_customer_count(customers):
    m = {"customers": 5, "new_customers": 1, "net_profit": 10}
    assert agg.per_customer(m)["net_profit_per_customer"] == 2.5  # per customer on day 0
    values = agg.per_customer({**m, "customers": customers}).values()
    assert all(math.isnan(v) for v in values)  # "many" raised a TypeError
    assert math.isnan(agg.per_customer({"customers": 5, "net_profit": 10})["revenue_per_customer"])


@pytest.mark.parametrize(
    ("results", "reason"),
    [
        ("best_params: {strategy.every_days: 7\n", "is not valid YAML (line 2: "),
        ("best_params: 7\n", "has no best_params mapping"),
    ],
    ids=["truncated", "no-best-params"],
)
def test_an_unreadable_optimiser_result_stops_the_report_before_it_writes(
    tmp_path, capsys, base_configs, results, reason
):
    fabricate(tmp_path, {"none": 0.0, "blanket": 1.0}, base_configs)
    (tmp_path / "optimization_results.yaml").write_text(results)
    before = _files(tmp_path)
    code, out, err = report_cli(capsys, tmp_path, "--no-validate")
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"retail-sim-report: error: optimization_results.yaml {reason}")
    assert "delete the file to report the trials alone" in err
    assert _files(tmp_path) == before


def test_a_tuning_report_reads_the_plan_and_the_optimiser_result_once(
    tmp_path, monkeypatch, base_configs
):
    fabricate(tmp_path, {"none": 0.0, "blanket": 1.0}, base_configs)
    (tmp_path / "plan.json").write_text(json.dumps({"baseline": "none", "validation_seeds": [7]}))
    (tmp_path / "optimization_results.yaml").write_text("best_params: {strategy.every_days: 7}\n")
    (tmp_path / "0" / ".hydra" / "hydra.yaml").write_text(
        "hydra: {runtime: {choices: {strategy: none}}}"
    )
    # no simulation, only the reads: each validation run leaves an empty folder
    monkeypatch.setattr(tune, "_run_one", lambda config, out, overrides: out.mkdir(parents=True))
    reads, read = [], agg.read_file

    def read_file(folder, name, *args):
        reads.append(name)
        return read(folder, name, *args)

    monkeypatch.setattr(tune, "read_file", read_file)
    monkeypatch.setattr(agg, "read_file", read_file)
    assert build.build(tmp_path).kind == "tune"
    assert reads.count("plan.json") == 1 and reads.count("optimization_results.yaml") == 1
    assert reads.count("metrics.json") == 10  # the validation takes the trials as read


def _warnings(err: str) -> list[str]:
    """stderr's lines, each of which must be one warning."""
    lines = err.splitlines()
    assert all(line.startswith("retail-sim: warning: ") for line in lines), err
    return [line.removeprefix("retail-sim: warning: ") for line in lines]


@pytest.mark.parametrize(
    ("plan", "reason"),
    [
        ('{"total": 10, "jobs": [{"num": 0, "overr', "plan.json is not valid JSON (line 1: "),
        ("[1, 2]", "plan.json is not a JSON object"),
        ('{"jobs": {"0": ["seed=1"]}}', "plan.json does not hold the plan the sweep wrote"),
    ],
    ids=["truncated", "not-an-object", "not-a-plan"],
)
def test_an_unreadable_plan_is_told_as_the_report_may_leave_runs_out(
    tmp_path, capsys, base_configs, plan, reason
):
    fabricate(tmp_path, {"none": 0.0, "blanket": 1.0}, base_configs)
    shutil.rmtree(tmp_path / "9")  # never started: only the plan knew of it
    (tmp_path / "plan.json").write_text(plan)
    code, out, err = report_cli(capsys, tmp_path)
    assert code == 0 and "9 of 9 runs finished" in out
    told = (
        ": runs that never started cannot be listed as missing, so the report may leave some "
        "out; it compares with none, the default (--baseline)"
    )
    [warning] = _warnings(err)
    assert warning.startswith(reason) and warning.endswith(told)
    page = (tmp_path / build.REPORT).read_text()
    assert "This report may be incomplete" in page and html.esc(warning) in page


@pytest.mark.parametrize(
    ("daily", "reason"),
    [
        (None, None),
        (lambda text: 'day,customers\n1,2,3\n"', "daily.csv cannot be read (Error tokenizing"),
        (
            lambda text: "\n".join(text.splitlines()[:101]),
            "daily.csv has 100 days of the run's 365",
        ),
        (lambda text: text[: text.rindex(",")], "daily.csv has empty values (cut short?)"),
        (lambda text: text.replace("mean_fatigue", "fatigue"), "daily.csv has no column mean_fat"),
        (lambda text: None, "no daily series (daily.csv)"),
    ],
    ids=["intact", "not-a-table", "cut-at-a-line", "cut-in-a-line", "no-column", "no-file"],
)
def test_an_unusable_daily_series_is_told_and_left_out_of_the_figures(
    tmp_path, capsys, base_configs, daily, reason
):
    fabricate(tmp_path, {"none": 0.0, "blanket": 1.0}, base_configs)
    series = tmp_path / "3" / "daily.csv"  # seed 2, blanket
    if daily is not None:
        text = daily(series.read_text())
        series.unlink() if text is None else series.write_text(text)
    code, out, err = report_cli(capsys, tmp_path)
    assert code == 0 and "10 of 10 runs finished" in out and "Traceback" not in err
    page = (tmp_path / build.REPORT).read_text()
    if reason is None:
        assert err == "" and "may be incomplete" not in page
        return
    [warning] = _warnings(err)
    assert warning.startswith(f"job 3 (blanket, seed 2): {reason}")
    assert warning.endswith(": left out of the daily figures")
    assert "This report may be incomplete" in page and html.esc(warning) in page


def test_report_command_rebuilds_and_rejects_a_wrong_directory(tmp_path, base_configs):
    fabricate(tmp_path / "sweep", {"none": 0.0, "blanket": 1.0}, base_configs)
    code = "from reports.build import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "sweep")],
        cwd=PROJECT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "10 of 10 runs finished" in done.stdout and "report.html" in done.stdout
    wrong = subprocess.run(  # as a module too
        [sys.executable, "-m", "reports.build", str(tmp_path)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
    )
    assert wrong.returncode == 2
    assert wrong.stderr.startswith("retail-sim-report: error:") and wrong.stderr.count("\n") == 1
    assert math.isfinite(float(pd.read_csv(tmp_path / "sweep" / "comparison.csv")["mean"][0]))


@pytest.mark.parametrize(
    ("widths", "says", "column"),
    [
        ({"a": (1, 3), "b": (1, 2)}, "the paired intervals are 2.0 to 3.0 times narrower", "3.0x"),
        ({"a": (2, 1)}, "here they come out no narrower: with this few seeds", "2.0x wider"),
        ({"a": (1, 3), "b": (2, 1)}, "up to 3.0 times narrower, but for 1 of 2 policies wider", ""),
    ],
)
def test_the_pairing_sentence_says_what_its_table_shows(widths, says, column):
    """(paired width, unpaired width) per policy: it said "far narrower" above a table whose
    paired intervals were wider."""
    rows = [
        {"scenario": "", "strategy": name, "kpi": html.NPC, "diff": 1.0}
        | {"diff_low": 1 - p / 2, "diff_high": 1 + p / 2}
        | {"unpaired_low": 1 - u / 2, "unpaired_high": 1 + u / 2}
        for name, (p, u) in widths.items()
    ]
    comparison = pd.DataFrame(rows)
    order = ["none", *widths]
    assert says in html.pairing(comparison, order, "none")
    assert column in html.paired_vs_unpaired(comparison, order, "none")


def test_the_tier_note_says_why_there_is_no_tier_figure(tmp_path, base_configs):
    """Runs that count tiers every day but keep none (no loyalty policy) are not runs that
    "did not record" tiers."""
    fabricate(tmp_path, {"none": 0.0, "blanket": 1.0}, base_configs)
    build.build(tmp_path)
    assert "which the runs of this sweep did not record" in (tmp_path / "report.html").read_text()
    for daily in tmp_path.glob("*/daily.csv"):
        pd.read_csv(daily).assign(tier_1=0, tier_2=0, tier_3=0).to_csv(daily, index=False)
    build.build(tmp_path)
    text = (tmp_path / "report.html").read_text()
    assert "no policy in this sweep gives customers loyalty tiers" in text
    assert "did not record" not in text


def test_the_robustness_finding_names_the_assumption_that_tips_the_winner():
    """It promised that a table would show which assumption tips the choice; none did."""
    # p wins 3 of 4 whatever a or b: neither tells more than "p" alone
    mostly = pd.Series({"a=1, b=x": "p", "a=1, b=y": "p", "a=2, b=x": "q", "a=2, b=y": "p"})
    assert build._tipping_point(mostly).startswith("No single assumption decides the winner")
    crossed = pd.Series({"a=1, b=x": "p", "a=1, b=y": "q", "a=2, b=x": "q", "a=2, b=y": "p"})
    assert build._tipping_point(crossed).startswith("No single assumption decides the winner")
    clear = pd.Series({"a=1, b=x": "p", "a=1, b=y": "p", "a=2, b=x": "q", "a=2, b=y": "q"})
    assert "<b>a</b>: the best policy is, at 1, p in 2 of 2; at 2, q in 2 of 2." in (
        build._tipping_point(clear)
    )


def test_a_built_in_policy_keeps_its_colour_from_report_to_report():
    """Colours followed the ranking, so loyalty was red in one report and orange in the next."""
    from reports import figures

    one = figures.palette(["loyalty", "blanket", "none"], "none")
    other = figures.palette(["rfm_tiering", "blanket", "winback", "loyalty", "none"], "none")
    assert one["loyalty"] == other["loyalty"] and one["blanket"] == other["blanket"]
    assert one["none"] == other["none"] == matplotlib.colors.to_rgb(figures.GREY)
    mine = figures.palette(["loyalty", "mine", "blanket every_days=7", "none"], "none")
    assert len(set(mine.values())) == 4 and mine["loyalty"] == one["loyalty"]


def test_a_one_seed_robustness_sweep_gets_its_report(tmp_path, base_configs):
    """One seed gives no interval: the report failed on a KeyError, with no report at all."""
    num = 0
    for churn in ("0.04", "0.16"):
        for strategy, effect in {"none": 0.0, "blanket": 1.0}.items():
            overrides = [f"population.behaviour.fatigue_churn={churn}", "seed=1"]
            config = {**base_configs["none"], "seed": 1}
            _job(
                tmp_path,
                num,
                [*overrides, f"strategy={strategy}"],
                _metrics(80 + effect),
                config=config,
            )
            num += 1
    built = build.build(tmp_path)
    assert built.kind == "robustness"
    text = built.report.read_text()
    assert "With a single seed per scenario nothing can be told from luck" in text
    assert "never earns clearly more" not in text
    wins = pd.read_csv(tmp_path / build.ROBUSTNESS).set_index("strategy")
    assert wins.loc["blanket", "best"] == 2 and wins.loc["blanket", "clearly_best"] == 0


def test_the_key_numbers_give_each_policy_its_incremental_roi(tmp_path, base_configs):
    """DOMAIN.md's decision makers read incremental ROI against a control: per unit of extra
    marketing cost, the extra net profit (here 2 more profit for 1 more cost per customer)."""
    num = 0
    for s in SEEDS:
        for strategy, extra in (("none", 0.0), ("blanket", 1.0)):
            m = _metrics(80.0 + 2 * extra + s, marketing_cost=(0.5 + extra) * 1000)
            overrides = [f"seed={s}", f"strategy={strategy}"]
            _job(tmp_path, num, overrides, m, config={**base_configs[strategy], "seed": s})
            num += 1
    _, summary, comparison = agg.aggregate(tmp_path)
    text = html.key_numbers(summary, comparison, ["blanket", "none"], "none")
    assert "incremental ROI" in text and '<td class="num">+2.00</td>' in text
    # the whole base (1,000 treated and 100 holdout customers on day 0), with its interval
    assert "+2,200<br><small>+2,200 to +2,200</small>" in text


def test_the_holdout_roi_is_the_typical_runs_not_a_mean_of_wild_ratios(tmp_path, base_configs):
    num = 0
    for s, roi in zip(SEEDS, [1.0, 1.2, 0.8, 91.0, 1.1], strict=True):  # one run's spend tiny
        for strategy in ("none", "blanket"):
            m = _metrics(80.0 + s)
            m["uplift"]["incremental_roi"] = roi
            overrides = [f"seed={s}", f"strategy={strategy}"]
            _job(tmp_path, num, overrides, m, config={**base_configs[strategy], "seed": s})
            num += 1
    _, _, comparison = agg.aggregate(tmp_path)
    row = html.kpi_rows(comparison, "incremental_roi").loc["blanket"]
    assert row["holdout_estimate"] == 1.1  # the median; the mean would be 19.0


def test_a_swept_cap_is_part_of_the_policy_not_a_scenario(tmp_path, base_configs):
    """`strategy=none,blanket cap=none,weekly` compares blanket with and without its cap (a cap
    on none changes nothing: none stays the baseline); it became a robustness report over
    "uncertain behaviour parameters"."""
    num = 0
    for s in SEEDS:
        for strategy in ("none", "blanket"):
            for cap in ("none", "weekly"):
                overrides = [f"seed={s}", f"strategy={strategy}", f"cap={cap}"]
                config = {**base_configs[strategy], "seed": s}
                _job(tmp_path, num, overrides, _metrics(80.0 + s), config=config, daily=False)
                num += 1
    jobs = agg.find_jobs(tmp_path)
    assert {j.strategy for j in jobs} == {"none", "blanket", "blanket cap=weekly"}
    assert all(j.scenario == {} for j in jobs)
    assert build.build(tmp_path).kind == "compare"


def test_the_assumptions_say_whether_the_customers_are_a_digital_twin(base_configs):
    config = {**base_configs["none"], "customers": 5447}
    assert "drawn from the population's distributions" in html.assumptions(config, [1, 2])
    config["population"] = {**config["population"], "kind": "twin", "twin_file": "/s/twin.npz"}
    text = html.assumptions(config, [1, 2])
    assert "5,447, the store's own (a digital twin from /s/twin.npz" in text


def test_a_policys_settings_are_shown_whole_down_to_each_nested_limit():
    """A capped policy's cap was one value cut at 140 characters: two variants differing in one
    limit looked the same."""
    from sim.config import compose

    capped = compose(["strategy=capped_blanket", "strategy.cap.limits.sms.days=14"]).strategy
    text = html.strategy_settings({"personal_capped": OmegaConf.to_container(capped)})
    assert "cap.limits.sms.days=14" in text and "cap.limits.week.max=2" in text
    assert "..." not in text and "_target_" not in text
