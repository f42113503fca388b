"""Derived quantities from the engine's tidy frame: finals, summaries,
convergence, area under the learning curve, subset sizes, learning curves.

Input is the tidy frame of ``alnn.run`` (docs/architecture.md): one row per
network (dataset x strategy x trial x fold) and epoch, with the columns

    dataset, strategy, trial, fold, epoch, subset_size, labels_used,
    presentations, scored, diverged, wall_s, train_loss, val_loss,

then the validation metrics (classification: accuracy, f1, precision, recall,
mcc, mse; regression: mse, rmse, mae, r2 and per-target ``mse_<t>`` ...).
A "run" is one network: one (dataset, strategy, trial, fold).

Choices every function here makes (the paper states them):

* **Diverged runs.** A run is diverged if its ``diverged`` flag is set at any
  epoch (the engine sets it, and blanks the metrics, from the epoch of
  divergence on). Diverged runs are excluded from every mean, standard
  deviation and curve, and are counted (``n_diverged``) beside each summary;
  a mean is NaN only when no run of its group survived.
* **Spread.** Standard deviations are sample standard deviations (ddof=1)
  over the trial x fold runs.
* **Convergence target** (:func:`convergence_targets`): fixed from the
  ``passive`` runs alone, before any other strategy is looked at, as a
  relative tolerance ``1 - fraction`` (default 5 %) around passive's final
  mean m. For a metric where higher is better the target is
  ``m - (1 - fraction)|m|`` (= ``0.95 m`` for positive m); for an error
  metric (lower is better) it is ``m + (1/fraction - 1)|m|`` (= ``m / 0.95``
  for positive m, i.e. an error at most 1/0.95 = 1.053 times passive's).
* **Epochs to convergence** (:func:`convergence`): the first epoch at which
  the trailing moving average of the validation metric over ``window``
  (default 5) epochs reaches the target (>= for higher-is-better metrics,
  <= for error metrics). The average needs a full window, so the earliest
  possible value is epoch ``window``. A run that never reaches the target
  within the budget, or that diverges, is censored (not converged).
* **Convergence rate**: converged runs / all runs (diverged runs included in
  the denominator as failures).
* **AULC** (:func:`aulc`): the mean of the validation metric over the epochs
  of the budget, (1/E) * sum_e m_e, i.e. the rectangle-rule area under the
  curve against epochs divided by the budget E. It is in the metric's units
  (a flat curve at c has AULC c) and undefined (NaN) for a diverged run.
* **Learning-curve bands** (:func:`learning_curve`): mean over runs at each
  epoch with a Student-t 95 % interval, mean +- t_{0.975, n-1} s / sqrt(n).
  It is descriptive: folds of one trial share data, so the band is narrower
  than a corrected interval would be.

The budget protocol (SPEC section 3b) has its own frame: one row per run and
round r = 0..R, with ``round``, ``budget`` (|L| of the round, the schedule
B_0 < ... < B_R shared by every run of a problem) in place of ``epoch`` and
``subset_size``; ``passive`` has the single round 0 on the whole pool, the
ceiling. Its choices (the paper states them):

* **AUBC** (:func:`aubc`): trapezoid area under the criterion against
  x_r = (log B_r - log B_0) / (log B_R - log B_0), so x runs over [0, 1],
  each doubling of the labels weighs the same, and a flat curve at c has
  AUBC c. Blank for a diverged run or a run with any blank round. Passive
  (one round) has none.
* **Diverged runs** are excluded whole (every round) from curves and means,
  as above, and counted beside them.
* **Labels to target** (:func:`labels_to_target`): the target is fixed from
  passive's full-pool mean m by the rule of :func:`convergence_targets`
  (fraction x m for an accuracy, m / fraction for an error metric, for
  positive m); a run's value is the first budget at which its criterion
  reaches the target (no moving average: each round is a separate
  training). Runs that never reach it, and diverged runs, are censored and
  kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from alnn.strategies.catalogue import catalogue as _catalogue
from scipy import stats as _st

__all__ = [
    "KEYS", "COST_COLUMNS", "STRATEGY_ORDER", "PRIMARY_METRIC", "HIGHER_IS_BETTER",
    "TASK_METRICS",
    "task_of", "tasks", "primary_metric", "higher_is_better", "metric_columns",
    "finals", "summary", "convergence_targets", "convergence", "convergence_summary",
    "aulc", "aulc_summary", "subset_curve", "learning_curve", "synthetic_frame",
    "BUDGET_KEYS", "budget_schedule_of", "aubc", "aubc_summary", "budget_curve", "at_budget",
    "passive_reference", "labels_to_target", "labels_to_target_summary",
    "synthetic_budget_frame",
]

#: Columns that identify one run (one network).
KEYS = ("dataset", "strategy", "trial", "fold")
#: Bookkeeping columns recorded per epoch (not validation metrics).
COST_COLUMNS = ("subset_size", "labels_used", "presentations", "scored", "wall_s")
_NOT_METRICS = set(KEYS) | {"epoch", "diverged"}

#: Display and sort order of the strategies.
STRATEGY_ORDER = tuple(_catalogue())

#: The metric each task is judged on.
PRIMARY_METRIC = {"classification": "accuracy", "regression": "mse"}

#: Validation metrics the engine records per task (regression adds per-target
#: ``<metric>_<target>`` columns).
TASK_METRICS = {"classification": ("accuracy", "f1", "precision", "recall", "mcc", "mse"),
                "regression": ("mse", "rmse", "mae", "r2")}

#: Direction of every metric the engine records. Per-target columns
#: (``mse_heating`` ...) take the direction of their prefix.
HIGHER_IS_BETTER = {
    "accuracy": True, "f1": True, "precision": True, "recall": True, "mcc": True,
    "r2": True,
    "mse": False, "rmse": False, "mae": False, "train_loss": False, "val_loss": False,
}


# --------------------------------------------------------------------------- helpers
def task_of(frame: pd.DataFrame) -> str:
    """``"classification"`` if the frame holds classification results, else ``"regression"``.

    Classification when an ``accuracy`` value is present; otherwise
    regression when any of mse, rmse, mae, r2 has a value (a frame that
    concatenates both tasks has blank ``accuracy`` on regression rows);
    otherwise (every run diverged) classification if there is an
    ``accuracy`` column at all.
    """
    if "accuracy" not in frame.columns:
        return "regression"
    if frame["accuracy"].notna().any():
        return "classification"
    if any(c in frame.columns and frame[c].notna().any() for c in TASK_METRICS["regression"]):
        return "regression"
    return "classification"


def tasks(frame: pd.DataFrame) -> dict[str, str]:
    """Task of every dataset in the frame, ``{dataset: task}``."""
    return {ds: task_of(sub) for ds, sub in frame.groupby("dataset", sort=False)}


def primary_metric(frame: pd.DataFrame) -> str:
    """The primary metric of the frame's task (:data:`PRIMARY_METRIC`)."""
    return PRIMARY_METRIC[task_of(frame)]


def higher_is_better(metric: str) -> bool:
    """Whether larger values of ``metric`` are better (per-target names use their prefix)."""
    if metric in HIGHER_IS_BETTER:
        return HIGHER_IS_BETTER[metric]
    prefix = metric.split("_", 1)[0]
    if prefix in HIGHER_IS_BETTER:
        return HIGHER_IS_BETTER[prefix]
    raise KeyError(f"unknown metric {metric!r}: add it to HIGHER_IS_BETTER")


