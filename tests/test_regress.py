"""`retail-sim-regress`: CI's outcome guard passes on main, notices a changed behaviour
default, accepts a change with --update, fails a claim that cannot hold, and stops bad input
with one line."""

from __future__ import annotations

import io
import json
import re
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml

from experiments import regress
from sim import uplift
from sim.config import compose
from sim.kpis import COHORT_DAYS, GLOSSARY

COMMITTED = regress.DEFAULT_SCENARIOS.with_name(regress.BASELINE_NAME)
SMALL = {  # a few seconds: enough to exercise every path but the full default set
    "common": ["customers=300", "days=30"],
    "seeds": [1, 2],
    "scenarios": {"none": ["strategy=none"], "blanket": ["strategy=blanket"]},
}


def regress_cli(*args: str | Path) -> tuple[int, str, str]:
    """Run the command in-process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), pytest.raises(SystemExit) as exited:
        regress.main([str(a) for a in args])
    return exited.value.code, out.getvalue(), err.getvalue()


def write_yaml(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def table_rows(out: str, kpi: str) -> list[list[str]]:
    """The rows of the printed table of changes that name `kpi`."""
    return [line.split() for line in out.splitlines() if line.split()[2:3] == [kpi]]


@pytest.fixture(scope="module")
def default_run() -> tuple[int, str, str]:
    """The default set against the committed baseline, exactly as CI runs it (once)."""
    return regress_cli()


def test_default_set_passes_on_the_committed_baseline(default_run):
    status, out, err = default_run
    assert status == 0, out[-3000:] + err
    last = out.strip().splitlines()[-1]
    assert last.startswith("OK: ") and "5 of 5 claims hold" in last, last
    assert "every KPI of every run matches the baseline" in out
    # both error rates are stated: alpha with its Bonferroni family rate, and false alarms
    assert "alpha 0.01" in out and "<= 0.04 (Bonferroni)" in out and "false alarm" in out
    for name in ("caps_cut_opt_outs", "winback_raises_reactivation", "holdout_gets_no_messages"):
        assert any(line.split()[:2] == ["holds", name] for line in out.splitlines()), name


def test_the_committed_baseline_guards_every_kpi():
    baseline = json.loads(COMMITTED.read_text())
    suite = regress.load_suite(regress.DEFAULT_SCENARIOS)
    assert set(baseline["runs"]) == set(suite.scenarios)
    assert all(set(map(int, runs)) == set(suite.seeds) for runs in baseline["runs"].values())
    plain = baseline["runs"]["none"]["1"]
    assert set(GLOSSARY) <= set(plain)  # 280 days: the 39-week checks are defined too
    holdout = baseline["runs"]["blanket_holdout"]["1"]
    assert holdout["holdout.messages_sent"] == 0
    # the KPIs a claim may name are the ones a run writes
    assert {k for k in holdout if k.startswith("uplift.")} == {f"uplift.{k}" for k in uplift.KPIS}
    assert baseline["versions"]["numpy_pin"] == f"numpy=={baseline['versions']['numpy']}"


def test_a_changed_behaviour_default_fails(tmp_path):
    """The default scenarios with message fatigue doubled as a churn driver, against the
    committed baseline (one scenario and seed of it, to keep the test quick): exit 1, and the
    table names churn_rate among the moved KPIs."""
    default = yaml.safe_load(regress.DEFAULT_SCENARIOS.read_text())
    committed = json.loads(COMMITTED.read_text())
    committed["runs"] = {"blanket": {"1": committed["runs"]["blanket"]["1"]}}
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(committed))
    subset = {**default, "seeds": [1], "scenarios": {"blanket": default["scenarios"]["blanket"]}}
    subset["claims"] = []
    same = write_yaml(tmp_path / "same.yaml", subset)
    status, out, _ = regress_cli("--scenarios", same, "--baseline", baseline)
    assert status == 0, out  # the subset alone matches: what fails below is the change

    fatigue_churn = compose([]).population.behaviour.fatigue_churn
    doubled = f"population.behaviour.fatigue_churn={2 * fatigue_churn}"
    changed = {**subset, "common": [*subset["common"], doubled]}
    scenarios = write_yaml(tmp_path / "changed.yaml", changed)
    status, out, _ = regress_cli("--scenarios", scenarios, "--baseline", baseline, "--max-rows", 0)
    assert status == 1, out
    rows = table_rows(out, "churn_rate")
    assert rows and rows[0][:2] == ["blanket", "1"], out
    assert float(rows[0][4]) > float(rows[0][3])  # more fatigue churn: more churn
    last = out.strip().splitlines()[-1]
    assert last.startswith("REGRESSION: ") and "KPIs moved in 1 scenario;" in last, last
    accept = f"retail-sim-regress --update --scenarios {scenarios} --baseline {baseline}"
    assert accept in out.splitlines()[-3]  # just above the verdict, where a CI log ends


def test_update_writes_the_baseline_prints_the_diff_and_a_rerun_passes(tmp_path):
    scenarios = write_yaml(tmp_path / "mine.yaml", SMALL)
    baseline = tmp_path / "ci" / "mine.json"
    status, _, err = regress_cli("--scenarios", scenarios, "--baseline", baseline)
    assert status == 2 and err.count("\n") == 1
    assert f"run `retail-sim-regress --update --scenarios {scenarios} --baseline {baseline}`" in err

    status, out, _ = regress_cli("--scenarios", scenarios, "--baseline", baseline, "--update")
    assert status == 0 and "no old baseline" in out and out.strip().endswith("commit it")
    written = json.loads(baseline.read_text())
    assert written["versions"]["numpy"] == __import__("numpy").__version__
    assert sorted(p.name for p in baseline.parent.iterdir()) == ["mine.json"]  # no temp left
    assert regress_cli("--scenarios", scenarios, "--baseline", baseline)[0] == 0

    # a deliberate change of policy: the check fails; --update shows what moved and accepts it
    richer = ["strategy=blanket", "strategy.discount=0.2"]
    write_yaml(scenarios, {**SMALL, "scenarios": {**SMALL["scenarios"], "blanket": richer}})
    status, out, _ = regress_cli("--scenarios", scenarios, "--baseline", baseline)
    assert (
        status == 1
        and "blanket's overrides differ from the baseline's: +strategy.discount=0.2" in out
    )
    status, out, _ = regress_cli(
        "--scenarios", scenarios, "--baseline", baseline, "--update", "--max-rows", 0
    )
    assert status == 0 and "What moved against the old baseline:" in out
    moved = table_rows(out, "discount_cost")
    assert {row[0] for row in moved} == {"blanket"} and len(moved) == 2, out
    assert regress_cli("--scenarios", scenarios, "--baseline", baseline)[0] == 0

    # the number of processes does not change a single value
    parallel = tmp_path / "parallel.json"
    status, _, _ = regress_cli(
        "--scenarios", scenarios, "--baseline", parallel, "--update", "--jobs", 2
    )
    assert status == 0
    assert json.loads(parallel.read_text())["runs"] == json.loads(baseline.read_text())["runs"]


def files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its content, to show that nothing was written."""
    return {str(f): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}


