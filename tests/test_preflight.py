"""The preflight stops a bad command line with one line before Hydra writes anything: the
`hydra.*` settings, optimiser intervals, misspelt keys, broken YAML, twin files and reruns
into an earlier sweep's folder."""

import importlib.util
import json
import os
import re
import subprocess
import sys

import pytest
from hydra.errors import HydraException

from experiments.errors import one_line
from experiments.preflight import preflight
from sim.config import ConfigError
from tests.conftest import PROJECT

needs_optuna = pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_optuna_sweeper") is None,
    reason="hydra-optuna-sweeper not installed (pip install -e '.[tune]')",
)


def test_a_bad_hydra_setting_stops_the_command_with_one_line_and_no_folder(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    sweep = tmp_path / "sweep"
    done = subprocess.run(
        [sys.executable, "-c", "from experiments.run import main; main()"]
        + ["experiment=compare", "customers=300", "days=30", "hydra.launcher.n_jobs=0"]
        + [f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("retail-sim: error: hydra.launcher.n_jobs=0 runs nothing")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not sweep.exists()


EXEMPT_BIRTHDAY = "cap.exempt_campaigns=[birthday]"  # lifecycle sends it, blanket does not


@pytest.mark.parametrize(
    ("argv", "warned"),
    [
        (["strategy=lifecycle", "cap=weekly", "cap.exempt_campaigns=[birthdy]"], "birthdy"),
        (["strategy=capped_blanket", "strategy.cap.exempt_campaigns=[blankt]"], "blankt"),
        (["strategy=blanket", "cap=weekly", EXEMPT_BIRTHDAY], "birthday"),
        (["strategy=lifecycle", "cap=weekly", EXEMPT_BIRTHDAY], None),
        (["-m", "strategy=blanket,lifecycle", "cap=weekly", EXEMPT_BIRTHDAY], None),
    ],
    ids=["misspelt", "misspelt in a capped strategy", "sent by none", "sent", "sent in a sweep"],
)
def test_an_exempt_campaign_no_strategy_of_the_run_sends_is_warned_of(argv, warned, capsys):
    """The cap is the store's policy, shared by strategies that send different campaigns: a
    name none of the run's (or the sweep's) strategies sends exempts nothing, and is said."""
    preflight([*argv, "customers=300", "days=30", "hydra.run.dir=/nonexistent/run"])
    err = capsys.readouterr().err
    if warned is None:
        assert "exempt_campaigns" not in err
        return
    assert err.count("\n") == 1 and f"names '{warned}', which no strategy run here" in err
    if warned != "birthday":
        assert re.search(r"it exempts nothing; did you mean (birthday|blanket)\?", err)


def test_exempt_campaigns_go_unchecked_when_a_strategy_cannot_say_what_it_sends(capsys):
    from experiments.preflight import _warn_on_unsent_exemptions
    from strategies.caps import Capped, FrequencyCap

    class Own:
        def decide(self, view):
            return None

    _warn_on_unsent_exemptions([Capped(Own(), FrequencyCap(exempt_campaigns=["anything"]))])
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["hydra.job.chdir=maybe"], r"hydra\.job\.chdir=maybe.*not a valid bool"),
        (["custmers=500"], r"^custmers is not a setting: did you mean customers\?$"),
        (
            ["strategy=blanket", "strategy.evry_days=3"],
            r"^strategy\.evry_days is not a setting: did you mean strategy\.every_days\?$",
        ),
        (["strategy.every_days=3"], r"^strategy\.every_days is not a setting: strategy has no"),
        (
            ["-m", "hydra.launcher.n_jobs=1,2"],
            r"^hydra\.launcher\.n_jobs=1,2: Hydra's own settings",
        ),
        # {} merges into the mapping, keeping every entry: the run went on with all of them
        (
            ["cap=weekly", "cap.daily_limit={}"],
            r"^cap\.daily_limit=\{\} changes nothing .*: clear it with cap\.daily_limit=null",
        ),
        (["store={}"], r"^store=\{\} changes nothing .*: pick a config, e\.g\. store=default$"),
    ],
)
def test_settings_hydra_would_trip_on_are_named(overrides, message):
    with pytest.raises((ConfigError, HydraException)) as raised:
        preflight(overrides)
    assert re.search(message, one_line(raised.value)), one_line(raised.value)


