"""Queries of the result tables that several writers of the generated layer share.

The tables (:mod:`~alnn.report.tables`), the finding kinds of every section (registered in
:mod:`~alnn.report.claims`), the prose (:mod:`~alnn.report.prose`), the figures and the budget and
ablation sections ask the same questions of a report's :class:`~alnn.report.context.Context` (any object
with its ``settings``, ``stat``, ``problems`` and ``problems_of``): the best mean of a table row at the
precision it is printed, a median over all runs with the censored ones counted as +inf, how two such
medians compare, each problem's region of practical equivalence, how a metric is named and printed, the
marks of the Bayesian verdicts, and the tolerances the paper states. They are answered here, once.

Of the report package this module imports only :mod:`~alnn.report.format` (number formatting, which
imports none of it), so every other module of the package can import it and none is imported back.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alnn import analysis as an
from alnn import stats as st
from alnn.report.format import decimals_for, finite, join, num, pnum

__all__ = ["TOLERANCE", "FULL", "NEAR_WHOLE", "STALL_FACTOR", "SKEWED", "VERDICT_MARKS", "median_all", "compare",
           "best_of_row", "passive_value", "metric_name", "fmt_metric", "grid_per_config", "equivalence_settings",
           "rope_note"]

# =========================================================================== tolerances
#: Relative difference below which two counts of presentations are "as many".
TOLERANCE = 0.005
#: Share of the pool counted as the whole pool.
FULL = 0.995
#: A selective strategy that never set aside more than this share of its pool, in any epoch of any run,
#: trained nearly as passive learning did: its verdicts against passive learning are stated as that.
NEAR_WHOLE = 0.05
#: A run whose final error exceeds this multiple of its cell's median run has stalled, or ends far off the
#: rest (`alnn.analysis.far_off`).
STALL_FACTOR = 3.0
#: Absolute sample skewness above which a criterion's mean misleads: the paper gives the median and IQR too.
SKEWED = 1.0
#: Marks of the Bayesian verdicts in the tables (`alnn.stats.equivalence`).
VERDICT_MARKS = {"equivalent": "$\\approx$", "better": "$+$", "worse": "$-$", "inconclusive": "?", "n/a": "--",
                 "identical": "$=$"}


# =========================================================================== medians and comparisons
def median_all(values, reached) -> float:
    """Median over all runs, a run that did not reach the target counting as +inf."""
    v = np.where(np.asarray(reached, bool), np.asarray(values, float), np.inf)
    return float(np.median(v)) if v.size else float("nan")


def compare(a: float, b: float, tol: float = 0.0) -> str:
    """``lower`` / ``higher`` / ``same`` (within ``tol``, relative) / ``undecided`` (both infinite)."""
    if np.isinf(a) and np.isinf(b):
        return "undecided"
    if np.isinf(a) or np.isinf(b):
        return "higher" if np.isinf(a) else "lower"
    if abs(a - b) <= tol * max(abs(a), abs(b)):
        return "same"
    return "lower" if a < b else "higher"


# =========================================================================== table rows
def best_of_row(ctx, p: str, strategies: Sequence[str], metric: str, percent: bool) -> set[str]:
    """Strategies whose mean is the best of the row; a mean ties with the best when the table
    prints the two alike (0.1 point, or the best's three significant digits), never otherwise.
    A strategy with diverged runs, whose mean is over the runs that survived, is not named best
    unless every strategy of the row has some."""
    means = {s: ctx.stat(p, s, metric) for s in strategies}
    means = {s: m for s, m in means.items() if finite(m)}
    whole = {s: m for s, m in means.items() if not ctx.stat(p, s, metric, "n_diverged") > 0}
    means = whole or means
    if not means:
        return set()
    top = (max if an.higher_is_better(metric) else min)(means.values())
    if percent:
        return {s for s, m in means.items() if pnum(m, 1) == pnum(top, 1)}
    decimals = decimals_for([top], 3)
    return {s for s, m in means.items() if num(m, decimals) == num(top, decimals)}


def passive_value(ctx, p: str, metric: str) -> tuple[float, float]:
    """Mean and standard deviation of passive learning's final ``metric`` on ``p``."""
    return ctx.stat(p, "passive", metric), ctx.stat(p, "passive", metric, "std")


# =========================================================================== metrics
def metric_name(metric: str) -> str:
    """How a table names a metric column (``rmse_heating_load`` -> ``RMSE (heating)``)."""
    base, _, target = metric.partition("_")
    name = {"accuracy": "Accuracy", "rmse": "RMSE", "mae": "MAE", "mse": "MSE", "r2": "$R^2$",
            "f1": "Macro F1", "mcc": "MCC"}.get(base, base)
    if target:
        name += " (" + target.replace("_load", "").replace("_", " ") + ")"
    return name


def fmt_metric(metric: str, x: float, decimals: int | None = None) -> str:
    """A metric value as a table prints it: accuracy and F1 in percent without the sign, others to
    ``decimals`` (default: three significant digits)."""
    if metric.split("_")[0] in ("accuracy", "f1"):
        return pnum(x, 1)
    return num(x, decimals, sig=3)


# =========================================================================== grid search
def grid_per_config(grid: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration (mean val_loss over folds, diverged if any fold diverged)."""
    keys = [k for k in ("hidden", "lr", "weight_decay", "momentum") if k in grid.columns]
    g = grid.copy()
    g["diverged"] = (g["diverged"].astype(bool) if "diverged" in g.columns else False)
    g["diverged"] |= ~np.isfinite(g["val_loss"].astype(float))
    if "fold" in g.columns:
        g = g.groupby(keys, sort=False).agg(val_loss=("val_loss", "mean"),
                                             diverged=("diverged", "any")).reset_index()
    return g


# =========================================================================== practical equivalence
def equivalence_settings(ctx, p: str) -> tuple[float, float, float]:
    """(rope_accuracy, rope_relative, equivalence_level) of a problem (SPEC 6 defaults)."""
    s = ctx.settings(p)
    return (float(s.get("rope_accuracy", st.ROPE_ACCURACY)), float(s.get("rope_relative", st.ROPE_RELATIVE)),
            float(s.get("equivalence_level", st.EQUIVALENCE_LEVEL)))


def rope_note(ctx) -> str:
    """The regions of practical equivalence of the problems present, as the tables' notes state them."""
    accs = {equivalence_settings(ctx, p)[0] for p in ctx.problems}
    rels = {equivalence_settings(ctx, p)[1] for p in ctx.problems}
    parts = []
    if ctx.problems_of("classification"):
        parts.append(join([f"$\\pm${num(100 * a, 1 if (100 * a) % 1 else 0)} accuracy point{'' if a == 0.01 else 's'}"
                           for a in sorted(accs)]))
    if ctx.problems_of("regression"):
        parts.append(join([f"$\\pm${num(100 * r, 0)}\\% of passive's MSE" for r in sorted(rels)]))
    return "; ".join(parts)
