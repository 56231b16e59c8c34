"""The validity suite's report: "Why believe this simulation", for a decision maker.

One plain sentence per check (what the model did next to what real customers did), a table of
measured against target, and net profit against message frequency, in one self-contained page.
Built from the checks' records (`experiments.validate`), so it reads the same every time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from experiments.run import write_atomic
from reports import html as h
from reports.figures import _figure, _png

TITLES = {
    "hillstrom": "One email to half the customers (Hillstrom's test)",
    "unsubscribe_per_send": "Unsubscribes per email sent",
    "frequency_inverted_u": "Profit against message frequency",
    "cdnow_silent_buy_again": "Silent customers who come back on their own (CDNOW)",
    "backfire": "Contact can backfire",
    "holdout_uplift": "A holdout measures the true effect",
}


def _value(x: Any) -> str:
    """A measured value or target for the table: numbers short, [low, high] as a range,
    [estimate, low, high] as an estimate with its interval, dicts as `key value` lines."""
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, list) and len(x) == 2:
        return f"{_value(x[0])} to {_value(x[1])}"
    if isinstance(x, list) and len(x) == 3:
        return f"{_value(x[0])} ({_value(x[1])} to {_value(x[2])})"
    if isinstance(x, dict):
        return "<br>".join(
            f"<code>{h.esc(k)}</code>"
            + (
                f'<div style="margin-left:1em">{_value(v)}</div>'
                if isinstance(v, dict)
                else " " + _value(v)
            )
            for k, v in x.items()
        )
    return h.esc(x)


def frequency_figure(measured: dict[str, Any], channel: str) -> str | None:
    """Extra net profit per customer against sends a year, with paired 95% intervals; the best
    frequency marked. None when there is nothing to draw."""
    points = sorted(
        ((int(k), v) for k, v in (measured.get("profit_vs_none") or {}).items()),
        key=lambda kv: -kv[0],
    )
    if not points:
        return None
    every = np.array([k for k, _ in points])
    est, low, high = (
        np.array([np.nan if v[i] is None else v[i] for _, v in points], float) for i in range(3)
    )
    per_year = 365 / every
    with _figure(3.8) as (fig, ax):
        err = np.nan_to_num(np.vstack([est - low, high - est]))
        ax.errorbar(per_year, est, yerr=err, fmt="-o", ms=7, capsize=4, lw=1.8, color="#1f3b73")
        best = int(measured["best_every_days"])
        i = int(np.flatnonzero(every == best)[0])
        ax.plot(per_year[i], est[i], "o", ms=13, mfc="none", mec="#b5651d", mew=2.2)
        for k, x, y in zip(every, per_year, est, strict=True):
            ax.annotate(
                "every day" if k == 1 else f"every {k} days",
                (x, y),
                xytext=(0, 9),
                textcoords="offset points",
                ha="center",
            )
        ax.axhline(0, color="black", lw=1)
        ax.margins(x=0.08, y=0.18)  # room for the labels
        ax.set_xscale("log")
        ax.set_xlabel(f"plain {channel} messages a year (log scale)")
        ax.set_ylabel("extra net profit per customer\nagainst sending nothing")
        ax.set_title("Net profit against message frequency (95% paired intervals)")
        return _png(fig)


def section(checks: list[dict[str, Any]], about: str, channel: str) -> str:
    """The "Why believe this simulation" section: sentences, the table, the figure."""
    passed = sum(c["passed"] for c in checks)
    items = "".join(
        f"<li><b>{'Matches' if c['passed'] else 'Does not match yet'}</b>: "
        f"{h.esc(c['sentence'])}</li>"
        for c in checks
    )
    rows = [
        [
            h.esc(TITLES.get(c["name"], c["name"])) + f"<br><code>{h.esc(c['name'])}</code>",
            _value(c["measured"]),
            _value(c["target"]),
            "PASS" if c["passed"] else "<b>FAIL</b>",
            h.esc(c.get("source", "")),
        ]
        for c in checks
    ]
    frequency = next((c for c in checks if c["name"] == "frequency_inverted_u"), None)
    png = frequency_figure(frequency["measured"], channel) if frequency else None
    caption = (
        "Each point is a plain message every k days against sending nothing, mean over seeds "
        "with its 95% interval paired by seed; the ringed point earns the most."
    )
    return (
        '<section><h2>Why believe this simulation</h2><p class="finding">'
        f"{passed} of {len(checks)} checks against published facts pass.</p>"
        f"<ul>{items}</ul>"
        f'<p class="note">{h.esc(about)}</p>'
        + h.table(["check", "measured", "target", "result", "source"], rows, 99, "compact")
        + h.figure(png, caption, "net profit against message frequency")
        + "</section>"
    )


def write_report(path: Path, checks: list[dict[str, Any]], about: str, channel: str) -> None:
    """report.html: the section in a self-contained page, written whole or not at all."""
    subtitle = h.esc(
        "retail-sim experiment=validate: the model against what is known about real customers"
    )
    body = section(checks, about, channel)
    write_atomic(path, h.page("retail-sim validity suite", subtitle, body))
