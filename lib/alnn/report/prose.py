"""The remaining generated prose (draft, setup, cost, conclusion) and ``findings.tex``.

Every sentence here that compares, counts, ranks or states a direction is a
finding (:mod:`alnn.report.claims`) checked against the result tables before
it is written; a contradiction raises :class:`~alnn.report.claims.FindingError`
and stops :func:`alnn.report.build`. :func:`collect` lists every finding of
the draft's protocol.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alnn.report.claims import (
    QUERY, Finding, check_findings, equivalences, make, names, on, runs_of, scope, template,
)
from alnn.report.constants import PROBLEM_LABELS, STRATEGIES, STRATEGY_PROSE
from alnn.report.format import Values, escape, finite, capital, count, gnum, join, num, pct, words
from alnn.report.context import (
    Context, group_by_value, labels_of, query_params, reference_points, settings_rows,
)
from alnn.report.queries import TOLERANCE, best_of_row, grid_per_config, rope_note
from alnn.report.findings import (
    across_text, at_cost_findings, budget_text, comparison_text, convergence_text, divergence_text,
    efficiency_text, power_text, random_text, said, sanity_text, sig_sets, skew_findings, stall_findings,
    subset_findings, subset_text, verdict_counts,
)


def _draft(ctx: Context) -> dict:
    return (ctx.refs.get("draft") or {}).get("accuracy") or {}


def _draft_rows(ctx: Context) -> list[str]:
    """The draft's accuracies beside ours, problem by problem (numbers only, no claim)."""
    out = []
    for p, claims in _draft(ctx).items():
        if p not in ctx.problems:
            continue
        ss = [s for s in STRATEGIES if s in claims and s in ctx.strategies(p)]
        if not ss:
            continue
        theirs = join([pct(claims[s]) for s in ss])
        ours = join([pct(ctx.stat(p, s, "accuracy")) for s in ss])
        out.append(f"For {PROBLEM_LABELS[p]} the draft reported {theirs} for {names(ss)}; our runs give "
                   f"{ours}.")
    return out


def _draft_passive(ctx: Context, form: str) -> list[Finding]:
    """Our passive accuracy on Fashion-MNIST against the draft's passive and best values."""
    fm = _draft(ctx).get("fashion-mnist", {})
    if "fashion-mnist" not in ctx.problems or not fm or (form == "draft" and "passive" not in fm):
        return []
    ours = ctx.stat("fashion-mnist", "passive", "accuracy")
    if not finite(ours):
        return []
    top = max(fm.values())
    return [make("draft-passive", (form,), {
        "ours": ours, "draft": fm.get("passive"), "top": top,
        "top_strategy": [s for s in STRATEGIES if fm.get(s) == top],
        "below_draft": fm.get("passive") is not None and ours < fm["passive"], "below_top": ours < top})]


@template("draft-passive")
def _t_draft_passive(f: Finding) -> str:
    (form,) = f.subjects
    n = f.numbers
    if form == "abstract":
        rel = "below" if n["below_top"] else "at least"
        return (f"Passive learning reaches {pct(n['ours'])} on Fashion-MNIST, {rel} the {pct(n['top'])} "
                f"that the draft reported for its best strategy.")
    gap = lambda x: num(100 * abs(x - n["ours"]), 1)  # noqa: E731
    first = (f"{gap(n['draft'])} points below the draft's {pct(n['draft'])} for passive learning" if n["below_draft"]
             else f"at least the draft's {pct(n['draft'])} for passive learning")
    second = (f"{gap(n['top'])} points below its best value of {pct(n['top'])}" if n["below_top"]
              else f"at least its best value of {pct(n['top'])}")
    return f"Our passive networks reach {pct(n['ours'])} on Fashion-MNIST, {first} and {second}."


