"""The Nadeau-Bengio corrected resampled t-test of paired scores (SPEC section 6).

A module of its own, below both :mod:`alnn.analysis` (which tests the drops of a budget curve with it) and
:mod:`alnn.stats` (which re-exports it with the other tests), so that neither imports the other's way round.

C. Nadeau and Y. Bengio, "Inference for the generalization error", Machine Learning 52 (2003) 239-281.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

__all__ = ["TTestResult", "corrected_resampled_ttest"]


@dataclass(frozen=True)
class TTestResult:
    """Corrected resampled t-test: statistic, two-sided p, degrees of freedom,
    number of paired differences, mean difference (a - b), its corrected
    standard error and the ``1 - alpha`` confidence interval."""
    t: float
    p: float
    df: int
    n: int
    mean_diff: float
    se: float
    ci_low: float
    ci_high: float


def corrected_resampled_ttest(a, b, n_train: float, n_test: float, *,
                              alpha: float = 0.05) -> TTestResult:
    """Nadeau-Bengio corrected resampled t-test of paired scores ``a`` and ``b``.

    d = a - b over the J paired runs (trial x fold, same split and initial
    weights for both strategies). The variance of the mean is corrected for
    the overlap of training sets between resamples:

        se^2 = s_d^2 (1/J + n_test/n_train),   t = mean(d) / se,   df = J - 1,

    with s_d^2 the sample variance (ddof=1). p is two-sided from Student's t;
    the CI is mean(d) -+ t_{1-alpha/2, J-1} se. With ``n_test=0`` this is the
    ordinary paired t-test. For K-fold cross-validation n_test/n_train =
    1/(K-1). If all differences are equal, se = 0: t = 0 and p = 1 when the
    mean is 0, t = +-inf and p = 0 otherwise.
    """
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("a and b must be 1-D arrays of equal length (paired runs)")
    d = a - b
    if not np.all(np.isfinite(d)):
        raise ValueError("non-finite scores: drop diverged pairs first")
    J = d.size
    if J < 2:
        raise ValueError("need at least two paired differences")
    if n_train <= 0 or n_test < 0:
        raise ValueError("n_train must be > 0 and n_test >= 0")
    mean = float(d.mean())
    var = float(d.var(ddof=1))
    se = float(np.sqrt(var * (1.0 / J + n_test / n_train)))
    df = J - 1
    if se == 0.0:
        t = 0.0 if mean == 0.0 else float(np.copysign(np.inf, mean))
        p = 1.0 if mean == 0.0 else 0.0
    else:
        t = mean / se
        p = float(2 * _st.t.sf(abs(t), df))
    half = float(_st.t.ppf(1 - alpha / 2, df)) * se
    return TTestResult(t=float(t), p=p, df=df, n=J, mean_diff=mean, se=se,
                       ci_low=mean - half, ci_high=mean + half)
