"""What the selection keeps and costs in the draft's protocol: SASLA's training subsets and presentations,
the labels the incremental strategies used, the patterns the selection step scores, the wall-clock
overhead, and SASLA at fixed shares of passive learning's cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
import numpy as np
import pandas as pd
from alnn import analysis as an
from alnn import stats as st
from alnn.stats import VERDICT_WORDS
from alnn.report.constants import PROBLEM_LABELS, STRATEGIES, STRATEGY_LABELS, STRATEGY_PROSE
from alnn.report.format import finite, join, num, pct
from alnn.report.context import Context, labels_of
from alnn.report.queries import compare, equivalence_settings, FULL, NEAR_WHOLE, TOLERANCE
from alnn.report.claims import (
    check_grouped, check_scope, close, Finding, INCREMENTAL, Kind, make, names,
    need, on, per_run_last, pool_of, present, primary_of, QUERY, runs_of, said, scope,
)


LABELLED_BUDGET = Kind("labelled-budget", __name__, "the labels used at each run's last epoch from the per-run trial "
                                                    "rows, over the pool from passive learning's first epoch")
LABELLED_SHARE = Kind("labelled-share", __name__, "the labels used at each run's last epoch from the per-run trial "
                                                  "rows, over the pool from passive learning's first epoch")
AT_COST = Kind("at-cost", __name__, "each run's value at the cost share and the verdict recomputed by the posterior "
                                    "from the per-run learning curves")
OVERHEAD = Kind("overhead", __name__, "the wall-clock time per run recomputed from the per-run trial rows")
PRESENTATIONS_SAVED = Kind("presentations-saved", __name__, "the cumulative presentations at each run's last epoch "
                                                            "from the per-run trial rows")
SASLA_COST = Kind("sasla-cost", __name__, "the multiply-adds and presentations recomputed from the per-run trial "
                                          "rows")
SELECTION_OVERHEAD = Kind("selection-overhead", __name__, "the patterns scored and the labels added recomputed from "
                                                          "the per-run trial rows")
KEPT_POOL = Kind("kept-pool", __name__, "the share set aside recomputed per run from SASLA's smallest subset and "
                                        "passive learning's pool of the same trial and fold")
SUBSET_RANGE = Kind("subset-range", __name__, "SASLA's subset at each run's last epoch, over the pool, from the "
                                              "per-run trial rows")


def pool_mean(ctx: Context, p: str) -> float:
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
        v, pool = _last_mean(ctx, p, strategy, "labels_used"), pool_mean(ctx, p)
        if finite(v) and finite(pool) and pool:
            share[p] = v / pool
    return share


def _subset_range(ctx: Context) -> list[Finding]:
    shares = {}
    for p in ctx.problems:
        v, pool = _last_mean(ctx, p, "sasla", "subset_size"), pool_mean(ctx, p)
        if finite(v) and finite(pool) and pool:
            shares[p] = v / pool
    if not shares:
        return []
    shown = {p: round(100 * v) for p, v in shares.items()}
    low = [p for p, v in shown.items() if v == min(shown.values())]
    high = [p for p, v in shown.items() if v == max(shown.values())]
    return [make("subset-range", (), {"shares": shares, "low": low, "high": high, "where": scope(ctx, shares)})]


@SUBSET_RANGE.template
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


@PRESENTATIONS_SAVED.template
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


@LABELLED_SHARE.template
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


@LABELLED_BUDGET.template
def _t_labelled_budget(f: Finding) -> str:
    n = f.numbers
    who = "the incremental strategies' labelled sets reach" if n["who"] == "incremental" else \
        "random sampling's labelled set reaches"
    if not n["part"]:
        return (f"With the budgets of this profile {who} the whole pool on every problem before training ends.")
    return (f"With the budgets of this profile {who.replace('reaches', 'stays').replace('reach', 'stay')} below "
            "the whole pool on "
            + join([f"{PROBLEM_LABELS[p]} ({pct(n['shares'][p], 0)} at the end)" for p in n["part"]]) + ".")


def set_aside(ctx: Context, p: str, s: str = "sasla") -> float:
    """The largest share of its pool that a run of ``s`` set aside in any epoch (its pool: the run's
    largest subset, the whole pool it starts from); NaN without runs."""
    sub = runs_of(ctx, p, s)
    if sub.empty:
        return float("nan")
    size = sub.groupby(["trial", "fold"])["subset_size"].agg(["min", "max"])
    return float((1 - size["min"] / size["max"]).max())


def _kept_pool(ctx: Context) -> list[Finding]:
    """Where SASLA kept (nearly) its whole pool in every epoch of every run it trained as passive learning
    did, so its verdicts against passive learning there describe no selection (SPEC 8: a trivially true
    verdict is stated as what it is)."""
    aside = {p: v for p in ctx.problems if finite(v := set_aside(ctx, p)) and v <= NEAR_WHOLE}
    if not aside:
        return []
    return [make("kept-pool", (), {"aside": aside, "limit": NEAR_WHOLE,
                                   "where": scope(ctx, aside)})]


@KEPT_POOL.template
def _t_kept_pool(f: Finding) -> str:
    n = f.numbers
    ps = n["where"]["problems"]
    shares = join([f"{_aside_words(n['aside'][p])} on {PROBLEM_LABELS[p]}" for p in ps])
    return (f"The most SASLA set aside of its pool in any epoch of any run was {shares} "
            f"(Table~\\supref{{sup:tab:cost}}), so on these problems it trained nearly as passive learning did, "
            f"and its results there (verdicts, ties, best means) say nothing about its selection.")


def _aside_words(x: float) -> str:
    return "nothing" if x == 0 else num(100 * x, sig=2) + "\\%"


@KEPT_POOL.check
def _check_kept_pool(f, ctx):
    n = f.numbers
    truth = {}
    for p in ctx.problems:  # the pool from passive learning's run of the same trial and fold
        sasla, passive = runs_of(ctx, p, "sasla"), runs_of(ctx, p, "passive")
        if sasla.empty or passive.empty:
            continue
        least = sasla.groupby(["trial", "fold"])["subset_size"].min()
        pool = passive.groupby(["trial", "fold"])["subset_size"].max().reindex(least.index)
        share = float((1 - least / pool).max())
        if share <= n["limit"]:
            truth[p] = share
    need(f, set(n["aside"]) == set(truth) and all(close(n["aside"][p], truth[p], 1e-9) for p in truth),
         f"set aside {n['aside']} where the runs give {truth}")
    check_scope(f, ctx, n["where"], truth)


def kept_pool_text(ctx: Context) -> str:
    return said(_kept_pool(ctx), ctx)


def subset_findings(ctx: Context) -> list[Finding]:
    out = _subset_range(ctx) + _presentations_saved(ctx)
    lab = labelled(ctx)
    return out + ([make("labelled-share", (), lab)] if lab else [])


def subset_text(ctx: Context) -> str:
    return said(subset_findings(ctx), ctx)


def budget_text(ctx: Context) -> str:
    lab = labelled(ctx)
    return said([make("labelled-budget", (), lab)], ctx) if lab else ""


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


@AT_COST.template
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


def call_seconds(trials: pd.DataFrame) -> pd.DataFrame:
    """Wall-clock seconds of every batched engine call: ``wall_s`` is cumulative per call and
    shared by all its networks, so a call is a (dataset, strategy) group of runs with the same
    final ``wall_s``."""
    if "wall_s" not in trials.columns:
        return pd.DataFrame(columns=["dataset", "strategy", "seconds", "runs"])
    last = trials.groupby(["dataset", "strategy", "trial", "fold"], sort=False)["wall_s"].max()
    last = last.reset_index()
    calls = last.groupby(["dataset", "strategy", "wall_s"], sort=False).size().rename("runs").reset_index()
    return calls.rename(columns={"wall_s": "seconds"})


def wall_per_network(trials: pd.DataFrame) -> dict[tuple[str, str], float]:
    """Wall-clock seconds per network of each (dataset, strategy): its calls' seconds over their runs."""
    per_run = call_seconds(trials).groupby(["dataset", "strategy"])[["seconds", "runs"]].sum()
    return (per_run["seconds"] / per_run["runs"]).to_dict()