def _draft_benchmark(ctx: Context) -> list[Finding]:
    """Each draft value on Fashion-MNIST against the benchmark, and ours for the same strategy against it."""
    fm = _draft(ctx).get("fashion-mnist", {})
    refs = [pt for pt in reference_points(ctx.refs, "fashion-mnist") if "value" in pt]
    if "fashion-mnist" not in ctx.problems or not fm or not refs:
        return []
    bench = float(refs[0]["value"])
    ss = [s for s in STRATEGIES if s in fm]
    above = [s for s in ss if fm[s] > bench]
    ours = {s: m for s in above if finite(m := ctx.stat("fashion-mnist", s, "accuracy"))}
    return [make("draft-benchmark", (), {
        "bench": bench, "bibkey": refs[0].get("bibkey") or "", "values": dict(fm), "above": above,
        "not_above": [s for s in ss if fm[s] <= bench], "ours": ours,
        "unreached": [s for s in above if s in ours and ours[s] < fm[s]],
        "reached": [s for s in above if s in ours and ours[s] >= fm[s]]})]


@template("draft-benchmark")
def _t_draft_benchmark(f: Finding) -> str:
    n = f.numbers
    v, ours = n["values"], n["ours"]
    cite = f"~\\cite{{{n['bibkey']}}}" if n["bibkey"] else ""

    def vals(ss, d):
        return join([pct(d[s]) for s in ss])

    text = f"The Fashion-MNIST benchmark reports {pct(n['bench'])} for its best one-hidden-layer network{cite}"
    if not n["above"]:
        return text + f"; none of the draft's values ({vals(n['not_above'], v)}) exceeds it."
    if not n["not_above"]:
        text += (f", and every value the draft reports ({vals(n['above'], v)}) exceeds it, beyond what this model "
                 f"class is known to reach on the data set")
    else:
        text += (f"; the draft's values for {names(n['above'])} ({vals(n['above'], v)}) exceed it, beyond what "
                 f"this model class is known to reach on the data set, those for {names(n['not_above'])} "
                 f"({vals(n['not_above'], v)}) do not")
    un, re_ = n["unreached"], n["reached"]
    if un and not re_:
        text += (f". Our runs stay below the draft's value for each of these strategies ({vals(un, ours)} for "
                 f"{names(un)}), so our measurements do not support them.")
    elif re_ and not un:
        text += f". Our runs reach the draft's value for each of these strategies ({vals(re_, ours)} for {names(re_)})."
    elif un and re_:
        text += (f". Our runs stay below the draft's values for {names(un)} ({vals(un, ours)}) but reach those for "
                 f"{names(re_)} ({vals(re_, ours)}).")
    else:
        text += "."
    return text


def _draft_best(ctx: Context) -> list[Finding]:
    """The draft's best strategy per problem against our best over every strategy of the problem."""
    rows = []
    for p, claims in _draft(ctx).items():
        if p not in ctx.problems:
            continue
        ss = [s for s in claims if s in ctx.strategies(p) and finite(ctx.stat(p, s, "accuracy"))]
        if len(ss) < 2:
            continue
        tied = best_of_row(ctx, p, ctx.strategies(p), "accuracy", True)
        rows.append({"problem": p, "theirs": max(claims, key=claims.get),
                     "ours": [s for s in ctx.strategies(p) if s in tied]})
    if not rows:
        return []
    return [make("draft-best", (), {"rows": rows, "agree": [r["problem"] for r in rows if r["theirs"] in r["ours"]]})]