UNWRITABLE = [  # (case, --baseline under tmp_path, --update?, the message)
    ("directory", "ci", True, "ci is a directory: give --baseline a file, e.g. "),
    ("directory_check", "ci", False, "ci is a directory: give --baseline a file, e.g. "),
    ("in_a_file", "notes.txt/baseline.json", True, "notes.txt is a file, not a folder"),
    ("scenarios_file", "scenarios.yaml", True, "is the scenarios file: give --baseline a file"),
    # someone's notes: the error for a non-baseline suggested the --update that replaced them
    ("not_json", "notes.txt", True, "notes.txt exists and is no .json file: --update would"),
    # /proc refuses new folders even to root; the runs went ahead and the write failed
    ("unwritable_folder", "/proc/retail-sim/baseline.json", True, "cannot write in /proc: give"),
]


@pytest.mark.parametrize(
    ("case", "baseline", "update", "message"), UNWRITABLE, ids=[u[0] for u in UNWRITABLE]
)
def test_a_baseline_that_cannot_be_written_stops_before_any_run(
    tmp_path, case, baseline, update, message
):
    """--update used to run every scenario and then fail with a traceback when it wrote."""
    scenarios = write_yaml(tmp_path / "scenarios.yaml", SMALL)
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "baseline.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("notes")
    before = files(tmp_path)
    flags = ["--update"] if update else []
    status, out, err = regress_cli(
        "--scenarios", scenarios, "--baseline", tmp_path / baseline, *flags
    )
    assert status == 2, out + err
    assert err.startswith("retail-sim-regress: error: ") and err.count("\n") == 1, err
    assert message in err and "Traceback" not in err
    assert out == "" and files(tmp_path) == before  # nothing ran, nothing written