def overhead_findings(ctx: Context) -> list[Finding]:
    """Wall-clock time per run of each strategy relative to passive learning (median over problems)."""
    wall = wall_per_network(ctx.trials)
    if not wall:
        return []
    per_run = pd.Series(wall).unstack(1)  # dataset x strategy
    if "passive" not in per_run.columns:
        return []
    ratios = {s: float((per_run[s] / per_run["passive"]).median()) for s in STRATEGIES
              if s in per_run.columns and s != "passive" and per_run[s].notna().any()}
    ratios = {s: r for s, r in ratios.items() if finite(r)}
    return [make("overhead", (), {"ratios": ratios})] if ratios else []


@OVERHEAD.template
def _t_overhead(f: Finding) -> str:
    r = f.numbers["ratios"]
    order = list(r)
    return ("Per network, selection and training took " + join([num(r[s], 1) for s in order])
            + " times the wall-clock time of passive learning for " + names(order)
            + (", respectively" if len(order) > 1 else "")
            + " (median over problems, Table~\\ref{sup:tab:cost}; indicative only, as it depends on the machine "
            "and its load).")


def overhead_text(ctx: Context) -> str:
    return said(overhead_findings(ctx), ctx)


def sasla_cost_findings(ctx: Context) -> list[Finding]:
    """SASLA at its default setting against passive learning: presentations, multiply-adds (selection
    included, SPEC 3c) and wall-clock time per run, each as a ratio per problem."""
    if "macs" not in ctx.trials.columns:
        return []
    fin = ctx.finals
    wall = wall_per_network(ctx.trials)
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


