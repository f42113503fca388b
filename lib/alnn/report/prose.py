"""The remaining generated prose (draft, setup, cost, conclusion) and ``findings.tex``.

Every sentence here that compares, counts, ranks or states a direction is a
finding (:mod:`alnn.report.claims`) checked against the result tables before
it is written; a contradiction raises :class:`~alnn.report.claims.FindingError`
and stops :func:`alnn.report.build`. :func:`collect` lists every finding of
the draft's protocol.
"""

from __future__ import annotations

from alnn.report.claims import Finding, kinds, said
from alnn.report.constants import PROBLEM_LABELS
from alnn.report.format import count, escape, finite, gnum, join, num, pct, Values
from alnn.report.context import Context, group_by_value, labels_of, query_params, settings_rows
from alnn.report.comparisons import (
    comparison_text, divergence_text, random_text, significance, skew_findings, stall_findings,
)
from alnn.report.convergence import convergence_text, efficiency_text
from alnn.report.grid import grid_findings, grid_text
from alnn.report.ranks import across_text, power_text
from alnn.report.reproduction import draft_passive, draft_text
from alnn.report.sanity import sanity_text
from alnn.report.selection import (
    at_cost_findings, budget_text, call_seconds, kept_pool_text, overhead_text, sasla_cost_findings,
    selection_text, subset_text,
)

#: The sections of the draft's protocol, whose findings :func:`collect` gathers.
DRAFT_SECTIONS = ("alnn.report.grid", "alnn.report.sanity", "alnn.report.comparisons", "alnn.report.selection",
                  "alnn.report.convergence", "alnn.report.ranks", "alnn.report.reproduction")


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
                    f"a grid search of {s.grid_folds} folds of {s.grid_epochs} epochs on every problem, and the "
                    f"whole of every data set")
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
    fewer = [(p, s["budget"]["trials"]) for p, s in settings_rows(ctx)
             if (s.get("budget") or {}).get("trials") and s["budget"]["trials"] != s.get("trials")]
    if fewer:
        by = group_by_value(dict(fewer))
        ours += "; the budget protocol " + join([f"{count(k)} {'trial' if k == 1 else 'trials'} on {labels_of(ps)}"
                                                 for k, ps in by])
    abl = sorted({int((s.get("ablation") or {}).get("trials") or 0) for _, s in settings_rows(ctx)} - {0})
    if abl:
        ours += f"; the ablations {rng(abl)} {'trial' if abl == [1] else 'trials'}"
    if abstract:
        return (f"All numbers come from the reduced \\texttt{{{escape(name)}}} profile (fewer trials and epochs, "
                f"given in the supplement), not from the full protocol.")
    if short:
        return (f"All numbers come from the reduced \\texttt{{{escape(name)}}} profile of "
                f"Section~\\ref{{sec:design}}, not from the full protocol.")
    return (f"\\textbf{{The results in this paper come from a reduced protocol}}: the "
            f"\\texttt{{{escape(name)}}} profile uses {ours}, whereas the study's full protocol uses "
            f"{full_txt}. The method is the same; the numbers have wider intervals and the tests "
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


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{num(seconds, 0)} seconds"
    if seconds < 7200:
        return f"{num(seconds / 60, 0)} minutes"
    return f"{num(seconds / 3600, 1)} hours"


def _hardware_text(ctx: Context) -> str:
    calls = call_seconds(ctx.trials)
    total = float(calls["seconds"].sum()) if len(calls) else float("nan")
    if not finite(total) or total <= 0:
        return ""
    return (f"The training runs behind the results of this paper took {_duration(total)} of "
            f"wall-clock time in the engine (selection and training, evaluation excluded), "
            f"not counting the grid search.")


def _abstract_results(ctx: Context) -> str:
    # the abstract states the headline and the passive baseline; the equivalence verdicts and SASLA's
    # costs are the results section's (the abstract stays within its 250 words)
    return said([significance(ctx, "abstract")] + draft_passive(ctx, "abstract"), ctx)


def _conclusion_text(ctx: Context) -> str:
    return said([significance(ctx, "conclusion")] + sasla_cost_findings(ctx), ctx)


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
    """Every finding of the draft's protocol, each kind's decider in its section's order, rendered but
    not yet checked (the tests use it)."""
    return [f for section in DRAFT_SECTIONS for k in kinds(section) for f in k.decide(ctx)]


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
    v["text/grid"] = grid_text(ctx)
    v["text/grid-findings"] = grid_findings(ctx)
    v["text/budget"] = budget_text(ctx)
    v["text/hardware"] = _hardware_text(ctx)
    v["text/sanity"] = sanity_text(ctx)
    v["text/comparison-classification"] = comparison_text(ctx, "classification")
    v["text/comparison-regression"] = comparison_text(ctx, "regression")
    v["text/kept-pool"] = kept_pool_text(ctx)
    v["text/random-baseline"] = random_text(ctx)
    v["text/divergence"] = divergence_text(ctx)
    v["text/skewed"] = said(skew_findings(ctx), ctx)
    v["text/stalled"] = said(stall_findings(ctx), ctx)
    v["text/at-cost"] = said(at_cost_findings(ctx), ctx)
    v["text/convergence"] = convergence_text(ctx)
    v["text/efficiency"] = efficiency_text(ctx)
    v["text/overhead"] = overhead_text(ctx)
    v["text/subset"] = subset_text(ctx)
    v["text/across"] = across_text(ctx)
    v["text/across-power"] = power_text(ctx)
    v["text/selection-overhead"] = selection_text(ctx)
    v["text/draft-claims"] = draft_text(ctx)
    v["text/conclusion"] = _conclusion_text(ctx)
    text, caption = _sasla_text(ctx, sasla_info)
    v["text/sasla-at-work"] = text
    v["text/sasla-caption"] = caption
    return v
