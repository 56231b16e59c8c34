"""`retail-sim-bench`: the JSON line and CSV rows of one run, the back-to-back speed-up of
`--pairs`, and one-line errors that stop before any run."""

from __future__ import annotations

import csv
import json
import re
import statistics
import sys

import pytest

from experiments import bench
from tests.conftest import run_cli


def bench_cli(capsys, *args: object) -> tuple[int, list[str], str]:
    code, out, err = run_cli(capsys, bench.main, *args)
    return code, out.splitlines(), err


def test_one_run_prints_its_figures_and_appends_a_csv_row(capsys, tmp_path):
    table = tmp_path / "bench.csv"
    for strategy in ("blanket", "none"):
        code, out, err = bench_cli(
            capsys, "--customers", 200, "--days", 10, "--csv", table, f"strategy={strategy}"
        )
        assert code == 0, err
    figures = json.loads(out[-1])
    assert tuple(figures) == bench.RUN_FIELDS
    assert (figures["implementation"], figures["strategy"]) == ("fast", "NoStrategy")
    assert (figures["customers"], figures["days"]) == (200, 10)
    assert figures["customers_at_end"] >= 200  # newcomers arrive, nobody is removed
    assert figures["ns_per_customer_day"] == pytest.approx(
        figures["wall_s"] * 1e9 / 2000, abs=1e9 * 0.0005 / 2000
    )
    rows = list(csv.DictReader(table.open()))
    assert [row["strategy"] for row in rows] == ["Blanket", "NoStrategy"]
    assert rows[-1]["wall_s"] == str(figures["wall_s"])


def test_a_row_goes_on_a_line_of_its_own_and_counts_both_arms(capsys, tmp_path):
    table = tmp_path / "bench.csv"
    table.write_text(",".join(bench.RUN_FIELDS))  # no final newline (written by hand)
    code, out, err = bench_cli(capsys, "--customers", 500, "--days", 5, "--csv", table)
    assert code == 0, err
    with_holdout = bench_cli(capsys, "--customers", 500, "--days", 5, "holdout=0.5")[1]
    assert (
        json.loads(with_holdout[-1])["customers_at_end"] == json.loads(out[-1])["customers_at_end"]
    )
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 1 and rows[0]["implementation"] == "fast"


def test_reference_runs_the_per_agent_model(capsys):
    code, out, err = bench_cli(capsys, "--customers", 100, "--days", 5, "--reference")
    assert code == 0, err
    assert json.loads(out[-1])["implementation"] == "reference"


def test_pairs_report_each_pair_and_the_median_speedup(capsys, tmp_path):
    table = tmp_path / "pairs.csv"
    code, out, err = bench_cli(
        capsys, "--customers", 150, "--days", 10, "--pairs", 2, "--csv", table
    )
    assert code == 0, err
    pair_lines = [line for line in out if line.startswith("pair ")]
    assert len(pair_lines) == 2
    walls = [[float(w) for w in re.findall(r"([\d.]+) s", line)] for line in pair_lines]
    ratios = [reference / ((before + after) / 2) for before, reference, after in walls]
    figures = json.loads(out[-1])
    assert tuple(figures) == bench.PAIR_FIELDS
    assert figures["pairs"] == 2 and figures["customers"] == 150
    assert figures["speedup"] == pytest.approx(statistics.median(ratios), abs=0.051)
    assert figures["speedup_min"] <= figures["speedup"] <= figures["speedup_max"]
    fast_walls = sorted(w for before, _, after in walls for w in (before, after))
    assert figures["wall_s"] == pytest.approx(statistics.median(fast_walls), abs=0.001)
    assert figures["reference_wall_s"] == pytest.approx(
        statistics.median(reference for _, reference, _ in walls), abs=0.001
    )
    assert [row["pairs"] for row in csv.DictReader(table.open())] == ["2"]


def write_header(path, fields):
    path.write_text(",".join(fields) + "\n")
    return path


@pytest.mark.parametrize(
    "args, message",
    [
        (["--pairs", "1", "--reference"], "drop --reference"),
        (["--pairs", "-1"], "--pairs -1: give a number of pairs of at least 1"),
        (["--pairs", "0"], "--pairs 0: give a number of pairs of at least 1"),
        (["customers=700"], "customers=700: use --customers instead"),
        (["implementation=reference"], "use --reference instead"),
        (["--csv", "{tmp}/no/such/folder.csv"], "does not exist; create it first"),
        (["--customers", "-5"], "customers"),
        (["strategy=nope"], "choose one of the options in 'strategy'"),
        (["--pairs", "1", "strategy=nope"], "choose one of the options in 'strategy'"),
        (["--csv", "{pairs_csv}"], "other columns than this benchmark writes (a single run)"),
        (["--pairs", "1", "--csv", "{run_csv}"], "other columns than this benchmark writes"),
        (["--csv", "{tmp}"], "is a directory"),
        (["--csv", "/proc/bench.csv"], "--csv /proc/bench.csv: cannot write in /proc: give a"),
        (["--csv", "{binary_csv}"], "other columns than this benchmark writes"),
        (["--pairs", "1", "strategy.every_days=0"], "every_days=0: give a whole number of at"),
    ],
)
def test_bad_input_stops_with_one_line_before_any_run(capsys, tmp_path, args, message):
    (tmp_path / "binary.csv").write_bytes(b"\xf0\x28\x8c\x28")
    files = {
        "pairs_csv": write_header(tmp_path / "pairs.csv", bench.PAIR_FIELDS),
        "run_csv": write_header(tmp_path / "run.csv", bench.RUN_FIELDS),
        "binary_csv": tmp_path / "binary.csv",
        "tmp": tmp_path,
    }
    before = {name: path.read_bytes() for name, path in files.items() if path.is_file()}
    args = [arg.format(**files) for arg in args]
    code, out, err = bench_cli(capsys, "--customers", 100, "--days", 5, *args)
    assert code == 2 and out == []
    assert err.startswith("retail-sim-bench: error: ") and err.count("\n") == 1
    assert message in err
    assert {name: files[name].read_bytes() for name in before} == before


def test_a_failed_child_run_is_named_in_one_line():
    failing = [sys.executable, "-c", "import sys; print('trace', file=sys.stderr); sys.exit('OOM')"]
    with pytest.raises(SystemExit) as exited:
        bench._child(failing)
    assert str(exited.value.code) == "retail-sim-bench: error: a benchmark run failed: OOM"
