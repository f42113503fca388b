"""alnn.stats against scipy / statsmodels and the worked example of Demsar (2006)."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from alnn import analysis as an
from alnn import stats as st

# Demsar (2006), JMLR 7, Table 6: AUC of C4.5 with/without m and cf tuning, 14 data sets
# (rows: adult (sample), breast cancer, breast cancer wisconsin, cmc, ionosphere, iris,
# liver disorders, lung cancer, lymphography, mushroom, primary tumor, rheum, voting, wine).
DEMSAR_NAMES = ["C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf"]
DEMSAR_AUC = np.array([
    [0.763, 0.768, 0.771, 0.798], [0.599, 0.591, 0.590, 0.569],
    [0.954, 0.971, 0.968, 0.967], [0.628, 0.661, 0.654, 0.657],
    [0.882, 0.888, 0.886, 0.898], [0.936, 0.931, 0.916, 0.931],
    [0.661, 0.668, 0.609, 0.685], [0.583, 0.583, 0.563, 0.625],
    [0.775, 0.838, 0.866, 0.875], [1.000, 1.000, 1.000, 1.000],
    [0.940, 0.962, 0.965, 0.962], [0.619, 0.666, 0.614, 0.669],
    [0.972, 0.981, 0.975, 0.975], [0.957, 0.978, 0.946, 0.970]])
# Section 3.2.2: the published average ranks and statistics
DEMSAR_RANKS = pd.Series([3.143, 2.000, 2.893, 1.964], index=DEMSAR_NAMES)


# --------------------------------------------------------------------------- t-test
def test_corrected_ttest_without_correction_is_scipy_ttest_rel():
    rng = np.random.default_rng(0)
    a = rng.normal(0.8, 0.05, 25)
    b = a - rng.normal(0.01, 0.02, 25)
    r = st.corrected_resampled_ttest(a, b, n_train=100, n_test=0)
    ref = stats.ttest_rel(a, b)
    assert r.t == pytest.approx(ref.statistic)
    assert r.p == pytest.approx(ref.pvalue)
    assert r.df == 24 and r.n == 25
    ci = ref.confidence_interval(0.95)
    assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high))
    assert r.mean_diff == pytest.approx(np.mean(a - b))


def test_corrected_ttest_hand_computed():
    # d = 1, 2, 3, 4: mean 2.5, s^2 = 5/3; 10-fold CV: n_test/n_train = 1/9
    # se^2 = 5/3 (1/4 + 1/9) = 65/108, t = 2.5 / sqrt(65/108) = 3.22252, df = 3
    r = st.corrected_resampled_ttest([1, 2, 3, 4], [0, 0, 0, 0], n_train=9, n_test=1)
    assert r.se == pytest.approx(np.sqrt(65 / 108))
    assert r.t == pytest.approx(3.222517, abs=1e-6)
    assert r.p == pytest.approx(0.048491, abs=1e-6)
    assert r.ci_high - r.mean_diff == pytest.approx(3.182446 * np.sqrt(65 / 108), rel=1e-6)
    plain = st.corrected_resampled_ttest([1, 2, 3, 4], [0, 0, 0, 0], 9, 0)
    assert plain.t > r.t and plain.p < r.p  # the correction is conservative


def test_corrected_ttest_edge_cases():
    r = st.corrected_resampled_ttest([1, 1, 1], [0, 0, 0], 4, 1)
    assert r.t == np.inf and r.p == 0.0
    r = st.corrected_resampled_ttest([1, 1, 1], [1, 1, 1], 4, 1)
    assert r.t == 0.0 and r.p == 1.0
    with pytest.raises(ValueError):
        st.corrected_resampled_ttest([1, np.nan], [0, 0], 4, 1)
    with pytest.raises(ValueError):
        st.corrected_resampled_ttest([1], [0], 4, 1)


# --------------------------------------------------------------------------- Holm
def test_holm_hand_worked():
    # sorted p: 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> 0.06)
    reject, adj = st.holm([0.01, 0.04, 0.03, 0.005])
    assert adj == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert reject.tolist() == [True, False, False, True]
    reject, adj = st.holm([0.01, np.nan, 0.04])
    assert np.isnan(adj[1]) and not reject[1]
    assert adj[[0, 2]] == pytest.approx(multipletests([0.01, 0.04], method="holm")[1])


# --------------------------------------------------------------------------- effect sizes
def test_probability_of_superiority_is_mann_whitney_u_over_nm():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 6, 30).astype(float)  # many ties
    b = rng.integers(1, 7, 20).astype(float)
    u = stats.mannwhitneyu(a, b).statistic  # U of the first sample
    assert st.probability_of_superiority(a, b) == pytest.approx(u / (a.size * b.size))
    assert st.probability_of_superiority([1, 2, 3], [1, 2, 3]) == 0.5
    assert st.probability_of_superiority([5, 6], [1, 2]) == 1.0
    assert st.probability_of_superiority([1, 2], [2, 3]) == pytest.approx(0.125)  # 1 tie of 4
    assert st.probability_of_superiority([1, np.nan], [0]) == 1.0


def test_bayesian_correlated_ttest():
    d = np.array([-0.3, -0.1, 0.0, 0.1, 0.3])
    r = st.bayesian_correlated_ttest(d, rho=0.2, rope=0.05)
    assert r.p_left == pytest.approx(r.p_right)
    assert r.p_left + r.p_rope + r.p_right == pytest.approx(1.0)
    assert r.scale == pytest.approx(np.sqrt((1 / 5 + 0.25) * d.var(ddof=1)))
    # rho = 0, rope = 0: P(mu > 0) = 1 - one-sided p of the t-test
    rng = np.random.default_rng(2)
    x = rng.normal(0.1, 1, 40)
    r = st.bayesian_correlated_ttest(x, rho=0.0, rope=0.0)
    assert r.p_right == pytest.approx(1 - stats.ttest_1samp(x, 0, alternative="greater").pvalue)
    assert r.p_rope == pytest.approx(0.0)
    # rho = 1/K gives the corrected t-test's standard error
    c = st.corrected_resampled_ttest(x, np.zeros_like(x), n_train=4, n_test=1)
    assert st.bayesian_correlated_ttest(x, rho=1 / 5).scale == pytest.approx(c.se)


# --------------------------------------------------------------------------- within problem
def paired_finals(shift, *, dataset="iris", metric="accuracy", trials=10, folds=5, seed=0,
                  diverged=()):
    """Finals of passive, sasla (passive + shift + noise) and random (passive - 2 shift)."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(trials):
        for f in range(folds):
            base = 0.8 + rng.normal(0, 0.02)
            for s, v in (("passive", base), ("sasla", base + shift + rng.normal(0, 0.01)),
                         ("random", base - 2 * shift + rng.normal(0, 0.01))):
                div = (s, t, f) in diverged
                rows.append({"dataset": dataset, "strategy": s, "trial": t, "fold": f,
                             "epoch": 50, "diverged": div, metric: np.nan if div else v})
    return pd.DataFrame(rows)