@template("draft-best")
def _t_draft_best(f: Finding) -> str:
    n = f.numbers
    if len(n["rows"]) == 1:
        p = n["rows"][0]["problem"]
        text = (f"The draft's best strategy on {PROBLEM_LABELS[p]} is {'also' if n['agree'] else 'not'} the best "
                f"of all the strategies we ran, passive learning included")
    else:
        text = (f"The draft's best strategy per problem is also the best of all the strategies we ran, passive "
                f"learning included, on {words(len(n['agree']), 'none')} of the {words(len(n['rows']))} problems "
                f"it reported")
    other = [r for r in n["rows"] if r["problem"] not in n["agree"]]
    if other:
        text += " (" + "; ".join(
            f"on {PROBLEM_LABELS[r['problem']]} it reported {STRATEGY_PROSE[r['theirs']]} best, while "
            f"{names(r['ours'])} {'has' if len(r['ours']) == 1 else 'tie for'} the highest mean accuracy of our runs"
            for r in other) + ")"
    return text + "."


def _draft_findings(ctx: Context) -> list[Finding]:
    return _draft_passive(ctx, "draft") + _draft_benchmark(ctx) + _draft_best(ctx)


def _draft_text(ctx: Context) -> str:
    found = _draft_findings(ctx)
    check_findings(found, ctx)
    return " ".join(_draft_rows(ctx) + [f.text for f in found])


def _grid_text(ctx: Context) -> str:
    from alnn.halving import rung_epochs

    full: dict[tuple, list[str]] = {}
    halved: dict[tuple, list[tuple[str, list[int]]]] = {}
    for p, s in settings_rows(ctx):
        grid = s.get("grid") or {}
        key = tuple(tuple(grid.get(a) or []) for a in ("hidden", "lr", "weight_decay", "momentum"))
        if s.get("grid_search") == "halving":
            eta = int(s["halving_eta"])
            ends = rung_epochs(int(s["grid_epochs"]), eta, int(s["halving_rungs"]))
            halved.setdefault((key, s.get("grid_folds"), eta), []).append((p, ends))
        else:
            full.setdefault((key, s.get("grid_folds"), s.get("grid_epochs")), []).append(p)
    parts, seen = [], set()

    def configurations(key) -> str:
        size = int(np.prod([len(a) for a in key])) if all(key) else 0
        if key in seen:
            return f"the same {size} configurations"
        seen.add(key)
        axes = "$\\times$".join("\\{" + ", ".join(gnum(x) for x in a) + "\\}" for a in key)
        return f"{axes}, i.e.\\ {size} configurations"

    for (key, folds, epochs), probs in full.items():
        parts.append(f"{configurations(key)}, each trained for {epochs} epochs and scored by "
                     f"{folds}-fold cross-validation, for {labels_of(probs)}")
    for (key, folds, eta), rows in halved.items():
        share = {2: "half", 3: "third", 4: "quarter"}.get(eta, f"1/{eta}")
        each = join([f"{PROBLEM_LABELS[p]} ({'rungs ending at epochs ' if i == 0 else ''}"
                     f"{join([gnum(e) for e in ends])})" for i, (p, ends) in enumerate(rows)])
        parts.append(f"{configurations(key)}, scored by {folds}-fold cross-validation and searched by "
                     f"successive halving~\\cite{{jamieson2016}} on {each}: after each rung but the last only "
                     f"the best {share} of the configurations by that score train on, diverged ones dropped first")
    text = ("the grid being " + "; and ".join(parts)) if parts else "the grid of the profile"
    if halved:
        probs = [p for rows in halved.values() for p, _ in rows]
        text += (f". On {labels_of(probs)} the heat map shows each configuration's score at the last rung it "
                 f"reached, so the cells of configurations dropped early hold scores after fewer epochs")
    return text


def _grid_edges(ctx: Context) -> list[Finding]:
    edges = []
    for p, w in ctx.winners.items():
        grid = ctx.settings(p).get("grid") or {}
        for axis in ("hidden", "lr"):
            vals = grid.get(axis) or []
            if len(vals) >= 2 and w.get(axis) in (min(vals), max(vals)):
                edges.append([p, axis, "largest" if w.get(axis) == max(vals) else "smallest"])
    return [make("grid-edge", (), {"edges": edges})] if edges else []


