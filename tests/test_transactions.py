"""Reading transaction exports: documented cleaning, one-line errors, BTYD summaries."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.transactions import (
    TransactionDataError,
    holdout_counts,
    load_cdnow,
    load_transactions,
    summarise,
)


def _csv(tmp_path: Path, text: str, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(path: Path, **kwargs) -> str:
    with pytest.raises(TransactionDataError) as info:
        load_transactions(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- errors


def test_empty_file_is_refused(tmp_path):
    assert "is empty" in _error(_csv(tmp_path, ""))


def test_header_without_rows_is_refused(tmp_path):
    assert "no data rows" in _error(_csv(tmp_path, "customer_id,date,amount\n"))


def test_missing_columns_are_named_with_the_columns_found(tmp_path):
    path = _csv(tmp_path, "client,date,total\nA,2021-01-01,10\n")
    message = _error(path)
    assert "missing column(s) 'customer_id', 'amount'" in message
    assert "--customer-col" in message  # the command's own option, not a Python keyword
    assert "columns found: 'client', 'date', 'total'" in message
    assert "customer_col=" in message
    frame, _ = load_transactions(path, customer_col="client", amount_col="total")
    assert frame["amount"].tolist() == [10.0]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("customer_id;date;amount\nA;2021-01-01;10\n", "semicolon"),
        # decimal commas: the rows split into more fields than the header, which was named
        ("customer_id;date;amount\nA;01/01/2025;56,37\n", "semicolon"),
        ("customer_id\tdate\tamount\nA\t2021-01-01\t56,37\n", "tab"),
    ],
)
def test_an_export_not_comma_separated_gets_a_separator_hint(tmp_path, text, kind):
    message = _error(_csv(tmp_path, text))
    assert f"looks {kind} separated, not comma separated" in message
    assert "a point for decimals" in message


def test_the_cdnow_file_read_as_csv_gets_a_format_hint(tmp_path):
    message = _error(
        _csv(tmp_path, " 00001 0001 19970101  1  11.77\n 00002 0001 19970112  1  12.00\n")
    )
    assert "the file looks like the CDNOW file: pass --format cdnow" in message


def test_a_csv_file_read_as_cdnow_gets_a_format_hint(tmp_path):
    path = _csv(tmp_path, "\ncustomer id,date,amount\nA,2021-01-01,10\n", "cd.txt")
    with pytest.raises(TransactionDataError) as info:
        load_cdnow(path)
    assert str(info.value) == (
        f"{path}: the file looks like a comma-separated CSV (line 2 has commas), not the "
        "CDNOW file (whitespace separated: id, sample id, YYYYMMDD, CDs, dollars): pass "
        "--format csv (or use load_transactions)"
    )


def test_unparsable_dates_name_file_lines(tmp_path):
    text = "customer_id,date,amount\nA,2021-01-01,10\nA,2021-13-01,5\nB,2021-01-02,3\nB,2/1/21,4\n"
    message = _error(_csv(tmp_path, text))
    assert "unparsable dates in column 'date' at lines 3, 5" in message
    assert "'2021-13-01'" in message
    assert "--date-format" in message and "date_format=" in message  # the CLI's and Python's


def test_date_format_reads_day_first_dates(tmp_path):
    text = "customer_id,date,amount\nA,02/01/2021,10\nA,13/01/2021,5\n"
    assert "lines 2, 3" in _error(_csv(tmp_path, text))  # ISO 8601 unless told otherwise
    frame, _ = load_transactions(_csv(tmp_path, text), date_format="%d/%m/%Y")
    assert frame["date"].tolist() == [pd.Timestamp("2021-01-02"), pd.Timestamp("2021-01-13")]


def test_a_bad_date_format_stops_before_the_file_is_read(tmp_path):
    message = _error(tmp_path / "not_there.csv", date_format="%Q")
    assert "--date-format '%Q' (date_format= from Python) is not a date format" in message
    assert "e.g. '%d/%m/%Y'" in message


def test_utc_offsets_are_dropped_even_when_they_change_with_summer_time(tmp_path):
    text = (
        "customer_id,date,amount\n"
        "A,2021-01-03T23:30:00+01:00,10\n"  # winter time
        "A,2021-06-03T00:30:00+02:00,5\n"  # summer time: the local day, not UTC's June 2
        "B,2021-01-04,3\n"  # no offset
        "B,2021-01-05T10:00:00Z,3\n"
    )
    frame, _ = load_transactions(_csv(tmp_path, text))
    days = ["2021-01-03", "2021-06-03", "2021-01-04", "2021-01-05"]
    assert frame["date"].tolist() == [pd.Timestamp(day) for day in days]


def test_non_numeric_amounts_name_file_lines(tmp_path):
    text = 'customer_id,date,amount\nA,2021-01-01,10\nA,2021-01-02,"12,50"\nB,2021-01-02,$4\n'
    message = _error(_csv(tmp_path, text))
    assert "non-numeric values in column 'amount' at lines 3, 4" in message
    assert "'12,50'" in message


def test_negative_items_are_refused_unless_the_row_is_a_return(tmp_path):
    text = (
        "customer_id,date,amount,qty\n"
        "A,2021-01-01,50,2\n"
        "A,2021-01-01,-20,-1\n"  # a return: its items are not counted
        "B,2021-01-02,10,-3\n"
        "B,2021-01-03,0,-1\n"
    )
    message = _error(_csv(tmp_path, text), items_col="qty")
    assert "negative item counts in column 'qty' at lines 4, 5 (e.g. '-3')" in message
    assert "a return has a negative amount" in message
    frame, _ = load_transactions(_csv(tmp_path, text[: text.index("B,")]), items_col="qty")
    assert frame["items"].tolist() == [2.0]


def test_fractional_items_are_refused_whole_floats_are_counts(tmp_path):
    text = "customer_id,date,amount,qty\nA,2021-01-01,50,2.0\nA,2021-01-02,5,0.5\n"
    message = _error(_csv(tmp_path, text), items_col="qty")
    assert "fractional item counts in column 'qty' at line 3 (e.g. '0.5')" in message
    frame, _ = load_transactions(
        _csv(tmp_path, text[: text.index("A,2021-01-02")]), items_col="qty"
    )
    assert frame["items"].tolist() == [2.0]


def test_an_amount_beyond_any_purchase_is_named(tmp_path):
    text = "customer_id,date,amount\nA,2021-01-01,50\nA,2021-02-01,1e300\nB,2021-01-05,-2e12\n"
    message = _error(_csv(tmp_path, text))
    assert "amounts beyond any purchase (over 1,000,000,000,000) in column 'amount'" in message
    assert "at lines 3, 4 (e.g. '1e300')" in message
    frame, _ = load_transactions(
        _csv(tmp_path, text.replace("1e300", "9e11").replace("-2e12", "7"))
    )
    assert frame["amount"].max() == 9e11


def test_an_items_column_with_no_item_bought_is_refused(tmp_path):
    """All zeros: the attach rate was left out without a word."""
    text = "customer_id,date,amount,qty\nA,2021-01-01,50,0\nB,2021-01-02,5,0\n"
    message = _error(_csv(tmp_path, text), items_col="qty")
    assert "column 'qty' has no purchase of 1 or more items: check that it holds" in message
    frame, _ = load_transactions(_csv(tmp_path, text.replace(",0\nB", ",1\nB")), items_col="qty")
    assert frame["items"].tolist() == [1.0, 0.0]


def test_many_bad_lines_are_summarised_and_blank_lines_keep_numbering(tmp_path):
    rows = "".join(f"C{i},2021-01-01,oops\n" for i in range(8))
    path = _csv(tmp_path, "customer_id,date,amount\nA,2021-01-01,1\n\n" + rows)
    assert "lines 4, 5, 6, 7, 8 and 3 more" in _error(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "customer_id,date,amount\nA,2021-01-01,10\n\nB,2021-01-02,1,50\n",
            "line 4 has 4 fields, the header 3: fix the row, or quote a field that contains a",
        ),
        # On the first data row pandas would turn the surplus field into an index silently.
        ("customer_id,date,amount\nA,2021-01-01,1,50\nB,2021-01-02,1\n", "line 2 has 4 fields"),
        (
            'customer_id,date,amount\nA,2021-01-01,10\nB,2021-01-02,"1\nC,2021-01-03,2\n',
            'the quote (") opened on line 3 is never closed',
        ),
    ],
    ids=["too many fields", "first row", "open quote"],
)
def test_malformed_rows_name_the_line(tmp_path, text, expected):
    message = _error(_csv(tmp_path, text))
    assert expected in message
    assert "tokenizing" not in message and "C error" not in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (gzip.compress(b"customer_id,date,amount\n"), "is not a text CSV file (it is a gzip"),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "is not a text CSV file (it is a PNG image)"),
        (np.random.default_rng(0).bytes(4096), "is not a text CSV file (it holds binary data)"),
        ("customer_id,date,amount\n".encode("utf-16"), "is UTF-16 text: save the export as CSV"),
    ],
    ids=["gzip", "png", "random bytes", "utf-16"],
)
def test_files_that_are_not_text_are_refused(tmp_path, content, expected):
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    message = _error(path)
    assert message.startswith(str(path)) and expected in message
    assert "codec" not in message


def test_text_that_is_not_utf8_names_the_line(tmp_path):
    """Past pandas' first read buffer too: the line is found in the file, not the buffer."""
    rows = "".join(f"C{i},2021-01-01,{i}\n" for i in range(30_000))
    path = tmp_path / "export.csv"
    path.write_bytes(f"customer_id,date,amount\n{rows}Jos\u00e9,2021-01-02,5\n".encode("latin-1"))
    message = _error(path)
    assert "line 30002 is not UTF-8 text (byte 0xe9): save the export as CSV UTF-8" in message
    assert "codec" not in message