def test_compare_within_problem_against_direct_computation():
    fin = paired_finals(0.03, diverged={("sasla", 0, 0)})
    c = st.compare_within_problem(fin).set_index("strategy")
    assert list(c.index) == ["sasla", "random"] and c["baseline"].eq("passive").all()
    sasla = c.loc["sasla"]
    assert (sasla["n_pairs"], sasla["n_excluded"]) == (49, 1)
    w = fin.pivot_table(index=["trial", "fold"], columns="strategy", values="accuracy").dropna()
    ref = st.corrected_resampled_ttest(w["sasla"], w["passive"], n_train=4, n_test=1)  # K = 5
    assert sasla["t"] == pytest.approx(ref.t) and sasla["p"] == pytest.approx(ref.p)
    assert sasla["mean_diff"] == pytest.approx(ref.mean_diff)
    assert (sasla["ci_low"], sasla["ci_high"]) == pytest.approx((ref.ci_low, ref.ci_high))
    assert sasla["direction"] == "better" and sasla["significant"]
    assert c.loc["random", "direction"] == "worse" and c.loc["random", "significant"]
    assert c["p_holm"].to_numpy() == pytest.approx(multipletests(c["p"], method="holm")[1])
    assert sasla["prob_superiority"] > 0.5 > c.loc["random", "prob_superiority"]
    # explicit sizes override the K-fold default
    c2 = st.compare_within_problem(fin, n_train=100, n_test=0).set_index("strategy")
    assert c2.loc["sasla", "p"] < sasla["p"]