@SASLA_COST.template
def _t_sasla_cost(f: Finding) -> str:
    n = f.numbers
    share = lambda x: pct(x, 0)  # noqa: E731
    text = (f"At its default setting SASLA presented {_range(n['presentations'], share)} of passive learning's "
            f"patterns, but, its selection included, spent {_range(n['macs'], share)} of passive learning's "
            f"multiply-adds (Table~\\supref{{sup:tab:cost}})")
    return text + "."


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


def selection_findings(ctx: Context) -> list[Finding]:
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


@SELECTION_OVERHEAD.template
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
                 + " as many patterns (range over problems, Table~\\ref{sup:tab:cost}).")
    return text


def selection_text(ctx: Context) -> str:
    return said(selection_findings(ctx), ctx)


def display_ties(values: Mapping, decimals: int = 0) -> tuple[list, list]:
    """Keys whose value, printed as a percentage, is the lowest / the highest."""
    shown = {k: round(100 * v, decimals) for k, v in values.items()}
    lo, hi = min(shown.values()), max(shown.values())
    return [k for k, v in shown.items() if v == lo], [k for k, v in shown.items() if v == hi]


def sasla_last_shares(ctx) -> dict[str, float]:
    out = {}
    for p in ctx.problems:
        last = per_run_last(ctx, p, "sasla", "subset_size")
        pool = pool_of(ctx, p)
        if len(last) and finite(pool) and pool:
            out[p] = float(last.mean()) / pool
    return out


@SUBSET_RANGE.check
def _check_subset_range(f, ctx):
    n = f.numbers
    truth = sasla_last_shares(ctx)
    need(f, set(n["shares"]) == set(truth) and all(close(n["shares"][p], truth[p], 1e-6) for p in truth),
         f"shares {n['shares']} where the results give {truth}")
    lo, hi = display_ties(truth)
    need(f, list(n["low"]) == lo and list(n["high"]) == hi, f"lowest {lo}, highest {hi}")
    check_scope(f, ctx, n["where"], truth)


def presentation_ratios(ctx) -> dict[str, float]:
    """SASLA's cumulative presentations over the whole run / passive learning's, per problem."""
    out = {}
    for p in ctx.problems:
        a, b = per_run_last(ctx, p, "sasla", "presentations"), per_run_last(ctx, p, "passive", "presentations")
        if len(a) and len(b) and b.mean() > 0:
            out[p] = float(a.mean() / b.mean())
    return out


