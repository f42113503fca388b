"""Convergence in the draft's protocol: the share of runs that reach the target, and the epochs,
presentations and labels they need (medians over all runs, a run that never reaches it counting as +inf).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import numpy as np
import pandas as pd
from alnn.report.constants import PROBLEM_LABELS, STRATEGIES, STRATEGY_PROSE, TASK_PROSE
from alnn.report.format import finite, join, pct, words
from alnn.report.context import Context, labels_of
from alnn.report.queries import compare, median_all, TOLERANCE
from alnn.report.claims import (
    check_scope, close, Finding, groups_match, INCREMENTAL, Kind, make, need, on, pool_of, said, scope,
)
from alnn.report.selection import display_ties, pool_mean


CONVERGENCE_RATE = Kind("convergence-rate", __name__, "the converged runs counted from the per-run convergence rows")
FASTER = Kind("faster", __name__, "the medians over all runs (a run that never converged = +inf) recomputed from the "
                                  "per-run convergence rows")
LABELS_RANGE = Kind("labels-range", __name__, "the labels at the target of the converged runs from the per-run "
                                              "convergence rows, over the pool from passive learning's first epoch")
PRESENTATIONS_TO_TARGET = Kind("presentations-to-target", __name__, "the medians over all runs (a run that never "
                                                                    "converged = +inf) recomputed from the per-run "
                                                                    "convergence rows")


def rate_findings(ctx: Context) -> list[Finding]:
    rows = []
    for s in ctx.strategies():
        rs = {p: r for p in ctx.problems if (r := ctx.conv_row(p, s)) is not None}
        if rs:
            rows.append({"strategy": s, "converged": sum(int(r["n_converged"]) for r in rs.values()),
                         "runs": sum(int(r["n_runs"]) for r in rs.values()), "where": scope(ctx, rs),
                         "everywhere": set(rs) == set(ctx.problems)})
    return [make("convergence-rate", (), {"rows": rows})] if rows else []


@CONVERGENCE_RATE.template
def _t_convergence_rate(f: Finding) -> str:
    parts = []
    for r in f.numbers["rows"]:
        w = r["where"]
        qual = "" if r["everywhere"] else (f" ({TASK_PROSE[w['every']]} problems only)"
                                           if w["every"] in TASK_PROSE else f" ({labels_of(w['problems'])} only)")
        parts.append(f"{pct(r['converged'] / r['runs'], 0)} for {STRATEGY_PROSE[r['strategy']]}{qual}")
    return "Over all problems, the share of runs that reached the target was " + join(parts) + "."


def _pairs_to_target(ctx: Context, column: str, tol: float) -> list[dict]:
    """Each strategy against passive learning on each problem: medians over all runs of ``column`` at
    the target, a run that never reached it counting as +inf."""
    out = []
    for p in ctx.problems:
        c = ctx.conv[ctx.conv["dataset"] == p]
        base = c[c["strategy"] == "passive"]
        if base.empty:
            continue
        mp = median_all(base[column], base["converged"])
        for s in ctx.strategies(p):
            runs = c[c["strategy"] == s]
            if s == "passive" or runs.empty:
                continue
            ms = median_all(runs[column], runs["converged"])
            out.append({"problem": p, "strategy": s, "median": ms, "passive": mp, "verdict": compare(ms, mp, tol)})
    return out


def _grouped(ctx: Context, pairs: Sequence[Mapping], verdict: str) -> list[dict]:
    by: dict[str, list[str]] = {}
    for r in pairs:
        if r["verdict"] == verdict:
            by.setdefault(r["strategy"], []).append(r["problem"])
    return [{"strategy": s, "where": scope(ctx, ps)} for s, ps in by.items()]


def _listing(groups: Sequence[Mapping]) -> str:
    return "; ".join(f"{STRATEGY_PROSE[g['strategy']]} {on(g['where'])}" for g in groups)


def _counts(pairs: Sequence[Mapping]) -> dict[str, int]:
    return {v: sum(r["verdict"] == v for r in pairs) for v in ("lower", "higher", "same", "undecided")}


def faster_findings(ctx: Context) -> list[Finding]:
    pairs = _pairs_to_target(ctx, "epochs_to_convergence", 0.0)
    return [make("faster", (), {"pairs": pairs, "faster": _grouped(ctx, pairs, "lower")})]


_CENSORED = ("over all runs, a run that never reached the target counting as needing more than any run that "
             "did, so that a median is finite only when more than half of the runs converged")


@FASTER.template
def _t_faster(f: Finding) -> str:
    n = f.numbers
    c = _counts(n["pairs"])
    decided = len(n["pairs"]) - c["undecided"]
    if not n["pairs"]:
        return "No strategy ran beside passive learning, so epochs to the target cannot be compared."
    if not decided:
        return ("In no (strategy, problem) pair did the strategy or passive learning reach the target in more "
                "than half of its runs, so the median epochs to the target cannot be compared.")
    text = (f"Taking medians {_CENSORED}, a strategy needed fewer epochs than passive learning to reach the "
            f"target in {words(c['lower'], 'none')} of the {words(decided)} (strategy, problem) pairs that can be "
            f"compared" + (f" ({_listing(n['faster'])})" if n["faster"] else "")
            + (f", as many in {words(c['same'])}" if c["same"] else "") + f" and more in {words(c['higher'], 'none')}.")
    if c["undecided"]:
        text += (f" In {words(c['undecided'])} further pair{'s' if c['undecided'] > 1 else ''} neither the strategy "
                 f"nor passive learning reached the target in more than half of its runs.")
    return text


def convergence_text(ctx: Context) -> str:
    return said(rate_findings(ctx) + faster_findings(ctx), ctx)


def presentation_findings(ctx: Context) -> list[Finding]:
    pairs = _pairs_to_target(ctx, "presentations", TOLERANCE)
    return [make("presentations-to-target", (), {"pairs": pairs, "tolerance": TOLERANCE,
                                                 "fewer": _grouped(ctx, pairs, "lower"),
                                                 "same": _grouped(ctx, pairs, "same")})]


@PRESENTATIONS_TO_TARGET.template
def _t_presentations_to_target(f: Finding) -> str:
    n = f.numbers
    c = _counts(n["pairs"])
    decided = len(n["pairs"]) - c["undecided"]
    if not decided:
        return ("Counted in presentations, the strategies cannot be compared with passive learning either: "
                "no pair has a finite median.") if n["pairs"] else ""
    text = (f"Counted in presentations rather than epochs (medians {_CENSORED}; medians less than "
            f"{pct(n['tolerance'], 1)} apart count as equal), ")
    text += (f"a strategy needed fewer presentations than passive learning in {words(c['lower'], 'none')} of the "
             f"{words(decided)} comparable pairs" + (f" ({_listing(n['fewer'])})" if n["fewer"] else "")
             + (f", as many in {words(c['same'])} ({_listing(n['same'])})" if n["same"] else "")
             + f" and more in {words(c['higher'], 'none')}.")
    return text


def labels_range(ctx: Context) -> list[Finding]:
    items = []
    for p in ctx.problems:
        pool = pool_mean(ctx, p)
        for s in INCREMENTAL:
            r = ctx.conv_row(p, s)
            if r is None or not finite(pool) or not pool or not finite(r.get("labels_used_median", np.nan)):
                continue
            items.append([s, p, float(r["labels_used_median"]) / pool])
    if not items:
        return []
    shown = [round(100 * v) for _, _, v in items]
    low = [[s, p] for (s, p, _), v in zip(items, shown) if v == min(shown)]
    high = [[s, p] for (s, p, _), v in zip(items, shown) if v == max(shown)]
    return [make("labels-range", (), {"items": items, "low": low, "high": high})]


@LABELS_RANGE.template
def _t_labels_range(f: Finding) -> str:
    n = f.numbers
    value = {(s, p): v for s, p, v in n["items"]}

    def who(pairs):
        return "; ".join(f"{STRATEGY_PROSE[s]}, {PROBLEM_LABELS[p]}" for s, p in pairs)

    lo, hi = value[tuple(n["low"][0])], value[tuple(n["high"][0])]
    if len(n["low"]) == len(n["items"]):
        return (f"Where the incremental strategies converged, they had used {pct(lo, 0)} of the pool's labels "
                f"(median) in every case.")
    return (f"Where the incremental strategies converged, they had used between {pct(lo, 0)} ({who(n['low'])}) "
            f"and {pct(hi, 0)} ({who(n['high'])}) of the pool's labels (median).")


def efficiency_text(ctx: Context) -> str:
    """Presentations and labels needed to reach the target, compared with passive learning."""
    return said(presentation_findings(ctx) + labels_range(ctx), ctx)


def _conv_runs(ctx, p: str, s: str) -> pd.DataFrame:
    c = ctx.conv
    return c[(c["dataset"] == p) & (c["strategy"] == s)]


@CONVERGENCE_RATE.check
def _check_convergence_rate(f, ctx):
    c = ctx.conv
    rows = {r["strategy"]: r for r in f.numbers["rows"]}
    truth = {s: c[c["strategy"] == s] for s in STRATEGIES if (c["strategy"] == s).any()}
    need(f, list(rows) == list(truth), "the strategies")
    for s, sub in truth.items():
        r = rows[s]
        need(f, r["converged"] == int(sub["converged"].sum()) and r["runs"] == len(sub),
             f"{s}: {r['converged']}/{r['runs']} where the runs give {int(sub['converged'].sum())}/{len(sub)}")
        check_scope(f, ctx, r["where"], set(sub["dataset"]))
        need(f, r["everywhere"] == (set(sub["dataset"]) == set(ctx.problems)), f"{s}: on every problem or not")


def to_target(ctx, column: str, tol: float) -> list[dict]:
    """Every (problem, strategy) pair against passive learning: medians of ``column`` at the
    target over all runs (censored = +inf) and the verdict lower / higher / same / undecided."""
    out = []
    for p in ctx.problems:
        base = _conv_runs(ctx, p, "passive")
        if base.empty:
            continue
        mp = median_all(base[column], base["converged"])
        for s in STRATEGIES:
            runs = _conv_runs(ctx, p, s)
            if s == "passive" or runs.empty:
                continue
            ms = median_all(runs[column], runs["converged"])
            out.append({"problem": p, "strategy": s, "median": ms, "passive": mp,
                        "verdict": compare(ms, mp, tol)})
    return out


def _check_pairs(f, ctx, column: str, tol: float, words: Mapping[str, str]):
    n = f.numbers
    truth = to_target(ctx, column, tol)
    stated = n["pairs"]
    need(f, [(r["problem"], r["strategy"]) for r in stated] == [(r["problem"], r["strategy"]) for r in truth],
         "the pairs compared")
    for a, b in zip(stated, truth):
        need(f, close(a["median"], b["median"]) and close(a["passive"], b["passive"])
             and a["verdict"] == b["verdict"], f"{b['strategy']} on {b['problem']}: {b['verdict']}")
    for verdict, key in words.items():
        groups: dict[str, list[str]] = {}
        for r in truth:
            if r["verdict"] == verdict:
                groups.setdefault(r["strategy"], []).append(r["problem"])
        groups_match(f, ctx, n[key], groups, key)


@FASTER.check
def _check_faster(f, ctx):
    _check_pairs(f, ctx, "epochs_to_convergence", 0.0, {"lower": "faster"})


@PRESENTATIONS_TO_TARGET.check
def _check_presentations_to_target(f, ctx):
    need(f, f.numbers["tolerance"] == TOLERANCE, "not the paper's tolerance")
    _check_pairs(f, ctx, "presentations", TOLERANCE, {"lower": "fewer", "same": "same"})


@LABELS_RANGE.check
def _check_labels_range(f, ctx):
    n = f.numbers
    truth = {}
    for p in ctx.problems:
        pool = pool_of(ctx, p)
        for s in INCREMENTAL:
            runs = _conv_runs(ctx, p, s)
            ok = runs[runs["converged"].astype(bool)]
            if len(ok) and finite(pool) and pool:
                truth[(s, p)] = float(ok["labels_used"].median()) / pool
    stated = {(s, p): v for s, p, v in n["items"]}
    need(f, set(stated) == set(truth) and all(close(stated[k], truth[k], 1e-6) for k in truth), "the shares")
    lo, hi = display_ties(truth)
    need(f, [tuple(x) for x in n["low"]] == lo and [tuple(x) for x in n["high"]] == hi, f"lowest {lo}, highest {hi}")


# =========================================================================== deciders
CONVERGENCE_RATE.decider(rate_findings)
FASTER.decider(faster_findings)
PRESENTATIONS_TO_TARGET.decider(presentation_findings)
LABELS_RANGE.decider(labels_range)
