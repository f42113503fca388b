r"""Claims as data (SPEC 8): the record of a generated claim, its kinds, and the check of every kind.

Every sentence of the generated layer that compares, counts, ranks or states
a direction is a :class:`Finding`: its ``kind``, its ``subjects`` (problems,
strategies, a task), the ``numbers`` and test outcomes it rests on, and its
``text``, which the kind's template (registered with :func:`template` by the
module that writes the sentence, ``findings.py`` or ``prose.py``) renders
from the subjects and numbers alone. Each kind has a check (registered here
with :func:`check`) that recomputes the claim from the result tables of the
report's :class:`~alnn.report.context.Context` (``summary``, ``within``,
``conv``, ``trials``, ``across``, ...), by its own path rather than by the
code that decided it. :func:`check_findings` runs the kind's check and
compares the text with the template's rendering; a failure raises
:class:`FindingError` naming the finding, so ``make paper`` stops.

Rules shared by the kinds (the paper states them where it uses them):

* a claim about presentations is decided from the cumulative ``presentations``
  column; two counts that differ by at most :data:`TOLERANCE` (relative) are
  "as many";
* a claim about epochs or presentations *to the target* compares medians over
  all runs, a run that never reached the target (censored, or diverged)
  counting as +inf: a median is finite only when more than half of the runs
  converged, and a pair where neither median is finite is left undecided;
* a superlative names every strategy (or problem) that ties for the extreme
  at the precision printed, over all strategies of the row;
* a statement about several problems names them, or says "every problem" /
  "every <task> problem" only when those are exactly the problems present
  (:func:`scope`, :func:`on`, :func:`check_scope`).

The tolerances and the medians and comparisons of these rules (:data:`TOLERANCE`,
:data:`FULL`, :func:`median_all`, :func:`compare`) are :mod:`alnn.report.queries`',
which the tables share; this module imports them from there.

Kinds and what their checks recompute:

==========================  ===================================================
``versus-passive``          one problem: the strategies significantly better /
                            worse than passive and the rest (within, Holm)
``quiet``                   several problems of a task where no strategy
                            differs significantly from passive
``best-mean``               one task: the best mean primary criterion per
                            problem over all its strategies, ties named
``schedule``                one problem x query strategy significantly apart
                            from passive while random sampling, on the same
                            schedule, is apart in the same direction and not
                            significantly different from it
``versus-random``           each query strategy against random sampling
``divergence``              diverged runs per problem x strategy
``subset-range``            SASLA's last-epoch subset share, lowest / highest
``presentations-saved``     SASLA's cumulative presentations over the whole
                            run against passive's (fewer / as many / more)
``labelled-share``,         the share of the pool the incremental strategies
``labelled-budget``         had labelled at the last epoch
``convergence-rate``        converged runs / all runs per strategy
``faster``                  median epochs to the target, censored as +inf
``presentations-to-target`` median presentations to the target, censored as
                            +inf, with :data:`TOLERANCE`
``labels-range``            labels used at the target (converged runs),
                            lowest / highest
``across``                  one task: average ranks, Friedman chi^2_F p (the
                            statistic whose floor the paper states), Holm
``across-power``            the floor of that p and the critical differences
``sanity``                  passive learning against the reference points
``draft-passive``           our passive Fashion-MNIST accuracy against the
                            draft's passive and best values
``draft-benchmark``         each draft value against the benchmark, and our
                            value for the same strategy against it
``draft-best``              the draft's best strategy against our best over
                            all strategies of the problem
``grid-edge``,              the grid winners at an edge of the grid, diverged
``grid-diverged``,          configurations, the draft's winners reproduced
``grid-draft``
``overhead``                wall-clock time per run relative to passive
``significance-summary``    the strategies significantly better / worse than
                            passive over all problems, and the problem count
``selection-overhead``      patterns scored by the selection step: the most
                            per problem, and scored per label added
==========================  ===================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as _st

from alnn import analysis as an
from alnn import stats as st
from alnn.datasets import TASKS
from alnn.report.constants import ALPHA, PROBLEM_LABELS, STRATEGIES, STRATEGY_PROSE, TASK_PROSE
from alnn.strategies.catalogue import names
from alnn.report.format import finite, decimals_for, join, num, pct
from alnn.report.context import reference_points
from alnn.report.queries import FULL, TOLERANCE, compare, equivalence_settings, median_all

__all__ = ["Finding", "FindingError", "TOLERANCE", "FULL", "QUERY", "INCREMENTAL", "CHECKS", "TEMPLATES",
           "check", "template", "make", "check_findings", "scope", "on", "check_scope", "median_all",
           "compare", "fmt_value", "names", "on_any", "runs_of"]

#: The strategies that query labels on the incremental schedule, and those compared with random.
INCREMENTAL = tuple(n for n in names(protocol="draft") if n in names(role="query") + names(role="baseline"))
QUERY = names(protocol="draft", role="query")


class FindingError(AssertionError):
    """A generated claim that its own tables contradict."""


@dataclass(frozen=True)
class Finding:
    kind: str
    subjects: tuple
    numbers: dict
    text: str


#: kind -> check(finding, ctx): raises FindingError when the tables contradict the finding.
CHECKS: dict[str, Callable[[Finding, Any], None]] = {}
#: kind -> template(finding): the text, from the subjects and numbers alone.
TEMPLATES: dict[str, Callable[[Finding], str]] = {}


def check(kind: str):
    def deco(fn):
        CHECKS[kind] = fn
        return fn
    return deco


def template(kind: str):
    def deco(fn):
        TEMPLATES[kind] = fn
        return fn
    return deco


def make(kind: str, subjects: Sequence, numbers: Mapping) -> Finding:
    """A finding rendered by its kind's template."""
    f = Finding(kind, tuple(subjects), dict(numbers), "")
    return replace(f, text=TEMPLATES[kind](f))


