"""Configs: every group composes, and bad values stop with one line naming the key."""

import re
import subprocess
import sys

import numpy as np
import pytest
from hydra.errors import ConfigCompositionException

from sim.config import ConfigError, compose, validate

CLI = [sys.executable, "-c", "from experiments.run import main; main()"]


@pytest.mark.parametrize(
    "override, key",
    [
        ("customers=-5", "customers"),
        ("days=0", "days"),
        ("channels.sms.read_rate=1.5", "channels.sms.read_rate"),
        ("population.behaviour.revival_prob=-0.1", "population.behaviour.revival_prob"),
        ("store.staff.hours_per_day=25", "store.staff.hours_per_day"),
        ("store.calendar.0.month=13", "store.calendar[0].month"),
        ("holdout=0.95", "holdout"),
    ],
)
def test_nonsensical_values_name_the_key(override, key):
    with pytest.raises(ConfigError, match="^" + re.escape(key) + "="):
        validate(compose([override]))


def test_unknown_key_and_wrong_type_are_rejected_by_the_schema():
    with pytest.raises(ConfigCompositionException):
        compose(["customerz=10"])
    with pytest.raises(ConfigCompositionException):
        compose(["customers=lots"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("+custmers=500", "custmers is not a setting: did you mean customers?"),
        ("+store.gros_margin=0.4", "did you mean store.gross_margin?"),
        ("+channels.sms.cots=1", "did you mean channels.sms.cost?"),
        ("+population.behaviour.zzz=1", "remove population.behaviour.zzz"),
    ],
)
def test_a_key_added_past_the_schema_is_refused_with_the_nearest_setting(override, message):
    # Hydra's own error for a misspelt key suggests `+key=...`, which the schema lets through
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate(compose([override]))


@pytest.mark.parametrize(
    "override, message",
    [
        ("custmers=500", "custmers is not a setting: did you mean customers?"),
        ("channels.sms.cots=1", "channels.sms.cost?"),
        ("hydra.job.chdirr=true", "did you mean hydra.job.chdir?"),
        # a misspelt name higher up was answered "channels.smss has no settings"
        (
            "channels.smss.cost=1",
            "channels.smss.cost is not a setting: did you mean channels.sms.cost?",
        ),
        ("store.staf.hours_per_day=3", "did you mean store.staff.hours_per_day?"),
        ("store.calendar.0.nme=x", "did you mean store.calendar.0.name?"),
    ],
)
def test_a_misspelt_key_is_named_with_the_nearest_setting_by_compose(override, message):
    # what Hydra answers instead: "To append to your config use +custmers=500"
    with pytest.raises(ConfigError, match=re.escape(message)):
        compose([override], with_hydra=override.startswith("hydra."))


def test_the_lowest_style_concentration_allowed_gives_every_customer_an_affinity():
    with pytest.raises(ConfigError, match="population.style_concentration=0.001 is out of range"):
        validate(compose(["population.style_concentration=0.001"]))
    from sim.simulate import simulate

    result = simulate(compose(["population.style_concentration=0.01", "customers=20000", "days=5"]))
    affinity = result.model.customers.t.affinity[: result.model.customers.t.n]
    assert np.isfinite(affinity).all() and np.allclose(affinity.sum(axis=1), 1, atol=1e-5)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["store.style_mix=[nan,1,1,1,1,1]"], "store.style_mix must be non-negative shares"),
        (["store.style_mix=[1e308,1e308,1,1,1,1]"], "store.style_mix must be non-negative"),
        (["store.styles=[a,b,a,c,d,e]"], "store.styles names a twice: give each style once"),
        (
            [f"store.styles=[{','.join(f's{i}' for i in range(129))}]"]
            + [f"store.style_mix=[{','.join(['1'] * 129)}]"],
            "store.styles has 129 styles: at most 128",
        ),
        (["store.start_date=9999-12-01", "days=60"], "store.start_date=9999-12-01 with days=60"),
    ],
)
def test_a_store_the_run_could_not_keep_apart_is_refused(overrides, message):
    """A NaN share or a huge one poisoned every draw; a repeated name merged two styles in
    the ledger; the 129th style wrapped round in its one-byte column; a start date near the
    end of the calendar failed with an overflow after Hydra had made the run's folder."""
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        validate(compose(overrides))
    validate(compose(["store.start_date=9999-11-01", "days=60"]))  # its last day: 9999-12-31


def test_impossible_calendar_date_is_rejected():
    with pytest.raises(ConfigError, match="store.calendar"):
        validate(compose(["store.calendar.0.month=2", "store.calendar.0.day=30"]))


@pytest.mark.parametrize(
    "args, expect",
    [
        (["customers=-5"], "customers=-5 is out of range"),
        (["strategy=nosuch"], "strategy"),
        (["foo=1"], "foo"),
        (["+custmers=200"], "did you mean customers?"),
        (["customers=abc"], "customers=abc"),
        (["strategy=blanket", "strategy.channel=fax"], "unknown channel 'fax'"),
        (["seed=1,2"], "seed=1,2 is a sweep: add -m"),  # Hydra's own answer is six lines
        (["strategy=[]"], "strategy is not set: pick one, e.g. strategy=none"),
        # removing a setting (~key): the run would fail mid-way, or Hydra answers in six lines
        (["~seed"], "seed is not set: give seed a value instead of removing it"),
        (["~store"], "store is not set: pick one, e.g. store=default"),
        (["~store.staff"], "~store.staff: store.staff cannot be removed: set its value instead"),
        (["strategy._target_=strategies.none"], "strategies.none is a module: give the class"),
        (["strategy._target_=strategies.nope.X"], "'nope' is importable from module 'strategies'"),
        (["strategy._target_=nomodule.strategies.X"], "or add that folder to PYTHONPATH"),
        (["strategy=blanket", "strategy.holdout=0.1"], "a setting of the whole run: holdout=0.1"),
    ],
)
def test_cli_errors_are_one_line_and_write_nothing(tmp_path, args, expect):
    result = subprocess.run(
        [*CLI, *args, "customers=200" if "customers" not in args[0] else "days=5", "days=5"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0], result.stderr
    assert not (tmp_path / "outputs").exists()


def test_python_composes_a_users_config_folder_as_config_dir_does(tmp_path):
    (tmp_path / "strategy").mkdir()
    (tmp_path / "strategy" / "weekly_sms.yaml").write_text(
        "defaults:\n  - blanket\n_target_: strategies.blanket.Blanket\nevery_days: 7\n"
    )
    cfg = compose(["strategy=weekly_sms"], config_dir=tmp_path)
    assert cfg.strategy.every_days == 7 and cfg.strategy.channel == "sms"
    with pytest.raises(FileNotFoundError, match="not found"):
        compose([], config_dir=tmp_path / "nope")
