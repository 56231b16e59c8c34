"""`retail-sim-bench`: time and memory of one run, printed as a JSON line (and optionally CSV).

    retail-sim-bench --customers 1000000 --days 365 [--reference] [strategy=rfm_tiering ...]
    retail-sim-bench --customers 10000 --days 365 --pairs 3

Positional arguments are Hydra overrides of the run config, so a benchmark can be reproduced
exactly. The last line printed is one JSON object with `wall_s`, `peak_rss_mb` and
`ns_per_customer_day`.

`--pairs N` measures the fast path's speed-up over the per-agent reference: N times, the fast
path, the reference and the fast path again, each in a fresh process as a user would run
them, back to back so that both see the same machine. A pair's speed-up is the reference's
wall over the mean of the two fast runs around it; the machine's speed drifts, so the range
over pairs is reported with the median.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TextIO

from experiments.destination import folder_problem
from experiments.errors import exit_on_user_error
from sim.config import compose, validate
from sim.simulate import build_strategy, simulate

RUN_IDENTITY = ("implementation", "strategy", "customers", "days", "customers_at_end")
OWN_OPTIONS = {"customers": "--customers", "days": "--days", "implementation": "--reference"}
RUN_FIELDS = (*RUN_IDENTITY, "wall_s", "peak_rss_mb", "ns_per_customer_day")
PAIR_FIELDS = (
    *RUN_FIELDS,
    *("reference_wall_s", "reference_peak_rss_mb", "reference_ns_per_customer_day"),
    *("pairs", "speedup", "speedup_min", "speedup_max"),
)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="retail-sim-bench", description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--reference", action="store_true", help="one Mesa agent per customer")
    parser.add_argument("--csv", type=Path, help="append the figures as a row to this CSV")
    parser.add_argument("--pairs", type=int, help="measure the speed-up over the reference N times")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. strategy=blanket")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse(sys.argv[1:] if argv is None else argv)
    with exit_on_user_error("retail-sim-bench"):
        if args.pairs is not None and args.pairs < 1:  # 0 ran one fast run, silently
            raise ValueError(f"--pairs {args.pairs}: give a number of pairs of at least 1")
        if args.pairs and args.reference:
            raise ValueError("--pairs runs both paths: drop --reference")
        for override in args.overrides:
            key = override.split("=", 1)[0].lstrip("+~")
            if key in OWN_OPTIONS:
                raise ValueError(f"{override}: use {OWN_OPTIONS[key]} instead of an override")
        fields = PAIR_FIELDS if args.pairs else RUN_FIELDS
        new_csv = bool(args.csv) and _csv_is_new(args.csv, fields)
        overrides = [
            "strategy=blanket",
            *args.overrides,
            f"customers={args.customers}",
            f"days={args.days}",
        ]
        figures = _speedup(args, overrides) if args.pairs else _one_run(overrides, args.reference)
    if args.csv:
        with args.csv.open("a+", newline="") as f:
            if f.tell() and _last_byte(f) != "\n":  # a row appended by hand, say
                f.write("\n")
            writer = csv.DictWriter(f, fieldnames=fields)
            if new_csv:
                writer.writeheader()
            writer.writerow(figures)
    print(json.dumps(figures))


def _one_run(overrides: list[str], reference: bool) -> dict[str, object]:
    """Time one run of the configured store in this process."""
    implementation = "reference" if reference else "fast"
    cfg = compose([*overrides, f"implementation={implementation}"])
    start = time.perf_counter()
    result = simulate(cfg)
    wall = time.perf_counter() - start
    return {
        "implementation": cfg.implementation,
        "strategy": cfg.strategy._target_.rsplit(".", 1)[-1],
        "customers": cfg.customers,
        "days": cfg.days,
        "customers_at_end": result.model.ledger.record.n,  # both arms, with a holdout
        "wall_s": round(wall, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "ns_per_customer_day": round(wall * 1e9 / (cfg.customers * cfg.days), 2),
    }


def _speedup(args: argparse.Namespace, overrides: list[str]) -> dict[str, object]:
    """Fast, reference, fast, `--pairs` times, each in its own process; prints a line per
    pair and returns the fast path's median figures with the speed-up's median and range."""
    cfg = compose(overrides)  # a bad override or strategy stops here, once, not in each child
    validate(cfg)
    build_strategy(cfg.strategy, cfg)
    command = [
        *(sys.executable, "-m", "experiments.bench"),
        *(f"--customers={args.customers}", f"--days={args.days}", *args.overrides),
    ]
    fast, reference, ratios = [], [], []
    for pair in range(1, args.pairs + 1):
        before = _child(command)
        slow = _child([*command, "--reference"])
        after = _child(command)
        ratio = slow["wall_s"] / ((before["wall_s"] + after["wall_s"]) / 2)
        print(
            f"pair {pair}: fast {before['wall_s']} s, reference {slow['wall_s']} s, "
            f"fast {after['wall_s']} s: {ratio:.1f}x",
            flush=True,
        )
        fast += [before, after]
        reference.append(slow)
        ratios.append(ratio)
    return {
        **{field: fast[0][field] for field in RUN_IDENTITY},
        "wall_s": _median(fast, "wall_s"),
        "peak_rss_mb": max(run["peak_rss_mb"] for run in fast),
        "ns_per_customer_day": _median(fast, "ns_per_customer_day"),
        "reference_wall_s": _median(reference, "wall_s"),
        "reference_peak_rss_mb": max(run["peak_rss_mb"] for run in reference),
        "reference_ns_per_customer_day": _median(reference, "ns_per_customer_day"),
        "pairs": args.pairs,
        "speedup": round(statistics.median(ratios), 1),
        "speedup_min": round(min(ratios), 1),
        "speedup_max": round(max(ratios), 1),
    }


def _child(command: list[str]) -> dict[str, object]:
    """One run in a fresh process (its own peak memory, no warm caches from the last run)."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:  # e.g. out of memory: its last line says why
        why = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise SystemExit(f"retail-sim-bench: error: a benchmark run failed: {why}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _csv_is_new(path: Path, fields: tuple[str, ...]) -> bool:
    """Whether the CSV still needs its header; refuses, before any run, one whose columns
    this benchmark would misalign."""
    if path.is_dir():
        raise ValueError(f"--csv {path} is a directory: give it a file name")
    if not path.parent.is_dir():
        raise ValueError(f"--csv {path}: folder {path.parent} does not exist; create it first")
    problem = folder_problem(path.parent)
    if problem:
        raise ValueError(f"--csv {path}: {problem}: give a file in a folder you can write to")
    if not path.exists() or not path.stat().st_size:
        return True
    try:
        with path.open(newline="") as f:
            header = next(csv.reader(f), [])
    except (UnicodeDecodeError, csv.Error):
        header = []  # not this benchmark's CSV: refused below
    if tuple(header) != fields:
        raise ValueError(
            f"--csv {path} has other columns than this benchmark writes "
            f"({'--pairs' if fields == PAIR_FIELDS else 'a single run'}): give it a new file"
        )
    return False


def _last_byte(f: TextIO) -> str:
    f.seek(f.tell() - 1)
    last = f.read(1)
    f.seek(0, 2)
    return last


def _median(runs: list[dict[str, object]], key: str) -> float:
    return round(statistics.median(run[key] for run in runs), 3)


if __name__ == "__main__":
    main()
