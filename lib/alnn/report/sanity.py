"""Passive learning against the published reference points of each problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from alnn.report.constants import PROBLEM_LABELS
from alnn.report.format import finite, num
from alnn.report.context import Context, reference_points
from alnn.report.queries import fmt_metric, metric_name, passive_value
from alnn.report.claims import close, Finding, Kind, make, need, said


SANITY = Kind("sanity", __name__, "passive learning's mean recomputed from the per-run final rows against each "
                                  "reference point")


def relation(mean: float, pt: Mapping[str, Any], derived: bool) -> dict | None:
    """The rule that places a mean against one reference point: ``relation`` (equal / above / below /
    ratio / inside), the reference values, and whether an error lies below a noise floor."""
    m = pt["metric"]
    is_acc = m.split("_")[0] in ("accuracy", "f1")
    if "value" in pt:
        ref = float(pt["value"])
        if is_acc:
            d = 100 * (mean - ref)
            return {"ref": ref, "relation": "equal" if abs(d) < 0.05 else ("above" if d > 0 else "below"),
                    "floor": False}
        if m.startswith("r2"):
            return {"ref": ref, "relation": "above" if mean > ref else "below", "floor": mean > ref and derived}
        return {"ref": ref, "relation": "ratio", "floor": derived and mean < ref}
    if "low" in pt:
        lo, hi = float(pt["low"]), float(pt["high"])
        return {"low": lo, "high": hi, "floor": False,
                "relation": "inside" if lo <= mean <= hi else "below" if mean < lo else "above"}
    return None


def _clause(ctx: Context, p: str, pt: Mapping[str, Any]) -> dict | None:
    m = pt["metric"]
    mean, _ = passive_value(ctx, p, m)
    if not finite(mean):
        return None
    c = {"problem": p, "metric": m, "ours": mean, "short": pt.get("short", pt["label"]),
         "bibkey": pt.get("bibkey") or "", "derived": bool(pt.get("derived"))}
    rel = relation(mean, pt, c["derived"])
    return None if rel is None else {**c, **rel}


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


@SANITY.template
def _t_sanity(f: Finding) -> str:
    out = ("Against these references, passive learning behaves as follows: "
           + "; ".join(_clause_text(c) for c in f.numbers["clauses"]) + ".")
    if f.numbers["floor"]:
        out += (" A result better than the noise floor is possible on a finite validation set, where "
                "the realised noise can be smaller than its standard deviation.")
    return out


def sanity_text(ctx: Context) -> str:
    return said(sanity_findings(ctx), ctx)


def sanity_truth(ctx, p: str, point: Mapping) -> dict | None:
    """Passive learning against one reference point, its mean recomputed from the per-run final rows
    (diverged runs left out) rather than read from the summary the decider reads."""
    m = point["metric"]
    fin = ctx.finals
    runs = fin[(fin["dataset"] == p) & (fin["strategy"] == "passive") & ~fin["diverged"].astype(bool)]
    ours = float(runs[m].mean()) if m in runs.columns and len(runs) else float("nan")
    if not finite(ours):
        return None
    rel = relation(ours, point, bool(point.get("derived")))
    return None if rel is None else {"problem": p, "metric": m, "ours": ours, **rel}


@SANITY.check
def _check_sanity(f, ctx):
    stated = f.numbers["clauses"]
    truth = [t for p in ctx.problems for pt in reference_points(ctx.refs, p)
             if (t := sanity_truth(ctx, p, pt)) is not None]
    need(f, len(stated) == len(truth), "the reference points compared")
    for a, b in zip(stated, truth):
        need(f, (a["problem"], a["metric"]) == (b["problem"], b["metric"]) and close(a["ours"], b["ours"])
             and a["relation"] == b["relation"], f"{b['problem']} {b['metric']}: {b['relation']}")
        for key in ("ref", "low", "high"):
            if key in b:
                need(f, close(a[key], b[key]), f"{b['problem']}: the reference value")
    need(f, f.numbers["floor"] == any(b["floor"] for b in truth), "the noise-floor remark")


# =========================================================================== deciders
SANITY.decider(sanity_findings)
