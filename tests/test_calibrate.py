"""`retail-sim-calibrate`: fits, population files, the twin, validation and bad input."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from experiments.bench_calibrate import synthetic_export
from experiments.calibrate import main
from sim.config import BehaviourConfig, PopulationConfig, compose, searchpath_override, validate
from sim.simulate import simulate
from tests.conftest import PROJECT, run_cli

PUBLISHED = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4},
    "pareto_nbd": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
    "gamma_gamma": {"p": 6.25, "q": 3.74, "gamma": 15.44},
}
ID = "ZQX-"  # prefix of every customer id in the synthetic exports: must never be output


def calibrate(capsys, *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, main, *args)


def one_line_error(capsys, *args: str) -> str:
    """The error is one line, the last on stderr (after any one-line warnings)."""
    code, _, err = calibrate(capsys, *args)
    assert code == 2, err
    lines = err.splitlines()
    assert all(line.startswith("retail-sim-calibrate: ") for line in lines), err
    assert lines[-1].startswith("retail-sim-calibrate: error: "), err
    return lines[-1]


def _run_logged(*args) -> str:
    """Run the command in-process for a module fixture; what it printed (stdout + stderr)."""
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        main([str(a) for a in args])  # an error exits: the fixture fails with its message
    return log.getvalue()


# --------------------------------------------------------------------------- CDNOW end to end


@pytest.fixture(scope="module")
def cdnow_out(tmp_path_factory, cdnow_path: Path) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("cdnow") / "mystore"
    args = ["--format", "cdnow", "--calibration-end", "1997-09-30", "--holdout-end", "1998-06-30"]
    log = _run_logged(cdnow_path, *args, "--out", out, "--twin-runs", 10)
    return out, log


def test_cdnow_fit_json_reproduces_the_published_fits(cdnow_out):
    out, stdout = cdnow_out
    fit = json.loads((out / "fit.json").read_text())
    for model, published in PUBLISHED.items():
        assert fit[model]["converged"] and fit["converged"][model]
        for key, value in published.items():
            assert fit[model][key] == pytest.approx(value, rel=0.01), (model, key)
        assert set(fit[model]["std_errors"]) == set(published) - {"log_likelihood"}
        assert all(se > 0 for se in fit[model]["std_errors"].values())
    assert fit["customers"] == 2357 and fit["repeat_buyers"] == 946
    assert "merged 223 same-day rows into the 6696 transactions" in stdout


def test_cdnow_twin_forecasts_what_the_fitted_model_expects(cdnow_out):
    v = json.loads((cdnow_out[0] / "validation.json").read_text())
    model, twin = v["model_expected_holdout_transactions"], v["simulated_holdout_transactions"]
    assert v["actual_holdout_transactions"] == 6696 - 2357 - 2457  # all minus calibration
    assert twin == pytest.approx(model, rel=0.05)  # the same model, simulated a day at a time
    assert len(v["simulated_runs"]) == 10
    table = v["by_calibration_purchases"]
    assert [row["x"] for row in table] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert sum(row["customers"] for row in table) == 2357
    weighted = sum(row["customers"] * row["model"] for row in table)
    assert weighted == pytest.approx(model)
    for row in table:  # heavier past buyers buy more, in the data, the model and the twin
        assert row["actual"] >= 0 and row["model"] > 0 and row["twin"] > 0
    assert table[-1]["twin"] > 5 * table[0]["twin"]
    weekly = v["weekly_cumulative"]
    assert len(weekly) == 39 and weekly[-1]["actual"] == v["actual_holdout_transactions"]
    assert weekly[-1]["model"] == pytest.approx(model)
    assert (cdnow_out[0] / "validation.png").read_bytes()[:4] == b"\x89PNG"


def test_population_files_are_complete_and_in_days(cdnow_out):
    out = cdnow_out[0]
    fit = json.loads((out / "fit.json").read_text())["pareto_nbd"]
    for kind in ("synthetic", "twin"):
        loaded = OmegaConf.load(out / "population" / f"{kind}.yaml")
        top = {f.name for f in dataclasses.fields(PopulationConfig)}
        assert set(loaded) == top
        assert set(loaded.behaviour) == {f.name for f in dataclasses.fields(BehaviourConfig)}
        assert loaded.kind == kind
        assert loaded.purchase_alpha_days == pytest.approx(7 * fit["alpha"], rel=1e-5)
        assert loaded.dropout_beta_days == pytest.approx(7 * fit["beta"], rel=1e-5)
        assert loaded.purchase_r == pytest.approx(fit["r"], rel=1e-5)
        assert loaded.behaviour.style_rate_exponent == 0
        assert loaded.behaviour.style_hazard_exponent == 0
        assert loaded.new_customers_per_year == 0  # CDNOW is a closed first-quarter cohort
    twin = OmegaConf.load(out / "population" / "twin.yaml")
    assert Path(twin.twin_file) == out / "twin.npz" and Path(twin.twin_file).is_absolute()
    cfg = compose([searchpath_override(out), "population=twin", "store=calibrated"])
    validate(cfg)
    assert cfg.store.start_date == "1997-10-01" and cfg.store.name == "mystore (calibrated)"
    assert len(cfg.store.calendar) == 5  # the rest of the store is the default one


def test_retail_sim_runs_a_strategy_on_the_twin(cdnow_out, tmp_path):
    out = cdnow_out[0]
    code = "from experiments.run import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "--config-dir", str(out), "population=twin"]
        + ["store=calibrated", "strategy=blanket", "days=20", f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["messages_sent"] > 0
    assert metrics["customers"] >= 2357  # the twin's customers (the default store's newcomers)
    config = OmegaConf.load(tmp_path / "config.yaml")
    assert config.population.kind == "twin" and config.store.start_date == "1997-10-01"


def test_the_package_ships_no_files_a_calibration_folder_would_shadow():
    """--config-dir folders are searched after the package: a packaged population/twin.yaml
    would silently win over the store's own."""
    for name in ("population/twin.yaml", "population/synthetic.yaml", "store/calibrated.yaml"):
        assert not (PROJECT / "configs" / name).exists(), name


