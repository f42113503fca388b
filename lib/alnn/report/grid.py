"""The grid search: winners at an edge of the grid, diverged configurations, and the draft's winners
reproduced or not.
"""

from __future__ import annotations

import numpy as np
from alnn.report.constants import PROBLEM_LABELS
from alnn.report.format import gnum, join, words
from alnn.report.context import Context, labels_of, settings_rows
from alnn.report.queries import grid_per_config
from alnn.report.claims import Finding, Kind, make, need, said


GRID_DIVERGED = Kind("grid-diverged", __name__, "the diverged configurations counted from the per-configuration, "
                                                "per-fold grid rows")
GRID_DRAFT = Kind("grid-draft", __name__, "the winners against the draft's published winners (references.toml)", consistency=True)
GRID_EDGE = Kind("grid-edge", __name__, "the winners' values against the grid's axes in the profile", consistency=True)


def grid_text(ctx: Context) -> str:
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
        axes = "$" + "\\times".join("\\{" + ", ".join(gnum(x) for x in a) + "\\}" for a in key) + "$"  # settings
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


#: The grid's axes whose winners the paper checks for an edge of the grid.
EDGE_AXES = ("hidden", "lr", "weight_decay", "momentum")


def _edges(ctx: Context) -> list[list]:
    """[problem, axis, smallest / largest] of every grid winner at an edge of its grid."""
    edges = []
    for p, w in ctx.winners.items():
        grid = ctx.settings(p).get("grid") or {}
        for axis in EDGE_AXES:
            vals = grid.get(axis) or []
            if len(vals) >= 2 and w.get(axis) in (min(vals), max(vals)):
                edges.append([p, axis, "largest" if w.get(axis) == max(vals) else "smallest"])
    return edges


def grid_edges(ctx: Context) -> list[Finding]:
    edges = _edges(ctx)
    return [make("grid-edge", (), {"edges": edges})] if edges else []


@GRID_EDGE.template
def _t_grid_edge(f: Finding) -> str:
    by: dict[tuple, list[str]] = {}
    for p, axis, end in f.numbers["edges"]:
        by.setdefault((axis, end), []).append(p)
    axis_name = {"hidden": "hidden size", "lr": "learning rate", "weight_decay": "weight decay",
                 "momentum": "momentum"}
    none = by.pop(("weight_decay", "smallest"), [])
    text = ""
    if by:
        text = ("The winner lies at an edge of the grid for "
                + join([f"the {axis_name[axis]} on {labels_of(ps)} (the {end} value)" for (axis, end), ps in by.items()])
                + ", so a wider grid might do better there.")
    if none:
        text += (" " if text else "") + f"The smallest weight decay of the grid wins on {labels_of(none)}."
    return text


def grid_diverged(ctx: Context) -> list[Finding]:
    rows = []
    for p, g in ctx.grids.items():
        per = grid_per_config(g) if len(g) else g
        if len(per) and per["diverged"].any():
            rows.append([p, int(per["diverged"].sum()), len(per)])
    return [make("grid-diverged", (), {"rows": rows})] if rows else []


@GRID_DIVERGED.template
def _t_grid_diverged(f: Finding) -> str:
    return ("Diverged configurations, which rank last, occurred on "
            + join([f"{PROBLEM_LABELS[p]} ({d} of {n})" for p, d, n in f.numbers["rows"]]) + ".")


def grid_draft(ctx: Context) -> list[Finding]:
    draft = (ctx.refs.get("draft") or {}).get("grid") or {}
    compared = [p for p in draft if p in ctx.winners]
    if not compared:
        return []
    same = [p for p in compared
            if all(float(ctx.winners[p].get(k, np.nan)) == float(v) for k, v in draft[p].items())]
    return [make("grid-draft", (), {"compared": compared, "same": same})]


@GRID_DRAFT.template
def _t_grid_draft(f: Finding) -> str:
    n = f.numbers
    if len(n["compared"]) == 1:
        return (f"The draft's grid winner for {PROBLEM_LABELS[n['compared'][0]]} (Table~II of the draft) is "
                f"{'' if n['same'] else 'not '}reproduced exactly.")
    return (f"The draft's grid winners (Table~II of the draft) are reproduced exactly on "
            f"{words(len(n['same']), 'none')} of the {words(len(n['compared']))} problems for which it reported "
            f"them.")


def grid_findings(ctx: Context) -> str:
    return said(grid_edges(ctx) + grid_diverged(ctx) + grid_draft(ctx), ctx)


@GRID_EDGE.check
def _check_grid_edge(f, ctx):
    truth = _edges(ctx)  # a consistency check: the winners and the grid are all there is to read
    need(f, [list(e) for e in f.numbers["edges"]] == truth, f"edges {truth}")


@GRID_DIVERGED.check
def _check_grid_diverged(f, ctx):
    truth = []
    for p, g in ctx.grids.items():
        if not len(g):
            continue
        keys = ["hidden", "lr", "weight_decay", "momentum"]
        per = g.groupby(keys)["diverged"].any()
        if per.any():
            truth.append([p, int(per.sum()), len(per)])
    need(f, [list(r) for r in f.numbers["rows"]] == truth, f"diverged configurations {truth}")


@GRID_DRAFT.check
def _check_grid_draft(f, ctx):
    draft = (ctx.refs.get("draft") or {}).get("grid") or {}
    compared = [p for p in draft if p in ctx.winners]
    same = [p for p in compared if all(float(ctx.winners[p].get(k, np.nan)) == float(v) for k, v in draft[p].items())]
    need(f, list(f.numbers["compared"]) == compared and list(f.numbers["same"]) == same, "the winners reproduced")


# =========================================================================== deciders
GRID_EDGE.decider(grid_edges)
GRID_DIVERGED.decider(grid_diverged)
GRID_DRAFT.decider(grid_draft)
