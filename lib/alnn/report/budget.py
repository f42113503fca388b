"""The budget protocol's part of the paper (SPEC 3b, 6): results, findings with their checks, table, figures.

Every sentence here that compares, counts or ranks is the text of a finding whose kind is
declared in this module (:class:`~alnn.report.claims.Kind`: its decider, its template, and its
check, which recomputes the claim from the per-run rows and fails the build when the two disagree).
The per-cell kinds (``aubc``, ``budgets``, ``target``, ``plateau``) are checked like the rest;
the paper prints the grouping kinds built on them (``targets``, ``plateaus``, ``aubc-summary``), each a kind of its own
with its own check. ``python -m alnn kinds`` lists every kind with the path its check
recomputes along.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from alnn import analysis as an
from alnn import stats as st
from alnn.datasets import NAMES as PROBLEMS
from alnn.datasets import TASKS
from alnn.report.claims import Finding, FindingError, Kind, close, decide, make, need, said
from alnn.report.claims import check_findings as check_all
from alnn.report.constants import ALPHA, METRIC_PROSE, PROBLEM_LABELS, STRATEGY_LABELS, STRATEGY_PROSE, TASK_PROSE
from alnn.report.format import Values, finite as _finite, capital, count, join, num, p_is, pval
from alnn.report.queries import STALL_FACTOR
from alnn.report.tables import VERDICT_MARKS, ranks_table
from alnn.strategies.catalogue import FAMILIES, describe, names

__all__ = ["BudgetResults", "Finding", "FindingError", "budget_results", "findings", "check_findings",
           "budget_values", "budget_table", "training_table", "falls", "falls_table", "aubc_tests_table", "budget_figures", "QUERIES", "TARGET"]

#: The strategies compared with random sampling.
QUERIES = names(protocol="budget", role="query")
#: The share of passive's full-pool value the labels-to-target finding uses.
TARGET = 0.95


@dataclass
class BudgetResults:
    """Everything the budget section states, computed once from the budget frames."""

    frame: pd.DataFrame
    problems: list[str]
    schedules: dict[str, list[int]]
    aubc: pd.DataFrame
    aubc_summary: pd.DataFrame
    comparisons: pd.DataFrame
    penalty: pd.DataFrame
    across: dict[str, dict]
    targets: pd.DataFrame
    targets_summary: pd.DataFrame
    reference: pd.DataFrame
    settings: dict[str, dict] = field(default_factory=dict)
    trials_passive: dict[str, float] = field(default_factory=dict)
    profile: dict = field(default_factory=dict)
    training: pd.DataFrame = field(default_factory=pd.DataFrame)
    drops: pd.DataFrame = field(default_factory=pd.DataFrame)
    query_drops: pd.DataFrame = field(default_factory=pd.DataFrame)
    classes: pd.DataFrame = field(default_factory=pd.DataFrame)

    def strategies(self, problem: str) -> list[str]:
        present = set(self.frame.loc[self.frame["dataset"] == problem, "strategy"])
        return [s for s in an.STRATEGY_ORDER if s in present]

    def test(self, problem: str, strategy: str, quantity: str = "aubc", budget=None):
        c = self.comparisons
        sel = (c["dataset"] == problem) & (c["strategy"] == strategy) & (c["quantity"] == quantity)
        if budget is not None:
            sel &= c["budget"] == budget
        rows = c[sel]
        return None if rows.empty else rows.iloc[0]

    def aubc_mean(self, problem: str, strategy: str, what: str = "mean") -> float:
        s = self.aubc_summary
        row = s[(s["dataset"] == problem) & (s["strategy"] == strategy)]
        return float(row[what].iloc[0]) if len(row) else float("nan")


def budget_results(budget: pd.DataFrame, *, profile: Mapping | None = None,
                   trials: pd.DataFrame | None = None, alpha: float = ALPHA) -> BudgetResults:
    """The statistics of SPEC 6 for the budget protocol, from the concatenated budget frames."""
    frame = budget
    problems = [p for p in PROBLEMS if p in set(frame["dataset"])]
    per = an.aubc(frame)
    probs = (profile or {}).get("problems") or {}
    rope = {p: (lambda metric, mean, s=probs.get(p, {}): st.default_rope(
        metric, mean, accuracy=float(s.get("rope_accuracy", st.ROPE_ACCURACY)),
        relative=float(s.get("rope_relative", st.ROPE_RELATIVE)))) for p in problems}
    levels = {float(probs.get(p, {}).get("equivalence_level", st.EQUIVALENCE_LEVEL)) for p in problems}
    comps = st.budget_comparisons(frame, baseline="random", strategies=QUERIES, alpha=alpha, rope=rope)
    if len(levels) == 1 and len(comps) and levels != {st.EQUIVALENCE_LEVEL}:
        level = levels.pop()
        comps["equivalence"] = [e if e == "identical" else st.equivalence(b, r, w, level) for b, r, w, e in
                                zip(comps["p_better"], comps["p_rope"], comps["p_worse"], comps["equivalence"])]
    targets = an.labels_to_target(frame, fractions=(TARGET, 0.99))
    settings = {p: dict(((profile or {}).get("problems") or {}).get(p, {}).get("budget", {})) for p in problems}
    trials_passive = {}
    if trials is not None and len(trials):
        fin = an.finals(trials[trials["strategy"] == "passive"])
        for p in problems:
            sub = fin[(fin["dataset"] == p) & ~fin["diverged"].astype(bool)]
            if len(sub):
                trials_passive[p] = float(sub[an.PRIMARY_METRIC[TASKS[p]]].mean())
    return BudgetResults(
        frame=frame, problems=problems, schedules=an.budget_schedule_of(frame), aubc=per,
        aubc_summary=an.aubc_summary(per), comparisons=comps, penalty=st.penalty_matrix(frame, alpha=alpha),
        across=st.budget_across(frame, control="random", alpha=alpha), targets=targets,
        targets_summary=an.labels_to_target_summary(targets, fractions=(TARGET, 0.99)),
        reference=an.passive_reference(frame), settings=settings, trials_passive=trials_passive,
        profile=dict(profile or {}), training=an.budget_training(frame, far=STALL_FACTOR), drops=an.budget_drops(frame),
        query_drops=pd.concat([an.budget_drops(frame, strategy=q) for q in QUERIES
                               if q in set(frame["strategy"])] or [pd.DataFrame()], ignore_index=True),
        classes=an.budget_classes(frame))


# =========================================================================== findings
AUBC = Kind("aubc", __name__, "the AUBC test's row (Holm) for the verdict, its direction against the per-run AUBC "
            "means, and the Bayesian verdict recomputed by the posterior from the paired per-run AUBC")
BUDGETS = Kind("budgets", __name__, "the significant budgets counted from the per-budget comparison rows, and the "
               "schedule's length from the per-run frame", consistency=True)
BUDGET_ACROSS = Kind("budget-across", __name__, "Friedman's rejection and its floor from the ranking test over "
                     "the problems of the task present in the per-run frame", consistency=True)
TARGET_LABELS = Kind("target", __name__, "the median labels over all runs recomputed from the per-run "
                     "labels-to-target rows, a run that never reaches the target counting as +inf")
PLATEAU = Kind("plateau", __name__, "the ceiling's mean recomputed from the per-run rows of passive learning on "
               "the whole pool (diverged runs left out)")
DROPS = Kind("drops", __name__, "the corrected 95% intervals of the paired differences between budgets, "
             "recomputed from the per-run budget rows with numpy and scipy")
DROPS_SUMMARY = Kind("drops-summary", __name__, "as drops, over every problem")
QUERY_DROPS = Kind("query-drops", __name__, "as drops, for every query strategy, and random sampling's own "
                   "intervals on the problems said to be clean; the training accuracies on L at the largest fall "
                   "from the per-run rows")
DIVERGED = Kind("diverged", __name__, "the runs with a diverged network counted from the per-run rows")
FAMILIES_KIND = Kind("families", __name__, "the AUBC verdicts of each member from the comparison rows (Holm) and "
                     "the significant budgets from the per-budget rows", consistency=True)
BUDGETS_SUMMARY = Kind("budgets-summary", __name__, "the significant budgets of every cell counted from the "
                       "per-budget comparison rows (Holm)", consistency=True)
TARGETS = Kind("targets", __name__, "as target, for every problem in one sentence")
PLATEAUS = Kind("plateaus", __name__, "as plateau, for every problem in one sentence")
CARRIED = Kind("carried", __name__, "the ceiling's networks far off its median recounted from the per-run rows of "
                                    "passive learning on the whole pool, random sampling's AUBC from its per-run AUBC")
AUBC_SUMMARY = Kind("aubc-summary", __name__, "the significant AUBC comparisons counted from the comparison rows, "
                    "their directions against the per-run AUBC means")


def _verdict(t) -> str:
    if t is None or not _finite(t["p"]) or not bool(t["significant"]):
        return "none"
    return t["direction"] if t["direction"] in ("better", "worse") else "none"


def _median_labels(res: BudgetResults, p: str, s: str, fraction: float = TARGET) -> tuple[float, int, int]:
    """Median labels over all runs (never reached = +inf), runs reaching, runs in all."""
    t = res.targets
    sub = t[(t["dataset"] == p) & (t["strategy"] == s) & np.isclose(t["fraction"], fraction)]
    if sub.empty:
        return float("nan"), 0, 0
    labels = np.where(sub["censored"].to_numpy(bool), np.inf, sub["labels"].to_numpy(float))
    return float(np.median(labels)), int((~sub["censored"].astype(bool)).sum()), int(len(sub))


def _fmt(metric: str, x: float) -> str:
    return num(100 * x, 1) + "\\%" if metric == "accuracy" else num(x, sig=3)


def _tested(res: BudgetResults) -> list[tuple[str, str]]:
    """The (problem, query strategy) cells compared with random sampling, in the paper's order."""
    return [(p, s) for p in res.problems for s in QUERIES if s in res.strategies(p)
            and "random" in res.strategies(p) and res.test(p, s) is not None]