def test_a_baseline_from_another_numpy_is_named_in_the_failure(tmp_path):
    scenarios = write_yaml(tmp_path / "scenarios.yaml", {**SMALL, "seeds": [1]})
    assert regress_cli("--scenarios", scenarios, "--update")[0] == 0
    baseline = tmp_path / "baseline.json"  # the default: next to the scenarios file
    doc = json.loads(baseline.read_text())
    doc["versions"]["numpy"] = "1.26.4"
    doc["runs"]["none"]["1"]["revenue"] += 1.0
    baseline.write_text(json.dumps(doc))
    status, out, _ = regress_cli("--scenarios", scenarios)
    assert status == 1
    # the installed numpy is the pin, so the baseline is what needs remaking
    assert "the baseline was made with numpy 1.26.4, not the pinned" in out
    assert "identical random streams only within one version" in out
    assert "Settle the numpy note above" in out and "accept them with" not in out


def test_the_installed_numpy_off_the_pin_is_the_fix_named_and_update_refuses_it(
    tmp_path, monkeypatch
):
    scenarios = write_yaml(tmp_path / "scenarios.yaml", {**SMALL, "seeds": [1]})
    assert regress_cli("--scenarios", scenarios, "--update")[0] == 0
    installed = regress.versions()
    off_pin = {**installed, "numpy": "2.3.1"}
    monkeypatch.setattr(regress, "versions", lambda: off_pin)
    note = f"numpy 2.3.1 is installed but retail-sim pins {installed['numpy_pin']}"
    status, out, _ = regress_cli("--scenarios", scenarios)
    assert status == 0 and note in out  # nothing moved, but the machine is off the pin
    baseline = tmp_path / "baseline.json"
    doc = json.loads(baseline.read_text())
    doc["runs"]["none"]["1"]["revenue"] += 1.0
    baseline.write_text(json.dumps(doc))
    status, out, _ = regress_cli("--scenarios", scenarios)
    assert status == 1 and note in out and "Install the pin (pip install -e .)" in out
    assert "Settle the numpy note above" in out and "accept them with" not in out
    status, out, err = regress_cli("--scenarios", scenarios, "--update")
    assert status == 2 and out == "" and err.count("\n") == 1
    assert note in err and "before --update" in err


def test_a_scenario_can_remove_a_setting(tmp_path):
    """`~cap` takes the common frequency cap off one scenario: the plain blanket, run for run."""
    from sim.config import compose
    from sim.simulate import simulate

    doc = {**SMALL, "common": [*SMALL["common"], "cap=weekly"]}
    doc["scenarios"] = {"capped": ["strategy=blanket"], "uncapped": ["strategy=blanket", "~cap"]}
    baseline = tmp_path / "baseline.json"
    status, out, err = regress_cli(
        "--scenarios", write_yaml(tmp_path / "s.yaml", doc), "--baseline", baseline, "--update"
    )
    assert status == 0, out + err
    runs = json.loads(baseline.read_text())["runs"]
    plain = simulate(compose([*SMALL["common"], "strategy=blanket", "seed=1"])).metrics
    assert runs["uncapped"]["1"]["messages_sent"] == plain["messages_sent"]
    assert runs["uncapped"]["1"]["net_profit"] == pytest.approx(plain["net_profit"], rel=1e-12)
    assert runs["capped"]["1"]["messages_sent"] < plain["messages_sent"]


