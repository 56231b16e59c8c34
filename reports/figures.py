"""The report's figures: seaborn/matplotlib, drawn off-screen and returned as base64 PNG.

Each function takes the aggregated tables (`experiments.aggregate`) and returns a PNG as a
base64 string (None when there is nothing to draw). Styles are set per figure in a context,
never globally, so building a report leaves matplotlib as it found it.
"""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")  # no display: figures only ever go to PNG

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

WIDTH = 9.6  # inches; at DPI this is about the width of the report's text column
DPI = 110
GREY = "#8c8c8c"
Colours = dict[str, tuple]  # strategy -> RGB, from `palette`


# the built-in strategies keep their colour in every report, whatever their rank
BUILT_IN_ORDER = (
    "rfm_tiering",
    "personalised",
    "winback",
    "loyalty",
    "lifecycle",
    "blanket",
    "referral",
    "capped_blanket",
    "none",
)


def palette(strategies: list[str], baseline: str) -> Colours:
    """One colour per strategy, the same in every figure and, for the built-ins, in every
    report (two reports side by side read alike); others take the colours left; the baseline
    grey."""
    colours = [c for i, c in enumerate(sns.color_palette("tab10", 10)) if i != 7]  # 7: grey
    mapping = {s: colours[i] for i, s in enumerate(BUILT_IN_ORDER) if s in strategies}
    free = [c for c in colours if c not in mapping.values()] or colours
    others = [s for s in strategies if s not in mapping]
    mapping |= {s: free[i % len(free)] for i, s in enumerate(others)}
    mapping[baseline] = matplotlib.colors.to_rgb(GREY)
    return mapping


@contextmanager
def _figure(height: float, ncols: int = 1, nrows: int = 1, **kwargs) -> Iterator[tuple]:
    style = {"axes.titleweight": "bold", "axes.titlesize": 12, "axes.titlelocation": "left"}
    with (
        sns.axes_style("whitegrid"),
        sns.plotting_context("notebook", font_scale=0.95),
        plt.rc_context(style),
    ):
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(WIDTH, height), dpi=DPI, layout="constrained", **kwargs
        )
        try:
            yield fig, axes
        finally:
            plt.close(fig)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)  # constrained layout: no second "tight" pass
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _kpi(comparison: pd.DataFrame, kpi: str, scenario: str = "") -> pd.DataFrame:
    rows = comparison[(comparison["kpi"] == kpi) & (comparison["scenario"] == scenario)]
    return rows.set_index("strategy")


def _err(rows: pd.DataFrame, centre: str, low: str, high: str) -> np.ndarray:
    c = rows[centre].to_numpy(float)
    return np.nan_to_num(np.vstack([c - rows[low].to_numpy(float), rows[high].to_numpy(float) - c]))


# ---------------------------------------------------------------------------- compare
def incremental_profit(
    comparison: pd.DataFrame, order: list[str], colours: Colours, baseline: str
) -> str | None:
    """Extra net profit per customer against the baseline, with the paired 95% interval."""
    rows = _kpi(comparison, "net_profit_per_customer")
    names = [s for s in order if s != baseline and s in rows.index]
    if not names or "diff" not in rows:
        return None
    rows = rows.loc[names]
    with _figure(0.5 * len(names) + 1.3) as (fig, ax):
        y = np.arange(len(names))
        err = _err(rows, "diff", "diff_low", "diff_high")
        for i, name in enumerate(names):
            ax.errorbar(
                rows.loc[name, "diff"],
                y[i],
                xerr=err[:, i : i + 1],
                fmt="o",
                ms=9,
                capsize=5,
                lw=2.4,
                color=colours[name],
            )
            ax.annotate(
                f"{rows.loc[name, 'diff']:+,.2f}",
                (rows.loc[name, "diff"], y[i]),
                xytext=(0, 8),
                textcoords="offset points",
                ha="center",
                fontsize=9.5,
            )
        ax.axvline(0, color="black", lw=1)
        ax.set_yticks(y, names)
        ax.set_ylim(len(names) - 0.5, -0.7)  # best at the top
        ax.set_xlabel(f"extra net profit per customer compared with '{baseline}'")
        ax.set_title("Incremental profit per customer (95% interval)")
        return _png(fig)