def test_missing_customer_ids_are_refused(tmp_path):
    message = _error(_csv(tmp_path, "customer_id,date,amount\nA,2021-01-01,1\n,2021-01-02,2\n"))
    assert "missing customer id" in message
    assert "line 3" in message


# --------------------------------------------------------------------------- documented cleaning


def test_cleaning_is_counted_and_reported(tmp_path):
    text = (
        "customer_id,date,amount,qty,style\n"
        "A,2021-01-01,50,2,denim\n"
        "A,2021-01-01,50,2,denim\n"  # exact duplicate: dropped
        "A,2021-01-01,-20,1,denim\n"  # return netted against the same day
        "A,2021-01-01 17:45,5,1,shirt\n"  # same day, other time: merged
        "A,2021-01-05,0,1,socks\n"  # zero amount: kept as an occasion
        "B,2021-01-03,-30,1,coat\n"  # return without purchase that day: dropped
        "B,2021-01-04,10,1,hat\n"
        "B,2021-01-04,-15,1,hat\n"  # returns exceed purchases: zero-spend occasion
        "\n"
    )
    frame, report = load_transactions(_csv(tmp_path, text), items_col="qty", style_col="style")
    assert frame.columns.tolist() == ["customer_id", "date", "amount", "items", "style"]
    assert frame["amount"].tolist() == [35.0, 0.0, 0.0]
    assert frame["items"].tolist() == [3.0, 1.0, 1.0]  # items bought; return rows not counted
    assert frame["style"].tolist() == ["denim|shirt", "socks", "hat"]
    assert frame["date"].dt.hour.eq(0).all()
    assert report.rows_read == 9
    assert report.blank_lines == 1
    assert report.duplicates_dropped == 1
    assert report.returns_netted == 2
    assert report.returns_unmatched_dropped == 1
    assert report.days_returns_exceed_purchases == 1
    assert report.merged_rows == 3  # 6 rows on purchase days became 3 transactions
    assert report.zero_amount_transactions == 2
    assert (report.transactions, report.customers) == (3, 2)
    lines = "\n".join(report.lines())
    assert "dropped 1 exact duplicate rows" in lines
    assert "merged 3 same-day rows into the 3 transactions" in lines
    assert "return rows with no same-day purchase" in lines


