"""Sentences of the results whose wording depends on the numbers: deciding and rendering.

Each claim is a :class:`~alnn.report.claims.Finding` decided here from the
report's :class:`Context` and rendered by its kind's template (registered
with :func:`~alnn.report.claims.template`); :mod:`alnn.report.claims` holds
the record, the checks and the rules (scopes), :mod:`alnn.report.queries` the
tolerances, the medians over censored runs and the best of a table row.
The ``..._text(ctx)`` functions return the checked sentences joined, the
``..._findings(ctx)`` functions the findings themselves (:func:`alnn.report.prose.collect`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from alnn import analysis as an
from alnn import stats as st

from alnn.report.claims import (
    INCREMENTAL, QUERY, Finding, check_findings, equivalences, fmt_value, make, names, on, runs_of, scope, template,
)
from alnn.stats import VERDICT_WORDS
from alnn.report.constants import ALPHA, METRIC_PROSE, PROBLEM_LABELS, STRATEGIES, STRATEGY_PROSE, TASK_PROSE
from alnn.report.format import finite, capital, count, join, num, p_is, pct, words
from alnn.report.context import Context, labels_of, reference_points, sine_noise
from alnn.report.queries import (
    FULL, SKEWED, TOLERANCE, best_of_row, compare, equivalence_settings, fmt_metric, median_all, metric_name,
    passive_value,
)


def said(found: Sequence[Finding], ctx: Context) -> str:
    """The findings' sentences, after their checks."""
    check_findings(found, ctx)
    return " ".join(f.text for f in found if f.text)


# =========================================================================== against passive learning
def _classify(pairs):
    """Split ``(item, test)`` pairs into significantly better, significantly worse and the rest
    (pairs without a finite p-value are left out)."""
    better, worse, same = [], [], []
    for item, t in pairs:
        if t is None or not finite(t["p"]):
            continue
        if bool(t["significant"]) and t["direction"] == "better":
            better.append(item)
        elif bool(t["significant"]) and t["direction"] == "worse":
            worse.append(item)
        else:
            same.append(item)
    return better, worse, same


def sig_sets(ctx: Context, p: str, metric: str, baseline: str = "passive"):
    return _classify((s, ctx.test(p, s, metric, baseline)) for s in ctx.strategies(p) if s != baseline)


def _best_strategy(ctx: Context, p: str, metric: str) -> str | None:
    """The first of the strategies tied for the best mean (the comparison table's tie rule)."""
    best = best_of_row(ctx, p, ctx.strategies(p), metric, metric in ("accuracy", "f1"))
    return next((s for s in ctx.strategies(p) if s in best), None)


def _split_equivalence(ctx: Context, p: str, same, baseline: str = "passive") -> dict:
    """The strategies without a significant difference by their Bayesian verdict (SPEC 6)."""
    eq = equivalences(ctx, p, baseline)
    return {"equivalent": [s for s in same if eq.get(s) == "equivalent"],
            "inconclusive": [s for s in same if eq.get(s) == "inconclusive"],
            "apart": [s for s in same if eq.get(s) in ("better", "worse")]}


def _versus_passive(ctx: Context, p: str) -> Finding:
    metric = ctx.primary(p)
    better, worse, same = sig_sets(ctx, p, metric)
    return make("versus-passive", (p,), {"metric": metric, "better": better, "worse": worse, "same": same,
                                         **_split_equivalence(ctx, p, same), "rope": _rope_words(ctx, p)})


def _rope_words(ctx: Context, p: str) -> str:
    acc, rel, _ = equivalence_settings(ctx, p)
    return (f"$\\pm${num(100 * acc, 1 if 100 * acc % 1 else 0)} accuracy point{'s' if acc != 0.01 else ''}"
            if ctx.task(p) == "classification" else f"$\\pm${num(100 * rel, 0)}\\% of the baseline's MSE")


def _equivalence_clause(n) -> str:
    """``A is practically equivalent to it and B inconclusive`` (the Bayesian verdicts of ``n``)."""
    bits = []
    for key, words_ in (("equivalent", "practically equivalent to it"), ("inconclusive", "inconclusive"),
                        ("apart", "practically different though not significantly")):
        group = n.get(key) or []
        if group:
            bits.append(f"{names(group)} {'is' if len(group) == 1 else 'are'} {words_}")
    return join(bits)