def check_findings(found: Iterable[Finding], ctx) -> None:
    """Recompute every finding from the tables and its text from its numbers; the first
    contradiction raises :class:`FindingError` naming the finding. (Every finding is made by
    :func:`make` with its kind's template, so the module that registers that template is loaded.)"""
    for f in found:
        if f.kind not in CHECKS or f.kind not in TEMPLATES:
            raise FindingError(f"finding {f.kind} {f.subjects}: no check or template for this kind")
        try:
            CHECKS[f.kind](f, ctx)
            text = TEMPLATES[f.kind](f)
        except FindingError:
            raise
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
            raise FindingError(f"finding {f.kind} {f.subjects}: its numbers cannot be checked "
                               f"({exc!r}): {f.text}") from exc
        if text != f.text:
            raise FindingError(f"finding {f.kind} {f.subjects}: the text is not what its numbers say: "
                               f"{f.text!r} against {text!r}")


def need(f: Finding, ok: bool, why: str) -> None:
    if not ok:
        raise FindingError(f"finding {f.kind} {f.subjects} is not what the tables say ({why}): {f.text}")


# =========================================================================== shared phrases
def names(strategies: Sequence[str]) -> str:
    return join([STRATEGY_PROSE[s] for s in strategies])


def fmt_value(metric: str, x: float) -> str:
    """A metric value as the prose prints it: accuracies in percent, others to three digits."""
    return pct(x, 1) if metric.split("_")[0] in ("accuracy", "f1") else num(x, sig=3)


def scope(ctx, problems: Iterable[str]) -> dict:
    """The problems of a statement in the paper's order, and whether they are every problem
    present (``every="all"``) or every problem of one task (``every=<task>``)."""
    wanted = set(problems)
    ps = [p for p in ctx.problems if p in wanted]
    every = None
    if len(ps) > 1 and set(ps) == set(ctx.problems):
        every = "all"
    else:
        for task in ("classification", "regression"):
            if len(ps) > 1 and set(ps) == set(ctx.problems_of(task)):
                every = task
    return {"problems": ps, "every": every}


def on_any(sc: Mapping) -> str:
    """``on any problem`` / ``on any classification problem`` / ``on Iris or Wine``."""
    if sc["every"] == "all":
        return "on any problem"
    if sc["every"]:
        return f"on any {TASK_PROSE[sc['every']]} problem"
    return "on " + join([PROBLEM_LABELS[p] for p in sc["problems"]], "or")


def on(sc: Mapping) -> str:
    """``on every problem`` / ``on every classification problem`` / ``on Iris and Wine``."""
    if sc["every"] == "all":
        return "on every problem"
    if sc["every"]:
        return f"on every {TASK_PROSE[sc['every']]} problem"
    return "on " + join([PROBLEM_LABELS[p] for p in sc["problems"]])


def check_scope(f: Finding, ctx, sc: Mapping, problems: Iterable[str] | None = None) -> None:
    """The named problems are present and distinct, "every" means every one, and (given
    ``problems``) they are exactly the problems the claim holds for."""
    ps = list(sc["problems"])
    need(f, len(set(ps)) == len(ps) and set(ps) <= set(ctx.problems), f"names problems {ps} not all present")
    if sc["every"] == "all":
        need(f, len(ps) > 1 and set(ps) == set(ctx.problems), "says every problem but names a part")
    elif sc["every"]:
        need(f, len(ps) > 1 and set(ps) == set(ctx.problems_of(sc["every"])),
             f"says every {sc['every']} problem but names a part")
    if problems is not None:
        need(f, set(ps) == set(problems), f"names {sorted(ps)} where the tables give {sorted(problems)}")


# =========================================================================== raw tables
def _primary(p: str) -> str:
    return an.PRIMARY_METRIC[TASKS[p]]


