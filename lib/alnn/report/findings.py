"""Sentences of the results whose wording depends on the numbers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from alnn import analysis as an
from alnn.datasets import NAMES as PROBLEMS

from alnn.report.constants import ALPHA, METRIC_PROSE, PROBLEM_LABELS, STRATEGY_PROSE, TASK_PROSE
from alnn.report.format import _finite, capital, count, join, num, p_is, pct, words
from alnn.report.context import Context, _labels, _on, _reference_points
from alnn.report.tables import _fmt_metric, _metric_name, _passive_value


# =========================================================================== findings
def _classify(pairs):
    """Split ``(item, test)`` pairs into significantly better, significantly worse and the rest
    (pairs without a finite p-value are left out)."""
    better, worse, same = [], [], []
    for item, t in pairs:
        if t is None or not _finite(t["p"]):
            continue
        if bool(t["significant"]) and t["direction"] == "better":
            better.append(item)
        elif bool(t["significant"]) and t["direction"] == "worse":
            worse.append(item)
        else:
            same.append(item)
    return better, worse, same


def _sig_sets(ctx: Context, p: str, metric: str, baseline: str = "passive"):
    return _classify((s, ctx.test(p, s, metric, baseline)) for s in ctx.strategies(p) if s != baseline)


def _names(strategies: Sequence[str]) -> str:
    return join([STRATEGY_PROSE[s] for s in strategies])


def _best_strategy(ctx: Context, p: str, metric: str) -> str | None:
    means = {s: ctx.stat(p, s, metric) for s in ctx.strategies(p)}
    means = {s: m for s, m in means.items() if _finite(m)}
    if not means:
        return None
    return (max if an.higher_is_better(metric) else min)(means, key=means.get)


def _problem_comparison(ctx: Context, p: str) -> str:
    """One sentence on the significant differences from passive learning on one problem."""
    metric = ctx.primary(p)
    better, worse, same = _sig_sets(ctx, p, metric)
    label = PROBLEM_LABELS[p]
    crit = METRIC_PROSE[metric]
    if not better and not worse:
        if same:
            return f"On {label}, no strategy differs significantly from passive learning in {crit}."
        return f"On {label}, the runs are too few to test the differences in {crit}."
    clauses = []
    if better:
        clauses.append(f"{_names(better)} {'is' if len(better) == 1 else 'are'} significantly better "
                       f"than passive learning")
    if worse:
        clauses.append(f"{_names(worse)} {'is' if len(worse) == 1 else 'are'} significantly worse"
                       + ("" if better else " than passive learning"))
    text = f"On {label}, " + " and ".join(clauses) + f" in {crit}"
    if same:
        text += f", while {_names(same)} {'does' if len(same) == 1 else 'do'} not differ significantly"
    return text + "."


def _comparison_text(ctx: Context, task: str) -> str:
    probs = ctx.problems_of(task)
    if not probs:
        return ""
    metric = an.PRIMARY_METRIC[task]
    crit = METRIC_PROSE[metric]
    quiet = [p for p in probs if not any(_sig_sets(ctx, p, metric)[:2]) and _sig_sets(ctx, p, metric)[2]]
    out = []
    if quiet:
        out.append(f"{capital(_on(ctx, quiet))}, no strategy differs significantly from passive learning in "
                   f"{crit}.")
    out += [_problem_comparison(ctx, p) for p in probs if p not in quiet]
    best = {}
    for p in probs:
        b = _best_strategy(ctx, p, metric)
        if b is not None:
            best.setdefault(b, []).append(p)
    if best:
        what = "highest" if an.higher_is_better(metric) else "lowest"
        out.append(f"The {what} mean {crit} belongs to "
                   + join([f"{STRATEGY_PROSE[s]} {_on(ctx, ps)}" for s, ps in best.items()]) + ".")
    return " ".join(out)


def _divergence_text(ctx: Context) -> str:
    """How many trial runs diverged (they are left out of every mean and counted here)."""
    summary = ctx.summary
    rows = []
    total = 0
    for p in ctx.problems:
        metric = ctx.primary(p)
        for s in ctx.strategies(p):
            hit = summary[(summary["dataset"] == p) & (summary["strategy"] == s) & (summary["metric"] == metric)]
            if len(hit):
                n, d = int(hit["n_runs"].iloc[0]), int(hit["n_diverged"].iloc[0])
                total += n
                if d:
                    rows.append(f"{STRATEGY_PROSE[s]} on {PROBLEM_LABELS[p]} ({d} of {n})")
    if not rows:
        return (f"None of the {count(total)} trial runs diverged (a diverged run has a non-finite loss or "
                "weight; it would be left out of every mean and counted here).")
    return ("Some trial runs diverged (a non-finite loss or weight); they are left out of every mean and "
            "spread, and counted here: " + join(rows) + ".")


def _random_text(ctx: Context) -> str:
    """Entropy sampling and the committee against random sampling, their baseline."""
    quiet, loud = [], []
    for s in ("entropy", "ensemble"):
        better, worse, same = _classify((p, ctx.test(p, s, ctx.primary(p), "random")) for p in ctx.problems)
        if not (better or worse or same):
            continue
        name = STRATEGY_PROSE[s]
        if not better and not worse:
            quiet.append(name)
            continue
        bits = []
        if better:
            bits.append(f"significantly better {_on(ctx, better)}")
        if worse:
            bits.append(f"significantly worse {_on(ctx, worse)}")
        if same:
            bits.append("not significantly different elsewhere")
        loud.append(f"{name} is {join(bits)}")
    if not quiet and not loud:
        return ""
    parts = []
    if len(quiet) == 2:
        parts.append("neither entropy sampling nor the committee differs significantly from it on any "
                     "problem")
    elif quiet:
        parts.append(f"{quiet[0]} does not differ significantly from it on any problem")
    parts += loud
    return ("Against random sampling, the baseline of the uncertainty strategies, "
            + join(parts, "while") + ".")


def _labelled_share(ctx: Context) -> dict[str, float]:
    """Share of the training pool labelled at the last epoch by the incremental schedule, per problem.

    Read from ``random``: every incremental strategy labels on the same schedule.
    """
    share = {}
    for p in ctx.problems:
        pool = ctx.pools.get(p, {}).get("pool_mean")
        sub = ctx.trials[(ctx.trials["dataset"] == p) & (ctx.trials["strategy"] == "random")]
        if sub.empty or not pool:
            continue
        share[p] = sub[sub["epoch"] == sub["epoch"].max()]["labels_used"].mean() / pool
    return share


def _subset_text(ctx: Context) -> str:
    sentences = []
    shares = {}
    for p in ctx.problems:
        pool = ctx.pools.get(p, {}).get("pool_mean")
        sub = ctx.trials[(ctx.trials["dataset"] == p) & (ctx.trials["strategy"] == "sasla")]
        if sub.empty or not pool:
            continue
        last = sub[sub["epoch"] == sub["epoch"].max()]["subset_size"].mean()
        low = sub.groupby("epoch")["subset_size"].mean().min()
        shares[p] = (last / pool, low / pool)
    if shares:
        lo = min(shares, key=lambda p: shares[p][0])
        hi = max(shares, key=lambda p: shares[p][0])
        if lo == hi:
            sentences.append(f"At the last epoch SASLA trained on {pct(shares[lo][0], 0)} of the pool of "
                             f"{PROBLEM_LABELS[lo]}.")
        else:
            sentences.append(
                f"At the last epoch SASLA trained on between {pct(shares[lo][0], 0)} "
                f"({PROBLEM_LABELS[lo]}) and {pct(shares[hi][0], 0)} ({PROBLEM_LABELS[hi]}) of the pool.")
        full = [p for p, (last, _) in shares.items() if last >= 0.995]
        if full:
            sentences.append(f"On {_labels(full)} it kept practically the whole pool, so it saved no "
                             "presentations there.")
    inc = _labelled_share(ctx)
    if inc:
        whole = [p for p, v in inc.items() if v >= 0.995]
        part = {p: v for p, v in inc.items() if v < 0.995}
        bits = []
        if whole:
            where = _on(ctx, whole)
            bits.append(f"labelled the whole pool {where} before the budget ran out" if where.startswith("on every")
                        else f"labelled the whole pool of {_labels(whole)} before the budget ran out")
        if part:
            bits.append("ended with " + join([f"{pct(v, 0)} of the pool of {PROBLEM_LABELS[p]}"
                                              for p, v in part.items()]) + " labelled")
        sentences.append("The incremental strategies " + join(bits, "but") + ".")
    return " ".join(sentences)


def _budget_text(ctx: Context) -> str:
    inc = _labelled_share(ctx)
    if not inc:
        return ""
    small = {p: v for p, v in inc.items() if v < 0.995}
    if not small:
        return ("With the budgets of this profile the labelled set reaches the whole pool on every "
                "problem before training ends.")
    return ("With the budgets of this profile the labelled set stays below the whole pool on "
            + join([f"{PROBLEM_LABELS[p]} ({pct(v, 0)} at the end)" for p, v in small.items()]) + ".")


def _convergence_text(ctx: Context) -> str:
    out = []
    rates = {}
    for s in ctx.strategies():
        rs = [r for p in ctx.problems if (r := ctx.conv_row(p, s)) is not None]
        if rs:
            n = sum(int(r["n_runs"]) for r in rs)
            rates[s] = sum(int(r["n_converged"]) for r in rs) / n if n else float("nan")
    if rates:
        out.append("Over all problems, the share of runs that reached the target was "
                   + join([f"{pct(v, 0)} for {STRATEGY_PROSE[s]}" for s, v in rates.items()]) + ".")
    faster, slower, same = [], [], []
    for p in ctx.problems:
        base = ctx.conv_row(p, "passive")
        if base is None or not _finite(base["epochs_median"]):
            continue
        for s in ctx.strategies(p):
            if s == "passive":
                continue
            r = ctx.conv_row(p, s)
            if r is None or not _finite(r["epochs_median"]):
                continue
            d = r["epochs_median"] - base["epochs_median"]
            (faster if d < 0 else slower if d > 0 else same).append((s, p))
    pairs = len(faster) + len(slower) + len(same)
    if pairs:
        text = (f"Of the {pairs} (strategy, problem) pairs in which both the strategy and passive "
                f"learning had converged runs, the strategy needed a lower median number of epochs in "
                f"{words(len(faster), 'none')} and a higher one in {words(len(slower), 'none')}")
        if faster:
            by = {}
            for s, p in faster:
                by.setdefault(s, []).append(p)
            text += " (faster: " + "; ".join(f"{STRATEGY_PROSE[s]} {_on(ctx, ps)}" for s, ps in by.items()) + ")"
        out.append(text + ".")
    else:
        out.append("No strategy had converged runs on a problem on which passive learning also had "
                   "converged runs, so epochs to convergence cannot be compared.")
    return " ".join(out)


def _efficiency_text(ctx: Context) -> str:
    """Presentations and labels needed to reach the target, compared with passive learning."""
    fewer: dict[str, list[str]] = {}
    compared = 0
    for p in ctx.problems:
        base = ctx.conv_row(p, "passive")
        if base is None or not _finite(base.get("presentations_median", np.nan)):
            continue
        for s in ctx.strategies(p):
            r = ctx.conv_row(p, s) if s != "passive" else None
            if r is None or not _finite(r.get("presentations_median", np.nan)):
                continue
            compared += 1
            if r["presentations_median"] < base["presentations_median"]:
                fewer.setdefault(s, []).append(p)
    out = []
    if compared:
        if fewer:
            out.append("Counted in presentations rather than epochs, a lower median than passive "
                       "learning's was needed to reach the target by "
                       + "; ".join(f"{STRATEGY_PROSE[s]} {_on(ctx, ps)}" for s, ps in fewer.items())
                       + f" ({words(sum(len(v) for v in fewer.values()))} of the {words(compared)} "
                         f"comparable pairs).")
        else:
            out.append("No active strategy reached the target with a lower median number of "
                       "presentations than passive learning.")
    lab = []
    for p in ctx.problems:
        pool = ctx.pools.get(p, {}).get("pool_mean")
        for s in ("entropy", "ensemble", "random"):
            r = ctx.conv_row(p, s)
            if r is None or not pool or not _finite(r.get("labels_used_median", np.nan)):
                continue
            lab.append((s, p, r["labels_used_median"] / pool))
    if lab:
        lo = min(lab, key=lambda x: x[2])
        hi = max(lab, key=lambda x: x[2])
        out.append(f"Where the incremental strategies converged, they had used between "
                   f"{pct(lo[2], 0)} ({STRATEGY_PROSE[lo[0]]}, {PROBLEM_LABELS[lo[1]]}) and "
                   f"{pct(hi[2], 0)} ({STRATEGY_PROSE[hi[0]]}, {PROBLEM_LABELS[hi[1]]}) of the pool's "
                   f"labels (median).")
    return " ".join(out)


def _across_text(ctx: Context) -> str:
    out = []
    for task in ("classification", "regression"):
        a = ctx.across[task]
        if not a.get("ok"):
            continue
        fr = a["friedman"]
        ranks = fr.avg_ranks.sort_values()
        order = join([f"{STRATEGY_PROSE[s]} ({num(r, 2)})" for s, r in ranks.items()])
        sig = fr.p_f < ALPHA
        text = (f"For {TASK_PROSE[task]}, the average ranks are {order}; the Iman--Davenport test "
                f"{'rejects' if sig else 'does not reject'} equal ranks ({p_is(fr.p_f)})")
        post = a["post"]
        if len(post):
            sig_s = post[post["significant"]]
            if sig_s.empty:
                text += ", and no strategy differs significantly from passive learning after Holm"
            else:
                text += ", and after Holm " + join([
                    f"{STRATEGY_PROSE[r.strategy]} ranks significantly "
                    f"{'better' if r.direction == 'better' else 'worse'} than passive learning"
                    for r in sig_s.itertuples()])
        out.append(text + ".")
    if out:
        out.append("With so few problems these tests can only reveal differences that are large and "
                   "consistent across all of them.")
    return " ".join(out)


def _sanity_clause(ctx: Context, p: str, pt: Mapping[str, Any]) -> tuple[str, bool] | None:
    """One clause comparing passive learning with a reference point, and whether an error
    lies below a noise floor."""
    m = pt["metric"]
    mean, _ = _passive_value(ctx, p, m)
    if not _finite(mean):
        return None
    label = PROBLEM_LABELS[p]
    short = pt.get("short", pt["label"])
    cite = f"~\\cite{{{pt['bibkey']}}}" if pt.get("bibkey") else ""
    is_acc = m.split("_")[0] in ("accuracy", "f1")
    name = _metric_name(m) if not is_acc else _metric_name(m).lower()
    if "value" in pt:
        ref = float(pt["value"])
        if is_acc:
            d = 100 * (mean - ref)
            rel = ("equal to" if abs(d) < 0.05 else
                   f"{num(abs(d), 1)} points {'above' if d > 0 else 'below'}")
            return f"its {name} on {label} is {rel} that of the {short}{cite}", False
        if m.startswith("r2"):
            return (f"its {name} on {label} is {'above' if mean > ref else 'below'} the {short}{cite}",
                    mean > ref and bool(pt.get("derived")))
        ratio = mean / ref if ref else float("nan")
        below_floor = bool(pt.get("derived")) and mean < ref
        return f"its {name} on {label} is {num(ratio, 2)} times the {short}{cite}", below_floor
    if "low" in pt:
        lo, hi = float(pt["low"]), float(pt["high"])
        where = "inside" if lo <= mean <= hi else "below" if mean < lo else "above"
        unit = "\\%" if is_acc else ""
        return (f"its {name} on {label} lies {where} the range {_fmt_metric(m, lo)}--"
                f"{_fmt_metric(m, hi)}{unit} of {short}{cite}", False)
    return None


def _sanity_text(ctx: Context) -> str:
    clauses, floor = [], False
    for p in PROBLEMS:
        if p not in ctx.problems:
            continue
        for pt in _reference_points(ctx.refs, p):
            c = _sanity_clause(ctx, p, pt)
            if c:
                clauses.append(c[0])
                floor |= c[1]
    if not clauses:
        return ""
    out = "Against these references, passive learning behaves as follows: " + "; ".join(clauses) + "."
    if floor:
        out += (" A result better than the noise floor is possible on a finite validation set, where "
                "the realised noise can be smaller than its standard deviation.")
    return out
