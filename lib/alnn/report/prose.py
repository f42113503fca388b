"""The remaining generated prose (draft, setup, cost, conclusion) and ``findings.tex``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alnn.report.constants import PROBLEM_LABELS, STRATEGIES, STRATEGY_PROSE
from alnn.report.format import Values, _escape, _finite, capital, count, gnum, join, num, pct, words
from alnn.report.context import (
    Context, _group_by_value, _labels, _on, _query_params, _reference_points, _settings_rows,
)
from alnn.report.tables import _grid_per_config
from alnn.report.findings import (
    _across_text, _budget_text, _comparison_text, _convergence_text, _divergence_text,
    _efficiency_text, _names, _random_text, _sanity_text, _sig_sets, _subset_text,
)


def _draft_text(ctx: Context) -> str:
    draft = (ctx.refs.get("draft") or {}).get("accuracy") or {}
    out = []
    for p, claims in draft.items():
        if p not in ctx.problems:
            continue
        ss = [s for s in STRATEGIES if s in claims and s in ctx.strategies(p)]
        if not ss:
            continue
        theirs = join([pct(claims[s]) for s in ss])
        ours = join([pct(ctx.stat(p, s, "accuracy")) for s in ss])
        out.append(f"For {PROBLEM_LABELS[p]} the draft reported {theirs} for {_names(ss)}; our runs give "
                   f"{ours}.")
    fm = draft.get("fashion-mnist", {})
    if "fashion-mnist" in ctx.problems and "passive" in fm:
        ours = ctx.stat("fashion-mnist", "passive", "accuracy")
        top = max(fm.values())
        if _finite(ours):
            below = ours < fm["passive"]
            out.append(f"Our passive networks reach {pct(ours)} on Fashion-MNIST, "
                       + (f"{num(100 * (fm['passive'] - ours), 1)} points below the draft's "
                          f"{pct(fm['passive'])} for passive learning and "
                          f"{num(100 * (top - ours), 1)} points below its best value of {pct(top)}"
                          if below else
                          f"{'not below' if ours >= fm['passive'] else ''} the draft's {pct(fm['passive'])}")
                       + ".")
        refs = [pt for pt in _reference_points(ctx.refs, "fashion-mnist") if "value" in pt]
        if refs:
            ref = refs[0]
            out.append(f"The Fashion-MNIST benchmark reports {pct(ref['value'])} for its best "
                       f"one-hidden-layer network~\\cite{{{ref['bibkey']}}}, "
                       + ("so the draft's values of " + pct(min(fm.values()))
                          + " and more lie beyond what this model class is known to reach on the data "
                            "set, and our measurements do not support them."
                          if min(fm.values()) > ref["value"] else
                          "which the draft's values do not exceed."))
    ranked = []
    for p, claims in draft.items():
        if p not in ctx.problems:
            continue
        ss = [s for s in claims if s in ctx.strategies(p) and _finite(ctx.stat(p, s, "accuracy"))]
        if len(ss) < 2:
            continue
        theirs = max(ss, key=lambda s: claims[s])
        ours = max(ss, key=lambda s: ctx.stat(p, s, "accuracy"))
        ranked.append((p, theirs, ours))
    if ranked:
        agree = [p for p, t, o in ranked if t == o]
        out.append(f"The draft's best strategy per problem is also ours on {words(len(agree), 'none')} of the "
                   f"{words(len(ranked))} problems it reported.")
    return " ".join(out)


def _grid_text(ctx: Context) -> str:
    groups: dict[tuple, list[str]] = {}
    for p, s in _settings_rows(ctx):
        grid = s.get("grid") or {}
        key = tuple(tuple(grid.get(a) or []) for a in ("hidden", "lr", "weight_decay", "momentum"))
        groups.setdefault((key, s.get("grid_folds"), s.get("grid_epochs")), []).append(p)
    parts = []
    for (key, folds, epochs), probs in groups.items():
        size = int(np.prod([len(a) for a in key])) if all(key) else 0
        axes = "$\\times$".join("\\{" + ", ".join(gnum(x) for x in a) + "\\}" for a in key)
        parts.append(f"{axes}, i.e.\\ {size} configurations, each trained for {epochs} epochs and scored by "
                     f"{folds}-fold cross-validation, for {_labels(probs)}")
    return ("the grid being " + "; and ".join(parts)) if parts else "the grid of the profile"


def _grid_findings(ctx: Context) -> str:
    edges, out = [], []
    for p, w in ctx.winners.items():
        grid = ctx.settings(p).get("grid") or {}
        for axis, name in (("hidden", "hidden size"), ("lr", "learning rate")):
            vals = grid.get(axis) or []
            if len(vals) >= 2 and w.get(axis) in (min(vals), max(vals)):
                edges.append((p, name, w.get(axis) == max(vals)))
    if edges:
        by = {}
        for p, name, top in edges:
            by.setdefault((name, "largest" if top else "smallest"), []).append(p)
        out.append("The winner lies at an edge of the grid for "
                   + join([f"the {name} on {_labels(ps)} (the {end} value)" for (name, end), ps in by.items()])
                   + ", so a wider grid might do better there.")
    div = []
    for p, g in ctx.grids.items():
        per = _grid_per_config(g) if len(g) else g
        if len(per) and per["diverged"].any():
            div.append((p, int(per["diverged"].sum()), len(per)))
    if div:
        out.append("Diverged configurations, which rank last, occurred on "
                   + join([f"{PROBLEM_LABELS[p]} ({d} of {n})" for p, d, n in div]) + ".")
    draft = (ctx.refs.get("draft") or {}).get("grid") or {}
    same = [(p, all(float(ctx.winners[p].get(k, np.nan)) == float(v) for k, v in d.items()))
            for p, d in draft.items() if p in ctx.winners]
    if same:
        n_same = sum(s for _, s in same)
        out.append(f"The draft's grid winners (Table~II of the draft) are reproduced exactly on "
                   f"{'none' if n_same == 0 else words(n_same)} of the {words(len(same))} problems for "
                   f"which it reported them.")
    return " ".join(out)


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
    rows = [s for _, s in _settings_rows(ctx)]
    trials = sorted({s.get("trials") for s in rows if s.get("trials")})
    folds = sorted({s.get("folds") for s in rows if s.get("folds")})
    epochs = sorted({s.get("epochs") for s in rows if s.get("epochs")})

    def rng(vals):
        return gnum(vals[0]) if len(vals) == 1 else f"{gnum(vals[0])}--{gnum(vals[-1])}"

    ours = (f"{rng(trials)} {'trial' if trials == [1] else 'trials'} of {rng(folds)}-fold "
            f"cross-validation with {rng(epochs)} epochs"
            if trials and folds and epochs else "fewer trials")
    if abstract:
        return (f"All numbers come from the reduced \\texttt{{{_escape(name)}}} profile ({ours}), "
                f"not from the full protocol.")
    if short:
        return (f"All numbers come from the reduced \\texttt{{{_escape(name)}}} profile ({ours}), "
                f"not from the full protocol ({full_txt}).")
    return (f"\\textbf{{The results in this paper come from a reduced protocol}}: the "
            f"\\texttt{{{_escape(name)}}} profile uses {ours}, whereas the study's full protocol uses "
            f"{full_txt}. The code path is the same; the numbers have wider intervals and the tests "
            f"less power than the full protocol would give.")


def _batch_text(ctx: Context) -> str:
    sizes = {p: s.get("batch_size") for p, s in _settings_rows(ctx) if s.get("batch_size")}
    if not sizes:
        return "the mini-batch size of the profile"
    groups = _group_by_value(sizes)
    return join([f"{gnum(v)} patterns for {_labels(ps)}" for v, ps in sorted(groups, key=lambda g: g[0])])


def _query_text(ctx: Context) -> str:
    qs = {}
    for p, s in _settings_rows(ctx):
        q = _query_params(s)
        if q.get("query_size"):
            qs[p] = q["query_size"]
    if not qs:
        return "set by the profile"
    groups = sorted(_group_by_value(qs), key=lambda g: g[0])
    return join([f"{gnum(v)} for {_labels(ps)}" for v, ps in groups])


def _subsample_text(ctx: Context) -> str:
    subs = {p: s.get("subsample") for p, s in _settings_rows(ctx) if s.get("subsample")}
    if not subs:
        return "Every problem is used in full."
    parts = []
    for n, ps in _group_by_value(subs):
        parts.append(f"{_labels(ps)} {'is' if len(ps) == 1 else 'are'} reduced to "
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
    if not _finite(total) or total <= 0:
        return ""
    return (f"The training runs behind the results of this paper took {_duration(total)} of "
            f"wall-clock time in the engine (selection and training, evaluation excluded), "
            f"not counting the grid search.")


def _overhead_text(ctx: Context) -> str:
    """Wall-clock time per run of each strategy relative to passive learning (median over problems)."""
    calls = _call_seconds(ctx.trials)
    if calls.empty:
        return ""
    per_run = calls.groupby(["dataset", "strategy"])[["seconds", "runs"]].sum()
    per_run = (per_run["seconds"] / per_run["runs"]).unstack("strategy")
    if "passive" not in per_run.columns:
        return ""
    ratios = {s: float((per_run[s] / per_run["passive"]).median()) for s in per_run.columns
              if s != "passive" and per_run[s].notna().any()}
    ratios = {s: r for s, r in ratios.items() if _finite(r)}
    if not ratios:
        return ""
    order = [s for s in STRATEGIES if s in ratios]
    return ("Per network, selection and training took "
            + join([num(ratios[s], 1) for s in order])
            + " times the wall-clock time of passive learning for " + _names(order)
            + (", respectively" if len(order) > 1 else "")
            + " (median over problems; indicative only, as it depends on the machine and its load).")


def _significance_summary(ctx: Context) -> str:
    """Which strategies are significantly better / worse than passive learning, and where."""
    better, worse = {}, {}
    for p in ctx.problems:
        b, w, _ = _sig_sets(ctx, p, ctx.primary(p))
        for st_ in b:
            better.setdefault(st_, []).append(p)
        for st_ in w:
            worse.setdefault(st_, []).append(p)

    def listing(d):
        return join([f"{STRATEGY_PROSE[s]} {_on(ctx, ps)}" for s, ps in d.items()])

    if not better:
        text = ("after Holm's correction no active strategy is significantly better than passive "
                "learning on its primary criterion on any problem")
    else:
        text = ("after Holm's correction, active strategies are significantly better than passive "
                "learning only for " + listing(better))
    if worse:
        text += ", while significantly worse results occur for " + listing(worse)
    else:
        text += ", and none is significantly worse"
    return text


def _abstract_results(ctx: Context) -> str:
    out = [capital(_significance_summary(ctx)) + "."]
    fm = ((ctx.refs.get("draft") or {}).get("accuracy") or {}).get("fashion-mnist", {})
    ours = ctx.stat("fashion-mnist", "passive", "accuracy") if "fashion-mnist" in ctx.problems else np.nan
    if _finite(ours) and fm:
        top = max(fm.values())
        rel = "below" if ours < top else "not below"
        out.append(f"Passive learning reaches {pct(ours)} on Fashion-MNIST, {rel} the {pct(top)} "
                   f"that the draft reported for its best strategy.")
    return " ".join(out)


def _conclusion_text(ctx: Context) -> str:
    out = [f"On the six problems, {_significance_summary(ctx)}."]
    sub = _subset_text(ctx)
    if sub:
        out.append(sub.split(". ")[0].rstrip(".") + ".")
    return " ".join(out)


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


def findings_values(ctx: Context, sasla_info: dict | None) -> Values:
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
    v["text/budget"] = _budget_text(ctx)
    v["text/hardware"] = _hardware_text(ctx)
    v["text/sanity"] = _sanity_text(ctx)
    v["text/comparison-classification"] = _comparison_text(ctx, "classification")
    v["text/comparison-regression"] = _comparison_text(ctx, "regression")
    v["text/random-baseline"] = _random_text(ctx)
    v["text/divergence"] = _divergence_text(ctx)
    v["text/convergence"] = _convergence_text(ctx)
    v["text/efficiency"] = _efficiency_text(ctx)
    v["text/overhead"] = _overhead_text(ctx)
    v["text/subset"] = _subset_text(ctx)
    v["text/across"] = _across_text(ctx)
    v["text/draft-claims"] = _draft_text(ctx)
    v["text/conclusion"] = _conclusion_text(ctx)
    text, caption = _sasla_text(ctx, sasla_info)
    v["text/sasla-at-work"] = text
    v["text/sasla-caption"] = caption
    return v