# --------------------------------------------------------------------------- a store export


def _messy_export(path: Path, customers: int = 1500) -> pd.DataFrame:
    """A synthetic export with what real exports contain: returns, zero amounts, duplicates,
    same-day rows; plus one customer whose only purchase day has three rows."""
    rows = synthetic_export(path, customers, seed=7, id_prefix=ID, end="2025-12-31")
    first = rows.drop_duplicates("customer_id").head(40)
    extra = pd.concat(
        [
            first.head(10).assign(amount=-5.0),  # returns on a purchase day: netted
            first.iloc[10:12].assign(amount=-5.0, date="2024-01-01"),  # no purchase that day
            first.iloc[12:17].assign(amount=0.0, date="2024-02-02"),  # zero amount occasions
            rows.iloc[100:108],  # exact duplicates
            pd.DataFrame(
                {"customer_id": f"{ID}single", "date": "2024-03-03", "amount": [10.0, 20.0, 5.0]}
            ),
        ]
    )
    rows = pd.concat([rows, extra]).sort_values("date", kind="stable")
    rows.to_csv(path, index=False)
    return rows


@pytest.fixture(scope="module")
def store_out(tmp_path_factory) -> tuple[Path, str, pd.DataFrame]:
    work = tmp_path_factory.mktemp("store")
    rows = _messy_export(work / "export.csv")
    out = work / "José" / "mystore"  # the validation's twin runs find it under any name
    args = ["--calibration-end", "2025-06-30", "--holdout-end", "2025-12-31"]
    log = _run_logged(work / "export.csv", *args, "--out", out, "--twin-runs", 5)
    return out, log, rows


def test_the_output_folder_is_as_open_as_any_new_folder(store_out):
    """Not mkdtemp's 0700: the team reads the calibration (here under pytest's umask)."""
    out = store_out[0]
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE((out / "population").stat().st_mode) == 0o777 & ~mask