def _belongs(column: str, task: str):
    """Whether a column is a result of ``task``; None for a column alnn does not know."""
    if column in COST_COLUMNS or column in ("train_loss", "val_loss"):
        return True
    per_target = "_" in column and column.split("_", 1)[0] in TASK_METRICS["regression"]
    if not (per_target or any(column in ms for ms in TASK_METRICS.values())):
        return None
    return column in TASK_METRICS[task] or (task == "regression" and per_target)


def metric_columns(frame: pd.DataFrame, *, costs: bool = False) -> list[str]:
    """Numeric result columns of the frame: validation metrics and losses;
    with ``costs=True`` also the bookkeeping columns (:data:`COST_COLUMNS`)."""
    skip = _NOT_METRICS | (set() if costs else set(COST_COLUMNS))
    return [c for c in frame.columns
            if c not in skip and pd.api.types.is_numeric_dtype(frame[c])
            and not pd.api.types.is_bool_dtype(frame[c])]


def _require(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"frame lacks columns {missing}")


def _strategy_key(values: pd.Series) -> pd.Series:
    order = {s: i for i, s in enumerate(STRATEGY_ORDER)}
    return values.map(lambda s: (order.get(s, len(order)), s))


def sort_frame(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Sort by ``by`` with strategies in :data:`STRATEGY_ORDER`, datasets as first seen."""
    if frame.empty:
        return frame.reset_index(drop=True)
    keys = {}
    if "dataset" in by:
        first = {d: i for i, d in enumerate(pd.unique(frame["dataset"]))}
        keys["dataset"] = lambda s: s.map(first)
    if "strategy" in by:
        keys["strategy"] = _strategy_key
    return frame.sort_values(list(by), key=lambda s: keys[s.name](s) if s.name in keys else s,
                             kind="stable").reset_index(drop=True)


def _metric_for(sub: pd.DataFrame, metric: str | None) -> str:
    m = metric or primary_metric(sub)
    _require(sub, [m])
    return m


def _run_diverged(frame: pd.DataFrame) -> pd.Series:
    """Per-row flag: the row's run diverged at some epoch."""
    if "diverged" not in frame.columns:
        return pd.Series(False, index=frame.index)
    flag = frame["diverged"].fillna(False).astype(bool)
    return flag.groupby([frame[k] for k in KEYS], sort=False).transform("any")


def _describe(values: pd.DataFrame, by: Sequence[str], value: str) -> pd.DataFrame:
    """mean, std (ddof=1), median and count of ``value`` over the rows of each group."""
    g = values.groupby(list(by), sort=False)[value]
    out = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1), "median": g.median(),
                        "n": g.count()})
    return out.reset_index()


