"""`retail-sim-report SWEEP_DIR`: the aggregates and the report of a finished or partly
finished sweep.

    retail-sim-report multirun/2026-11-23/10-00-00-123456

writes `summary.csv`, `comparison.csv` and `report.html` into the sweep directory (plus
`robustness.csv` for a robustness sweep, and for a tuning sweep the validation runs of the
best setting). Jobs without results are listed in the report as missing; the others are
reported as usual. A sweep run with `experiment=...` builds all this by itself at the end.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from experiments import aggregate as agg
from experiments import tune
from experiments.destination import folder_problem
from experiments.errors import exit_on_user_error
from reports import figures as fig
from reports import html as h

REPORT = "report.html"
ROBUSTNESS = "robustness.csv"


@dataclass
class Built:
    """What `build` wrote and found."""

    sweep_dir: Path
    kind: str  # compare | robustness | tune
    jobs: list[agg.Job]
    report: Path
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what could not be read, one line each

    @property
    def missing(self) -> list[agg.Job]:
        return agg.missing(self.jobs)


def _representative_config(jobs: list[agg.Job], baseline: str) -> dict[str, Any]:
    done = [j for j in jobs if j.done and j.config]
    for job in done:
        if job.strategy == baseline:
            return _as_run(job)
    return _as_run(done[0]) if done else {}


def _as_run(job: agg.Job) -> dict[str, Any]:
    """The job's config as the run had it: a twin brings its own customers (its `customers`
    setting is ignored), counted from the run's KPIs, both arms."""
    config = job.config
    if (config.get("population") or {}).get("kind") != "twin":
        return config
    arms = [job.metrics, job.metrics.get("holdout") or {}]
    day0 = sum(int(a.get("customers") or 0) - int(a.get("new_customers") or 0) for a in arms)
    return {**config, "customers": day0}