@PRESENTATIONS_SAVED.check
def _check_presentations_saved(f, ctx):
    n = f.numbers
    need(f, n["tolerance"] == TOLERANCE, "not the paper's tolerance")
    truth = presentation_ratios(ctx)
    need(f, set(n["ratio"]) == set(truth) and all(close(n["ratio"][p], truth[p], 1e-9) for p in truth),
         f"ratios {n['ratio']} where the results give {truth}")
    verdict = {p: {"same": "same", "lower": "fewer", "higher": "more"}[compare(r, 1.0, TOLERANCE)]
               for p, r in truth.items()}
    for key in ("fewer", "same", "more"):
        check_scope(f, ctx, n[key], [p for p, v in verdict.items() if v == key])


def labelled_shares(ctx, strategy: str) -> dict[str, float]:
    out = {}
    for p in ctx.problems:
        last = per_run_last(ctx, p, strategy, "labels_used")
        pool = pool_of(ctx, p)
        if len(last) and finite(pool) and pool:
            out[p] = float(last.mean()) / pool
    return out


def _check_labelled(f, ctx):
    n = f.numbers
    truth = labelled_shares(ctx, "random")
    need(f, set(n["shares"]) == set(truth) and all(close(n["shares"][p], truth[p], 1e-6) for p in truth),
         f"shares {n['shares']} where the results give {truth}")
    same = all(abs(v - truth[p]) <= TOLERANCE * truth[p]
               for s in INCREMENTAL for p, v in labelled_shares(ctx, s).items() if p in truth)
    need(f, n["who"] == ("incremental" if same else "random"),
         "the incremental strategies do not all end with random sampling's labels" if not same else
         "says random sampling where every incremental strategy ends alike")
    check_scope(f, ctx, n["whole"], [p for p, v in truth.items() if v >= FULL])
    need(f, list(n["part"]) == [p for p, v in truth.items() if v < FULL], "the partly labelled problems")


LABELLED_SHARE.check(_check_labelled)


LABELLED_BUDGET.check(_check_labelled)


@OVERHEAD.check
def _check_overhead(f, ctx):
    t = ctx.trials
    per = {}
    for (p, s), sub in t.groupby(["dataset", "strategy"], sort=False):
        last = sub.groupby(["trial", "fold"])["wall_s"].max()
        per[(p, s)] = float(np.unique(last.to_numpy(float)).sum() / len(last)) if len(last) else np.nan
    truth = {}
    for s in STRATEGIES:
        if s == "passive":
            continue
        r = [per[(p, s)] / per[(p, "passive")] for p in ctx.problems if (p, s) in per and (p, "passive") in per]
        r = [x for x in r if np.isfinite(x)]
        if r:
            truth[s] = float(np.median(r))
    stated = f.numbers["ratios"]
    need(f, set(stated) == set(truth) and all(close(stated[s], truth[s], 1e-6) for s in truth), f"ratios {truth}")


@SASLA_COST.check
def _check_sasla_cost(f, ctx):
    t = ctx.trials
    for p, share in f.numbers["macs"].items():
        runs = t[(t["dataset"] == p)]
        last = runs.loc[runs.groupby(["strategy", "trial", "fold"])["epoch"].idxmax()]
        total = last.groupby("strategy")[["macs", "presentations"]].mean()
        need(f, close(share, total.loc["sasla", "macs"] / total.loc["passive", "macs"], 1e-9),
             f"{p}: multiply-adds share {share}")
        need(f, close(f.numbers["presentations"][p],
                       total.loc["sasla", "presentations"] / total.loc["passive", "presentations"], 1e-9),
             f"{p}: presentations share")
        need(f, (share < 1) == (total.loc["sasla", "macs"] < total.loc["passive", "macs"]), "the side of 100%")


def scored_per_run(ctx, p: str, s: str) -> float:
    """Patterns scored by the selection step over the whole run (cumulative), mean over runs."""
    sub = runs_of(ctx, p, s)
    if sub.empty or "scored" not in sub.columns:
        return float("nan")
    return float(sub.groupby(["trial", "fold"])["scored"].max().mean())