@pytest.mark.parametrize("key", ["hydra.run.dir", "hydra.sweep.dir"])
def test_a_results_folder_that_is_a_file_is_refused(tmp_path, key):
    taken = tmp_path / "notes.txt"
    taken.write_text("not a folder")
    multirun = ["-m", "seed=1,2"] if key == "hydra.sweep.dir" else []
    with pytest.raises(ConfigError, match=rf"^{key}=.*notes\.txt is a file, not a folder: give"):
        preflight([*multirun, f"{key}={taken / 'run'}"])


@pytest.mark.parametrize("key", ["hydra.run.dir", "hydra.sweep.dir"])
def test_a_results_folder_that_cannot_be_written_is_refused(key):
    """/proc refuses new folders even to root (whom os.access lets write anywhere): Hydra
    failed on it with a traceback, a sweep only after composing every job."""
    multirun = ["-m", "seed=1,2"] if key == "hydra.sweep.dir" else []
    with pytest.raises(ConfigError, match=rf"^{key}=/proc/retail-sim: cannot write in /proc: "):
        preflight([*multirun, f"{key}=/proc/retail-sim"])


@pytest.mark.parametrize("key", ["hydra.run.dir", "hydra.sweep.dir"])
def test_an_empty_results_folder_setting_is_refused(key):
    """Hydra read `hydra.run.dir=` as the current folder and wrote the run's files loose there."""
    multirun = ["-m", "seed=1,2"] if key == "hydra.sweep.dir" else []
    with pytest.raises(ConfigError, match=rf"^{key} is empty: results would land loose"):
        preflight([*multirun, f"{key}="])


@pytest.mark.parametrize("holds", ["metrics.json", "validation.json", "plan.json", "3/.hydra"])
def test_a_single_run_into_a_folder_holding_results_is_refused(tmp_path, holds):
    (tmp_path / holds).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / holds).mkdir() if holds.endswith(".hydra") else (tmp_path / holds).write_text("{}")
    with pytest.raises(ConfigError, match=rf"already holds results \({re.escape(holds)}\)"):
        preflight([f"hydra.run.dir={tmp_path}"])
    stopped = tmp_path / "stopped"  # a run that crashed left only Hydra's files: nothing to lose
    (stopped / ".hydra").mkdir(parents=True)
    (stopped / "run.log").write_text("")
    preflight([f"hydra.run.dir={stopped}"])