def test_cleaning_is_accounted_for(store_out):
    _, log, _ = store_out
    assert "dropped 8 exact duplicate rows" in log
    assert "netted 10 return rows" in log
    assert "dropped 2 return rows with no same-day purchase" in log
    assert "zero-amount transactions" in log
    assert re.search(r"merged \d+ same-day rows into the \d+ transactions", log)
    assert re.search(r"left out \d+ customers whose first purchase is after the calibration", log)
    assert re.search(r"\d+ bought on a single day", log)


def test_customer_ids_never_leave_the_loader(store_out):
    out, log, rows = store_out
    assert ID not in log
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"fit.json", "validation.json", "twin.npz", "twin.yaml"}
    for path in files:
        assert ID.encode() not in path.read_bytes(), path
    with np.load(out / "twin.npz") as twin:  # numbers by row only
        assert all(twin[k].dtype.kind in "iuf" for k in twin.files)
        customers = json.loads((out / "fit.json").read_text())["customers"]
        assert len(twin["purchases"]) == customers


def test_single_day_customer_is_a_one_time_buyer_in_the_twin(store_out):
    out, _, rows = store_out
    with np.load(out / "twin.npz") as twin:
        ids = sorted(rows.loc[pd.to_datetime(rows["date"]) <= "2025-06-30", "customer_id"].unique())
        row = ids.index(f"{ID}single")  # rows follow the sorted ids
        assert twin["purchases"][row] == 1 and twin["spend"][row] == 35.0
        day0 = pd.Timestamp("2025-07-01")
        assert twin["first_purchase_day"][row] == (pd.Timestamp("2024-03-03") - day0).days


def test_small_store_twin_validation(store_out):
    v = json.loads((store_out[0] / "validation.json").read_text())
    assert v["holdout_days"] == 184
    assert v["simulated_holdout_transactions"] == pytest.approx(
        v["model_expected_holdout_transactions"], rel=0.15
    )
    assert v["actual_holdout_transactions"] == pytest.approx(
        v["model_expected_holdout_transactions"], rel=0.15
    )


# --------------------------------------------------------------------------- bad input


@pytest.fixture
def export(tmp_path) -> Path:
    path = tmp_path / "export.csv"
    path.write_text(
        "customer_id,date,amount\n"
        "A,2025-01-03,10\nA,2025-02-03,12\nB,2025-01-05,30\nB,2025-03-05,20\nC,2025-02-01,5\n"
    )
    return path


def test_missing_columns_stop_with_the_columns_found(capsys, export, tmp_path):
    out = tmp_path / "out"
    err = one_line_error(
        capsys, export, "--calibration-end", "2025-06-30", "--out", out, "--amount-col", "total"
    )
    assert "missing column(s) 'total'" in err and "columns found" in err
    assert not out.exists()


def test_malformed_or_binary_files_stop_with_one_line(capsys, export, tmp_path):
    out = tmp_path / "out"
    export.write_text(export.read_text() + "D,2025-02-01,5,3\n")
    err = one_line_error(capsys, export, "--calibration-end", "2025-06-30", "--out", out)
    assert f"{export}: line 7 has 4 fields, the header 3: fix the row" in err
    export.write_bytes(b"\x1f\x8b\x08\x00" + bytes(100))  # a gzip file named .csv
    err = one_line_error(capsys, export, "--calibration-end", "2025-06-30", "--out", out)
    assert f"{export} is not a text CSV file (it is a gzip archive)" in err
    assert not out.exists()


def test_negative_items_stop_unless_the_row_is_a_return(capsys, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "customer_id,date,amount,items\n"
        "A,2025-01-03,10,2\nA,2025-01-03,-4,-1\nA,2025-02-03,12,1\nB,2025-01-05,30,-2\n"
    )
    out = tmp_path / "out"
    args = ["--calibration-end", "2025-06-30", "--out", out, "--items-col", "items"]
    err = one_line_error(capsys, path, *args)
    assert "negative item counts in column 'items' at line 5 (e.g. '-2')" in err
    assert not out.exists()


