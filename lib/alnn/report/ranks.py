"""Across problems: the average ranks, the Friedman test with its Holm post-hoc, and the smallest
p-value and critical differences these few problems allow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as _st
from alnn import analysis as an
from alnn import stats as st
from alnn.report.constants import ALPHA, STRATEGY_PROSE, TASK_PROSE
from alnn.report.format import join, num, p_is, words
from alnn.report.context import Context
from alnn.report.claims import close, Finding, Kind, make, need, said


ACROSS = Kind("across", __name__, "the average ranks from the per-problem means, Friedman's statistic and p with "
                                  "scipy, Holm with alnn.stats")
ACROSS_POWER = Kind("across-power", __name__, "the smallest attainable Friedman p and the critical differences from "
                                              "the numbers of problems and strategies")


def across_findings(ctx: Context) -> list[Finding]:
    out = []
    for task in ("classification", "regression"):
        a = ctx.across[task]
        if not a.get("ok"):
            continue
        fr = a["friedman"]
        ranks = {s: float(r) for s, r in fr.avg_ranks.items()}
        post = a["post"]
        posthoc = None
        if len(post):
            posthoc = [[r.strategy, "better" if r.direction == "better" else "worse"]
                       for r in post.itertuples() if bool(r.significant)]
        out.append(make("across", (task,), {
            "ranks": ranks, "n": int(fr.n), "k": int(fr.k), "p": float(fr.p_chi2),
            "min_p": float(a["limits"]["min_p_friedman"]), "reject": bool(fr.p_chi2 <= ALPHA), "posthoc": posthoc}))
    return out


@ACROSS.template
def _t_across(f: Finding) -> str:
    (task,) = f.subjects
    n = f.numbers
    order = join([f"{STRATEGY_PROSE[s]} ({num(r, 2)})" for s, r in sorted(n["ranks"].items(), key=lambda kv: kv[1])])
    text = (f"For {TASK_PROSE[task]}, the average ranks over the {words(n['n'])} problems are {order}; the "
            f"Friedman test {'rejects' if n['reject'] else 'does not reject'} equal ranks ($\\chi^2_F$, "
            f"{p_is(n['p'])}; with {words(n['n'])} problems and {words(n['k'])} strategies the smallest attainable "
            f"value is {_floor(n['min_p'])})")
    if n["posthoc"] is not None:
        if not n["posthoc"]:
            text += ", and no strategy differs significantly from passive learning after Holm"
        else:
            text += ", and after Holm " + join([f"{STRATEGY_PROSE[s]} ranks significantly {d} than passive learning"
                                                for s, d in n["posthoc"]])
    return text + "."


def _floor(p: float) -> str:
    """A p-value that may be tiny: ``$p=0.017$`` or ``$p=3.2\\times 10^{-5}$``."""
    if p >= 0.001:
        return f"$p={p:.3f}$"
    mant, exp = f"{p:.1e}".split("e")
    return f"$p={mant}\\times 10^{{{int(exp)}}}$"


def power_findings(ctx: Context, form: str) -> list[Finding]:
    tasks = {}
    for t, a in ctx.across.items():
        if a.get("ok"):
            k, n = int(a["scores"].shape[1]), int(a["scores"].shape[0])
            tasks[t] = {"k": k, "n": n, "min_p": float(a["limits"]["min_p_friedman"]), "cd": float(a["cd"])}
    untested = [t for t in ("classification", "regression") if ctx.problems_of(t) and t not in tasks]
    if form == "closing" and not tasks:
        return []
    return [make("across-power", (form,), {"tasks": tasks, "untested": untested})]


@ACROSS_POWER.template
def _t_across_power(f: Finding) -> str:
    (form,) = f.subjects
    n = f.numbers
    ts = [t for t in ("classification", "regression") if t in n["tasks"]]
    counts = join([f"{words(n['tasks'][t]['n'])} {TASK_PROSE[t]} problems" for t in ts])
    if form == "closing":
        return f"With {counts} these tests can only reveal differences that are large and consistent across all of them."
    if not ts:
        return "No across-problem test is possible with the problems of these results."
    floors = join([f"{_floor(n['tasks'][t]['min_p'])} for the {words(n['tasks'][t]['k'])} {TASK_PROSE[t]} "
                   f"strategies" for t in ts])
    cds = join([f"{num(n['tasks'][t]['cd'], 2)} ranks for {TASK_PROSE[t]} (against a largest possible rank "
                f"difference of {words(n['tasks'][t]['k'] - 1)})" for t in ts])
    text = (f"With {counts} these tests have very little power: even if all problems ranked the strategies "
            f"identically, the Friedman statistic $\\chi^2_F$, whose $p$-value the results report, could not give "
            f"less than {floors}, and the Nemenyi critical differences are {cds}.")
    if n["untested"]:
        text += f" No across-problem test is possible for {join([TASK_PROSE[t] for t in n['untested']])}."
    return text


def across_text(ctx: Context) -> str:
    found = across_findings(ctx)
    return said(found + (power_findings(ctx, "closing") if found else []), ctx)


def power_text(ctx: Context) -> str:
    return said(power_findings(ctx, "paragraph"), ctx)


def _ranks(scores: pd.DataFrame, hib: bool) -> pd.Series:
    return scores.rank(axis=1, ascending=not hib, method="average").mean(axis=0)


@ACROSS.check
def _check_across(f, ctx):
    (task,) = f.subjects
    n = f.numbers
    a = ctx.across[task]
    need(f, bool(a.get("ok")), "no test was possible")
    scores = a["scores"]
    hib = an.higher_is_better(a["metric"])
    ranks = _ranks(scores, hib)
    k, nn = scores.shape[1], scores.shape[0]
    need(f, nn == len(ctx.problems_of(task)) == n["n"] and k == n["k"], "the problems or strategies counted")
    need(f, set(n["ranks"]) == set(ranks.index) and all(close(n["ranks"][s], ranks[s], 1e-9) for s in ranks.index),
         "the average ranks")
    chi2 = 12 * nn / (k * (k + 1)) * (float((ranks ** 2).sum()) - k * (k + 1) ** 2 / 4)
    p = float(_st.chi2.sf(max(chi2, 0.0), k - 1))
    floor = float(_st.chi2.sf(nn * (k - 1), k - 1))
    need(f, close(n["p"], p, 1e-6) and close(n["min_p"], floor, 1e-9), f"Friedman p {p}, floor {floor}")
    need(f, n["p"] >= n["min_p"] * (1 - 1e-9), "a p below the smallest attainable one")
    need(f, n["reject"] == (p <= ALPHA), "the decision does not follow the p-value")
    if "passive" in ranks.index:
        se = np.sqrt(k * (k + 1) / (6 * nn))
        others = ranks.drop("passive")
        pz = 2 * _st.norm.sf(np.abs((others - ranks["passive"]) / se))
        reject, _ = st.holm(pz, alpha=ALPHA)
        truth = [[s, "better" if others[s] < ranks["passive"] else "worse"]
                 for s, r in zip(others.index, reject) if r]
        need(f, [list(x) for x in n["posthoc"]] == truth, f"Holm finds {truth}")
    else:
        need(f, n["posthoc"] is None, "a post-hoc test without passive learning")


@ACROSS_POWER.check
def _check_across_power(f, ctx):
    n = f.numbers
    tested = {t: a for t, a in ctx.across.items() if a.get("ok")}
    need(f, set(n["tasks"]) == set(tested), "the tasks tested")
    need(f, list(n["untested"]) == [t for t in ("classification", "regression")
                                    if ctx.problems_of(t) and t not in tested], "the tasks not tested")
    for t, a in tested.items():
        r = n["tasks"][t]
        k, nn = a["scores"].shape[1], a["scores"].shape[0]
        need(f, r["k"] == k and r["n"] == nn == len(ctx.problems_of(t)), f"{t}: problems or strategies")
        need(f, close(r["min_p"], float(_st.chi2.sf(nn * (k - 1), k - 1)), 1e-9), f"{t}: the floor of p")
        need(f, close(r["cd"], st.critical_difference(k, nn, ALPHA), 1e-9), f"{t}: the critical difference")


# =========================================================================== deciders
ACROSS.decider(across_findings)
ACROSS_POWER.decider(lambda ctx: power_findings(ctx, "paragraph") + power_findings(ctx, "closing"))