def test_the_slurm_launcher_off_a_slurm_cluster_stops_first(monkeypatch):
    """submitit failed with a traceback once Hydra had made the sweep's folder."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep = ["-m", "seed=1,2", "hydra/launcher=submitit_slurm"]
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(ConfigError, match=r"^hydra/launcher=submitit_slurm .* \(no srun\): run"):
        preflight(sweep)
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")  # on the cluster
    preflight(sweep)


def test_broken_yaml_in_a_config_folder_names_the_file(tmp_path):
    (tmp_path / "strategy").mkdir()
    (tmp_path / "strategy" / "mine.yaml").write_text("every_days: [3\n  discount: 0.1\n")
    with pytest.raises(ConfigError, match=r"^a config file is not valid YAML: .*mine\.yaml"):
        preflight(["--config-dir", str(tmp_path), "strategy=mine"])


def test_a_config_folder_that_is_a_file_or_missing_is_named(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(ValueError, match=r"afile is a file \(--config-dir\): give the folder"):
        preflight(["--config-dir", str(tmp_path / "afile"), "seed=1"])
    with pytest.raises(FileNotFoundError, match=r"nothere not found \(--config-dir\)"):
        preflight(["--config-dir", str(tmp_path / "nothere"), "seed=1"])


def test_a_twin_file_that_is_not_a_twin_stops_before_any_run(tmp_path):
    junk = tmp_path / "twin.npz"
    junk.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ValueError, match=r"twin\.npz is not a twin \(an \.npz archive"):
        preflight(["population.kind=twin", f"population.twin_file={junk}"])
    with pytest.raises(ValueError, match=r"is a folder: point at the twin\.npz inside it"):
        preflight(["population.kind=twin", f"population.twin_file={tmp_path}"])


@needs_optuna
@pytest.mark.parametrize(
    "override, message",
    [
        ("strategy.discount=interval(0.5,1.5)", r"discount=1\.5: give a number between 0 and 1"),
        ("strategy.discount=interval(0.3,0.1)", r"the interval is empty: give its low end first"),
        ("strategy.evry_days=int(interval(3,60))", r"did you mean strategy\.every_days\?"),
        ("hydra.sweeper.n_trials=0", r"hydra\.sweeper\.n_trials=0: give at least 1 trial"),
    ],
)
def test_a_tuning_sweep_is_checked_at_both_ends_of_each_interval(override, message):
    with pytest.raises(ConfigError, match=message):
        preflight(["experiment=tune", override])


@needs_optuna
@pytest.mark.parametrize(
    "override, message",
    [
        ("hydra.sweeper.n_jobs=0", r"^hydra\.sweeper\.n_jobs=0: give how many trials run at once"),
        ("hydra.sweeper.direction=sideways", r"^hydra\.sweeper\.direction=sideways: give maxim"),
        ("hydra.sweeper.storage=sqlite:////proc/t.db", r"^hydra\.sweeper\.storage=.*/proc: give"),
        ("hydra.callbacks.report.validation_seeds=[3,-1]", r"seed -1 is negative: give seeds of 0"),
        ("hydra.callbacks.report.validation_seeds=[3,3]", r"a seed appears twice: give each seed"),
        ("hydra.callbacks.report.validation_seeds=[3,8589934592]", r"seed 8589934592 is too large"),
        ("hydra.callbacks.report.validation_seeds=7", r"=7: give a list of whole-number seeds"),
        (
            "strategy=winback",
            r"^hydra\.sweeper\.params\.strategy\.every_days: winback has no setting every_days "
            r"to tune: .*use experiment=tune_winback, made for it$",
        ),
        ("strategy=loyalty", r"loyalty has no setting every_days to tune: .*copy configs/exp"),
        (
            "hydra.sweeper.params.strategy.every_days=int(interval(3,9))",
            r"search as the setting's own sweep: strategy\.every_days=int\(interval\(3,9\)\)$",
        ),
    ],
)
def test_optimiser_settings_that_failed_after_the_first_trials_stop_first(override, message):
    """Each of these ran the first batch of trials, then ended in a traceback (or, for
    winback, with Hydra's hint to add blanket's settings with +, which winback ignores)."""
    with pytest.raises(ConfigError, match=message):
        preflight(["experiment=tune", override])


@needs_optuna
def test_the_stock_tuning_experiments_pass_the_optimiser_checks():
    for experiment in ("tune", "tune_winback"):
        preflight([f"experiment={experiment}", "hydra.callbacks.report.validation_seeds=[]"])


def _earlier_sweep(folder, strategies):
    folder.mkdir()
    jobs = [
        {"num": i, "overrides": ["seed=1", f"strategy={s}", "experiment=compare"]}
        for i, s in enumerate(strategies)
    ]
    (folder / "plan.json").write_text(json.dumps({"total": len(jobs), "jobs": jobs}))


def test_a_rerun_into_an_earlier_sweep_goes_to_its_own_job_folder(tmp_path):
    sweep = tmp_path / "sweep"
    _earlier_sweep(sweep, ["none", "blanket"])
    rerun = ["experiment=compare", "strategy=blanket", "seed=1", f"hydra.sweep.dir={sweep}"]
    preflight([*rerun, "hydra.sweep.subdir=1"])  # the README's way: its job number
    with pytest.raises(ConfigError, match=r"folder 0: its job 0 ran .*strategy=none.*subdir=1$"):
        preflight(rerun)  # Hydra would number it 0 and replace job 0's results
    with pytest.raises(ConfigError, match=r"folder 1: .*; the sweep planned no such job"):
        preflight([*rerun[:2], "seed=7", *rerun[3:], "hydra.sweep.subdir=1"])


def test_a_rerun_that_sweeps_is_checked_job_by_job_against_the_plan(tmp_path):
    """The rerun's own sweeps, not the experiment's default lists, decide which job goes to
    which folder."""
    sweep = tmp_path / "sweep"
    _earlier_sweep(sweep, ["none", "blanket"])
    rerun = ["-m", "experiment=compare", "seed=1", f"hydra.sweep.dir={sweep}"]
    preflight([*rerun, "strategy=none,blanket"])  # the same sweep again: same folders
    with pytest.raises(ConfigError, match=r"strategy=blanket .*folder 0: its job 0 ran"):
        preflight([*rerun, "strategy=blanket,none"])  # would swap their results


@pytest.mark.parametrize(
    ("subdir", "message"),
    [
        ("same", "puts every job in one folder"),
        ("/elsewhere/${hydra.job.num}", "outside the sweep folder"),
    ],
)
def test_each_job_of_a_sweep_gets_a_folder_of_its_own_inside_it(tmp_path, subdir, message):
    sweep = ["-m", "seed=1,2", f"hydra.sweep.dir={tmp_path / 'new'}"]
    with pytest.raises(ConfigError, match=message):
        preflight([*sweep, f"hydra.sweep.subdir={subdir}"])


def test_a_folder_of_a_sweep_with_no_plan_is_checked_against_its_jobs_records(tmp_path):
    """A plain -m sweep writes no plan.json: its jobs' own records of their overrides say
    which folder holds what."""
    sweep = tmp_path / "plain"
    for num, seed in enumerate((1, 2)):
        (sweep / str(num) / ".hydra").mkdir(parents=True)
        (sweep / str(num) / ".hydra" / "overrides.yaml").write_text(f"- seed={seed}\n")
    preflight(["-m", "seed=1,2", f"hydra.sweep.dir={sweep}"])  # the same again
    with pytest.raises(ConfigError, match=r"seed=2 into sweep .*folder 0: its job 0 ran seed=1"):
        preflight(["-m", "seed=2,3", f"hydra.sweep.dir={sweep}"])


def test_a_folder_that_holds_a_single_run_is_refused_for_a_sweep(tmp_path):
    (tmp_path / "run" / ".hydra").mkdir(parents=True)
    with pytest.raises(ConfigError, match="holds a single run"):
        preflight(["-m", "seed=1,2", f"hydra.sweep.dir={tmp_path / 'run'}"])


def test_the_reports_baseline_must_run_in_the_sweep_or_the_earlier_one(tmp_path):
    new = ["-m", "experiment=compare", "seed=1", f"hydra.sweep.dir={tmp_path / 'new'}"]
    with pytest.raises(ConfigError, match=r"baseline=none is not among the sweep's strategies"):
        preflight([*new, "strategy=blanket,winback"])
    with pytest.raises(ConfigError, match=r"baseline=bogus is not among"):
        preflight([*new, "strategy=none,blanket", "hydra.callbacks.report.baseline=bogus"])
    sweep = tmp_path / "sweep"
    _earlier_sweep(sweep, ["none", "blanket"])  # a rerun of blanket: none ran before
    rerun = ["experiment=compare", "strategy=blanket", "seed=1", f"hydra.sweep.dir={sweep}"]
    preflight([*rerun, "hydra.sweep.subdir=1"])


@pytest.mark.parametrize("sweep", ["strategy=glob(*)", "seed=glob(*)"])
def test_a_glob_sweep_is_refused_in_one_line(sweep):
    with pytest.raises(ConfigError, match=r"glob\(\) sweeps are not supported: list the values"):
        preflight(["-m", "experiment=compare", sweep])
