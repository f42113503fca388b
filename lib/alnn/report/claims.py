r"""The registry of finding kinds (SPEC 8): the record of a generated claim, the declaration of
its kind, and the rules the kinds share.

Every sentence of the generated layer that compares, counts, ranks or states a direction is a
:class:`Finding`: its ``kind``, its ``subjects`` (problems, strategies, a task), the ``numbers``
and test outcomes it rests on, and its ``text``, which the kind's template renders from the
subjects and numbers alone. A kind is declared once, as a :class:`Kind`, in the module of the
paper's section that states it, and that module attaches the kind's three parts to the
declaration:

* its **decider** (``@KIND.decider``), which reads the section's results (the draft protocol's
  :class:`~alnn.report.context.Context`, the budget protocol's ``BudgetResults``, the
  ablations' ``AblationResults``) and returns the kind's findings, rendered;
* its **template** (``@KIND.template``), the text from the subjects and numbers alone;
* its **check** (``@KIND.check``), which recomputes the claim along another path than the
  decider's (from the per-run frames rather than the summary the decider read) and raises
  :class:`FindingError` when the results contradict it. A check that can only re-read what the
  decider read says so: ``Kind(..., consistency=True)``; it catches drift, not a wrong rule.

:func:`check_findings` runs each finding's check and compares its text with the template's
rendering, so a tampered number and a tampered text are both caught; :func:`said` returns the
texts of checked findings, the only way a claim reaches the paper. :func:`kinds` lists the
registry by section (``python -m alnn kinds`` prints it with the path each check recomputes
along). The sections are :mod:`~alnn.report.comparisons`, :mod:`~alnn.report.convergence`,
:mod:`~alnn.report.selection`, :mod:`~alnn.report.ranks`, :mod:`~alnn.report.sanity`,
:mod:`~alnn.report.reproduction`, :mod:`~alnn.report.grid`, :mod:`~alnn.report.budget` and
:mod:`~alnn.report.ablation`; :data:`SECTIONS` names them in the paper's order.

Rules shared by the kinds (the paper states them where it uses them):

* a claim about presentations is decided from the cumulative ``presentations`` column; two
  counts that differ by at most :data:`TOLERANCE` (relative) are "as many";
* a claim about epochs, presentations or labels *to the target* compares medians over all runs,
  a run that never reached the target (censored, or diverged) counting as +inf: a median is
  finite only when more than half of the runs converged, and a pair where neither median is
  finite is left undecided;
* a superlative names every strategy (or problem) that ties for the extreme at the precision
  printed, over all strategies of the row;
* a statement about several problems names them, or says "every problem" / "every <task>
  problem" only when those are exactly the problems present (:func:`scope`, :func:`on`,
  :func:`check_scope`).

The tolerances, medians and comparisons of these rules are :mod:`alnn.report.queries`', which
the tables share.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from alnn import analysis as an
from alnn import stats as st
from alnn.datasets import TASKS
from alnn.report.constants import ALPHA, PROBLEM_LABELS, STRATEGIES, STRATEGY_PROSE, TASK_PROSE
from alnn.strategies.catalogue import names as strategy_names
from alnn.report.format import count, decimals_for, finite, join, num, pct
from alnn.report.queries import FULL, TOLERANCE, compare, equivalence_settings, median_all

__all__ = ["Finding", "FindingError", "Kind", "REGISTRY", "SECTIONS", "TOLERANCE", "FULL", "QUERY", "INCREMENTAL",
           "make", "check_findings", "said", "kinds", "decide", "scope", "on", "check_scope", "median_all",
           "compare", "fmt_value", "names", "on_any", "runs_of"]

#: The strategies that query labels on the incremental schedule, and those compared with random.
INCREMENTAL = tuple(n for n in strategy_names(protocol="draft")
                    if n in strategy_names(role="query") + strategy_names(role="baseline"))
QUERY = strategy_names(protocol="draft", role="query")

#: The modules that state findings, one per section of the paper, in the paper's order.
SECTIONS = ("alnn.report.grid", "alnn.report.sanity", "alnn.report.comparisons", "alnn.report.selection",
            "alnn.report.convergence", "alnn.report.ranks", "alnn.report.reproduction", "alnn.report.budget",
            "alnn.report.ablation")


class FindingError(AssertionError):
    """A generated claim that its own tables contradict."""


@dataclass(frozen=True)
class Finding:
    kind: str
    subjects: tuple
    numbers: dict
    text: str


#: kind name -> its declaration.
REGISTRY: dict[str, "Kind"] = {}


@dataclass(eq=False)
class Kind:
    """One kind of finding, declared once in the module of its section.

    ``recomputes`` says what the check recomputes and along which path; ``consistency`` marks a
    check that can only re-read the summary the decider read. The decider, template and check
    are attached with the :meth:`decider`, :meth:`template` and :meth:`check` decorators.
    """

    name: str
    section: str
    recomputes: str
    consistency: bool = False
    decide: Callable[[Any], list[Finding]] | None = field(default=None, repr=False)
    render: Callable[[Finding], str] | None = field(default=None, repr=False)
    verify: Callable[[Finding, Any], None] | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.name in REGISTRY and REGISTRY[self.name].section != self.section:
            raise ValueError(f"finding kind {self.name!r} is declared twice: in {REGISTRY[self.name].section} "
                             f"and in {self.section}")
        REGISTRY[self.name] = self

    def decider(self, fn):
        self.decide = fn
        return fn

    def template(self, fn):
        self.render = fn
        return fn

    def check(self, fn):
        self.verify = fn
        return fn


def kinds(section: str | None = None) -> list[Kind]:
    """The declared kinds (of one section), every section module loaded, in declaration order."""
    for module in SECTIONS:
        importlib.import_module(module)
    order = {s: i for i, s in enumerate(SECTIONS)}
    return sorted((k for k in REGISTRY.values() if section is None or k.section == section),
                  key=lambda k: order.get(k.section, len(order)))


def make(kind: str, subjects: Sequence, numbers: Mapping) -> Finding:
    """A finding rendered by its kind's template."""
    f = Finding(kind, tuple(subjects), dict(numbers), "")
    return replace(f, text=REGISTRY[kind].render(f))