def _paired_aubc(res: BudgetResults, p: str, s: str) -> tuple[float, float]:
    """The mean AUBC of the strategy and of random sampling over their paired runs, from the per-run AUBC rows."""
    a = res.aubc[(res.aubc["dataset"] == p) & ~res.aubc["diverged"].astype(bool)]
    wide = a.pivot_table(index=["trial", "fold"], columns="strategy", values="aubc")[[s, "random"]].dropna()
    return float(wide[s].mean()), float(wide["random"].mean())


def _aubc_truth(f: Finding, res: BudgetResults, p: str, s: str) -> str:
    """better / worse / none on AUBC from the comparison rows, the direction checked against the per-run AUBC."""
    c = res.comparisons
    rows = c[(c["dataset"] == p) & (c["strategy"] == s) & (c["quantity"] == "aubc")]
    sig = rows["significant"].astype(bool) & (rows["p_holm"] <= ALPHA)
    truth = "none" if not sig.any() else str(rows.loc[sig, "direction"].iloc[0])
    if truth != "none":
        ms, mr = _paired_aubc(res, p, s)
        d = ms - mr
        hib = an.higher_is_better(an.PRIMARY_METRIC[TASKS[p]])
        need(f, (d > 0) == hib if truth == "better" else (d < 0) == hib,
             f"{p}/{s}: the test says {truth} but the per-run AUBC difference is {d}")
    return truth


@AUBC.decider
def _aubc_findings(res: BudgetResults) -> list[Finding]:
    out = []
    for p, s in _tested(res):
        t = res.test(p, s)
        out.append(make("aubc", (p, s), {"mean": float(t["mean_strategy"]), "random": float(t["mean_baseline"]),
                                         "p_holm": float(t["p_holm"]), "verdict": _verdict(t),
                                         "equivalence": str(t.get("equivalence", "n/a"))}))
    return out


@AUBC.template
def _t_aubc(f: Finding) -> str:
    p, s = f.subjects
    n = f.numbers
    crit = METRIC_PROSE[an.PRIMARY_METRIC[TASKS[p]]]
    head = f"{capital(STRATEGY_PROSE[s])} on {PROBLEM_LABELS[p]} (AUBC of {crit} {num(n['mean'], sig=3)} " \
           f"against random sampling's {num(n['random'], sig=3)}, Holm-adjusted {pval(n['p_holm'])})"
    eq = n.get("equivalence", "n/a")
    tail = {"better": "is significantly better than random sampling",
            "worse": "is significantly worse than random sampling",
            "none": {"equivalent": "is practically equivalent to random sampling",
                     "inconclusive": "is inconclusive against random sampling: neither significantly "
                                     "different nor shown practically equivalent",
                     "better": "is practically better than random sampling though not significantly",
                     "worse": "is practically worse than random sampling though not significantly",
                     "n/a": "is not tested against random sampling"}[eq]}[n["verdict"]]
    if n["verdict"] != "none" and eq in ("equivalent", "inconclusive"):
        tail += f" (the Bayesian test: {st.VERDICT_WORDS[eq]})"
    return f"{head} {tail}."


@AUBC.check
def _check_aubc(f: Finding, res: BudgetResults) -> None:
    p, s = f.subjects
    n = f.numbers
    need(f, n["verdict"] == _aubc_truth(f, res, p, s), "the verdict is not the test's")
    ms, mr = _paired_aubc(res, p, s)
    need(f, close(n["mean"], ms, 1e-9) and close(n["random"], mr, 1e-9),
         f"the mean AUBCs are not the paired runs' ({ms}, {mr})")
    if "equivalence" in res.comparisons:
        need(f, n["equivalence"] == _posterior_verdict(res, p, s), "the Bayesian verdict is not the posterior's")


@BUDGETS.decider
def _budget_findings(res: BudgetResults) -> list[Finding]:
    out = []
    c = res.comparisons[res.comparisons["quantity"] == "budget"]
    for p in res.problems:
        for s in [q for q in QUERIES if q in res.strategies(p)]:
            sub = c[(c["dataset"] == p) & (c["strategy"] == s)]
            if sub.empty:
                continue
            verdicts = [_verdict(r) for _, r in sub.iterrows()]
            eq = int((sub["equivalence"] == "equivalent").sum()) if "equivalence" in sub else 0
            out.append(make("budgets", (p, s), {"better": verdicts.count("better"), "worse": verdicts.count("worse"),
                                                "budgets": len(verdicts), "equivalent": eq}))
    return out


@BUDGETS.template
def _t_budgets(f: Finding) -> str:
    p, s = f.subjects
    n = f.numbers
    parts = []
    if n["better"]:
        parts.append(f"significantly better at {count(n['better'])}")
    if n["worse"]:
        parts.append(f"significantly worse at {count(n['worse'])}")
    eq = f"; it is practically equivalent to it at {count(n.get('equivalent', 0))}"
    if not parts:
        return (f"At none of the {count(n['budgets'])} budgets of {PROBLEM_LABELS[p]} is "
                f"{STRATEGY_PROSE[s]} significantly better or worse than random sampling{eq}.")
    return (f"Of the {count(n['budgets'])} budgets of {PROBLEM_LABELS[p]}, {STRATEGY_PROSE[s]} is "
            + " and ".join(parts) + f" than random sampling{eq}.")


def _budget_counts(res: BudgetResults, p: str, s: str) -> dict[str, int]:
    c = res.comparisons
    rows = c[(c["dataset"] == p) & (c["strategy"] == s) & (c["quantity"] == "budget")]
    sig = rows["significant"].astype(bool)
    out = {"better": int((sig & (rows["direction"] == "better")).sum()),
           "worse": int((sig & (rows["direction"] == "worse")).sum()), "budgets": int(len(rows))}
    if "equivalence" in rows:
        out["equivalent"] = int((rows["equivalence"] == "equivalent").sum())
    return out


@BUDGETS.check
def _check_budgets(f: Finding, res: BudgetResults) -> None:
    p, s = f.subjects
    truth = _budget_counts(res, p, s)
    need(f, all(f.numbers.get(k) == v for k, v in truth.items()), f"counts {f.numbers} where the rows give {truth}")
    need(f, truth["budgets"] == len(res.frame.loc[res.frame["dataset"] == p, "budget"].unique()
                                    if s in res.strategies(p) else 0) or truth["budgets"] == len(res.schedules[p]),
         "not every budget of the schedule")


@BUDGET_ACROSS.decider
def _across_findings(res: BudgetResults) -> list[Finding]:
    out = []
    for task, a in res.across.items():
        fr = a.get("friedman")
        if fr is None:
            out.append(make("budget-across", (task,), {"tested": False, "note": a.get("note") or ""}))
            continue
        post = a.get("posthoc")
        diff = [] if post is None else [r["strategy"] for _, r in post.iterrows() if bool(r["significant"])]
        floor = st.power_limits(fr.k, fr.n)["min_p_friedman"]
        out.append(make("budget-across", (task,), {"tested": True, "p": float(fr.p_chi2),
                                                   "reject": bool(fr.p_chi2 <= ALPHA), "floor": float(floor),
                                                   "n": int(a["scores"].shape[0]), "different": diff}))
    return out


@BUDGET_ACROSS.template
def _t_budget_across(f: Finding) -> str:
    (task,) = f.subjects
    n = f.numbers
    if not n["tested"]:
        return f"Across the {TASK_PROSE[task]} problems no ranking test is possible ({n['note']})."
    dec = "rejects" if n["reject"] else "does not reject"
    text = (f"Across the {count(n['n'])} {TASK_PROSE[task]} problems the Friedman test {dec} equal ranks "
            f"of the AUBC ($\\chi^2_F$, {p_is(n['p'])}; the smallest $p$ it can reach with these problems "
            f"is {pval(n['floor'])})")
    if n["different"]:
        return text + f"; Holm finds {join([STRATEGY_PROSE[s] for s in n['different']])} different from random sampling."
    return text + "; the Holm post-hoc finds no strategy different from random sampling."