def _strategy_configs(jobs: list[agg.Job], order: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for job in jobs:
        if job.config and job.strategy not in found:
            found[job.strategy] = job.config.get("strategy") or {}
    return {name: found[name] for name in order if name in found}


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _seeds(summary: pd.DataFrame) -> list[int]:
    done = summary[summary["status"] == "done"]
    return sorted(int(s) for s in done["seed"].dropna().unique())


# ---------------------------------------------------------------------------- compare
def compare_body(
    jobs: list[agg.Job],
    summary: pd.DataFrame,
    comparison: pd.DataFrame,
    baseline: str,
    problems: list[str],
) -> tuple[str, str]:
    config = _representative_config(jobs, baseline)
    holdout, days = float(config.get("holdout", 0.0)), int(config.get("days", 0))
    done = summary[summary["status"] == "done"]
    order = agg.strategies_in_order(done, baseline) if not done.empty else []
    profit = h.kpi_rows(comparison, h.NPC) if not comparison.empty else pd.DataFrame()
    if "diff" in profit:  # best first, the baseline last
        ranked = profit.drop(index=baseline, errors="ignore").sort_values("diff", ascending=False)
        order = [*ranked.index, *([baseline] if baseline in profit.index else [])]
    colours = fig.palette(order, baseline)
    daily = agg.daily_table(jobs, scenario="", problems=problems)
    seeds = _seeds(summary)
    parts = []
    if comparison.empty:
        parts.append('<p class="finding">No run of this sweep has finished yet.</p>')
    else:
        parts.append(
            '<p class="finding">' + h.finding(summary, comparison, baseline, days) + "</p>"
        )
        parts.append(
            '<p class="note">Intervals are 95% intervals over the simulated repeats (seeds): they '
            "measure the simulation's own randomness, not whether the behaviour assumptions at "
            "the bottom of this page are right (<code>experiment=robustness</code> checks "
            "that). A simulation is a way to compare policies under stated assumptions, not a "
            "promise of what a store will earn.</p>"
        )
        parts.append("<h2>The policies side by side</h2>")
        parts.append(h.key_numbers(summary, comparison, order, baseline))
        parts.append(
            f'<p class="note">Per customer: over the {days} days, the store\'s total (what '
            "newcomers and referred friends bring included) per customer on record on day 0"
            + (
                ", outside the holdout; the whole-base figure scales it to every day-0 "
                "customer, holdout included."
                if holdout > 0
                else "; the whole-base figure scales it to all of them."
            )
            + ' "Beat" counts the seeds on which the policy earned more than the baseline, '
            "starting from the very same simulated customers.</p>"
        )
        parts.append(
            h.figure(
                fig.incremental_profit(comparison, order, colours, baseline),
                f"Extra net profit per customer against {h.nothing(baseline)}, with its 95% "
                "interval (paired by seed); an interval that crosses the vertical line at zero "
                "means the policy may not pay at all.",
                "incremental profit per strategy",
            )
        )
        parts.append(
            h.figure(
                fig.profit_vs_optouts(comparison, order, colours, baseline),
                "Each policy's extra profit against the share of customers who opted out of or "
                "blocked at least one channel. Policies to the right annoy more customers for "
                "their profit: past some frequency, care turns into harassment.",
                "profit against opt-outs",
            )
        )
        parts.append("<h2>Customers over the year</h2>")
        parts.append(
            h.figure(
                fig.retention(daily, order, colours, baseline),
                "Left: share of customers who bought in the last 90 days, day by day (average "
                f"over seeds; every customer on record{', holdout included' if holdout else ''})"
                ". Right: the same minus the baseline on the same seeds, in percentage points: "
                "above zero, the policy keeps more customers buying.",
                "retention curves",
            )
        )
        parts.append(
            h.figure(
                fig.repurchase_reactivation(comparison, order, colours, baseline),
                "Repurchase: customers who bought at least twice among those who bought. "
                "Reactivation: customers silent 180+ days who bought again. Dashed line: the "
                "baseline; whiskers: 95% interval of the difference against it.",
                "repurchase and reactivation",
            )
        )
        parts.append(
            h.figure(
                fig.messages_fatigue(daily, order, colours),
                "Left: messages sent per customer on record since the start (all channels, "
                "calls included). Right: the customers' mean message fatigue (14-day average): "
                "fatigue lowers reads and raises opt-outs and churn. Both count every customer "
                f"on record ({'the holdout and ' if holdout else ''}newcomers included), so "
                "they run below the table's figures per customer on day 0.",
                "message volume and fatigue",
            )
        )
        tier_png = fig.tiers(daily, order)
        parts.append("<h2>Tiers and VIPs</h2>")
        if tier_png:
            parts.append(
                h.figure(
                    tier_png,
                    "Members (customers who hold a loyalty tier, from the lowest, 1, up) by tier "
                    "over the run, as a share of all members, not of all customers.",
                    "tiers",
                )
            )
        else:
            recorded = any(c.startswith("tier_") for c in daily.columns)
            why = (
                "no policy in this sweep gives customers loyalty tiers"
                if recorded
                else "needs a daily count of customers per loyalty tier, which the runs of "
                "this sweep did not record"
            )
            parts.append(
                f'<p class="note">Tier movement over time: {why}. Shown instead: the VIP '
                "share at the end of the run (spend over the last year above the store's VIP "
                "threshold).</p>"
            )
        parts.append(
            h.figure(
                fig.vip(comparison, order, colours),
                "VIP share of customers and of revenue at the end of the run.",
                "VIP shares",
            )
        )
        parts.append("<h2>How sure are we?</h2>")
        parts.append(h.pairing(comparison, order, baseline))
        parts.append(h.paired_vs_unpaired(comparison, order, baseline))
        holdout_html = h.holdout_table(comparison, order, baseline)
        if holdout_html and baseline != agg.BASELINE:  # the holdout got nothing, not baseline
            parts.append(
                f'<p class="note">A holdout measures a policy against sending nothing, while '
                f"this report compares with {h.nothing(baseline)}: build it against "
                f"{agg.BASELINE} to set the holdout's measurement beside the truth.</p>"
            )
        elif holdout_html:
            parts.append("<h3>What a real store would measure</h3>")
            parts.append(
                f"<p>A real store never sees the true effect: it compares customers who got the "
                f"policy with a random holdout ({holdout:.0%} of customers here) who got "
                "nothing. The table shows that measurement next to the truth that only a "
                "simulation knows. The holdout interval is much wider: a store testing a "
                "policy for real needs a large enough holdout, or long enough, to see an "
                "effect this size. A run's 95% interval should cover the truth in about 19 "
                "runs of 20; over a handful of runs, a share of 60-100% is what chance gives. "
                "The holdout does not see everything: friends referred by treated customers "
                "join both arms, so an effect through referrals reaches the holdout too.</p>"
            )
            parts.append(
                h.figure(
                    fig.holdout_vs_truth(comparison, order, baseline, holdout),
                    "Filled: the true extra profit and its interval over the seeds. Hollow: the "
                    "holdout measurement of a single run, averaged over the runs, with the "
                    "interval such a run reports. For a given seed every policy has the same "
                    "holdout customers, so their holdout estimates move together: a lucky or "
                    "unlucky holdout shifts them all.",
                    "holdout against truth",
                )
            )
            parts.append(holdout_html)
    parts.append("<h2>Assumptions behind this run</h2>")
    parts.append(h.assumptions(config, seeds) if config else "<p>No finished run.</p>")
    parts.append("<h3>The policies' settings</h3>")
    parts.append(h.strategy_settings(_strategy_configs(jobs, order)))
    parts.append(h.missing_section(agg.missing(jobs)))
    parts.append("<h2>Glossary</h2>")
    parts.append(
        h.glossary(
            [
                "net_profit_per_customer",
                "net_profit",
                "marketing_cost",
                "incremental_roi",
                "messages_per_customer",
                "opt_out_rate",
                "repurchase_rate",
                "reactivation_rate",
                "churn_rate",
                "vip_share",
                "vip_revenue_share",
            ]
        )
    )
    store = (config.get("store") or {}).get("name", "the store")
    subtitle = (
        f"{h.esc(store)} · {config.get('customers', 0):,} customers · {days} days · "
        f"{len(seeds)} seeds · {len(order)} policies"
        '<span class="badge">simulation, not a forecast</span>'
    )
    return subtitle, "".join(parts)


# ---------------------------------------------------------------------------- robustness
def robustness_tables(
    summary: pd.DataFrame, comparison: pd.DataFrame, baseline: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    """Per scenario x strategy the extra profit per customer; per strategy how often it was
    best, clearly best (its paired lead over the runner-up excludes zero) and beat the
    baseline beyond the noise."""
    profit = comparison[(comparison["kpi"] == h.NPC) & (comparison["strategy"] != baseline)]
    if profit.empty or "diff" not in profit:
        empty = pd.DataFrame()
        return empty, empty, pd.Series(dtype=object), pd.Series(dtype=bool)
    grid = profit.pivot_table(index="scenario", columns="strategy", values="diff", sort=False)
    order = [s for s in agg.strategies_in_order(summary, baseline) if s in grid.columns]
    grid = grid[order]
    low = profit.pivot_table(index="scenario", columns="strategy", values="diff_low", sort=False)
    low = low.reindex(index=grid.index, columns=grid.columns)  # one seed: no interval at all
    best, clear = {}, {}
    for scenario, row in grid.iterrows():
        ranked = row.dropna().sort_values(ascending=False)
        if ranked.empty:
            continue
        best[scenario] = ranked.index[0]
        # the runner-up: the next policy, or with a single policy, sending nothing
        clear[scenario] = bool(
            low.loc[scenario, ranked.index[0]] > 0
            if len(ranked) == 1
            else agg.pairwise(summary, ranked.index[0], ranked.index[1], h.NPC, scenario).low > 0
        )
    best_s, clear_s = pd.Series(best, dtype=object), pd.Series(clear, dtype=bool)
    rows = []
    for name in order:
        rows.append(
            {
                "strategy": name,
                "scenarios": int(grid[name].notna().sum()),
                "best": int((best_s == name).sum()),
                "clearly_best": int(((best_s == name) & clear_s).sum()),
                "beats_baseline": int((low[name] > 0).sum()) if name in low else 0,
                "mean_extra_profit_per_customer": float(grid[name].mean()),
                "worst_extra_profit_per_customer": float(grid[name].min()),
            }
        )
    wins = (
        pd.DataFrame(rows)
        .set_index("strategy")
        .sort_values(["best", "clearly_best", "mean_extra_profit_per_customer"], ascending=False)
    )
    return grid, wins, best_s, clear_s


def _tipping_point(best: pd.Series) -> str:
    """The assumption whose value best tells which policy wins (scenario labels are
    `key=value, ...`), with the winner at each of its values; or that none does alone."""
    values = pd.DataFrame(
        [dict(pair.split("=", 1) for pair in str(label).split(", ")) for label in best.index],
        index=best.index,
    )
    overall = int(best.value_counts().iloc[0])

    explained = {  # per setting: scenarios won by the usual winner at their value
        key: sum(int(g.value_counts().iloc[0]) for _, g in best.groupby(values[key].to_numpy()))
        for key in values.columns
    }
    key = max(explained, key=explained.get)
    if explained[key] <= overall:
        return (
            "No single assumption decides the winner: it changes across their combinations "
            "(see the figure below), so measure the policies' effect before committing."
        )
    at = []
    for value, winners in best.groupby(values[key].to_numpy(), sort=False):
        counts = winners.value_counts()
        at.append(
            f"at {h.esc(value)}, {h.esc(counts.index[0])} in {counts.iloc[0]} of {len(winners)}"
        )
    return (
        f"The assumption that tips it is <b>{h.esc(key)}</b>: the best policy is, "
        + "; ".join(at)
        + ". That is what to measure (e.g. with a holdout test) before committing."
    )


def robustness_body(
    jobs: list[agg.Job],
    summary: pd.DataFrame,
    comparison: pd.DataFrame,
    baseline: str,
    sweep_dir: Path,
) -> tuple[str, str]:
    grid, wins, best, clear = robustness_tables(summary, comparison, baseline)
    config = _representative_config(jobs, baseline)
    if not wins.empty:
        agg.write_csv(wins.reset_index(), sweep_dir / ROBUSTNESS)
    n = len(grid)
    parts = []
    if wins.empty:
        parts.append('<p class="finding">No scenario has both a baseline and a policy run yet.</p>')
    else:
        top = wins.index[0]
        w = wins.loc[top]
        others = [
            f"{h.esc(s)} in {int(wins.loc[s, 'best'])}"
            for s in wins.index[1:]
            if wins.loc[s, "best"]
        ]
        text = (
            f"Across {n} combinations of the uncertain behaviour parameters, "
            f"<b>{h.esc(top)}</b> earns the most incremental profit in <b>{int(w['best'])} of "
            f"{n}</b> (clearly, beyond the noise, in {int(w['clearly_best'])})"
        )
        text += f"; {', '.join(others)}." if others else "."
        text += (
            f" {h.esc(top)} beats {h.nothing(baseline)} beyond the noise in "
            f"{int(w['beats_baseline'])} of {int(w['scenarios'])} scenarios; its extra profit "
            f"per customer ranges from {h.money(w['worst_extra_profit_per_customer'], True)} "
            f"to {h.money(float(grid[top].max()), True)}."
        )
        pairs = comparison.loc[comparison["kpi"] == h.NPC, "n_pairs"].max()
        if not pairs >= 2:
            text += (
                " With a single seed per scenario nothing can be told from luck (there is no "
                "interval): run at least two, e.g. seed=range(1,4)."
            )
        elif int(w["beats_baseline"]) == 0:
            text += (
                f" It never earns clearly more than {h.nothing(baseline)}: under these "
                "assumptions none of these policies is shown to do better."
            )
        elif int(w["best"]) == n:
            text += " The choice does not hinge on these assumptions."
        else:
            text += " " + _tipping_point(best)
        parts.append(f'<p class="finding">{text}</p>')
        colours = fig.palette([baseline, *wins.index], baseline)
        parts.append(
            h.figure(
                fig.wins(wins, colours),
                "Light bars: scenarios where the policy had the highest extra profit; dark bars: "
                "where its lead over the runner-up was beyond the noise (paired 95% interval "
                "excludes zero).",
                "wins per policy",
            )
        )
        rows = [
            [
                h.esc(s),
                f"{int(r['best'])} / {int(r['scenarios'])}",
                str(int(r["clearly_best"])),
                str(int(r["beats_baseline"])),
                h.money(r["mean_extra_profit_per_customer"], True),
                h.money(r["worst_extra_profit_per_customer"], True),
            ]
            for s, r in wins.iterrows()
        ]
        parts.append(
            h.table(
                [
                    "policy",
                    "best in",
                    "clearly best",
                    f"beats {baseline} (beyond noise)",
                    "mean extra profit / customer",
                    "worst scenario",
                ],
                rows,
            )
        )
        keys = [pair.split("=", 1)[0] for pair in str(grid.index[0]).split(", ")]
        short = {s: " · ".join(v.split("=", 1)[1] for v in str(s).split(", ")) for s in grid.index}
        parts.append(
            h.figure(
                fig.robustness_heatmap(
                    grid.rename(index=short), best.rename(index=short), " · ".join(keys)
                ),
                f"Extra net profit per customer against {h.nothing(baseline)}, per scenario "
                "(row) and policy (column), averaged over seeds.",
                "robustness heatmap",
            )
        )
    varied = _varied_parameters(jobs)
    if varied:
        parts.append("<h2>What was varied</h2>")
        parts.append(
            h.table(
                ["parameter", "what it means", "values tried"],
                [
                    [
                        f"<code>{h.esc(k)}</code>",
                        h.esc(h.SETTING_NOTES.get(k.rsplit(".", 1)[-1], "")),
                        ", ".join(map(h.esc, v)),
                    ]
                    for k, v in varied.items()
                ],
                numeric_from=99,
            )
        )
    parts.append("<h2>Assumptions held fixed</h2>")
    fixed = h.assumptions(config, _seeds(summary), varied=[k.rsplit(".", 1)[-1] for k in varied])
    parts.append(fixed if config else "")
    order = agg.strategies_in_order(summary, baseline) if not summary.empty else []
    parts.append("<h3>The policies' settings</h3>")
    parts.append(h.strategy_settings(_strategy_configs(jobs, order)))
    parts.append(h.missing_section(agg.missing(jobs)))
    subtitle = (
        f"{n} scenarios · {len(wins)} policies · {len(_seeds(summary))} seeds each"
        '<span class="badge">simulation, not a forecast</span>'
    )
    return subtitle, "".join(parts)


def _setting(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:.3g}" if isinstance(value, float) else h.esc(value)


def _varied_parameters(jobs: list[agg.Job]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for job in jobs:
        for k, v in job.scenario.items():
            if v not in values.setdefault(k, []):
                values[k].append(v)
    return values


# ---------------------------------------------------------------------------- tune
def tune_body(
    sweep_dir: Path,
    jobs: list[agg.Job],
    best: dict[str, Any] | None,
    baseline: str,
    validation_seeds: list[int],
    n_jobs: int,
) -> tuple[str, str]:
    best = best or {}
    params = list(best)
    trials = tune.trials_table(jobs, params)
    parts = []
    val_dir = None
    if best and validation_seeds:
        val_dir = tune.validate(sweep_dir, best, jobs, validation_seeds, baseline, n_jobs=n_jobs)
    vjobs, vsummary, vcomp = ([], pd.DataFrame(), pd.DataFrame())
    if val_dir is not None:
        vjobs, vsummary, vcomp = agg.aggregate(val_dir, baseline)
    setting = ", ".join(f"{k.removeprefix('strategy.')}={v}" for k, v in best.items())
    if not best:
        parts.append(
            '<p class="finding">The optimiser has not finished (no optimization_results.yaml): '
            "the trials so far are shown below.</p>"
        )
    elif vcomp.empty:
        parts.append(f'<p class="finding">Best setting found: <b>{h.esc(setting)}</b>.</p>')
    else:
        profit = h.kpi_rows(vcomp, h.NPC)
        names = [s for s in profit.index if s != baseline]
        tuned = max(names, key=len)  # the label with the tuned settings
        default = min(names, key=len)
        t, d = profit.loc[tuned], profit.loc[default]
        lead = agg.pairwise(vsummary, tuned, default, h.NPC)
        seeds = ", ".join(map(str, validation_seeds))
        text = (
            f"Best setting found: <b>{h.esc(setting)}</b>. Re-run on {len(validation_seeds)} "
            f"fresh seeds ({seeds}) that the optimiser never saw, it earns "
            f"<b>{h.money(t['diff'], True)} per customer</b> more than {h.nothing(baseline)} (95% "
            f"interval {h.interval(t['diff_low'], t['diff_high'])}), against "
            f"{h.money(d['diff'], True)} ({h.interval(d['diff_low'], d['diff_high'])}) for the "
            f"default setting. Tuned minus default: {h.money(lead.estimate, True)} per customer "
            f"({h.interval(lead.low, lead.high)})"
        )
        if lead.low > 0:
            text += ": the tuning pays beyond the noise."
        elif lead.high < 0:
            text += (
                ": the tuned setting does worse than the default on fresh seeds, so its lead on "
                "the tuning seed was luck. Keep the default, or tune on more seeds."
            )
        else:
            text += (
                ": within the noise. These seeds cannot tell the two apart, which is not the "
                "same as showing them equal: keep the default unless more fresh seeds (more "
                "hydra.callbacks.report.validation_seeds) show the tuned setting ahead."
            )
        parts.append(f'<p class="finding">{text}</p>')
        order = [tuned, default, baseline]
        colours = fig.palette(order, baseline)
        parts.append(
            h.figure(
                fig.incremental_profit(vcomp, order, colours, baseline),
                "Tuned and default settings on the fresh seeds: extra net profit per customer "
                f"against {h.nothing(baseline)}, with 95% paired intervals.",
                "validation",
            )
        )
        parts.append(h.key_numbers(vsummary, vcomp, order, baseline))
    if not trials.empty:
        parts.append("<h2>The search</h2>")
        parts.append(
            h.figure(
                fig.tune_history(trials, params, "net_profit_per_customer"),
                "Each trial's net profit per customer on the tuning seed; the best so far; and "
                "where in the settings the optimiser looked. On one seed, neighbouring settings "
                "can differ by luck as much as by their effect: the climb of the best so far "
                "overstates what tuning gains, and the fresh seeds above are what counts.",
                "optimisation history",
            )
        )
        top = trials.sort_values("net_profit_per_customer", ascending=False).head(10)
        parts.append(
            h.table(
                [
                    "trial",
                    *[p.removeprefix("strategy.") for p in params],
                    "net profit per customer",
                ],
                [
                    [
                        str(int(r["trial"])),
                        *[_setting(r[p]) for p in params],
                        h.money(r["net_profit_per_customer"]),
                    ]
                    for _, r in top.iterrows()
                ],
            )
        )
        parts.append(
            '<p class="note">The best trial\'s own figure is flattering (it was picked for '
            "doing well on that seed), which is why the finding above uses fresh seeds.</p>"
        )
    config = _representative_config(jobs, baseline)
    parts.append("<h2>Assumptions behind this run</h2>")
    parts.append(h.assumptions(config, _seeds(agg.summary_table(jobs))) if config else "")
    parts.append(h.missing_section(agg.missing(jobs)))
    subtitle = (
        f"{len(trials)} trials · validated on {len(validation_seeds or [])} fresh seeds"
        '<span class="badge">simulation, not a forecast</span>'
    )
    return subtitle, "".join(parts)


# ---------------------------------------------------------------------------- build
def detect_kind(sweep_dir: Path, jobs: list[agg.Job], plan: dict[str, Any]) -> str:
    if (sweep_dir / tune.RESULTS).exists():
        return "tune"
    if plan.get("validation_seeds") and not plan.get("jobs"):
        return "tune"
    if len({agg.scenario_label(job.scenario) for job in jobs}) > 1:
        return "robustness"
    return "compare"


def check_baseline(baseline: str, jobs: list[agg.Job]) -> None:
    """A baseline the sweep did not run leaves nothing to compare with: refuse it before the
    sweep's tables are overwritten."""
    strategies = [s for s in dict.fromkeys(job.strategy for job in jobs) if s != "?"]
    if baseline not in strategies:
        raise ValueError(
            f"--baseline '{baseline}' is not a strategy of this sweep: choose one of "
            + (", ".join(strategies) or "its strategies (it has no runs yet)")
        )


def build(sweep_dir: Path, baseline: str | None = None, validate: bool = True) -> Built:
    """Aggregate the sweep and write its report; see the module docstring."""
    sweep_dir = Path(sweep_dir).absolute()
    agg.check_sweep_dir(sweep_dir)
    problem = folder_problem(sweep_dir)
    if problem:  # e.g. a sweep shared read-only: found before a tuning sweep's fresh runs
        raise ValueError(
            f"{sweep_dir}: {problem}: the report is written into the sweep's folder; copy the "
            "sweep to a folder you can write to and build it there"
        )
    for name in (agg.SUMMARY, agg.COMPARISON, REPORT, ROBUSTNESS):
        if (sweep_dir / name).is_dir():  # it could not be replaced, and half would be written
            raise ValueError(
                f"{sweep_dir / name} is a folder, where the report writes a file: move it away"
            )
    plan, plan_problem = agg.read_plan(sweep_dir)
    jobs = agg.find_jobs(sweep_dir, plan)
    kind = detect_kind(sweep_dir, jobs, plan)
    best = None
    if kind == "tune":
        best = tune.best_params(sweep_dir)  # readable, before anything is written
    elif baseline is not None:  # a tuning sweep runs its baseline afresh
        check_baseline(baseline, jobs)
    problems: list[str] = []
    if plan_problem:
        problems.append(
            f"{plan_problem}: runs that never started cannot be listed as missing, so the "
            "report may leave some out"
            + ("" if baseline else f"; it compares with {agg.BASELINE}, the default (--baseline)")
            + ("; the validation seeds are unknown: no fresh-seed check" if kind == "tune" else "")
        )
    baseline = baseline or plan.get("baseline") or agg.BASELINE
    jobs, summary, comparison = agg.aggregate(sweep_dir, baseline, jobs)
    if kind == "tune":
        seeds = plan.get("validation_seeds") if validate else []
        n_jobs = plan.get("n_jobs") if isinstance(plan.get("n_jobs"), int) else 1
        subtitle, body = tune_body(sweep_dir, jobs, best, baseline, seeds, n_jobs)
        title = "Tuning a retention policy"
    elif kind == "robustness":
        subtitle, body = robustness_body(jobs, summary, comparison, baseline, sweep_dir)
        title = "Does the best policy stay best?"
    else:
        subtitle, body = compare_body(jobs, summary, comparison, baseline, problems)
        title = "Which retention policy pays?"
    footer = (
        f"<footer>Built from {h.esc(sweep_dir)} by <code>retail-sim-report</code>: "
        f"{sum(j.done for j in jobs)} of {len(jobs)} runs finished. Data: "
        f"<code>{agg.SUMMARY}</code> (one row per run), <code>{agg.COMPARISON}</code> (each "
        f"policy against {h.esc(baseline)}, paired by seed); each run's folder holds its "
        "metrics.json, daily series and config.yaml.</footer>"
    )
    report = sweep_dir / REPORT
    _write(report, h.page(title, subtitle, h.problems_section(problems) + body + footer))
    files = [sweep_dir / agg.SUMMARY, sweep_dir / agg.COMPARISON, report]
    if (sweep_dir / ROBUSTNESS).exists():
        files.insert(2, sweep_dir / ROBUSTNESS)
    return Built(sweep_dir, kind, jobs, report, files, problems)


def tell(built: Built, elapsed: float | None = None, out: TextIO | None = None) -> None:
    out = out or sys.stdout  # the current one: a default bound at import misses redirection
    done = sum(j.done for j in built.jobs)
    took = f" in {elapsed:.0f} s" if elapsed is not None and math.isfinite(elapsed) else ""
    print(f"retail-sim: {done} of {len(built.jobs)} runs finished{took}", file=out)
    for path in built.files:
        print(f"  {path.name:<15} {path}", file=out)
    print(f"  open the report: file://{built.report}", file=out)
    if built.missing:
        print(f"  {len(built.missing)} run(s) missing (listed in the report):", file=out)
        for job in built.missing[:10]:
            reason = f": {job.error}" if job.error else ""
            print(f"    job {job.name} ({' '.join(job.overrides)}) {job.status}{reason}", file=out)
        if len(built.missing) > 10:
            print(f"    ... and {len(built.missing) - 10} more", file=out)
    out.flush()
    for problem in built.problems[:10]:
        print(f"retail-sim: warning: {problem}", file=sys.stderr)
    if len(built.problems) > 10:
        print(
            f"retail-sim: warning: ... and {len(built.problems) - 10} more (in the report)",
            file=sys.stderr,
        )
    sys.stderr.flush()


def build_and_tell(
    sweep_dir: Path, interrupted: bool = False, started: float | None = None
) -> Built | None:
    """The end of a sweep: build the report, say where it is; never raise (the runs are safe
    on disk and `retail-sim-report` can rebuild)."""
    try:
        built = build(sweep_dir, validate=not interrupted)
    except Exception as exc:  # noqa: BLE001 - the sweep's results must not be lost to a report bug
        print(
            f"retail-sim: the report could not be built ({type(exc).__name__}: {exc}); the runs "
            f"are in {sweep_dir}: try `retail-sim-report {sweep_dir}`",
            file=sys.stderr,
        )
        return None
    tell(built, time.time() - started if started else None)
    return built


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="retail-sim-report", description=__doc__.split("\n\n")[0].replace("\n", " ")
    )
    parser.add_argument("sweep_dir", type=Path, help="a sweep's output directory (multirun/...)")
    parser.add_argument("--baseline", default=None, help="strategy to compare against (none)")
    parser.add_argument(
        "--no-validate",
        action="store_true",
        help="tuning sweeps: do not run the best setting on fresh seeds",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    with exit_on_user_error("retail-sim-report"):
        built = build(args.sweep_dir, args.baseline, validate=not args.no_validate)
    tell(built)


if __name__ == "__main__":  # `python -m reports.build`: without this it did nothing, silently
    main()