@template("grid-edge")
def _t_grid_edge(f: Finding) -> str:
    by: dict[tuple, list[str]] = {}
    for p, axis, end in f.numbers["edges"]:
        by.setdefault((axis, end), []).append(p)
    axis_name = {"hidden": "hidden size", "lr": "learning rate"}
    return ("The winner lies at an edge of the grid for "
            + join([f"the {axis_name[axis]} on {labels_of(ps)} (the {end} value)" for (axis, end), ps in by.items()])
            + ", so a wider grid might do better there.")


def _grid_diverged(ctx: Context) -> list[Finding]:
    rows = []
    for p, g in ctx.grids.items():
        per = grid_per_config(g) if len(g) else g
        if len(per) and per["diverged"].any():
            rows.append([p, int(per["diverged"].sum()), len(per)])
    return [make("grid-diverged", (), {"rows": rows})] if rows else []


@template("grid-diverged")
def _t_grid_diverged(f: Finding) -> str:
    return ("Diverged configurations, which rank last, occurred on "
            + join([f"{PROBLEM_LABELS[p]} ({d} of {n})" for p, d, n in f.numbers["rows"]]) + ".")


def _grid_draft(ctx: Context) -> list[Finding]:
    draft = (ctx.refs.get("draft") or {}).get("grid") or {}
    compared = [p for p in draft if p in ctx.winners]
    if not compared:
        return []
    same = [p for p in compared
            if all(float(ctx.winners[p].get(k, np.nan)) == float(v) for k, v in draft[p].items())]
    return [make("grid-draft", (), {"compared": compared, "same": same})]


@template("grid-draft")
def _t_grid_draft(f: Finding) -> str:
    n = f.numbers
    if len(n["compared"]) == 1:
        return (f"The draft's grid winner for {PROBLEM_LABELS[n['compared'][0]]} (Table~II of the draft) is "
                f"{'' if n['same'] else 'not '}reproduced exactly.")
    return (f"The draft's grid winners (Table~II of the draft) are reproduced exactly on "
            f"{words(len(n['same']), 'none')} of the {words(len(n['compared']))} problems for which it reported "
            f"them.")


def _grid_findings(ctx: Context) -> str:
    return said(_grid_edges(ctx) + _grid_diverged(ctx) + _grid_draft(ctx), ctx)


def _profile_note(ctx: Context, short: bool = False, abstract: bool = False) -> str:
    """Whether the results come from the full protocol, and if not, how the profile differs."""
    name = str(ctx.profile.get("name", ""))
    if name == "full":
        return ("" if short or abstract else "These are the results of the full protocol.")
    try:
        from alnn.config import load_profile

        full = load_profile("full")
        s = next(iter(full.settings.values()))
        full_txt = (f"{s.trials} trials of {s.folds}-fold cross-validation with {s.epochs} epochs, "
                    f"a {s.grid.size}-point grid and the whole of every data set")
    except Exception:  # pragma: no cover - config absent
        full_txt = "the full protocol"
    rows = [s for _, s in settings_rows(ctx)]
    trials = sorted({s.get("trials") for s in rows if s.get("trials")})
    folds = sorted({s.get("folds") for s in rows if s.get("folds")})
    epochs = sorted({s.get("epochs") for s in rows if s.get("epochs")})

    def rng(vals):
        return gnum(vals[0]) if len(vals) == 1 else f"{gnum(vals[0])}--{gnum(vals[-1])}"

    ours = (f"{rng(trials)} {'trial' if trials == [1] else 'trials'} of {rng(folds)}-fold "
            f"cross-validation with {rng(epochs)} epochs"
            if trials and folds and epochs else "fewer trials")
    if abstract:
        return (f"All numbers come from the reduced \\texttt{{{escape(name)}}} profile ({ours}), "
                f"not from the full protocol.")
    if short:
        return (f"All numbers come from the reduced \\texttt{{{escape(name)}}} profile ({ours}), "
                f"not from the full protocol ({full_txt}).")
    return (f"\\textbf{{The results in this paper come from a reduced protocol}}: the "
            f"\\texttt{{{escape(name)}}} profile uses {ours}, whereas the study's full protocol uses "
            f"{full_txt}. The code path is the same; the numbers have wider intervals and the tests "
            f"less power than the full protocol would give.")


