"""`retail-sim-calibrate`: fit a store's own transactions and write populations to simulate.

    retail-sim-calibrate transactions.csv --calibration-end 2025-06-30 \\
        [--holdout-end 2025-12-31] --out mystore/

Reads a transaction export (one row per purchase: customer id, date, amount; optionally items
and style; or the CDNOW research file with --format cdnow), cleans it into one transaction per
customer and day (`sim.transactions`), fits BG/NBD, Pareto/NBD and Gamma-Gamma on the
calibration period (`sim.btyd`, times in weeks as in the literature) and writes into --out:

* fit.json: parameters, standard errors, log-likelihoods, convergence, the cleaning account;
* population/synthetic.yaml: a synthetic population drawn from the fitted distributions
  (Pareto/NBD converted from weeks to days);
* population/twin.yaml + twin.npz: the digital twin, the store's actual customers, each
  continuing her recorded history with hidden traits drawn from their posterior (`sim.twin`);
* store/calibrated.yaml: the default store, starting the day after the calibration end (and
  selling the export's styles when it has a style column);
* with --holdout-end: validation.json and validation.png, the twin with no strategy against
  the model's expectation and the actual holdout transactions.

Customer ids never leave the loader: every output is indexed by row. Bad input stops with a
one-line error (exit status 2) before anything is written; outputs are staged in a hidden
folder next to --out and moved into place only when complete.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from experiments.destination import folder_problem
from experiments.errors import exit_on_user_error
from sim import btyd
from sim.config import Config, PopulationConfig, compose, searchpath_override
from sim.transactions import (
    CleaningReport,
    TransactionDataError,
    holdout_counts,
    load_cdnow,
    load_transactions,
    parse_dates,
    summarise,
)
from sim.twin import TwinHistory, save_twin

PROG = "retail-sim-calibrate"
WEEK = 7  # the fits' time unit, in days (the published CDNOW values are per week)
MAX_STYLES = 20  # the simulator's styles are a handful of broad looks, not SKUs
# what a calibration folder holds (all of it written here): --overwrite replaces nothing else
OUTPUTS = frozenset(
    ("README.md", "fit.json", "population", "store", "twin.npz")
    + ("validation.json", "validation.png")
)
# a shape clipped to the simulator's range moves its scale with it, keeping the mean as
# fitted: the purchase rate r / alpha, the dropout hazard s / beta, the ticket p gamma / (q - 1)
MEAN_KEPT_BY = {
    "purchase_r": ("purchase_alpha_days", 0.0),
    "dropout_s": ("dropout_beta_days", 0.0),
    "spend_q": ("spend_gamma", 1.0),
}
MAX_SILENT_GAP_DAYS = 365  # calibration end this long after the export's last day: refused
MAX_DAYS = int(next(f for f in dataclasses.fields(Config) if f.name == "days").metadata["range"][1])
FIRST_DATE, LAST_DATE = dt.date(1900, 1, 1), dt.date(2200, 12, 31)  # dates a store can mean
RECENT_DAYS = 91  # acquisition pace: first purchases in the last quarter of calibration
TABLE_X = 7  # conditional-expectation table: x = 0..6 and 7+ (Fader, Hardie & Lee 2005)
# The twin runs' first seed and count when --seed, --twin-runs are not given (their argparse
# default is None: given without --holdout-end they are refused, not ignored).
SEED, TWIN_RUNS = 1, 10
# Options that name a CSV export's columns and date format: the CDNOW file's are fixed.
CSV_ONLY = ("customer_col", "date_col", "amount_col", "items_col", "style_col", "date_format")

# What the fitted model does not contain, switched off for the validation run (a twin run
# with these settings is the fitted Pareto/NBD continuing each customer's history).
VALIDATION_OVERRIDES = [
    "strategy=none",
    "holdout=0",
    "store.calendar=[]",  # no seasonality in the model
    "store.complaint_rate=0",  # complaints move churn
    "population.referral_propensity=0",  # referred friends are new customers
    "population.new_customers_per_year=0",  # so are newcomers
    "population.behaviour.style_rate_exponent=0",  # style fit moves rates (newcomers only)
    "population.behaviour.style_hazard_exponent=0",
]


# --------------------------------------------------------------------------- arguments


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("transactions", type=Path, help="the export (CSV with a header row)")
    parser.add_argument("--calibration-end", required=True, help="last day fitted (YYYY-MM-DD)")
    parser.add_argument("--holdout-end", help="validate on the days after the calibration end")
    parser.add_argument("--out", required=True, type=Path, help="folder to write (new or empty)")
    parser.add_argument("--format", choices=("csv", "cdnow"), default="csv")
    parser.add_argument("--customer-col", default="customer_id")
    parser.add_argument("--date-col", default="date")
    parser.add_argument("--amount-col", default="amount")
    parser.add_argument("--items-col", help="items per row (sets the attach rate)")
    parser.add_argument("--style-col", help="style per row (sets the store's styles)")
    parser.add_argument("--date-format", help="strptime format if dates are not ISO 8601")
    parser.add_argument(
        "--seed", type=int, help=f"with --holdout-end: first seed of the twin runs (default {SEED})"
    )
    parser.add_argument(
        "--twin-runs",
        type=int,
        help=f"with --holdout-end: twin runs to average (default {TWIN_RUNS})",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    args = parser.parse_args(argv)
    if args.format == "cdnow":
        given = [d for d in CSV_ONLY if getattr(args, d) != parser.get_default(d)]
        if given:
            raise ValueError(
                "--format cdnow reads the CDNOW file's fixed columns (id, sample id, YYYYMMDD, "
                f"CDs, dollars): drop {', '.join('--' + d.replace('_', '-') for d in given)}"
            )
    twin = [
        flag
        for flag, value in (("--seed", args.seed), ("--twin-runs", args.twin_runs))
        if value is not None
    ]
    if twin and args.holdout_end is None:
        raise ValueError(
            f"{', '.join(twin)} only appl{'ies' if len(twin) == 1 else 'y'} with --holdout-end "
            "(the twin runs validate the fit on the holdout): pass --holdout-end or drop "
            f"{' and '.join(twin)}"
        )
    return args


def _date(text: str, flag: str) -> pd.Timestamp:
    try:
        date = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{flag} {text!r} is not a date: write it as YYYY-MM-DD") from None
    if not FIRST_DATE <= date <= LAST_DATE:  # an "open end" such as 9999-12-31
        raise ValueError(
            f"{flag} {text} is outside {FIRST_DATE.year}-{LAST_DATE.year}: give the day itself"
        )
    return pd.Timestamp(date)


def say(message: str) -> None:
    print(message, flush=True)


def warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- reading


def _read(args: argparse.Namespace) -> tuple[pd.DataFrame, CleaningReport]:
    if args.transactions.is_dir():
        raise ValueError(f"{args.transactions} is a folder: give the transaction export file")
    if args.transactions.exists() and not args.transactions.is_file():  # a pipe, a device
        raise ValueError(
            f"{args.transactions} is not a regular file: save the export to a file and give that"
        )
    if not args.transactions.is_file():
        raise FileNotFoundError(f"{args.transactions} not found: give the transaction export")
    if args.format == "cdnow":
        return load_cdnow(args.transactions)
    return load_transactions(
        args.transactions,
        customer_col=args.customer_col,
        date_col=args.date_col,
        amount_col=args.amount_col,
        items_col=args.items_col,
        style_col=args.style_col,
        date_format=args.date_format,
    )


def _lines_after(args: argparse.Namespace, cutoff: pd.Timestamp) -> tuple[int, str]:
    """How many file rows are dated after `cutoff`, and 'lines a, b, c and k more'."""
    if args.format == "cdnow":  # whitespace separated: pandas would skip blank lines
        rows = [
            (number, fields[2] if len(fields) > 2 else "")
            for number, line in enumerate(
                args.transactions.read_text(errors="replace").split("\n"), 1
            )
            if (fields := line.split())
        ]
        line_of, text = np.array([r[0] for r in rows]), pd.Series([r[1] for r in rows], dtype=str)
        fmt = "%Y%m%d"
    else:
        raw = pd.read_csv(
            args.transactions,
            usecols=[args.date_col],
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
        )
        text, fmt = raw[args.date_col].str.strip(), args.date_format
        line_of = np.arange(len(raw)) + 2  # blank lines kept: after the header, row i is line i+2
    date = parse_dates(text, fmt)
    lines = line_of[(date.dt.normalize() > cutoff).to_numpy()]
    shown = ", ".join(map(str, lines[:5]))
    more = f" and {len(lines) - 5} more" if len(lines) > 5 else ""
    return len(lines), f"line{'s' if len(lines) > 1 else ''} {shown}{more}"


def _check_window(
    tx: pd.DataFrame, args: argparse.Namespace, cal_end: pd.Timestamp, hold_end: pd.Timestamp | None
) -> None:
    """Stop on a calibration window the export cannot support; say what is left out."""
    first, last = tx["date"].min(), tx["date"].max()
    if first > cal_end:
        raise TransactionDataError(
            f"{args.transactions}: no transactions on or before --calibration-end "
            f"{cal_end.date()}: the export starts on {first.date()}; set --calibration-end "
            "after that"
        )
    if hold_end is None and last > cal_end:
        count, where = _lines_after(args, cal_end)
        fix = (
            f"pass --holdout-end {last.date()} to validate the fit on them, or set "
            f"--calibration-end {last.date()} to calibrate on everything"
            if (last - cal_end).days <= MAX_DAYS
            else "the last is more than a century on: correct or remove it"
        )
        raise TransactionDataError(
            f"{args.transactions}: {count} row{'s are' if count > 1 else ' is'} dated after "
            f"--calibration-end {cal_end.date()} ({where}; the last is {last.date()}): {fix}"
        )
    if hold_end is not None:
        later = int((tx["date"] > hold_end).sum())
        if later:
            say(f"skipped {later} transactions dated after --holdout-end {hold_end.date()}")
        if last < hold_end - pd.Timedelta(days=7):
            warn(
                f"the export ends on {last.date()}, before --holdout-end {hold_end.date()}: "
                "the actual holdout transactions may be incomplete"
            )
    last_in = tx.loc[tx["date"] <= cal_end, "date"].max()
    gap = (cal_end - last_in).days
    if gap > MAX_SILENT_GAP_DAYS:  # a mistyped year, most likely; the fits would take minutes
        raise TransactionDataError(
            f"{args.transactions}: the last transaction on or before --calibration-end "
            f"{cal_end.date()} is on {last_in.date()}, {gap:,} days earlier: every customer "
            "would look silent for a year the export does not cover, which the fits read as "
            f"churn; set --calibration-end {last_in.date()}, or give the export that covers "
            "the period"
        )
    if gap > 30:
        warn(
            f"the last transaction before --calibration-end is on {last_in.date()}, more "
            "than 30 days earlier: customers will look silent for days the export may not cover"
        )


# --------------------------------------------------------------------------- per customer


@dataclasses.dataclass
class Calibration:
    """Everything fitted and summarised, customers in summary row order (ids dropped)."""

    summary: pd.DataFrame  # summarise() in weeks
    history: TwinHistory
    styles: list[str]  # the export's styles ([] without a style column)
    style_mix: list[float]
    items_mean: float | None  # mean items per ticket (None without an items column)
    data_start: pd.Timestamp
    fits: dict[str, btyd.FitResult]


def _per_customer(
    tx: pd.DataFrame, summary: pd.DataFrame, cal_end: pd.Timestamp
) -> tuple[TwinHistory, list[str], list[float], float | None]:
    """The twin's recorded history, aligned with the summary rows (customers sorted by id)."""
    cal = tx[tx["date"] <= cal_end]
    by = cal.groupby("customer_id", sort=True)
    first, last = by["date"].min(), by["date"].max()
    if len(first) != len(summary) or not (first.to_numpy() == summary["first_purchase"]).all():
        raise AssertionError("calibration customers do not line up with the summary")
    day0 = cal_end + pd.Timedelta(days=1)
    n = len(summary)
    extra = np.zeros(n, dtype=np.int64)
    tickets = np.zeros(n, dtype=np.int32)
    items_mean = None
    if "items" in cal:
        row = by.ngroup().to_numpy()
        items = cal["items"].to_numpy(dtype=float)
        has = np.isfinite(items) & (items >= 1)
        extra = np.bincount(row[has], items[has] - 1, minlength=n).astype(np.int64)
        tickets = np.bincount(row[has], minlength=n).astype(np.int32)
        if tickets.sum():
            items_mean = float(1 + extra.sum() / tickets.sum())
    styles: list[str] = []
    mix: list[float] = []
    counts = np.zeros((n, 0), dtype=np.int32)
    last_style = np.full(n, -1, dtype=np.int8)
    if "style" in cal:
        # One row per (purchase day, style): a day's styles are joined by "|" by the loader.
        split = cal["style"].str.split("|")
        width = split.str.len().to_numpy()
        latest = cal["date"].to_numpy() == cal["customer_id"].map(last).to_numpy()
        long = pd.DataFrame(
            {
                "row": np.repeat(by.ngroup().to_numpy(), width),
                "latest": np.repeat(latest, width),
                "style": split.explode().to_numpy(),
            }
        )
        long = long[long["style"] != ""]
        styles = sorted(long["style"].unique())
        if len(styles) > MAX_STYLES:
            raise TransactionDataError(
                f"the style column has {len(styles)} distinct values: the simulator's styles "
                f"are a few broad looks; map the column to at most {MAX_STYLES} styles"
            )
        code = pd.Categorical(long["style"], categories=styles).codes
        counts = np.zeros((n, len(styles)), dtype=np.int32)
        np.add.at(counts, (long["row"].to_numpy(), code), 1)
        total = counts.sum(axis=0)
        mix = (total / total.sum()).tolist() if total.sum() else []
        # The style of her latest purchase day (the first of its styles if she bought several).
        on_last = long[long["latest"].to_numpy()].drop_duplicates("row")
        last_style[on_last["row"].to_numpy()] = pd.Categorical(
            on_last["style"], categories=styles
        ).codes
    history = TwinHistory(
        first_purchase_day=((first - day0).dt.days).to_numpy(np.int32),
        last_purchase_day=((last - day0).dt.days).to_numpy(np.int32),
        purchases=(summary["x"].to_numpy() + 1).astype(np.int32),
        spend=by["amount"].sum().to_numpy(np.float64),
        x_spend=summary["x_spend"].to_numpy(np.int32),
        monetary=summary["monetary"].to_numpy(np.float64),
        extra_items=extra,
        item_tickets=tickets,
        style_counts=counts,
        last_style=last_style,
        day0=day0.date().toordinal(),
    )
    return history, styles, mix, items_mean