def check_findings(found: Iterable[Finding], source) -> None:
    """Recompute every finding from the results and its text from its numbers; the first
    contradiction raises :class:`FindingError` naming the finding."""
    for f in found:
        k = REGISTRY.get(f.kind)
        if k is None or k.verify is None or k.render is None:
            raise FindingError(f"finding {f.kind} {f.subjects}: no declared kind with a check and a template")
        try:
            k.verify(f, source)
            text = k.render(f)
        except FindingError:
            raise
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
            raise FindingError(f"finding {f.kind} {f.subjects}: its numbers cannot be checked "
                               f"({exc!r}): {f.text}") from exc
        if text != f.text:
            raise FindingError(f"finding {f.kind} {f.subjects}: the text is not what its numbers say: "
                               f"{f.text!r} against {text!r}")


def said(found: Sequence[Finding], source) -> str:
    """The findings' sentences, after their checks: the only way a claim's text reaches the paper."""
    check_findings(found, source)
    return " ".join(f.text for f in found if f.text)


def decide(section: str, source) -> list[Finding]:
    """Every finding of one section's kinds, in declaration order, checked."""
    out = [f for k in kinds(section) for f in k.decide(source)]
    check_findings(out, source)
    return out


def need(f: Finding, ok: bool, why: str) -> None:
    if not ok:
        raise FindingError(f"finding {f.kind} {f.subjects} is not what the tables say ({why}): {f.text}")


# =========================================================================== shared phrases
def names(strategies: Sequence[str]) -> str:
    return join([STRATEGY_PROSE[s] for s in strategies])


def verdict_counts(c: Mapping[str, int]) -> str:
    """``3 practically equivalent, 1 practically worse and 2 inconclusive`` (zero counts left out;
    ``all 6 inconclusive`` when one verdict covers every comparison)."""
    total = sum(c.values())
    diff = c["better"] + c["worse"]
    parts = []
    if c["equivalent"]:
        parts.append((c["equivalent"], "practically equivalent"))
    if c["better"] and c["worse"]:
        parts.append((diff, f"practically different ({count(c['better'])} better, {count(c['worse'])} worse)"))
    elif diff:
        parts.append((diff, "practically better" if c["better"] else "practically worse"))
    if c["inconclusive"]:
        parts.append((c["inconclusive"], "inconclusive"))
    if c.get("identical"):
        parts.append((c["identical"], "the same in every run"))
    if len(parts) == 1 and total > 1:
        return f"all {count(total)} {parts[0][1]}"
    return join([f"{count(k)} {words_}" for k, words_ in parts]) or "none"


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
def primary_of(p: str) -> str:
    return an.PRIMARY_METRIC[TASKS[p]]