def _batch_text(ctx: Context) -> str:
    sizes = {p: s.get("batch_size") for p, s in settings_rows(ctx) if s.get("batch_size")}
    if not sizes:
        return "the mini-batch size of the profile"
    groups = group_by_value(sizes)
    return join([f"{gnum(v)} patterns for {labels_of(ps)}" for v, ps in sorted(groups, key=lambda g: g[0])])


def _query_text(ctx: Context) -> str:
    qs = {}
    for p, s in settings_rows(ctx):
        q = query_params(s)
        if q.get("query_size"):
            qs[p] = q["query_size"]
    if not qs:
        return "set by the profile"
    groups = sorted(group_by_value(qs), key=lambda g: g[0])
    return join([f"{gnum(v)} for {labels_of(ps)}" for v, ps in groups])


def _subsample_text(ctx: Context) -> str:
    subs = {p: s.get("subsample") for p, s in settings_rows(ctx) if s.get("subsample")}
    if not subs:
        return "Every problem is used in full."
    parts = []
    for n, ps in group_by_value(subs):
        parts.append(f"{labels_of(ps)} {'is' if len(ps) == 1 else 'are'} reduced to "
                     f"{'a stratified subsample' if len(ps) == 1 else 'stratified subsamples'} of "
                     f"{count(n)} patterns{'' if len(ps) == 1 else ' each'}")
    return "In this profile " + join(parts) + "."


def _call_seconds(trials: pd.DataFrame) -> pd.DataFrame:
    """Wall-clock seconds of every batched engine call: ``wall_s`` is cumulative per call and
    shared by all its networks, so a call is a (dataset, strategy) group of runs with the same
    final ``wall_s``."""
    if "wall_s" not in trials.columns:
        return pd.DataFrame(columns=["dataset", "strategy", "seconds", "runs"])
    last = trials.groupby(["dataset", "strategy", "trial", "fold"], sort=False)["wall_s"].max()
    last = last.reset_index()
    calls = last.groupby(["dataset", "strategy", "wall_s"], sort=False).size().rename("runs").reset_index()
    return calls.rename(columns={"wall_s": "seconds"})


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{num(seconds, 0)} seconds"
    if seconds < 7200:
        return f"{num(seconds / 60, 0)} minutes"
    return f"{num(seconds / 3600, 1)} hours"


def _hardware_text(ctx: Context) -> str:
    calls = _call_seconds(ctx.trials)
    total = float(calls["seconds"].sum()) if len(calls) else float("nan")
    if not finite(total) or total <= 0:
        return ""
    return (f"The training runs behind the results of this paper took {_duration(total)} of "
            f"wall-clock time in the engine (selection and training, evaluation excluded), "
            f"not counting the grid search.")


def _overhead_findings(ctx: Context) -> list[Finding]:
    """Wall-clock time per run of each strategy relative to passive learning (median over problems)."""
    calls = _call_seconds(ctx.trials)
    if calls.empty:
        return []
    per_run = calls.groupby(["dataset", "strategy"])[["seconds", "runs"]].sum()
    per_run = (per_run["seconds"] / per_run["runs"]).unstack("strategy")
    if "passive" not in per_run.columns:
        return []
    ratios = {s: float((per_run[s] / per_run["passive"]).median()) for s in STRATEGIES
              if s in per_run.columns and s != "passive" and per_run[s].notna().any()}
    ratios = {s: r for s, r in ratios.items() if finite(r)}
    return [make("overhead", (), {"ratios": ratios})] if ratios else []


