"""Statistical comparison of strategies (SPEC section 6).

Within a problem (primary analysis): paired differences over the trial x
fold runs, Nadeau-Bengio corrected resampled t-test, Holm correction over the
comparisons of that problem, mean difference with corrected 95 % CI,
probability of superiority, optional Bayesian correlated t-test.

Across problems (secondary; classification and regression separately):
Friedman test with the Iman-Davenport F, Holm post-hoc against a control
(passive), Nemenyi critical difference (Demsar 2006).

Budget protocol (SPEC 3b, 6): AUBC and the criterion at every budget of
each active strategy against random (:func:`budget_comparisons`), the
pairwise penalty matrix of Ash et al. (2020) (:func:`penalty_matrix`), and
the across-problem Friedman test on mean AUBC with random as the control
(:func:`budget_across`).

References
----------
C. Nadeau and Y. Bengio, "Inference for the generalization error", Machine
Learning 52 (2003) 239-281. R. R. Bouckaert and E. Frank, "Evaluating the
replicability of significance tests for comparing learning algorithms",
PAKDD 2004 (the corrected repeated k-fold form used here). J. Demsar,
"Statistical comparisons of classifiers over multiple data sets", JMLR 7
(2006) 1-30. A. Benavoli, G. Corani, J. Demsar, M. Zaffalon, "Time for a
change: a tutorial for comparing multiple classifiers through Bayesian
analysis", JMLR 18 (2017) 1-36. S. Holm, "A simple sequentially rejective
multiple test procedure", Scand. J. Statist. 6 (1979) 65-70. K. O. McGraw
and S. P. Wong, "A common language effect size statistic", Psychol. Bull.
111 (1992) 361-365. J. T. Ash, C. Zhang, A. Krishnamurthy, J. Langford, A.
Agarwal, "Deep batch active learning by diverse, uncertain gradient lower
bounds", ICLR 2020 (the penalty matrix).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from alnn.strategies.catalogue import names
from scipy import stats as _st
from statsmodels.stats.multitest import multipletests

from alnn import analysis as _an
from alnn.ttest import TTestResult, corrected_resampled_ttest

__all__ = [
    "TTestResult", "BayesResult", "FriedmanResult", "DEFAULT_BASELINES", "LOW_POWER_PROBLEMS",
    "corrected_resampled_ttest", "holm", "probability_of_superiority",
    "bayesian_correlated_ttest", "compare_within_problem", "score_matrix", "average_ranks",
    "friedman_iman_davenport", "friedman_from_ranks", "holm_vs_control", "nemenyi_q",
    "critical_difference", "cd_groups", "low_power", "power_limits",
    "budget_comparisons", "penalty_matrix", "budget_across", "ROPE_ACCURACY", "ROPE_RELATIVE",
    "EQUIVALENCE_LEVEL", "default_rope", "equivalence", "identical", "paired_verdict", "VERDICT_WORDS",
]

#: SPEC 6 defaults of the region of practical equivalence: one accuracy point for accuracy-like
#: criteria (in [0, 1], higher is better), 5% of the baseline's mean for error criteria (MSE).
ROPE_ACCURACY = 0.01
ROPE_RELATIVE = 0.05
#: Posterior mass at which the Bayesian correlated t-test decides (Benavoli et al. 2017 use 0.95).
EQUIVALENCE_LEVEL = 0.95
#: How the paper words each verdict of :func:`equivalence`.
VERDICT_WORDS = {"equivalent": "practically equivalent", "better": "different (better)",
                 "worse": "different (worse)", "inconclusive": "inconclusive", "n/a": "not tested",
                 "identical": "the same in every run"}


def default_rope(metric: str, baseline_mean: float, *, accuracy: float = ROPE_ACCURACY,
                 relative: float = ROPE_RELATIVE) -> float:
    """The region of practical equivalence (half-width, metric units) of SPEC 6 for one comparison:
    ``accuracy`` for a higher-is-better criterion in [0, 1] (accuracy, F1, MCC, R2), ``relative`` x
    |baseline mean| for an error (MSE, RMSE, MAE)."""
    if _an.higher_is_better(metric):
        return float(accuracy)
    return float(relative * abs(baseline_mean))


def paired_verdict(diffs, *, higher_is_better: bool, rope: float, rho: float,
                   level: float = EQUIVALENCE_LEVEL) -> str:
    """:func:`equivalence` of the Bayesian correlated t-test on paired differences (strategy - baseline),
    oriented by the criterion's direction."""
    d = np.asarray(diffs, float)
    if identical(d):
        return "identical"
    post = bayesian_correlated_ttest(diffs, rho=rho, rope=rope)
    better, worse = (post.p_right, post.p_left) if higher_is_better else (post.p_left, post.p_right)
    return equivalence(better, post.p_rope, worse, level)


