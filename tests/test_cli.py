"""The `retail-sim` command: outputs, reproducibility, and configs from a built wheel."""

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from sim.kpis import GLOSSARY
from sim.simulate import simulate


def retail_sim(*args, cwd, env=None):
    code = "from experiments.run import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, env=env
    )


def test_run_writes_metrics_series_and_config_reproducibly(tmp_path):
    args = ("strategy=blanket", "customers=400", "days=30", "seed=4")
    for name in ("a", "b"):
        done = retail_sim(*args, f"hydra.run.dir={tmp_path / name}", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    assert "net profit" in done.stdout
    a, b = tmp_path / "a", tmp_path / "b"
    assert (a / "metrics.json").read_bytes() == (b / "metrics.json").read_bytes()
    metrics = json.loads((a / "metrics.json").read_text())
    assert set(GLOSSARY) <= set(metrics)
    daily = pd.read_csv(a / "daily.csv")
    assert len(daily) == 30 and daily.messages.sum() == metrics["messages_sent"]
    saved = OmegaConf.load(a / "config.yaml")
    assert simulate(saved).metrics == metrics
    umask = os.umask(0)
    os.umask(umask)
    for name in ("metrics.json", "daily.csv", "config.yaml"):  # as open() makes them
        assert stat.S_IMODE((a / name).stat().st_mode) == 0o666 & ~umask, name


def test_parquet_daily_series(tmp_path):
    done = retail_sim(
        "customers=100",
        "days=5",
        "output.daily_format=parquet",
        f"hydra.run.dir={tmp_path}",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert len(pd.read_parquet(tmp_path / "daily.parquet")) == 5


def test_configs_load_from_a_built_wheel(tmp_path, wheel):
    """Installed from a wheel, the app finds its configs in the package (pkg://), not in
    a configs/ folder next to the working directory."""
    names = zipfile.ZipFile(wheel).namelist()
    assert "retail_sim_configs/strategy/blanket.yaml" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import retail_sim_configs, sim; print(sim.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert Path(where.stdout.strip()).is_relative_to(site), where.stderr
    done = retail_sim(
        "strategy=blanket",
        "customers=100",
        "days=5",
        f"hydra.run.dir={tmp_path / 'out'}",
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "metrics.json").exists()


class ReturnsNoActions:
    """A strategy with a bug only a run can show: `decide` returns None."""

    def __init__(self, **settings):
        pass

    def decide(self, view):
        return None


def test_a_run_that_stops_on_a_mistake_leaves_no_folder(tmp_path):
    """Hydra makes the run's folder before the run begins: a run that stopped left one holding
    only `.hydra/` and an empty run.log, a result with nothing in it."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    target = "strategy._target_=tests.test_cli.ReturnsNoActions"
    out = tmp_path / "run"
    done = retail_sim(
        target, "customers=100", "days=5", f"hydra.run.dir={out}", cwd=tmp_path, env=env
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "retail-sim: error: ReturnsNoActions.decide must return sim.actions.Actions, not NoneType"
    ]
    assert not out.exists()
    kept = tmp_path / "mine"  # a folder the user made: only what Hydra wrote goes
    (kept / "notes.txt").parent.mkdir()
    (kept / "notes.txt").write_text("mine")
    done = retail_sim(
        target, "customers=100", "days=5", f"hydra.run.dir={kept}", cwd=tmp_path, env=env
    )
    assert done.returncode == 2
    assert sorted(p.name for p in kept.iterdir()) == ["notes.txt"]


def test_a_run_into_a_folder_holding_results_is_refused_and_they_stay(tmp_path):
    out = tmp_path / "run"
    assert (
        retail_sim("customers=100", "days=5", f"hydra.run.dir={out}", cwd=tmp_path).returncode == 0
    )
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    done = retail_sim(
        "customers=100",
        "days=5",
        "output.daily_format=parquet",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"retail-sim: error: hydra.run.dir={out} already holds results (metrics.json): give a "
        "new folder, or move that one away to run again"
    )
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