@template("overhead")
def _t_overhead(f: Finding) -> str:
    r = f.numbers["ratios"]
    order = list(r)
    return ("Per network, selection and training took " + join([num(r[s], 1) for s in order])
            + " times the wall-clock time of passive learning for " + names(order)
            + (", respectively" if len(order) > 1 else "")
            + " (median over problems; indicative only, as it depends on the machine and its load).")


def _overhead_text(ctx: Context) -> str:
    return said(_overhead_findings(ctx), ctx)


def _significance(ctx: Context, form: str) -> Finding:
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


@template("significance-summary")
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
    f = _significance(ctx, "abstract")
    check_findings([f], ctx)
    return _significance_phrase(f.numbers)


def _sasla_cost_findings(ctx: Context) -> list[Finding]:
    """SASLA at its default setting against passive learning: presentations, multiply-adds (selection
    included, SPEC 3c) and wall-clock time per run, each as a ratio per problem."""
    if "macs" not in ctx.trials.columns:
        return []
    fin = ctx.finals
    calls = _call_seconds(ctx.trials)
    per_run = calls.groupby(["dataset", "strategy"])[["seconds", "runs"]].sum()
    wall = (per_run["seconds"] / per_run["runs"]).to_dict()
    out = {"presentations": {}, "macs": {}, "wall": {}}
    for p in ctx.problems:
        sub = fin[fin["dataset"] == p]
        a, b = sub[sub["strategy"] == "sasla"], sub[sub["strategy"] == "passive"]
        if a.empty or b.empty:
            continue
        out["presentations"][p] = float(a["presentations"].mean() / b["presentations"].mean())
        out["macs"][p] = float(a["macs"].mean() / b["macs"].mean())
        if (p, "sasla") in wall and (p, "passive") in wall and wall[(p, "passive")] > 0:
            out["wall"][p] = float(wall[(p, "sasla")] / wall[(p, "passive")])
    return [make("sasla-cost", (), out)] if out["macs"] else []


def _range(values: dict, fmt) -> str:
    lo, hi = min(values, key=values.get), max(values, key=values.get)
    if fmt(values[lo]) == fmt(values[hi]):
        return fmt(values[lo])
    return f"{fmt(values[lo])} ({PROBLEM_LABELS[lo]}) to {fmt(values[hi])} ({PROBLEM_LABELS[hi]})"


@template("sasla-cost")
def _t_sasla_cost(f: Finding) -> str:
    n = f.numbers
    share = lambda x: pct(x, 0)  # noqa: E731
    text = (f"At its default setting SASLA presented {_range(n['presentations'], share)} of passive learning's "
            f"patterns, but, its selection included, spent {_range(n['macs'], share)} of passive learning's "
            f"multiply-adds")
    if n["wall"]:
        text += f" and {_range(n['wall'], lambda x: num(x, 1))} times its wall-clock time per network"
    return text + "."


def _equivalence_summary(ctx: Context) -> list[Finding]:
    """The Bayesian verdicts of every strategy against passive learning on the primary criterion."""
    counts = {"equivalent": 0, "better": 0, "worse": 0, "inconclusive": 0}
    for p in ctx.problems:
        for v in equivalences(ctx, p, "passive").values():
            if v in counts:
                counts[v] += 1
    return [make("equivalence-summary", (), {"counts": counts, "rope": rope_note(ctx)})] if sum(counts.values()) else []


@template("equivalence-summary")
def _t_equivalence_summary(f: Finding) -> str:
    c = f.numbers["counts"]
    return (f"By the Bayesian correlated $t$-test with a region of practical equivalence ({f.numbers['rope']}), "
            f"the {count(sum(c.values()))} comparisons with passive learning are {verdict_counts(c)}.")


def _abstract_results(ctx: Context) -> str:
    # the abstract states the headline and the passive baseline; the equivalence verdicts and SASLA's
    # costs are the results section's (the abstract stays within its 250 words)
    return said([_significance(ctx, "abstract")] + _draft_passive(ctx, "abstract"), ctx)