def test_claims_that_cannot_hold_fail(tmp_path):
    doc = {
        **SMALL,
        "seeds": [1, 2, 3],
        "claims": [
            {
                "name": "sending_nothing_loses_more_optins",
                "scenario": "none",
                "kpi": "opt_out_rate",
                "higher_than": "blanket",
            },
            {
                "name": "blanket_sends_nothing",
                "scenario": "blanket",
                "kpi": "messages_sent",
                "equals": 0,
            },
            {
                "name": "blanket_sends_something",
                "scenario": "blanket",
                "kpi": "messages_sent",
                "higher_than": "none",
            },
        ],
    }
    scenarios = write_yaml(tmp_path / "scenarios.yaml", doc)
    status, out, _ = regress_cli("--scenarios", scenarios, "--update")
    assert status == 0 and "warning: 2 of 3 claims fail" in out
    status, out, _ = regress_cli("--scenarios", scenarios)
    assert status == 1
    results = {
        line.split()[1]: line.split()[0]
        for line in out.splitlines()
        if line[2:7] in ("holds", "FAILS")
    }
    assert results == {
        "sending_nothing_loses_more_optins": "FAILS",
        "blanket_sends_nothing": "FAILS",
        "blanket_sends_something": "holds",
    }
    assert "blanket_sends_nothing: seed 1:" in out  # the seeds where it failed, with values
    # a share's mean difference in percentage points, as the README states claims
    rows = {line.split()[1]: line for line in out.splitlines() if line[2:7] in ("holds", "FAILS")}
    assert re.search(r" [-+]\d[\d.]* pt ", rows["sending_nothing_loses_more_optins"])
    assert " pt " not in rows["blanket_sends_something"]
    # no false-alarm chance beside a failure (it would read as "this failure is a false
    # alarm"), and what to do about one
    failing = [line.split() for line in out.splitlines() if line[2:7] == "FAILS"]
    assert all(row[-1] == "-" for row in failing if row[1] != "blanket_sends_nothing")
    assert "add seeds or customers to the scenarios file rather than raise alpha" in out
    assert out.strip().splitlines()[-1] == (
        "REGRESSION: 0 KPIs moved in 0 scenarios; 2 of 3 claims failed"
    )


