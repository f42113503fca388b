"""The draft protocol's comparisons (Section V): every strategy against passive learning and the query
strategies against random sampling (t-tests with Holm, the Bayesian verdicts), diverged runs, skewed
criteria and stalled runs, and the summaries of the significant and equivalent differences.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st
from alnn import analysis as an
from alnn.datasets import TASKS
from alnn.stats import VERDICT_WORDS
from alnn.report.constants import METRIC_PROSE, PROBLEM_LABELS, STRATEGIES, STRATEGY_PROSE
from alnn.report.format import capital, count, escape, finite, join, num, words
from alnn.report.context import Context, sine_noise
from alnn.report.queries import best_of_row, equivalence_settings, rope_note, SKEWED, STALL_FACTOR
from alnn.report.claims import (
    best_of, check_findings, check_grouped, check_scope, close, equivalence_truth, equivalences, Finding,
    fmt_value, groups_match, Kind, make, mean_of, names, need, on, primary_of, QUERY, said, scope, verdict_counts,
    verdicts,
)


BEST_MEAN = Kind("best-mean", __name__, "the best mean per problem, at the precision printed, from the per-strategy "
                                        "summary; the strategies with diverged runs ahead of it from the per-run "
                                        "final rows", consistency=True)
DIVERGENCE = Kind("divergence", __name__, "the diverged runs counted from the per-run final rows")
EQUIVALENCE_SUMMARY = Kind("equivalence-summary", __name__, "the significance from the within-problem tests (Holm); "
                                                            "the Bayesian verdicts recomputed by the posterior from "
                                                            "the paired per-run final values")
QUIET = Kind("quiet", __name__, "the significance from the within-problem tests (Holm); the Bayesian verdicts "
                                "recomputed by the posterior from the paired per-run final values")
SCHEDULE = Kind("schedule", __name__, "the tests against passive learning and random sampling (Holm), the means from "
                                      "the summary, the Bayesian verdict recomputed by the posterior from the paired "
                                      "per-run final values")
SIGNIFICANCE_SUMMARY = Kind("significance-summary", __name__, "the significant differences from the within-problem "
                                                              "tests (Holm)", consistency=True)
SKEWED_CRITERIA = Kind("skewed", __name__, "the skewness recomputed with scipy from the per-run final values")
STALLED = Kind("stalled", __name__, "the stalled runs recomputed from the per-run learning curves of the trial frame")
VERSUS_PASSIVE = Kind("versus-passive", __name__, "the significance from the within-problem tests (Holm); the "
                                                  "Bayesian verdicts recomputed by the posterior from the paired "
                                                  "per-run final values")
VERSUS_RANDOM = Kind("versus-random", __name__, "the significance from the within-problem tests against random "
                                                "sampling (Holm); the Bayesian verdicts recomputed by the posterior "
                                                "from the paired per-run final values")


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
            "identical": [s for s in same if eq.get(s) == "identical"],
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
    for key, words_ in (("identical", "the same as it in every run (no finding of equivalence)"),
                        ("equivalent", "practically equivalent to it"), ("inconclusive", "inconclusive"),
                        ("apart", "practically different though not significantly")):
        group = n.get(key) or []
        if group:
            bits.append(f"{names(group)} {'is' if len(group) == 1 else 'are'} {words_}")
    return join(bits)


@VERSUS_PASSIVE.template
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


@QUIET.template
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


@SCHEDULE.template
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
    hib = an.higher_is_better(metric)
    best, passed = {}, []
    for p in ctx.problems_of(task):
        tied = best_of_row(ctx, p, ctx.strategies(p), metric, metric in ("accuracy", "f1"))
        if tied:
            best[p] = [s for s in STRATEGIES if s in tied]
            top = ctx.stat(p, best[p][0], metric)
            # a strategy with diverged runs whose mean (over the rest) would lead: left out, and said so
            passed += [[s, p] for s in ctx.strategies(p) if s not in tied
                       and ctx.stat(p, s, metric, "n_diverged") > 0 and finite(m := ctx.stat(p, s, metric))
                       and (m > top if hib else m < top)]
    if not best:
        return None
    groups: dict[tuple, list[str]] = {}
    for p, b in best.items():
        groups.setdefault(tuple(b), []).append(p)
    return make("best-mean", (task,), {"metric": metric, "best": best, "passed": passed,
                                       "groups": [{"strategies": list(b), "where": scope(ctx, ps)}
                                                  for b, ps in groups.items()]})


@BEST_MEAN.template
def _t_best_mean(f: Finding) -> str:
    n = f.numbers
    what = "highest" if an.higher_is_better(n["metric"]) else "lowest"
    parts = [f"{names(g['strategies'])}{' (tied)' if len(g['strategies']) > 1 else ''} {on(g['where'])}"
             for g in n["groups"]]
    text = f"The {what} mean {METRIC_PROSE[n['metric']]} belongs to " + join(parts)
    if n.get("passed"):
        one = len(n["passed"]) == 1
        text += ("; " + join([f"{STRATEGY_PROSE[s]}'s mean on {PROBLEM_LABELS[p]}" for s, p in n["passed"]])
                 + f" {'is' if one else 'are'} {what[:-3]}er still but {'leaves' if one else 'leave'} out the runs "
                   f"that diverged ($^\\ddagger$)")
    return text + "."


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
        counts = {k: verdicts_.count(k) for k in ("equivalent", "inconclusive", "better", "worse", "identical")}
        out.append(make("quiet", (task,), {"metric": metric, "where": scope(ctx, quiet), "counts": counts}))
    for p in probs:
        if p not in quiet:
            out.append(per[p])
            out += _schedule(ctx, p)
    best = _best_mean(ctx, task)
    return out + ([best] if best else [])


def problem_comparison(ctx: Context, p: str) -> str:
    """One sentence on the significant differences from passive learning on one problem."""
    return said([_versus_passive(ctx, p)], ctx)


def comparison_text(ctx: Context, task: str) -> str:
    return said(comparison_findings(ctx, task), ctx)


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


@DIVERGENCE.template
def _t_divergence(f: Finding) -> str:
    n = f.numbers
    if not n["rows"]:
        return (f"None of the {count(n['total'])} trial runs diverged (a diverged run has a non-finite loss or "
                "weight, or a loss above $10^3$ times its first epoch's; it would be left out of every mean and "
                "counted here).")
    return ("Some trial runs diverged (a non-finite loss or weight, or a loss above $10^3$ times the first "
            "epoch's); they are left out of every mean and spread, and counted here: "
            + join([f"{STRATEGY_PROSE[s]} on {PROBLEM_LABELS[p]} ({d} of {k})" for s, p, d, k in n["rows"]]) + ".")


def divergence_text(ctx: Context) -> str:
    """How many trial runs diverged (they are left out of every mean and counted here)."""
    return said(divergence_findings(ctx), ctx)


def random_findings(ctx: Context) -> list[Finding]:
    rows = []
    for s in QUERY:
        better, worse, same = _classify((p, ctx.test(p, s, ctx.primary(p), "random")) for p in ctx.problems)
        if not (better or worse or same):
            continue
        eq = [p for p in same if equivalences(ctx, p, "random").get(s) == "equivalent"]
        ident = [p for p in same if equivalences(ctx, p, "random").get(s) == "identical"]
        rows.append({"strategy": s, "tested": scope(ctx, better + worse + same), "better": scope(ctx, better),
                     "worse": scope(ctx, worse), "same": same, "equivalent": scope(ctx, eq),
                     "identical": scope(ctx, ident),
                     "inconclusive": scope(ctx, [p for p in same if p not in eq and p not in ident])})
    return [make("versus-random", (), {"rows": rows})] if rows else []


@VERSUS_RANDOM.template
def _t_versus_random(f: Finding) -> str:
    said_of: dict[str, list[str]] = {}
    for r in f.numbers["rows"]:
        bits = []
        if r["better"]["problems"]:
            bits.append(f"significantly better {on(r['better'])}")
        if r["worse"]["problems"]:
            bits.append(f"significantly worse {on(r['worse'])}")
        if r["equivalent"]["problems"]:
            bits.append(f"practically equivalent {on(r['equivalent'])}")
        if r.get("identical", {}).get("problems"):
            bits.append(f"the same in every run {on(r['identical'])}")
        if r["inconclusive"]["problems"]:
            bits.append(f"inconclusive {on(r['inconclusive'])}")
        said_of.setdefault(join(bits), []).append(r["strategy"])
    parts = [f"{names(ss)} {'is' if len(ss) == 1 else 'are'} {bits}" for bits, ss in said_of.items()]
    return "Against random sampling, which labels on the same schedule, " + join(parts, "while") + "."


def random_text(ctx: Context) -> str:
    """The query strategies against random sampling, their baseline."""
    return said(random_findings(ctx), ctx)


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


@SKEWED_CRITERIA.template
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
        stalled = v[an.far_off(v.to_numpy(), ctx.primary(p), STALL_FACTOR)]  # the rule of the budget tables too
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


@STALLED.template
def _t_stalled(f: Finding) -> str:
    n = f.numbers
    rows = n["rows"]
    counts = join([f"{r['stalled']} of the {r['runs']} runs of {STRATEGY_PROSE[r['strategy']]}" for r in rows])
    total = sum(r["stalled"] for r in rows)
    on, late = sum(r["on_line"] for r in rows), sum(r["late"] for r in rows)
    text = (f"On Sine, the final MSE of {counts} is more than {num(n['factor'], 0)} times their strategy's "
            f"median. Every run of a problem shares the grid winner's configuration, so these runs differ from "
            f"the others only in split and initial weights. ")
    line = f"the error of the best straight line through the data ($1/2-3/\\pi^2+\\sigma^2={num(n['linear'], 3)}$)"
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


def significance(ctx: Context, form: str) -> Finding:
    """Which strategies are significantly better / worse than passive learning, and where."""
    better, worse = {}, {}
    for p in ctx.problems:
        b, w, _ = sig_sets(ctx, p, ctx.primary(p))
        for s in b:
            better.setdefault(s, []).append(p)
        for s in w:
            worse.setdefault(s, []).append(p)

    def groups(d):
        return [{"strategy": s, "where": scope(ctx, d[s])} for s in STRATEGIES if s in d]

    return make("significance-summary", (form,), {"better": groups(better), "worse": groups(worse),
                                                  "n_problems": len(ctx.problems)})


def _significance_phrase(n) -> str:
    def listing(gs):
        return join([f"{STRATEGY_PROSE[g['strategy']]} {on(g['where'])}" for g in gs])

    if not n["better"]:
        text = ("after Holm's correction no active strategy is significantly better than passive "
                "learning on its primary criterion on any problem")
    else:
        text = ("after Holm's correction, active strategies are significantly better than passive "
                "learning only for " + listing(n["better"]))
    if n["worse"]:
        text += ", while significantly worse results occur for " + listing(n["worse"])
    else:
        text += ", and none is significantly worse"
    return text


@SIGNIFICANCE_SUMMARY.template
def _t_significance(f: Finding) -> str:
    (form,) = f.subjects
    n = f.numbers
    if form == "conclusion":
        k = n["n_problems"]
        where = f"On the {words(k)} problems" if k > 1 else "On the one problem"
        return f"{where}, {_significance_phrase(n)}."
    return capital(_significance_phrase(n)) + "."


def _significance_summary(ctx: Context) -> str:
    """Which strategies are significantly better / worse than passive learning, and where."""
    f = significance(ctx, "abstract")
    check_findings([f], ctx)
    return _significance_phrase(f.numbers)


def equivalence_summary(ctx: Context) -> list[Finding]:
    """The Bayesian verdicts of every strategy against passive learning on the primary criterion."""
    counts = {"equivalent": 0, "better": 0, "worse": 0, "inconclusive": 0, "identical": 0}
    for p in ctx.problems:
        for v in equivalences(ctx, p, "passive").values():
            if v in counts:
                counts[v] += 1
    return [make("equivalence-summary", (), {"counts": counts, "rope": rope_note(ctx)})] if sum(counts.values()) else []


@EQUIVALENCE_SUMMARY.template
def _t_equivalence_summary(f: Finding) -> str:
    c = f.numbers["counts"]
    return (f"By the Bayesian correlated $t$-test with a region of practical equivalence ({f.numbers['rope']}), "
            f"the {count(sum(c.values()))} comparisons with passive learning are {verdict_counts(c)}.")


@VERSUS_PASSIVE.check
def _check_versus_passive(f, ctx):
    (p,) = f.subjects
    n = f.numbers
    need(f, n["metric"] == primary_of(p), "not the primary criterion")
    v = verdicts(ctx, p, "passive")
    for key, word in (("better", "better"), ("worse", "worse"), ("same", "none")):
        truth = [s for s in STRATEGIES if v.get(s) == word]
        need(f, list(n[key]) == truth, f"{key}: {list(n[key])} where the tests give {truth}")
    _check_equivalence_split(f, ctx, p, "passive", n["same"], n)


def _check_equivalence_split(f, ctx, p: str, baseline: str, same, n) -> None:
    """The strategies without a significant difference, split by the recomputed Bayesian verdict."""
    truth = {s: equivalence_truth(ctx, p, s, baseline) for s in same}
    for key, words in (("equivalent", ("equivalent",)), ("inconclusive", ("inconclusive",)),
                       ("identical", ("identical",)), ("apart", ("better", "worse"))):
        want = [s for s in same if truth[s] in words]
        need(f, list(n.get(key, [])) == want, f"{key}: {list(n.get(key, []))} where the posterior gives {want}")


@QUIET.check
def _check_quiet(f, ctx):
    (task,) = f.subjects
    sc = f.numbers["where"]
    check_scope(f, ctx, sc)
    verdicts_ = [equivalence_truth(ctx, p, s) for p in sc["problems"] for s in verdicts(ctx, p, "passive")]
    need(f, f.numbers["counts"] == {k: verdicts_.count(k) for k in f.numbers["counts"]},
         f"equivalence counts {f.numbers['counts']} against the posteriors {verdicts_}")
    need(f, f.numbers["metric"] == an.PRIMARY_METRIC[task] and all(TASKS[p] == task for p in sc["problems"]),
         "problems or criterion of another task")
    for p in sc["problems"]:
        v = verdicts(ctx, p)
        need(f, bool(v) and set(v.values()) == {"none"}, f"{p}: a strategy differs significantly or none is tested")


@BEST_MEAN.check
def _check_best_mean(f, ctx):
    (task,) = f.subjects
    n = f.numbers
    need(f, n["metric"] == an.PRIMARY_METRIC[task], "not the primary criterion")
    truth = {p: best_of(ctx, p, n["metric"]) for p in ctx.problems_of(task)}
    truth = {p: b for p, b in truth.items() if b}
    need(f, {p: list(b) for p, b in n["best"].items()} == truth, f"best {n['best']} where the means give {truth}")
    check_grouped(f, ctx, n["groups"], truth, "best")
    hib = an.higher_is_better(n["metric"])
    passed = []
    for p, b in truth.items():  # the diverged runs from the per-run final rows
        fin = ctx.finals[ctx.finals["dataset"] == p]
        top = mean_of(ctx, p, b[0], n["metric"])
        for s in sorted(set(fin.loc[fin["diverged"].astype(bool), "strategy"]) - set(b)):
            m = mean_of(ctx, p, s, n["metric"])
            if finite(m) and (m > top if hib else m < top):
                passed.append((s, p))
    need(f, sorted(map(tuple, n.get("passed", []))) == sorted(passed),
         f"leaves out {n.get('passed')} where the diverged strategies ahead are {passed}")


@SCHEDULE.check
def _check_schedule(f, ctx):
    p, s = f.subjects
    n = f.numbers
    metric = primary_of(p)
    hib = an.higher_is_better(metric)
    vp = verdicts(ctx, p, "passive")
    vr = verdicts(ctx, p, "random")
    need(f, s in QUERY and n["metric"] == metric, "not a query strategy on its primary criterion")
    need(f, vp.get(s) == n["direction"] and n["direction"] in ("better", "worse"),
         f"{s} is {vp.get(s)} than passive by the tests")
    need(f, vr.get(s) == "none", f"{s} against random sampling: {vr.get(s)}")
    means = {k: mean_of(ctx, p, k, metric) for k in (s, "random", "passive")}
    need(f, all(close(n[k if k != s else "mean"], means[k], 1e-9) for k in means), "the means are not the tables'")
    random_dir = "better" if (means["random"] > means["passive"]) == hib else "worse"
    need(f, means["random"] != means["passive"] and random_dir == n["direction"],
         "random sampling is not on the same side of passive learning")
    need(f, n["random_sig"] == (vp.get("random") == n["direction"]), "random's own test is misstated")
    need(f, n["equivalence"] == equivalence_truth(ctx, p, s, "random"), "the Bayesian verdict is misstated")


@VERSUS_RANDOM.check
def _check_versus_random(f, ctx):
    rows = {r["strategy"]: r for r in f.numbers["rows"]}
    truth = {}
    for p in ctx.problems:
        for s, v in verdicts(ctx, p, "random").items():
            if s in QUERY:
                truth.setdefault(s, {"better": [], "worse": [], "none": []})[v].append(p)
    need(f, set(rows) == set(truth), f"strategies {sorted(rows)} where the tests cover {sorted(truth)}")
    for s, r in rows.items():
        check_scope(f, ctx, r["tested"], [p for v in truth[s].values() for p in v])
        check_scope(f, ctx, r["better"], truth[s]["better"])
        check_scope(f, ctx, r["worse"], truth[s]["worse"])
        need(f, list(r["same"]) == truth[s]["none"], f"{s}: no difference on {truth[s]['none']}")
        eq = [p for p in truth[s]["none"] if equivalence_truth(ctx, p, s, "random") == "equivalent"]
        check_scope(f, ctx, r["equivalent"], eq)
        ident = [p for p in truth[s]["none"] if equivalence_truth(ctx, p, s, "random") == "identical"]
        check_scope(f, ctx, r.get("identical", {"problems": [], "every": None}), ident)


@DIVERGENCE.check
def _check_divergence(f, ctx):
    fin = ctx.finals
    n = f.numbers
    need(f, n["total"] == len(fin), f"{n['total']} runs where the results have {len(fin)}")
    truth = []
    for p in ctx.problems:
        for s in STRATEGIES:
            sub = fin[(fin["dataset"] == p) & (fin["strategy"] == s)]
            d = int(sub["diverged"].astype(bool).sum()) if len(sub) else 0
            if d:
                truth.append([s, p, d, len(sub)])
    need(f, [list(r) for r in n["rows"]] == truth, f"diverged {n['rows']} where the results give {truth}")


@EQUIVALENCE_SUMMARY.check
def _check_equivalence_summary(f, ctx):
    truth = [equivalence_truth(ctx, p, s) for p in ctx.problems for s in verdicts(ctx, p, "passive")]
    need(f, f.numbers["counts"] == {k: truth.count(k) for k in f.numbers["counts"]},
         f"verdict counts {f.numbers['counts']} against the posteriors")


@SIGNIFICANCE_SUMMARY.check
def _check_significance_summary(f, ctx):
    n = f.numbers
    (form,) = f.subjects
    need(f, form in ("abstract", "conclusion") and n["n_problems"] == len(ctx.problems), "the problems counted")
    for key in ("better", "worse"):
        groups: dict[str, list[str]] = {}
        for p in ctx.problems:
            for s, v in verdicts(ctx, p).items():
                if v == key:
                    groups.setdefault(s, []).append(p)
        groups_match(f, ctx, n[key], groups, key)
        need(f, [g["strategy"] for g in n[key]] == [s for s in STRATEGIES if s in groups], f"the order of {key}")


def _primary_finals(ctx, p: str, s: str) -> np.ndarray:
    fin = ctx.finals
    sub = fin[(fin["dataset"] == p) & (fin["strategy"] == s) & ~fin["diverged"].astype(bool)]
    return sub[primary_of(p)].to_numpy(float)


@SKEWED_CRITERIA.check
def _check_skewed(f, ctx):
    truth = []
    for p in ctx.problems:
        for s in STRATEGIES:
            v = _primary_finals(ctx, p, s)
            if len(v) >= 3 and abs(float(_st.skew(v, bias=False))) > f.numbers["threshold"]:
                truth.append((p, s))
    stated = [(r["problem"], r["strategy"]) for r in f.numbers["rows"]]
    need(f, sorted(stated) == sorted(truth), f"skewed cells {stated} where the runs give {truth}")
    for r in f.numbers["rows"]:
        v = _primary_finals(ctx, r["problem"], r["strategy"])
        need(f, close(r["median"], float(np.median(v)), 1e-9) and close(r["mean"], float(v.mean()), 1e-9),
             "mean or median")


@STALLED.check
def _check_stalled(f, ctx):
    """Recomputed from the learning curves of the trial frame (not the findings' pivot): per run, the final
    MSE, the lowest MSE of any epoch and the first epoch below half of the straight line's error."""
    line = f.numbers["linear"]
    t = ctx.trials[(ctx.trials["dataset"] == "sine") & ~ctx.trials["diverged"].astype(bool)]
    escape, others = [], 0
    by_strategy = {r["strategy"]: r for r in f.numbers["rows"]}
    for s in STRATEGIES:
        runs = t[t["strategy"] == s].sort_values("epoch").set_index("epoch").groupby(["trial", "fold"])["mse"]
        if not len(runs):
            continue
        final, low = runs.last().astype(float), runs.min().astype(float)
        first_low = runs.apply(lambda m: float(m.index[(m < 0.5 * line).to_numpy()][0])
                               if (m < 0.5 * line).any() else float("nan"))
        stalled = final > f.numbers["factor"] * float(np.median(final))
        r = by_strategy.get(s)
        need(f, (r is None) == (not stalled.any()), f"{s}: stalled runs {int(stalled.sum())} not stated")
        others += int((~stalled).sum())
        escape += [int(e) for e in first_low[~stalled] if np.isfinite(e)]
        if r is None:
            continue
        on = stalled & (low >= 0.5 * line) & (np.abs(final / line - 1) < 0.5)
        need(f, r["stalled"] == int(stalled.sum()) and r["runs"] == len(final), f"{s}: stalled runs")
        need(f, close(r["mean_stalled"], float(final[stalled].mean()), 1e-9), f"{s}: their mean")
        need(f, r["on_line"] == int(on.sum()), f"{s}: runs on the straight line's error")
        need(f, r["late"] == int((stalled & (low < 0.5 * line)).sum()), f"{s}: runs that rose late")
        if r["on_line"]:
            need(f, close(r["mean_on_line"], float(final[on].mean()), 1e-9), f"{s}: mean of the runs on the line")
    need(f, f.numbers["others"] == others and f.numbers["escaped"] == len(escape), "the other runs")
    if escape:
        need(f, close(f.numbers["escape_epoch"], float(np.median(escape)), 1e-9), "their median escape epoch")
    from alnn.datasets import SINE_NOISE

    # var(sin x) = 1/2 and cov(x, sin x)^2 / var(x) = 1 / (pi^2 / 3) for x uniform on [-pi, pi]
    need(f, close(line, 0.5 - 1 / (np.pi ** 2 / 3) + SINE_NOISE ** 2, 1e-12), "the straight line's error")


# =========================================================================== deciders
def _comparisons(ctx: Context) -> list[Finding]:
    return comparison_findings(ctx, "classification") + comparison_findings(ctx, "regression")


VERSUS_PASSIVE.decider(lambda ctx: [f for f in _comparisons(ctx) if f.kind == "versus-passive"])
QUIET.decider(lambda ctx: [f for f in _comparisons(ctx) if f.kind == "quiet"])
SCHEDULE.decider(lambda ctx: [f for f in _comparisons(ctx) if f.kind == "schedule"])
BEST_MEAN.decider(lambda ctx: [f for f in _comparisons(ctx) if f.kind == "best-mean"])
VERSUS_RANDOM.decider(random_findings)
DIVERGENCE.decider(divergence_findings)
SKEWED_CRITERIA.decider(skew_findings)
STALLED.decider(stall_findings)
SIGNIFICANCE_SUMMARY.decider(lambda ctx: [significance(ctx, "abstract"), significance(ctx, "conclusion")])
EQUIVALENCE_SUMMARY.decider(equivalence_summary)
