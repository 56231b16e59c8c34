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