def test_zero_spend_occasions_count_as_purchases_but_not_as_spend(tmp_path):
    text = (
        "customer_id,date,amount\n"
        "A,2021-01-01,20\nA,2021-01-08,0\nA,2021-01-15,30\n"
        "B,2021-01-01,10\nB,2021-01-08,0\n"
    )
    frame, _ = load_transactions(_csv(tmp_path, text))
    summary = summarise(frame, "2021-01-31")
    assert summary["x"].tolist() == [2, 1]
    assert summary["x_spend"].tolist() == [1, 0]
    assert summary["monetary"].iloc[0] == 30.0
    assert np.isnan(summary["monetary"].iloc[1])


# --------------------------------------------------------------------------- summaries


def test_summary_conventions_and_exclusions(tmp_path):
    text = (
        "customer_id,date,amount\n"
        "zed,2021-01-01,10\nzed,2021-01-01,5\nzed,2021-01-15,20\nzed,2021-01-29,40\n"
        "zed,2021-02-20,99\n"  # holdout
        "amy,2021-01-08,7\n"
        "late,2021-02-01,5\n"  # first purchase after calibration end: excluded
        "old,2020-12-01,5\nold,2021-01-10,6\n"  # before observation_start: excluded
    )
    frame, _ = load_transactions(_csv(tmp_path, text))
    summary = summarise(frame, "2021-01-29", observation_start="2021-01-01")
    assert isinstance(summary.index, pd.RangeIndex)
    assert summary.columns.tolist() == ["x", "t_x", "T", "monetary", "x_spend", "first_purchase"]
    ids = {"zed", "amy", "late", "old"}
    assert not ids & {str(v) for v in summary.to_numpy().ravel()}
    amy, zed = summary.iloc[0], summary.iloc[1]  # rows follow the sorted ids
    assert (amy["x"], amy["t_x"], amy["T"]) == (0, 0.0, 3.0)
    assert (zed["x"], zed["t_x"], zed["T"]) == (2, 4.0, 4.0)  # last purchase on the end date
    assert zed["monetary"] == 30.0  # mean of the repeat purchases, first one excluded
    assert summary.attrs["excluded_first_purchase_after_calibration"] == 1
    assert summary.attrs["excluded_first_purchase_before_observation_start"] == 1

    per_customer, weekly = holdout_counts(frame, "2021-01-29", "2021-02-26", "2021-01-01")
    assert per_customer.tolist() == [0, 1]
    assert weekly["cumulative"].tolist() == [0, 0, 0, 1]
    assert weekly["end"].iloc[-1] == pd.Timestamp("2021-02-26")