@template("versus-passive")
def _t_versus_passive(f: Finding) -> str:
    (p,) = f.subjects
    n = f.numbers
    label, crit = PROBLEM_LABELS[p], METRIC_PROSE[n["metric"]]
    better, worse, same = n["better"], n["worse"], n["same"]
    rope = n.get("rope", "")
    if not better and not worse:
        if same:
            return (f"On {label}, no strategy is significantly better or worse than passive learning in {crit}; "
                    f"by the Bayesian test (region of practical equivalence {rope}) "
                    f"{_equivalence_clause(n)}.")
        return f"On {label}, the runs are too few to test the differences in {crit}."
    clauses = []
    if better:
        clauses.append(f"{names(better)} {'is' if len(better) == 1 else 'are'} significantly better "
                       f"than passive learning")
    if worse:
        clauses.append(f"{names(worse)} {'is' if len(worse) == 1 else 'are'} significantly worse"
                       + ("" if better else " than passive learning"))
    text = f"On {label}, " + " and ".join(clauses) + f" in {crit}"
    if same:
        text += f"; of the others, by the Bayesian test (region {rope}), {_equivalence_clause(n)}"
    return text + "."


def verdict_counts(c: Mapping[str, int]) -> str:
    """``3 practically equivalent, 1 practically different (0 better, 1 worse) and 2 inconclusive``."""
    return (f"{count(c['equivalent'])} practically equivalent, {count(c['better'] + c['worse'])} practically "
            f"different ({count(c['better'])} better, {count(c['worse'])} worse) and "
            f"{count(c['inconclusive'])} inconclusive")


@template("quiet")
def _t_quiet(f: Finding) -> str:
    crit = METRIC_PROSE[f.numbers["metric"]]
    c = f.numbers["counts"]
    return (f"{capital(on(f.numbers['where']))}, no strategy is significantly better or worse than passive learning "
            f"in {crit}; of these {count(sum(c.values()))} comparisons the Bayesian test finds "
            f"{verdict_counts(c)}.")


def _schedule(ctx: Context, p: str) -> list[Finding]:
    """A query strategy significantly apart from passive learning while random sampling, on the
    same schedule, is apart on the same side and not significantly different from it."""
    metric = ctx.primary(p)
    out = []
    t_rp = ctx.test(p, "random", metric, "passive")
    if t_rp is None or not finite(t_rp["p"]):
        return out
    for s in QUERY:
        t_sp, t_sr = ctx.test(p, s, metric, "passive"), ctx.test(p, s, metric, "random")
        if t_sp is None or t_sr is None or not finite(t_sr["p"]) or not finite(t_sp["p"]):
            continue
        direction = t_sp["direction"]
        if not bool(t_sp["significant"]) or direction not in ("better", "worse") or bool(t_sr["significant"]):
            continue
        if t_rp["direction"] != direction:
            continue
        out.append(make("schedule", (p, s), {
            "metric": metric, "direction": direction, "mean": ctx.stat(p, s, metric),
            "random": ctx.stat(p, "random", metric), "passive": ctx.stat(p, "passive", metric),
            "random_sig": bool(t_rp["significant"]),
            "equivalence": equivalences(ctx, p, "random").get(s, "n/a")}))
    return out


@template("schedule")
def _t_schedule(f: Finding) -> str:
    p, s = f.subjects
    n = f.numbers
    m, S = n["metric"], STRATEGY_PROSE[s]
    side = "behind" if n["direction"] == "worse" else "ahead of"
    sig = "significantly " if n["random_sig"] else ""
    though = "" if n["random_sig"] else ", though not significantly"
    return (f"Random sampling, which labels on the same schedule as {S}, is also {sig}{side} passive learning "
            f"on {PROBLEM_LABELS[p]}{though} ({METRIC_PROSE[m]} {fmt_value(m, n['random'])} against "
            f"{fmt_value(m, n['mean'])} for {S} and {fmt_value(m, n['passive'])} for passive learning), and {S} "
            f"is not significantly different from it (the Bayesian test: {VERDICT_WORDS[n['equivalence']]}), so "
            f"these tests do not attribute the difference to {S}'s choice of patterns.")


def _best_mean(ctx: Context, task: str) -> Finding | None:
    metric = an.PRIMARY_METRIC[task]
    best = {}
    for p in ctx.problems_of(task):
        tied = best_of_row(ctx, p, ctx.strategies(p), metric, metric in ("accuracy", "f1"))
        if tied:
            best[p] = [s for s in STRATEGIES if s in tied]
    if not best:
        return None
    groups: dict[tuple, list[str]] = {}
    for p, b in best.items():
        groups.setdefault(tuple(b), []).append(p)
    return make("best-mean", (task,), {"metric": metric, "best": best,
                                       "groups": [{"strategies": list(b), "where": scope(ctx, ps)}
                                                  for b, ps in groups.items()]})


@template("best-mean")
def _t_best_mean(f: Finding) -> str:
    n = f.numbers
    what = "highest" if an.higher_is_better(n["metric"]) else "lowest"
    parts = [f"{names(g['strategies'])}{' (tied)' if len(g['strategies']) > 1 else ''} {on(g['where'])}"
             for g in n["groups"]]
    return f"The {what} mean {METRIC_PROSE[n['metric']]} belongs to " + join(parts) + "."


