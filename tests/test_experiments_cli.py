"""`retail-sim experiment=...` end to end, on tiny sweeps in a subprocess: the files a sweep
leaves, the same comparison with 1 or 2 parallel jobs, a failed job that loses nothing else,
the report in a real browser, and the optional plugins when they are installed."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
from hydra.core.hydra_config import HydraConfig

from sim.actions import Actions
from sim.config import ConfigError, validate
from tests.conftest import PROJECT

TINY = ("customers=300", "days=30")


def retail_sim(*args, cwd):
    """The installed command, as a user types it; the project on the path for test strategies."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    code = "from experiments.run import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, env=env
    )


def compare(tmp_path, name, *extra):
    sweep = tmp_path / name
    done = retail_sim(
        "experiment=compare",
        "strategy=none,blanket",
        "seed=1,2",
        *TINY,
        f"hydra.sweep.dir={sweep}",
        *extra,
        cwd=tmp_path,
    )
    return sweep, done


@pytest.fixture(scope="module")
def two_jobs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare")
    sweep, done = compare(tmp, "n2", "hydra.launcher.n_jobs=2")
    assert done.returncode == 0, done.stderr
    return sweep, done


def test_compare_leaves_summary_comparison_and_report(two_jobs):
    sweep, done = two_jobs
    summary = pd.read_csv(sweep / "summary.csv", keep_default_na=False)
    assert len(summary) == 4 and set(summary["status"]) == {"done"}
    assert sorted(zip(summary["strategy"], summary["seed"], strict=True)) == [
        ("blanket", 1),
        ("blanket", 2),
        ("none", 1),
        ("none", 2),
    ]
    comparison = pd.read_csv(sweep / "comparison.csv")
    row = comparison.set_index(["strategy", "kpi"]).loc[("blanket", "net_profit_per_customer")]
    assert row["n_pairs"] == 2 and row["diff_low"] <= row["diff"] <= row["diff_high"]
    assert "holdout_estimate" in comparison.columns  # the compare sweep runs with holdout=0.1
    page = (sweep / "report.html").read_text()
    assert "Which retention policy pays?" in page and "data:image/png;base64," in page
    plan = json.loads((sweep / "plan.json").read_text())
    assert plan["total"] == 4
    # one progress line per finished run, then where the report is
    assert done.stdout.count("net profit per customer") == 4
    assert "[4/4" in done.stdout and "report.html" in done.stdout
    counts = re.findall(r"^\[(\d)/4 ", done.stdout, flags=re.MULTILINE)
    assert sorted(counts) == ["1", "2", "3", "4"]  # two jobs at a time, each its own number


def test_jobs_finishing_at_once_count_one_each_and_a_rerun_counts_none(tmp_path):
    from experiments.sweep import _finished_rank

    with ThreadPoolExecutor(8) as pool:
        ranks = list(pool.map(lambda job: _finished_rank(tmp_path, str(job)), range(40)))
    assert sorted(ranks) == list(range(1, 41))
    assert _finished_rank(tmp_path, "7") == 40  # job 7 again: still 40 jobs done


def test_same_seeds_same_comparison_with_one_or_two_parallel_jobs(two_jobs, tmp_path):
    sweep2, _ = two_jobs
    sweep1, done = compare(tmp_path, "n1", "hydra.launcher.n_jobs=1")
    assert done.returncode == 0, done.stderr
    assert (sweep1 / "comparison.csv").read_bytes() == (sweep2 / "comparison.csv").read_bytes()
    for job in ("0", "1", "2", "3"):
        a, b = sweep1 / job / "metrics.json", sweep2 / job / "metrics.json"
        assert a.read_bytes() == b.read_bytes()


class ExplodeOnSeed2Blanket:
    """A test strategy that sends nothing, and fails on day 3 of the blanket job of seed 2
    (it reads the job's overrides from Hydra, so the preflight cannot see it coming)."""

    def __init__(self, **settings):
        self.settings = settings

    def decide(self, view):
        if view.day == 3:
            task = list(HydraConfig.get().overrides.task)
            if "seed=2" in task and "strategy=blanket" in task:
                raise RuntimeError("exploded on purpose")
        return Actions()