def test_fractional_items_stop_naming_the_line(capsys, tmp_path):
    """Items are counted whole: rounding 2.5 would change the attach rate silently."""
    path = tmp_path / "export.csv"
    path.write_text(
        "customer_id,date,amount,items\n"
        "A,2025-01-03,10,2.0\nA,2025-02-03,12,2.5\nB,2025-01-05,30,1\nB,2025-03-05,20,1\n"
    )
    out = tmp_path / "out"
    args = ["--calibration-end", "2025-06-30", "--out", out, "--items-col", "items"]
    err = one_line_error(capsys, path, *args)
    assert f"{path}: fractional item counts in column 'items' at line 3 (e.g. '2.5')" in err
    assert not out.exists()
    path.write_text(path.read_text().replace("2.5", "3.0"))  # whole floats are item counts
    code, _, err = calibrate(capsys, path, *args)
    assert code == 0, err


def test_unparsable_dates_name_the_lines(capsys, export, tmp_path):
    export.write_text(export.read_text() + "D,05/03/2025,4\nD,2025-02-30,4\n")
    err = one_line_error(capsys, export, "--calibration-end", "2025-06-30", "--out", tmp_path / "o")
    assert "unparsable dates in column 'date' at lines 7, 8" in err
    assert "--date-format" in err or "date_format" in err


def test_dates_in_summer_and_winter_time_are_read(capsys, tmp_path):
    """pandas refuses to parse UTC offsets that differ between rows in one go."""
    path = tmp_path / "export.csv"
    path.write_text(
        "customer_id,date,amount\n"
        "A,2025-01-03T10:00+01:00,10\nA,2025-04-03T10:00+02:00,12\nB,2025-01-05,30\n"
    )
    err = one_line_error(capsys, path, "--calibration-end", "2025-03-31", "--out", tmp_path / "o")
    assert "1 row is dated after --calibration-end 2025-03-31 (line 3;" in err
    err = one_line_error(
        capsys,
        path,
        "--calibration-end",
        "2025-06-30",
        "--out",
        tmp_path / "o",
        "--date-format",
        "%",
    )
    assert "--date-format '%' (date_format= from Python) is not a date format" in err


def test_a_folder_given_as_the_export_is_named_as_a_folder(capsys, tmp_path):
    err = one_line_error(
        capsys, tmp_path, "--calibration-end", "2025-06-30", "--out", tmp_path / "o"
    )
    assert f"{tmp_path} is a folder: give the transaction export file" in err


def test_a_pipe_given_as_the_export_is_named_as_no_regular_file(capsys, tmp_path):
    os.mkfifo(tmp_path / "export.csv")  # read once, it would be gone for the second read
    err = one_line_error(
        capsys, tmp_path / "export.csv", "--calibration-end", "2025-06-30", "--out", tmp_path / "o"
    )
    assert "export.csv is not a regular file: save the export to a file" in err


def test_empty_file_is_refused(capsys, tmp_path):
    (tmp_path / "empty.csv").write_text("")
    err = one_line_error(
        capsys, tmp_path / "empty.csv", "--calibration-end", "2025-06-30", "--out", tmp_path / "o"
    )
    assert "is empty" in err
    assert list(tmp_path.iterdir()) == [tmp_path / "empty.csv"]


def test_rows_after_the_calibration_end_need_a_holdout(capsys, export, tmp_path):
    err = one_line_error(capsys, export, "--calibration-end", "2025-01-31", "--out", tmp_path / "o")
    assert "3 rows are dated after --calibration-end 2025-01-31 (lines 3, 5, 6;" in err
    assert "--holdout-end 2025-03-05" in err
    assert not (tmp_path / "o").exists()


