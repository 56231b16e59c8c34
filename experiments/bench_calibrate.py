"""Time `retail-sim-calibrate` on a synthetic store export of known Pareto/NBD customers.

    python -m experiments.bench_calibrate [--customers 100000] [--holdout] [--keep DIR]

Writes an export of `--customers` customers acquired over two years (2023-07-01 to the
calibration end 2025-06-30, holdout to 2025-12-31) with the default population's Pareto/NBD
and Gamma-Gamma parameters, runs the calibration on it and prints one JSON line with the
export's size, the wall and CPU time of the calibration (`wall_s`, `cpu_s`) and the fitted
parameters next to the true ones. `synthetic_export` is also what the tests use for smaller exports.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

# The default population (configs/population/default.yaml), per day; alpha, beta per week x 7.
TRUE = {"r": 0.553, "alpha_days": 74.046, "s": 0.606, "beta_days": 81.683}
SPEND = {"p": 6.25, "q": 3.74, "gamma": 52.6}
START, CAL_END, HOLDOUT_END = "2023-07-01", "2025-06-30", "2025-12-31"


def synthetic_export(
    path: Path,
    customers: int,
    seed: int = 1,
    start: str = START,
    end: str = HOLDOUT_END,
    id_prefix: str = "C",
    items: bool = False,
    styles: list[str] | None = None,
) -> pd.DataFrame:
    """Write a CSV export (customer_id, date, amount[, items][, style]) of Pareto/NBD customers.

    First purchases are uniform over [start, end]; each customer then buys at Poisson rate
    lam ~ Gamma(r, alpha) until her exponential lifetime (mu ~ Gamma(s, beta)) or `end`, and
    spends Gamma(p, nu) per purchase, nu ~ Gamma(q, gamma). Times are continuous, dates are
    their days: same-day purchases stay separate rows, as in a real export. Returns the rows.
    """
    rng = np.random.default_rng(seed)
    origin, stop = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)
    span = (stop - origin).days
    n = customers
    first = rng.random(n) * span
    lam = rng.gamma(TRUE["r"], 1.0 / TRUE["alpha_days"], n)
    mu = rng.gamma(TRUE["s"], 1.0 / TRUE["beta_days"], n)
    with np.errstate(divide="ignore"):
        active = np.minimum(rng.exponential(size=n) / mu, span - first)
    repeats = rng.poisson(lam * active)
    who = np.concatenate([np.arange(n), np.repeat(np.arange(n), repeats)])
    when = np.concatenate(
        [first, np.repeat(first, repeats) + rng.random(repeats.sum()) * np.repeat(active, repeats)]
    )
    nu = rng.gamma(SPEND["q"], 1.0 / SPEND["gamma"], n)
    rows = pd.DataFrame(
        {
            "customer_id": pd.Series(who).map(lambda i: f"{id_prefix}{i:07d}"),
            "date": (origin + pd.to_timedelta(np.floor(when), unit="D")).strftime("%Y-%m-%d"),
            "amount": np.round(rng.gamma(SPEND["p"], 1.0 / nu[who]), 2),
        }
    )
    if items:
        rows["items"] = rng.geometric(1 / 1.8, len(rows))  # 1.8 items per ticket on average
    if styles:
        weight = np.linspace(2.0, 1.0, len(styles))  # the first style sells twice the last
        rows["style"] = rng.choice(styles, len(rows), p=weight / weight.sum())
    rows = rows.sort_values(["date", "customer_id"], kind="stable")
    rows.to_csv(path, index=False)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--holdout", action="store_true", help="also validate on the holdout")
    parser.add_argument("--keep", type=Path, help="write the export and outputs here")
    args = parser.parse_args(argv)

    from experiments.calibrate import main as calibrate

    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        export = work / "export.csv"
        end = HOLDOUT_END if args.holdout else CAL_END
        rows = synthetic_export(export, args.customers, args.seed, end=end)
        cli = [str(export), "--calibration-end", CAL_END, "--out", str(work / "out"), "--overwrite"]
        if args.holdout:
            cli += ["--holdout-end", HOLDOUT_END]
        start, cpu = time.perf_counter(), time.process_time()
        calibrate(cli)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        fit = json.loads((work / "out" / "fit.json").read_text())
    pn = fit["pareto_nbd"]
    print(
        json.dumps(
            {
                "customers": args.customers,
                "rows": len(rows),
                "holdout": args.holdout,
                "wall_s": round(wall, 1),
                "cpu_s": round(cpu, 1),  # this process's CPU time: less sensitive to load
                "pareto_nbd_days": {
                    "r": round(pn["r"], 4),
                    "alpha": round(pn["alpha"] * 7, 2),
                    "s": round(pn["s"], 4),
                    "beta": round(pn["beta"] * 7, 2),
                },
                "true_days": TRUE,
            }
        )
    )


if __name__ == "__main__":
    main()