@BUDGET_ACROSS.check
def _check_budget_across(f: Finding, res: BudgetResults) -> None:
    (task,) = f.subjects
    n = f.numbers
    a = res.across[task]
    need(f, (a.get("friedman") is None) == (not n["tested"]), "tested or not")
    if not n["tested"]:
        need(f, n["note"] == (a.get("note") or ""), "the reason no test is possible")
    else:
        post = a.get("posthoc")
        truth = [] if post is None else [r["strategy"] for _, r in post.iterrows() if bool(r["significant"])]
        need(f, list(n["different"]) == truth, f"Holm finds {truth} different")
        fr = a["friedman"]
        need(f, (fr.p_chi2 <= ALPHA) == n["reject"], "the rejection is not the test's")
        need(f, n["n"] == len([p for p in res.problems if TASKS[p] == task]) == fr.n, "the number of problems")
        need(f, n["p"] >= st.power_limits(fr.k, fr.n)["min_p_friedman"] - 1e-12, "p below its floor")


def _target_row(res: BudgetResults, p: str) -> dict:
    cands = [s for s in ("random",) + QUERIES if s in res.strategies(p)]
    med = {s: _median_labels(res, p, s) for s in cands}
    finite = {s: m for s, (m, _, _) in med.items() if np.isfinite(m)}
    low = min(finite.values()) if finite else None
    return {"median": {s: m[0] for s, m in med.items()}, "reached": {s: m[1] for s, m in med.items()},
            "runs": {s: m[2] for s, m in med.items()},
            "fewest": [s for s, m in finite.items() if m == low] if finite else []}


def _check_target_row(f: Finding, res: BudgetResults, p: str, n: Mapping) -> None:
    t = res.targets
    for s, m in n["median"].items():
        sub = t[(t["dataset"] == p) & (t["strategy"] == s) & (np.abs(t["fraction"] - TARGET) < 1e-9)]
        labels = [np.inf if c else float(x) for x, c in zip(sub["labels"], sub["censored"].astype(bool))]
        truth = float(np.median(labels)) if labels else float("nan")
        need(f, close(m, truth) and n["reached"][s] == sum(np.isfinite(labels)) and n["runs"][s] == len(labels),
             f"{p}/{s}: median {m} where the runs give {truth}")
    finite = {s: m for s, m in n["median"].items() if np.isfinite(m)}
    low = min(finite.values()) if finite else None
    need(f, sorted(n["fewest"]) == sorted(s for s, m in finite.items() if m == low), "the fewest")
    for s in n["fewest"]:  # the fewest never goes to a strategy most of whose runs never reach the target
        need(f, 2 * n["reached"][s] > n["runs"][s], f"{s} reaches the target in at most half of its runs")


@TARGET_LABELS.decider
def _target_findings(res: BudgetResults) -> list[Finding]:
    return [make("target", (p,), _target_row(res, p)) for p in res.problems]


@TARGET_LABELS.template
def _t_target(f: Finding) -> str:
    (p,) = f.subjects
    n = f.numbers
    parts = []
    for s, m in n["median"].items():
        reached, runs = n["reached"][s], n["runs"][s]
        if np.isfinite(m):
            parts.append(f"{STRATEGY_PROSE[s]} {count(int(round(m)))} ({reached}/{runs} runs reach it)")
        else:
            parts.append(f"{STRATEGY_PROSE[s]} more than the whole schedule ({reached}/{runs} runs reach it)")
    text = (f"To reach {int(round(TARGET * 100))}\\% of passive learning's full-pool value on "
            f"{PROBLEM_LABELS[p]}, the median labels are: " + "; ".join(parts) + ".")
    if len(n["fewest"]) == 1:
        text += f" {capital(STRATEGY_PROSE[n['fewest'][0]])} needs the fewest."
    elif len(n["fewest"]) > 1:
        text += f" {capital(join([STRATEGY_PROSE[s] for s in n['fewest']]))} tie for the fewest."
    return text


@TARGET_LABELS.check
def _check_target(f: Finding, res: BudgetResults) -> None:
    _check_target_row(f, res, f.subjects[0], f.numbers)


def _ceiling_runs(res: BudgetResults, p: str) -> np.ndarray:
    """Passive learning's primary criterion on the whole pool, one value per run that did not diverge."""
    fr = res.frame
    sub = fr[(fr["dataset"] == p) & (fr["strategy"] == "passive")]
    ok = ~sub.groupby(["trial", "fold"])["diverged"].transform("any").astype(bool)
    return sub.loc[ok, an.PRIMARY_METRIC[TASKS[p]]].to_numpy(float)


def _ceiling(res: BudgetResults, p: str) -> float:
    """Passive learning's mean primary criterion on the whole pool, from the per-run rows."""
    return float(np.mean(_ceiling_runs(res, p)))


def _plateau_rows(res: BudgetResults) -> list[dict]:
    ref = res.reference
    out = []
    for p in res.problems:
        row = ref[ref["dataset"] == p]
        if row.empty or p not in res.trials_passive:
            continue
        out.append({"problem": p, "ceiling": float(row["mean"].iloc[0]), "trials": res.trials_passive[p],
                    "metric": an.PRIMARY_METRIC[TASKS[p]]})
    return out


def _check_plateau_row(f: Finding, res: BudgetResults, r: Mapping) -> None:
    p = r["problem"]
    need(f, r["metric"] == an.PRIMARY_METRIC[TASKS[p]], "not the primary criterion")
    need(f, close(r["ceiling"], _ceiling(res, p), 1e-9), f"{p}: the ceiling is not the passive runs' mean")
    need(f, close(r["trials"], res.trials_passive[p], 1e-12), f"{p}: not the draft protocol's passive value")


@PLATEAU.decider
def _plateau_findings(res: BudgetResults) -> list[Finding]:
    return [make("plateau", (r["problem"],), {k: v for k, v in r.items() if k != "problem"})
            for r in _plateau_rows(res)]


@PLATEAU.template
def _t_plateau(f: Finding) -> str:
    (p,) = f.subjects
    n = f.numbers
    m = n["metric"]
    return (f"On {PROBLEM_LABELS[p]}, passive learning trained for one round on the whole pool reaches "
            f"{_fmt(m, n['ceiling'])} {METRIC_PROSE[m]}, against {_fmt(m, n['trials'])} at the end of the "
            f"draft's protocol.")


@PLATEAU.check
def _check_plateau(f: Finding, res: BudgetResults) -> None:
    _check_plateau_row(f, res, {"problem": f.subjects[0], **f.numbers})


@DROPS.decider
def _drops_findings(res: BudgetResults) -> list[Finding]:
    out = []
    d = res.drops
    for p in res.problems:
        sub = d[(d["dataset"] == p)] if len(d) else d
        bad = sub[sub["worse"]] if len(sub) else sub
        if bad.empty:
            continue
        t = res.training
        cells = []
        for _, r in bad.iterrows():
            tl = {b: float(t[(t["dataset"] == p) & (t["strategy"] == "random") & (t["budget"] == b)]["train_loss"]
                            .mean()) for b in (r["budget_from"], r["budget"])}
            cells.append({"from": int(r["budget_from"]), "to": int(r["budget"]), "mean_from": float(r["mean_from"]),
                          "mean": float(r["mean"]), "ci": [float(r["ci_low"]), float(r["ci_high"])],
                          "loss_from": tl[r["budget_from"]], "loss": tl[r["budget"]]})
        out.append(make("drops", (p,), {"metric": str(bad["metric"].iloc[0]), "cells": cells}))
    return out


@DROPS.template
def _t_drops(f: Finding) -> str:
    (p,) = f.subjects
    n = f.numbers
    m = n["metric"]
    parts = [f"from {count(c['from'])} to {count(c['to'])} labels ({_fmt(m, c['mean_from'])} to "
             f"{_fmt(m, c['mean'])}; its training loss {num(c['loss_from'], sig=2)} and "
             f"{num(c['loss'], sig=2)})" for c in n["cells"]]
    underfit = all(c["loss"] > 2 * c["loss_from"] for c in n["cells"])
    why = ("the training loss more than doubles, so the larger labelled set is fitted less well in the "
           "same steps" if underfit else "the training loss does not double with it, so the drop is not "
           "a network left under-trained")
    return (f"On {PROBLEM_LABELS[p]}, random sampling's mean {METRIC_PROSE[m]} gets worse beyond its "
            f"95\\% interval " + "; ".join(parts) + f": {why}.")


@DROPS.check
def _check_drops(f: Finding, res: BudgetResults) -> None:
    (p,) = f.subjects
    truth = sorted(_drops_recomputed(res).get(p, []))
    need(f, sorted((c["from"], c["to"]) for c in f.numbers["cells"]) == truth, f"the drops are {truth}")


@DROPS_SUMMARY.decider
def _drops_summary(res: BudgetResults) -> list[Finding]:
    d = res.drops
    checked = [p for p in res.problems if len(d) and (d["dataset"] == p).any()]
    if not checked:
        return []
    fallen = [p for p in checked if d[(d["dataset"] == p) & d["worse"].astype(bool)].shape[0]]
    return [make("drops-summary", (), {"checked": checked, "problems": fallen})]


@DROPS_SUMMARY.template
def _t_drops_summary(f: Finding) -> str:
    n = f.numbers
    if not n["problems"]:
        return (f"On none of the {count(len(n['checked']))} problems does random sampling's mean criterion "
                "get worse from one budget to the next beyond the corrected 95\\% interval of the paired "
                "difference.")
    return (f"Random sampling's mean criterion gets worse from one budget to the next beyond the "
            f"corrected 95\\% interval of the paired difference on {count(len(n['problems']))} of the "
            f"{count(len(n['checked']))} problems ({join([PROBLEM_LABELS[p] for p in n['problems']])}).")