def _fit(summary: pd.DataFrame) -> dict[str, btyd.FitResult]:
    x, t_x, T = summary["x"], summary["t_x"], summary["T"]  # summary.T is the transpose
    if not (x > 0).any():
        raise TransactionDataError(
            "no customer bought on two different days by the calibration end: the models "
            "learn from repeat purchases; use a longer calibration period"
        )
    if not (summary["x_spend"] > 0).any():
        raise TransactionDataError(
            "no repeat purchase with a positive amount by the calibration end: the spend "
            "model learns from repeat spend"
        )
    fits = {}
    for name, label, fit in (
        ("bgnbd", "BG/NBD", lambda: btyd.fit_bgnbd(x, t_x, T)),
        ("pareto_nbd", "Pareto/NBD", lambda: btyd.fit_pareto_nbd(x, t_x, T)),
        (
            "gamma_gamma",
            "Gamma-Gamma",
            lambda: btyd.fit_gamma_gamma(summary["x_spend"], summary["monetary"]),
        ),
    ):
        start = time.perf_counter()
        result = fits[name] = fit()
        params = ", ".join(
            f"{k}={v:.4g} (se {result.std_errors[k]:.2g})" for k, v in result.params.items()
        )
        say(
            f"{label}: {params}; log-likelihood {result.log_likelihood:.1f} "
            f"({result.n} customers, {time.perf_counter() - start:.1f}s)"
        )
        if not result.converged:
            warn(f"{label} fit did not converge: {result.message}")
    return fits


