"""The literature references, the :class:`Context` the writers read, and profile helpers."""

from __future__ import annotations

import copy
import inspect
import tomllib
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alnn import analysis as an
from alnn import stats as st
from alnn.datasets import NAMES as PROBLEMS
from alnn.datasets import TASKS

from alnn.report.constants import (
    ALPHA, PROBLEM_LABELS, REFERENCES_PATH, STRATEGIES, TABLE_METRICS, TASK_PROSE,
)
from alnn.report.format import finite, join, pct
from alnn.report.queries import equivalence_settings


# =========================================================================== references
def load_references(path: str | Path | None = None) -> dict[str, Any]:
    """The literature reference points and draft claims of ``references.toml``."""
    with open(path or REFERENCES_PATH, "rb") as fh:
        return tomllib.load(fh)


def sine_noise() -> float:
    """The standard deviation of the noise on the sine problem's targets (`alnn.datasets.SINE_NOISE`)."""
    from alnn import datasets

    return float(datasets.SINE_NOISE)


def reference_points(refs: Mapping[str, Any], problem: str) -> list[dict[str, Any]]:
    """Points of one problem with derived values filled in."""
    out = []
    for point in refs.get(problem, []) or []:
        p = dict(point)
        if p.get("derived") == "noise":
            p["value"] = sine_noise()
        elif p.get("derived") == "noise-r2":
            s2 = sine_noise() ** 2
            p["value"] = 1 - s2 / (0.5 + s2)
        out.append(p)
    return out


# =========================================================================== context
def _plain_profile(profile) -> dict[str, Any]:
    """The profile as a plain dict, copied (the caller's is never changed)."""
    if hasattr(profile, "to_dict"):
        profile = profile.to_dict()
    return copy.deepcopy(dict(profile or {}))


@dataclass
class Context:
    """Everything the writers need, computed once from the inputs of :func:`build`."""

    trials: pd.DataFrame
    grids: dict[str, pd.DataFrame]
    winners: dict[str, dict]
    profile: dict[str, Any]
    data: dict[str, dict]
    refs: dict[str, Any]
    problems: list[str]
    finals: pd.DataFrame = None
    summary: pd.DataFrame = None
    targets: pd.DataFrame = None
    conv: pd.DataFrame = None
    conv_summary: pd.DataFrame = None
    aulc: pd.DataFrame = None
    aulc_summary: pd.DataFrame = None
    within: pd.DataFrame = None
    across: dict[str, dict] = None
    pools: dict[str, dict] = None
    window: int = 5
    fraction: float = 0.95
    level: float = 0.95  # the Bayesian test's decision level (SPEC 6)

    # ---------------------------------------------------------------- access
    def task(self, problem: str) -> str:
        return TASKS[problem]

    def problems_of(self, task: str) -> list[str]:
        return [p for p in self.problems if TASKS[p] == task]

    def strategies(self, problem: str | None = None) -> list[str]:
        sub = self.trials if problem is None else self.trials[self.trials["dataset"] == problem]
        present = set(sub["strategy"])
        return [s for s in STRATEGIES if s in present]

    def settings(self, problem: str) -> dict[str, Any]:
        return (self.profile.get("problems") or {}).get(problem, {})

    def stat(self, problem: str, strategy: str, metric: str, what: str = "mean") -> float:
        s = self.summary
        row = s[(s["dataset"] == problem) & (s["strategy"] == strategy) & (s["metric"] == metric)]
        return float(row[what].iloc[0]) if len(row) and finite(row[what].iloc[0]) else float("nan")

    def test(self, problem: str, strategy: str, metric: str, baseline: str = "passive"):
        w = self.within
        row = w[(w["dataset"] == problem) & (w["strategy"] == strategy) & (w["metric"] == metric)
                & (w["baseline"] == baseline)]
        return None if row.empty else row.iloc[0]

    def conv_row(self, problem: str, strategy: str):
        c = self.conv_summary
        row = c[(c["dataset"] == problem) & (c["strategy"] == strategy)]
        return None if row.empty else row.iloc[0]

    def primary(self, problem: str) -> str:
        return an.PRIMARY_METRIC[TASKS[problem]]


def default_of(func, name):
    """The default value of parameter ``name`` of ``func``."""
    return inspect.signature(func).parameters[name].default