def test_compare_within_problem_error_metric_direction_and_family():
    fin = paired_finals(-0.03, dataset="sine", metric="mse")  # sasla lower mse: better
    fin = pd.concat([fin, paired_finals(0.0, metric="accuracy")], ignore_index=True)
    c = st.compare_within_problem(fin, rope=0.001)
    sine = c[c["dataset"] == "sine"].set_index("strategy")
    assert sine["metric"].eq("mse").all()
    assert sine.loc["sasla", "direction"] == "better"
    assert sine.loc["sasla", "prob_superiority"] > 0.5
    assert sine.loc["sasla", "p_better"] > 0.95 and sine.loc["random", "p_worse"] > 0.95
    # Holm is applied within each problem separately
    iris = c[c["dataset"] == "iris"]
    assert iris["p_holm"].to_numpy() == pytest.approx(multipletests(iris["p"], method="holm")[1])


def test_compare_within_problem_default_families():
    f = an.synthetic_frame(("iris", "sine"), trials=2, folds=3, epochs=6)
    c = st.compare_within_problem(f)
    pairs = {(d, s, b) for d, s, b in zip(c["dataset"], c["strategy"], c["baseline"])}
    assert ("iris", "entropy", "random") in pairs and ("iris", "ensemble", "random") in pairs
    assert ("iris", "random", "passive") in pairs
    assert not any(d == "sine" and s == "entropy" for d, s, _ in pairs)
    assert len([p for p in pairs if p[0] == "iris"]) == 6
    assert len([p for p in pairs if p[0] == "sine"]) == 4


# --------------------------------------------------------------------------- across problems
def test_friedman_from_demsar_published_ranks():
    r = st.friedman_from_ranks(DEMSAR_RANKS, n=14)
    assert r.chi2 == pytest.approx(9.28, abs=0.005)
    assert r.f == pytest.approx(3.69, abs=0.005)
    assert (r.df1, r.df2) == (3, 39)
    assert r.p_f < 0.05  # Demsar: F(3, 39) critical value 2.85 at alpha 0.05
    assert stats.f.ppf(0.95, 3, 39) == pytest.approx(2.85, abs=0.005)
    assert not r.low_power


def test_friedman_from_demsar_table():
    # The table is printed to three decimals. With ties averaged the voting row
    # (0.975 twice) gives ranks 3.143, 2.000, 2.929, 1.929; the published ranks
    # 2.893 and 1.964 are reproduced when that tie is broken in favour of C4.5+cf,
    # as the unrounded AUCs evidently did.
    ranks = st.average_ranks(pd.DataFrame(DEMSAR_AUC, columns=DEMSAR_NAMES))
    assert ranks.to_numpy() == pytest.approx([3.143, 2.000, 2.929, 1.929], abs=5e-4)
    broken = DEMSAR_AUC.copy()
    broken[12, 2] += 1e-5
    r = st.friedman_iman_davenport(pd.DataFrame(broken, columns=DEMSAR_NAMES))
    assert r.avg_ranks.to_numpy() == pytest.approx(DEMSAR_RANKS.to_numpy(), abs=5e-4)
    assert r.chi2 == pytest.approx(9.28, abs=0.01) and r.f == pytest.approx(3.69, abs=0.01)


def test_friedman_matches_scipy_without_ties_and_ranks_lower_is_better():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(8, 5))
    r = st.friedman_iman_davenport(x)
    ref = stats.friedmanchisquare(*x.T)
    assert r.chi2 == pytest.approx(ref.statistic) and r.p_chi2 == pytest.approx(ref.pvalue)
    n, k = x.shape
    assert r.f == pytest.approx((n - 1) * r.chi2 / (n * (k - 1) - r.chi2))
    assert r.p_f == pytest.approx(stats.f.sf(r.f, k - 1, (k - 1) * (n - 1)))
    # errors: lower is better ranks the smallest first
    assert st.average_ranks([[0.1, 0.2, 0.2]], higher_is_better=False).tolist() == [1, 2.5, 2.5]
    assert st.average_ranks([[0.1, 0.2, 0.2]]).tolist() == [3, 1.5, 1.5]
    # perfect agreement: F is infinite
    perfect = st.friedman_iman_davenport(np.tile([3.0, 2.0, 1.0], (4, 1)))
    assert perfect.f == np.inf and perfect.p_f == 0.0 and perfect.chi2 == pytest.approx(8.0)
    with pytest.raises(ValueError):
        st.average_ranks([[1.0, np.nan]])