@DROPS_SUMMARY.check
def _check_drops_summary(f: Finding, res: BudgetResults) -> None:
    worse = _drops_recomputed(res)
    n = f.numbers
    need(f, set(n["checked"]) <= set(res.problems), "problems not in the results")
    need(f, sorted(n["problems"]) == sorted(p for p in n["checked"] if worse.get(p)), "the problems that fall")


@QUERY_DROPS.decider
def _query_drops_findings(res: BudgetResults) -> list[Finding]:
    d = res.query_drops
    if d.empty:
        return []
    bad = d[d["worse"].astype(bool)]
    cells = [[p, s, int(b0), int(b1)] for p, s, b0, b1 in zip(bad["dataset"], bad["strategy"], bad["budget_from"],
                                                               bad["budget"])]
    fallen = {p for p, *_ in cells}
    random_falls = set(res.drops.loc[res.drops["worse"].astype(bool), "dataset"]) if len(res.drops) else set()
    clean = [p for p in res.problems if p in fallen and p not in random_falls]
    acc = d[d["metric"] == "accuracy"]
    largest = None
    if len(acc):
        r = acc.loc[(acc["mean_from"] - acc["mean"]).idxmax()]
        if r["mean_from"] > r["mean"]:
            largest = [str(r["dataset"]), str(r["strategy"]), int(r["budget_from"]), int(r["budget"]),
                       float(r["mean_from"]), float(r["mean"]), bool(r["worse"])]
    fit = None
    if largest is not None:  # how well the fallen budget's networks fit their labelled set, beside random's
        t = res.training
        at = t[(t["dataset"] == largest[0]) & (t["budget"] == largest[3])].set_index("strategy")["train_accuracy"]
        if largest[1] in at and "random" in at and _finite(at[largest[1]]) and _finite(at["random"]):
            fit = [float(at[largest[1]]), float(at["random"])]
    return [make("query-drops", (), {"cells": cells, "strategies": sorted(set(d["strategy"])),
                                     "random_clean": clean, "largest": largest, "fit": fit})]


@QUERY_DROPS.template
def _t_query_drops(f: Finding) -> str:
    n = f.numbers
    if not n["cells"]:
        text = "No query strategy's mean criterion gets worse from one budget to the next beyond that interval either."
    else:
        by: dict[tuple, list[str]] = {}
        for p, s_, b0, b1 in n["cells"]:
            by.setdefault((s_, p), []).append(f"{count(b0)} to {count(b1)}")
        text = ("A query strategy's mean criterion does get worse from one budget to the next beyond that "
                f"interval in {count(len(n['cells']))} steps: "
                + "; ".join(f"{STRATEGY_PROSE[s_]} on {PROBLEM_LABELS[p]} ({join(v)} labels)"
                            for (s_, p), v in by.items()) + ".")
    big = n.get("largest")
    if big and not big[6]:
        p, s_, b0, b1, m0, m1, _ = big
        text += (f" The largest fall of a query strategy's mean accuracy, {STRATEGY_PROSE[s_]}'s on "
                 f"{PROBLEM_LABELS[p]} from {count(b0)} to {count(b1)} labels ({_fmt('accuracy', m0)} to "
                 f"{_fmt('accuracy', m1)}), stays within its interval: with this few runs the interval is wide, "
                 "and the test is no proof that the curves do not fall.")
        fit = n.get("fit")
        if fit:
            how = {"lower": "less well than", "same": "as well as", "higher": "better than"}[
                _compare_printed("accuracy", fit[0], fit[1])]
            text += (f" At {count(b1)} labels its networks fit their labelled sets {how} random sampling's "
                     f"(mean training accuracy on $L$ {_fmt('accuracy', fit[0])} against {_fmt('accuracy', fit[1])}).")
    if n["random_clean"]:
        text += (f" On {join([PROBLEM_LABELS[p] for p in n['random_clean']])} random sampling's curve, "
                 "its networks trained by the same rule on as many labels, does not fall so: these falls come "
                 "with the queried labels under that training rule.")
    return text


def _compare_printed(metric: str, a: float, b: float) -> str:
    """``lower`` / ``same`` / ``higher``: ``a`` against ``b`` as the text prints them."""
    if _fmt(metric, a) == _fmt(metric, b):
        return "same"
    return "lower" if a < b else "higher"


@QUERY_DROPS.check
def _check_query_drops(f: Finding, res: BudgetResults) -> None:
    n = f.numbers
    truth = sorted([p, s_, b0, b1] for s_ in n["strategies"]
                   for p, pairs in _drops_recomputed(res, s_).items() for b0, b1 in pairs)
    need(f, truth == sorted(n["cells"]), f"the falls are {truth}")
    rnd = _drops_recomputed(res, "random")
    need(f, all(not rnd.get(p) and any(c_[0] == p for c_ in n["cells"]) for p in n["random_clean"]),
         "random sampling's curve falls too, or no query strategy's does")
    truth = _largest_fall(res, n["strategies"])
    stated = n.get("largest")
    need(f, (truth is None) == (stated is None), f"the largest fall is {truth}")
    if stated is not None:
        p, s_, b0, b1, m0, m1, worse = stated
        need(f, [p, s_, b0, b1] == truth[:4] and close(m0, truth[4], 1e-9) and close(m1, truth[5], 1e-9)
             and worse == ((b0, b1) in _drops_recomputed(res, s_).get(p, [])), f"the largest fall is {truth}")
        fit = n.get("fit")
        if fit is not None:  # the training accuracy on L from the per-run rows (diverged runs left out)
            fr = res.frame[res.frame["dataset"] == p]  # a run that diverged at any budget is left out
            ok = ~fr.groupby(["strategy", "trial", "fold"])["diverged"].transform("any").astype(bool)
            mean = fr[ok & (fr["budget"] == b1)].groupby("strategy")["train_accuracy"].mean()
            need(f, close(fit[0], float(mean[s_]), 1e-9) and close(fit[1], float(mean["random"]), 1e-9),
                 f"the training accuracies at {b1} labels are {mean[s_]} and {mean['random']}")


@FAMILIES_KIND.decider
def _family_findings(res: BudgetResults) -> list[Finding]:
    out = []
    c = res.comparisons
    for fam in FAMILIES:
        members = [s for s in QUERIES if describe(s).family == fam
                   and any(s in res.strategies(p) and "random" in res.strategies(p) for p in res.problems)]
        cells = [(p, s) for p in res.problems for s in members if s in res.strategies(p)
                 and "random" in res.strategies(p)]
        if not cells:
            continue
        verdicts = {cell: _verdict(res.test(*cell)) for cell in cells}
        at = c[(c["quantity"] == "budget") & c["strategy"].isin(members) & c["significant"].astype(bool)
               & (c["direction"] == "better")]
        budgets = sorted({(p, int(b)) for p, b in zip(at["dataset"], at["budget"])})
        bayes = {cell: str(res.test(*cell).get("equivalence", "n/a")) for cell in cells}
        out.append(make("families", (fam,), {
            "members": members, "cells": [list(x) for x in cells],
            "better": [list(x) for x, v in verdicts.items() if v == "better"],
            "worse": [list(x) for x, v in verdicts.items() if v == "worse"],
            "bayes_better": [list(x) for x, v in bayes.items() if v == "better" and verdicts[x] != "better"],
            "bayes_worse": [list(x) for x, v in bayes.items() if v == "worse" and verdicts[x] != "worse"],
            "better_budgets": [list(x) for x in budgets]}))
    return out


@FAMILIES_KIND.template
def _t_families(f: Finding) -> str:
    (fam,) = f.subjects
    n = f.numbers
    who = join([STRATEGY_PROSE[s] for s in n["members"]])
    one = len(n["members"]) == 1
    cells = lambda xs: _pairs(xs, strategies=not one)  # noqa: E731
    head = capital(who) if one else f"The {fam} strategies ({who})"
    beat, fall = ("beats", "falls") if one else ("beat", "fall")
    if n["better"]:
        text = f"{head} {beat} random sampling significantly on AUBC in {count(len(n['better']))} of the " \
               f"{count(len(n['cells']))} problem $\\times$ strategy cells ({cells(n['better'])})"
    else:
        text = f"{head} {beat} random sampling significantly on AUBC in none of the " \
               f"{count(len(n['cells']))} problem $\\times$ strategy cells"
    text += (f" and {fall} significantly behind it in {count(len(n['worse']))} ({cells(n['worse'])})"
             if n["worse"] else f" and {fall} significantly behind it in none")
    kinds_ = [(k, w) for k, w in (("bayes_better", "better"), ("bayes_worse", "worse")) if n.get(k)]
    if kinds_ and one:
        text += "; the Bayesian test, though not the $t$-test, finds it " + join(
            [f"practically {w} {cells(n[k])}" for k, w in kinds_])
    elif kinds_:
        text += "; the Bayesian test, though not the $t$-test, finds " + join(
            [f"{cells(n[k])} practically {w}" for k, w in kinds_])
    by: dict[str, list[int]] = {}
    for p, b in n["better_budgets"]:
        by.setdefault(p, []).append(b)
    if by:
        text += "; budget by budget, a member is significantly better at " + join(
            [f"{join([count(b) for b in bs])} labels on {PROBLEM_LABELS[p]}" for p, bs in by.items()])
    return text + "."