def _conclusion_text(ctx: Context) -> str:
    sub = [f for f in subset_findings(ctx) if f.kind == "subset-range"]
    return said([_significance(ctx, "conclusion")] + sub, ctx)


def _scored(ctx: Context, p: str, s: str) -> float:
    sub = runs_of(ctx, p, s)
    if sub.empty or "scored" not in sub.columns:
        return float("nan")
    return float(sub.groupby(["trial", "fold"])["scored"].max().mean())  # cumulative count


def _added(ctx: Context, p: str, s: str) -> float:
    sub = runs_of(ctx, p, s)
    if sub.empty:
        return float("nan")
    first = sub[sub["epoch"] == sub["epoch"].min()].set_index(["trial", "fold"])["labels_used"]
    last = sub[sub["epoch"] == sub["epoch"].max()].set_index(["trial", "fold"])["labels_used"]
    return float((last - first).mean())


def _selection_findings(ctx: Context) -> list[Finding]:
    """Patterns scored by the selection step: which strategy scores the most, and per label added."""
    scored = {p: {s: v for s in ctx.strategies(p) if finite(v := _scored(ctx, p, s))} for p in ctx.problems}
    most = {}
    for p, sc in scored.items():
        top = max(sc.values()) if sc else 0
        if top > 0:
            most[p] = [s for s in STRATEGIES if s in sc and sc[s] >= top * (1 - TOLERANCE)]
    if not most:
        return []
    groups: dict[tuple, list[str]] = {}
    for p, ss in most.items():
        groups.setdefault(tuple(ss), []).append(p)
    per_label = {}
    for s in QUERY:
        vals = [scored[p][s] / a for p in ctx.problems if s in scored[p] and (a := _added(ctx, p, s)) > 0]
        if vals:
            per_label[s] = {"low": min(vals), "high": max(vals)}
    return [make("selection-overhead", (), {
        "scored": scored, "most": most, "per_label": per_label,
        "groups": [{"strategies": list(ss), "where": scope(ctx, ps)} for ss, ps in groups.items()]})]


@template("selection-overhead")
def _t_selection(f: Finding) -> str:
    n = f.numbers
    parts = [f"{names(g['strategies'])}{' (tied)' if len(g['strategies']) > 1 else ''} {on(g['where'])}"
             for g in n["groups"]]
    text = "Per run, the selection step scores the most patterns for " + join(parts)
    if any(len(g["strategies"]) > 1 for g in n["groups"]):
        text += f" (counts within {pct(TOLERANCE, 1)} of each other tie)"
    text += "."
    if n["per_label"]:
        def span(r):
            lo, hi = num(r["low"], sig=2), num(r["high"], sig=2)
            return f"{lo} times" if lo == hi else f"{lo} to {hi} times"

        text += (" For each label it adds, " + join([f"{STRATEGY_PROSE[s]} scores {span(r)}"
                                                     for s, r in n["per_label"].items()])
                 + " as many patterns (range over problems).")
    return text


def _selection_text(ctx: Context) -> str:
    return said(_selection_findings(ctx), ctx)


def _sasla_text(ctx: Context, info: dict | None) -> tuple[str, str]:
    if info:
        p = PROBLEM_LABELS.get(info["problem"], info["problem"])
        first, last = info["first"], info["last"]
        text = (f"The network shown (one {p} network, trial {info['trial']}, fold {info['fold']}) "
                f"trained on {pct(first, 0)} of its pool at epoch {info['e_first']} and on "
                f"{pct(last, 0)} at epoch {info['e_last']}; kept patterns are filled, set-aside "
                f"patterns open.")
        if info.get("returned"):
            text += (f" Across the epochs, {info['returned']} patterns were set aside and later "
                     f"selected again, which the re-selection from the whole candidate set allows.")
        caption = (f"patterns of one {p} network kept in the training subset $D_T$ (filled) and set "
                   f"aside (open) at a few epochs.")
        return text, caption
    text = ("No mask history was supplied to the report, so the figure shows instead the share of the "
            "pool that SASLA kept over the epochs on every problem (mean and range over runs).")
    caption = "share of the training pool in SASLA's subset $D_T$ against epochs (mean and range over runs)."
    return text, caption