# --------------------------------------------------------------------------- finals, summary
def finals(frame: pd.DataFrame) -> pd.DataFrame:
    """Last-epoch row of every run (dataset, strategy, trial, fold).

    Same columns as the tidy frame; ``diverged`` is the run-level flag (True
    if the run diverged at any epoch), so a diverged run keeps its row with
    blank metrics. Idempotent: the finals of a finals frame are itself.
    """
    _require(frame, KEYS + ("epoch",))
    f = frame.reset_index(drop=True)
    diverged = _run_diverged(f)
    last = f.groupby(list(KEYS), sort=False)["epoch"].idxmax()
    out = f.loc[last.to_numpy()].copy()
    if "diverged" in out.columns:
        out["diverged"] = diverged.loc[out.index].to_numpy()
    return sort_frame(out, KEYS)


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread of every final metric, per problem x strategy (long format).

    Accepts the tidy frame or its :func:`finals`. One row per (dataset,
    strategy, metric): ``mean``, ``std`` (ddof=1), ``median`` and ``n`` (runs
    contributing a finite value) over the trial x fold runs that did not
    diverge, plus ``n_runs`` (all runs) and ``n_diverged``. The metrics are the
    validation metrics, the losses and the final bookkeeping values
    (subset_size, labels_used, presentations, scored, wall_s). Only the
    metrics of the dataset's task (:data:`TASK_METRICS`) are listed, so a
    mixed frame gives iris no R^2; unknown extra columns are listed where
    they have values.
    Wide table: ``summary(f).pivot(index=["dataset", "strategy"], columns="metric",
    values="mean")``.
    """
    fin = finals(frame)
    if "diverged" not in fin.columns:
        fin = fin.assign(diverged=False)
    fin["diverged"] = fin["diverged"].astype(bool)
    cols = metric_columns(fin, costs=True)
    order = {m: i for i, m in enumerate(cols)}
    out = []
    for ds, sub in fin.groupby("dataset", sort=False):
        task = task_of(sub)
        present = [c for c in cols if _belongs(c, task) or
                   (_belongs(c, task) is None and sub[c].notna().any())]
        counts = sub.groupby("strategy", sort=False).agg(
            n_runs=("trial", "size"), n_diverged=("diverged", "sum"))
        long = sub[~sub["diverged"]].melt(id_vars=["strategy"], value_vars=present,
                                          var_name="metric").dropna(subset=["value"])
        stats = _describe(long, ["strategy", "metric"], "value")
        grid = pd.MultiIndex.from_product([counts.index, present], names=["strategy", "metric"])
        res = (grid.to_frame(index=False).merge(stats, on=["strategy", "metric"], how="left")
               .merge(counts.reset_index(), on="strategy", how="left"))
        res.insert(0, "dataset", ds)
        out.append(res)
    out = pd.concat(out, ignore_index=True)
    out["n"] = out["n"].fillna(0).astype(int)
    out["n_diverged"] = out["n_diverged"].astype(int)
    out["_m"] = out["metric"].map(order)
    out = sort_frame(out, ["dataset", "strategy", "_m"]).drop(columns="_m")
    return out[["dataset", "strategy", "metric", "mean", "std", "median", "n", "n_runs",
                "n_diverged"]]


# --------------------------------------------------------------------------- convergence
def convergence_targets(frame: pd.DataFrame, metric: str | None = None, fraction: float = 0.95,
                        *, reference: str = "passive") -> pd.DataFrame:
    """Convergence target per problem, fixed from the ``reference`` (passive) runs.

    m = mean final ``metric`` (default: the primary metric, accuracy or MSE)
    of the reference strategy's non-diverged runs. With tolerance
    ``1 - fraction``:

    * higher is better: target = m - (1 - fraction) |m|  (0.95 m for m > 0);
    * lower is better:  target = m + (1/fraction - 1) |m| (m / 0.95 for m > 0),

    so that an error metric's target is the same ratio away from m as an
    accuracy's (1/0.95 on the error scale mirrors 0.95 on the accuracy
    scale). Returns one row per dataset: ``dataset, metric, higher_is_better,
    reference, reference_mean, n_reference, fraction, target``.
    """
    if not 0 < fraction <= 1:
        raise ValueError("fraction must lie in (0, 1]")
    fin = finals(frame)
    rows = []
    for ds, sub in fin.groupby("dataset", sort=False):
        m = _metric_for(sub, metric)
        ref = sub[(sub["strategy"] == reference)]
        if "diverged" in ref.columns:
            ref = ref[~ref["diverged"].astype(bool)]
        vals = ref[m].dropna()
        if vals.empty:
            raise ValueError(f"{ds}: no non-diverged {reference!r} runs to fix the target")
        mean = float(vals.mean())
        hib = higher_is_better(m)
        target = mean - (1 - fraction) * abs(mean) if hib else mean + (1 / fraction - 1) * abs(mean)
        rows.append(dict(dataset=ds, metric=m, higher_is_better=hib, reference=reference,
                         reference_mean=mean, n_reference=int(vals.size), fraction=fraction,
                         target=target))
    return pd.DataFrame(rows)


def _targets_table(targets, frame: pd.DataFrame) -> pd.DataFrame:
    if isinstance(targets, pd.DataFrame):
        _require(targets, ["dataset", "target"])
        t = targets.copy()
        if "metric" not in t.columns:
            t["metric"] = [primary_metric(frame[frame["dataset"] == d]) for d in t["dataset"]]
        return t[["dataset", "metric", "target"]]
    if isinstance(targets, Mapping):
        rows = []
        for d, v in targets.items():
            m, v = v if isinstance(v, tuple) else (primary_metric(frame[frame["dataset"] == d]), v)
            rows.append(dict(dataset=d, metric=m, target=float(v)))
        return pd.DataFrame(rows, columns=["dataset", "metric", "target"])
    raise TypeError("targets: a DataFrame from convergence_targets or {dataset: target}")


def convergence(frame: pd.DataFrame, targets, window: int = 5) -> pd.DataFrame:
    """Epochs (and presentations, labels, scored patterns) to reach the target, per run.

    ``targets``: the frame of :func:`convergence_targets`, or a mapping
    ``{dataset: target}`` (primary metric) or ``{dataset: (metric, target)}``.
    For each run the trailing moving average of the validation metric over
    ``window`` epochs (full windows only: the first value is at epoch
    ``window``) is compared with the target (>= if higher is better, <=
    otherwise); ``epochs_to_convergence`` is the first epoch where it reaches
    it, and ``presentations``, ``labels_used``, ``scored`` are the frame's
    values at that epoch. Runs that never reach it, and runs that diverge
    (whose moving average is blank from divergence on), are censored:
    ``converged=False``, ``censored=True``, blank epoch/cost columns.
    ``budget`` is the run's last epoch; ``labels_used_final`` and
    ``presentations_final`` are the values there (a lower bound on what a
    censored run would need).
    """
    if window < 1:
        raise ValueError("window must be >= 1")
    _require(frame, KEYS + ("epoch",))
    tt = _targets_table(targets, frame).set_index("dataset")
    out = []
    for ds, sub in frame.groupby("dataset", sort=False):
        if ds not in tt.index:
            raise KeyError(f"no convergence target for dataset {ds!r}")
        metric, target = tt.loc[ds, "metric"], float(tt.loc[ds, "target"])
        _require(sub, [metric])
        sub = sub.sort_values(list(KEYS) + ["epoch"], kind="stable").reset_index(drop=True)
        div = _run_diverged(sub).to_numpy()
        runs = sub.groupby(list(KEYS), sort=False)
        ma = (runs[metric].rolling(window, min_periods=window).mean()
              .reset_index(level=list(range(len(KEYS))), drop=True).sort_index())
        hib = higher_is_better(metric)
        reached = (ma >= target) if hib else (ma <= target)
        reached &= ~div
        reached = reached.to_numpy()
        run_id = runs.ngroup().to_numpy()
        n_runs = run_id.max() + 1
        first = np.full(n_runs, -1)
        rows_hit = np.flatnonzero(reached)
        # first reached row per run: rows are sorted by run then epoch
        ids, pos = np.unique(run_id[rows_hit], return_index=True)
        first[ids] = rows_hit[pos]
        last_rows = runs["epoch"].idxmax().to_numpy()
        res = sub.loc[last_rows, list(KEYS)].reset_index(drop=True)
        res["metric"] = metric
        res["target"] = target
        conv = first >= 0
        res["converged"] = conv
        res["censored"] = ~conv
        res["diverged"] = div[last_rows]
        hit = np.where(conv, first, 0)
        for col, name in (("epoch", "epochs_to_convergence"), ("presentations", "presentations"),
                          ("labels_used", "labels_used"), ("scored", "scored")):
            if col in sub.columns:
                res[name] = np.where(conv, sub[col].to_numpy(float)[hit], np.nan)
        res["budget"] = sub["epoch"].to_numpy()[last_rows]
        for col in ("labels_used", "presentations"):
            if col in sub.columns:
                res[f"{col}_final"] = sub[col].to_numpy(float)[last_rows]
        out.append(res)
    return sort_frame(pd.concat(out, ignore_index=True), KEYS)


def convergence_summary(conv: pd.DataFrame) -> pd.DataFrame:
    """Per problem x strategy summary of :func:`convergence`.

    ``n_runs``, ``n_converged``, ``n_censored``, ``n_diverged``; ``rate`` =
    n_converged / n_runs (diverged runs count as not converged); over the
    converged runs only: mean / median / std of epochs to convergence and
    mean / median presentations, labels used and patterns scored at
    convergence (blank when no run converged). These are conditional on
    convergence: read them next to the rate.
    """
    g = conv.groupby(["dataset", "strategy"], sort=False)
    out = g.agg(metric=("metric", "first"), target=("target", "first"),
                n_runs=("converged", "size"), n_converged=("converged", "sum"),
                n_diverged=("diverged", "sum")).reset_index()
    out["n_censored"] = out["n_runs"] - out["n_converged"]
    out["rate"] = out["n_converged"] / out["n_runs"]
    ok = conv[conv["converged"]]
    gc = ok.groupby(["dataset", "strategy"], sort=False)
    stats = {"epochs_mean": gc["epochs_to_convergence"].mean(),
             "epochs_median": gc["epochs_to_convergence"].median(),
             "epochs_std": gc["epochs_to_convergence"].std(ddof=1)}
    for col in ("presentations", "labels_used", "scored"):
        if col in conv.columns:
            stats[f"{col}_mean"] = gc[col].mean()
            stats[f"{col}_median"] = gc[col].median()
    st = pd.DataFrame(stats).reset_index()
    out = out.merge(st, on=["dataset", "strategy"], how="left")
    for c in ("n_converged", "n_diverged", "n_censored"):
        out[c] = out[c].astype(int)
    return sort_frame(out, ["dataset", "strategy"])


# --------------------------------------------------------------------------- AULC
def aulc(frame: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """Area under the learning curve of every run, normalised by the budget.

    AULC = (1/E) sum_{e=1..E} m_e: the mean validation metric over the E
    epochs of the run (rectangle rule over unit-width epochs divided by E),
    in the metric's units (a flat curve at c gives c; for accuracy it lies in
    [0, 1]; for an error metric smaller is better). Blank for diverged runs
    (and any run with a blank epoch). ``metric`` defaults to each problem's
    primary metric. Columns: dataset, strategy, trial, fold, metric, aulc,
    epochs, diverged.
    """
    _require(frame, KEYS + ("epoch",))
    out = []
    for ds, sub in frame.groupby("dataset", sort=False):
        m = _metric_for(sub, metric)
        div = _run_diverged(sub)
        g = sub.assign(_v=sub[m], _d=div).groupby(list(KEYS), sort=False)
        res = pd.DataFrame({"aulc": g["_v"].mean(), "_nan": g["_v"].count() < g["_v"].size(),
                            "epochs": g["epoch"].nunique(),
                            "diverged": g["_d"].any()}).reset_index()
        res.loc[res["_nan"] | res["diverged"], "aulc"] = np.nan
        res.insert(4, "metric", m)
        out.append(res.drop(columns="_nan"))
    return sort_frame(pd.concat(out, ignore_index=True), KEYS)


def aulc_summary(per_run: pd.DataFrame) -> pd.DataFrame:
    """Mean, std, median, n of :func:`aulc` per problem x strategy over non-diverged
    runs, with ``n_runs`` and ``n_diverged``."""
    ok = per_run[~per_run["diverged"]].dropna(subset=["aulc"])
    out = _describe(ok, ["dataset", "strategy", "metric"], "aulc")
    counts = per_run.groupby(["dataset", "strategy"], sort=False).agg(
        n_runs=("aulc", "size"), n_diverged=("diverged", "sum")).reset_index()
    out = counts.merge(out, on=["dataset", "strategy"], how="left")
    out["n"] = out["n"].fillna(0).astype(int)
    out["n_diverged"] = out["n_diverged"].astype(int)
    return sort_frame(out[["dataset", "strategy", "metric", "mean", "std", "median", "n", "n_runs",
                           "n_diverged"]], ["dataset", "strategy"])


# --------------------------------------------------------------------------- curves
def _per_epoch(frame: pd.DataFrame, value: str, extra: Sequence[str] = ()) -> pd.DataFrame:
    ok = frame[~_run_diverged(frame).to_numpy()]
    g = ok.groupby(["dataset", "strategy", "epoch"], sort=False)
    v = g[value]
    out = pd.DataFrame({"mean": v.mean(), "std": v.std(ddof=1), "min": v.min(), "max": v.max(),
                        "n": v.count(), "median": v.median(), "q25": v.quantile(0.25), "q75": v.quantile(0.75)})
    for col in extra:
        if col in ok.columns:
            out[f"{col}_mean"] = g[col].mean()
    return out.reset_index()


def subset_curve(frame: pd.DataFrame) -> pd.DataFrame:
    """Training-subset size |D_T| or |L| per epoch: mean, std (ddof=1), min, max
    and n over the non-diverged runs of each problem x strategy."""
    _require(frame, KEYS + ("epoch", "subset_size"))
    return sort_frame(_per_epoch(frame, "subset_size"), ["dataset", "strategy", "epoch"])


def learning_curve(frame: pd.DataFrame, metric: str | None = None,
                   ci: float = 0.95) -> pd.DataFrame:
    """Mean validation ``metric`` per epoch with a Student-t ``ci`` interval.

    Per problem x strategy x epoch over the non-diverged runs: ``mean``,
    ``std``, ``min``, ``max``, ``n``, ``median``, ``q25``/``q75`` (the
    quartiles: what the figures plot, so that one run cannot flatten a
    panel), ``ci_low``/``ci_high`` = mean -+
    t_{(1+ci)/2, n-1} std / sqrt(n) (descriptive: ignores the dependence of
    folds), and the mean ``presentations`` and ``labels_used`` at that epoch
    (``presentations_mean``, ``labels_used_mean``: the x axis of a curve
    against presentations). ``metric`` defaults to each problem's primary one.
    """
    _require(frame, KEYS + ("epoch",))
    out = []
    for ds, sub in frame.groupby("dataset", sort=False):
        m = _metric_for(sub, metric)
        res = _per_epoch(sub, m, extra=("presentations", "labels_used"))
        res.insert(3, "metric", m)
        out.append(res)
    res = pd.concat(out, ignore_index=True)
    half = _st.t.ppf((1 + ci) / 2, np.maximum(res["n"] - 1, 1)) * res["std"] / np.sqrt(res["n"])
    half = np.where(res["n"] > 1, half, np.nan)
    res["ci_low"] = res["mean"] - half
    res["ci_high"] = res["mean"] + half
    return sort_frame(res, ["dataset", "strategy", "epoch"])


# --------------------------------------------------------------------------- budget protocol
#: Columns that identify one point of a budget curve (one run at one round).
BUDGET_KEYS = KEYS + ("round",)


def _t_half(std, n, ci: float):
    """Half-width t_{(1+ci)/2, n-1} std / sqrt(n) of a Student-t interval (NaN for n < 2)."""
    std = np.asarray(std, float)
    n = np.asarray(n, float)
    half = _st.t.ppf((1 + ci) / 2, np.maximum(n - 1, 1)) * std / np.sqrt(np.maximum(n, 1))
    return np.where(n > 1, half, np.nan)


def _budget_frame(frame: pd.DataFrame) -> pd.DataFrame:
    _require(frame, KEYS + ("round", "budget"))
    return frame.reset_index(drop=True)


def budget_schedule_of(frame: pd.DataFrame, *, reference: str = "passive") -> dict[str, list]:
    """The budget schedule B_0 < ... < B_R of every problem, ``{dataset: [B_0, ..., B_R]}``.

    The sorted distinct ``budget`` values of the problem's runs, the
    ``reference`` (passive, one round on the whole pool) excluded. Integral
    budgets come back as ints.
    """
    f = _budget_frame(frame)
    f = f[f["strategy"] != reference]
    out = {}
    for ds, sub in f.groupby("dataset", sort=False):
        b = np.sort(pd.unique(sub["budget"].dropna().to_numpy(float)))
        out[ds] = [int(v) if float(v).is_integer() else float(v) for v in b]
    return out


def _budget_x(schedule) -> np.ndarray:
    """x_r = (log B_r - log B_0) / (log B_R - log B_0), the AUBC abscissa in [0, 1]."""
    b = np.asarray(schedule, float)
    if b.size < 2 or b[0] <= 0:
        raise ValueError("AUBC needs at least two positive budgets")
    lb = np.log(b)
    return (lb - lb[0]) / (lb[-1] - lb[0])


def _per_run_budget(sub: pd.DataFrame, value: str, schedule) -> pd.DataFrame:
    """Runs x budgets matrix of ``value`` (missing rounds blank)."""
    wide = sub.set_index(list(KEYS) + ["budget"])[value].unstack("budget")
    return wide.reindex(columns=np.asarray(schedule, float))


def aubc(frame: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """Area under the budget curve of every run (SPEC 3b), normalised to [0, 1] in x.

    AUBC = sum_r (x_{r+1} - x_r) (m_r + m_{r+1}) / 2 with
    x_r = (log B_r - log B_0) / (log B_R - log B_0) over the problem's
    schedule (:func:`budget_schedule_of`): the trapezoid rule on a log budget
    axis rescaled to [0, 1], in the metric's units (a flat curve at c gives
    c; for an error metric smaller is better). Blank for diverged runs and
    for runs with a blank (or missing) round. ``metric`` defaults to each
    problem's primary metric. ``passive`` (a single round) is excluded.
    Columns: dataset, strategy, trial, fold, metric, aubc, diverged.
    """
    f = _budget_frame(frame)
    schedules = budget_schedule_of(f)
    out = []
    for ds, sub in f.groupby("dataset", sort=False):
        m = _metric_for(sub, metric)
        div = _run_diverged(sub)
        sub = sub.assign(_d=div)[sub["strategy"] != "passive"]
        if sub.empty:
            continue
        x = _budget_x(schedules[ds])
        wide = _per_run_budget(sub, m, schedules[ds])
        v = wide.to_numpy(float)
        res = wide.index.to_frame(index=False)
        res["metric"] = m
        # NaN in any round (blank or missing) propagates to the area
        res["aubc"] = np.sum((v[:, 1:] + v[:, :-1]) / 2 * np.diff(x), axis=1)
        d = sub.groupby(list(KEYS), sort=False)["_d"].any()
        res["diverged"] = d.reindex(wide.index).to_numpy(bool)
        res.loc[res["diverged"], "aubc"] = np.nan
        out.append(res)
    cols = list(KEYS) + ["metric", "aubc", "diverged"]
    if not out:
        return pd.DataFrame(columns=cols)
    return sort_frame(pd.concat(out, ignore_index=True)[cols], KEYS)


def aubc_summary(per_run: pd.DataFrame) -> pd.DataFrame:
    """Mean, std, median, n of :func:`aubc` per problem x strategy over non-diverged
    runs, with ``n_runs`` and ``n_diverged`` (:func:`aulc_summary`'s columns)."""
    return aulc_summary(per_run.rename(columns={"aubc": "aulc"}))


def _band_stats(values: pd.DataFrame, by: Sequence[str], value: str, ci: float) -> pd.DataFrame:
    """mean, std (ddof=1), n and the Student-t ``ci`` band of ``value`` per group of ``by``."""
    g = values.groupby(list(by), sort=False)[value]
    out = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1), "n": g.count(), "median": g.median(),
                        "q25": g.quantile(0.25), "q75": g.quantile(0.75)}).reset_index()
    half = _t_half(out["std"], out["n"], ci)
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    return out