def test_a_failed_job_loses_nothing_else_and_the_report_lists_it(tmp_path):
    target = "strategy._target_=tests.test_experiments_cli.ExplodeOnSeed2Blanket"
    sweep, done = compare(tmp_path, "failing", target, "hydra.launcher.n_jobs=2")
    assert done.returncode != 0  # the sweep says it is incomplete
    assert "FAILED" in done.stdout and "exploded on purpose" in done.stdout
    # Hydra's closing traceback ran through its own frames only: one line says where to look
    assert "Traceback" not in done.stderr
    assert (
        "retail-sim: error: RuntimeError: exploded on purpose (traceback in "
        f"{sweep / '3' / 'error.txt'}); the sweep's report lists every run that failed"
    ) in done.stderr.splitlines()
    assert "Traceback" in (sweep / "3" / "error.txt").read_text()
    summary = pd.read_csv(sweep / "summary.csv", keep_default_na=False).set_index("job")
    assert list(summary["status"]) == ["done", "done", "done", "failed"]
    assert summary.loc[3, "error"] == "RuntimeError: exploded on purpose"
    page = (sweep / "report.html").read_text()
    assert "Missing runs" in page and "exploded on purpose" in page
    # rebuilt later from the same directory: the same tables
    before = (sweep / "comparison.csv").read_bytes()
    rebuilt = subprocess.run(
        [sys.executable, "-c", "from reports.build import main; main()", str(sweep)],
        capture_output=True,
        text=True,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "1 run(s) missing" in rebuilt.stdout
    assert (sweep / "comparison.csv").read_bytes() == before


def test_a_typo_in_a_sweep_value_stops_before_anything_runs(tmp_path):
    sweep, done = compare(tmp_path, "typo", "strategy=none,blankett")
    assert done.returncode == 2
    assert done.stderr.startswith("retail-sim: error:") and "blankett" in done.stderr
    assert not sweep.exists()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
def test_report_renders_in_a_real_browser(two_jobs, tmp_path):
    """The documented check (see the README): a headless Chromium screenshot of the
    report at a laptop's size is a real, non-blank page."""
    sweep, _ = two_jobs
    png = tmp_path / "report.png"
    with tempfile.TemporaryDirectory() as profile:
        shot = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                f"--screenshot={png}",
                "--window-size=1366,900",
                f"file://{sweep / 'report.html'}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert shot.returncode == 0, shot.stderr
    import matplotlib.image

    pixels = matplotlib.image.imread(png)
    assert pixels.shape[:2] == (900, 1366)
    assert pixels.std() > 0.05  # text and figures, not a blank or error page


def test_experiment_configs_pass_the_preflight_which_checks_every_swept_value(monkeypatch):
    """The built-in experiments pass the preflight, and it composes and validates each value
    of each of their sweeps: every strategy, every assumption's low and high value."""
    import experiments.preflight as checks

    validated = []
    monkeypatch.setattr(checks, "validate", lambda cfg: validated.append(cfg) or validate(cfg))
    checks.preflight(["experiment=compare"])
    assert len({cfg.strategy._target_ for cfg in validated}) == 9
    validated.clear()
    checks.preflight(["experiment=robustness"])
    assert len({cfg.strategy._target_ for cfg in validated}) == 9
    behaviour = [cfg.population.behaviour for cfg in validated]
    assert {b.fatigue_churn for b in behaviour} >= {0.01, 0.04}
    assert {b.message_purchase_prob for b in behaviour} >= {0.025, 0.1}
    assert {cfg.population.dropout_s for cfg in validated} >= {0.4, 0.9}
    assert {b.personal_effect for b in behaviour} >= {1.0, 1.4}


@pytest.mark.parametrize(
    "setting", ["strategy.every_days=7,14", "strategy.discount=0.2"], ids=["swept", "plain"]
)
def test_a_setting_one_swept_strategy_lacks_names_it_and_the_variant_file_way(setting):
    from experiments.preflight import preflight

    with pytest.raises(ConfigError) as stopped:
        preflight(["-m", "strategy=none,blanket", setting])
    message = str(stopped.value)
    assert message.startswith(f"{setting}: none has no setting {setting.split('.')[1][:5]}")
    assert "strategy/blanket_variant.yaml: defaults: [blanket, _self_]" in message


def test_variants_of_a_policy_as_strategy_files_beside_none_compose(tmp_path):
    """The README's way to set variants of one policy against none."""
    from experiments.preflight import preflight
    from sim.config import compose

    (tmp_path / "strategy").mkdir()
    (tmp_path / "strategy" / "blanket_weekly.yaml").write_text(
        "defaults: [blanket, _self_]\nevery_days: 7\n"
    )
    preflight(["--config-dir", str(tmp_path), "-m", "strategy=none,blanket,blanket_weekly"])
    weekly = compose(["strategy=blanket_weekly"], config_dir=tmp_path).strategy
    blanket = compose(["strategy=blanket"]).strategy
    assert weekly.every_days == 7 != blanket.every_days and weekly.discount == blanket.discount


@pytest.mark.parametrize(
    ("argv", "late"),
    [
        (["customers=200", "-m", "strategy=none,blanket"], "-m"),
        (["strategy=blanket", "--config-dir", "mystore", "population=twin"], "--config-dir"),
        (["~cap", "--multirun"], "--multirun"),
    ],
)
def test_an_option_after_the_overrides_is_named_not_the_overrides(monkeypatch, capsys, argv, late):
    """Hydra reads its options before the overrides only; after them it printed its usage
    and blamed the overrides ('unrecognized arguments: population=twin')."""
    from experiments import run as app

    monkeypatch.setattr(sys, "argv", ["retail-sim", *argv])
    with pytest.raises(SystemExit) as exited:
        app.main()
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"retail-sim: error: {late} comes after the overrides: give -m")