def holdout_vs_truth(
    comparison: pd.DataFrame, order: list[str], baseline: str, holdout: float
) -> str | None:
    """The true extra profit (paired simulation) next to what a holdout of the given share
    measures in a single run: its typical estimate and interval, on the same scale."""
    rows = _kpi(comparison, "net_profit_per_customer")
    names = [s for s in order if s != baseline and s in rows.index]
    if not names or "holdout_estimate" not in rows or rows["holdout_estimate"].isna().all():
        return None
    rows = rows.loc[names]
    with _figure(0.62 * len(names) + 1.6) as (fig, ax):
        y = np.arange(len(names))
        ax.errorbar(
            rows["diff"],
            y - 0.15,
            xerr=_err(rows, "diff", "diff_low", "diff_high"),
            fmt="o",
            ms=8,
            capsize=4,
            lw=2.4,
            color="#1f3b73",
            label="true (simulation, paired by seed)",
        )
        ax.errorbar(
            rows["holdout_estimate"],
            y + 0.15,
            xerr=_err(rows, "holdout_estimate", "holdout_low", "holdout_high"),
            fmt="o",
            mfc="white",
            ms=7,
            capsize=3,
            lw=1.4,
            color="#b5651d",
            label=f"measured against a {holdout:.0%} holdout (one run, typical)",
        )
        ax.axvline(0, color="black", lw=1)
        ax.set_yticks(y, names)
        ax.set_ylim(len(names) - 0.5, -0.5)
        ax.set_xlabel(f"extra net profit per customer compared with '{baseline}'")
        ax.set_title("The truth and what a store would measure")
        ax.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.1 - 0.6 / len(names)),
            ncols=2,
            frameon=False,
            fontsize=9.5,
        )
        return _png(fig)


def profit_vs_optouts(
    comparison: pd.DataFrame, order: list[str], colours: Colours, baseline: str
) -> str | None:
    """Care versus harassment: incremental profit against the share of customers who opted
    out of (or blocked) a channel."""
    profit = _kpi(comparison, "net_profit_per_customer")
    optout = _kpi(comparison, "opt_out_rate")
    names = [s for s in order if s in profit.index and s in optout.index]
    if not names or "diff" not in profit:
        return None
    with _figure(4.6) as (fig, ax):
        points = []
        for name in names:
            x = optout.loc[name, "mean"] * 100
            y = profit.loc[name, "diff"]
            xerr = (
                np.nan_to_num(
                    [
                        [optout.loc[name, "diff"] - optout.loc[name, "diff_low"]],
                        [optout.loc[name, "diff_high"] - optout.loc[name, "diff"]],
                    ]
                )
                * 100
            )
            yerr = np.nan_to_num(
                [[y - profit.loc[name, "diff_low"]], [profit.loc[name, "diff_high"] - y]]
            )
            ax.errorbar(
                x, y, xerr=xerr, yerr=yerr, fmt="o", ms=9, capsize=3, color=colours[name], zorder=3
            )
            points.append((name, x, y))
        ax.axhline(0, color="black", lw=1)
        ax.set_xlim(left=0)
        _label_points(fig, ax, points)
        ax.set_xlabel("customers who opted out of or blocked a channel (%)")
        ax.set_ylabel(f"extra net profit per customer compared with '{baseline}'")
        ax.set_title("Care or harassment: profit against opt-outs")
        ax.text(
            0.99,
            0.02,
            "up and to the left is better",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=9,
            color=GREY,
        )
        return _png(fig)