def verdicts(ctx, p: str, baseline: str = "passive", metric: str | None = None) -> dict[str, str]:
    """``better`` / ``worse`` / ``none`` for every strategy tested against ``baseline`` on ``p``,
    read from the within-problem tests (significant after Holm at ALPHA; the direction from the
    sign of the mean difference and the metric's direction)."""
    metric = metric or _primary(p)
    hib = an.higher_is_better(metric)
    w = ctx.within
    rows = w[(w["dataset"] == p) & (w["metric"] == metric) & (w["baseline"] == baseline)]
    out = {}
    for r in rows.itertuples(index=False):
        if not finite(r.p):
            continue
        if bool(r.significant) and float(r.p_holm) <= ALPHA and finite(r.mean_diff) and r.mean_diff != 0:
            out[r.strategy] = "better" if (r.mean_diff > 0) == hib else "worse"
        else:
            out[r.strategy] = "none"
    return out


def equivalences(ctx, p: str, baseline: str = "passive") -> dict[str, str]:
    """The Bayesian verdict (equivalent / better / worse / inconclusive) of every strategy against
    ``baseline`` on the primary criterion of ``p``, as the within-problem table has it."""
    w = ctx.within
    if "equivalence" not in w.columns:
        return {}
    rows = w[(w["dataset"] == p) & (w["metric"] == _primary(p)) & (w["baseline"] == baseline)]
    return {r.strategy: str(r.equivalence) for r in rows.itertuples(index=False) if finite(r.p)}


def equivalence_truth(ctx, p: str, s: str, baseline: str = "passive") -> str:
    """The same verdict recomputed from the paired final runs by the posterior itself
    (`alnn.stats.bayesian_correlated_ttest`), not through the comparison table."""
    metric = _primary(p)
    fin = ctx.finals[ctx.finals["dataset"] == p]
    fin = fin[~fin["diverged"].astype(bool)]
    wide = fin.pivot_table(index=["trial", "fold"], columns="strategy", values=metric)
    pair = wide[[s, baseline]].dropna()
    acc, rel, level = equivalence_settings(ctx, p)
    hib = an.higher_is_better(metric)
    rope = acc if hib else rel * abs(float(pair[baseline].mean()))
    return st.paired_verdict((pair[s] - pair[baseline]).to_numpy(float), higher_is_better=hib, rope=rope,
                             rho=1 / fin["fold"].nunique(), level=level)


def mean_of(ctx, p: str, s: str, metric: str) -> float:
    sm = ctx.summary
    row = sm[(sm["dataset"] == p) & (sm["strategy"] == s) & (sm["metric"] == metric)]
    return float(row["mean"].iloc[0]) if len(row) and finite(row["mean"].iloc[0]) else float("nan")


def runs_of(ctx, p: str, s: str) -> pd.DataFrame:
    """The rows of (problem, strategy) in the trial frame (grouped once per trial frame)."""
    cache = ctx.__dict__.get("_claims_runs")
    if cache is None or cache[0] is not ctx.trials:
        cache = (ctx.trials, dict(tuple(ctx.trials.groupby(["dataset", "strategy"], sort=False))))
        ctx.__dict__["_claims_runs"] = cache
    return cache[1].get((p, s), ctx.trials.iloc[:0])


_runs = runs_of


def _per_run_last(ctx, p: str, s: str, col: str) -> pd.Series:
    """The value of ``col`` at each run's last epoch."""
    sub = _runs(ctx, p, s)
    if sub.empty or col not in sub.columns:
        return pd.Series(dtype=float)
    last = sub.loc[sub.groupby(["trial", "fold"])["epoch"].idxmax()]
    return last[col].astype(float)


def pool_of(ctx, p: str) -> float:
    """The mean training pool of ``p``: the subset of passive learning (or SASLA) at its first epoch."""
    for s in ("passive", "sasla"):
        sub = _runs(ctx, p, s)
        if len(sub):
            first = sub[sub["epoch"] == sub["epoch"].min()]
            return float(first.groupby(["trial", "fold"])["subset_size"].max().mean())
    return float("nan")


def _close(a: float, b: float, rel: float = 1e-9) -> bool:
    if not (finite(a) and finite(b)):
        return (np.isinf(a) and np.isinf(b) and np.sign(a) == np.sign(b)) or (np.isnan(a) and np.isnan(b))
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def _conv_runs(ctx, p: str, s: str) -> pd.DataFrame:
    c = ctx.conv
    return c[(c["dataset"] == p) & (c["strategy"] == s)]


def _groups_match(f: Finding, ctx, groups: Sequence[Mapping], truth: Mapping[str, Sequence[str]],
                  what: str) -> None:
    """``groups`` [{strategy, where}] state, per strategy, exactly the problems of ``truth``."""
    stated = {g["strategy"]: g["where"] for g in groups}
    need(f, set(stated) == {s for s, ps in truth.items() if ps}, f"the {what} strategies are not the tables'")
    for s, sc in stated.items():
        check_scope(f, ctx, sc, truth[s])