def comparison_findings(ctx: Context, task: str) -> list[Finding]:
    probs = ctx.problems_of(task)
    if not probs:
        return []
    metric = an.PRIMARY_METRIC[task]
    per = {p: _versus_passive(ctx, p) for p in probs}
    quiet = [p for p, f in per.items() if not f.numbers["better"] and not f.numbers["worse"] and f.numbers["same"]]
    out = []
    if quiet:
        verdicts_ = [v for p in quiet for v in equivalences(ctx, p, "passive").values()]
        counts = {k: verdicts_.count(k) for k in ("equivalent", "inconclusive", "better", "worse")}
        out.append(make("quiet", (task,), {"metric": metric, "where": scope(ctx, quiet), "counts": counts}))
    for p in probs:
        if p not in quiet:
            out.append(per[p])
            out += _schedule(ctx, p)
    best = _best_mean(ctx, task)
    return out + ([best] if best else [])


def _problem_comparison(ctx: Context, p: str) -> str:
    """One sentence on the significant differences from passive learning on one problem."""
    return said([_versus_passive(ctx, p)], ctx)


def comparison_text(ctx: Context, task: str) -> str:
    return said(comparison_findings(ctx, task), ctx)


# =========================================================================== diverged runs
def divergence_findings(ctx: Context) -> list[Finding]:
    summary = ctx.summary
    rows, total = [], 0
    for p in ctx.problems:
        metric = ctx.primary(p)
        for s in ctx.strategies(p):
            hit = summary[(summary["dataset"] == p) & (summary["strategy"] == s) & (summary["metric"] == metric)]
            if len(hit):
                n, d = int(hit["n_runs"].iloc[0]), int(hit["n_diverged"].iloc[0])
                total += n
                if d:
                    rows.append([s, p, d, n])
    return [make("divergence", (), {"total": total, "rows": rows})]


@template("divergence")
def _t_divergence(f: Finding) -> str:
    n = f.numbers
    if not n["rows"]:
        return (f"None of the {count(n['total'])} trial runs diverged (a diverged run has a non-finite loss or "
                "weight; it would be left out of every mean and counted here).")
    return ("Some trial runs diverged (a non-finite loss or weight); they are left out of every mean and "
            "spread, and counted here: "
            + join([f"{STRATEGY_PROSE[s]} on {PROBLEM_LABELS[p]} ({d} of {k})" for s, p, d, k in n["rows"]]) + ".")


def divergence_text(ctx: Context) -> str:
    """How many trial runs diverged (they are left out of every mean and counted here)."""
    return said(divergence_findings(ctx), ctx)


# =========================================================================== against random sampling
def random_findings(ctx: Context) -> list[Finding]:
    rows = []
    for s in QUERY:
        better, worse, same = _classify((p, ctx.test(p, s, ctx.primary(p), "random")) for p in ctx.problems)
        if not (better or worse or same):
            continue
        eq = [p for p in same if equivalences(ctx, p, "random").get(s) == "equivalent"]
        rows.append({"strategy": s, "tested": scope(ctx, better + worse + same), "better": scope(ctx, better),
                     "worse": scope(ctx, worse), "same": same, "equivalent": scope(ctx, eq),
                     "inconclusive": scope(ctx, [p for p in same if p not in eq])})
    return [make("versus-random", (), {"rows": rows})] if rows else []


@template("versus-random")
def _t_versus_random(f: Finding) -> str:
    parts = []
    for r in f.numbers["rows"]:
        S = STRATEGY_PROSE[r["strategy"]]
        bits = []
        if r["better"]["problems"]:
            bits.append(f"significantly better {on(r['better'])}")
        if r["worse"]["problems"]:
            bits.append(f"significantly worse {on(r['worse'])}")
        if r["equivalent"]["problems"]:
            bits.append(f"practically equivalent {on(r['equivalent'])}")
        if r["inconclusive"]["problems"]:
            bits.append(f"inconclusive {on(r['inconclusive'])}")
        parts.append(f"{S} is {join(bits)}")
    return "Against random sampling, which labels on the same schedule, " + join(parts, "while") + "."


def random_text(ctx: Context) -> str:
    """The query strategies against random sampling, their baseline."""
    return said(random_findings(ctx), ctx)


# =========================================================================== subsets, presentations, labels
def _pool(ctx: Context, p: str) -> float:
    return ctx.pools.get(p, {}).get("pool_mean") or float("nan")


def _last_mean(ctx: Context, p: str, s: str, col: str) -> float:
    sub = runs_of(ctx, p, s)
    if sub.empty:
        return float("nan")
    return float(sub[sub["epoch"] == sub["epoch"].max()][col].mean())