def budget_curve(frame: pd.DataFrame, metric: str | None = None,
                 ci: float = 0.95) -> pd.DataFrame:
    """Mean criterion per budget with a Student-t ``ci`` band (the budget curve).

    Per problem x strategy x budget over the runs that did not diverge (a
    diverged run is left out at every budget): ``mean``, ``std`` (ddof=1),
    ``n``, ``ci_low``/``ci_high`` = mean -+ t_{(1+ci)/2, n-1} std / sqrt(n)
    (descriptive, as :func:`learning_curve`: ignores the dependence of
    folds), ``n_runs`` and ``n_diverged``, and the mean ``presentations`` at
    that budget (``presentations_mean``) where recorded. ``passive`` gives
    its single point on the whole pool. Columns: dataset, strategy, budget,
    metric, mean, std, n, ci_low, ci_high, n_runs, n_diverged
    [, presentations_mean].
    """
    f = _budget_frame(frame)
    out = []
    for ds, sub in f.groupby("dataset", sort=False):
        m = _metric_for(sub, metric)
        div = _run_diverged(sub).to_numpy()
        by = ["dataset", "strategy", "budget"]
        res = _band_stats(sub[~div], by, m, ci)
        counts = (sub.assign(_d=div).groupby(by, sort=False)
                  .agg(n_runs=("_d", "size"), n_diverged=("_d", "sum")).reset_index())
        res = counts.merge(res, on=by, how="left")
        res["n"] = res["n"].fillna(0).astype(int)
        res["n_diverged"] = res["n_diverged"].astype(int)
        res.insert(3, "metric", m)
        if "presentations" in sub.columns:
            pm = sub[~div].groupby(by, sort=False)["presentations"].mean()
            res = res.merge(pm.rename("presentations_mean").reset_index(), on=by, how="left")
        out.append(res)
    res = pd.concat(out, ignore_index=True)
    cols = ["dataset", "strategy", "budget", "metric", "mean", "std", "n", "ci_low", "ci_high",
            "median", "q25", "q75", "n_runs", "n_diverged"] + (["presentations_mean"] if "presentations_mean" in res
                                                               else [])
    return sort_frame(res[cols], ["dataset", "strategy", "budget"])