# =========================================================================== checks: the draft's protocol
@check("versus-passive")
def _check_versus_passive(f, ctx):
    (p,) = f.subjects
    n = f.numbers
    need(f, n["metric"] == _primary(p), "not the primary criterion")
    v = verdicts(ctx, p, "passive")
    for key, word in (("better", "better"), ("worse", "worse"), ("same", "none")):
        truth = [s for s in STRATEGIES if v.get(s) == word]
        need(f, list(n[key]) == truth, f"{key}: {list(n[key])} where the tests give {truth}")
    _check_equivalence_split(f, ctx, p, "passive", n["same"], n)


def _check_equivalence_split(f, ctx, p: str, baseline: str, same, n) -> None:
    """The strategies without a significant difference, split by the recomputed Bayesian verdict."""
    truth = {s: equivalence_truth(ctx, p, s, baseline) for s in same}
    for key, words in (("equivalent", ("equivalent",)), ("inconclusive", ("inconclusive",)),
                       ("apart", ("better", "worse"))):
        want = [s for s in same if truth[s] in words]
        need(f, list(n.get(key, [])) == want, f"{key}: {list(n.get(key, []))} where the posterior gives {want}")


@check("quiet")
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


def best_of(ctx, p: str, metric: str) -> list[str]:
    """Every strategy of ``p`` whose mean prints like the best one (a tie is what a reader of the
    table sees as one: equal digits at the best's precision)."""
    means = {s: mean_of(ctx, p, s, metric) for s in STRATEGIES if s in set(_present(ctx, p))}
    means = {s: m for s, m in means.items() if finite(m)}
    if not means:
        return []
    top = (max if an.higher_is_better(metric) else min)(means.values())
    if metric.split("_")[0] in ("accuracy", "f1"):
        return [s for s, m in means.items() if f"{100 * m:.1f}" == f"{100 * top:.1f}"]
    d = decimals_for([top], 3)
    return [s for s, m in means.items() if f"{m:.{d}f}" == f"{top:.{d}f}"]


def _present(ctx, p: str) -> list[str]:
    return list(pd.unique(ctx.trials.loc[ctx.trials["dataset"] == p, "strategy"]))


@check("best-mean")
def _check_best_mean(f, ctx):
    (task,) = f.subjects
    n = f.numbers
    need(f, n["metric"] == an.PRIMARY_METRIC[task], "not the primary criterion")
    truth = {p: best_of(ctx, p, n["metric"]) for p in ctx.problems_of(task)}
    truth = {p: b for p, b in truth.items() if b}
    need(f, {p: list(b) for p, b in n["best"].items()} == truth, f"best {n['best']} where the means give {truth}")
    covered = []
    for g in n["groups"]:
        check_scope(f, ctx, g["where"])
        for p in g["where"]["problems"]:
            need(f, list(g["strategies"]) == truth.get(p), f"{p}: the best is {truth.get(p)}")
            covered.append(p)
    need(f, sorted(covered) == sorted(truth), "a problem is left out or named twice")


@check("schedule")
def _check_schedule(f, ctx):
    p, s = f.subjects
    n = f.numbers
    metric = _primary(p)
    hib = an.higher_is_better(metric)
    vp = verdicts(ctx, p, "passive")
    vr = verdicts(ctx, p, "random")
    need(f, s in QUERY and n["metric"] == metric, "not a query strategy on its primary criterion")
    need(f, vp.get(s) == n["direction"] and n["direction"] in ("better", "worse"),
         f"{s} is {vp.get(s)} than passive by the tests")
    need(f, vr.get(s) == "none", f"{s} against random sampling: {vr.get(s)}")
    means = {k: mean_of(ctx, p, k, metric) for k in (s, "random", "passive")}
    need(f, all(_close(n[k if k != s else "mean"], means[k], 1e-9) for k in means), "the means are not the tables'")
    random_dir = "better" if (means["random"] > means["passive"]) == hib else "worse"
    need(f, means["random"] != means["passive"] and random_dir == n["direction"],
         "random sampling is not on the same side of passive learning")
    need(f, n["random_sig"] == (vp.get("random") == n["direction"]), "random's own test is misstated")
    need(f, n["equivalence"] == equivalence_truth(ctx, p, s, "random"), "the Bayesian verdict is misstated")


@check("versus-random")
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


@check("divergence")
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


def _display_ties(values: Mapping, decimals: int = 0) -> tuple[list, list]:
    """Keys whose value, printed as a percentage, is the lowest / the highest."""
    shown = {k: round(100 * v, decimals) for k, v in values.items()}
    lo, hi = min(shown.values()), max(shown.values())
    return [k for k, v in shown.items() if v == lo], [k for k, v in shown.items() if v == hi]


