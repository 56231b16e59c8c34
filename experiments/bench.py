"""`retail-sim-bench`: time and memory of one run, printed as a JSON line (and optionally CSV).

    retail-sim-bench --customers 1000000 --days 365 [--reference] [strategy=rfm_tiering ...]

Positional arguments are Hydra overrides of the run config, so a benchmark can be reproduced
exactly. The last line printed is one JSON object with `wall_s`, `peak_rss_mb` and
`ns_per_customer_day`.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import sys
import time
from pathlib import Path

from experiments.errors import exit_on_user_error
from sim.config import compose
from sim.simulate import simulate


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="retail-sim-bench", description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--reference", action="store_true", help="one Mesa agent per customer")
    parser.add_argument("--csv", type=Path, help="append the figures as a row to this CSV")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. strategy=blanket")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse(sys.argv[1:] if argv is None else argv)
    with exit_on_user_error("retail-sim-bench"):
        overrides = [
            "strategy=blanket",
            *args.overrides,
            f"customers={args.customers}",
            f"days={args.days}",
            f"implementation={'reference' if args.reference else 'fast'}",
        ]
        cfg = compose(overrides)
        start = time.perf_counter()
        result = simulate(cfg)
        wall = time.perf_counter() - start
    figures = {
        "implementation": cfg.implementation,
        "strategy": cfg.strategy._target_.rsplit(".", 1)[-1],
        "customers": cfg.customers,
        "days": cfg.days,
        "customers_at_end": result.metrics["customers"],
        "wall_s": round(wall, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "ns_per_customer_day": round(wall * 1e9 / (cfg.customers * cfg.days), 2),
    }
    if args.csv:
        new = not args.csv.exists()
        with args.csv.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(figures))
            if new:
                writer.writeheader()
            writer.writerow(figures)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