def test_rows_after_the_calibration_end_are_named_by_line_in_a_cdnow_file_with_blank_lines(
    capsys, tmp_path
):
    path = tmp_path / "cdnow.txt"
    path.write_text("\n\n 00001 0001 19970101  1   10.00\n\n 00001 0001 19971212  2   26.48\n")
    args = ["--format", "cdnow", "--calibration-end", "1997-09-30", "--out", tmp_path / "o"]
    err = one_line_error(capsys, path, *args)
    assert "1 row is dated after --calibration-end 1997-09-30 (line 5;" in err


def test_calibration_end_before_all_data(capsys, export, tmp_path):
    err = one_line_error(capsys, export, "--calibration-end", "2024-12-31", "--out", tmp_path / "o")
    assert "no transactions on or before --calibration-end 2024-12-31" in err
    assert "starts on 2025-01-03" in err


def test_a_calibration_end_a_year_past_the_export_stops_before_the_fits(capsys, export, tmp_path):
    """The export ends 2025-03-05: a year's silence it does not cover would read as churn (a
    Pareto/NBD fit of CDNOW ended 15 months late ran 140 s to a degenerate optimum)."""
    out = tmp_path / "o"
    err = one_line_error(capsys, export, "--calibration-end", "2026-03-31", "--out", out)
    assert "is on 2025-03-05, 391 days earlier" in err
    assert "set --calibration-end 2025-03-05" in err and not out.exists()


def test_bad_dates_and_windows_in_the_arguments(capsys, export, tmp_path):
    err = one_line_error(capsys, export, "--calibration-end", "30/06/2025", "--out", tmp_path)
    assert "--calibration-end '30/06/2025' is not a date" in err
    err = one_line_error(
        capsys,
        export,
        "--calibration-end",
        "2025-02-10",
        "--holdout-end",
        "2025-01-10",
        "--out",
        tmp_path / "o",
    )
    assert "--holdout-end 2025-01-10 must be after --calibration-end 2025-02-10" in err
    err = one_line_error(capsys, export, "--calibration-end", "9999-12-31", "--out", tmp_path)
    assert "--calibration-end 9999-12-31 is outside 1900-2200: give the day itself" in err
    args = ["--calibration-end", "2025-02-10", "--holdout-end", "2199-01-01"]
    err = one_line_error(capsys, export, *args, "--out", tmp_path / "o")
    assert "is more than 36,500 days after --calibration-end 2025-02-10" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--holdout-end", "2025-12-31", "--seed", "-1"], "--seed -1 must be at least 0"),
        (
            ["--holdout-end", "2025-12-31", "--seed", "4294967290"],
            "--twin-runs 10 needs seeds up to 4294967299, past the largest",
        ),
        (["--holdout-end", "2025-01-01"], "--holdout-end 2025-01-01 must be after"),
        (
            ["--format", "cdnow", "--customer-col", "client", "--date-format", "%d/%m/%Y"],
            "--format cdnow reads the CDNOW file's fixed columns (id, sample id, YYYYMMDD, CDs, "
            "dollars): drop --customer-col, --date-format",
        ),
    ],
    ids=["negative seed", "seeds past the largest", "holdout before calibration", "cdnow"],
)
def test_options_are_checked_before_the_export_is_read(
    capsys, export, tmp_path, monkeypatch, args, expected
):
    import experiments.calibrate as calibrate_module

    def read(*args, **kwargs):
        raise AssertionError("the export was read before the options were checked")

    monkeypatch.setattr(calibrate_module, "_read", read)
    err = one_line_error(
        capsys, export, "--calibration-end", "2025-06-30", "--out", tmp_path / "o", *args
    )
    assert expected in err


@pytest.mark.parametrize(
    ("args", "given"),
    [(["--seed", "3"], "--seed"), (["--twin-runs", "2", "--seed", "1"], "--seed, --twin-runs")],
)
def test_twin_run_options_need_a_holdout(capsys, export, tmp_path, args, given):
    """Without --holdout-end there are no twin runs: the options would be ignored silently."""
    out = tmp_path / "out"
    err = one_line_error(capsys, export, "--calibration-end", "2025-06-30", "--out", out, *args)
    assert f"{given} only appl" in err and "with --holdout-end" in err
    assert "pass --holdout-end or drop" in err
    assert not out.exists()