HOLDOUT = {  # SMALL with a holdout in blanket: the uplift KPIs exist there
    **SMALL,
    "scenarios": {**SMALL["scenarios"], "blanket": ["strategy=blanket", "holdout=0.1"]},
}
MISSPELT = "uplift.net_proft_per_customer.estimate"
BAD = [
    ("missing_file", None, "no scenarios file at"),
    ("broken_yaml", "seeds: [1, 2\n", "is not valid YAML"),
    (  # the last one silently replaced the first
        "scenario_twice",
        "seeds: [1, 2]\nscenarios:\n  none: [strategy=none]\n  blanket: [strategy=blanket]\n"
        "  none: [strategy=winback]\n",
        "scenarios.yaml is not valid YAML at line 5 (found key 'none' twice, first at line 3)",
    ),
    (
        "scenario_name_twice",
        "seeds: [1, 2]\nscenarios:\n  2020: [strategy=none]\n  '2020': [strategy=blanket]\n",
        "two scenarios are named '2020': give each scenario its own name",
    ),
    ("not_text", b"\xff\xfe\x00seeds", "is not UTF-8 text: give --scenarios a YAML file"),
    ("unknown_key", {**SMALL, "seed": 1}, "unknown key 'seed'"),
    ("no_seeds", {**SMALL, "seeds": []}, "seeds must be a list"),
    ("bad_override", {**SMALL, "scenarios": {"x": ["strategy=nonesuch"]}}, "scenario x:"),
    ("unknown_setting", {**SMALL, "common": ["customerz=5"]}, "customerz"),
    ("out_of_range", {**SMALL, "common": ["customers=-5"]}, "customers=-5 is out of range"),
    ("seed_override", {**SMALL, "common": ["seed=4"]}, "the seeds come from `seeds:`"),
    (
        "hydra_setting",  # ignored in process: the file would say what never happens
        {**SMALL, "common": ["customers=300", "hydra.run.dir=runs"]},
        "common sets hydra.run.dir=runs: scenarios run without Hydra's folders, remove it",
    ),
    (
        "removed_setting",
        {**SMALL, "scenarios": {"x": ["~customers"]}},
        "scenario x: customers is not set: give customers a value instead of removing it",
    ),
    (
        "unknown_scenario",
        {
            **SMALL,
            "claims": [
                {"name": "c", "scenario": "none", "kpi": "churn_rate", "lower_than": "capped"}
            ],
        },
        "unknown scenario 'capped'",
    ),
    (
        "claim_against_itself",
        {
            **SMALL,
            "claims": [
                {"name": "c", "scenario": "none", "kpi": "churn_rate", "lower_than": "none"}
            ],
        },
        "claim c: compares scenario none with itself: name another scenario in lower_than",
    ),
    (
        "claim_against_a_list",
        {
            **SMALL,
            "claims": [
                {"name": "c", "scenario": "none", "kpi": "churn_rate", "lower_than": ["blanket"]}
            ],
        },
        "claim c: lower_than: give one scenario's name, e.g. blanket",
    ),
    (
        "unknown_kpi",
        {**SMALL, "claims": [{"name": "c", "scenario": "none", "kpi": "churn", "equals": 0}]},
        "claim c on scenario none: unknown kpi 'churn': did you mean churn_rate?",
    ),
    (  # uplift KPIs were not checked: a typo failed after the runs, as missing from every seed
        "misspelt_uplift_kpi",
        {**HOLDOUT, "claims": [{"name": "c", "scenario": "blanket", "kpi": MISSPELT, "equals": 0}]},
        f"claim c on scenario blanket: unknown kpi '{MISSPELT}': "
        "did you mean uplift.net_profit_per_customer.estimate?",
    ),
    (  # nothing close enough for a guess: the uplift KPIs, not the closest plain one
        "unknown_uplift_kpi",
        {
            **HOLDOUT,
            "claims": [
                {"name": "c", "scenario": "blanket", "kpi": "uplift.net_proft", "equals": 0}
            ],
        },
        "unknown kpi 'uplift.net_proft': choose one of uplift.net_profit_per_customer.estimate, ",
    ),
    (
        "two_relations",
        {
            **SMALL,
            "claims": [
                {
                    "name": "c",
                    "scenario": "none",
                    "kpi": "churn_rate",
                    "equals": 0,
                    "lower_than": "blanket",
                }
            ],
        },
        "needs exactly one relation",
    ),
    (
        "holdout_kpi_without_holdout",
        {
            **SMALL,
            "claims": [
                {"name": "c", "scenario": "blanket", "kpi": "holdout.messages_sent", "equals": 0}
            ],
        },
        "add holdout=0.1 to scenario blanket",
    ),
    (  # it used to fail after the runs, as missing from every seed's metrics
        "cohort_kpi_on_a_short_run",
        {
            **SMALL,
            "scenarios": {"none": ["strategy=none", "days=300"], "blanket": ["strategy=blanket"]},
            "claims": [
                {
                    "name": "c",
                    "scenario": "none",
                    "kpi": "repeat_within_39w",
                    "lower_than": "blanket",
                }
            ],
        },
        "claim c: repeat_within_39w measures 39 weeks but scenario blanket runs 30 days: "
        f"set days to at least {COHORT_DAYS}",
    ),
]