def verdicts(ctx, p: str, baseline: str = "passive", metric: str | None = None) -> dict[str, str]:
    """``better`` / ``worse`` / ``none`` for every strategy tested against ``baseline`` on ``p``,
    read from the within-problem tests (significant after Holm at ALPHA; the direction from the
    sign of the mean difference and the metric's direction)."""
    metric = metric or primary_of(p)
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
    rows = w[(w["dataset"] == p) & (w["metric"] == primary_of(p)) & (w["baseline"] == baseline)]
    return {r.strategy: str(r.equivalence) for r in rows.itertuples(index=False) if finite(r.p)}


def equivalence_truth(ctx, p: str, s: str, baseline: str = "passive") -> str:
    """The same verdict recomputed from the paired final runs by the posterior itself
    (`alnn.stats.bayesian_correlated_ttest`), not through the comparison table."""
    metric = primary_of(p)
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




def per_run_last(ctx, p: str, s: str, col: str) -> pd.Series:
    """The value of ``col`` at each run's last epoch."""
    sub = runs_of(ctx, p, s)
    if sub.empty or col not in sub.columns:
        return pd.Series(dtype=float)
    last = sub.loc[sub.groupby(["trial", "fold"])["epoch"].idxmax()]
    return last[col].astype(float)


def pool_of(ctx, p: str) -> float:
    """The mean training pool of ``p``: the subset of passive learning (or SASLA) at its first epoch."""
    for s in ("passive", "sasla"):
        sub = runs_of(ctx, p, s)
        if len(sub):
            first = sub[sub["epoch"] == sub["epoch"].min()]
            return float(first.groupby(["trial", "fold"])["subset_size"].max().mean())
    return float("nan")


def close(a: float, b: float, rel: float = 1e-9) -> bool:
    if not (finite(a) and finite(b)):
        return (np.isinf(a) and np.isinf(b) and np.sign(a) == np.sign(b)) or (np.isnan(a) and np.isnan(b))
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def best_of(ctx, p: str, metric: str) -> list[str]:
    """Every strategy of ``p`` whose mean prints like the best one (a tie is what a reader of the
    table sees as one: equal digits at the best's precision)."""
    means = {s: mean_of(ctx, p, s, metric) for s in STRATEGIES if s in set(present(ctx, p))}
    means = {s: m for s, m in means.items() if finite(m)}
    fin = ctx.finals[ctx.finals["dataset"] == p]
    hit = set(fin.loc[fin["diverged"].astype(bool), "strategy"])  # diverged runs, from the per-run final rows
    means = {s: m for s, m in means.items() if s not in hit} or means
    if not means:
        return []
    top = (max if an.higher_is_better(metric) else min)(means.values())
    if metric.split("_")[0] in ("accuracy", "f1"):
        return [s for s, m in means.items() if f"{100 * m:.1f}" == f"{100 * top:.1f}"]
    d = decimals_for([top], 3)
    return [s for s, m in means.items() if f"{m:.{d}f}" == f"{top:.{d}f}"]


def present(ctx, p: str) -> list[str]:
    return list(pd.unique(ctx.trials.loc[ctx.trials["dataset"] == p, "strategy"]))


def check_grouped(f: Finding, ctx, groups: Sequence[Mapping], truth: Mapping[str, Sequence[str]], what: str) -> None:
    """``groups`` [{strategies, where}] name, problem by problem, exactly the strategies of ``truth``
    ({problem: strategies}), each problem once."""
    covered = []
    for g in groups:
        check_scope(f, ctx, g["where"])
        for p in g["where"]["problems"]:
            need(f, list(g["strategies"]) == list(truth.get(p) or []), f"{p}: the {what} is {truth.get(p)}")
            covered.append(p)
    need(f, sorted(covered) == sorted(truth), "a problem is left out or named twice")


def groups_match(f: Finding, ctx, groups: Sequence[Mapping], truth: Mapping[str, Sequence[str]],
                  what: str) -> None:
    """``groups`` [{strategy, where}] state, per strategy, exactly the problems of ``truth``."""
    stated = {g["strategy"]: g["where"] for g in groups}
    need(f, set(stated) == {s for s, ps in truth.items() if ps}, f"the {what} strategies are not the tables'")
    for s, sc in stated.items():
        check_scope(f, ctx, sc, truth[s])


# =========================================================================== checks: the draft's protocol


# =========================================================================== checks: skewness and stalled runs