# --------------------------------------------------------------------------- outputs


def _plain(value: Any) -> Any:
    """JSON-ready: NaN becomes null (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _fit_json(cal: Calibration, report: CleaningReport, cal_end: pd.Timestamp) -> dict:
    out: dict[str, Any] = {
        "time_unit": "week",
        "calibration_end": str(cal_end.date()),
        "data_start": str(cal.data_start.date()),
        "customers": len(cal.summary),
        "repeat_buyers": int((cal.summary["x"] > 0).sum()),
        "excluded_first_purchase_after_calibration": int(
            cal.summary.attrs.get("excluded_first_purchase_after_calibration", 0)
        ),
        "converged": {name: fit.converged for name, fit in cal.fits.items()},
    }
    for name, fit in cal.fits.items():
        out[name] = {
            **fit.params,
            "log_likelihood": fit.log_likelihood,
            "std_errors": fit.std_errors,
            "converged": fit.converged,
            "message": fit.message,
            "n": fit.n,
        }
    cleaning = dataclasses.asdict(report)
    cleaning["source"] = Path(report.source).name
    out["cleaning"] = cleaning
    return _plain(out)


def _number(value: float) -> str:
    """A YAML number: six significant digits, positional (PyYAML reads '1e-05' as a string)."""
    if isinstance(value, int | np.integer):
        return str(int(value))
    return np.format_float_positional(float(f"{value:.6g}"), unique=True, trim="0")


def _ranges() -> dict[str, tuple[float | None, float | None]]:
    return {
        f.name: f.metadata.get("range", (None, None)) for f in dataclasses.fields(PopulationConfig)
    }


def _population_values(
    cal: Calibration, cal_end: pd.Timestamp, recent_purchases: int
) -> dict[str, tuple[Any, str]]:
    """Fitted population settings with the comment that says where each comes from.

    `recent_purchases`: the transactions of the last RECENT_DAYS of calibration. Some of that
    quarter's first purchases are friends referred by those buyers, and the twin refers
    friends itself (`referral_propensity`, kept from the defaults): the newcomers it draws on
    top are the first purchases the referrals do not explain, or it would count them twice."""
    pn, gg = cal.fits["pareto_nbd"].params, cal.fits["gamma_gamma"].params
    n = len(cal.summary)
    firsts = int((cal.summary["first_purchase"] > cal_end - pd.Timedelta(days=RECENT_DAYS)).sum())
    referral = float(compose([]).population.referral_propensity)
    recent = max(firsts - referral * recent_purchases, 0.0)
    span = int((cal_end - cal.data_start).days) + 1
    values: dict[str, tuple[Any, str]] = {
        "purchase_r": (pn["r"], "Pareto/NBD r fitted on this store"),
        "purchase_alpha_days": (
            pn["alpha"] * WEEK,
            f"Pareto/NBD alpha = {pn['alpha']:.6g} weeks, x 7 days",
        ),
        "dropout_s": (pn["s"], "Pareto/NBD s fitted on this store"),
        "dropout_beta_days": (
            pn["beta"] * WEEK,
            f"Pareto/NBD beta = {pn['beta']:.6g} weeks, x 7 days",
        ),
        "spend_p": (gg["p"], "Gamma-Gamma p fitted on this store's repeat spend"),
        "spend_q": (gg["q"], "Gamma-Gamma q fitted on this store"),
        "spend_gamma": (gg["gamma"], "Gamma-Gamma gamma fitted on this store (currency units)"),
        "history_days": (
            span,
            "the export's first date to the calibration end: synthetic customers are "
            "acquired uniformly over it",
        ),
        "new_customers_per_year": (
            recent / n * 365 / RECENT_DAYS,
            f"first purchases in the last {RECENT_DAYS} days of calibration ({firsts}) less the "
            f"friends referral_propensity {referral:g} brings from its {recent_purchases} "
            "purchases, annualised, per customer (0 for a closed cohort)",
        ),
        "style_rate_exponent": (
            0,
            "0: the fitted rates already contain any style effect; a transaction export "
            "cannot identify one",
        ),
        "style_hazard_exponent": (0, "0: as above; the fitted Pareto/NBD has no style covariate"),
        "comeback_rate_per_year": (0, "0: the fitted Pareto/NBD's churn is permanent"),
    }
    if cal.items_mean is not None:
        values["items_mean"] = (cal.items_mean, "mean items per ticket in this store's export")
    ranges = _ranges()
    for key in list(values):  # in order: a shape before the scale it may rescale
        value, note = values[key]
        lo, hi = ranges.get(key, (None, None))
        clipped = min(max(value, lo if lo is not None else value), hi if hi is not None else value)
        if lo is not None and float(_number(clipped)) < lo:  # as written, six digits
            clipped = lo * (1 + 1e-5)
        if hi is not None and float(_number(clipped)) > hi:
            clipped = hi * (1 - 1e-5)
        if clipped == value:
            continue
        warn(
            f"population.{key}={value:.6g} from the fit is outside the simulator's "
            f"range: set to {clipped:.6g}"
        )
        values[key] = (clipped, f"{note} (clipped from {value:.6g} to the simulator's range)")
        scale, pole = MEAN_KEPT_BY.get(key, (None, 0.0))
        if scale is not None and value > pole:  # the partner moves: the mean stays as fitted
            fitted, scale_note = values[scale]
            rescaled = fitted * (clipped - pole) / (value - pole)
            values[scale] = (rescaled, f"{scale_note}, rescaled with {key} to keep the mean")
        elif scale is not None:
            warn(
                f"population.{key}={value:.6g} has no finite mean: synthetic customers will not "
                "match the export's average; the twin's follow each customer's own history"
            )
    return values


def _population_yaml(
    kind: str, values: dict[str, tuple[Any, str]], twin_file: Path | None, header: str
) -> str:
    """The default population file with the fitted values written in: every setting present,
    defaults (and their reasons) kept where the data says nothing."""
    base = resources.files("retail_sim_configs").joinpath("population/default.yaml").read_text()
    values = {
        **values,
        "kind": (
            kind,
            "synthetic: drawn from the fitted distributions"
            if kind == "synthetic"
            else "twin: the store's actual customers",
        ),
        "twin_file": (
            "null" if twin_file is None else json.dumps(str(twin_file)),
            "per-customer histories by row (no customer ids)"
            if twin_file
            else "only for kind: twin",
        ),
    }
    out = [f"# {line}" if line else "#" for line in header.splitlines()]
    pattern = re.compile(r"^(\s*)([A-Za-z_]\w*):\s*([^#\s][^#]*?)?\s*(#.*)?$")
    seen = set()
    for line in base.splitlines():
        if line.startswith("#"):
            continue  # the default file's header; ours replaces it
        m = pattern.match(line)
        if m and m.group(2) in values and m.group(3):
            indent, key = m.group(1), m.group(2)
            value, note = values[key]
            text = value if isinstance(value, str) else _number(value)
            code = f"{indent}{key}: {text}"
            column = line.index("#") if m.group(4) else 0  # keep the comments aligned
            line = f"{code.ljust(max(column, len(code) + 1))}# {note}"
            seen.add(key)
        out.append(line)
    unused = set(values) - seen
    if unused:
        raise AssertionError(f"population/default.yaml has no {sorted(unused)}")
    text = "\n".join(out) + "\n"
    # Complete and well-typed: every field of the schema, nothing unknown.
    merged = OmegaConf.merge(OmegaConf.structured(PopulationConfig), OmegaConf.create(text))
    if OmegaConf.missing_keys(merged):
        raise AssertionError(f"population file lacks {sorted(OmegaConf.missing_keys(merged))}")
    return text


def _store_yaml(name: str, start: dt.date, styles: list[str], mix: list[float]) -> str:
    lines = [
        "# Written by retail-sim-calibrate: the built-in default store (styles, margin, calendar,",
        "# staff), starting the day after the calibration end so that the twin's day 0 and the",
        "# calendar line up. Edit the margin, calendar and staff to match the store.",
        "defaults:",
        "  - default",
        "  - _self_",
        f"name: {json.dumps(name)}",
        f'start_date: "{start.isoformat()}"  # the day after the calibration end (day 0)',
    ]
    if styles:
        lines += [
            f"styles: {json.dumps(styles)}  # the export's style column",
            f"style_mix: [{', '.join(_number(v) for v in mix)}]  # share of calibration purchases",
        ]
    return "\n".join(lines) + "\n"


def _commands(out: Path, n: int, holdout_days: int | None) -> list[str]:
    """The commands a user copies (quoted for a POSIX shell)."""
    where = f"--config-dir {shlex.quote(str(out))}"
    lines = [
        "# (a) a synthetic population drawn from the fitted distributions:",
        f"retail-sim {where} population=synthetic store=calibrated customers={n} strategy=none",
        "# (b) the digital twin: these customers, from their own histories, under a strategy:",
        f"retail-sim {where} population=twin store=calibrated strategy=blanket",
    ]
    if holdout_days:
        lines += [
            "# the validation run (the fitted model alone, over the holdout period):",
            f"retail-sim {where} population=twin store=calibrated days={holdout_days} "
            + shlex.join(VALIDATION_OVERRIDES),
        ]
    return lines


def _readme(commands: list[str], holdout: bool) -> str:
    files = [
        "- fit.json: BG/NBD, Pareto/NBD (weeks) and Gamma-Gamma fits with standard errors",
        "- population/synthetic.yaml, population/twin.yaml: populations (rates per day)",
        "- twin.npz: each customer's recorded history by row (no customer ids)",
        "- store/calibrated.yaml: the default store starting the day after the calibration end",
    ]
    if holdout:
        files.append("- validation.json, validation.png: the twin against the actual holdout")
    return "\n".join(
        [
            "# Calibrated store",
            "",
            *files,
            "",
            "The twin file is found by its absolute path: calibrate again after moving "
            "this folder.",
            "",
            "```",
            *commands,
            "```",
            "",
        ]
    )


# --------------------------------------------------------------------------- validation


def _validate(
    cal: Calibration,
    tx: pd.DataFrame,
    stage: Path,
    cal_end: pd.Timestamp,
    hold_end: pd.Timestamp,
    seeds: list[int],
) -> dict[str, Any]:
    """Actual holdout transactions against the model's expectation and the twin's forecast."""
    from sim.simulate import simulate  # heavy: only with --holdout-end

    s = cal.summary
    x, t_x, T = s["x"].to_numpy(), s["t_x"].to_numpy(), s["T"].to_numpy()
    n = len(s)
    actual, weekly = holdout_counts(tx, cal_end, hold_end)
    days = int((hold_end - cal_end).days)
    pn, bg = cal.fits["pareto_nbd"].params, cal.fits["bgnbd"].params
    model = btyd.conditional_expected_transactions(pn, days / WEEK, x, t_x, T)
    bgnbd = btyd.conditional_expected_transactions(bg, days / WEEK, x, t_x, T)
    period_days = ((weekly["end"] - cal_end).dt.days).to_numpy()
    alive = btyd.probability_alive(pn, x, t_x, T)
    model_weekly = [float(np.sum(_pareto_expected(pn, d / WEEK, x, T, alive))) for d in period_days]

    overrides = [
        searchpath_override(stage),
        "population=twin",
        "store=calibrated",
        # quoted for Hydra, which reads no \u escapes: a folder named José stays José
        f"population.twin_file={json.dumps(str(stage / 'twin.npz'), ensure_ascii=False)}",
        f"days={days}",
        *VALIDATION_OVERRIDES,
    ]
    twin_counts, twin_weekly = [], []
    start = time.perf_counter()
    cfg = compose(overrides)
    for seed in seeds:
        cfg.seed = seed  # as the override seed=... would
        result = simulate(cfg)
        frame = result.model.ledger.transactions.frame()
        mine = frame[frame["customer"] < n]
        twin_counts.append(np.bincount(mine["customer"], minlength=n))
        day = np.sort(mine["day"].to_numpy())
        twin_weekly.append(np.searchsorted(day, period_days, side="left"))
    say(
        f"ran the twin {len(seeds)} times over {days} holdout days "
        f"({time.perf_counter() - start:.1f}s)"
    )
    twin_mean = np.mean(twin_counts, axis=0)
    totals = [int(c.sum()) for c in twin_counts]

    group = np.minimum(x, TABLE_X)
    table = []
    for g in range(TABLE_X + 1):
        sel = group == g
        k = int(sel.sum())
        table.append(
            {
                "x": f"{g}+" if g == TABLE_X else str(g),
                "customers": k,
                "actual": float(actual.to_numpy()[sel].mean()) if k else None,
                "model": float(model[sel].mean()) if k else None,
                "bgnbd": float(bgnbd[sel].mean()) if k else None,
                "twin": float(twin_mean[sel].mean()) if k else None,
            }
        )
    weekly_rows = [
        {
            "week": int(p),
            "end": str(e.date()),
            "actual": int(a),
            "model": m,
            "twin": float(t),
        }
        for p, e, a, m, t in zip(
            weekly["period"],
            weekly["end"],
            weekly["cumulative"],
            model_weekly,
            np.mean(twin_weekly, axis=0),
            strict=True,
        )
    ]
    return _plain(
        {
            "calibration_end": str(cal_end.date()),
            "holdout_start": str((cal_end + pd.Timedelta(days=1)).date()),
            "holdout_end": str(hold_end.date()),
            "holdout_days": days,
            "customers": n,
            "actual_holdout_transactions": int(actual.sum()),
            "model_expected_holdout_transactions": float(model.sum()),
            "model": "Pareto/NBD conditional expectation (the twin's model)",
            "bgnbd_expected_holdout_transactions": float(bgnbd.sum()),
            "simulated_holdout_transactions": float(np.mean(totals)),
            "simulated_runs": totals,
            "seeds": seeds,
            "run_overrides": [
                o for o in overrides if not o.startswith(("hydra.", "population.twin_file"))
            ],
            "by_calibration_purchases": table,
            "weekly_cumulative": weekly_rows,
            "figure": "validation.png",
        }
    )


def _pareto_expected(
    params: dict[str, float], t: float, x: np.ndarray, T: np.ndarray, alive: np.ndarray
) -> np.ndarray:
    """Pareto/NBD E[Y(t) | x, t_x, T] from a precomputed P(alive): the weekly curve would
    otherwise recompute P(alive) (hypergeometric functions) for every week."""
    r, alpha, s, beta = (params[k] for k in ("r", "alpha", "s", "beta"))
    rate = (r + x) * (beta + T) / (alpha + T)
    ratio = np.log1p(t / (beta + T))
    growth = ratio if abs(s - 1) < 1e-12 else -np.expm1(-(s - 1) * ratio) / (s - 1)
    return rate * growth * alive


def _figure(path: Path, validation: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    weekly = pd.DataFrame(validation["weekly_cumulative"])
    long = weekly.melt(id_vars="week", value_vars=["actual", "model", "twin"], var_name="series")
    table = pd.DataFrame(validation["by_calibration_purchases"])
    bars = table.melt(id_vars="x", value_vars=["actual", "model", "twin"], var_name="series")
    sns.set_theme(style="whitegrid")
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    sns.lineplot(data=long, x="week", y="value", hue="series", style="series", ax=left)
    left.set(
        xlabel=f"weeks after {validation['calibration_end']}",
        ylabel="cumulative repeat transactions",
        title="Holdout: actual, Pareto/NBD expectation, twin",
    )
    sns.barplot(data=bars, x="x", y="value", hue="series", ax=right)
    right.set(
        xlabel="transactions in the calibration period (x)",
        ylabel="mean holdout transactions per customer",
        title="Conditional expectations by calibration purchases",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _validation_lines(v: dict[str, Any]) -> list[str]:
    def num(x: float | None, spec: str) -> str:  # a fit that failed leaves no expectation
        return "n/a" if x is None else format(x, spec)

    lines = [
        f"holdout {v['holdout_start']} to {v['holdout_end']}: actual "
        f"{v['actual_holdout_transactions']}, Pareto/NBD expected "
        f"{num(v['model_expected_holdout_transactions'], '.1f')}, BG/NBD expected "
        f"{num(v['bgnbd_expected_holdout_transactions'], '.1f')}, twin "
        f"{num(v['simulated_holdout_transactions'], '.1f')} (runs {min(v['simulated_runs'])}-"
        f"{max(v['simulated_runs'])})",
        f"{'x':>4} {'customers':>9} {'actual':>7} {'model':>7} {'bgnbd':>7} {'twin':>7}",
    ]
    for row in v["by_calibration_purchases"]:
        if row["customers"]:
            lines.append(
                f"{row['x']:>4} {row['customers']:>9} {num(row['actual'], '>7.3f')} "
                f"{num(row['model'], '>7.3f')} {num(row['bgnbd'], '>7.3f')} "
                f"{num(row['twin'], '>7.3f')}"
            )
    return lines


# --------------------------------------------------------------------------- the command


TRUNCATION_RATIO = 1.5  # first-quarter first purchases this many times the later pace: warn


def _warn_if_cut_short(first: pd.Series, data_start: pd.Timestamp, cal_end: pd.Timestamp) -> None:
    """Warn when the export seems to start after many customers' first purchase: the fits
    take each customer's first row as her first purchase ever. A store that keeps acquiring
    customers shows a burst of "first" purchases in the export's first quarter (customers
    who were already there); a closed cohort such as CDNOW acquires no one later and is fine.
    In a test the burst took Pareto/NBD's s from 0.61 to 0.35 and the twin's holdout 10% high."""
    quarter = pd.Timedelta(days=RECENT_DAYS)
    later_quarters = (cal_end - data_start - quarter) / quarter
    if later_quarters < 1:
        return
    opening = int((first < data_start + quarter).sum())
    pace = int((first >= data_start + quarter).sum()) / later_quarters
    if pace > 0 and opening > TRUNCATION_RATIO * pace:
        warn(
            f"{opening} customers first appear in the export's first {RECENT_DAYS} days, "
            f"against {pace:.0f} per {RECENT_DAYS} days after: the export seems to start after "
            "many customers' first purchase, which biases the fits (they take a customer's "
            "first row as her first purchase); export each customer's whole history, or only "
            "customers whose first purchase falls inside the export"
        )


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")


def _check_seeds(seed: int, runs: int) -> None:
    """The twin runs' seeds, seed to seed + runs - 1, must be valid run seeds."""
    seed_field = next(f for f in dataclasses.fields(Config) if f.name == "seed")
    lowest, highest = seed_field.metadata["range"]
    if seed < lowest:
        raise ValueError(f"--seed {seed} must be at least {lowest}")
    if seed + runs - 1 > highest:
        raise ValueError(
            f"--seed {seed} with --twin-runs {runs} needs seeds up to {seed + runs - 1}, past "
            f"the largest, {highest}: choose a smaller --seed"
        )