def _label_points(fig: Figure, ax: Axes, points: list[tuple[str, float, float]]) -> None:
    """Name each point, nudging a label down when it would sit on an earlier one."""
    fig.canvas.draw()  # settle the limits, so data -> pixels is final
    placed: list[tuple[float, float]] = []
    for name, x, y in sorted(points, key=lambda p: -p[2]):
        px, py = ax.transData.transform((x, y))
        dy = 6.0
        while any(abs(px - qx) < 70 and abs(py + dy - qy) < 13 for qx, qy in placed):
            dy -= 13
        placed.append((px, py + dy))
        ax.annotate(name, (x, y), xytext=(8, dy), textcoords="offset points", fontsize=10)


def _mean_by_day(daily: pd.DataFrame, column: str) -> pd.DataFrame:
    return daily.groupby(["strategy", "day"], sort=False)[column].mean().reset_index()


def _day_lines(
    data: pd.DataFrame,
    y: str,
    ax: Axes,
    names: list[str],
    colours: Colours,
    title: str,
    ylabel: str,
    legend: bool = False,
) -> None:
    """One line per strategy over the days of the run; with `legend`, the strategies' key
    sits outside the panel, on its right."""
    sns.lineplot(
        data,
        x="day",
        y=y,
        hue="strategy",
        hue_order=names,
        palette=colours,
        ax=ax,
        legend="auto" if legend else False,
        lw=1.8,
    )
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("day of the run")
    if legend:
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1), frameon=False, title=None)


def retention(daily: pd.DataFrame, order: list[str], colours: Colours, baseline: str) -> str | None:
    """Share of customers who bought in the last 90 days, and its difference against the
    baseline (paired by seed and day), over the run."""
    if daily.empty or "active_90d_share" not in daily:
        return None
    names = [s for s in order if s in set(daily["strategy"])]
    daily = daily.assign(active=daily["active_90d_share"] * 100)
    with _figure(4.2, ncols=2) as (fig, (left, right)):
        level = _mean_by_day(daily, "active")
        _day_lines(
            level,
            "active",
            left,
            names,
            colours,
            "Customers still buying",
            "bought in the last 90 days (%)",
        )
        if baseline in names:
            base = daily[daily["strategy"] == baseline].set_index(["seed", "day"])["active"]
            diff = daily.join(base.rename("base"), on=["seed", "day"])
            diff = diff.assign(gap=diff["active"] - diff["base"])
            diff = _mean_by_day(diff, "gap")
            _day_lines(
                diff,
                "gap",
                right,
                names,
                colours,
                f"Difference against '{baseline}'",
                "percentage points",
                legend=True,
            )
            right.axhline(0, color="black", lw=0.8)
        else:
            right.set_visible(False)
        return _png(fig)


def repurchase_reactivation(
    comparison: pd.DataFrame, order: list[str], colours: Colours, baseline: str
) -> str | None:
    """Repurchase and reactivation rates per strategy; the whiskers are the 95% paired
    interval of the difference against the baseline, drawn around the baseline's level."""
    panels = [("repurchase_rate", "Repurchase rate"), ("reactivation_rate", "Reactivation rate")]
    return _share_panels(comparison, order, colours, panels, "% of customers", baseline)


def messages_fatigue(daily: pd.DataFrame, order: list[str], colours: Colours) -> str | None:
    """Messages sent per customer so far (cumulative) and mean message fatigue (14-day
    average), over the run."""
    if daily.empty or "messages" not in daily:
        return None
    names = [s for s in order if s in set(daily["strategy"])]
    daily = daily.sort_values(["strategy", "seed", "day"])
    by_run = daily.groupby(["strategy", "seed"], sort=False)
    daily = daily.assign(sent=by_run["messages"].cumsum() / daily["customers"].clip(lower=1))
    with _figure(4.2, ncols=2) as (fig, (left, right)):
        _day_lines(
            _mean_by_day(daily, "sent"),
            "sent",
            left,
            names,
            colours,
            "Messages sent so far",
            "messages per customer",
        )
        if "mean_fatigue" in daily:
            daily["fatigue"] = by_run["mean_fatigue"].transform(
                lambda s: s.rolling(14, min_periods=1).mean()
            )
            _day_lines(
                _mean_by_day(daily, "fatigue"),
                "fatigue",
                right,
                names,
                colours,
                "Message fatigue",
                "mean fatigue per customer (14-day avg)",
                legend=True,
            )
        return _png(fig)