def sasla_last_shares(ctx) -> dict[str, float]:
    out = {}
    for p in ctx.problems:
        last = _per_run_last(ctx, p, "sasla", "subset_size")
        pool = pool_of(ctx, p)
        if len(last) and finite(pool) and pool:
            out[p] = float(last.mean()) / pool
    return out


@check("subset-range")
def _check_subset_range(f, ctx):
    n = f.numbers
    truth = sasla_last_shares(ctx)
    need(f, set(n["shares"]) == set(truth) and all(_close(n["shares"][p], truth[p], 1e-6) for p in truth),
         f"shares {n['shares']} where the results give {truth}")
    lo, hi = _display_ties(truth)
    need(f, list(n["low"]) == lo and list(n["high"]) == hi, f"lowest {lo}, highest {hi}")
    check_scope(f, ctx, n["where"], truth)


def presentation_ratios(ctx) -> dict[str, float]:
    """SASLA's cumulative presentations over the whole run / passive learning's, per problem."""
    out = {}
    for p in ctx.problems:
        a, b = _per_run_last(ctx, p, "sasla", "presentations"), _per_run_last(ctx, p, "passive", "presentations")
        if len(a) and len(b) and b.mean() > 0:
            out[p] = float(a.mean() / b.mean())
    return out


@check("presentations-saved")
def _check_presentations_saved(f, ctx):
    n = f.numbers
    need(f, n["tolerance"] == TOLERANCE, "not the paper's tolerance")
    truth = presentation_ratios(ctx)
    need(f, set(n["ratio"]) == set(truth) and all(_close(n["ratio"][p], truth[p], 1e-9) for p in truth),
         f"ratios {n['ratio']} where the results give {truth}")
    verdict = {p: {"same": "same", "lower": "fewer", "higher": "more"}[compare(r, 1.0, TOLERANCE)]
               for p, r in truth.items()}
    for key in ("fewer", "same", "more"):
        check_scope(f, ctx, n[key], [p for p, v in verdict.items() if v == key])


def labelled_shares(ctx, strategy: str) -> dict[str, float]:
    out = {}
    for p in ctx.problems:
        last = _per_run_last(ctx, p, strategy, "labels_used")
        pool = pool_of(ctx, p)
        if len(last) and finite(pool) and pool:
            out[p] = float(last.mean()) / pool
    return out


def _check_labelled(f, ctx):
    n = f.numbers
    truth = labelled_shares(ctx, "random")
    need(f, set(n["shares"]) == set(truth) and all(_close(n["shares"][p], truth[p], 1e-6) for p in truth),
         f"shares {n['shares']} where the results give {truth}")
    same = all(abs(v - truth[p]) <= TOLERANCE * truth[p]
               for s in INCREMENTAL for p, v in labelled_shares(ctx, s).items() if p in truth)
    need(f, n["who"] == ("incremental" if same else "random"),
         "the incremental strategies do not all end with random sampling's labels" if not same else
         "says random sampling where every incremental strategy ends alike")
    check_scope(f, ctx, n["whole"], [p for p, v in truth.items() if v >= FULL])
    need(f, list(n["part"]) == [p for p, v in truth.items() if v < FULL], "the partly labelled problems")


check("labelled-share")(_check_labelled)
check("labelled-budget")(_check_labelled)


@check("convergence-rate")
def _check_convergence_rate(f, ctx):
    c = ctx.conv
    rows = {r["strategy"]: r for r in f.numbers["rows"]}
    truth = {s: c[c["strategy"] == s] for s in STRATEGIES if (c["strategy"] == s).any()}
    need(f, list(rows) == list(truth), "the strategies")
    for s, sub in truth.items():
        r = rows[s]
        need(f, r["converged"] == int(sub["converged"].sum()) and r["runs"] == len(sub),
             f"{s}: {r['converged']}/{r['runs']} where the runs give {int(sub['converged'].sum())}/{len(sub)}")
        check_scope(f, ctx, r["where"], set(sub["dataset"]))
        need(f, r["everywhere"] == (set(sub["dataset"]) == set(ctx.problems)), f"{s}: on every problem or not")


def to_target(ctx, column: str, tol: float) -> list[dict]:
    """Every (problem, strategy) pair against passive learning: medians of ``column`` at the
    target over all runs (censored = +inf) and the verdict lower / higher / same / undecided."""
    out = []
    for p in ctx.problems:
        base = _conv_runs(ctx, p, "passive")
        if base.empty:
            continue
        mp = median_all(base[column], base["converged"])
        for s in STRATEGIES:
            runs = _conv_runs(ctx, p, s)
            if s == "passive" or runs.empty:
                continue
            ms = median_all(runs[column], runs["converged"])
            out.append({"problem": p, "strategy": s, "median": ms, "passive": mp,
                        "verdict": compare(ms, mp, tol)})
    return out