def identical(diffs) -> bool:
    """Every paired difference exactly zero: the two arms gave the same final value in every run (the same
    runs, or a criterion too coarse to tell them apart, such as the accuracy on a few dozen validation
    patterns), so the posterior is degenerate and an equivalence verdict would be trivially true; the
    verdict says ``identical`` instead."""
    d = np.asarray(diffs, float)
    d = d[np.isfinite(d)]
    return d.size >= 2 and bool(np.all(d == 0))


def equivalence(p_better: float, p_rope: float, p_worse: float, level: float = EQUIVALENCE_LEVEL) -> str:
    """The Bayesian verdict: ``equivalent`` (P(|mu| <= rope) >= level), ``better`` / ``worse``
    (P(mu beyond the rope on that side) >= level), else ``inconclusive``; ``n/a`` without a posterior."""
    values = np.array([p_better, p_rope, p_worse], dtype=float)
    if not np.isfinite(values).all():
        return "n/a"
    if p_rope >= level:
        return "equivalent"
    if p_better >= level:
        return "better"
    if p_worse >= level:
        return "worse"
    return "inconclusive"

#: Comparisons made within a problem: baseline -> strategies compared with it
#: (None: every other strategy present). Entropy, ensemble and sensitivity must
#: also beat random sampling, the baseline any active strategy has to beat.
DEFAULT_BASELINES: dict[str, Sequence[str] | None] = {
    "passive": None, "random": names(protocol="draft", role="query")}

#: With this many problems or fewer the across-problem tests have little power.
LOW_POWER_PROBLEMS = 6


# --------------------------------------------------------------------------- paired tests
# (the corrected resampled t-test and its TTestResult live in alnn.ttest, below alnn.analysis too)