def _labelled_share(ctx: Context, strategy: str = "random") -> dict[str, float]:
    """Share of the training pool labelled at the last epoch by ``strategy``, per problem."""
    share = {}
    for p in ctx.problems:
        v, pool = _last_mean(ctx, p, strategy, "labels_used"), _pool(ctx, p)
        if finite(v) and finite(pool) and pool:
            share[p] = v / pool
    return share


def _subset_range(ctx: Context) -> list[Finding]:
    shares = {}
    for p in ctx.problems:
        v, pool = _last_mean(ctx, p, "sasla", "subset_size"), _pool(ctx, p)
        if finite(v) and finite(pool) and pool:
            shares[p] = v / pool
    if not shares:
        return []
    shown = {p: round(100 * v) for p, v in shares.items()}
    low = [p for p, v in shown.items() if v == min(shown.values())]
    high = [p for p, v in shown.items() if v == max(shown.values())]
    return [make("subset-range", (), {"shares": shares, "low": low, "high": high, "where": scope(ctx, shares)})]


@template("subset-range")
def _t_subset_range(f: Finding) -> str:
    n = f.numbers
    lo, hi = n["shares"][n["low"][0]], n["shares"][n["high"][0]]
    if set(n["low"]) == set(n["shares"]):
        return f"At the last epoch SASLA trained on {pct(lo, 0)} of the pool {on(n['where'])}."
    return (f"At the last epoch SASLA trained on between {pct(lo, 0)} ({labels_of(n['low'])}) and "
            f"{pct(hi, 0)} ({labels_of(n['high'])}) of the pool.")


def _total_presentations(ctx: Context, p: str, s: str) -> float:
    sub = runs_of(ctx, p, s)
    return float(sub.groupby(["trial", "fold"])["presentations"].max().mean()) if len(sub) else float("nan")


def _presentations_saved(ctx: Context) -> list[Finding]:
    """SASLA's cumulative presentations over the whole run against passive learning's."""
    ratio = {}
    for p in ctx.problems:
        a, b = _total_presentations(ctx, p, "sasla"), _total_presentations(ctx, p, "passive")
        if finite(a) and finite(b) and b > 0:
            ratio[p] = a / b
    if not ratio:
        return []
    verdict = {p: compare(r, 1.0, TOLERANCE) for p, r in ratio.items()}
    groups = {key: scope(ctx, [p for p, v in verdict.items() if v == word])
              for key, word in (("fewer", "lower"), ("same", "same"), ("more", "higher"))}
    return [make("presentations-saved", (), {"ratio": ratio, "tolerance": TOLERANCE, **groups})]


@template("presentations-saved")
def _t_presentations_saved(f: Finding) -> str:
    n = f.numbers

    def shares(sc):
        return ", ".join(f"{PROBLEM_LABELS[p]} {pct(n['ratio'][p], 0)}" for p in sc["problems"])

    parts = []
    if n["fewer"]["problems"]:
        parts.append(f"fewer pattern presentations than passive learning {on(n['fewer'])} "
                     f"({shares(n['fewer'])} of passive learning's)")
    if n["same"]["problems"]:
        parts.append(f"as many as passive learning, within {pct(n['tolerance'], 1)}, {on(n['same'])}, so it saved "
                     f"no presentations there")
    if n["more"]["problems"]:
        parts.append(f"more than passive learning {on(n['more'])} ({shares(n['more'])} of passive learning's)")
    return "Counted over the whole run, SASLA made " + "; ".join(parts) + "."


def labelled(ctx: Context) -> dict[str, Any] | None:
    inc = _labelled_share(ctx, "random")
    if not inc:
        return None
    same = all(abs(v - inc[p]) <= TOLERANCE * inc[p] for s in INCREMENTAL
               for p, v in _labelled_share(ctx, s).items() if p in inc)
    return {"shares": inc, "who": "incremental" if same else "random",
            "whole": scope(ctx, [p for p, v in inc.items() if v >= FULL]),
            "part": [p for p, v in inc.items() if v < FULL]}


@template("labelled-share")
def _t_labelled_share(f: Finding) -> str:
    n = f.numbers
    bits = []
    if n["whole"]["problems"]:
        where = on(n["whole"])
        bits.append(f"labelled the whole pool {where} before the budget ran out" if where.startswith("on every")
                    else f"labelled the whole pool of {labels_of(n['whole']['problems'])} before the budget ran out")
    if n["part"]:
        bits.append("ended with " + join([f"{pct(n['shares'][p], 0)} of the pool of {PROBLEM_LABELS[p]}"
                                          for p in n["part"]]) + " labelled")
    who = "The incremental strategies" if n["who"] == "incremental" else "Random sampling"
    return f"{who} " + join(bits, "but") + "."


