"""The draft paper's claims against our results: its passive Fashion-MNIST accuracy, each of its
values against the benchmark, and its best strategy per problem.
"""

from __future__ import annotations

from alnn.report.constants import PROBLEM_LABELS, STRATEGIES, STRATEGY_PROSE
from alnn.report.format import finite, join, num, pct, words
from alnn.report.context import Context, reference_points
from alnn.report.queries import best_of_row
from alnn.report.claims import best_of, check_findings, close, Finding, Kind, make, mean_of, names, need, present


DRAFT_BENCHMARK = Kind("draft-benchmark", __name__, "our means from the summary against the draft's values and the "
                                                    "benchmark (references.toml)", consistency=True)
DRAFT_BEST = Kind("draft-best", __name__, "the best mean per problem from the summary against the draft's best "
                                          "strategy", consistency=True)
DRAFT_PASSIVE = Kind("draft-passive", __name__, "our passive mean from the summary against the draft's values", consistency=True)


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


def draft_passive(ctx: Context, form: str) -> list[Finding]:
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


@DRAFT_PASSIVE.template
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


def draft_benchmark(ctx: Context) -> list[Finding]:
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


@DRAFT_BENCHMARK.template
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


def draft_best(ctx: Context) -> list[Finding]:
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


@DRAFT_BEST.template
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


def draft_findings(ctx: Context) -> list[Finding]:
    return draft_passive(ctx, "draft") + draft_benchmark(ctx) + draft_best(ctx)


def draft_text(ctx: Context) -> str:
    found = draft_findings(ctx)
    check_findings(found, ctx)
    return " ".join(_draft_rows(ctx) + [f.text for f in found])


@DRAFT_PASSIVE.check
def _check_draft_passive(f, ctx):
    n = f.numbers
    fm = _draft(ctx).get("fashion-mnist", {})
    ours = mean_of(ctx, "fashion-mnist", "passive", "accuracy")
    top = max(fm.values())
    need(f, close(n["ours"], ours) and n["draft"] == fm.get("passive") and n["top"] == top, "the values")
    need(f, n["below_draft"] == (fm.get("passive") is not None and ours < fm["passive"]) and n["below_top"] == (ours < top),
         "the direction")


@DRAFT_BENCHMARK.check
def _check_draft_benchmark(f, ctx):
    n = f.numbers
    fm = _draft(ctx).get("fashion-mnist", {})
    ref = [pt for pt in reference_points(ctx.refs, "fashion-mnist") if "value" in pt][0]
    bench = float(ref["value"])
    need(f, n["bench"] == bench and dict(n["values"]) == dict(fm), "the values")
    ss = [s for s in STRATEGIES if s in fm]
    need(f, list(n["above"]) == [s for s in ss if fm[s] > bench], "the values above the benchmark")
    need(f, list(n["not_above"]) == [s for s in ss if fm[s] <= bench], "the values not above the benchmark")
    ours = {s: mean_of(ctx, "fashion-mnist", s, "accuracy") for s in n["above"]}
    ours = {s: m for s, m in ours.items() if finite(m)}
    need(f, set(n["ours"]) == set(ours) and all(close(n["ours"][s], ours[s]) for s in ours), "our values")
    need(f, list(n["unreached"]) == [s for s in n["above"] if s in ours and ours[s] < fm[s]]
         and list(n["reached"]) == [s for s in n["above"] if s in ours and ours[s] >= fm[s]],
         "which draft values our runs reach")


@DRAFT_BEST.check
def _check_draft_best(f, ctx):
    rows = f.numbers["rows"]
    truth = []
    for p, claims in _draft(ctx).items():
        if p not in ctx.problems:
            continue
        ss = [s for s in claims if s in present(ctx, p) and finite(mean_of(ctx, p, s, "accuracy"))]
        if len(ss) < 2:
            continue
        theirs = max(claims, key=claims.get)
        truth.append({"problem": p, "theirs": theirs, "ours": best_of(ctx, p, "accuracy")})
    need(f, [(r["problem"], r["theirs"], list(r["ours"])) for r in rows]
         == [(r["problem"], r["theirs"], r["ours"]) for r in truth], f"best strategies {truth}")
    need(f, list(f.numbers["agree"]) == [r["problem"] for r in truth if r["theirs"] in r["ours"]], "the agreements")


# =========================================================================== deciders
DRAFT_PASSIVE.decider(lambda ctx: draft_passive(ctx, "draft") + draft_passive(ctx, "abstract"))
DRAFT_BENCHMARK.decider(draft_benchmark)
DRAFT_BEST.decider(draft_best)