def _check_out(out: Path, overwrite: bool, transactions: Path) -> None:
    """`--out` can be made, and `--overwrite` replaces only an earlier calibration's folder:
    the whole folder is replaced, so it must hold nothing else (not the export being read,
    not the folder the command runs in)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file: give a folder")
    problem = folder_problem(out)
    if problem:
        raise ValueError(f"--out {out} cannot be made: {problem}: give a folder you can write to")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        raise ValueError(
            f"--out {out} is not empty: choose a new folder or pass --overwrite to replace it"
        )
    for inside, what in ((transactions, "the transaction export"), (Path.cwd(), "this folder")):
        if inside.resolve().is_relative_to(out):
            raise ValueError(
                f"--out {out} holds {what}, which --overwrite would delete: choose a new folder"
            )
    foreign = sorted(p.name for p in out.iterdir() if p.name not in OUTPUTS)
    if foreign:
        raise ValueError(
            f"--out {out} holds {foreign[0]}, which retail-sim-calibrate did not write: "
            "--overwrite replaces only an earlier calibration's folder; choose a new folder"
        )


def _umask() -> int:
    """The process's umask (reading it means setting it: it is put straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _commit(stage: Path, out: Path) -> None:
    """Move the finished outputs into place (a rename: never half a folder)."""
    if out.is_dir() and any(out.iterdir()):
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
        os.replace(out, old / out.name)
        os.replace(stage, out)
        shutil.rmtree(old)
    else:
        os.replace(stage, out)  # replaces an empty folder