@template("labelled-budget")
def _t_labelled_budget(f: Finding) -> str:
    n = f.numbers
    if not n["part"]:
        return ("With the budgets of this profile the labelled set reaches the whole pool on every "
                "problem before training ends.")
    return ("With the budgets of this profile the labelled set stays below the whole pool on "
            + join([f"{PROBLEM_LABELS[p]} ({pct(n['shares'][p], 0)} at the end)" for p in n["part"]]) + ".")


def subset_findings(ctx: Context) -> list[Finding]:
    out = _subset_range(ctx) + _presentations_saved(ctx)
    lab = labelled(ctx)
    return out + ([make("labelled-share", (), lab)] if lab else [])


def subset_text(ctx: Context) -> str:
    return said(subset_findings(ctx), ctx)


def budget_text(ctx: Context) -> str:
    lab = labelled(ctx)
    return said([make("labelled-budget", (), lab)], ctx) if lab else ""


# =========================================================================== convergence
def rate_findings(ctx: Context) -> list[Finding]:
    rows = []
    for s in ctx.strategies():
        rs = {p: r for p in ctx.problems if (r := ctx.conv_row(p, s)) is not None}
        if rs:
            rows.append({"strategy": s, "converged": sum(int(r["n_converged"]) for r in rs.values()),
                         "runs": sum(int(r["n_runs"]) for r in rs.values()), "where": scope(ctx, rs),
                         "everywhere": set(rs) == set(ctx.problems)})
    return [make("convergence-rate", (), {"rows": rows})] if rows else []


@template("convergence-rate")
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


@template("faster")
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


@template("presentations-to-target")
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
        pool = _pool(ctx, p)
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


@template("labels-range")
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


# =========================================================================== across problems
def across_findings(ctx: Context) -> list[Finding]:
    out = []
    for task in ("classification", "regression"):
        a = ctx.across[task]
        if not a.get("ok"):
            continue
        fr = a["friedman"]
        ranks = {s: float(r) for s, r in fr.avg_ranks.items()}
        post = a["post"]
        posthoc = None
        if len(post):
            posthoc = [[r.strategy, "better" if r.direction == "better" else "worse"]
                       for r in post.itertuples() if bool(r.significant)]
        out.append(make("across", (task,), {
            "ranks": ranks, "n": int(fr.n), "k": int(fr.k), "p": float(fr.p_chi2),
            "min_p": float(a["limits"]["min_p_friedman"]), "reject": bool(fr.p_chi2 <= ALPHA), "posthoc": posthoc}))
    return out


@template("across")
def _t_across(f: Finding) -> str:
    (task,) = f.subjects
    n = f.numbers
    order = join([f"{STRATEGY_PROSE[s]} ({num(r, 2)})" for s, r in sorted(n["ranks"].items(), key=lambda kv: kv[1])])
    text = (f"For {TASK_PROSE[task]}, the average ranks over the {words(n['n'])} problems are {order}; the "
            f"Friedman test {'rejects' if n['reject'] else 'does not reject'} equal ranks ($\\chi^2_F$, "
            f"{p_is(n['p'])}; with {words(n['n'])} problems and {words(n['k'])} strategies the smallest attainable "
            f"value is {_floor(n['min_p'])})")
    if n["posthoc"] is not None:
        if not n["posthoc"]:
            text += ", and no strategy differs significantly from passive learning after Holm"
        else:
            text += ", and after Holm " + join([f"{STRATEGY_PROSE[s]} ranks significantly {d} than passive learning"
                                                for s, d in n["posthoc"]])
    return text + "."


def _floor(p: float) -> str:
    """A p-value that may be tiny: ``$p=0.017$`` or ``$p=3.2\\times 10^{-5}$``."""
    if p >= 0.001:
        return f"$p={p:.3f}$"
    mant, exp = f"{p:.1e}".split("e")
    return f"$p={mant}\\times 10^{{{int(exp)}}}$"


def power_findings(ctx: Context, form: str) -> list[Finding]:
    tasks = {}
    for t, a in ctx.across.items():
        if a.get("ok"):
            k, n = int(a["scores"].shape[1]), int(a["scores"].shape[0])
            tasks[t] = {"k": k, "n": n, "min_p": float(a["limits"]["min_p_friedman"]), "cd": float(a["cd"])}
    untested = [t for t in ("classification", "regression") if ctx.problems_of(t) and t not in tasks]
    if form == "closing" and not tasks:
        return []
    return [make("across-power", (form,), {"tasks": tasks, "untested": untested})]