def labels_added(ctx, p: str, s: str) -> float:
    """Labels added to the labelled set over the run (last minus first epoch), mean over runs."""
    sub = runs_of(ctx, p, s)
    if sub.empty:
        return float("nan")
    g = sub.sort_values("epoch").groupby(["trial", "fold"])["labels_used"]
    return float((g.last() - g.first()).mean())


@SELECTION_OVERHEAD.check
def _check_selection_overhead(f, ctx):
    n = f.numbers
    truth_most = {}
    for p in ctx.problems:
        sc = {s: scored_per_run(ctx, p, s) for s in present(ctx, p)}
        sc = {s: v for s, v in sc.items() if finite(v)}
        top = max(sc.values()) if sc else 0
        if top > 0:
            truth_most[p] = [s for s in STRATEGIES if s in sc and sc[s] >= top * (1 - TOLERANCE)]
        for s, v in sc.items():
            need(f, close(n["scored"][p][s], v, 1e-9), f"{s} on {p} scores {v}")
    need(f, {p: list(v) for p, v in n["most"].items()} == truth_most, f"the most per problem {truth_most}")
    check_grouped(f, ctx, n["groups"], truth_most, "most")
    stated = n["per_label"]
    need(f, list(stated) == [s for s in QUERY if any(s in present(ctx, p) and labels_added(ctx, p, s) > 0
                                                   for p in ctx.problems)], "the query strategies")
    for s, r in stated.items():
        vals = {p: scored_per_run(ctx, p, s) / labels_added(ctx, p, s) for p in ctx.problems
                if s in present(ctx, p) and labels_added(ctx, p, s) > 0}
        vals = {p: v for p, v in vals.items() if finite(v)}
        need(f, vals and close(r["low"], min(vals.values()), 1e-9) and close(r["high"], max(vals.values()), 1e-9),
             f"{s}: scored per label added")


@AT_COST.check
def _check_at_cost(f, ctx):
    """SASLA against passive at the same cost budget, recomputed from the curves by interpolation-free
    lookup: the best epoch of each run within the budget is its last one within it."""
    for r in f.numbers["rows"]:
        p = r["problem"]
        t = ctx.trials[(ctx.trials["dataset"] == p) & ~ctx.trials["diverged"].astype(bool)]
        metric = primary_of(p)
        passive = t[t["strategy"] == "passive"]
        budget = r["share"] * float(passive.groupby(["trial", "fold"])[r["cost"]].max().mean())
        vals = {}
        for s in ("sasla", "passive"):
            sub = t[(t["strategy"] == s) & (t[r["cost"]] <= budget)].sort_values("epoch")
            vals[s] = sub.groupby(["trial", "fold"])[metric].last()
        pair = pd.concat(vals, axis=1).dropna()
        need(f, len(pair) == r["runs"], f"{p} {r['cost']} {r['share']}: {len(pair)} paired runs")
        if r["verdict"] == "n/a":
            continue
        acc, rel, level = equivalence_settings(ctx, p)
        hib = an.higher_is_better(metric)
        rope = acc if hib else rel * abs(float(pair["passive"].mean()))
        d = (pair["sasla"] - pair["passive"]).to_numpy(float)
        verdict = st.paired_verdict(d, higher_is_better=hib, rope=rope, rho=1 / t["fold"].nunique(), level=level)
        need(f, verdict == r["verdict"], f"{p}: verdict")


# =========================================================================== deciders
SUBSET_RANGE.decider(_subset_range)
KEPT_POOL.decider(_kept_pool)
PRESENTATIONS_SAVED.decider(_presentations_saved)
LABELLED_SHARE.decider(lambda ctx: [make("labelled-share", (), lab)] if (lab := labelled(ctx)) else [])
LABELLED_BUDGET.decider(lambda ctx: [make("labelled-budget", (), lab)] if (lab := labelled(ctx)) else [])
OVERHEAD.decider(overhead_findings)
SASLA_COST.decider(sasla_cost_findings)
SELECTION_OVERHEAD.decider(selection_findings)
AT_COST.decider(at_cost_findings)


