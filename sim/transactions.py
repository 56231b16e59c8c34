"""Read a store's transaction export and summarise it the way buy-till-you-die models need.

BTYD models (BG/NBD, Pareto/NBD, Gamma-Gamma) see a customer's history only through purchase
*occasions*: a customer's purchases on one day are one transaction. The loaders therefore clean
an export into one row per customer-day and account for every change in a `CleaningReport`,
so that nothing is altered silently:

* exact duplicate rows are dropped (an export without an order id cannot tell a double-written
  row from two identical orders; `load_cdnow` keeps them, see there);
* negative amounts are returns: netted against the same customer's purchases on the same day;
  a return with no same-day purchase is not a purchase occasion and is dropped; a day whose
  returns exceed its purchases stays a purchase occasion with zero spend; a return's items are
  not counted (they may be negative or fractional), a purchase's must be a whole number, not
  negative;
* zero-amount rows stay purchase occasions (the models count visits that bought something,
  e.g. a free item) but `summarise` leaves zero-spend transactions out of the spend model;
* several rows of one customer on one day merge into one transaction (amounts and items summed).

Bad input stops with a one-line `TransactionDataError` naming the problem, the first offending
file lines (1-based, the header is line 1) and how to fix it.

`summarise` turns transactions into the per-customer (x, t_x, T, monetary) statistics, with
rows numbered 0..n-1: customer ids never leave this module.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "CleaningReport",
    "TransactionDataError",
    "holdout_counts",
    "load_cdnow",
    "load_transactions",
    "parse_dates",
    "summarise",
]

DateLike = str | dt.date | pd.Timestamp

_SHOW_LINES = 5  # offending lines quoted in an error message
_UTC_OFFSET = r"(Z|[+-]\d\d(?::?\d\d)?)\s*$"  # at the end of a date-time, e.g. +02:00
_SNIFF_BYTES = 8192  # how much of a file is looked at to tell a text export from a binary one

# File signatures of what gets exported or renamed in place of a CSV file: (what it is, fix).
_NOT_CSV = {
    b"\x1f\x8b": ("a gzip archive", "unpack it, or export the transactions as CSV"),
    b"PK\x03\x04": ("a zip archive or an Excel workbook", "export the transactions as CSV"),
    b"\xd0\xcf\x11\xe0": ("an Excel .xls workbook", "export the transactions as CSV"),
    b"\x89PNG": ("a PNG image", "export the transactions as CSV"),
    b"%PDF": ("a PDF document", "export the transactions as CSV"),
}


class TransactionDataError(ValueError):
    """The export cannot be read as transactions; the message says where and how to fix it."""


@dataclass(frozen=True)
class CleaningReport:
    """What cleaning did to an export, so that every dropped or merged row is accounted for.

    `merged_rows` counts rows folded into another row of the same customer-day (purchases
    and netted returns alike): rows on purchase days minus the transactions they became.
    """

    source: str
    rows_read: int
    blank_lines: int
    duplicates_dropped: int
    returns_netted: int
    returns_unmatched_dropped: int
    days_returns_exceed_purchases: int
    merged_rows: int
    zero_amount_transactions: int
    transactions: int
    customers: int

    def lines(self) -> list[str]:
        """Human-readable account of the cleaning, one fact per line."""
        out = [f"read {self.rows_read} rows from {self.source}"]
        if self.blank_lines:
            out.append(f"skipped {self.blank_lines} blank lines")
        if self.duplicates_dropped:
            out.append(f"dropped {self.duplicates_dropped} exact duplicate rows")
        if self.returns_netted:
            out.append(
                f"netted {self.returns_netted} return rows (negative amounts) against "
                "same-day purchases"
            )
        if self.returns_unmatched_dropped:
            out.append(
                f"dropped {self.returns_unmatched_dropped} return rows with no same-day "
                "purchase (a return is not a purchase occasion)"
            )
        if self.days_returns_exceed_purchases:
            out.append(
                f"{self.days_returns_exceed_purchases} days had returns exceeding purchases; "
                "kept as purchase occasions with zero spend"
            )
        out.append(
            f"merged {self.merged_rows} same-day rows into the {self.transactions} "
            "transactions (one per customer and day)"
        )
        if self.zero_amount_transactions:
            out.append(
                f"kept {self.zero_amount_transactions} zero-amount transactions as purchase "
                "occasions; they are left out of the spend model"
            )
        out.append(f"{self.transactions} transactions by {self.customers} customers")
        return out


def load_transactions(
    path: str | Path,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str = "amount",
    items_col: str | None = None,
    style_col: str | None = None,
    date_format: str | None = None,
) -> tuple[pd.DataFrame, CleaningReport]:
    """Read a comma-separated export with a header row into one transaction per customer-day.

    Dates are parsed as ISO 8601 unless `date_format` (a strptime format such as "%d/%m/%Y")
    is given: guessing between day-first and month-first would silently corrupt the data.
    Times of day and UTC offsets are dropped (`parse_dates`). Returns columns customer_id
    (str), date (datetime64, midnight), amount, plus items (summed over the day's purchase
    rows) when `items_col` is given and style (the day's distinct styles joined by "|") when
    `style_col` is given; sorted by customer and date.
    """
    path = Path(path)
    if date_format is not None:
        parse_dates(pd.Series(["2000-01-01"]), date_format)  # a bad format stops before reading
    header = next((line for line in _text_head(path).splitlines() if line.strip()), b"")
    other = next((sep for sep in (b";", b"\t", b"|") if sep in header), None)
    if other is not None and b"," not in header:  # a European export: 56,37 breaks the rows
        name = {b";": "semicolon", b"\t": "tab", b"|": "pipe"}[other]
        raise TransactionDataError(
            f"{path}: the file looks {name} separated, not comma separated: save it as CSV "
            "with commas between fields and a point for decimals (56.37)"
        )
    try:
        raw = _read_csv(
            path,
            first_line=2,
            layout="the header {expected}: fix the row, or quote a field that contains a comma",
            skip_blank_lines=False,
            encoding="utf-8-sig",
        )
    except pd.errors.EmptyDataError:
        raise TransactionDataError(
            f"{path} is empty: export the transactions with a header row "
            f"({customer_col},{date_col},{amount_col}) and one row per purchase"
        ) from None
    wanted = {"customer": customer_col, "date": date_col, "amount": amount_col}
    if items_col is not None:
        wanted["items"] = items_col
    if style_col is not None:
        wanted["style"] = style_col
    missing = [col for col in wanted.values() if col not in raw.columns]
    if missing:
        found = ", ".join(repr(c) for c in raw.columns)
        hint = (
            "name yours with --customer-col, --date-col, --amount-col (--items-col, "
            "--style-col), or customer_col= etc. from Python"
        )
        if len(raw.columns) == 1 and len(raw.columns[0].split()) == 5:
            hint = "the file looks like the CDNOW file: pass --format cdnow (or use load_cdnow)"
        raise TransactionDataError(
            f"{path}: missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"columns found: {found}; {hint}"
        )
    return _clean(
        raw, wanted, source=str(path), first_line=2, date_format=date_format, drop_duplicates=True
    )


def load_cdnow(path: str | Path) -> tuple[pd.DataFrame, CleaningReport]:
    """Read the CDNOW research file (whitespace separated, no header) like `load_transactions`.

    Columns in the file: customer id, sample id, date YYYYMMDD, number of CDs, dollar amount.
    Exact duplicate rows are kept here: the file has no order id, its 21 identical rows are
    plausibly repeat orders, and the published fits (Fader, Hardie & Lee 2005) count them.
    """
    path = Path(path)
    # The mirror of load_transactions' CDNOW hint: split on whitespace, a CSV export's rows
    # become garbled fields, and the errors would be about dates or field counts.
    lines = enumerate(_text_head(path).splitlines(), 1)
    number, first = next(((n, line) for n, line in lines if line.strip()), (0, b""))
    if b"," in first:
        raise TransactionDataError(
            f"{path}: the file looks like a comma-separated CSV (line {number} has commas), not "
            "the CDNOW file (whitespace separated: id, sample id, YYYYMMDD, CDs, dollars): pass "
            "--format csv (or use load_transactions)"
        )
    try:
        raw = _read_csv(
            path,
            first_line=1,
            layout="a CDNOW row has {expected} (id, sample id, YYYYMMDD, CDs, dollars): fix it",
            sep=r"\s+",
            header=None,
            names=["customer", "sample", "date", "items", "amount"],
            skip_blank_lines=False,  # kept, then dropped in _clean: errors name the file's lines
        )
    except pd.errors.EmptyDataError:
        raise TransactionDataError(
            f"{path} is empty: expected the CDNOW file (id, sample id, YYYYMMDD, CDs, dollars)"
        ) from None
    wanted = {"customer": "customer", "date": "date", "amount": "amount", "items": "items"}
    return _clean(
        raw, wanted, source=str(path), first_line=1, date_format="%Y%m%d", drop_duplicates=False
    )


def parse_dates(text: pd.Series, date_format: str | None = None) -> pd.Series:
    """Date-times as written (NaT where unparsable), ISO 8601 unless `date_format` is given.

    A UTC offset is dropped, not applied: a purchase keeps the day the customer saw, also in
    an export whose offsets change with summer time.
    """
    fmt = "ISO8601" if date_format is None else date_format
    try:
        return _wall_clock(pd.to_datetime(text, format=fmt, errors="coerce"))
    except ValueError as exc:
        if "Mixed timezones" not in str(exc):
            raise TransactionDataError(
                f"--date-format {date_format!r} (date_format= from Python) is not a date "
                f"format ({exc}): write it with strptime codes, e.g. '%d/%m/%Y'"
            ) from None
    # pandas parses one offset at a time: rows are grouped by how their text ends.
    ending = text.str.extract(_UTC_OFFSET, expand=False).fillna("")
    parts = [
        _wall_clock(pd.to_datetime(group, format=fmt, errors="coerce"))
        for _, group in text.groupby(ending)
    ]
    return pd.concat(parts).reindex(text.index)


def _wall_clock(date: pd.Series) -> pd.Series:
    return date.dt.tz_localize(None) if date.dt.tz is not None else date


def _text_head(path: Path) -> bytes:
    """The file's first bytes, or stop on what gets exported or renamed in place of a CSV."""
    with path.open("rb") as file:
        head = file.read(_SNIFF_BYTES)
    for signature, (kind, fix) in _NOT_CSV.items():
        if head.startswith(signature):
            raise TransactionDataError(f"{path} is not a text CSV file (it is {kind}): {fix}")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # a byte order mark
        raise TransactionDataError(f"{path} is UTF-16 text: save the export as CSV UTF-8")
    if b"\0" in head:
        raise TransactionDataError(
            f"{path} is not a text CSV file (it holds binary data): export the transactions as CSV"
        )
    return head


def _read_csv(path: Path, first_line: int, layout: str, **options) -> pd.DataFrame:
    """pd.read_csv as text, its tokenizer and codec errors said in the export's terms.

    `layout` completes "line 7 has 5 fields, ..." with the expected number ({expected}) and
    the fix; `first_line` is the file line of the first data row.
    """
    _text_head(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, **options)
    except UnicodeDecodeError:
        line, byte = _first_non_utf8(path)
        raise TransactionDataError(
            f"{path}: line {line} is not UTF-8 text (byte 0x{byte:02x}): save the export as "
            "CSV UTF-8"
        ) from None
    except pd.errors.ParserError as exc:
        raise TransactionDataError(f"{path}: {_tokenizer_problem(str(exc), layout)}") from None
    if not isinstance(raw.index, pd.RangeIndex):
        # pandas turns surplus fields of the first data row into an index, shifting every column
        fields = raw.index.nlevels + len(raw.columns)
        expected = layout.format(expected=len(raw.columns))
        raise TransactionDataError(f"{path}: line {first_line} has {fields} fields, {expected}")
    return raw


def _first_non_utf8(path: Path) -> tuple[int, int]:
    """The file line (1-based) and the first byte that is not UTF-8 text."""
    with path.open("rb") as file:
        for number, line in enumerate(file, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return number, line[exc.start]
    raise AssertionError(f"{path} decodes as UTF-8 line by line")


def _tokenizer_problem(message: str, layout: str) -> str:
    """pandas' "Error tokenizing data. C error: ..." in the export's terms."""
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if fields:
        expected, line, saw = fields.groups()
        return f"line {line} has {saw} fields, {layout.format(expected=expected)}"
    quote = re.search(r"EOF inside string starting at row (\d+)", message)
    if quote:  # rows counted from 0
        return (
            f'the quote (") opened on line {int(quote.group(1)) + 1} is never closed: close '
            "it, or remove the stray quote"
        )
    detail = message.split("C error: ")[-1].strip().rstrip(".")
    return f"not a well-formed CSV file ({detail}): export the transactions as CSV again"


def _lines_at(lines: np.ndarray, mask: np.ndarray) -> str:
    """'lines 3, 7, 9, 10, 11 and 12 more': the file lines of the rows flagged in mask."""
    rows = lines[mask]
    shown = ", ".join(str(r) for r in rows[:_SHOW_LINES])
    more = f" and {len(rows) - _SHOW_LINES} more" if len(rows) > _SHOW_LINES else ""
    return f"line{'s' if len(rows) > 1 else ''} {shown}{more}"


# no row of a clothing export is this large in any currency (a million dollars is about
# 25 billion in the currencies with the smallest units): a larger one is a broken row
MAX_AMOUNT = 1e12


def _parse_number(text: pd.Series, col: str, source: str, lines: np.ndarray) -> np.ndarray:
    """Parse a column as numbers or stop naming the offending lines."""
    value = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(value)
    if bad.any():
        raise TransactionDataError(
            f"{source}: missing or non-numeric values in column {col!r} at "
            f"{_lines_at(lines, bad)} (e.g. {text[bad].iloc[0]!r}); write plain numbers with "
            "a decimal point and no currency symbol or thousands separator"
        )
    return value


def _clean(
    raw: pd.DataFrame,
    wanted: dict[str, str],
    source: str,
    first_line: int,
    date_format: str | None,
    drop_duplicates: bool,
) -> tuple[pd.DataFrame, CleaningReport]:
    """Validate, de-duplicate, net returns and merge same-day rows (see the module docstring)."""
    raw = raw.apply(lambda col: col.str.strip())
    blank = (raw == "").all(axis=1).to_numpy()
    # Keep the file line of every row so that errors point into the file the user has open.
    lines = np.arange(len(raw)) + first_line
    raw, lines = raw[~blank], lines[~blank]
    if raw.empty:
        raise TransactionDataError(
            f"{source} has no data rows: export at least one transaction below the header"
        )

    customer = raw[wanted["customer"]]
    no_id = (customer == "").to_numpy()
    if no_id.any():
        raise TransactionDataError(
            f"{source}: missing customer id in column {wanted['customer']!r} at "
            f"{_lines_at(lines, no_id)}; drop anonymous sales or give them an id"
        )

    text = raw[wanted["date"]]
    date = parse_dates(text, date_format)
    bad = date.isna().to_numpy()
    if bad.any():
        hint = (
            "fix them, or pass --date-format (date_format= from Python; e.g. '%d/%m/%Y') if "
            "the file's dates are not ISO 8601 (YYYY-MM-DD)"
            if date_format is None
            else f"fix them to match the date format {date_format!r}"
        )
        raise TransactionDataError(
            f"{source}: unparsable dates in column {wanted['date']!r} at "
            f"{_lines_at(lines, bad)} (e.g. {text[bad].iloc[0]!r}); {hint}"
        )

    numbers = {
        key: _parse_number(raw[wanted[key]], wanted[key], source, lines)
        for key in ("amount", "items")
        if key in wanted
    }
    huge = np.abs(numbers["amount"]) > MAX_AMOUNT
    if huge.any():  # 1e300 overflowed the spend fit into warnings and a meaningless result
        raise TransactionDataError(
            f"{source}: amounts beyond any purchase (over {MAX_AMOUNT:,.0f}) in column "
            f"{wanted['amount']!r} at {_lines_at(lines, huge)} (e.g. "
            f"{raw[wanted['amount']][huge].iloc[0]!r}): fix the rows, or check that the column "
            "holds the amount paid"
        )
    if "items" in numbers:
        bought = numbers["items"][numbers["amount"] >= 0]
        if not (bought >= 1).any():  # else the attach rate was dropped without a word
            raise TransactionDataError(
                f"{source}: column {wanted['items']!r} has no purchase of 1 or more items: "
                "check that it holds the items bought, or leave the items column out"
            )
        # A return row's items are not counted (only purchases are): they may be negative.
        bad = (numbers["items"] < 0) & (numbers["amount"] >= 0)
        if bad.any():
            raise TransactionDataError(
                f"{source}: negative item counts in column {wanted['items']!r} at "
                f"{_lines_at(lines, bad)} (e.g. {raw[wanted['items']][bad].iloc[0]!r}) on rows "
                "that are not returns: give the items bought; a return has a negative amount"
            )
        # Items are counted whole (the attach rate, each twin customer's items): 2.5 would be
        # rounded silently. A whole float such as 2.0 is a count.
        bad = (numbers["items"] % 1 != 0) & (numbers["amount"] >= 0)
        if bad.any():
            raise TransactionDataError(
                f"{source}: fractional item counts in column {wanted['items']!r} at "
                f"{_lines_at(lines, bad)} (e.g. {raw[wanted['items']][bad].iloc[0]!r}) on rows "
                "that are not returns: give the number of items bought, a whole number"
            )

    rows_read = int(len(raw) + blank.sum())
    dup = raw.duplicated().to_numpy() if drop_duplicates else np.zeros(len(raw), dtype=bool)
    frame = pd.DataFrame(
        {
            "customer_id": customer.to_numpy(),
            "date": date.dt.normalize().to_numpy(),
            "amount": numbers["amount"],
        }
    )
    if "items" in numbers:
        frame["items"] = numbers["items"]
    if "style" in wanted:
        frame["style"] = raw[wanted["style"]].to_numpy()
    frame = frame[~dup]

    is_return = frame["amount"] < 0
    day_keys = ["customer_id", "date"]
    purchase_days = frame.loc[~is_return, day_keys].drop_duplicates()
    on_purchase_day = (
        frame[day_keys].merge(purchase_days, how="left", on=day_keys, indicator=True)["_merge"]
        == "both"
    ).to_numpy()
    returns_unmatched = int((is_return.to_numpy() & ~on_purchase_day).sum())
    frame = frame[on_purchase_day]
    purchases = frame[frame["amount"] >= 0]

    grouped = frame.groupby(day_keys, sort=True)
    out = grouped["amount"].sum().to_frame()
    if "items" in frame:
        out["items"] = purchases.groupby(day_keys, sort=True)["items"].sum()
    if "style" in frame:
        out["style"] = purchases.groupby(day_keys, sort=True)["style"].agg(
            lambda s: "|".join(sorted(set(s) - {""}))
        )
    negative_days = int((out["amount"] < 0).sum())
    out["amount"] = out["amount"].clip(lower=0.0)
    out = out.reset_index()

    report = CleaningReport(
        source=source,
        rows_read=rows_read,
        blank_lines=int(blank.sum()),
        duplicates_dropped=int(dup.sum()),
        returns_netted=int((frame["amount"] < 0).sum()),
        returns_unmatched_dropped=returns_unmatched,
        days_returns_exceed_purchases=negative_days,
        merged_rows=len(frame) - len(out),
        zero_amount_transactions=int((out["amount"] == 0).sum()),
        transactions=len(out),
        customers=int(out["customer_id"].nunique()),
    )
    return out, report


def _customer_days(transactions: pd.DataFrame) -> pd.DataFrame:
    """One row per customer and day, so summaries count occasions even on unmerged input."""
    days = transactions.assign(date=pd.to_datetime(transactions["date"]).dt.normalize())
    return days.groupby(["customer_id", "date"], sort=True, as_index=False)["amount"].sum()


def _cohort(
    days: pd.DataFrame, calibration_end: pd.Timestamp, observation_start: pd.Timestamp | None
) -> tuple[pd.Series, dict[str, int]]:
    """First purchase of each summarised customer (sorted by id) and who was left out, why."""
    first = days.groupby("customer_id", sort=True)["date"].min()
    after = first > calibration_end
    before = (
        first < observation_start
        if observation_start is not None
        else pd.Series(False, index=first.index)
    )
    excluded = {
        "excluded_first_purchase_after_calibration": int(after.sum()),
        "excluded_first_purchase_before_observation_start": int(before.sum()),
    }
    return first[~after & ~before], excluded


def summarise(
    transactions: pd.DataFrame,
    calibration_end: DateLike,
    observation_start: DateLike | None = None,
    time_unit_days: float = 7,
) -> pd.DataFrame:
    """Per-customer BTYD statistics for the calibration period, one row per customer (0..n-1).

    Conventions of Fader, Hardie & Lee (2005), times in units of `time_unit_days` (weeks):
    x = distinct purchase days in the calibration period minus one (repeat transactions);
    t_x = time from the first purchase to the last calibration purchase (0 when x = 0);
    T = time from the first purchase to the calibration_end date (purchases on that date are
    in the calibration period, so t_x <= T); monetary = mean spend of the repeat transactions
    with positive spend (the first purchase is excluded, as in the Gamma-Gamma model; NaN
    without any), x_spend = their number, which is the x of the spend model.

    Customers whose first purchase is after calibration_end are excluded, and with
    observation_start also those whose first purchase precedes it (their true first purchase
    may predate the export). The counts are in `attrs`. Rows follow the sorted customer ids,
    but the ids themselves are not in the output.
    """
    cal_end = pd.Timestamp(calibration_end).normalize()
    obs_start = None if observation_start is None else pd.Timestamp(observation_start).normalize()
    days = _customer_days(transactions)
    first, excluded = _cohort(days, cal_end, obs_start)
    cal = days[(days["date"] <= cal_end) & days["customer_id"].isin(first.index)]
    cal = cal.assign(first=cal["customer_id"].map(first))
    repeat = cal[(cal["date"] > cal["first"]) & (cal["amount"] > 0)]
    per = cal.groupby("customer_id", sort=True).agg(n=("date", "size"), last=("date", "max"))
    spend = repeat.groupby("customer_id", sort=True)["amount"].agg(["size", "mean"])
    spend = spend.reindex(first.index)
    unit = pd.Timedelta(days=time_unit_days)
    out = pd.DataFrame(
        {
            "x": (per["n"] - 1).to_numpy(dtype=np.int64),
            "t_x": ((per["last"] - first) / unit).to_numpy(dtype=float),
            "T": ((cal_end - first) / unit).to_numpy(dtype=float),
            "monetary": spend["mean"].to_numpy(dtype=float),
            "x_spend": spend["size"].fillna(0).to_numpy(dtype=np.int64),
            "first_purchase": first.to_numpy(),
        }
    )
    out.attrs.update(excluded, time_unit_days=time_unit_days)
    return out


def holdout_counts(
    transactions: pd.DataFrame,
    calibration_end: DateLike,
    holdout_end: DateLike,
    observation_start: DateLike | None = None,
    time_unit_days: float = 7,
) -> tuple[pd.Series, pd.DataFrame]:
    """Holdout-period transactions of the customers `summarise` keeps, in the same row order.

    The holdout runs from the day after calibration_end to holdout_end inclusive. Returns the
    per-customer counts (a Series named x_holdout, index 0..n-1 aligned with the summary) and
    a frame with, for each period of `time_unit_days` (the last may be shorter), its end date
    and the cumulative number of holdout transactions by then, for the tracking figure.
    """
    cal_end = pd.Timestamp(calibration_end).normalize()
    hold_end = pd.Timestamp(holdout_end).normalize()
    if hold_end <= cal_end:
        raise ValueError(f"holdout_end {hold_end.date()} must be after calibration_end")
    obs_start = None if observation_start is None else pd.Timestamp(observation_start).normalize()
    days = _customer_days(transactions)
    first, _ = _cohort(days, cal_end, obs_start)
    in_holdout = (days["date"] > cal_end) & (days["date"] <= hold_end)
    hold = days[in_holdout & days["customer_id"].isin(first.index)]
    counts = hold.groupby("customer_id", sort=True).size().reindex(first.index, fill_value=0)
    per_customer = pd.Series(counts.to_numpy(dtype=np.int64), name="x_holdout")

    unit = pd.Timedelta(days=time_unit_days)
    n_periods = math.ceil((hold_end - cal_end) / unit)
    ends = [min(cal_end + k * unit, hold_end) for k in range(1, n_periods + 1)]
    dates = np.sort(hold["date"].to_numpy())
    cumulative = np.searchsorted(dates, np.array(ends, dtype="datetime64[ns]"), side="right")
    weekly = pd.DataFrame(
        {"period": np.arange(1, n_periods + 1), "end": ends, "cumulative": cumulative}
    )
    return per_customer, weekly