def test_holm_vs_control_demsar_example():
    # C4.5 as control: SE = sqrt(4 * 5 / (6 * 14)) = 0.488
    h = st.holm_vs_control(DEMSAR_RANKS, n=14, control="C4.5").set_index("strategy")
    se = np.sqrt(20 / 84)
    assert h.loc["C4.5+m", "z"] == pytest.approx((2.000 - 3.143) / se)
    assert h.loc["C4.5+m+cf", "z"] == pytest.approx(-2.416, abs=1e-3)
    assert h.loc["C4.5+m", "p"] == pytest.approx(0.0192, abs=1e-4)
    assert h.loc["C4.5+m+cf", "p"] == pytest.approx(0.0157, abs=1e-4)
    assert h.loc["C4.5+cf", "p"] == pytest.approx(0.608, abs=1e-3)
    # Holm: 0.0157 < 0.05/3, 0.0192 < 0.05/2, 0.608 > 0.05
    assert h["significant"].to_dict() == {"C4.5+m": True, "C4.5+cf": False, "C4.5+m+cf": True}
    assert h["direction"].eq("better").all()
    with pytest.raises(KeyError):
        st.holm_vs_control(DEMSAR_RANKS, 14, control="passive")


@pytest.mark.parametrize("k, alpha, q", [(2, 0.05, 1.960), (3, 0.05, 2.343), (4, 0.05, 2.569),
                                         (5, 0.05, 2.728), (10, 0.05, 3.164),
                                         (4, 0.10, 2.291), (5, 0.10, 2.459)])
def test_nemenyi_q_matches_demsar_table_5(k, alpha, q):
    # the table is printed to three decimals (and 2.3437 appears as 2.343)
    assert st.nemenyi_q(k, alpha) == pytest.approx(q, abs=1e-3)


def test_critical_difference_demsar_example_and_groups():
    cd = st.critical_difference(4, 14)
    assert cd == pytest.approx(1.25, abs=0.005)
    assert cd == pytest.approx(2.569 * np.sqrt(4 * 5 / (6 * 14)), abs=1e-3)
    # Demsar: the Nemenyi test cannot separate any pair here (3.143 - 1.964 < 1.25)
    assert st.cd_groups(DEMSAR_RANKS, cd) == [("C4.5+m+cf", "C4.5+m", "C4.5+cf", "C4.5")]
    r = pd.Series({"a": 1.0, "b": 1.5, "c": 2.4, "d": 3.9, "e": 4.0})
    assert st.cd_groups(r, 1.0) == [("a", "b"), ("b", "c"), ("d", "e")]
    assert st.cd_groups(r, 0.05) == []


def test_low_power_and_limits():
    assert st.low_power(6) and st.low_power(3) and not st.low_power(7)
    lim = st.power_limits(4, 3)
    assert lim["low_power"]
    assert lim["min_p_friedman"] == pytest.approx(stats.chi2.sf(9, 3))
    assert lim["min_p_vs_control"] == pytest.approx(2 * stats.norm.sf(3 / np.sqrt(20 / 18)))
    assert lim["cd"] == pytest.approx(st.critical_difference(4, 3))


def test_score_matrix_one_task_at_a_time():
    f = an.synthetic_frame(("iris", "wine", "sine", "energy-efficiency"), trials=2, folds=2,
                           epochs=5)
    with pytest.raises(ValueError):
        st.score_matrix(f)
    cls = st.score_matrix(f[f["dataset"].isin(["iris", "wine"])])
    present = set(f["strategy"])  # synthetic_frame: the draft protocol's first five strategies
    assert list(cls.columns) == [s for s in an.STRATEGY_ORDER if s in present] and list(cls.index) == ["iris", "wine"]
    assert cls.attrs["metric"] == "accuracy"
    s = an.summary(f)
    want = s[(s["dataset"] == "wine") & (s["strategy"] == "sasla") & (s["metric"] == "accuracy")]
    assert cls.loc["wine", "sasla"] == pytest.approx(want["mean"].item())
    reg = st.score_matrix(f[f["dataset"].isin(["sine", "energy-efficiency"])])
    assert "entropy" not in reg.columns and reg.attrs["metric"] == "mse"
    r = st.friedman_iman_davenport(reg, higher_is_better=False)
    assert r.k == 4 and r.n == 2 and r.low_power


# --------------------------------------------------------------------------- equivalence (SPEC 6)
@pytest.mark.parametrize("runs,folds,mean,sd,rope", [(10, 5, 0.01, 0.02, 0.005), (3, 5, -0.002, 0.01, 0.01),
                                                     (50, 5, 0.0, 0.003, 0.01), (4, 10, 0.05, 0.01, 0.01)])