def test_a_csv_file_read_as_cdnow_gets_a_format_hint(capsys, export, tmp_path):
    out = tmp_path / "out"
    err = one_line_error(
        capsys, export, "--format", "cdnow", "--calibration-end", "2025-06-30", "--out", out
    )
    assert f"{export}: the file looks like a comma-separated CSV" in err
    assert "pass --format csv" in err
    assert not out.exists()


def test_an_out_folder_under_a_file_is_refused_before_the_fits(capsys, export, tmp_path):
    out = export / "mystore"
    err = one_line_error(capsys, export, "--calibration-end", "2025-06-30", "--out", out)
    assert f"--out {out} cannot be made: {export} is a file, not a folder" in err


def test_an_out_folder_that_cannot_be_written_is_refused_before_the_fits(capsys, export):
    """/proc refuses new folders even to root: the fits ran and the staging folder failed."""
    err = one_line_error(capsys, export, "--calibration-end", "2025-06-30", "--out", "/proc/x")
    assert "--out /proc/x cannot be made: cannot write in /proc: give a folder you can" in err


def test_no_repeat_purchases_cannot_be_fitted(capsys, tmp_path):
    path = tmp_path / "once.csv"
    path.write_text("customer_id,date,amount\nA,2025-01-03,10\nA,2025-01-03,5\nB,2025-01-05,30\n")
    err = one_line_error(capsys, path, "--calibration-end", "2025-06-30", "--out", tmp_path / "o")
    assert "no customer bought on two different days" in err
    assert not (tmp_path / "o").exists()


def test_an_export_of_returns_only_has_nothing_to_fit(capsys, tmp_path):
    path = tmp_path / "returns.csv"
    path.write_text(
        "customer_id,date,amount\nA,2025-01-01,-10\nA,2025-02-01,-12\nB,2025-03-01,-8\n"
    )
    err = one_line_error(capsys, path, "--calibration-end", "2025-04-30", "--out", tmp_path / "o")
    assert "no purchases are left once returns are taken out" in err