def _check_pairs(f, ctx, column: str, tol: float, words: Mapping[str, str]):
    n = f.numbers
    truth = to_target(ctx, column, tol)
    stated = n["pairs"]
    need(f, [(r["problem"], r["strategy"]) for r in stated] == [(r["problem"], r["strategy"]) for r in truth],
         "the pairs compared")
    for a, b in zip(stated, truth):
        need(f, _close(a["median"], b["median"]) and _close(a["passive"], b["passive"])
             and a["verdict"] == b["verdict"], f"{b['strategy']} on {b['problem']}: {b['verdict']}")
    for verdict, key in words.items():
        groups: dict[str, list[str]] = {}
        for r in truth:
            if r["verdict"] == verdict:
                groups.setdefault(r["strategy"], []).append(r["problem"])
        _groups_match(f, ctx, n[key], groups, key)


@check("faster")
def _check_faster(f, ctx):
    _check_pairs(f, ctx, "epochs_to_convergence", 0.0, {"lower": "faster"})


@check("presentations-to-target")
def _check_presentations_to_target(f, ctx):
    need(f, f.numbers["tolerance"] == TOLERANCE, "not the paper's tolerance")
    _check_pairs(f, ctx, "presentations", TOLERANCE, {"lower": "fewer", "same": "same"})


@check("labels-range")
def _check_labels_range(f, ctx):
    n = f.numbers
    truth = {}
    for p in ctx.problems:
        pool = pool_of(ctx, p)
        for s in INCREMENTAL:
            runs = _conv_runs(ctx, p, s)
            ok = runs[runs["converged"].astype(bool)]
            if len(ok) and finite(pool) and pool:
                truth[(s, p)] = float(ok["labels_used"].median()) / pool
    stated = {(s, p): v for s, p, v in n["items"]}
    need(f, set(stated) == set(truth) and all(_close(stated[k], truth[k], 1e-6) for k in truth), "the shares")
    lo, hi = _display_ties(truth)
    need(f, [tuple(x) for x in n["low"]] == lo and [tuple(x) for x in n["high"]] == hi, f"lowest {lo}, highest {hi}")


def _ranks(scores: pd.DataFrame, hib: bool) -> pd.Series:
    return scores.rank(axis=1, ascending=not hib, method="average").mean(axis=0)


@check("across")
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
    need(f, set(n["ranks"]) == set(ranks.index) and all(_close(n["ranks"][s], ranks[s], 1e-9) for s in ranks.index),
         "the average ranks")
    chi2 = 12 * nn / (k * (k + 1)) * (float((ranks ** 2).sum()) - k * (k + 1) ** 2 / 4)
    p = float(_st.chi2.sf(max(chi2, 0.0), k - 1))
    floor = float(_st.chi2.sf(nn * (k - 1), k - 1))
    need(f, _close(n["p"], p, 1e-6) and _close(n["min_p"], floor, 1e-9), f"Friedman p {p}, floor {floor}")
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


@check("across-power")
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
        need(f, _close(r["min_p"], float(_st.chi2.sf(nn * (k - 1), k - 1)), 1e-9), f"{t}: the floor of p")
        need(f, _close(r["cd"], st.critical_difference(k, nn, ALPHA), 1e-9), f"{t}: the critical difference")


def sanity_truth(ctx, p: str, point: Mapping) -> dict | None:
    """Passive learning against one reference point: ours, the reference and the relation."""
    m = point["metric"]
    ours = mean_of(ctx, p, "passive", m)
    if not finite(ours):
        return None
    is_acc = m.split("_")[0] in ("accuracy", "f1")
    out = {"problem": p, "metric": m, "ours": ours, "derived": bool(point.get("derived"))}
    if "value" in point:
        ref = float(point["value"])
        out["ref"] = ref
        if is_acc:
            d = 100 * (ours - ref)
            out["relation"] = "equal" if abs(d) < 0.05 else ("above" if d > 0 else "below")
            out["floor"] = False
        elif m.startswith("r2"):
            out["relation"] = "above" if ours > ref else "below"
            out["floor"] = ours > ref and out["derived"]
        else:
            out["relation"] = "ratio"
            out["floor"] = out["derived"] and ours < ref
        return out
    if "low" in point:
        lo, hi = float(point["low"]), float(point["high"])
        out.update(low=lo, high=hi, floor=False,
                   relation="inside" if lo <= ours <= hi else "below" if ours < lo else "above")
        return out
    return None