def _pools(trials: pd.DataFrame) -> dict[str, dict]:
    """Training-pool sizes per problem from passive's (or any full-pool strategy's) first epoch.

    ``n`` is the number of patterns: every pattern is in exactly one
    validation part per trial, so the K training pools of a trial sum to
    (K - 1) n.
    """
    out = {}
    for ds, sub in trials.groupby("dataset", sort=False):
        full = sub[sub["strategy"].isin(["passive", "sasla"])]
        if full.empty:
            continue
        first = full[full["epoch"] == full["epoch"].min()]
        per = first.groupby(["trial", "fold"])["subset_size"].max()
        k = sub["fold"].nunique()
        t0 = per.index.get_level_values("trial").min()
        n = per.loc[t0].sum() / (k - 1) if k > 1 else float("nan")
        out[ds] = {"pool_mean": float(per.mean()), "pool_min": int(per.min()),
                   "pool_max": int(per.max()), "n": int(round(n)) if finite(n) else None,
                   "folds": int(k)}
    return out


def _across(fin: pd.DataFrame, problems: Sequence[str], alpha: float) -> dict[str, Any]:
    """Friedman / Iman-Davenport, Holm against passive and CD for one task's problems."""
    out: dict[str, Any] = {"ok": False, "n": len(problems)}
    if len(problems) < 2:
        return out
    sub = fin[fin["dataset"].isin(problems)]
    try:
        scores = st.score_matrix(sub)
    except (ValueError, KeyError):
        return out
    metric = scores.attrs.get("metric")
    if scores.shape[1] < 2 or scores.shape[0] < 2:
        return out
    hib = an.higher_is_better(metric)
    fr = st.friedman_iman_davenport(scores, higher_is_better=hib)
    post = (st.holm_vs_control(fr.avg_ranks, fr.n, alpha=alpha)
            if "passive" in fr.avg_ranks.index else pd.DataFrame())
    cd = st.critical_difference(fr.k, fr.n, alpha)
    out.update(ok=True, metric=metric, scores=scores, friedman=fr, post=post, cd=cd,
               limits=st.power_limits(fr.k, fr.n, alpha))
    return out


def build_context(*, grids, winners, trials, profile, data, references) -> Context:
    """The :class:`Context` of :func:`alnn.report.build`'s inputs: every analysis table computed once."""
    trials = trials.copy()
    trials["dataset"] = trials["dataset"].astype(str)
    trials["strategy"] = trials["strategy"].astype(str)
    present = set(trials["dataset"])
    problems = [p for p in PROBLEMS if p in present]
    refs = load_references() if references is None else references
    ctx = Context(trials=trials, grids={k: v for k, v in (grids or {}).items()},
                  winners={k: dict(v) for k, v in (winners or {}).items()},
                  profile=_plain_profile(profile), data=dict(data or {}), refs=refs,
                  problems=problems)
    ctx.window = default_of(an.convergence, "window")
    ctx.fraction = default_of(an.convergence_targets, "fraction")
    levels = {equivalence_settings(ctx, p)[2] for p in problems}
    if len(levels) > 1:
        raise ValueError(f"one equivalence_level for every problem, got {sorted(levels)}")
    ctx.level = levels.pop() if levels else st.EQUIVALENCE_LEVEL
    ctx.finals = an.finals(trials)
    ctx.summary = an.summary(trials)
    ctx.targets = an.convergence_targets(trials)
    ctx.conv = an.convergence(trials, ctx.targets, window=ctx.window)
    ctx.conv_summary = an.convergence_summary(ctx.conv)
    ctx.aulc = an.aulc(trials)
    ctx.aulc_summary = an.aulc_summary(ctx.aulc)
    within = []
    for task, rows in TABLE_METRICS.items():
        probs = ctx.problems_of(task)
        if not probs:
            continue
        sub = ctx.finals[ctx.finals["dataset"].isin(probs)]
        for metric, _, _ in rows:
            if metric in sub.columns and sub[metric].notna().any():
                primary = metric == an.PRIMARY_METRIC[task]
                within.append(st.compare_within_problem(sub, metric=metric, alpha=ALPHA,
                                                        rope=rope_of(ctx) if primary else None,
                                                        level=ctx.level))
    ctx.within = (pd.concat(within, ignore_index=True) if within else
                  pd.DataFrame(columns=["dataset", "metric", "strategy", "baseline"]))
    ctx.across = {task: _across(ctx.finals, ctx.problems_of(task), ALPHA)
                  for task in ("classification", "regression")}
    ctx.pools = _pools(trials)
    _reconcile(ctx)
    return ctx