def error_of(values, metric: str) -> np.ndarray:
    """The criterion as an error, lower better: itself, or 1 - it for a criterion where higher is better
    (an accuracy's error rate)."""
    v = np.asarray(values, float)
    return 1 - v if higher_is_better(metric) else v


def far_off(values, metric: str, factor: float) -> np.ndarray:
    """Which runs end far off the rest: an error (`error_of`) above ``factor`` times the runs' median error."""
    e = error_of(values, metric)
    return e > factor * np.nanmedian(e) if e.size else np.zeros(0, bool)


def budget_training(frame: pd.DataFrame, far: float = 3.0) -> pd.DataFrame:
    """How well every round's networks fit their labelled set (SPEC 3b: the paper states it per budget).

    Per problem x strategy x budget over the non-diverged runs: the mean
    ``train_loss`` (the last epoch's, per presented pattern), the mean
    ``train_accuracy`` on L (classification; NaN otherwise), the largest
    ``steps`` of a round, ``n``, and ``far_off``: how many networks end with a
    validation error (primary criterion, `error_of`) above ``far`` times the
    median of the cell (`far_off`).  Columns: dataset, strategy, budget,
    train_loss, train_accuracy, steps, n, far_off.
    """
    f = _budget_frame(frame)
    ok = f[~_run_diverged(f).to_numpy()]
    if "train_accuracy" not in ok.columns:
        ok = ok.assign(train_accuracy=np.nan)
    if "steps" not in ok.columns:
        ok = ok.assign(steps=np.nan)
    g = ok.groupby(["dataset", "strategy", "budget"], sort=False)
    out = pd.DataFrame({"train_loss": g["train_loss"].mean(), "train_accuracy": g["train_accuracy"].mean(),
                        "steps": g["steps"].max(), "n": g["train_loss"].count()})
    metric = {ds: primary_metric(sub) for ds, sub in ok.groupby("dataset", sort=False)}
    out["far_off"] = [int(far_off(cell[metric[key[0]]], metric[key[0]], far).sum()) for key, cell in g]
    return sort_frame(out.reset_index(), ["dataset", "strategy", "budget"])


def budget_drops(frame: pd.DataFrame, strategy: str = "random", metric: str | None = None,
                 ci: float = 0.95) -> pd.DataFrame:
    """Budgets at which ``strategy``'s criterion gets worse than at the previous budget beyond its CI.

    Per problem and pair of consecutive budgets, the paired difference of the
    criterion (this budget minus the previous, per run = trial x fold, runs
    that diverged at either left out) with the corrected resampled ``ci``
    interval of its mean (Nadeau-Bengio, n_test/n_train = 1/(K-1) for K folds;
    `alnn.stats.corrected_resampled_ttest`).  ``worse`` is True when the whole
    interval lies on the worse side of zero.  Columns: dataset, strategy,
    budget_from, budget, metric, mean_from, mean, diff, ci_low, ci_high, n, worse.
    """
    from alnn.ttest import corrected_resampled_ttest

    f = _budget_frame(frame)
    f = f[f["strategy"] == strategy]
    rows = []
    for ds, sub in f.groupby("dataset", sort=False):
        m = _metric_for(sub, metric)
        k = int(sub["fold"].nunique())
        ok = sub[~sub["diverged"].astype(bool)]
        wide = ok.pivot_table(index=["trial", "fold"], columns="budget", values=m)
        budgets = sorted(wide.columns)
        hib = higher_is_better(m)
        for b0, b1 in zip(budgets, budgets[1:]):
            pair = wide[[b0, b1]].dropna()
            if len(pair) < 2:
                continue
            t = corrected_resampled_ttest(pair[b1].to_numpy(), pair[b0].to_numpy(), n_train=k - 1, n_test=1,
                                         alpha=1 - ci)
            worse = t.ci_high < 0 if hib else t.ci_low > 0
            rows.append({"dataset": ds, "strategy": strategy, "budget_from": int(b0), "budget": int(b1),
                         "metric": m, "mean_from": float(pair[b0].mean()), "mean": float(pair[b1].mean()),
                         "diff": t.mean_diff, "ci_low": t.ci_low, "ci_high": t.ci_high, "n": t.n,
                         "worse": bool(worse)})
    cols = ["dataset", "strategy", "budget_from", "budget", "metric", "mean_from", "mean", "diff", "ci_low",
            "ci_high", "n", "worse"]
    return pd.DataFrame(rows, columns=cols)