def test_bayesian_correlated_ttest_equals_baycomp(runs, folds, mean, sd, rope):
    baycomp = pytest.importorskip("baycomp")
    rng = np.random.default_rng(runs * folds)
    x = rng.normal(mean, sd, runs * folds)
    y = rng.normal(0.0, sd / 2, runs * folds)
    left, within, right = baycomp.CorrelatedTTest.probs(x, y, rope=rope, runs=runs)  # left: x above y
    r = st.bayesian_correlated_ttest(x - y, rho=1 / folds, rope=rope)
    assert (r.p_right, r.p_rope, r.p_left) == pytest.approx((left, within, right), abs=1e-12)


def test_equivalence_probabilities_follow_benavolis_posterior_by_hand():
    # Benavoli et al. (2017), eq. for the correlated t-test: mu | d ~ t_{n-1}(mean(d), (1/n + rho/(1-rho)) s^2)
    d = np.array([0.004, -0.002, 0.001, 0.003, -0.001, 0.0, 0.002, 0.001, -0.003, 0.002])
    n, rho, rope = d.size, 0.2, 0.01
    scale = np.sqrt((1 / n + rho / (1 - rho)) * d.var(ddof=1))
    inside = stats.t.cdf((rope - d.mean()) / scale, n - 1) - stats.t.cdf((-rope - d.mean()) / scale, n - 1)
    r = st.bayesian_correlated_ttest(d, rho=rho, rope=rope)
    assert r.p_rope == pytest.approx(inside, abs=1e-12) and r.p_rope > 0.99
    assert st.equivalence(r.p_right, r.p_rope, r.p_left) == "equivalent"
    far = st.bayesian_correlated_ttest(d + 0.05, rho=rho, rope=rope)  # every difference 5 points up
    assert st.equivalence(far.p_right, far.p_rope, far.p_left) == "better"
    assert st.equivalence(far.p_left, far.p_rope, far.p_right) == "worse"
    wide = st.bayesian_correlated_ttest(d * 20, rho=rho, rope=rope)  # spread: neither side nor the rope
    assert st.equivalence(wide.p_right, wide.p_rope, wide.p_left) == "inconclusive"
    assert st.equivalence(np.nan, 0.5, 0.5) == "n/a"


def test_default_rope_is_one_accuracy_point_or_five_percent_of_the_baselines_error():
    assert st.default_rope("accuracy", 0.93) == 0.01
    assert st.default_rope("mse", 0.2) == pytest.approx(0.01)
    assert st.default_rope("mse", 0.2, relative=0.1) == pytest.approx(0.02)


def test_comparisons_carry_the_rope_and_the_verdict():
    rows = []
    rng = np.random.default_rng(3)
    for t in range(4):
        for f in range(5):
            base = 0.9 + rng.normal(0, 0.01)
            rows.append(dict(dataset="iris", strategy="passive", trial=t, fold=f, epoch=1, diverged=False,
                             accuracy=base))
            rows.append(dict(dataset="iris", strategy="sasla", trial=t, fold=f, epoch=1, diverged=False,
                             accuracy=base + 0.0005))
    fin = pd.DataFrame(rows)
    c = st.compare_within_problem(fin, "accuracy", rope=st.default_rope)
    assert c["rope"].tolist() == [0.01] and c["equivalence"].tolist() == ["equivalent"]
    assert c["p_better"].iloc[0] + c["p_rope"].iloc[0] + c["p_worse"].iloc[0] == pytest.approx(1.0)


def test_identical_runs_get_the_identical_verdict_not_equivalence():
    """Paired differences all exactly zero: the two arms gave the same runs, so the equivalence verdict would be
    trivially true; it says identical. One nonzero difference and the posterior decides again."""
    assert st.identical(np.zeros(10)) and st.paired_verdict(np.zeros(10), higher_is_better=True, rope=0.01,
                                                            rho=0.2) == "identical"
    d = np.zeros(10)
    d[3] = 1e-6
    assert not st.identical(d)
    assert st.paired_verdict(d, higher_is_better=True, rope=0.01, rho=0.2) == "equivalent"
    rows = [dict(dataset="iris", strategy=s, trial=0, fold=f, epoch=1, diverged=False, accuracy=0.9 + 0.01 * f)
            for s in ("passive", "sasla") for f in range(5)]
    res = st.compare_within_problem(pd.DataFrame(rows), "accuracy", rope=0.01)
    assert res.set_index("strategy").loc["sasla", "equivalence"] == "identical"