def cost_rows(ctx: Context) -> pd.DataFrame:
    """What each strategy's runs of the draft's protocol kept and cost, per problem (means over runs):
    the training subset and the labels at the last epoch as shares of the pool, the presentations and
    multiply-adds of the whole run and the wall-clock time per network as ratios to passive learning's,
    and the patterns the selection scored per label it added (the incremental strategies)."""
    fin = ctx.finals
    wall = wall_per_network(ctx.trials)
    rows = []
    for p in ctx.problems:
        pool = pool_mean(ctx, p)
        base = fin[(fin["dataset"] == p) & (fin["strategy"] == "passive")]
        for s in ctx.strategies(p):
            if s == "passive":
                continue
            sub = fin[(fin["dataset"] == p) & (fin["strategy"] == s)]
            row = {"dataset": p, "strategy": s,
                   "subset": _last_mean(ctx, p, s, "subset_size") / pool if pool else float("nan"),
                   "labels": _last_mean(ctx, p, s, "labels_used") / pool if pool else float("nan"),
                   "presentations": _total_presentations(ctx, p, s) / _total_presentations(ctx, p, "passive"),
                   "macs": float("nan"), "scored_per_label": float("nan"), "wall": float("nan"),
                   "set_aside": set_aside(ctx, p, s) if s == "sasla" else float("nan")}
            if "macs" in fin.columns and len(sub) and len(base):
                row["macs"] = float(sub["macs"].mean() / base["macs"].mean())
            if s in QUERY and (added := _added(ctx, p, s)) > 0:
                row["scored_per_label"] = _scored(ctx, p, s) / added
            if (p, s) in wall and wall.get((p, "passive"), 0) > 0:
                row["wall"] = float(wall[(p, s)] / wall[(p, "passive")])
            rows.append(row)
    return pd.DataFrame(rows)


#: the cost table's columns: (column of `cost_rows`, heading, format)
COST_COLUMNS = (
    ("subset", "Subset (\\% pool)", lambda x: num(100 * x, 0)),
    ("set_aside", "Most set aside (\\% pool)", lambda x: num(100 * x, sig=2) if x else "0"),
    ("labels", "Labels (\\% pool)", lambda x: num(100 * x, 0)),
    ("presentations", "Present.\\ (\\% passive)", lambda x: num(100 * x, 0)),
    ("macs", "MACs (\\% passive)", lambda x: num(100 * x, 0)),
    ("scored_per_label", "Scored per label", lambda x: num(x, sig=2)),
    ("wall", "Wall-clock ($\\times$ passive)", lambda x: num(x, 1)),
)


def cost_table(ctx: Context) -> str:
    """The cost table of the supplement (`cost_rows`), and each strategy's median over the problems,
    the value the text quotes for the wall-clock time."""
    rows = cost_rows(ctx)
    head = ["% Generated by alnn.report.build: do not edit.", "\\scriptsize\\setlength{\\tabcolsep}{3pt}",
            f"\\begin{{tabular}}{{ll{'r' * len(COST_COLUMNS)}}}", "\\toprule",
            "Problem & Strategy & " + " & ".join(h for _, h, _ in COST_COLUMNS) + " \\\\"]
    if rows.empty:
        return "\n".join(head + ["\\bottomrule", "\\end{tabular}"]) + "\n"

    def line(first: str, s: str, r) -> str:
        cells = [fmt(r[c]) if finite(r[c]) else "--" for c, _, fmt in COST_COLUMNS]
        return f"{first} & {STRATEGY_LABELS[s]} & " + " & ".join(cells) + " \\\\"

    body = []
    for p in ctx.problems:
        sub = rows[rows["dataset"] == p]
        body.append("\\midrule")
        body += [line(PROBLEM_LABELS[p] if i == 0 else "", r["strategy"], r) for i, (_, r) in
                 enumerate(sub.iterrows())]
    med = rows.groupby("strategy", sort=False)[[c for c, _, _ in COST_COLUMNS]].median()
    med["set_aside"] = np.nan  # a largest share over runs and epochs: no median over problems
    body.append("\\midrule")
    body += [line("Median" if i == 0 else "", s, med.loc[s]) for i, s in
             enumerate(s for s in STRATEGIES if s in med.index)]
    return "\n".join(head + body + ["\\bottomrule", "\\end{tabular}"]) + "\n"