def budget_classes(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean share of each class in L per problem x strategy x budget (classification; ``class_<c>`` columns)."""
    f = _budget_frame(frame)
    cls = [c for c in f.columns if c.startswith("class_") and c[6:].isdigit()]
    if not cls:
        return pd.DataFrame(columns=["dataset", "strategy", "budget", "class", "share"])
    out = []
    for ds, sub in f.groupby("dataset", sort=False):
        cols = [c for c in cls if sub[c].notna().any() and (sub[c] > 0).any()]
        if not cols:
            continue
        counts = sub[cols].astype(float)
        share = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)
        share[["dataset", "strategy", "budget"]] = sub[["dataset", "strategy", "budget"]]
        mean = share.groupby(["dataset", "strategy", "budget"], sort=False)[cols].mean().reset_index()
        long = mean.melt(id_vars=["dataset", "strategy", "budget"], var_name="class", value_name="share")
        long["class"] = long["class"].str[6:].astype(int)
        out.append(long)
    if not out:
        return pd.DataFrame(columns=["dataset", "strategy", "budget", "class", "share"])
    return sort_frame(pd.concat(out, ignore_index=True), ["dataset", "strategy", "budget", "class"])


def at_budget(frame: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """The criterion of every run at every budget, long (the input of per-budget tests).

    One row per run and round: dataset, strategy, trial, fold, budget,
    metric, value, diverged. ``value`` is the recorded value (blank from the
    round of divergence on); ``diverged`` is the run-level flag (the run
    diverged at some round), by which the tests leave the whole run out.
    ``passive`` keeps its single full-pool row. ``metric`` defaults to each
    problem's primary metric.
    """
    f = _budget_frame(frame)
    out = []
    for ds, sub in f.groupby("dataset", sort=False):
        m = _metric_for(sub, metric)
        res = sub[list(KEYS) + ["budget"]].copy()
        res["metric"] = m
        res["value"] = sub[m].to_numpy(float)
        res["diverged"] = _run_diverged(sub).to_numpy(bool)
        out.append(res)
    return sort_frame(pd.concat(out, ignore_index=True), list(KEYS) + ["budget"])


def passive_reference(frame: pd.DataFrame, metric: str | None = None, ci: float = 0.95, *,
                      reference: str = "passive") -> pd.DataFrame:
    """Passive's full-pool value per problem: the ceiling line of the budget curves.

    Over the non-diverged ``reference`` runs (their single round): ``mean``,
    ``std`` (ddof=1), ``n``, the Student-t ``ci`` band ``ci_low``/``ci_high``
    (as :func:`budget_curve`), ``budget`` (the pool: the largest passive
    budget), ``n_runs`` and ``n_diverged``. Problems without passive runs are
    absent. Columns: dataset, metric, budget, mean, std, n, ci_low, ci_high,
    n_runs, n_diverged.
    """
    f = _budget_frame(frame)
    out = []
    for ds, sub in f.groupby("dataset", sort=False):
        m = _metric_for(sub, metric)
        div = _run_diverged(sub).to_numpy()
        ref = sub["strategy"].to_numpy() == reference
        if not ref.any():
            continue
        res = _band_stats(sub[ref & ~div].assign(_k=0), ["_k"], m, ci)
        if res.empty:
            res = pd.DataFrame({"mean": [np.nan], "std": [np.nan], "n": [0],
                                "ci_low": [np.nan], "ci_high": [np.nan]})
        runs = sub[ref].groupby(list(KEYS), sort=False).ngroups
        res = res.drop(columns="_k", errors="ignore").assign(
            dataset=ds, metric=m, budget=float(sub.loc[ref, "budget"].max()),
            n_runs=runs,
            n_diverged=sub[ref & div].groupby(list(KEYS), sort=False).ngroups)
        out.append(res)
    cols = ["dataset", "metric", "budget", "mean", "std", "n", "ci_low", "ci_high", "n_runs",
            "n_diverged"]
    if not out:
        return pd.DataFrame(columns=cols)
    res = pd.concat(out, ignore_index=True)[cols]
    res["n"] = res["n"].astype(int)
    return res


def labels_to_target(frame: pd.DataFrame, fractions: Sequence[float] = (0.95, 0.99),
                     metric: str | None = None, *, reference: str = "passive") -> pd.DataFrame:
    """Labels each run needs to reach a fraction of passive's full-pool value (SPEC 3b).

    For every problem the target is fixed from the mean full-pool value m of
    the non-diverged ``reference`` (passive) runs, by the rule of
    :func:`convergence_targets` with tolerance 1 - fraction:

    * higher is better (accuracy): target = m - (1 - fraction) |m|, i.e.
      fraction x m for m > 0; reached when the value is >= target;
    * lower is better (MSE): target = m + (1/fraction - 1) |m|, i.e.
      m / fraction for m > 0 (an error at most 1/0.95 = 1.053 times
      passive's); reached when the value is <= target.

    A run's ``labels`` is the first budget (in increasing order) at which its
    criterion reaches the target; no smoothing, each round being a separate
    training. Runs that never reach it are ``censored`` (``labels`` blank;
    ``labels_final``, the run's last budget, is a lower bound). Diverged runs
    are kept, flagged ``diverged`` and counted as censored even if a round
    before the divergence reached the target. The reference's own runs are
    not listed. One row per run and fraction: dataset, strategy, trial, fold,
    metric, fraction, reference_mean, target, reached, censored, diverged,
    labels, presentations (at that round, where recorded), labels_initial
    (the run's B_0), labels_final.
    """
    f = _budget_frame(frame)
    if isinstance(fractions, (int, float)):
        fractions = (fractions,)
    targets = {}
    for fr in fractions:
        t = convergence_targets(f.assign(epoch=f["round"]), metric, fr, reference=reference)
        targets[fr] = t.set_index("dataset")
    out = []
    for ds, sub in f.groupby("dataset", sort=False):
        div = _run_diverged(sub).to_numpy()
        sub = sub.assign(_d=div)
        sub = sub[sub["strategy"] != reference].sort_values(list(KEYS) + ["budget"],
                                                            kind="stable")
        if sub.empty:
            continue
        runs = sub.groupby(list(KEYS), sort=False)
        last = sub.loc[runs["budget"].idxmax().to_numpy()]
        for fr in fractions:
            row = targets[fr].loc[ds]
            m, target = row["metric"], float(row["target"])
            hib = higher_is_better(m)
            v = sub[m].to_numpy(float)
            hit = (v >= target) if hib else (v <= target)
            hit &= ~sub["_d"].to_numpy(bool)
            first = sub[hit].groupby(list(KEYS), sort=False).head(1).set_index(list(KEYS))
            res = last[list(KEYS)].reset_index(drop=True)
            key = pd.MultiIndex.from_frame(res)
            res["metric"] = m
            res["fraction"] = fr
            res["reference_mean"] = float(row["reference_mean"])
            res["target"] = target
            reached = key.isin(first.index)
            res["reached"] = reached
            res["censored"] = ~reached
            res["diverged"] = last["_d"].to_numpy(bool)
            res["labels"] = first["budget"].reindex(key).to_numpy(float)
            if "presentations" in sub.columns:
                res["presentations"] = first["presentations"].reindex(key).to_numpy(float)
            res["labels_initial"] = runs["budget"].min().reindex(key).to_numpy(float)
            res["labels_final"] = last["budget"].to_numpy(float)
            out.append(res)
    cols = list(KEYS) + ["metric", "fraction", "reference_mean", "target", "reached",
                         "censored", "diverged", "labels", "presentations", "labels_initial",
                         "labels_final"]
    if not out:
        return pd.DataFrame(columns=cols)
    res = pd.concat(out, ignore_index=True)
    res = res[[c for c in cols if c in res.columns]]
    return sort_frame(res, ["dataset", "fraction", "strategy", "trial", "fold"])


def labels_to_target_summary(per_run: pd.DataFrame, fractions: Sequence[float] = (0.95, 0.99),
                             metric: str | None = None) -> pd.DataFrame:
    """Per problem x strategy x fraction summary of :func:`labels_to_target`.

    ``per_run``: its output (or a budget frame, which is passed to it with
    ``fractions`` and ``metric``). Censored runs are kept and counted, never
    dropped: ``n_runs``, ``n_reached``, ``n_censored`` (diverged included),
    ``n_diverged``, ``rate`` = n_reached / n_runs; over the reached runs only
    (conditional on reaching: read them next to the rate) ``labels_median``,
    ``labels_q1``, ``labels_q3``, ``labels_mean``; and ``labels_median_all``,
    the median over all runs with a censored run counted as needing more
    than any budget (+inf): finite only when more than half the runs reached
    the target (otherwise the median is "not reached", NaN). ``labels_min``
    and ``labels_max`` are the smallest first and largest last budgets (B_0,
    B_R). Also metric, reference_mean, target.
    """
    ltt = per_run if "reached" in per_run.columns else labels_to_target(per_run, fractions,
                                                                        metric)
    by = ["dataset", "strategy", "fraction"]
    g = ltt.groupby(by, sort=False)
    out = g.agg(metric=("metric", "first"), reference_mean=("reference_mean", "first"),
                target=("target", "first"), n_runs=("reached", "size"),
                n_reached=("reached", "sum"), n_diverged=("diverged", "sum"),
                labels_min=("labels_initial", "min"),
                labels_max=("labels_final", "max")).reset_index()
    out["n_censored"] = out["n_runs"] - out["n_reached"]
    out["rate"] = out["n_reached"] / out["n_runs"]
    ok = ltt[ltt["reached"]].groupby(by, sort=False)["labels"]
    st = pd.DataFrame({"labels_median": ok.median(), "labels_q1": ok.quantile(0.25),
                       "labels_q3": ok.quantile(0.75), "labels_mean": ok.mean()}).reset_index()
    out = out.merge(st, on=by, how="left")

    def quantile_all(q):
        def f(d):
            # a run that never reached the target counts as +inf: a stand-in far beyond any budget keeps the
            # interpolation finite, and a quantile that leans on it at all is beyond the schedule (nan)
            v = np.where(d["reached"], d["labels"].to_numpy(float), 1e300)
            x = float(np.quantile(v, q))
            return x if x < 1e299 else np.nan
        return f

    for name, q in (("labels_median_all", 0.5), ("labels_q1_all", 0.25), ("labels_q3_all", 0.75)):
        col = ltt.groupby(by, sort=False)[["reached", "labels"]].apply(quantile_all(q))
        out = out.merge(col.rename(name).reset_index(), on=by, how="left")
    for c in ("n_reached", "n_diverged", "n_censored"):
        out[c] = out[c].astype(int)
    cols = by[:2] + ["fraction", "metric", "reference_mean", "target", "n_runs", "n_reached",
                     "n_censored", "n_diverged", "rate", "labels_median", "labels_q1",
                     "labels_q3", "labels_mean", "labels_median_all", "labels_q1_all", "labels_q3_all",
                     "labels_min", "labels_max"]
    return sort_frame(out[cols], ["dataset", "fraction", "strategy"])


# --------------------------------------------------------------------------- synthetic data
def _synthetic_macs(strategy: str, presented, scored, shape=(4, 8, 3)) -> dict:
    """Multiply-add columns of a synthetic run (`alnn.cost`, for a nominal 4-8-3 network; no update steps)."""
    from alnn import cost

    members = 3 if strategy == "ensemble" else 1
    train = cost.training(*shape, np.asarray(presented), 0)
    select = cost.selection(strategy, *shape, np.asarray(scored), members)
    return {"macs_train": train, "macs_select": select, "macs": train + select}


def synthetic_frame(datasets: Sequence[str] = ("iris", "sine"),
                    strategies: Sequence[str] = ("passive", "sasla", "entropy", "ensemble",
                                                 "random"), *, trials: int = 2,
                    folds: int = 3, epochs: int = 40, pool: int = 100,
                    diverge: Iterable[tuple] = (), seed: int = 0) -> pd.DataFrame:
    """A small fake tidy frame in the engine's schema, for tests and examples.

    Not data: curves are exponential approaches with noise. ``iris``, ``wine``
    and ``fashion-mnist`` get classification columns, other names regression
    columns (``energy-efficiency`` with two targets). ``diverge``: tuples
    ``(dataset, strategy, trial, fold, epoch)`` whose run diverges at that
    epoch (flag set and metrics blank from there on).
    """
    rng = np.random.default_rng(seed)
    classification = {"iris", "wine", "fashion-mnist"}
    speed = {"passive": 6.0, "sasla": 5.0, "entropy": 9.0, "ensemble": 8.0, "random": 12.0}
    e = np.arange(1, epochs + 1)
    frames = []
    for ds in datasets:
        cls = ds in classification
        for s in strategies:
            if cls is False and s == "entropy":
                continue
            for t in range(trials):
                for f in range(folds):
                    tau = speed.get(s, 8.0) * (1 + 0.2 * rng.standard_normal() ** 2)
                    prog = 1 - np.exp(-e / tau)
                    noise = rng.normal(0, 0.01, epochs)
                    if s == "passive":
                        size = np.full(epochs, pool)
                        labels = np.full(epochs, pool)
                    elif s == "sasla":
                        size = np.maximum(np.round(pool * (0.3 + 0.7 * np.exp(-e / 8))), 3)
                        labels = np.full(epochs, pool)
                    else:
                        init = min(10, pool // 10)
                        size = np.minimum(init + e - 1, pool)
                        labels = size
                    mult = 3 if s == "ensemble" else 1
                    row = dict(dataset=ds, strategy=s, trial=t, fold=f, epoch=e,
                               subset_size=size.astype(int), labels_used=labels.astype(int),
                               presentations=np.cumsum(size * mult).astype(int),
                               scored=np.where(s == "passive", 0,
                                               np.where(s == "sasla", pool, pool - size)),
                               **_synthetic_macs(s, np.cumsum(size * mult), np.cumsum(np.where(
                                   s == "passive", 0, np.where(s == "sasla", pool, pool - size)))),
                               diverged=np.zeros(epochs, bool),
                               wall_s=np.cumsum(rng.uniform(0.001, 0.002, epochs)),
                               train_loss=0.3 * (1 - prog) + 0.02 + noise / 5)
                    if cls:
                        _synthetic_scores(row, ds, acc=np.clip(0.33 + 0.62 * prog + noise, 0, 1))
                    else:
                        _synthetic_scores(row, ds, mse=1.0 * (1 - prog) + 0.01 + np.abs(noise))
                    frames.append(pd.DataFrame(row))
    out = pd.concat(frames, ignore_index=True)
    return _synthetic_diverge(out, diverge, "epoch", metric_columns(out))


def synthetic_budget_frame(datasets: Sequence[str] = ("iris", "sine"),
                           strategies: Sequence[str] = ("passive", "entropy", "ensemble",
                                                        "random", "sensitivity"), *,
                           trials: int = 3, folds: int = 5, budgets: int = 8, pool: int = 120,
                           initial: int | None = None, round_epochs: int = 50,
                           efficiency: Mapping[str, float] | None = None,
                           noise: float = 0.01, diverge: Iterable[tuple] = (),
                           seed: int = 0) -> pd.DataFrame:
    """A small fake budget-protocol frame in the engine's schema, for tests and examples.

    Not data. Budgets: ``budgets`` distinct values geometric from
    ``initial`` (default min(10, pool // 10)) to ``pool``; ``passive`` has the
    single round 0 on the whole pool. A strategy's effect is its label
    ``efficiency`` e (default random 1, entropy 2, ensemble 1.5, sensitivity
    1: no effect): its progress at budget B is p = 1 - exp(-3 B_eff / pool)
    with B_eff = min(B_0 + e (B - B_0), pool), so every strategy starts from
    the same point at B_0 and an efficiency above 1 is better than random
    (passive: p = 1 - exp(-3), the ceiling). Classification (``iris``,
    ``wine``, ``fashion-mnist``): accuracy 0.33 + 0.62 p; regression: MSE
    0.01 + (1 - p) (``energy-efficiency`` with per-target columns). Noise:
    a common (trial, fold, budget) term, as with common random numbers, plus
    an independent term per run, both N(0, noise^2). ``diverge``: tuples
    ``(dataset, strategy, trial, fold, round)`` whose run diverges at that
    round (flag set and metrics blank from there on).
    """
    rng = np.random.default_rng(seed)
    classification = {"iris", "wine", "fashion-mnist"}
    eff = {"random": 1.0, "entropy": 2.0, "ensemble": 1.5, "sensitivity": 1.0}
    eff.update(efficiency or {})
    b0 = initial if initial is not None else max(1, min(10, pool // 10))
    sched = np.unique(np.round(np.geomspace(b0, pool, budgets)).astype(int))
    R = sched.size
    frames = []
    for ds in datasets:
        cls = ds in classification
        common = rng.normal(0, noise, (trials, folds, R))
        for s in strategies:
            if not cls and s == "entropy":
                continue
            passive = s == "passive"
            b = np.array([pool]) if passive else sched
            e = 1.0 if passive else eff.get(s, 1.0)
            for t in range(trials):
                for f in range(folds):
                    beff = np.minimum(b0 + e * (b - b0), pool)
                    prog = 1 - np.exp(-3 * beff / pool)
                    eps = (common[t, f, -1:] if passive else common[t, f]) \
                        + rng.normal(0, noise, b.size)
                    mult = 3 if s == "ensemble" else 1
                    row = dict(dataset=ds, strategy=s, trial=t, fold=f, round=np.arange(b.size),
                               budget=b, labels_used=b,
                               presentations=np.cumsum(b * round_epochs * mult),
                               scored=np.where(passive, 0, pool - b),
                               **_synthetic_macs(s, np.cumsum(b * round_epochs * mult),
                                                 np.cumsum(np.where(passive, 0, pool - b))),
                               diverged=np.zeros(b.size, bool),
                               wall_s=np.cumsum(rng.uniform(0.01, 0.02, b.size)),
                               train_loss=0.3 * (1 - prog) + 0.02 + np.abs(eps) / 5,
                               steps=np.full(b.size, round_epochs * -(-pool // 16)))
                    if cls:
                        acc = np.clip(0.33 + 0.62 * prog + eps, 0, 1)
                        row["train_accuracy"] = np.clip(acc + 0.04, 0, 1)
                        for c in range(3):  # L shared out over three classes, the first ones one more
                            row[f"class_{c}"] = b // 3 + (c < b % 3)
                        _synthetic_scores(row, ds, acc=acc)
                    else:
                        _synthetic_scores(row, ds, mse=0.01 + (1 - prog) + np.abs(eps))
                    frames.append(pd.DataFrame(row))
    out = pd.concat(frames, ignore_index=True)
    return _synthetic_diverge(out, diverge, "round",
                              [c for c in metric_columns(out) if c not in ("round", "budget")])


def _synthetic_scores(row: dict, ds: str, acc=None, mse=None) -> None:
    """The validation metrics of a synthetic run from its accuracy (classification) or its MSE
    (regression; ``energy-efficiency`` with per-target columns), added to ``row``."""
    if acc is not None:
        row.update(accuracy=acc, f1=acc - 0.01, precision=acc - 0.005, recall=acc - 0.01,
                   mcc=(acc - 0.33) / 0.67, mse=0.25 * (1 - acc))
        row["val_loss"] = row["mse"]
        return
    row.update(mse=mse, rmse=np.sqrt(mse), mae=0.8 * np.sqrt(mse), r2=1 - mse)
    if ds == "energy-efficiency":
        for tgt, k in (("heating", 0.9), ("cooling", 1.1)):
            row.update({f"mse_{tgt}": k * mse, f"rmse_{tgt}": np.sqrt(k * mse),
                        f"mae_{tgt}": 0.8 * np.sqrt(k * mse), f"r2_{tgt}": 1 - k * mse})
    row["val_loss"] = mse


def _synthetic_diverge(out: pd.DataFrame, diverge: Iterable[tuple], at: str, metrics: list) -> pd.DataFrame:
    """``out`` with the runs of ``diverge`` (dataset, strategy, trial, fold, ``at`` value) diverged from
    that ``at`` (epoch or round) on: the flag set and the ``metrics`` blank."""
    for ds, s, t, f, start in diverge:
        sel = ((out["dataset"] == ds) & (out["strategy"] == s) & (out["trial"] == t)
               & (out["fold"] == f) & (out[at] >= start))
        out.loc[sel, "diverged"] = True
        out.loc[sel, metrics] = np.nan
    return out