@check("sanity")
def _check_sanity(f, ctx):
    stated = f.numbers["clauses"]
    truth = [t for p in ctx.problems for pt in reference_points(ctx.refs, p)
             if (t := sanity_truth(ctx, p, pt)) is not None]
    need(f, len(stated) == len(truth), "the reference points compared")
    for a, b in zip(stated, truth):
        need(f, (a["problem"], a["metric"]) == (b["problem"], b["metric"]) and _close(a["ours"], b["ours"])
             and a["relation"] == b["relation"], f"{b['problem']} {b['metric']}: {b['relation']}")
        for key in ("ref", "low", "high"):
            if key in b:
                need(f, _close(a[key], b[key]), f"{b['problem']}: the reference value")
    need(f, f.numbers["floor"] == any(b["floor"] for b in truth), "the noise-floor remark")


def _draft(ctx) -> dict:
    return ((ctx.refs.get("draft") or {}).get("accuracy") or {})


@check("draft-passive")
def _check_draft_passive(f, ctx):
    n = f.numbers
    fm = _draft(ctx).get("fashion-mnist", {})
    ours = mean_of(ctx, "fashion-mnist", "passive", "accuracy")
    top = max(fm.values())
    need(f, _close(n["ours"], ours) and n["draft"] == fm.get("passive") and n["top"] == top, "the values")
    need(f, n["below_draft"] == (fm.get("passive") is not None and ours < fm["passive"]) and n["below_top"] == (ours < top),
         "the direction")


@check("draft-benchmark")
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
    need(f, set(n["ours"]) == set(ours) and all(_close(n["ours"][s], ours[s]) for s in ours), "our values")
    need(f, list(n["unreached"]) == [s for s in n["above"] if s in ours and ours[s] < fm[s]]
         and list(n["reached"]) == [s for s in n["above"] if s in ours and ours[s] >= fm[s]],
         "which draft values our runs reach")


@check("draft-best")
def _check_draft_best(f, ctx):
    rows = f.numbers["rows"]
    truth = []
    for p, claims in _draft(ctx).items():
        if p not in ctx.problems:
            continue
        ss = [s for s in claims if s in _present(ctx, p) and finite(mean_of(ctx, p, s, "accuracy"))]
        if len(ss) < 2:
            continue
        theirs = max(claims, key=claims.get)
        truth.append({"problem": p, "theirs": theirs, "ours": best_of(ctx, p, "accuracy")})
    need(f, [(r["problem"], r["theirs"], list(r["ours"])) for r in rows]
         == [(r["problem"], r["theirs"], r["ours"]) for r in truth], f"best strategies {truth}")
    need(f, list(f.numbers["agree"]) == [r["problem"] for r in truth if r["theirs"] in r["ours"]], "the agreements")


@check("grid-edge")
def _check_grid_edge(f, ctx):
    truth = []
    for p, w in ctx.winners.items():
        grid = ctx.settings(p).get("grid") or {}
        for axis in ("hidden", "lr"):
            vals = grid.get(axis) or []
            if len(vals) >= 2 and w.get(axis) in (min(vals), max(vals)):
                truth.append([p, axis, "largest" if w.get(axis) == max(vals) else "smallest"])
    need(f, [list(e) for e in f.numbers["edges"]] == truth, f"edges {truth}")


@check("grid-diverged")
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


@check("grid-draft")
def _check_grid_draft(f, ctx):
    draft = (ctx.refs.get("draft") or {}).get("grid") or {}
    compared = [p for p in draft if p in ctx.winners]
    same = [p for p in compared if all(float(ctx.winners[p].get(k, np.nan)) == float(v) for k, v in draft[p].items())]
    need(f, list(f.numbers["compared"]) == compared and list(f.numbers["same"]) == same, "the winners reproduced")


@check("overhead")
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
    need(f, set(stated) == set(truth) and all(_close(stated[s], truth[s], 1e-6) for s in truth), f"ratios {truth}")


@check("sasla-cost")
def _check_sasla_cost(f, ctx):
    t = ctx.trials
    for p, share in f.numbers["macs"].items():
        runs = t[(t["dataset"] == p)]
        last = runs.loc[runs.groupby(["strategy", "trial", "fold"])["epoch"].idxmax()]
        total = last.groupby("strategy")[["macs", "presentations"]].mean()
        need(f, _close(share, total.loc["sasla", "macs"] / total.loc["passive", "macs"], 1e-9),
             f"{p}: multiply-adds share {share}")
        need(f, _close(f.numbers["presentations"][p],
                       total.loc["sasla", "presentations"] / total.loc["passive", "presentations"], 1e-9),
             f"{p}: presentations share")
        need(f, (share < 1) == (total.loc["sasla", "macs"] < total.loc["passive", "macs"]), "the side of 100%")


@check("equivalence-summary")
def _check_equivalence_summary(f, ctx):
    truth = [equivalence_truth(ctx, p, s) for p in ctx.problems for s in verdicts(ctx, p, "passive")]
    need(f, f.numbers["counts"] == {k: truth.count(k) for k in f.numbers["counts"]},
         f"verdict counts {f.numbers['counts']} against the posteriors")