@template("across-power")
def _t_across_power(f: Finding) -> str:
    (form,) = f.subjects
    n = f.numbers
    ts = [t for t in ("classification", "regression") if t in n["tasks"]]
    counts = join([f"{words(n['tasks'][t]['n'])} {TASK_PROSE[t]} problems" for t in ts])
    if form == "closing":
        return f"With {counts} these tests can only reveal differences that are large and consistent across all of them."
    if not ts:
        return "No across-problem test is possible with the problems of these results."
    floors = join([f"{_floor(n['tasks'][t]['min_p'])} for the {words(n['tasks'][t]['k'])} {TASK_PROSE[t]} "
                   f"strategies" for t in ts])
    cds = join([f"{num(n['tasks'][t]['cd'], 2)} ranks for {TASK_PROSE[t]} (against a largest possible rank "
                f"difference of {words(n['tasks'][t]['k'] - 1)})" for t in ts])
    text = (f"With {counts} these tests have very little power: even if all problems ranked the strategies "
            f"identically, the Friedman statistic $\\chi^2_F$, whose $p$-value the results report, could not give "
            f"less than {floors}, and the Nemenyi critical differences are {cds}.")
    if n["untested"]:
        text += f" No across-problem test is possible for {join([TASK_PROSE[t] for t in n['untested']])}."
    return text


def across_text(ctx: Context) -> str:
    found = across_findings(ctx)
    return said(found + (power_findings(ctx, "closing") if found else []), ctx)


def power_text(ctx: Context) -> str:
    return said(power_findings(ctx, "paragraph"), ctx)


# =========================================================================== references
def _clause(ctx: Context, p: str, pt: Mapping[str, Any]) -> dict | None:
    m = pt["metric"]
    mean, _ = passive_value(ctx, p, m)
    if not finite(mean):
        return None
    c = {"problem": p, "metric": m, "ours": mean, "short": pt.get("short", pt["label"]),
         "bibkey": pt.get("bibkey") or "", "derived": bool(pt.get("derived"))}
    is_acc = m.split("_")[0] in ("accuracy", "f1")
    if "value" in pt:
        ref = float(pt["value"])
        c["ref"] = ref
        if is_acc:
            d = 100 * (mean - ref)
            c["relation"] = "equal" if abs(d) < 0.05 else ("above" if d > 0 else "below")
            c["floor"] = False
        elif m.startswith("r2"):
            c["relation"] = "above" if mean > ref else "below"
            c["floor"] = mean > ref and c["derived"]
        else:
            c["relation"] = "ratio"
            c["floor"] = c["derived"] and mean < ref
        return c
    if "low" in pt:
        lo, hi = float(pt["low"]), float(pt["high"])
        c.update(low=lo, high=hi, floor=False,
                 relation="inside" if lo <= mean <= hi else "below" if mean < lo else "above")
        return c
    return None


def _clause_text(c: Mapping[str, Any]) -> str:
    m, label, short = c["metric"], PROBLEM_LABELS[c["problem"]], c["short"]
    cite = f"~\\cite{{{c['bibkey']}}}" if c["bibkey"] else ""
    is_acc = m.split("_")[0] in ("accuracy", "f1")
    name = metric_name(m).lower() if is_acc else metric_name(m)
    if "low" in c:
        unit = "\\%" if is_acc else ""
        return (f"its {name} on {label} lies {c['relation']} the range {fmt_metric(m, c['low'])}--"
                f"{fmt_metric(m, c['high'])}{unit} of {short}{cite}")
    if is_acc:
        d = 100 * (c["ours"] - c["ref"])
        rel = "equal to" if c["relation"] == "equal" else f"{num(abs(d), 1)} points {c['relation']}"
        return f"its {name} on {label} is {rel} that of the {short}{cite}"
    if c["relation"] in ("above", "below"):
        return f"its {name} on {label} is {c['relation']} the {short}{cite}"
    ratio = c["ours"] / c["ref"] if c["ref"] else float("nan")
    return f"its {name} on {label} is {num(ratio, 2)} times the {short}{cite}"


def _sanity_clause(ctx: Context, p: str, pt: Mapping[str, Any]) -> tuple[str, bool] | None:
    """One clause comparing passive learning with a reference point, and whether an error
    lies below a noise floor."""
    c = _clause(ctx, p, pt)
    return None if c is None else (_clause_text(c), bool(c["floor"]))


def sanity_findings(ctx: Context) -> list[Finding]:
    clauses = [c for p in ctx.problems for pt in reference_points(ctx.refs, p) if (c := _clause(ctx, p, pt))]
    if not clauses:
        return []
    return [make("sanity", (), {"clauses": clauses, "floor": any(c["floor"] for c in clauses)})]


@template("sanity")
def _t_sanity(f: Finding) -> str:
    out = ("Against these references, passive learning behaves as follows: "
           + "; ".join(_clause_text(c) for c in f.numbers["clauses"]) + ".")
    if f.numbers["floor"]:
        out += (" A result better than the noise floor is possible on a finite validation set, where "
                "the realised noise can be smaller than its standard deviation.")
    return out