def rope_of(ctx: "Context") -> dict:
    """``{problem: rope(metric, baseline mean)}``, the region of practical equivalence of every problem."""
    out = {}
    for p in ctx.problems:
        acc, rel, _ = equivalence_settings(ctx, p)
        out[p] = lambda metric, mean, acc=acc, rel=rel: st.default_rope(metric, mean, accuracy=acc, relative=rel)
    return out


def _reconcile(ctx: Context) -> None:
    """Make the printed profile match the results: trials, folds and epochs are taken from the
    trial frame, and a difference from the profile passed in is reported as a warning (it means
    that the results are stale or come from another profile)."""
    problems = ctx.profile.setdefault("problems", {})
    for p in ctx.problems:
        sub = ctx.trials[ctx.trials["dataset"] == p]
        actual = {"trials": int(sub["trial"].nunique()), "folds": int(sub["fold"].nunique()),
                  "epochs": int(sub["epoch"].max())}
        settings = dict(problems.get(p) or {})
        stated = {k: settings.get(k) for k in actual}
        if settings and stated != actual:
            warnings.warn(f"{p}: the profile says {stated} but the results have {actual}; the paper "
                          f"prints the results' values", stacklevel=3)
        settings.update(actual)
        problems[p] = settings


# =========================================================================== profile
def settings_rows(ctx: Context) -> list[tuple[str, dict]]:
    """``(problem, settings)`` of every problem the profile sets or the results hold, in the paper's order."""
    return [(p, ctx.settings(p)) for p in PROBLEMS if ctx.settings(p) or p in ctx.problems]


def grid_size(grid: Mapping[str, Sequence]) -> int:
    """Configurations of a grid (0 when an axis is missing)."""
    axes = [grid.get(a) or [] for a in ("hidden", "lr", "weight_decay", "momentum")]
    return int(np.prod([len(a) for a in axes])) if all(axes) else 0


def group_by_value(mapping: Mapping[str, Any]) -> list[tuple[Any, list[str]]]:
    """``[(value, [keys with that value])]`` in the order the values first occur."""
    groups: dict[Any, list[str]] = {}
    for p, v in mapping.items():
        groups.setdefault(v, []).append(p)
    return list(groups.items())


def labels_of(problems: Iterable[str]) -> str:
    """The problems' labels joined: ``Iris, Wine and Sine``."""
    return join([PROBLEM_LABELS.get(p, p) for p in problems])


def _on(ctx: "Context", problems: Iterable[str]) -> str:
    """``on every problem`` / ``on every classification problem`` / ``on Iris and Wine``."""
    ps = list(dict.fromkeys(problems))
    if len(ps) > 1 and set(ps) == set(ctx.problems):
        return "on every problem"
    for task in ("classification", "regression"):
        task_ps = ctx.problems_of(task)
        if len(ps) > 1 and set(ps) == set(task_ps):
            return f"on every {TASK_PROSE[task]} problem"
    return "on " + labels_of(ps)


def query_params(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The query parameters of a problem's settings (entropy's, else random sampling's or the committee's)."""
    strategies = settings.get("strategies") or {}
    for s in ("entropy", "random", "ensemble"):
        if s in strategies:
            return strategies[s] or {}
    return {}


def initial_rule() -> tuple[str, str]:
    """The default initial labelled set as (fraction of the pool, maximum)."""
    try:
        from alnn.strategies.entropy import initial_sizes

        cap = int(initial_sizes(np.array([10 ** 6]), None)[0])
        frac = float(initial_sizes(np.array([50]), None)[0]) / 50
        return pct(frac, 0), str(cap)
    except Exception:  # pragma: no cover - engine absent
        return "10\\%", "10"


def ensemble_members() -> str:
    """The committee's size, as text."""
    try:
        from alnn.strategies.ensemble import MEMBERS

        return str(int(MEMBERS))
    except Exception:  # pragma: no cover - engine absent
        return "3"