def test_a_non_empty_out_folder_is_kept_unless_overwrite(capsys, export, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    err = one_line_error(capsys, export, "--calibration-end", "2025-06-30", "--out", out)
    assert "is not empty" in err and "--overwrite" in err
    assert (out / "keep.txt").read_text() == "mine"


def test_overwrite_replaces_only_an_earlier_calibrations_folder(
    capsys, export, tmp_path, monkeypatch
):
    """The whole --out folder is replaced: one holding anything else is refused, above all
    the export being read or the folder the command runs in."""
    args = ("--calibration-end", "2025-06-30", "--overwrite")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    err = one_line_error(capsys, export, *args, "--out", out)
    assert "holds notes.txt, which retail-sim-calibrate did not write" in err
    assert (out / "notes.txt").read_text() == "mine"
    inside = tmp_path / "project"
    inside.mkdir()
    (inside / "tx.csv").write_text(export.read_text())
    err = one_line_error(capsys, inside / "tx.csv", *args, "--out", inside)
    assert "holds the transaction export, which --overwrite would delete" in err
    monkeypatch.chdir(inside)
    err = one_line_error(capsys, export, *args, "--out", ".")
    assert "holds this folder, which --overwrite would delete" in err
    assert (inside / "tx.csv").exists()


def test_fits_that_do_not_converge_say_so(capsys, export, tmp_path):
    """Three customers cannot identify four parameters: the outputs are written, flagged."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "validation.json").write_text("an earlier calibration's, with a holdout")
    code, _, err = calibrate(
        capsys, export, "--calibration-end", "2025-06-30", "--out", out, "--overwrite"
    )
    assert code == 0, err
    assert not (out / "validation.json").exists()  # replaced as a whole
    assert "warning: Pareto/NBD fit did not converge: " in err
    fit = json.loads((out / "fit.json").read_text())
    assert fit["converged"]["pareto_nbd"] is False and fit["pareto_nbd"]["message"]
    errors = [v for m in ("bgnbd", "pareto_nbd") for v in fit[m]["std_errors"].values()]
    assert None in errors  # a Hessian that is not positive definite gives none: null, not NaN
    assert "outside the simulator's range" in err
    assert "clipped from" in (out / "population" / "twin.yaml").read_text()


def test_outputs_appear_whole_or_not_at_all(capsys, tmp_path, monkeypatch):
    """A failure after the fits (here in the validation figure) leaves no output folder and
    no staging folder behind."""
    import experiments.calibrate as calibrate_module

    path = tmp_path / "export.csv"
    synthetic_export(path, 400, seed=2, id_prefix=ID, start="2024-01-01")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(calibrate_module, "_figure", broken)
    args = ["--calibration-end", "2025-06-30", "--holdout-end", "2025-12-31"]
    with pytest.raises(RuntimeError, match="disk full"):
        main([str(path), *args, "--out", str(tmp_path / "out"), "--twin-runs", "1"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv"]
    capsys.readouterr()


# --------------------------------------------------------------------------- styles and items


def test_style_and_items_columns_shape_the_store_and_the_twin(capsys, tmp_path):
    path = tmp_path / "export.csv"
    styles = ["casual", "french_elegant", "sporty"]
    synthetic_export(path, 600, seed=5, end="2025-06-30", items=True, styles=styles)
    out = tmp_path / "out"
    code, log, err = calibrate(
        capsys,
        path,
        "--calibration-end",
        "2025-06-30",
        "--out",
        out,
        "--items-col",
        "items",
        "--style-col",
        "style",
    )
    assert code == 0, err
    assert not (out / "validation.json").exists()  # no --holdout-end: nothing to validate on
    cfg = compose([searchpath_override(out), "population=twin", "store=calibrated", "days=5"])
    assert list(cfg.store.styles) == styles
    assert cfg.store.style_mix[0] > cfg.store.style_mix[2]  # the export's mix: 2 to 1
    assert cfg.population.items_mean == pytest.approx(1.8, rel=0.1)
    with np.load(out / "twin.npz") as twin:
        assert twin["style_counts"].shape[1] == 3 and twin["last_style"].min() >= 0
    model = simulate(cfg).model
    assert model.ledger.record.n >= 500
    wrong_store = compose([searchpath_override(out), "population=twin", "days=5"])
    with pytest.raises(ValueError, match="calibrated with 3 styles but the store sells 6"):
        simulate(wrong_store)


def test_console_script_is_declared():
    import tomllib

    scripts = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["retail-sim-calibrate"] == "experiments.calibrate:main"


@pytest.mark.parametrize(
    ("sd", "said"),
    [
        (0.0, "set to 1000"),  # alike tickets: q far past its range, clipped, the mean kept
        (2.5, "has no finite mean"),  # very unequal spenders: q < 1, no mean to keep
    ],
)
def test_a_clipped_spend_fit_is_written_as_the_simulator_takes_it(capsys, tmp_path, sd, said):
    """A shape outside the simulator's range is clipped to a value the simulator accepts as
    written (q at 1 + 1e-6 used to be written as 1, which it refuses), and where the fit has a
    mean ticket its scale moves with it, so that the synthetic customers' average ticket stays
    the export's."""
    rng = np.random.default_rng(4)
    rows = []
    for c in range(300):
        days = np.sort(rng.choice(540, size=rng.integers(3, 12), replace=False))
        amounts = rng.gamma(50, np.exp(rng.normal(0, sd)), len(days))
        rows += [
            (f"C{c}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(d)), a)
            for d, a in zip(days, amounts, strict=True)
        ]
    export = tmp_path / "export.csv"
    frame = pd.DataFrame(rows, columns=["customer_id", "date", "amount"]).round({"amount": 2})
    frame.to_csv(export, index=False)
    out = tmp_path / "o"
    code, _, err = calibrate(capsys, export, "--calibration-end", "2025-06-23", "--out", out)
    assert code == 0, err
    assert "population.spend_q=" in err and said in err
    args = [searchpath_override(out), "population=synthetic", "store=calibrated"]
    validate(compose(args))  # as written
    if sd == 0:
        result = simulate(compose([*args, "strategy=none", "customers=3000", "days=180"]))
        assert result.metrics["aov"] == pytest.approx(frame["amount"].mean(), rel=0.05)


def test_newcomers_are_the_first_purchases_the_twins_own_referrals_do_not_explain(store_out):
    """The twin refers friends itself (referral_propensity): drawing every first purchase as
    a newcomer on top counted the referred friends twice (+11% newcomers)."""
    out, _, rows = store_out
    text = (out / "population" / "synthetic.yaml").read_text()
    line = next(x for x in text.splitlines() if x.startswith("new_customers_per_year:"))
    value = float(line.split(":")[1].split("#")[0])
    firsts, propensity, purchases = re.search(
        r"\((\d+)\) less the friends referral_propensity ([\d.]+) brings from its (\d+) purchases",
        line,
    ).groups()
    n = json.loads((out / "fit.json").read_text())["customers"]
    expected = max(int(firsts) - float(propensity) * int(purchases), 0) / n * 365 / 91
    assert int(firsts) > 0 and int(purchases) > int(firsts)
    assert value == pytest.approx(expected, rel=1e-5) and value < int(firsts) / n * 365 / 91


def test_a_validation_without_a_model_expectation_is_still_printed():
    """A fit that failed (one customer) left None expectations, and the summary line raised a
    TypeError after all the twin runs."""
    from experiments.calibrate import _validation_lines

    row = {"x": 5, "customers": 1, "actual": 3.0, "model": None, "bgnbd": None, "twin": 2.5}
    lines = _validation_lines(
        {
            "calibration_end": "2026-06-30",
            "holdout_start": "2026-07-01",
            "holdout_end": "2026-12-31",
            "actual_holdout_transactions": 3,
            "model_expected_holdout_transactions": None,
            "bgnbd_expected_holdout_transactions": None,
            "simulated_holdout_transactions": 2.5,
            "simulated_runs": [2, 3],
            "by_calibration_purchases": [row],
        }
    )
    assert lines[0].startswith("holdout 2026-07-01 to 2026-12-31: actual 3,")
    assert "Pareto/NBD expected n/a, BG/NBD expected n/a, twin 2.5" in lines[0]
    assert lines[-1].split() == ["5", "1", "3.000", "n/a", "n/a", "2.500"]


def test_an_export_that_starts_after_customers_were_acquired_is_warned_of(capsys, tmp_path):
    """Customers already there when the till system started all "first" appear in its first
    quarter; the fits take that row as their first purchase ever."""
    rng = np.random.default_rng(1)
    start, rows = pd.Timestamp("2024-01-01"), []
    for quarter, joining in enumerate([300] + [60] * 7):  # a burst, then a steady pace
        for k in range(joining):
            first = start + pd.Timedelta(days=int(91 * quarter + rng.integers(0, 40)))
            for visit in range(3):  # all inside her quarter
                day = first + pd.Timedelta(days=int(visit * rng.integers(10, 25)))
                rows.append((f"{ID}{quarter}-{k}", day.date().isoformat(), 50.0))
    path = tmp_path / "export.csv"
    pd.DataFrame(rows, columns=["customer_id", "date", "amount"]).to_csv(path, index=False)
    end = (start + pd.Timedelta(days=8 * 91 - 1)).date().isoformat()
    args = ("--calibration-end", end, "--out")
    code, _, err = calibrate(capsys, path, *args, tmp_path / "cut")
    assert code == 0, err
    assert "300 customers first appear in the export's first 91 days, against 60 per 91" in err
    steady = pd.read_csv(path)
    steady = steady[~steady["customer_id"].str.startswith(f"{ID}0-")]  # acquired inside it
    steady.to_csv(path, index=False)
    code, _, err = calibrate(capsys, path, *args, tmp_path / "whole")
    assert code == 0 and "first appear" not in err