@check("significance-summary")
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
        _groups_match(f, ctx, n[key], groups, key)
        need(f, [g["strategy"] for g in n[key]] == [s for s in STRATEGIES if s in groups], f"the order of {key}")


def scored_per_run(ctx, p: str, s: str) -> float:
    """Patterns scored by the selection step over the whole run (cumulative), mean over runs."""
    sub = _runs(ctx, p, s)
    if sub.empty or "scored" not in sub.columns:
        return float("nan")
    return float(sub.groupby(["trial", "fold"])["scored"].max().mean())


def labels_added(ctx, p: str, s: str) -> float:
    """Labels added to the labelled set over the run (last minus first epoch), mean over runs."""
    sub = _runs(ctx, p, s)
    if sub.empty:
        return float("nan")
    g = sub.sort_values("epoch").groupby(["trial", "fold"])["labels_used"]
    return float((g.last() - g.first()).mean())


@check("selection-overhead")
def _check_selection_overhead(f, ctx):
    n = f.numbers
    truth_most = {}
    for p in ctx.problems:
        sc = {s: scored_per_run(ctx, p, s) for s in _present(ctx, p)}
        sc = {s: v for s, v in sc.items() if finite(v)}
        top = max(sc.values()) if sc else 0
        if top > 0:
            truth_most[p] = [s for s in STRATEGIES if s in sc and sc[s] >= top * (1 - TOLERANCE)]
        for s, v in sc.items():
            need(f, _close(n["scored"][p][s], v, 1e-9), f"{s} on {p} scores {v}")
    need(f, {p: list(v) for p, v in n["most"].items()} == truth_most, f"the most per problem {truth_most}")
    covered = []
    for g in n["groups"]:
        check_scope(f, ctx, g["where"])
        for p in g["where"]["problems"]:
            need(f, list(g["strategies"]) == truth_most.get(p), f"{p}: the most is {truth_most.get(p)}")
            covered.append(p)
    need(f, sorted(covered) == sorted(truth_most), "a problem is left out or named twice")
    stated = n["per_label"]
    need(f, list(stated) == [s for s in QUERY if any(s in _present(ctx, p) and labels_added(ctx, p, s) > 0
                                                   for p in ctx.problems)], "the query strategies")
    for s, r in stated.items():
        vals = {p: scored_per_run(ctx, p, s) / labels_added(ctx, p, s) for p in ctx.problems
                if s in _present(ctx, p) and labels_added(ctx, p, s) > 0}
        vals = {p: v for p, v in vals.items() if finite(v)}
        need(f, vals and _close(r["low"], min(vals.values()), 1e-9) and _close(r["high"], max(vals.values()), 1e-9),
             f"{s}: scored per label added")


# =========================================================================== checks: skewness and stalled runs
def _primary_finals(ctx, p: str, s: str) -> np.ndarray:
    fin = ctx.finals
    sub = fin[(fin["dataset"] == p) & (fin["strategy"] == s) & ~fin["diverged"].astype(bool)]
    return sub[_primary(p)].to_numpy(float)


@check("skewed")
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
        need(f, _close(r["median"], float(np.median(v)), 1e-9) and _close(r["mean"], float(v.mean()), 1e-9),
             "mean or median")


@check("stalled")
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
        need(f, _close(r["mean_stalled"], float(final[stalled].mean()), 1e-9), f"{s}: their mean")
        need(f, r["on_line"] == int(on.sum()), f"{s}: runs on the straight line's error")
        need(f, r["late"] == int((stalled & (low < 0.5 * line)).sum()), f"{s}: runs that rose late")
        if r["on_line"]:
            need(f, _close(r["mean_on_line"], float(final[on].mean()), 1e-9), f"{s}: mean of the runs on the line")
    need(f, f.numbers["others"] == others and f.numbers["escaped"] == len(escape), "the other runs")
    if escape:
        need(f, _close(f.numbers["escape_epoch"], float(np.median(escape)), 1e-9), "their median escape epoch")
    from alnn.datasets import SINE_NOISE

    # var(sin x) = 1/2 and cov(x, sin x)^2 / var(x) = 1 / (pi^2 / 3) for x uniform on [-pi, pi]
    need(f, _close(line, 0.5 - 1 / (np.pi ** 2 / 3) + SINE_NOISE ** 2, 1e-12), "the straight line's error")


@check("at-cost")
def _check_at_cost(f, ctx):
    """SASLA against passive at the same cost budget, recomputed from the curves by interpolation-free
    lookup: the best epoch of each run within the budget is its last one within it."""
    for r in f.numbers["rows"]:
        p = r["problem"]
        t = ctx.trials[(ctx.trials["dataset"] == p) & ~ctx.trials["diverged"].astype(bool)]
        metric = _primary(p)
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