def holm(pvalues, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Holm step-down correction (statsmodels ``multipletests(method="holm")``).

    Returns (reject, adjusted p). NaN p-values are left out of the family and
    come back as NaN / False.
    """
    p = np.asarray(pvalues, float)
    reject = np.zeros(p.shape, bool)
    adj = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        r, pa, _, _ = multipletests(p[ok], alpha=alpha, method="holm")
        reject[ok] = r
        adj[ok] = pa
    return reject, adj


def probability_of_superiority(a, b) -> float:
    """P(A > B) + P(A = B)/2 for a random draw from ``a`` and one from ``b``.

    The common-language effect size (McGraw & Wong 1992) computed over all
    n x m pairs (not the paired runs), ties counting one half; equals the
    Mann-Whitney U of ``a`` divided by n m. 0.5 means no tendency. NaNs are
    dropped. To read it as "A better than B" for an error metric pass the
    arguments swapped (or negated).
    """
    a = np.asarray(a, float)
    b = np.sort(np.asarray(b, float))
    a = a[np.isfinite(a)]
    b = b[np.isfinite(b)]
    if a.size == 0 or b.size == 0:
        return float("nan")
    below = np.searchsorted(b, a, side="left")
    not_above = np.searchsorted(b, a, side="right")
    return float((below.sum() + 0.5 * (not_above - below).sum()) / (a.size * b.size))


@dataclass(frozen=True)
class BayesResult:
    """Posterior of the mean difference mu (Student t with ``df``, ``loc``,
    ``scale``) and its mass left of -rope, inside [-rope, rope], right of rope."""
    p_left: float
    p_rope: float
    p_right: float
    loc: float
    scale: float
    df: int


def bayesian_correlated_ttest(diffs, rho: float, rope: float = 0.0) -> BayesResult:
    """Bayesian correlated t-test (Corani & Benavoli 2015; Benavoli et al. 2017).

    With the non-informative prior, the posterior of the mean difference of
    correlated resamples is Student t with n - 1 degrees of freedom,
    location mean(d) and scale sqrt((1/n + rho/(1 - rho)) s_d^2); for K-fold
    cross-validation rho = n_test/(n_test + n_train) = 1/K, so rho/(1-rho)
    = n_test/n_train and the scale is the corrected t-test's se. Returns the
    posterior probabilities that mu < -rope (``p_left``: the second
    strategy better when d = a - b and higher is better), |mu| <= rope
    (practically equivalent) and mu > rope (``p_right``).
    """
    d = np.asarray(diffs, float)
    d = d[np.isfinite(d)]
    n = d.size
    if n < 2:
        raise ValueError("need at least two differences")
    if not 0 <= rho < 1:
        raise ValueError("rho must lie in [0, 1)")
    if rope < 0:
        raise ValueError("rope must be >= 0")
    loc = float(d.mean())
    scale = float(np.sqrt((1 / n + rho / (1 - rho)) * d.var(ddof=1)))
    df = n - 1
    if scale == 0.0:
        left = float(loc < -rope)
        right = float(loc > rope)
        return BayesResult(left, 1.0 - left - right, right, loc, scale, df)
    post = _st.t(df, loc=loc, scale=scale)
    left = float(post.cdf(-rope))
    right = float(post.sf(rope))
    return BayesResult(left, max(0.0, 1.0 - left - right), right, loc, scale, df)


def _per_dataset(value, ds, name):
    if value is None or np.isscalar(value):
        return value
    if isinstance(value, Mapping):
        return value[ds]
    raise TypeError(f"{name}: a number or a mapping {{dataset: number}}")


def compare_within_problem(finals: pd.DataFrame, metric: str | None = None, *,
                           n_train=None, n_test=None,
                           baselines: Mapping[str, Sequence[str] | None] | None = None,
                           alpha: float = 0.05, rope=None, level: float = EQUIVALENCE_LEVEL) -> pd.DataFrame:
    """Pairwise comparisons against baselines within each problem.

    ``finals``: :func:`alnn.analysis.finals` (or the tidy frame). For every
    problem and every (strategy, baseline) pair of ``baselines`` (default
    :data:`DEFAULT_BASELINES`: every strategy against passive; entropy and
    ensemble against random; pairs whose strategies are absent are skipped),
    the runs are paired by (trial, fold): same split, same initial weights.
    Pairs where either run diverged (blank metric) are dropped and counted
    (``n_excluded``). On the paired differences d = strategy - baseline (in
    the metric's units):

    * :func:`corrected_resampled_ttest` with n_test/n_train given, or by
      default 1/(K-1) for the problem's K folds: ``t, df, p``, ``mean_diff``
      and its corrected ``ci_low``, ``ci_high`` (1 - alpha);
    * ``p_holm``: Holm over the family of all comparisons of that problem
      and metric; ``significant``: Holm rejects at ``alpha`` (p_holm <= alpha);
    * ``direction``: ``better`` / ``worse`` / ``equal`` from the sign of the
      mean difference and the metric's direction (not a test);
    * ``prob_superiority``: P(strategy's run better than baseline's run),
      ties 1/2 (unpaired, over all run pairs);
    * with ``rope`` (a number in metric units, ``{dataset: number}``, or a
      callable ``rope(metric, mean_baseline)`` such as :func:`default_rope`):
      the Bayesian correlated t-test's ``p_better``, ``p_rope``, ``p_worse``,
      the ``rope`` used and the ``equivalence`` verdict at ``level``
      (:func:`equivalence`).

    ``metric`` defaults to each problem's primary metric.
    """
    fin = _an.finals(finals)
    baselines = DEFAULT_BASELINES if baselines is None else baselines
    rows = []
    for ds, sub in fin.groupby("dataset", sort=False):
        m = metric or _an.primary_metric(sub)
        hib = _an.higher_is_better(m)
        present = [s for s in _an.STRATEGY_ORDER if s in set(sub["strategy"])]
        present += sorted(set(sub["strategy"]) - set(present))
        vals = sub.assign(_v=sub[m].where(~sub["diverged"].astype(bool))
                          if "diverged" in sub.columns else sub[m])
        wide = vals.set_index(["trial", "fold", "strategy"])["_v"].unstack("strategy")
        ntr, nte = _per_dataset(n_train, ds, "n_train"), _per_dataset(n_test, ds, "n_test")
        if ntr is None and nte is None:
            k = sub["fold"].nunique()
            if k < 2:
                raise ValueError(f"{ds}: one fold; pass n_train and n_test")
            ntr, nte = k - 1, 1
        elif ntr is None or nte is None:
            raise ValueError("pass both n_train and n_test, or neither")
        rope_ds = rope if callable(rope) else _per_dataset(rope, ds, "rope")
        fam = []
        for base, others in baselines.items():
            if base not in present:
                continue
            cand = [s for s in present if s != base] if others is None else \
                [s for s in others if s in present and s != base]
            for s in cand:
                if (s, base) in [(r["strategy"], r["baseline"]) for r in fam]:
                    continue
                pair = wide[[s, base]]
                ok = pair.notna().all(axis=1)
                a, b = pair.loc[ok, s].to_numpy(float), pair.loc[ok, base].to_numpy(float)
                row = dict(dataset=ds, metric=m, higher_is_better=hib, strategy=s,
                           baseline=base, n_pairs=int(ok.sum()), n_excluded=int((~ok).sum()),
                           mean_strategy=float(a.mean()) if a.size else np.nan,
                           mean_baseline=float(b.mean()) if b.size else np.nan)
                if a.size >= 2:
                    r = corrected_resampled_ttest(a, b, ntr, nte, alpha=alpha)
                    row.update(mean_diff=r.mean_diff, ci_low=r.ci_low, ci_high=r.ci_high,
                               t=r.t, df=r.df, p=r.p)
                else:
                    row.update(mean_diff=np.nan, ci_low=np.nan, ci_high=np.nan, t=np.nan,
                               df=np.nan, p=np.nan)
                all_s = vals.loc[vals["strategy"] == s, "_v"].to_numpy(float)
                all_b = vals.loc[vals["strategy"] == base, "_v"].to_numpy(float)
                row["prob_superiority"] = (probability_of_superiority(all_s, all_b) if hib
                                           else probability_of_superiority(all_b, all_s))
                md = row["mean_diff"]
                if not np.isfinite(md):
                    row["direction"] = "n/a"
                elif md == 0:
                    row["direction"] = "equal"
                else:
                    row["direction"] = "better" if (md > 0) == hib else "worse"
                if rope_ds is not None and a.size >= 2:
                    width = float(rope_ds(m, float(b.mean())) if callable(rope_ds) else rope_ds)
                    bz = bayesian_correlated_ttest(a - b, rho=nte / (nte + ntr), rope=width)
                    better, worse = (bz.p_right, bz.p_left) if hib else (bz.p_left, bz.p_right)
                    row.update(rope=width, p_better=better, p_rope=bz.p_rope, p_worse=worse,
                               equivalence="identical" if identical(a - b)
                               else equivalence(better, bz.p_rope, worse, level))
                elif rope_ds is not None:
                    row.update(rope=np.nan, p_better=np.nan, p_rope=np.nan, p_worse=np.nan, equivalence="n/a")
                fam.append(row)
        if fam:
            reject, adj = holm([r["p"] for r in fam], alpha=alpha)
            for r, rej, pa in zip(fam, reject, adj):
                r["p_holm"] = pa
                r["significant"] = bool(rej)
            rows.extend(fam)
    cols = ["dataset", "metric", "higher_is_better", "strategy", "baseline", "n_pairs",
            "n_excluded", "mean_strategy", "mean_baseline", "mean_diff", "ci_low", "ci_high",
            "t", "df", "p", "p_holm", "significant", "direction", "prob_superiority"]
    if rope is not None:
        cols += ["rope", "p_better", "p_rope", "p_worse", "equivalence"]
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- across problems
def score_matrix(finals: pd.DataFrame, metric: str | None = None, *,
                 strategies: Sequence[str] | None = None) -> pd.DataFrame:
    """Problems x strategies matrix of mean final ``metric`` over non-diverged runs.

    The input of :func:`friedman_iman_davenport`. Strategies that are missing
    (or have no surviving run) on some problem are dropped (entropy on
    regression), so pass one task's problems at a time. ``metric`` defaults
    to the primary metric, which must then be the same for all problems.
    """
    s = _an.summary(finals)
    if metric is None:
        ms = {_an.primary_metric(sub) for _, sub in _an.finals(finals).groupby("dataset")}
        if len(ms) != 1:
            raise ValueError(f"problems of different tasks ({sorted(ms)}): analyse them apart")
        metric = ms.pop()
    s = s[s["metric"] == metric]
    wide = s.pivot(index="dataset", columns="strategy", values="mean")
    wide = wide.reindex(index=pd.unique(s["dataset"]))
    order = [c for c in _an.STRATEGY_ORDER if c in wide.columns]
    order += sorted(set(wide.columns) - set(order))
    if strategies is not None:
        order = [c for c in strategies if c in wide.columns]
    wide = wide[order].dropna(axis=1, how="any")
    wide.columns.name = None
    wide.attrs["metric"] = metric
    return wide


def average_ranks(scores, *, higher_is_better: bool = True) -> pd.Series:
    """Average rank of every column of a problems x strategies matrix.

    Within each problem (row) the best score gets rank 1; tied scores share
    the average of their ranks (``scipy.stats.rankdata``, method "average").
    """
    sc = pd.DataFrame(scores)
    if sc.isna().any().any():
        raise ValueError("scores contain NaN: every strategy needs a score on every problem")
    x = sc.to_numpy(float)
    ranks = _st.rankdata(-x if higher_is_better else x, axis=1)
    return pd.Series(ranks.mean(axis=0), index=sc.columns, name="avg_rank")


@dataclass(frozen=True)
class FriedmanResult:
    """Friedman chi^2_F (df k-1) and Iman-Davenport F_F (df k-1, (k-1)(N-1))
    from the average ranks of k strategies over N problems."""
    avg_ranks: pd.Series
    n: int
    k: int
    chi2: float
    p_chi2: float
    f: float
    df1: int
    df2: int
    p_f: float
    low_power: bool


def friedman_from_ranks(avg_ranks, n: int) -> FriedmanResult:
    """Friedman and Iman-Davenport statistics from average ranks (Demsar 2006, 3.2.2).

    chi^2_F = 12N/(k(k+1)) [sum_j R_j^2 - k(k+1)^2/4]  (no tie correction),
    F_F = (N-1) chi^2_F / (N(k-1) - chi^2_F) with (k-1, (k-1)(N-1)) degrees
    of freedom (F_F = inf, p = 0 when the rankings agree perfectly).
    """
    r = pd.Series(avg_ranks, dtype=float)
    k = r.size
    if k < 2 or n < 2:
        raise ValueError("need at least two strategies and two problems")
    chi2 = 12 * n / (k * (k + 1)) * (float((r ** 2).sum()) - k * (k + 1) ** 2 / 4)
    chi2 = max(chi2, 0.0)
    df1, df2 = k - 1, (k - 1) * (n - 1)
    denom = n * (k - 1) - chi2
    f = np.inf if denom <= 1e-12 else (n - 1) * chi2 / denom
    p_f = 0.0 if np.isinf(f) else float(_st.f.sf(f, df1, df2))
    return FriedmanResult(avg_ranks=r, n=int(n), k=k, chi2=float(chi2),
                          p_chi2=float(_st.chi2.sf(chi2, df1)), f=float(f), df1=df1, df2=df2,
                          p_f=p_f, low_power=low_power(n))


def friedman_iman_davenport(scores, *, higher_is_better: bool = True) -> FriedmanResult:
    """Friedman test with Iman-Davenport correction on a problems x strategies matrix.

    Ranks within each problem (best = 1, ties averaged, :func:`average_ranks`),
    then :func:`friedman_from_ranks`. Without ties chi^2_F equals
    ``scipy.stats.friedmanchisquare``; with ties scipy divides by a tie
    correction and this function, like Demsar (2006), does not.
    """
    sc = pd.DataFrame(scores)
    return friedman_from_ranks(average_ranks(sc, higher_is_better=higher_is_better), len(sc))


def holm_vs_control(avg_ranks, n: int, control: str = "passive", *,
                    alpha: float = 0.05) -> pd.DataFrame:
    """Post-hoc comparison of every strategy with a control (Demsar 2006, 3.2.2).

    z = (R_i - R_c) / sqrt(k(k+1)/(6N)) from the average ranks, two-sided
    normal p, Holm-adjusted over the k - 1 comparisons. Positive z: the
    strategy ranks worse than the control. Columns: strategy, avg_rank,
    rank_diff, z, p, p_holm, significant, direction.
    """
    r = pd.Series(avg_ranks, dtype=float)
    if control not in r.index:
        raise KeyError(f"control {control!r} not among {list(r.index)}")
    k = r.size
    se = np.sqrt(k * (k + 1) / (6 * n))
    others = r.drop(control)
    diff = others - r[control]
    z = diff / se
    p = 2 * _st.norm.sf(np.abs(z))
    reject, adj = holm(p, alpha=alpha)
    return pd.DataFrame({"strategy": others.index, "avg_rank": others.to_numpy(),
                         "rank_diff": diff.to_numpy(), "z": z.to_numpy(), "p": p,
                         "p_holm": adj, "significant": reject,
                         "direction": np.where(diff < 0, "better",
                                               np.where(diff > 0, "worse", "equal"))})


@lru_cache(maxsize=64)
def nemenyi_q(k: int, alpha: float = 0.05) -> float:
    """Critical value q_alpha of the Nemenyi test: the studentized range
    quantile with k groups and infinite df divided by sqrt(2)."""
    if k < 2:
        raise ValueError("k must be >= 2")
    return float(_st.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2))


def critical_difference(k: int, n: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference CD = q_alpha sqrt(k(k+1)/(6N)) of average ranks."""
    return nemenyi_q(k, alpha) * float(np.sqrt(k * (k + 1) / (6 * n)))


def cd_groups(avg_ranks, cd: float) -> list[tuple[str, ...]]:
    """Maximal groups of strategies whose average ranks differ by less than ``cd``.

    Strategies sorted by rank; each group is a run of consecutive strategies
    with max - min rank < cd (not significantly different by Nemenyi), groups
    contained in another are dropped. These are the bars of a CD diagram.
    """
    r = pd.Series(avg_ranks, dtype=float).sort_values(kind="stable")
    names, vals = list(r.index), r.to_numpy()
    groups, last_end = [], -1
    for i in range(len(vals)):
        j = i
        while j + 1 < len(vals) and vals[j + 1] - vals[i] < cd:
            j += 1
        if j > i and j > last_end:
            groups.append(tuple(names[i:j + 1]))
            last_end = j
    return groups


def low_power(n_problems: int, threshold: int = LOW_POWER_PROBLEMS) -> bool:
    """True when an across-problem test rests on ``threshold`` (6) problems or fewer."""
    return n_problems <= threshold


def power_limits(k: int, n: int, alpha: float = 0.05) -> dict:
    """What N problems and k strategies can show at best, for the report.

    ``min_p_friedman``: the Friedman p when all N rankings agree (chi^2_F =
    N(k-1)); ``min_p_vs_control``: the unadjusted two-sided p of the largest
    possible rank difference (k - 1) against the control; ``cd``: Nemenyi
    critical difference; ``low_power``: :func:`low_power`.
    """
    se = np.sqrt(k * (k + 1) / (6 * n))
    return dict(k=k, n=n, low_power=low_power(n),
                min_p_friedman=float(_st.chi2.sf(n * (k - 1), k - 1)),
                min_p_vs_control=float(2 * _st.norm.sf((k - 1) / se)),
                cd=critical_difference(k, n, alpha))


# --------------------------------------------------------------------------- budget protocol
_SEP = "\x1f"  # joins a strategy and a cell into one name for compare_within_problem


def _cell_tests(values: pd.DataFrame, pairs: Sequence[tuple[str, str]], *, n_train=None,
                n_test=None, alpha: float = 0.05, rope=None) -> pd.DataFrame:
    """Paired corrected t-tests of ``pairs`` in every cell, by :func:`compare_within_problem`.

    ``values``: long frame with dataset, cell, strategy, trial, fold, metric,
    value, diverged (one row per run and cell; ``diverged`` the run-level
    flag: such a run is left out of every cell). ``pairs``: (strategy,
    baseline) compared in every cell of a problem where both are present.
    :func:`compare_within_problem` is called once per problem on a
    finals-like frame in which the run of strategy s in cell c is named
    ``s<SEP>c``; its Holm family (all comparisons of one problem and metric)
    is thus every comparison of that problem over all its cells. Returns its
    rows with ``strategy`` / ``baseline`` decoded and the ``cell`` added.
    """
    names = {s for pair in pairs for s in pair}
    values = values[values["strategy"].isin(names)]
    out = []
    for ds, sub in values.groupby("dataset", sort=False):
        metric = sub["metric"].iloc[0]
        try:
            cells = sorted(pd.unique(sub["cell"]))
        except TypeError:
            cells = list(pd.unique(sub["cell"]))
        code = {c: str(i) for i, c in enumerate(cells)}
        fin = pd.DataFrame({"dataset": ds,
                            "strategy": sub["strategy"].astype(str) + _SEP
                            + sub["cell"].map(code),
                            "trial": sub["trial"], "fold": sub["fold"], "epoch": 0,
                            "diverged": sub["diverged"].astype(bool),
                            metric: sub["value"].astype(float)})
        have = sub.groupby("cell")["strategy"].agg(set)
        baselines: dict[str, list[str]] = {}
        for c in cells:
            for s, b in pairs:
                if s in have[c] and b in have[c] and s != b:
                    baselines.setdefault(b + _SEP + code[c], []).append(s + _SEP + code[c])
        if not baselines:
            continue
        res = compare_within_problem(fin, metric, n_train=n_train, n_test=n_test,
                                     baselines=baselines, alpha=alpha, rope=rope)
        s_name = res["strategy"].str.split(_SEP, expand=True)
        b_name = res["baseline"].str.split(_SEP, expand=True)
        res["strategy"], res["baseline"] = s_name[0], b_name[0]
        res.insert(1, "cell", [cells[int(i)] for i in s_name[1]])
        out.append(res)
    if not out:
        return pd.DataFrame()
    return pd.concat(out, ignore_index=True)


def _budget_cells(frame: pd.DataFrame, metric, include_initial: bool) -> pd.DataFrame:
    """:func:`alnn.analysis.at_budget` with ``cell`` = budget, optionally without B_0."""
    ab = _an.at_budget(frame, metric)
    if not include_initial:
        active = ab[ab["strategy"] != "passive"]
        b0 = active.groupby("dataset")["budget"].min()
        ab = ab[ab["budget"] != ab["dataset"].map(b0)]
    return ab.rename(columns={"budget": "cell"})


def budget_comparisons(frame: pd.DataFrame, *, baseline: str = "random",
                       strategies: Sequence[str] = names(protocol="budget", role="query"),
                       metric: str | None = None, n_train=None, n_test=None,
                       alpha: float = 0.05, include_initial: bool = True, rope=None) -> pd.DataFrame:
    """Each active strategy against ``baseline`` (random) within each problem (SPEC 6).

    ``frame``: the budget frame (one row per run and round). Two quantities,
    each on the runs paired by (trial, fold) (same split, initial weights
    and initial labelled set), with the runs that diverged at any round left
    out of every comparison (``n_excluded``):

    * ``quantity="aubc"``: the run's AUBC (:func:`alnn.analysis.aubc`);
    * ``quantity="budget"``: the criterion at each budget B_r of the
      schedule (:func:`alnn.analysis.at_budget`), ``budget`` = B_r.

    Test: :func:`corrected_resampled_ttest` with n_test/n_train given, or by
    default 1/(K-1) for the problem's K folds (:func:`compare_within_problem`
    does the pairing, the test and the direction). Holm families: per
    problem and per quantity, i.e. the AUBC family of a problem is its
    |strategies| tests, and its per-budget family is the |strategies| x
    |budgets| tests over all budgets of the schedule. B_0, where every
    strategy has the same initial labelled set (so entropy, random and
    sensitivity differ only by chance, if at all), is included unless
    ``include_initial=False``. ``significant``: Holm
    rejects at ``alpha``; ``direction``: better / worse / equal from the sign
    of the mean difference (strategy - baseline) and the metric's direction.
    Strategies absent from a problem (entropy on regression) are skipped.
    Columns: dataset, quantity, budget (NaN for aubc), metric,
    higher_is_better, strategy, baseline, n_pairs, n_excluded,
    mean_strategy, mean_baseline, mean_diff, ci_low, ci_high, t, df, p,
    p_holm, significant, direction, prob_superiority; with ``rope`` (as in
    :func:`compare_within_problem`; an AUBC of accuracy is in accuracy units)
    also rope, p_better, p_rope, p_worse, equivalence.
    """
    pairs = [(s, baseline) for s in strategies if s != baseline]
    au = _an.aubc(frame, metric).rename(columns={"aubc": "value"}).assign(cell=0)
    ab = _budget_cells(frame, metric, include_initial)
    parts = []
    for quantity, vals in (("aubc", au), ("budget", ab)):
        res = _cell_tests(vals, pairs, n_train=n_train, n_test=n_test, alpha=alpha, rope=rope)
        if res.empty:
            continue
        res.insert(1, "quantity", quantity)
        res["budget"] = np.nan if quantity == "aubc" else res["cell"].astype(float)
        parts.append(res.drop(columns="cell"))
    cols = ["dataset", "quantity", "budget", "metric", "higher_is_better", "strategy",
            "baseline", "n_pairs", "n_excluded", "mean_strategy", "mean_baseline", "mean_diff",
            "ci_low", "ci_high", "t", "df", "p", "p_holm", "significant", "direction",
            "prob_superiority"]
    if rope is not None:
        cols += ["rope", "p_better", "p_rope", "p_worse", "equivalence"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)[cols]
    out["_q"] = (out["quantity"] == "budget").astype(int)
    out = _an.sort_frame(out, ["dataset", "_q", "budget", "strategy"]).drop(columns="_q")
    return out


def penalty_matrix(frame: pd.DataFrame, *, strategies: Sequence[str] | None = None,
                   metric: str | None = None, n_train=None, n_test=None,
                   alpha: float = 0.05, include_initial: bool = True) -> pd.DataFrame:
    """Pairwise penalty matrix over the budget strategies (Ash et al. 2020).

    A cell is one (problem, budget). In each cell where both strategies i and
    j exist, the runs are paired by (trial, fold) (diverged runs left out)
    and compared by :func:`corrected_resampled_ttest` (n_test/n_train as in
    :func:`budget_comparisons`); i *beats* j in the cell when the two-sided p
    is below ``alpha`` (strictly) and the mean difference is in i's favour
    (for the metric's direction). As in Ash et al. the p-values are not
    adjusted for multiplicity: the matrix is descriptive. Entry (i, j) is
    the share of the cells of the pair in which i beats j, in [0, 1]; a
    column's entries say how often that strategy was beaten. Ash et al. add
    1/L per budget of a setting with L budgets and sum over settings; here
    every cell weighs the same, which with a common number of budgets per
    problem is their matrix divided by the number of problems. Unlike theirs,
    the test here is the corrected resampled t-test of the folds. The cells
    include B_0 (the shared initial labelled set) unless
    ``include_initial=False``.

    ``strategies``: rows and columns (default: every strategy of the frame
    but ``passive``), in :data:`alnn.analysis.STRATEGY_ORDER`. Returns the
    square DataFrame of shares (diagonal and pairs without a common cell
    NaN) with ``.attrs["cells"]`` (cells per pair: only cells where both
    exist, so entropy's pairs count classification cells only),
    ``.attrs["wins"]`` (cells won, row over column) and ``.attrs["alpha"]``.
    """
    ab = _budget_cells(frame, metric, include_initial)
    ab = ab[ab["strategy"] != "passive"]
    names = list(strategies) if strategies is not None else list(pd.unique(ab["strategy"]))
    order = [s for s in _an.STRATEGY_ORDER if s in names]
    order += sorted(set(names) - set(order))
    pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1:]]
    res = _cell_tests(ab, pairs, n_train=n_train, n_test=n_test, alpha=alpha)
    k = len(order)
    pos = {s: i for i, s in enumerate(order)}
    wins = np.zeros((k, k), int)
    cells = np.zeros((k, k), int)
    for s, b, p, direction in zip(res.get("strategy", []), res.get("baseline", []),
                                  res.get("p", []), res.get("direction", [])):
        i, j = pos[s], pos[b]
        cells[i, j] += 1
        cells[j, i] += 1
        if np.isfinite(p) and p < alpha:
            if direction == "better":
                wins[i, j] += 1
            elif direction == "worse":
                wins[j, i] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(cells > 0, wins / np.maximum(cells, 1), np.nan)
    np.fill_diagonal(share, np.nan)
    out = pd.DataFrame(share, index=pd.Index(order, name="row"),
                       columns=pd.Index(order, name="column"))
    out.attrs["cells"] = pd.DataFrame(cells, index=order, columns=order)
    out.attrs["wins"] = pd.DataFrame(wins, index=order, columns=order)
    out.attrs["alpha"] = alpha
    return out