def _limitations_text(ctx: Context) -> str:
    note = _profile_note(ctx, short=True)
    return note


def collect(ctx: Context) -> list[Finding]:
    """Every finding of the draft's protocol, rendered but not yet checked (the tests use it)."""
    from alnn.report import findings as fd

    out = fd.comparison_findings(ctx, "classification") + fd.comparison_findings(ctx, "regression")
    out += fd.random_findings(ctx) + fd.divergence_findings(ctx) + fd.subset_findings(ctx)
    lab = fd.labelled(ctx)
    out += [make("labelled-budget", (), lab)] if lab else []
    out += fd.rate_findings(ctx) + fd.faster_findings(ctx) + fd.presentation_findings(ctx) + fd.labels_range(ctx)
    out += fd.across_findings(ctx) + fd.power_findings(ctx, "paragraph") + fd.power_findings(ctx, "closing")
    out += fd.sanity_findings(ctx) + _draft_findings(ctx) + _draft_passive(ctx, "abstract")
    out += _grid_edges(ctx) + _grid_diverged(ctx) + _grid_draft(ctx) + _overhead_findings(ctx)
    out += [_significance(ctx, "abstract"), _significance(ctx, "conclusion")] + _selection_findings(ctx)
    out += _equivalence_summary(ctx) + _sasla_cost_findings(ctx) + skew_findings(ctx) + stall_findings(ctx)
    out += at_cost_findings(ctx)
    return out


def findings_values(ctx: Context, sasla_info: dict | None) -> Values:
    """The sentences of ``findings.tex``; each claim among them has passed its check."""
    v = Values()
    v["text/abstract-results"] = _abstract_results(ctx)
    v["text/abstract-profile"] = _profile_note(ctx, abstract=True)
    v["text/profile-note"] = _profile_note(ctx)
    v["text/limitations"] = _limitations_text(ctx)
    v["text/batch-sizes"] = _batch_text(ctx)
    v["text/query-sizes"] = _query_text(ctx)
    v["text/subsample"] = _subsample_text(ctx)
    v["text/grid"] = _grid_text(ctx)
    v["text/grid-findings"] = _grid_findings(ctx)
    v["text/budget"] = budget_text(ctx)
    v["text/hardware"] = _hardware_text(ctx)
    v["text/sanity"] = sanity_text(ctx)
    v["text/comparison-classification"] = comparison_text(ctx, "classification")
    v["text/comparison-regression"] = comparison_text(ctx, "regression")
    v["text/random-baseline"] = random_text(ctx)
    v["text/divergence"] = divergence_text(ctx)
    v["text/skewed"] = said(skew_findings(ctx), ctx)
    v["text/stalled"] = said(stall_findings(ctx), ctx)
    v["text/at-cost"] = said(at_cost_findings(ctx), ctx)
    v["text/convergence"] = convergence_text(ctx)
    v["text/efficiency"] = efficiency_text(ctx)
    v["text/overhead"] = _overhead_text(ctx)
    v["text/subset"] = subset_text(ctx)
    v["text/across"] = across_text(ctx)
    v["text/across-power"] = power_text(ctx)
    v["text/selection-overhead"] = _selection_text(ctx)
    v["text/draft-claims"] = _draft_text(ctx)
    v["text/conclusion"] = _conclusion_text(ctx)
    text, caption = _sasla_text(ctx, sasla_info)
    v["text/sasla-at-work"] = text
    v["text/sasla-caption"] = caption
    return v
