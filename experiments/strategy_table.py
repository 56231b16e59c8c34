"""Make the strategy table of README.md: every built-in on the default store.

    .venv/bin/python experiments/strategy_table.py [--seeds 10] [--customers 20000] [--days 365]

Runs each built-in strategy for each seed (no holdout: the whole store gets the strategy),
keeps each run's metrics in `strategy_runs.json` next to this script (a rerun reuses them:
delete the file after changing the model, a strategy or a config), and prints the table as
markdown: KPIs as means over seeds, and net profit against `none` paired by seed
(same seed, same customers and draws) with a 95% interval over seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments.stats import paired_difference  # noqa: E402
from sim.config import compose  # noqa: E402
from sim.simulate import simulate  # noqa: E402

STRATEGIES = [
    "none",
    "blanket",
    "capped_blanket",
    "personalised",
    "rfm_tiering",
    "lifecycle",
    "winback",
    "loyalty",
    "referral",
]
COLUMNS = [  # key, header, format
    ("net_profit", "net profit", "{:,.0f}"),
    ("d_net_profit", "vs none (95% CI)", None),
    ("revenue", "revenue", "{:,.0f}"),
    ("marketing_cost", "marketing cost", "{:,.0f}"),
    ("messages_sent", "messages", "{:,.0f}"),
    ("repurchase_rate", "repurchase", "{:.1%}"),
    ("churn_rate", "churn (true)", "{:.1%}"),
    ("reactivation_rate", "reactivation", "{:.2%}"),
    ("opt_out_rate", "opted out", "{:.2%}"),
    ("vip_share", "VIP share", "{:.2%}"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument(
        "--cache", type=Path, default=Path(__file__).with_name("strategy_runs.json")
    )
    args = parser.parse_args()
    cache = json.loads(args.cache.read_text()) if args.cache.exists() else {}
    for seed in range(1, args.seeds + 1):
        for strategy in STRATEGIES:
            key = f"{strategy}/{seed}/{args.customers}/{args.days}"
            if key in cache:
                continue
            start = time.perf_counter()
            cfg = compose(
                [
                    f"strategy={strategy}",
                    f"seed={seed}",
                    f"customers={args.customers}",
                    f"days={args.days}",
                ]
            )
            cache[key] = simulate(cfg).metrics
            args.cache.write_text(json.dumps(cache, indent=1, sort_keys=True))
            print(f"{key}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    print(table(cache, args))


def table(cache: dict, args: argparse.Namespace) -> str:
    seeds = range(1, args.seeds + 1)

    def runs(strategy: str) -> list[dict]:
        return [cache[f"{strategy}/{s}/{args.customers}/{args.days}"] for s in seeds]

    base = np.array([m["net_profit"] for m in runs("none")])
    lines = [
        "| strategy | " + " | ".join(h for _, h, _ in COLUMNS) + " |",
        "|---|" + "---:|" * len(COLUMNS),
    ]
    for strategy in STRATEGIES:
        metrics = runs(strategy)
        cells = []
        for key, _, fmt in COLUMNS:
            if key == "d_net_profit":
                d = paired_difference([m["net_profit"] for m in metrics], base)
                half = d.width / 2 if d.n > 1 else 0.0
                cells.append("" if strategy == "none" else f"{d.estimate:+,.0f} ± {half:,.0f}")
            else:
                cells.append(fmt.format(np.mean([m[key] for m in metrics])))
        lines.append(f"| `{strategy}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