@pytest.mark.parametrize(("case", "content", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_scenarios_file_stops_with_one_line(tmp_path, case, content, message):
    scenarios = tmp_path / "scenarios.yaml"
    if isinstance(content, bytes):
        scenarios.write_bytes(content)
    elif isinstance(content, str):
        scenarios.write_text(content)
    elif content is not None:
        write_yaml(scenarios, content)
    status, out, err = regress_cli("--scenarios", scenarios, "--baseline", COMMITTED)
    assert status == 2, out + err
    assert err.startswith("retail-sim-regress: error: ") and err.count("\n") == 1, err
    assert message in err and "Traceback" not in err
    assert out == ""  # nothing ran


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--max-rows", "-5"], "--max-rows -5: give a number of rows, or 0 for all"),
        (["--jobs", "0"], "--jobs 0: give the number of runs at a time, 1 or more"),
    ],
)
def test_a_bad_option_stops_with_one_line(tmp_path, option, message):
    """--max-rows -5 used to show every row, as 0 does; --jobs 0 printed argparse's usage."""
    scenarios = write_yaml(tmp_path / "scenarios.yaml", SMALL)
    status, out, err = regress_cli("--scenarios", scenarios, "--baseline", COMMITTED, *option)
    assert status == 2, out + err
    assert err == f"retail-sim-regress: error: {message}\n"
    assert out == ""  # nothing ran


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON (line 1"),
        ('{"format": 1, "runs": 3}', "is not a retail-sim-regress baseline"),
        (
            '{"format": 1, "runs": {"none": {"1": {"revenue": "high"}}}}',
            "is not a retail-sim-regress baseline",
        ),
        # hand-edited parts read after the runs: they crashed with a traceback there
        ('{"format": 1, "versions": "2.4.6", "runs": {}}', "is not a retail-sim-regress baseline"),
        (
            '{"format": 1, "scenarios": ["none"], "runs": {}}',
            "is not a retail-sim-regress baseline",
        ),
        ('{"format": 1, "scenarios": {"none": 5}, "runs": {}}', "is not a retail-sim-regress"),
        (b"\x89PNG\r\n\x1a\n", "is not valid JSON (not UTF-8 text)"),
    ],
)
def test_a_bad_baseline_stops_with_one_line(tmp_path, content, message):
    scenarios = write_yaml(tmp_path / "scenarios.yaml", SMALL)
    baseline = tmp_path / "baseline.json"
    baseline.write_bytes(content if isinstance(content, bytes) else content.encode())
    status, out, err = regress_cli("--scenarios", scenarios)
    assert status == 2 and err.count("\n") == 1 and message in err, err
    assert str(baseline) in err and "--update" in err and out == ""


def test_defaults_ship_in_the_wheel(wheel):
    """`retail-sim-regress` with no arguments works from an installed wheel: the scenarios
    file and its baseline are package data."""
    names = zipfile.ZipFile(wheel).namelist()
    assert {"experiments/regress/scenarios.yaml", "experiments/regress/baseline.json"} <= set(names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "retail-sim-regress = experiments.regress:main"
        in zipfile.ZipFile(wheel).read(entry_points).decode()
    )


def test_a_renamed_kpi_is_named_once_not_counted_per_run(tmp_path):
    scenarios = write_yaml(tmp_path / "scenarios.yaml", {**SMALL, "seeds": [1]})
    assert regress_cli("--scenarios", scenarios, "--update")[0] == 0
    baseline = tmp_path / "baseline.json"
    doc = json.loads(baseline.read_text())
    for by_seed in doc["runs"].values():  # as if the baseline had called it avg_ticket
        by_seed["1"]["avg_ticket"] = by_seed["1"].pop("aov")
    baseline.write_text(json.dumps(doc))
    status, out, _ = regress_cli("--scenarios", scenarios)
    last = out.strip().splitlines()[-1]
    assert status == 1 and "missing now: avg_ticket (2 runs); new: aov (2 runs)" in last, last
    assert "Exact layer: 0 KPIs moved in 0 scenarios; missing now: avg_ticket" in out