@FAMILIES_KIND.check
def _check_families(f: Finding, res: BudgetResults) -> None:
    n = f.numbers
    c = res.comparisons
    need(f, all(describe(s).family == f.subjects[0] for s in n["members"]), "a member of another family")
    truth = {"better": [], "worse": []}
    for p, s in n["cells"]:
        v = _aubc_truth(f, res, p, s)
        if v != "none":
            truth[v].append([p, s])
    b = c[(c["quantity"] == "budget") & c["strategy"].isin(n["members"]) & c["significant"].astype(bool)
          & (c["direction"] == "better")]
    need(f, sorted(truth["better"]) == sorted(n["better"]) and sorted(truth["worse"]) == sorted(n["worse"]),
         f"the verdicts are {truth}")
    need(f, sorted({(p, int(x)) for p, x in zip(b["dataset"], b["budget"])})
         == sorted(tuple(x) for x in n["better_budgets"]), "the significant budgets")
    if "equivalence" in c:
        for key, word in (("bayes_better", "better"), ("bayes_worse", "worse")):
            want = [[p, s] for p, s in n["cells"] if _posterior_verdict(res, p, s) == word
                    and [p, s] not in truth[word]]
            need(f, sorted(n.get(key, [])) == sorted(want), f"{key}: the posterior gives {want}")


@DIVERGED.decider
def _diverged_findings(res: BudgetResults) -> list[Finding]:
    f = res.frame
    runs = f.groupby(["dataset", "strategy", "trial", "fold"], sort=False)["diverged"].any().reset_index()
    per = {p: int(runs.loc[runs["dataset"] == p, "diverged"].sum()) for p in res.problems}
    return [make("diverged", (), {"runs": int(len(runs)), "per_problem": per})]


@DIVERGED.template
def _t_diverged(f: Finding) -> str:
    n = f.numbers
    bad = {p: k for p, k in n["per_problem"].items() if k}
    total = sum(bad.values())
    if not total:
        return (f"No network of the budget protocol diverged (none of the {count(n['runs'])} runs of a "
                "strategy, trial and fold).")
    return (f"Of the {count(n['runs'])} runs of the budget protocol, {count(total)} "
            f"{'has' if total == 1 else 'have'} a network that diverged ("
            + join([f"{count(k)} on {PROBLEM_LABELS[p]}" for p, k in bad.items()])
            + "); they are left out of every mean and test.")


@DIVERGED.check
def _check_diverged(f: Finding, res: BudgetResults) -> None:
    fr = res.frame
    keys = {(p, s, t, fo) for p, s, t, fo in zip(fr["dataset"], fr["strategy"], fr["trial"], fr["fold"])}
    need(f, f.numbers["runs"] == len(keys), f"{f.numbers['runs']} runs where the frame has {len(keys)}")
    for p, k in f.numbers["per_problem"].items():
        sub = fr[fr["dataset"] == p]
        runs = {(s, t, fo) for s, t, fo, d in zip(sub["strategy"], sub["trial"], sub["fold"], sub["diverged"]) if d}
        need(f, k == len(runs), f"{p}: {k} diverged where the rows give {len(runs)}")


@BUDGETS_SUMMARY.decider
def _budgets_summary(res: BudgetResults) -> list[Finding]:
    cells = [{"problem": f.subjects[0], "strategy": f.subjects[1],
              **{k: f.numbers[k] for k in ("better", "worse", "budgets")}} for f in _budget_findings(res)]
    if not cells:
        return []
    return [make("budgets-summary", (), {"cells": [c for c in cells if c["better"] or c["worse"]],
                                         "tested": len(cells)})]


@BUDGETS_SUMMARY.template
def _t_budgets_summary(f: Finding) -> str:
    n = f.numbers
    head = (f"Budget by budget (Holm over each problem's budgets), of the {count(n['tested'])} strategy "
            "$\\times$ problem cells")
    if not n["cells"]:
        return head + " none differs significantly from random sampling at any budget."
    parts = []
    for c in n["cells"]:
        bits = ([f"better at {count(c['better'])}"] if c["better"] else []) + \
               ([f"worse at {count(c['worse'])}"] if c["worse"] else [])
        parts.append(f"{STRATEGY_PROSE[c['strategy']]} on {PROBLEM_LABELS[c['problem']]} "
                     f"({' and '.join(bits)} of its {count(c['budgets'])} budgets)")
    k = len(n["cells"])
    return (head + f" {count(k)} {'differs' if k == 1 else 'differ'} significantly from random sampling at some "
            "budget: " + join(parts) + "; the others differ at none.")


@BUDGETS_SUMMARY.check
def _check_budgets_summary(f: Finding, res: BudgetResults) -> None:
    cells = [(p, s) for p in res.problems for s in QUERIES if s in res.strategies(p)
             and _budget_counts(res, p, s)["budgets"]]
    need(f, f.numbers["tested"] == len(cells), f"{len(cells)} cells")
    truth = []
    for p, s in cells:
        c = _budget_counts(res, p, s)
        if c["better"] or c["worse"]:
            truth.append({"problem": p, "strategy": s, "better": c["better"], "worse": c["worse"],
                          "budgets": c["budgets"]})
    need(f, f.numbers["cells"] == truth, f"the cells that differ are {truth}")


@TARGETS.decider
def _targets(res: BudgetResults) -> list[Finding]:
    rows = [{"problem": p, "first": int(res.schedules[p][0]), **_target_row(res, p)} for p in res.problems
            if res.schedules.get(p)]
    return [make("targets", (), {"rows": rows})] if rows else []


def _labels(m: float) -> str:
    """A median number of labels: whole, or halfway between two budgets."""
    return count(int(m)) if float(m).is_integer() else num(m, 1)


def _at_first(r: Mapping) -> bool:
    """Every strategy's median run reaches the target at the first budget, before any query."""
    return bool(r["median"]) and all(m == r["first"] for m in r["median"].values())


@TARGETS.template
def _t_targets(f: Finding) -> str:
    rows = f.numbers["rows"]
    first = [r for r in rows if _at_first(r)]
    unreached = [r for r in rows if not _at_first(r) and not any(np.isfinite(m) for m in r["median"].values())]
    fewest = [r for r in rows if r not in first and r not in unreached and r["fewest"]]
    text = (f"Table~\\ref{{sup:tab:budget-targets}} gives the median labels over all runs needed to reach "
            f"{int(round(TARGET * 100))}\\% of passive learning's full-pool value (a run that never reaches it "
            "counting as needing more than the schedule) and the runs that reach it.")
    if first:
        text += (f" On {join([PROBLEM_LABELS[r['problem']] for r in first])} every strategy's median run reaches "
                 "it at the first budget, before any query, so the target does not tell the strategies apart there.")
    if fewest:
        parts = []
        for r in fewest:
            who = join([STRATEGY_PROSE[s] for s in r["fewest"]])
            m = r["median"][r["fewest"][0]]
            at_first = ", the first budget, before any query" if m == r["first"] else ""
            parts.append(f"{who} on {PROBLEM_LABELS[r['problem']]} ({_labels(m)}{at_first}"
                         + (", tied)" if len(r["fewest"]) > 1 else ")"))
        text += " The fewest median labels belong to " + join(parts) + "."
    if unreached:
        text += (f" On {join([PROBLEM_LABELS[r['problem']] for r in unreached])} no strategy's median run reaches "
                 "the target within the schedule.")
    return text


@TARGETS.check
def _check_targets(f: Finding, res: BudgetResults) -> None:
    need(f, sorted(r["problem"] for r in f.numbers["rows"]) == sorted(p for p in res.problems if res.schedules.get(p)),
         "the problems")
    for n in f.numbers["rows"]:
        fr = res.frame
        first = fr.loc[(fr["dataset"] == n["problem"]) & (fr["strategy"] != "passive"), "budget"].min()
        need(f, n["first"] == int(first), f"the first budget is {first}")
        _check_target_row(f, res, n["problem"], n)


def across_table(res: BudgetResults) -> str:
    """The AUBC's ranks across problems (`alnn.report.tables.ranks_table`), Holm against random sampling."""
    entries = {}
    for task, a in res.across.items():
        fr = a.get("friedman")
        entries[task] = None if fr is None else {
            "friedman": fr, "post": a["posthoc"] if a.get("posthoc") is not None else pd.DataFrame(),
            "cd": st.critical_difference(fr.k, fr.n, ALPHA)}
    return ranks_table(entries)