def calibrate(args: argparse.Namespace) -> Path:
    """Run the whole calibration; returns the output folder."""
    cal_end = _date(args.calibration_end, "--calibration-end")
    hold_end = None if args.holdout_end is None else _date(args.holdout_end, "--holdout-end")
    if hold_end is not None and hold_end <= cal_end:
        raise ValueError(
            f"--holdout-end {hold_end.date()} must be after --calibration-end {cal_end.date()}"
        )
    if hold_end is not None and (hold_end - cal_end).days > MAX_DAYS:
        raise ValueError(
            f"--holdout-end {hold_end.date()} is more than {MAX_DAYS:,} days after "
            f"--calibration-end {cal_end.date()}, the longest run the simulator makes"
        )
    seed = SEED if args.seed is None else args.seed
    runs = TWIN_RUNS if args.twin_runs is None else args.twin_runs
    if runs < 1:
        raise ValueError("--twin-runs must be at least 1")
    _check_seeds(seed, runs)
    out = args.out.expanduser().resolve()
    _check_out(out, args.overwrite, args.transactions.expanduser())

    start = time.perf_counter()
    tx, report = _read(args)
    for line in report.lines():
        say(line)
    if tx.empty:  # every row a return
        raise TransactionDataError(
            f"{args.transactions}: no purchases are left once returns are "
            "taken out: the export needs rows with a positive amount"
        )
    # Customer ids end here: rows are numbered in id order (as summarise numbers them), and
    # integer codes make the per-customer grouping several times faster than strings.
    tx["customer_id"] = pd.factorize(tx["customer_id"], sort=True)[0]
    _check_window(tx, args, cal_end, hold_end)
    summary = summarise(tx, cal_end)
    later = summary.attrs["excluded_first_purchase_after_calibration"]
    if later:
        say(
            f"left out {later} customers whose first purchase is after the calibration end "
            "(they are the holdout period's newcomers, not part of the fit or the twin)"
        )
    _warn_if_cut_short(summary["first_purchase"], tx["date"].min(), cal_end)
    single = int((summary["x"] == 0).sum())
    say(
        f"calibration: {len(summary)} customers to {cal_end.date()}, {len(summary) - single} "
        f"repeat buyers, {single} bought on a single day (x = 0: in the fits, not in the spend "
        "model)"
    )
    history, styles, mix, items_mean = _per_customer(tx, summary, cal_end)
    cal = Calibration(summary, history, styles, mix, items_mean, tx["date"].min(), _fit(summary))

    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    stage.chmod(0o777 & ~_umask())  # mkdtemp's 0700 would hide the calibration from the team
    try:
        (stage / "population").mkdir()
        (stage / "store").mkdir()
        _write_json(stage / "fit.json", _fit_json(cal, report, cal_end))
        recent = (tx["date"] > cal_end - pd.Timedelta(days=RECENT_DAYS)) & (tx["date"] <= cal_end)
        values = _population_values(cal, cal_end, int(recent.sum()))
        header = (
            f"Written by retail-sim-calibrate from {args.transactions.name}, calibration end "
            f"{cal_end.date()}.\nPareto/NBD and Gamma-Gamma as fitted (fit.json, weeks), "
            "converted to days; settings a transaction\nexport cannot inform keep the "
            "defaults of configs/population/default.yaml."
        )
        for kind in ("synthetic", "twin"):
            twin_file = out / "twin.npz" if kind == "twin" else None
            text = _population_yaml(kind, values, twin_file, header)
            (stage / "population" / f"{kind}.yaml").write_text(text)
        day0 = history.start_date
        (stage / "store" / "calibrated.yaml").write_text(
            _store_yaml(f"{out.name} (calibrated)", day0, styles, mix)
        )
        save_twin(stage / "twin.npz", history)
        holdout_days = None
        if hold_end is not None:
            validation = _validate(
                cal, tx, stage, cal_end, hold_end, list(range(seed, seed + runs))
            )
            holdout_days = validation["holdout_days"]
            _write_json(stage / "validation.json", validation)
            _figure(stage / "validation.png", validation)
            for line in _validation_lines(validation):
                say(line)
        commands = _commands(out, len(summary), holdout_days)
        (stage / "README.md").write_text(_readme(commands, hold_end is not None))
        _commit(stage, out)
    finally:
        if stage.exists():
            shutil.rmtree(stage)
    say(f"wrote {out} in {time.perf_counter() - start:.1f}s; to simulate:")
    for line in commands:
        say(line)
    return out


def main(argv: list[str] | None = None) -> None:
    with exit_on_user_error(PROG):
        calibrate(_parse(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