def budget_across(frame: pd.DataFrame, metric: str | None = None, *, control: str = "random",
                  strategies: Sequence[str] | None = None,
                  alpha: float = 0.05) -> dict[str, dict]:
    """Across problems on mean AUBC, classification and regression apart (SPEC 6).

    For each task present: the problems x strategies matrix of mean AUBC
    over the non-diverged runs (:func:`alnn.analysis.aubc_summary`; passive,
    with no AUBC, is absent; a strategy missing on one of the task's problems
    is dropped and listed in ``dropped``), the Friedman test with the
    Iman-Davenport correction (:func:`friedman_iman_davenport`, best rank 1
    in the metric's direction) and the Holm post-hoc of every strategy
    against ``control`` (random) (:func:`holm_vs_control`). Returns
    ``{task: entry}`` with entry keys: ``task``, ``metric``,
    ``higher_is_better``, ``scores`` (the matrix), ``avg_ranks`` (Series;
    None with fewer than two strategies), ``friedman``
    (:class:`FriedmanResult`, None with fewer than two problems or
    strategies), ``posthoc`` (DataFrame, None when there is no Friedman test
    or no control), ``power`` (:func:`power_limits`, None without a test),
    ``dropped`` and ``note`` (why a test is missing, else None).
    """
    per = _an.aubc(frame, metric)
    summ = _an.aubc_summary(per)
    task_by = _an.tasks(frame)
    out: dict[str, dict] = {}
    for task in ("classification", "regression"):
        dss = [d for d, t in task_by.items() if t == task and d in set(summ["dataset"])]
        if not dss:
            continue
        s = summ[summ["dataset"].isin(dss)]
        ms = set(s["metric"])
        if len(ms) != 1:
            raise ValueError(f"{task}: problems judged on different metrics {sorted(ms)}")
        m = ms.pop()
        hib = _an.higher_is_better(m)
        wide = s.pivot(index="dataset", columns="strategy", values="mean").reindex(dss)
        order = [c for c in _an.STRATEGY_ORDER if c in wide.columns]
        order += sorted(set(wide.columns) - set(order))
        if strategies is not None:
            order = [c for c in strategies if c in wide.columns]
        dropped = [c for c in order if wide[c].isna().any()]
        wide = wide[[c for c in order if c not in dropped]]
        wide.columns.name = None
        wide.attrs["metric"] = m
        n, k = wide.shape
        entry = dict(task=task, metric=m, higher_is_better=hib, scores=wide, avg_ranks=None,
                     friedman=None, posthoc=None, power=None, dropped=dropped, note=None)
        if k >= 2:
            entry["avg_ranks"] = average_ranks(wide, higher_is_better=hib)
        if n >= 2 and k >= 2:
            fr = friedman_iman_davenport(wide, higher_is_better=hib)
            entry.update(friedman=fr, power=power_limits(k, n, alpha))
            if control in wide.columns:
                entry["posthoc"] = holm_vs_control(fr.avg_ranks, n, control=control,
                                                   alpha=alpha)
            else:
                entry["note"] = f"control {control!r} absent: no post-hoc test"
        else:
            entry["note"] = (f"{n} problem(s) and {k} strategies: the Friedman test needs "
                             "at least two of each")
        out[task] = entry
    return out