def targets_table(res: BudgetResults) -> str:
    """Median labels over all runs to reach the target (a run that never reaches it counting as more than the
    schedule), and the runs that reach it, per strategy and problem."""
    probs = [p for p in res.problems if res.schedules.get(p)]
    rows = {p: _target_row(res, p) for p in probs}
    strategies = [s for s in ("random",) + QUERIES if any(s in rows[p]["median"] for p in probs)]
    lines = ["% Generated by alnn.report.build: do not edit.", "\\footnotesize\\setlength{\\tabcolsep}{3pt}",
             f"\\begin{{tabular}}{{l{'r' * len(probs)}}}", "\\toprule",
             "Strategy & " + " & ".join(PROBLEM_LABELS[p] for p in probs) + " \\\\", "\\midrule"]
    for s in strategies:
        cells = []
        for p in probs:
            r = rows[p]
            if s not in r["median"]:
                cells.append("--")
                continue
            m = r["median"][s]
            lab = _labels(m) if np.isfinite(m) else f"$>${count(int(res.schedules[p][-1]))}"
            if s in r["fewest"]:
                lab = f"\\textbf{{{lab}}}"
            cells.append(f"{lab} ({r['reached'][s]}/{r['runs'][s]})")
        lines.append(f"{STRATEGY_LABELS[s]} & " + " & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


@PLATEAUS.decider
def _plateaus(res: BudgetResults) -> list[Finding]:
    rows = _plateau_rows(res)
    return [make("plateaus", (), {"rows": rows})] if rows else []


@PLATEAUS.template
def _t_plateaus(f: Finding) -> str:
    parts = [f"{_fmt(r['metric'], r['ceiling'])} against {_fmt(r['metric'], r['trials'])} "
             f"on {PROBLEM_LABELS[r['problem']]}" for r in f.numbers["rows"]]
    return ("Trained for one round on the whole pool, passive learning reaches (primary criterion, against its "
            "value at the end of the draft's protocol) " + "; ".join(parts) + ".")


@PLATEAUS.check
def _check_plateaus(f: Finding, res: BudgetResults) -> None:
    for r in f.numbers["rows"]:
        _check_plateau_row(f, res, r)


@CARRIED.decider
def _carried(res: BudgetResults) -> list[Finding]:
    """Where the ceiling's mean is worse than random sampling's AUBC (a curve whose area beats its own end
    looks wrong): the networks of the ceiling that end far off its median (`alnn.analysis.far_off`)."""
    out = []
    ref = res.reference
    for p in res.problems:
        m, row = an.PRIMARY_METRIC[TASKS[p]], ref[ref["dataset"] == p]
        ceiling, rand = (float(row["mean"].iloc[0]) if len(row) else float("nan")), res.aubc_mean(p, "random")
        if not (_finite(rand) and _finite(ceiling) and _beats(m, rand, ceiling)):
            continue
        values = _ceiling_runs(res, p)
        far = an.far_off(values, m, STALL_FACTOR)
        out.append(make("carried", (p,), {"metric": m, "ceiling": ceiling, "random": rand,
                                          "far": int(far.sum()), "runs": int(len(values)),
                                          "rest": float(values[~far].mean()) if (~far).any() else float("nan"),
                                          "median": float(np.median(values)), "factor": STALL_FACTOR}))
    return out


@CARRIED.template
def _t_carried(f: Finding) -> str:
    (p,) = f.subjects
    n = f.numbers
    m, crit = n["metric"], METRIC_PROSE[n["metric"]]
    text = (f"On {PROBLEM_LABELS[p]} the ceiling's mean {crit}, {_fmt(m, n['ceiling'])}, is worse than random "
            f"sampling's AUBC, {_fmt(m, n['random'])}")
    if not n["far"]:
        return text + f", though none of the ceiling's networks ends far off their median."
    error = "error" if an.higher_is_better(m) else crit
    return (text + f": {count(n['far'])} of the ceiling's {count(n['runs'])} networks end with an {error} above "
            f"{num(n['factor'], 0)} times the median network's"
            + (", like the runs that stall in the draft's protocol (Section~\\ref{sup:robust})," if p == "sine"
               else "")
            + (" and without them the ceiling's mean would be better than random sampling's AUBC (whose own "
               "far-off networks stay in)." if _beats(m, n["rest"], n["random"]) else
               " but even without them the ceiling's mean would be no better than random sampling's AUBC.")
            + (f" Table~\\ref{{sup:tab:budget-training}} counts such networks at every budget of random sampling."
               if TASKS[p] == "regression" else ""))


def _beats(metric: str, a: float, b: float) -> bool:
    """``a`` better than ``b`` on ``metric``."""
    return bool(a > b if an.higher_is_better(metric) else a < b)


@CARRIED.check
def _check_carried(f: Finding, res: BudgetResults) -> None:
    (p,) = f.subjects
    n = f.numbers
    fr = res.frame
    sub = fr[(fr["dataset"] == p) & (fr["strategy"] == "passive")]
    runs = sub.groupby(["trial", "fold"])  # each run's values, its divergence from the per-run rows
    values = np.array([float(g[n["metric"]].iloc[-1]) for _, g in runs if not g["diverged"].astype(bool).any()])
    error = 1 - values if an.higher_is_better(n["metric"]) else values
    far = int((error > n["factor"] * np.median(error)).sum())
    aubc = res.aubc
    rand = float(aubc.loc[(aubc["dataset"] == p) & (aubc["strategy"] == "random"), "aubc"].mean())
    need(f, close(n["ceiling"], float(values.mean()), 1e-9) and close(n["random"], rand, 1e-9),
         f"the ceiling {values.mean()} and random sampling's AUBC {rand}")
    worse = n["ceiling"] < n["random"] if an.higher_is_better(n["metric"]) else n["ceiling"] > n["random"]
    need(f, worse, "the ceiling's mean is not worse than random sampling's AUBC")
    need(f, n["far"] == far and n["runs"] == len(values) and close(n["median"], float(np.median(values)), 1e-12),
         f"{far} of {len(values)} networks far off the median {np.median(values)}")
    rest = values[error <= n["factor"] * np.median(error)]
    need(f, close(n["rest"], float(rest.mean()), 1e-9) if len(rest) else not _finite(n["rest"]),
         f"the mean without them is {rest.mean() if len(rest) else float('nan')}")


@AUBC_SUMMARY.decider
def _aubc_summary(res: BudgetResults) -> list[Finding]:
    cells = _tested(res)
    by = {v: [[p, s] for p, s in cells if _verdict(res.test(p, s)) == v] for v in ("better", "worse")}
    return [make("aubc-summary", (form,), {"tested": len(cells), **by}) for form in ("abstract", "conclusion")]


def _pairs(cells, strategies: bool = True) -> str:
    """``core-set sampling, GSx and LCMD on Energy Efficiency`` (cells grouped by problem; without
    ``strategies``, the problems alone: ``on Fashion-MNIST``)."""
    by: dict[str, list[str]] = {}
    for p, s in cells:
        by.setdefault(p, []).append(s)
    if not strategies:
        return "on " + join([PROBLEM_LABELS[p] for p in by])
    return join([f"{join([STRATEGY_PROSE[s] for s in ss])} on {PROBLEM_LABELS[p]}" for p, ss in by.items()])


@AUBC_SUMMARY.template
def _t_aubc_summary(f: Finding) -> str:
    n = f.numbers
    if not n["tested"]:
        return "The budget protocol produced no comparison with random sampling."
    better, worse = n["better"], n["worse"]
    if f.subjects == ("conclusion",):
        k = n["tested"] - len(better) - len(worse)
        parts = [f"{count(len(better)) if better else 'none'} favour{'s' if len(better) == 1 else ''} the query "
                 "strategy significantly" + (f" ({_pairs(better)})" if better else ""),
                 f"{count(len(worse)) if worse else 'none'} favour{'s' if len(worse) == 1 else ''} random sampling"
                 + (f" ({_pairs(worse)})" if worse else "")]
        return (f"In the budget protocol, of the {count(n['tested'])} query strategy $\\times$ problem comparisons "
                f"of AUBC with random sampling, " + " and ".join(parts)
                + (f"; the other {count(k)} show no significant difference." if k else "."))
    text = (f"Of the {count(n['tested'])} comparisons of a query strategy with random sampling on AUBC, "
            f"{count(len(better)) if better else 'none'} {'is' if len(better) == 1 else 'are'} significantly better")
    if better:
        text += f" ({_pairs(better)})"
    text += f" and {count(len(worse)) if worse else 'none'} significantly worse"
    if worse:
        text += f" ({_pairs(worse)})"
    return text + "."


@AUBC_SUMMARY.check
def _check_aubc_summary(f: Finding, res: BudgetResults) -> None:
    n = f.numbers
    cells = _tested(res)
    need(f, n["tested"] == len(cells), f"{n['tested']} comparisons where the rows have {len(cells)}")
    truth = {"better": [], "worse": []}
    for p, s in cells:
        v = _aubc_truth(f, res, p, s)
        if v != "none":
            truth[v].append([p, s])
    need(f, sorted(n["better"]) == sorted(truth["better"]) and sorted(n["worse"]) == sorted(truth["worse"]),
         f"the significant comparisons are {truth}")


def findings(res: BudgetResults) -> list[Finding]:
    """Every finding of the budget section, each kind's decider in declaration order, checked."""
    return decide(__name__, res)


def check_findings(found: list[Finding], res: BudgetResults) -> None:
    """Recompute every finding's claim from the results; :class:`FindingError` names the first wrong one."""
    check_all(found, res)


def _drops_recomputed(res: BudgetResults, strategy: str = "random") -> dict[str, list[tuple[int, int]]]:
    """The (previous, next) budgets at which random sampling gets worse beyond the corrected 95% interval,
    recomputed from the per-run budget rows with numpy and scipy alone (the consistency check of ``drops``)."""
    from scipy import stats as sst

    out: dict[str, list[tuple[int, int]]] = {}
    fr = res.frame[(res.frame["strategy"] == strategy) & ~res.frame["diverged"].astype(bool)]
    for p in res.problems:
        sub = fr[fr["dataset"] == p]
        if sub.empty:
            continue
        m = an.PRIMARY_METRIC[TASKS[p]]
        k = sub["fold"].nunique()
        runs: dict[tuple, dict[int, float]] = {}
        for t, fo, b, v in zip(sub["trial"], sub["fold"], sub["budget"], sub[m]):
            if np.isfinite(v):
                runs.setdefault((t, fo), {})[int(b)] = float(v)
        budgets = sorted({b for r in runs.values() for b in r})
        for b0, b1 in zip(budgets, budgets[1:]):
            d = np.array([r[b1] - r[b0] for r in runs.values() if b0 in r and b1 in r])
            if len(d) < 2:
                continue
            se = np.sqrt(d.var(ddof=1) * (1 / len(d) + 1 / (k - 1)))
            half = sst.t.ppf(0.975, len(d) - 1) * se
            lo, hi = d.mean() - half, d.mean() + half
            if (hi < 0) if an.higher_is_better(m) else (lo > 0):
                out.setdefault(p, []).append((b0, b1))
    return out


def _largest_fall(res: BudgetResults, strategies) -> list | None:
    """The largest fall of a mean accuracy between consecutive budgets over the query strategies, from the
    per-run budget rows (runs that diverged at either budget left out): [problem, strategy, from, to, means]."""
    best = None
    fr = res.frame[res.frame["strategy"].isin(strategies)]
    for (p, s), sub in fr.groupby(["dataset", "strategy"], sort=False):
        if an.PRIMARY_METRIC[TASKS[p]] != "accuracy":
            continue
        runs: dict[tuple, dict[int, float]] = {}
        for t, fo, b, v, d in zip(sub["trial"], sub["fold"], sub["budget"], sub["accuracy"], sub["diverged"]):
            if not d and np.isfinite(v):
                runs.setdefault((t, fo), {})[int(b)] = float(v)
        budgets = sorted({b for r in runs.values() for b in r})
        for b0, b1 in zip(budgets, budgets[1:]):
            pair = [(r[b0], r[b1]) for r in runs.values() if b0 in r and b1 in r]
            if len(pair) < 2:
                continue
            m0, m1 = float(np.mean([a for a, _ in pair])), float(np.mean([b for _, b in pair]))
            if m0 > m1 and (best is None or m0 - m1 > best[4] - best[5]):
                best = [p, s, b0, b1, m0, m1]
    return best


def _posterior_verdict(res: BudgetResults, p: str, s: str) -> str:
    """The Bayesian verdict on AUBC recomputed from the per-run AUBC by the posterior itself."""
    a = res.aubc[(res.aubc["dataset"] == p) & ~res.aubc["diverged"].astype(bool)]
    wide = a.pivot_table(index=["trial", "fold"], columns="strategy", values="aubc")[[s, "random"]].dropna()
    metric = an.PRIMARY_METRIC[TASKS[p]]
    hib = an.higher_is_better(metric)
    settings = (res.profile.get("problems") or {}).get(p, {}) if res.profile else {}
    rope = st.default_rope(metric, float(wide["random"].mean()),
                           accuracy=float(settings.get("rope_accuracy", st.ROPE_ACCURACY)),
                           relative=float(settings.get("rope_relative", st.ROPE_RELATIVE)))
    folds = int(res.frame.loc[res.frame["dataset"] == p, "fold"].nunique())
    return st.paired_verdict((wide[s] - wide["random"]).to_numpy(float), higher_is_better=hib, rope=rope,
                             rho=1 / folds, level=float(settings.get("equivalence_level", st.EQUIVALENCE_LEVEL)))


# =========================================================================== values, table, figures
def _schedule_text(res: BudgetResults) -> str:
    parts = []
    for p in res.problems:
        b = res.schedules.get(p, [])
        runs = res.frame[res.frame["dataset"] == p]
        trials = int(runs["trial"].nunique())
        profile_trials = (res.profile.get("problems") or {}).get(p, {}).get("trials") if res.profile else None
        if b:
            parts.append(f"{PROBLEM_LABELS[p]} {count(len(b))} budgets from {count(b[0])} to {count(b[-1])} "
                         f"labels" + (f" ({count(trials)} trials)" if profile_trials and trials != profile_trials
                                      else ""))
    return "; ".join(parts)


def _rules(res: BudgetResults) -> set[str]:
    return {str(s.get("round_training", "steps")) for s in res.settings.values()} or {"steps"}


def _rule_text(res: BudgetResults) -> str:
    """How long a round trains, in words, with S (steps) or the epochs per problem, from the frames."""
    rules = _rules(res)
    t = res.training
    parts = []
    for p in res.problems:
        e = res.settings.get(p, {}).get("round_epochs")
        steps = t[(t["dataset"] == p) & (t["strategy"] != "passive")]["steps"] if len(t) else pd.Series([], dtype=float)
        if rules == {"steps"} and len(steps):
            over = "the last budget" if res.settings.get(p, {}).get("steps_from") == "last" else "the pool"
            parts.append(f"{PROBLEM_LABELS[p]} {count(int(steps.max()))}"
                         + (f", {count(e)} epochs over {over}" if e else ""))
        elif e:
            parts.append(f"{PROBLEM_LABELS[p]} {count(e)}")
    if rules == {"steps"}:
        last = [p for p in res.problems if res.settings.get(p, {}).get("steps_from") == "last"]
        text = ("every round takes the same number $S$ of SGD steps: round epochs $\\times$ "
                "$\\lceil P/b\\rceil$ for the smallest pool $P$ and batch size $b$, the steps of the ceiling on the "
                "whole pool, in mini-batches of at most $b$ ($S$ = " + "; ".join(parts) + ")")
        if last:
            text += (f"; on {join([PROBLEM_LABELS[p] for p in last])}, whose schedules stop far short of the "
                     "pool, $S$ is counted on the last budget $B_R$ instead of $P$, for compute, so that there the "
                     "ceiling trains for more steps than a round")
        return text
    if rules == {"epochs"}:
        return "every round takes a fixed number of epochs over $L$ (" + "; ".join(parts) + ")"
    return "every round trains by the rule " + join(sorted(rules)) + " (" + "; ".join(parts) + ")"


def training_table(res: BudgetResults) -> str:
    """Random sampling's fit of its labelled set at every budget: mean training loss (and training accuracy)."""
    t = res.training
    width = max([len(res.schedules.get(p, [])) for p in res.problems] or [0])
    lines = ["% Generated by alnn.report.build: do not edit.", "\\footnotesize\\setlength{\\tabcolsep}{2.5pt}",
             f"\\begin{{tabular}}{{ll{'r' * width}}}", "\\toprule",
             "Problem & & " + " & ".join(f"$B_{{{r}}}$" for r in range(width)) + " \\\\", "\\midrule"]
    for p in res.problems:
        sub = t[(t["dataset"] == p) & (t["strategy"] == "random")].sort_values("budget")
        if sub.empty:
            continue
        pad = [""] * (width - len(sub))
        lines.append(f"{PROBLEM_LABELS[p]} & labels & " + " & ".join([count(int(b)) for b in sub["budget"]] + pad)
                     + " \\\\")
        lines.append(" & train loss & " + " & ".join([num(x, sig=2) for x in sub["train_loss"]] + pad) + " \\\\")
        if TASKS[p] == "classification":
            lines.append(" & train acc.\\ \\% & " + " & ".join([num(100 * x, 1) for x in sub["train_accuracy"]]
                                                                + pad) + " \\\\")
        if TASKS[p] == "regression":
            lines.append(" & far off & " + " & ".join([f"{int(k)}/{int(n)}" for k, n in zip(sub["far_off"], sub["n"])]
                                                      + pad) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def falls(res: BudgetResults) -> pd.DataFrame:
    """Where each strategy's mean primary criterion gets worse from one budget to the next (random sampling
    and the query strategies): its largest fall, and every fall beyond the corrected 95% interval of the
    paired difference (``worse``), with how well the networks at the second budget fit their labelled set
    beside random sampling's there (training accuracy on L, classification; `alnn.analysis.budget_training`)."""
    drops = pd.concat([res.drops, res.query_drops], ignore_index=True)
    if drops.empty:
        return pd.DataFrame()
    hib = drops["metric"].map(an.higher_is_better).astype(bool)
    loss = np.where(hib, drops["mean_from"] - drops["mean"], drops["mean"] - drops["mean_from"])
    drops = drops.assign(loss=loss)[loss > 0]
    if drops.empty:
        return pd.DataFrame()
    largest = drops.loc[drops.groupby(["dataset", "strategy"])["loss"].idxmax()]
    fell = drops.loc[sorted(set(largest.index) | set(drops.index[drops["worse"].astype(bool)]))]
    t = res.training.set_index(["dataset", "strategy", "budget"])["train_accuracy"]
    fit = [t.get((p, s_, b), np.nan) for p, s_, b in zip(fell["dataset"], fell["strategy"], fell["budget"])]
    rnd = [t.get((p, "random", b), np.nan) for p, b in zip(fell["dataset"], fell["budget"])]
    out = fell.assign(train_accuracy=fit, random_train_accuracy=rnd)
    order = {s_: i for i, s_ in enumerate(an.STRATEGY_ORDER)}
    out = out.assign(_p=out["dataset"].map({p: i for i, p in enumerate(res.problems)}),
                     _s=out["strategy"].map(order))
    return out.sort_values(["_p", "_s", "budget"]).drop(columns=["_p", "_s", "loss"]).reset_index(drop=True)


def falls_table(res: BudgetResults) -> str:
    """The supplement's table of `falls`: the budgets, the mean criterion, the difference with its interval,
    and the training accuracies on L."""
    lines = ["% Generated by alnn.report.build: do not edit.", "\\footnotesize\\setlength{\\tabcolsep}{3pt}",
             "\\begin{tabular}{llrrrrr}", "\\toprule",
             "Problem & Strategy & Labels & Mean criterion & Difference [95\\% CI] & Train acc.\\ (\\%) & "
             "Random's (\\%) \\\\", "\\midrule"]
    last = None
    for r in falls(res).itertuples(index=False):
        first = f"{PROBLEM_LABELS[r.dataset]} ({_metric_short(r.metric)})" if r.dataset != last else ""
        if last is not None and r.dataset != last:
            lines.append("\\midrule")
        last = r.dataset
        acc = an.higher_is_better(r.metric)
        val = (lambda x: num(100 * x, 1)) if acc else (lambda x: _fmt(r.metric, x))  # noqa: E731
        diff = (lambda x: num(100 * x, 1)) if acc else (lambda x: num(x, sig=3))  # noqa: E731
        pct_ = lambda x: num(100 * x, 1) if _finite(x) else "--"  # noqa: E731
        lines.append(f"{first} & {STRATEGY_LABELS[r.strategy]} & "
                     f"{count(r.budget_from)} $\\to$ {count(r.budget)} & {val(r.mean_from)} $\\to$ {val(r.mean)} & "
                     f"{diff(r.diff)} [{diff(r.ci_low)}, {diff(r.ci_high)}]{'$^*$' if r.worse else ''} & "
                     f"{pct_(r.train_accuracy)} & {pct_(r.random_train_accuracy)} \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def _metric_short(metric: str) -> str:
    return "acc.\\ \\%" if an.higher_is_better(metric) else METRIC_PROSE.get(metric, metric)


def _starts(res: BudgetResults) -> str:
    starts = sorted({str(s.get("start", "cold")) for s in res.settings.values()} or {"cold"})
    return join(starts)


def budget_values(res: BudgetResults, found: list[Finding]) -> Values:
    """The budget section's macros; every sentence that compares, counts or ranks is a checked finding's text."""
    v = Values()
    text = lambda *kinds: said([f for f in found if f.kind in kinds], res)  # noqa: E731
    v["budget/schedule"] = _schedule_text(res)
    v["budget/start"] = _starts(res)
    v["budget/far-factor"] = num(STALL_FACTOR, 0)
    v["text/budget-budgets"] = text("budgets-summary")
    v["text/budget-across"] = text("budget-across")
    v["text/budget-target"] = text("targets")
    v["text/budget-plateau"] = text("plateaus", "carried")
    v["budget/rule"] = _rule_text(res)
    v["text/budget-sanity"] = text("drops-summary", "drops", "query-drops")
    v["text/budget-diverged"] = text("diverged")
    v["text/budget-families"] = text("families") or "No query strategy was compared with random sampling."
    v["text/budget-summary"] = said([f for f in found if f.kind == "aubc-summary" and f.subjects == ("abstract",)], res)
    v["text/budget-conclusion"] = said([f for f in found if f.kind == "aubc-summary" and f.subjects == ("conclusion",)],
                                       res)
    return v


def not_run_values() -> Values:
    """The macros of the budget section when no budget frame was given."""
    v = Values()
    v["budget/schedule"] = "not run"
    v["budget/start"] = "cold"
    v["budget/rule"] = "not run"
    v["budget/far-factor"] = num(STALL_FACTOR, 0)
    for kind in ("budgets", "across", "target", "plateau", "summary", "conclusion", "sanity", "diverged", "families"):
        v[f"text/budget-{kind}"] = "The budget protocol was not run."
    return v


def placeholder_figures(figures_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from alnn import figures as fg
    from alnn.figures import placeholder as _placeholder

    out = []
    for name in ("budget-curves", "budget-absolute", "penalty-matrix", "budget-labels", "budget-classes"):
        out += fg.save(_placeholder("The budget protocol was not run."), Path(figures_dir) / name)
    return out


def budget_table(res: BudgetResults) -> str:
    """AUBC per problem and strategy (mean, std) with the verdict against random, and passive's ceiling."""
    strategies = [s for s in ("random",) + QUERIES if any(s in res.strategies(p) for p in res.problems)]
    lines = ["% Generated by alnn.report.build: do not edit.", "\\footnotesize\\setlength{\\tabcolsep}{3pt}",
             f"\\begin{{tabular}}{{l{'c' * len(strategies)}c}}", "\\toprule",
             "Problem & " + " & ".join(STRATEGY_LABELS[s] for s in strategies) + " & Passive (full pool) \\\\",
             "\\midrule"]
    for p in res.problems:
        metric = an.PRIMARY_METRIC[TASKS[p]]
        cells = []
        for s in strategies:
            m, sd = res.aubc_mean(p, s), res.aubc_mean(p, s, "std")
            if not _finite(m):
                cells.append("--")
                continue
            scale = 100 if metric == "accuracy" else 1
            cell = f"{num(scale * m, 1 if scale == 100 else None)} $\\pm$ {num(scale * sd, 1 if scale == 100 else None)}"
            t = res.test(p, s) if s != "random" else None
            v = _verdict(t) if t is not None else "none"
            # the significance marks of Table I (triangles), kept apart from the Bayesian signs after them
            cell = {"better": f"\\textbf{{{cell}}}\\sigup", "worse": f"{cell}\\sigdown"}.get(v, cell)
            if t is not None and "equivalence" in t.index:
                cell += f"\\,{VERDICT_MARKS[str(t['equivalence'])]}"
            cells.append(cell)
        ref = res.reference[res.reference["dataset"] == p]
        scale = 100 if metric == "accuracy" else 1
        ceiling = num(scale * float(ref["mean"].iloc[0]), 1 if scale == 100 else None) if len(ref) else "--"
        crit = "acc.\\ \\%" if metric == "accuracy" else "MSE"
        lines.append(f"{PROBLEM_LABELS[p]} ({crit}) & " + " & ".join(cells) + f" & {ceiling} \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def aubc_tests_table(res: BudgetResults) -> str:
    """Every query strategy against random sampling on AUBC: the mean difference with its corrected 95%
    interval, the Holm-adjusted p and both verdicts (one row per problem x strategy)."""
    c = res.comparisons[res.comparisons["quantity"] == "aubc"]
    lines = ["% Generated by alnn.report.build: do not edit.", "\\footnotesize\\setlength{\\tabcolsep}{3pt}",
             "\\begin{tabular}{llrrrl}", "\\toprule",
             "Problem & Strategy & $\\Delta$AUBC & 95\\% interval & $p_{\\mathrm{Holm}}$ & verdict \\\\",
             "\\midrule"]
    for p in res.problems:
        rows = c[c["dataset"] == p]
        scale = 100 if an.PRIMARY_METRIC[TASKS[p]] == "accuracy" else 1
        fmt = (lambda x: num(scale * x, 2)) if scale == 100 else (lambda x: num(x, sig=2))  # noqa: E731
        first = True
        for s in [q for q in QUERIES if q in set(rows["strategy"])]:
            r = rows[rows["strategy"] == s].iloc[0]
            v = _verdict(r)
            word = {"better": "better", "worse": "worse"}.get(v, "n.s.")
            eq = str(r.get("equivalence", "n/a"))
            lines.append(f"{PROBLEM_LABELS[p] if first else ''} & {STRATEGY_LABELS[s]} & {fmt(r['mean_diff'])} & "
                         f"[{fmt(r['ci_low'])}, {fmt(r['ci_high'])}] & {pval(float(r['p_holm'])).replace('$p', '$')} & "
                         f"{word}; Bayes: {st.VERDICT_WORDS.get(eq, eq)} \\\\")
            first = False
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def budget_figures(res: BudgetResults, figures_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from alnn import figures as fg

    figures_dir = Path(figures_dir)
    order = [p for p in PROBLEMS if p in res.problems]
    out = fg.save(fg.budget_differences(res.frame, datasets=order), figures_dir / "budget-curves")
    out += fg.save(fg.budget_curves(res.frame, datasets=order), figures_dir / "budget-absolute")
    # the page's width (the supplement's figure*): twelve strategies need it to print their cells
    out += fg.save(fg.penalty_matrix_figure(res.penalty, width=fg.TEXT_WIDTH),
                   figures_dir / "penalty-matrix")
    out += fg.save(fg.labels_to_target_figure(res.targets_summary, fraction=TARGET, datasets=order),
                   figures_dir / "budget-labels")
    out += fg.save(fg.class_composition(res.classes), figures_dir / "budget-classes")
    return out