def sanity_text(ctx: Context) -> str:
    return said(sanity_findings(ctx), ctx)


# =========================================================================== skewed criteria and stalled runs
#: A run whose final error exceeds this multiple of its strategy's median run has stalled.
STALL_FACTOR = 3.0


def _final_primary(ctx: Context, p: str, s: str):
    fin = ctx.finals
    sub = fin[(fin["dataset"] == p) & (fin["strategy"] == s) & ~fin["diverged"].astype(bool)]
    return sub.set_index(["trial", "fold"])[ctx.primary(p)].astype(float)


def skew_findings(ctx: Context) -> list[Finding]:
    rows = []
    for p in ctx.problems:
        for s in ctx.strategies(p):
            v = _final_primary(ctx, p, s)
            if len(v) < 3:
                continue
            g = float(v.skew())
            if np.isfinite(g) and abs(g) > SKEWED:
                rows.append({"problem": p, "strategy": s, "skew": g, "mean": float(v.mean()),
                             "median": float(v.median()), "metric": ctx.primary(p)})
    return [make("skewed", (), {"rows": rows, "threshold": SKEWED})] if rows else []


@template("skewed")
def _t_skewed(f: Finding) -> str:
    rows = f.numbers["rows"]
    # the cells where the mean misleads most: mean and median furthest apart, relative to the median
    shown = sorted(rows, key=lambda r: -abs(r["mean"] - r["median"]) / max(abs(r["median"]), 1e-12))[:6]
    parts = [f"{STRATEGY_PROSE[r['strategy']]} on {PROBLEM_LABELS[r['problem']]} (mean {fmt_value(r['metric'], r['mean'])}, "
             f"median {fmt_value(r['metric'], r['median'])})" for r in shown]
    more = f" and {count(len(rows) - len(shown))} more" if len(rows) > len(shown) else ""
    return (f"The final criterion is skewed (absolute sample skewness above {num(f.numbers['threshold'], 0)}) for "
            f"{count(len(rows))} problem $\\times$ strategy cells; mean and median lie furthest apart for "
            + join(parts) + more
            + "; Table~\\ref{sup:tab:robust} gives the median and interquartile range of every cell.")


def stall_findings(ctx: Context) -> list[Finding]:
    """Runs whose final MSE is several times their strategy's median, on the noisy sine: which of them
    stay on the best straight line's error all along, and which ended high after reaching a low error."""
    p = "sine"
    if p not in ctx.problems:
        return []
    linear = 0.5 - 3 / np.pi ** 2 + sine_noise() ** 2  # error of the best straight line through sin x + noise
    t = ctx.trials[ctx.trials["dataset"] == p]
    rows, escape, others = [], [], 0
    for s in ctx.strategies(p):
        v = _final_primary(ctx, p, s)
        if v.empty:
            continue
        curves = t[t["strategy"] == s].pivot_table(index="epoch", columns=["trial", "fold"], values="mse")
        stalled = v[v > STALL_FACTOR * v.median()]
        # on the line: never below half of its error at any epoch, and within half of it at the end
        lows = {c: float(curves[c].min()) for c in stalled.index}
        on_line = [c for c in stalled.index if lows[c] >= 0.5 * linear and abs(stalled[c] / linear - 1) < 0.5]
        late = [c for c in stalled.index if lows[c] < 0.5 * linear]
        rest = v.index.difference(stalled.index, sort=False)
        others += len(rest)
        escape += [int((curves[c] < 0.5 * linear).idxmax()) for c in rest if (curves[c] < 0.5 * linear).any()]
        if stalled.empty:
            continue
        rows.append({"strategy": s, "stalled": int(len(stalled)), "runs": int(len(v)),
                     "mean_stalled": float(stalled.mean()), "on_line": len(on_line),
                     "mean_on_line": float(stalled[on_line].mean()) if on_line else float("nan"),
                     "late": len(late)})
    if not rows:
        return []
    return [make("stalled", (p,), {"rows": rows, "linear": float(linear), "factor": STALL_FACTOR,
                                   "escape_epoch": float(np.median(escape)) if escape else float("nan"),
                                   "escaped": len(escape), "others": others})]