def tiers(daily: pd.DataFrame, order: list[str]) -> str | None:
    """Share of members in each loyalty tier over the run, for strategies that keep tiers
    (daily columns `tier_1`, `tier_2`, ... by level); None when no run recorded tiers."""
    if daily.empty:
        return None
    columns = [c for c in daily.columns if c.startswith("tier_")]
    if not columns:
        return None
    counts = daily.groupby(["strategy", "day"], sort=False)[columns].mean()
    tiered = [
        s
        for s in order
        if s in counts.index.get_level_values(0) and counts.loc[s].fillna(0).to_numpy().sum() > 0
    ]
    if not tiered:
        return None
    ncols = min(len(tiered), 3)
    nrows = -(-len(tiered) // ncols)
    with _figure(3.2 * nrows, ncols, nrows, squeeze=False, sharey=True) as (fig, axes):
        for ax, name in zip(axes.flat, tiered, strict=False):
            frame = counts.loc[name].fillna(0)
            shares = frame.div(frame.sum(axis=1).replace(0, np.nan), axis=0) * 100
            ax.stackplot(
                shares.index,
                shares.T.to_numpy(),
                labels=[f"tier {c.removeprefix('tier_')}" for c in columns],
                alpha=0.9,
            )
            ax.set_title(name)
            ax.set_xlabel("day of the run")
            ax.set_ylim(0, 100)
        axes.flat[0].set_ylabel("% of members (customers with a tier)")
        axes.flat[0].legend(loc="lower left", fontsize=9, frameon=True)
        for ax in list(axes.flat)[len(tiered) :]:
            ax.set_visible(False)
        return _png(fig)


def vip(comparison: pd.DataFrame, order: list[str], colours: Colours) -> str | None:
    """VIP share of customers and of revenue at the end of the run, per strategy."""
    panels = [
        ("vip_share", "VIP share of customers"),
        ("vip_revenue_share", "VIP share of revenue"),
    ]
    return _share_panels(comparison, order, colours, panels, "%")


def _share_panels(
    comparison: pd.DataFrame,
    order: list[str],
    colours: Colours,
    panels: list[tuple[str, str]],
    xlabel: str,
    baseline: str | None = None,
) -> str | None:
    """Two side-by-side bar panels of shares (KPI, title) per strategy, labelled in percent;
    with a `baseline`, whiskers for the paired difference against it, around its level."""
    frames = [_kpi(comparison, kpi) for kpi, _ in panels]
    names = [s for s in order if all(s in f.index for f in frames)]
    if not names:
        return None
    with _figure(0.42 * len(names) + 1.5, ncols=2, sharey=True) as (fig, axes):
        for ax, (_, title), rows in zip(axes, panels, frames, strict=True):
            rows = rows.loc[names]
            y = np.arange(len(names))
            ax.barh(y, rows["mean"] * 100, color=[colours[n] for n in names], alpha=0.85)
            if baseline is not None and "diff" in rows:
                centre = (rows["baseline_mean"] + rows["diff"]) * 100
                err = _err(rows, "diff", "diff_low", "diff_high") * 100
                ax.errorbar(centre, y, xerr=err, fmt="none", ecolor="black", capsize=3, lw=1.2)
                if baseline in rows.index:
                    ax.axvline(rows.loc[baseline, "mean"] * 100, color="black", lw=1, ls="--")
            for yi, value in zip(y, rows["mean"], strict=True):
                ax.text(value * 100, yi, f" {value:.1%}", va="center", ha="left", fontsize=9)
            ax.set_yticks(y, names)
            ax.set_title(title)
            ax.set_xlabel(xlabel)
            ax.set_xlim(0, max(rows["mean"].max() * 100 * 1.25, 1))
        axes[0].invert_yaxis()
        return _png(fig)


# ---------------------------------------------------------------------------- robustness
def robustness_heatmap(table: pd.DataFrame, best: pd.Series, ylabel: str = "") -> str | None:
    """Scenario x strategy: extra net profit per customer against the baseline; the best
    strategy of each scenario framed."""
    if table.empty:
        return None
    height = 0.38 * len(table) + 2.0
    with _figure(height) as (fig, ax):
        limit = np.nanmax(np.abs(table.to_numpy(float))) or 1.0
        with warnings.catch_warnings():  # seaborn 0.13 on matplotlib 3.11: cmap.set_bad
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            sns.heatmap(
                table,
                annot=True,
                fmt=".2f",
                cmap="RdBu",
                center=0,
                vmin=-limit,
                vmax=limit,
                ax=ax,
                cbar_kws={"label": "extra net profit per customer"},
                annot_kws={"fontsize": 8.5},
                linewidths=0.5,
                linecolor="white",
            )
        for i, scenario in enumerate(table.index):
            if scenario in best.index and best[scenario] in table.columns:
                j = list(table.columns).index(best[scenario])
                ax.add_patch(plt.Rectangle((j, i), 1, 1, fill=False, ec="black", lw=2.2))
        ax.set_xlabel("")
        ax.set_ylabel(ylabel, fontsize=9.5)
        ax.set_title("Extra profit per customer, per scenario (framed: the best)")
        ax.tick_params(axis="x", rotation=30)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
        return _png(fig)


def wins(table: pd.DataFrame, colours: Colours) -> str | None:
    """How many scenarios each strategy came out best in, and clearly best in."""
    if table.empty:
        return None
    with _figure(0.45 * len(table) + 1.4) as (fig, ax):
        y = np.arange(len(table))
        ax.barh(
            y,
            table["best"],
            color=[colours.get(s, GREY) for s in table.index],
            alpha=0.45,
        )
        ax.barh(
            y,
            table["clearly_best"],
            color=[colours.get(s, GREY) for s in table.index],
        )
        ax.set_yticks(y, table.index)
        ax.invert_yaxis()
        ax.set_xlabel("scenarios")
        ax.set_title("How often each policy stays best")
        shades = [  # the legend speaks of the shades, not of the first policy's colour
            Patch(color=GREY, alpha=0.45, label="best (highest extra profit)"),
            Patch(color=GREY, label="clearly best (beyond the noise)"),
        ]
        ax.legend(handles=shades, loc="lower right", frameon=False, fontsize=9.5)
        return _png(fig)


# ---------------------------------------------------------------------------- tune
def tune_history(trials: pd.DataFrame, params: list[str], objective: str) -> str | None:
    """The optimiser's trials: objective per trial, and where it searched."""
    if trials.empty:
        return None
    numeric = [p for p in params if pd.api.types.is_numeric_dtype(trials[p])]
    ncols = 2 if len(numeric) >= 2 else 1
    with _figure(4.0, ncols=ncols) as (fig, axes):
        axes = np.atleast_1d(axes)
        ax = axes[0]
        ax.plot(trials["trial"], trials[objective], "o", color="#1f3b73", alpha=0.7)
        ax.plot(
            trials["trial"], trials[objective].cummax(), color="#b5651d", lw=2, label="best so far"
        )
        ax.set_xlabel("trial")
        ax.set_ylabel(objective.replace("_", " "))
        ax.set_title("Search")
        ax.legend(frameon=False)
        if ncols == 2:
            x, y = numeric[:2]
            points = axes[1].scatter(
                trials[x], trials[y], c=trials[objective], cmap="viridis", s=50, edgecolor="white"
            )
            best = trials.loc[trials[objective].idxmax()]
            axes[1].scatter(best[x], best[y], s=220, facecolor="none", edgecolor="red", lw=2)
            axes[1].set_xlabel(x.removeprefix("strategy."))
            axes[1].set_ylabel(y.removeprefix("strategy."))
            axes[1].set_title("Settings tried (red: best)")
            fig.colorbar(points, ax=axes[1], label=objective.replace("_", " "))
        return _png(fig)