def test_time_unit_days(tmp_path):
    frame, _ = load_transactions(
        _csv(tmp_path, "customer_id,date,amount\nA,2021-01-01,1\nA,2021-01-11,1\n")
    )
    summary = summarise(frame, "2021-01-31", time_unit_days=1)
    assert (summary["t_x"].iloc[0], summary["T"].iloc[0]) == (10.0, 30.0)


# --------------------------------------------------------------------------- CDNOW


@pytest.fixture(scope="module")
def cdnow(cdnow_path: Path):
    return load_cdnow(cdnow_path)


def test_cdnow_malformed_row_names_the_line(tmp_path):
    path = _csv(tmp_path, "00001 1 19970101 1 11.77\n00001 1 19970102 1 11.77 x\n", "cd.txt")
    with pytest.raises(TransactionDataError, match="line 2 has 6 fields, a CDNOW row has 5"):
        load_cdnow(path)


def test_cdnow_blank_lines_keep_numbering(tmp_path):
    text = "00001 1 19970101 1 11.77\n\n00002 1 1997013X 2 10.00\n"
    with pytest.raises(TransactionDataError, match="at line 3 "):
        load_cdnow(_csv(tmp_path, text, "cd.txt"))
    frame, report = load_cdnow(_csv(tmp_path, text.replace("X", "1"), "cd.txt"))
    assert len(frame) == 2 and report.blank_lines == 1 and report.rows_read == 3


def test_cdnow_same_day_merge(cdnow):
    frame, report = cdnow
    assert report.rows_read == 6919
    assert report.duplicates_dropped == 0  # kept: identical orders are plausible, no order id
    assert report.merged_rows == 223
    assert len(frame) == report.transactions == 6696
    assert report.customers == 2357
    assert frame.columns.tolist() == ["customer_id", "date", "amount", "items"]
    assert pd.api.types.is_datetime64_any_dtype(frame["date"])


def test_cdnow_calibration_summary(cdnow):
    frame, _ = cdnow
    summary = summarise(frame, "1997-09-30")
    assert len(summary) == 2357
    assert (summary["x"] > 0).sum() == 946
    assert summary["x"].sum() == 2457  # repeat transactions in the 39-week calibration period
    assert summary["T"].max() == pytest.approx(272 / 7)  # 1997-01-01 to 1997-09-30
    per_customer, weekly = holdout_counts(frame, "1997-09-30", "1998-06-30")
    assert len(per_customer) == len(summary)
    assert len(weekly) == 39
    assert weekly["cumulative"].iloc[-1] == per_customer.sum() == 1882