@template("stalled")
def _t_stalled(f: Finding) -> str:
    n = f.numbers
    rows = n["rows"]
    counts = join([f"{r['stalled']} of the {r['runs']} runs of {STRATEGY_PROSE[r['strategy']]}" for r in rows])
    total = sum(r["stalled"] for r in rows)
    on, late = sum(r["on_line"] for r in rows), sum(r["late"] for r in rows)
    text = (f"On Sine, the final MSE of {counts} is more than {num(n['factor'], 0)} times their strategy's "
            f"median. Every run of a problem shares the grid winner's configuration, so these runs differ from "
            f"the others only in split and initial weights. ")
    line = f"the error of the best straight line through the data, $1/2-3/\\pi^2+\\sigma^2={num(n['linear'], 3)}$"
    if on:
        mean_on = sum(r["mean_on_line"] * r["on_line"] for r in rows if r["on_line"]) / on
        one = on == 1
        text += (f"{capital(words(on))} of these {words(total)} never {'falls' if one else 'fall'} below half of "
                 f"{line}, at any epoch, and {'ends' if one else 'end'} within half of it (mean final MSE "
                 f"{num(mean_on, sig=2)}): {'this network settles' if one else 'these networks settle'} on a "
                 f"nearly linear fit and {'stays' if one else 'stay'} on it. ")
    else:
        text += f"None of them stays near {line}. "
    if late:
        text += (f"{capital(words(late))} of them had fallen below half of that error and "
                 f"{'ends' if late == 1 else 'end'} high after a late rise. ")
    if n["escaped"]:
        error = "that error" if on else "the straight line's error"
        text += (f"The other runs fall below half of {error} by epoch {num(n['escape_epoch'], 0)} (median, "
                 f"{n['escaped']} of {n['others']} runs).")
    return text.rstrip()


# =========================================================================== SASLA at fixed costs (SPEC 6)
#: Cost budgets, as shares of what passive learning spends in its whole run.
COST_SHARES = (0.25, 0.5, 1.0)


def value_at_cost(runs, column: str, budget: float, metric: str):
    """Each run's criterion at the last epoch whose cumulative ``column`` (presentations or macs) is within
    ``budget``; NaN for a run whose first epoch already costs more."""
    ok = runs[runs[column] <= budget]
    last = ok.loc[ok.groupby(["trial", "fold"])["epoch"].idxmax()] if len(ok) else ok
    out = last.set_index(["trial", "fold"])[metric].astype(float)
    return out.reindex(runs.groupby(["trial", "fold"]).size().index)


def at_cost_findings(ctx: Context) -> list[Finding]:
    if "macs" not in ctx.trials.columns:
        return []
    rows = []
    for p in ctx.problems:
        t = ctx.trials[(ctx.trials["dataset"] == p) & ~ctx.trials["diverged"].astype(bool)]
        a, b = t[t["strategy"] == "sasla"], t[t["strategy"] == "passive"]
        if a.empty or b.empty:
            continue
        metric = ctx.primary(p)
        acc, rel, level = equivalence_settings(ctx, p)
        folds = int(t["fold"].nunique())
        for column in ("presentations", "macs"):
            total = float(b.groupby(["trial", "fold"])[column].max().mean())
            for share in COST_SHARES:
                va = value_at_cost(a, column, share * total, metric)
                vb = value_at_cost(b, column, share * total, metric)
                pair = pd.concat([va, vb], axis=1, keys=["s", "b"]).dropna()
                if len(pair) < 2:
                    rows.append({"problem": p, "cost": column, "share": share, "verdict": "n/a", "diff": float("nan"),
                                 "runs": int(len(pair))})
                    continue
                rope = acc if an.higher_is_better(metric) else rel * abs(float(pair["b"].mean()))
                verdict = st.paired_verdict((pair["s"] - pair["b"]).to_numpy(float),
                                            higher_is_better=an.higher_is_better(metric), rope=rope,
                                            rho=1 / folds, level=level)
                rows.append({"problem": p, "cost": column, "share": share, "runs": int(len(pair)),
                             "diff": float((pair["s"] - pair["b"]).mean()), "metric": metric,
                             "verdict": verdict})
    return [make("at-cost", (), {"rows": rows, "shares": list(COST_SHARES)})] if rows else []


@template("at-cost")
def _t_at_cost(f: Finding) -> str:
    shares = join([f"{num(100 * s, 0)}\\%" for s in f.numbers["shares"]])
    parts = []
    for cost, word in (("macs", "multiply-adds"), ("presentations", "presentations")):
        rows = [r for r in f.numbers["rows"] if r["cost"] == cost]
        if not rows:
            continue
        by: dict[str, dict[str, list]] = {}  # verdict -> problem -> shares, in the order of the rows
        for r in rows:
            by.setdefault(r["verdict"], {}).setdefault(r["problem"], []).append(num(100 * r["share"], 0))
        bits = [f"{VERDICT_WORDS[v]} on " + join([f"{PROBLEM_LABELS[p]} ({join(sh)}\\%)" for p, sh in ps.items()])
                for v, ps in by.items()]
        parts.append(f"Stopped at the same budget of {word} as passive learning ({shares} of what passive "
                     f"learning spends in its whole run), SASLA's criterion against passive learning's is "
                     + "; ".join(bits) + ".")
    return " ".join(parts)
