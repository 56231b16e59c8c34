"""The words and tables of the report, and the one self-contained HTML page around them.

Written for a store owner: plain words first, numbers with their uncertainty, the
assumptions in view. Everything here is a pure function of the aggregated tables, so the
same sweep always reads the same way.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from experiments.aggregate import BASELINE, DERIVED_GLOSSARY, pairwise
from sim.kpis import GLOSSARY

NPC = "net_profit_per_customer"


# ---------------------------------------------------------------------------- formatting
def esc(text: Any) -> str:
    return html.escape(str(text))


def money(x: float, signed: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:+,.2f}" if signed else f"{x:,.2f}"


def whole(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:+,.0f}"


def pct(x: float, digits: int = 1) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x * 100:.{digits}f}%"


def interval(low: float, high: float, fmt: Callable[[float], str] | None = None) -> str:
    """`-0.46 to +1.20` (signed amounts), or a note when there is no interval."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return "no interval (one seed)"
    fmt = fmt or (lambda x: money(x, True))
    return f"{fmt(low)} to {fmt(high)}"


def table(header: list[str], rows: list[list[Any]], numeric_from: int = 1, cls: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{"num" if i >= numeric_from else "name"}">{c}</td>'
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def figure(png: str | None, caption: str, alt: str) -> str:
    if not png:
        return ""
    return (
        f'<figure><img src="data:image/png;base64,{png}" alt="{esc(alt)}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


# ---------------------------------------------------------------------------- the compare tables
def nothing(baseline: str) -> str:
    """How the text names the baseline: "sending nothing" for `none`, else its name."""
    return "sending nothing" if baseline == BASELINE else f"<i>{esc(baseline)}</i>"


def kpi_rows(comparison: pd.DataFrame, kpi: str, scenario: str = "") -> pd.DataFrame:
    rows = comparison[(comparison["kpi"] == kpi) & (comparison["scenario"] == scenario)]
    return rows.set_index("strategy")


def wins_over_baseline(
    summary: pd.DataFrame, strategy: str, baseline: str, scenario: str = ""
) -> tuple[int, int]:
    """(seeds where `strategy` earned more per customer than the baseline, seeds compared)."""
    done = summary[(summary["status"] == "done") & (summary["scenario"] == scenario)]
    a = done[done["strategy"] == strategy].drop_duplicates("seed").set_index("seed")[NPC]
    b = done[done["strategy"] == baseline].drop_duplicates("seed").set_index("seed")[NPC]
    seeds = a.index.intersection(b.index)
    return int((a.loc[seeds] > b.loc[seeds]).sum()), len(seeds)


def base_size(summary: pd.DataFrame, scenario: str = "") -> float:
    """Customers on record on day 0, holdout included: the base the per-customer figures are
    counted on (the same for every policy of a seed)."""
    done = summary[(summary["status"] == "done") & (summary["scenario"] == scenario)]
    day0 = done["customers"] - done["new_customers"]
    if "holdout_customers" in done:
        day0 += (done["holdout_customers"] - done["holdout_new_customers"]).fillna(0)
    return float(day0.mean())


FEW_SEEDS = 5  # below this, the finding warns that its intervals rest on few repeats


def finding(
    summary: pd.DataFrame,
    comparison: pd.DataFrame,
    baseline: str,
    days: int,
    scenario: str = "",
) -> str:
    """The paragraph at the top: which policy earns the most incremental profit, by how much,
    how sure we are, and what it costs; or that the noise cannot separate the best ones."""
    text = _finding(summary, comparison, baseline, days, scenario)
    pairs = kpi_rows(comparison, NPC, scenario).get("n_pairs", pd.Series(dtype=float)).max()
    if 2 <= pairs < FEW_SEEDS:  # a single one says so itself
        text += (
            f" Only {pairs:.0f} simulated repeats: an interval from so few can be far off in "
            f"either direction (its own width is noisy), so read this as a first look and run "
            f"at least {FEW_SEEDS} seeds before deciding."
        )
    return text


def _finding(
    summary: pd.DataFrame, comparison: pd.DataFrame, baseline: str, days: int, scenario: str
) -> str:
    profit = kpi_rows(comparison, NPC, scenario)
    if baseline not in profit.index:
        return (
            f"This sweep has no '{baseline}' run to compare against, so no incremental profit can "
            f"be given: add strategy={baseline} to the sweep."
        )
    others = profit.drop(index=baseline)
    against = nothing(baseline)
    if others.empty or "diff" not in others:
        return f"Only '{baseline}' finished: there is nothing to compare yet."
    ranked = others.sort_values("diff", ascending=False)
    best, row = ranked.index[0], ranked.iloc[0]
    n = int(row["n_pairs"])
    base = base_size(summary, scenario)
    seeds_word = "simulated repeat" if n == 1 else "simulated repeats"
    optout, messages = (
        kpi_rows(comparison, "opt_out_rate", scenario),
        kpi_rows(comparison, "messages_per_customer", scenario),
    )

    def cost(name: str) -> str:
        o = optout.loc[name]
        more = "more" if o["diff"] >= 0 else "fewer"
        return (
            f"{messages.loc[name, 'mean']:,.1f} messages per customer over the {days} days, and "
            f"{abs(o['diff']) * 100:.1f} percentage points {more} customers opting out of a "
            f"channel ({pct(o['mean'])}, against {pct(o['baseline_mean'])} with {esc(baseline)})"
        )

    def gain(name: str, bold: bool = True) -> str:
        r = profit.loc[name]
        amount = f"{money(r['diff'], True)} per customer"
        amount = f"<b>{amount}</b>" if bold else amount
        return f"{amount} (95% interval {interval(r['diff_low'], r['diff_high'])})"

    if n < 2:
        return (
            f"<b>{esc(best)}</b> earned the most incremental profit in this run, {gain(best)} "
            f"compared with {against}, but with a single {seeds_word} there is no way to "
            "tell this from luck: run at least two seeds (e.g. seed=range(1,6))."
        )
    won, compared = wins_over_baseline(summary, best, baseline, scenario)
    if row["diff_high"] < 0:
        return (
            f"<b>Every policy tested earns less than {against}.</b> The least costly, "
            f"<b>{esc(best)}</b>, loses {money(-row['diff'])} per customer (95% interval "
            f"{interval(row['diff_low'], row['diff_high'])}) over {days} days, while sending "
            f"{cost(best)}."
        )
    if row["diff_low"] <= 0:
        return (
            f"<b>No policy earns clearly more than {against}.</b> The best, "
            f"<b>{esc(best)}</b>, adds {gain(best)}, but that interval includes zero: the "
            f"difference is within the noise of {n} {seeds_word} (it came out ahead in {won} of "
            f"{compared}). It means {cost(best)}."
        )
    ties = []
    for other in ranked.index[1:]:
        d = pairwise(summary, best, other, NPC, scenario)
        if not d.excludes_zero:
            ties.append((other, d))
    if ties:
        rivals = ", ".join(f"<b>{esc(o)}</b> ({gain(o, bold=False)})" for o, _ in ties)
        diffs = "; ".join(
            f"{esc(best)} minus {esc(o)}: {money(d.estimate, True)}, {interval(d.low, d.high)}"
            for o, d in ties
        )
        verb = "is" if len(ties) == 1 else "are"
        return (
            f"<b>No single winner.</b> <b>{esc(best)}</b> earns the most incremental profit, "
            f"{gain(best)} more than {against}, but {rivals} {verb} within the noise of "
            f"it: the paired difference{'s' if len(ties) > 1 else ''} ({diffs}) include"
            f"{'' if len(ties) > 1 else 's'} zero. More seeds would sharpen this (e.g. "
            "seed=range(1,21)). Weigh them on cost: "
            + "; ".join(f"{esc(x)} means {cost(x)}" for x in [best, *(o for o, _ in ties)])
            + "."
        )
    text = (
        f"<b>{esc(best)}</b> earns the most incremental profit: {gain(best)} more than "
        f"{against}, about <b>{whole(row['diff'] * base)}</b> over {days} days for a base of "
        f"{base:,.0f} customers. "
    )
    if len(ranked) > 1:
        runner = ranked.index[1]
        d = pairwise(summary, best, runner, NPC, scenario)
        text += (
            f"How sure: it beat {against} in {won} of {compared} {seeds_word}, and beats "
            f"the runner-up, {esc(runner)}, by {money(d.estimate)} per customer (95% interval "
            f"{interval(d.low, d.high)}). "
        )
    else:
        text += f"How sure: it beat {against} in {won} of {compared} {seeds_word}. "
    return text + f"What it costs: {cost(best)}."


def key_numbers(
    summary: pd.DataFrame, comparison: pd.DataFrame, order: list[str], baseline: str
) -> str:
    profit = kpi_rows(comparison, NPC)
    get = {
        k: kpi_rows(comparison, k)
        for k in (
            "opt_out_rate",
            "messages_per_customer",
            "repurchase_rate",
            "reactivation_rate",
            "churn_rate",
            "marketing_cost_per_customer",
        )
    }
    roi = kpi_rows(comparison, "incremental_roi")
    base = base_size(summary)
    rows = []
    for name in order:
        if name not in profit.index:
            continue
        r = profit.loc[name]
        if name == baseline or "diff" not in r:
            extra, total, beat, returned = "baseline", "", "", ""
        else:
            band = interval(r["diff_low"], r["diff_high"])
            extra = f"<b>{money(r['diff'], True)}</b><br><small>{band}</small>"
            total = whole(r["diff"] * base)
            if math.isfinite(r["diff_low"]) and math.isfinite(r["diff_high"]):
                band = interval(r["diff_low"] * base, r["diff_high"] * base, whole)
                total += f"<br><small>{band}</small>"
            won, n = wins_over_baseline(summary, name, baseline)
            beat = f"{won} of {n}"
            ratio = roi.loc[name, "diff"] if name in roi.index else math.nan
            returned = f"{ratio:+,.2f}" if math.isfinite(ratio) else "n/a"
        rows.append(
            [
                esc(name),
                money(r["mean"]),
                extra,
                total,
                beat,
                money(get["marketing_cost_per_customer"].loc[name, "mean"]),
                returned,
                f"{get['messages_per_customer'].loc[name, 'mean']:,.1f}",
                pct(get["opt_out_rate"].loc[name, "mean"]),
                pct(get["repurchase_rate"].loc[name, "mean"]),
                pct(get["reactivation_rate"].loc[name, "mean"]),
                pct(get["churn_rate"].loc[name, "mean"]),
            ]
        )
    header = [
        "policy",
        "net profit per customer",
        f"extra vs {baseline} (95% interval)",
        "extra for the whole base",
        f"beat {baseline} in",
        "marketing cost per customer",
        "incremental ROI",
        "messages per customer",
        "opted out",
        "repurchase",
        "reactivation",
        "true churn",
    ]
    return table(header, rows, cls="key")


def _narrowing(comparison: pd.DataFrame, order: list[str], baseline: str) -> dict[str, float]:
    """Per policy, the unpaired interval's width over the paired one's (above 1: pairing helped)."""
    profit = kpi_rows(comparison, NPC)
    ratios = {}
    for name in order:
        if name == baseline or name not in profit.index or "diff" not in profit:
            continue
        r = profit.loc[name]
        paired, unpaired = r["diff_high"] - r["diff_low"], r["unpaired_high"] - r["unpaired_low"]
        ratios[name] = unpaired / paired if paired > 0 else math.nan
    return ratios


def pairing(comparison: pd.DataFrame, order: list[str], baseline: str) -> str:
    """Why the intervals are paired, and how much that narrowed them here: with few seeds
    an interval's own width is noisy, and pairing can come out wider for a policy."""
    said = (
        "Every policy ran on the same simulated customers for each seed (common random "
        "numbers): the same people, the same purchases except where the policy changed them. "
        "Comparing policies seed by seed removes the noise they share"
    )
    ratios = [r for r in _narrowing(comparison, order, baseline).values() if math.isfinite(r)]
    if not ratios:
        return f"<p>{said}.</p>"
    low, high = min(ratios), max(ratios)
    if low >= 1:
        how = f"here the paired intervals are {low:,.1f} to {high:,.1f} times narrower"
        if high - low < 0.05:
            how = f"here the paired intervals are {low:,.1f} times narrower"
    elif high <= 1:
        how = (
            "here they come out no narrower: with this few seeds an interval's own width is "
            "noisy, and the policies' effects vary from seed to seed as much as the seeds do"
        )
    else:
        wider = sum(r < 1 for r in ratios)
        how = (
            f"here the paired intervals are up to {high:,.1f} times narrower, but for {wider} of "
            f"{len(ratios)} policies wider: with this few seeds an interval's own width is noisy"
        )
    return (
        f"<p>{said}, so a paired interval is usually narrower than comparing averages as if "
        f"the runs were independent; {how}:</p>"
    )


def paired_vs_unpaired(comparison: pd.DataFrame, order: list[str], baseline: str) -> str:
    profit = kpi_rows(comparison, NPC)
    rows = []
    for name, ratio in _narrowing(comparison, order, baseline).items():
        r = profit.loc[name]
        if not math.isfinite(ratio):
            width = "n/a"
        else:
            width = f"{ratio:,.1f}x narrower" if ratio >= 1 else f"{1 / ratio:,.1f}x wider"
        rows.append(
            [
                esc(name),
                money(r["diff"], True),
                interval(r["diff_low"], r["diff_high"]),
                interval(r["unpaired_low"], r["unpaired_high"]),
                width,
            ]
        )
    if not rows:
        return ""
    return table(
        [
            "policy",
            "extra profit per customer",
            "paired by seed (used here)",
            "as if independent runs",
            "the paired interval is",
        ],
        rows,
    )


def holdout_table(comparison: pd.DataFrame, order: list[str], baseline: str) -> str:
    profit = kpi_rows(comparison, NPC)
    if "holdout_estimate" not in profit or profit["holdout_estimate"].isna().all():
        return ""
    rows = []
    for name in order:
        if name == baseline or name not in profit.index:
            continue
        r = profit.loc[name]
        if not math.isfinite(r["holdout_estimate"]):
            continue
        rows.append(
            [
                esc(name),
                money(r["diff"], True),
                money(r["holdout_estimate"], True),
                interval(r["holdout_low"], r["holdout_high"]),
                pct(r["holdout_covers"], 0) if math.isfinite(r["holdout_covers"]) else "n/a",
            ]
        )
    return table(
        [
            "policy",
            "true extra profit per customer (simulation only)",
            "holdout-measured (average of runs)",
            "a single run's holdout interval (typical)",
            "runs whose interval covered the truth",
        ],
        rows,
    )


# ---------------------------------------------------------------------------- assumptions
BEHAVIOUR_NOTES = {
    "message_purchase_prob": "chance a read message alone brings a purchase",
    "offer_pull": "how strongly an open offer raises visits",
    "fatigue_half_life_days": "days for message fatigue to halve",
    "fatigue_read_penalty": "how much fatigue cuts the chance a message is read",
    "fatigue_opt_out": "how much fatigue raises opting out",
    "fatigue_churn": "how much fatigue raises silent churn",
    "personal_effect": "response to a personal message relative to a generic one",
    "recognition_churn": "how much VIP status or an advisor lowers churn",
    "revival_prob": "chance a read win-back offer revives a lapsed customer",
}
# what a varied setting means, by its last part (population.behaviour.* as above)
SETTING_NOTES = {
    **BEHAVIOUR_NOTES,
    "dropout_s": "Pareto/NBD dropout shape: higher means customers leave sooner (mean hazard "
    "s / beta)",
    "dropout_beta_days": "Pareto/NBD dropout scale: higher means customers stay longer",
    "purchase_r": "Pareto/NBD purchase shape: higher means customers buy more often",
    "purchase_alpha_days": "Pareto/NBD purchase scale: higher means customers buy less often",
}


def assumptions(config: dict[str, Any], seeds: list[int], varied: list[str] = ()) -> str:
    """Store, population, channels and behaviour parameters behind the run (`varied`: the
    parameters a robustness sweep varied, shown as such)."""
    store, pop = config.get("store", {}), config.get("population", {})
    beh = pop.get("behaviour", {})
    twin = pop.get("twin_file") if pop.get("kind") == "twin" else None
    who = (
        f"{config.get('customers', 0):,}, the store's own (a digital twin from "
        f"{esc(str(twin))}: each continues her recorded history)"
        if twin
        else f"{config.get('customers', 0):,}, drawn from the population's distributions"
    )
    run_rows = [
        ["customers on record on day 0", who],
        ["days simulated", f"{config.get('days')} from {store.get('start_date')}"],
        ["simulated repeats (seeds)", f"{len(seeds)}: {', '.join(map(str, seeds))}"],
        ["holdout (control group kept out of every action)", pct(config.get("holdout", 0), 0)],
        ["store", esc(store.get("name", "?"))],
        [
            "styles (share of the range)",
            ", ".join(
                f"{esc(s)} {m:.0%}"
                for s, m in zip(store.get("styles", []), store.get("style_mix", []), strict=False)
            ),
        ],
        ["gross margin", pct(store.get("gross_margin", math.nan), 0)],
        ["VIP threshold (spend a year)", money(store.get("vip_spend_threshold", math.nan))],
    ]
    r, alpha = pop.get("purchase_r"), pop.get("purchase_alpha_days")
    s, beta = pop.get("dropout_s"), pop.get("dropout_beta_days")
    p, q, g = pop.get("spend_p"), pop.get("spend_q"), pop.get("spend_gamma")
    if None not in (r, alpha):
        run_rows.append(["visits a year while a customer (average)", f"{r / alpha * 365:.1f}"])
    if None not in (s, beta):
        yearly = 1 - (beta / (beta + 365)) ** s
        run_rows.append(
            [
                "a new customer's chance of being silently lost within her first year, with "
                "no marketing (model; the table's true churn is lower: it counts customers "
                "alive on day 0, whose survival so far marks the less likely to leave)",
                "varied" if "dropout_s" in varied else pct(yearly, 0),
            ]
        )
    if None not in (p, q, g) and q > 1:
        run_rows.append(["average ticket", money(p * g / (q - 1))])
    run_rows.append(
        [
            "new customers a year (share of the base)",
            pct(pop.get("new_customers_per_year", math.nan), 0),
        ]
    )
    behaviour_rows = [
        [f"{esc(k)}<br><small>{esc(v)}</small>", "varied" if k in varied else f"{beh[k]:g}"]
        for k, v in BEHAVIOUR_NOTES.items()
        if k in beh
    ]
    channel_rows = [
        [
            esc(name),
            pct(c.get("reach", math.nan), 0),
            pct(c.get("read_rate", math.nan), 0),
            money(c.get("cost", math.nan)),
            pct(c.get("opt_out_rate", math.nan), 2),
            "yes" if c.get("needs_staff") else "",
        ]
        for name, c in (config.get("channels") or {}).items()
    ]
    return (
        '<div class="cols">'
        + "<div><h3>Store and customers</h3>"
        + table(["", ""], run_rows, cls="kv")
        + "</div>"
        + "<div><h3>Behaviour (uncertain: see robustness)</h3>"
        + table(["parameter", "value"], behaviour_rows, cls="kv")
        + "<h3>Channels</h3>"
        + table(
            ["channel", "reach", "read", "cost per send", "opt-out per send", "staff"],
            channel_rows,
            cls="compact",
        )
        + "</div></div>"
    )


def strategy_settings(configs: dict[str, dict[str, Any]]) -> str:
    rows = []
    for name, strategy in configs.items():
        target = str(strategy.get("_target_", "")).rsplit(".", 1)[-1]
        settings = ", ".join(
            f"{esc(k)}={esc(_short(v))}" for k, v in _leaves(strategy) if not k.endswith("_target_")
        )
        rows.append([esc(name), esc(target), settings or "<small>(no settings)</small>"])
    return table(["policy", "class", "settings"], rows, numeric_from=99, cls="settings")


def _leaves(settings: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested settings as dotted keys (`cap.limits.sms.max=1`): a capped policy's whole cap
    in one value was cut short, hiding the one limit that told two variants apart."""
    leaves = []
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            leaves += _leaves(value, f"{prefix}{key}.")
        else:
            leaves.append((f"{prefix}{key}", value))
    return leaves


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 140 else text[:137] + "..."


# ---------------------------------------------------------------------------- the rest
def missing_section(missing: list) -> str:
    if not missing:
        return ""
    rows = [
        [
            esc(j.name),
            esc(j.strategy),
            esc(j.seed if j.seed is not None else "?"),
            esc(j.status),
            esc(j.error or ""),
        ]
        for j in missing
    ]
    return (
        '<section class="missing"><h2>Missing runs</h2>'
        f"<p>{len(missing)} run(s) of this sweep produced no usable results, so the figures above "
        "leave them out and compare only seeds that every policy shown completed. Rerun them "
        "(the overrides are in each job's <code>.hydra/overrides.yaml</code>), then rebuild "
        "with <code>retail-sim-report SWEEP_DIR</code>.</p>"
        + table(["job", "policy", "seed", "status", "reason"], rows, numeric_from=99)
        + "</section>"
    )


def problems_section(problems: list[str]) -> str:
    """What the sweep had that could not be read, first: a partial picture must not pass for
    a whole one."""
    if not problems:
        return ""
    items = "".join(f"<li>{esc(p)}</li>" for p in problems)
    return (
        '<section class="missing"><p><b>This report may be incomplete</b>: some of the '
        f"sweep's files could not be read.</p><ul>{items}</ul></section>"
    )


def glossary(kpis: list[str]) -> str:
    notes = {**GLOSSARY, **DERIVED_GLOSSARY}
    rows = [[f"<code>{esc(k)}</code>", esc(notes[k])] for k in kpis if k in notes]
    return table(["KPI", "meaning"], rows, numeric_from=99, cls="glossary")


CSS = """
*{box-sizing:border-box}
body{font-family:-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1d2733;
 margin:0;background:#f4f5f7;line-height:1.5;font-size:16px}
main{max-width:1080px;margin:0 auto;padding:24px 32px 48px;background:#fff;min-height:100vh}
h1{font-size:26px;margin:8px 0 2px}
h2{font-size:20px;margin:34px 0 8px;border-bottom:2px solid #e3e6ea;padding-bottom:4px}
h3{font-size:16px;margin:18px 0 6px}
.sub{color:#5b6673;margin:0 0 14px}.badge{display:inline-block;background:#fff4e0;color:#8a4b00;
 border:1px solid #f0c987;border-radius:4px;padding:1px 8px;font-size:13px;margin-left:6px}
.finding{background:#eef4ff;border-left:5px solid #1f3b73;padding:14px 18px;font-size:17px;
 margin:14px 0 6px}
.note{color:#5b6673;font-size:14px}
table{border-collapse:collapse;margin:8px 0 4px;font-size:14px;width:100%}
th{background:#f0f2f5;text-align:left;font-weight:600;padding:6px 8px;vertical-align:bottom}
td{padding:5px 8px;border-top:1px solid #e6e8eb;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.key td.num small{color:#5b6673}
table.settings td{font-size:13px}
figure{margin:18px 0 8px}figure img{width:100%;height:auto;display:block}
figcaption{color:#4a5562;font-size:14px;margin-top:4px}
.cols{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:28px}
table.kv td.name{width:58%}table.kv td.num{white-space:normal}
table.compact td.num{white-space:normal}
@media (max-width:900px){.cols{grid-template-columns:1fr}main{padding:16px}}
.missing{background:#fff6f6;border:1px solid #f3c2c2;padding:4px 16px 12px;border-radius:6px}
code{background:#f0f2f5;padding:1px 4px;border-radius:3px;font-size:90%}
footer{margin-top:36px;color:#5b6673;font-size:13px}
"""


def page(title: str, subtitle: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
        f'<h1>{esc(title)}</h1><p class="sub">{subtitle}</p>{body}</main></body></html>\n'
    )