def test_a_list_of_strategies_or_caps_is_refused_with_the_sweep_that_runs_each():
    """Hydra merges a list of a group's configs into one run: strategy=[none,blanket] ran
    blanket alone, and the hint for a sweep without -m used to suggest that very list."""
    from experiments.preflight import preflight

    for given, sweep in (
        ("strategy=[none,blanket]", "strategy=none,blanket"),
        ("cap=[none,weekly]", "cap=none,weekly"),
    ):
        with pytest.raises(
            ConfigError, match=re.escape(f"{given}: a list merges") + ".*-m " + sweep
        ):
            preflight([given])
    with pytest.raises(ConfigError) as stopped:
        preflight(["strategy=none,blanket"])
    assert str(stopped.value) == "strategy=none,blanket is a sweep: add -m to run one job per value"


def test_a_sweep_over_no_values_stops_in_the_preflight():
    from experiments.preflight import preflight

    with pytest.raises(ConfigError, match=r"seed=range\(5,1\) sweeps over no values"):
        preflight(["experiment=compare", "seed=range(5,1)"])


@pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is None,
    reason="hydra-optuna-sweeper not installed (pip install -e '.[tune]')",
)
def test_tune_finds_a_setting_and_validates_it_on_fresh_seeds(tmp_path):
    sweep = tmp_path / "tune"
    done = retail_sim(
        "experiment=tune",
        *TINY,
        "hydra.sweeper.n_trials=4",
        "hydra.callbacks.report.validation_seeds=[101,102]",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (sweep / "optimization_results.yaml").exists()
    validation = pd.read_csv(sweep / "validation" / "summary.csv", keep_default_na=False)
    assert len(validation) == 6 and set(validation["seed"]) == {101, 102}
    assert validation["strategy"].str.startswith("blanket every_days=").any()
    assert "Best setting found" in (sweep / "report.html").read_text()


@pytest.mark.parametrize(
    "launcher, plugin",
    [
        ("submitit_local", "hydra_plugins.hydra_submitit_launcher"),
        ("submitit_slurm", "hydra_plugins.hydra_submitit_launcher"),
        ("ray", "hydra_plugins.hydra_ray_launcher"),
    ],
)
def test_scaling_out_is_one_override(launcher, plugin):
    if importlib.util.find_spec(plugin) is None:
        pytest.skip(f"{plugin} not installed (pip install -e '.[ray]' or '.[submitit]')")
    from hydra import compose, initialize_config_module

    from sim.config import register_schema

    register_schema()
    with initialize_config_module("retail_sim_configs", version_base=None):
        cfg = compose(
            "config",
            overrides=["experiment=compare", f"hydra/launcher={launcher}"],
            return_hydra_config=True,
        )
    assert launcher.split("_")[0] in cfg.hydra.launcher._target_
    assert cfg.hydra.sweeper.params.strategy.startswith("rfm_tiering")


def test_a_missing_optional_plugin_says_how_to_install_it():
    if importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is not None:
        pytest.skip("the Ray launcher is installed here")
    from experiments.preflight import preflight
    from sim.config import ConfigError

    with pytest.raises(ConfigError, match=r"pip install -e '\.\[ray\]'"):
        preflight(["experiment=compare", "hydra/launcher=ray"])


@pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None,
    reason="hydra-submitit-launcher not installed (pip install -e '.[submitit]')",
)
def test_the_submitit_launcher_runs_the_same_comparison(two_jobs, tmp_path):
    """hydra/launcher=submitit_local: the SLURM launcher's local twin, each run a process."""
    sweep, done = compare(tmp_path, "submitit", "hydra/launcher=submitit_local")
    assert done.returncode == 0, done.stderr
    joblib_sweep, _ = two_jobs
    assert (sweep / "comparison.csv").read_bytes() == (joblib_sweep / "comparison.csv").read_bytes()
    assert (sweep / "report.html").exists()


def test_a_sweep_whose_report_cannot_be_built_keeps_its_runs_and_exits_1(tmp_path):
    """A script checking the exit status saw success with no report (a one-seed robustness
    sweep's report failed on a pandas KeyError)."""
    sweep = tmp_path / "s"
    code = (
        "import reports.build as b\n"
        "def broken(*args, **kwargs): raise KeyError('blanket')\n"
        "b.build = broken\n"
        "from experiments.run import main; main()"
    )
    args = [
        "experiment=compare",
        "strategy=none,blanket",
        "seed=1",
        *TINY,
        f"hydra.sweep.dir={sweep}",
    ]
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert done.returncode == 1, done.stderr
    assert "the report could not be built (KeyError: 'blanket'); the runs are in" in done.stderr
    assert len(list(sweep.glob("*/metrics.json"))) == 2
