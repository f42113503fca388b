"""Budget protocol (SPEC 3b, 6): analysis, statistics and figures on hand-built
frames whose answers are known, checked against independent references
(hand arithmetic, scipy, statsmodels, alnn.stats.corrected_resampled_ttest
called directly)."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from scipy import stats  # noqa: E402
from statsmodels.stats.multitest import multipletests  # noqa: E402

from alnn import analysis as an  # noqa: E402
from alnn import figures as fg  # noqa: E402
from alnn import stats as st  # noqa: E402
from alnn.analysis import synthetic_budget_frame  # noqa: E402

REGRESSION = ("sine", "california-housing", "energy-efficiency")
BUDGETS = (10, 20, 40, 80, 160)  # geometric: x = 0, 1/4, 1/2, 3/4, 1


def brun(values, budgets=BUDGETS, *, dataset="iris", strategy="random", trial=0, fold=0,
         diverge_at=None):
    """One run of the budget frame: ``values`` is the primary criterion per round
    (accuracy, or MSE on a regression problem); other metrics derived from it."""
    v = np.asarray(values, float)
    b = np.asarray(budgets, int)
    R = b.size
    d = dict(dataset=dataset, strategy=strategy, trial=trial, fold=fold, round=np.arange(R),
             budget=b, labels_used=b, presentations=np.cumsum(b * 10), scored=200 - b,
             diverged=np.zeros(R, bool), wall_s=0.1 * np.arange(1, R + 1),
             train_loss=np.full(R, 0.1), val_loss=np.full(R, 0.1))
    if dataset in REGRESSION:
        d.update(mse=v, rmse=np.sqrt(v), mae=v / 2, r2=1 - v)
        metrics = ["mse", "rmse", "mae", "r2"]
    else:
        d.update(accuracy=v, f1=v, precision=v, recall=v, mcc=2 * v - 1, mse=1 - v)
        metrics = ["accuracy", "f1", "precision", "recall", "mcc", "mse"]
    f = pd.DataFrame(d)
    if diverge_at is not None:
        sel = f["round"] >= diverge_at
        f.loc[sel, "diverged"] = True
        f.loc[sel, metrics + ["train_loss", "val_loss"]] = np.nan
    return f


def passive(value, pool=200, **kw):
    return brun([value], [pool], strategy="passive", **kw)


def frame(*runs):
    return pd.concat(runs, ignore_index=True)


def text_sizes_ok(fig, minimum=7.0):
    """Every visible, non-empty text of a drawn figure is at least ``minimum`` pt."""
    small = [(t.get_text(), t.get_fontsize()) for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip() and t.get_fontsize() < minimum]
    assert not small, small


def saved(fig, tmp_path, name):
    assert isinstance(fig, Figure)
    assert fig.get_size_inches()[0] <= fg.TEXT_WIDTH + 1e-9
    paths = fg.save(fig, tmp_path / name, dpi=80)
    assert [p.name for p in paths] == [f"{name}.pdf", f"{name}.png"]
    assert paths[0].read_bytes().startswith(b"%PDF") and paths[0].stat().st_size > 1000
    assert paths[1].read_bytes().startswith(b"\x89PNG") and paths[1].stat().st_size > 1000
    text_sizes_ok(fig)  # after drawing, so tick labels exist
    return paths


# --------------------------------------------------------------------------- synthetic frame
def test_synthetic_budget_frame_schema_and_effects():
    f = synthetic_budget_frame()
    want = ["dataset", "strategy", "trial", "fold", "round", "budget", "labels_used",
            "presentations", "scored", "macs_train", "macs_select", "macs", "diverged", "wall_s", "train_loss"]
    assert list(f.columns[:len(want)]) == want
    assert {"accuracy", "f1", "precision", "recall", "mcc", "mse", "rmse", "mae", "r2"} <= set(f)
    sched = an.budget_schedule_of(f)
    assert sched["iris"] == sched["sine"] and len(sched["iris"]) == 8
    assert sched["iris"][0] == 10 and sched["iris"][-1] == 120
    p = f[f["strategy"] == "passive"]
    assert p["round"].eq(0).all() and p["budget"].eq(120).all()
    assert (f["labels_used"] == f["budget"]).all()
    assert not ((f["dataset"] == "sine") & (f["strategy"] == "entropy")).any()
    runs = f.groupby(["dataset", "strategy"])[["trial", "fold"]].apply(
        lambda d: len(d.drop_duplicates()))
    assert runs.eq(15).all()  # 3 trials x 5 folds
    s = an.aubc_summary(an.aubc(f)).set_index(["dataset", "strategy"])["mean"]
    assert s["iris", "entropy"] > s["iris", "ensemble"] > s["iris", "random"]
    assert s["sine", "ensemble"] < s["sine", "random"]  # MSE: lower is better
    g = synthetic_budget_frame(("energy-efficiency",), trials=1, folds=2, budgets=4,
                               diverge=[("energy-efficiency", "random", 0, 1, 2)])
    assert "mse_heating" in g.columns
    bad = g[(g["strategy"] == "random") & (g["fold"] == 1)]
    assert bad.loc[bad["round"] >= 2, "diverged"].all()
    assert bad.loc[bad["round"] >= 2, ["mse", "mse_heating"]].isna().all().all()
    assert bad.loc[bad["round"] < 2, "mse"].notna().all()


# --------------------------------------------------------------------------- AUBC
def test_aubc_constant_linear_and_blank_runs():
    a, b, c = 0.4, 0.9, 0.7
    x = [0, 0.25, 0.5, 0.75, 1.0]  # log2(B/10)/4 for B = 10, 20, 40, 80, 160
    f = frame(brun([c] * 5, strategy="random"),
              brun([a + (b - a) * xi for xi in x], strategy="entropy"),
              brun([c] * 5, strategy="ensemble", diverge_at=3),
              brun([c, c, np.nan, c, c], strategy="sensitivity"),  # blank round, no flag
              passive(0.95))
    res = an.aubc(f).set_index("strategy")
    assert "passive" not in res.index
    assert list(res.columns) == ["dataset", "trial", "fold", "metric", "aubc", "diverged"]
    assert res.loc["random", "aubc"] == pytest.approx(c)
    assert res.loc["entropy", "aubc"] == pytest.approx((a + b) / 2)
    assert np.isnan(res.loc["ensemble", "aubc"]) and res.loc["ensemble", "diverged"]
    assert np.isnan(res.loc["sensitivity", "aubc"]) and not res.loc["sensitivity", "diverged"]
    assert res["metric"].eq("accuracy").all()


def test_aubc_step_on_an_uneven_schedule_hand_computed():
    budgets = (10, 15, 40, 100, 160)
    # x_r = ln(B_r / 10) / ln(16), by hand
    x = [math.log(bb / 10) / math.log(16) for bb in budgets]
    # 0 below B_2 = 40, 1 from there on: the segment [x1, x2] is a ramp (area
    # (x2 - x1) / 2), [x2, x4] is flat at 1
    want = (x[2] - x[1]) / 2 + (x[4] - x[2])
    f = frame(brun([0, 0, 1, 1, 1], budgets, strategy="random"),
              brun([0.3] * 5, budgets, strategy="entropy"))
    res = an.aubc(f).set_index("strategy")["aubc"]
    assert res["random"] == pytest.approx(want)
    assert want == pytest.approx(0.5 * (math.log(4) - math.log(1.5)) / math.log(16)
                                 + (math.log(16) - math.log(4)) / math.log(16))
    assert res["entropy"] == pytest.approx(0.3)
    # regression: the same area in the MSE's units, and metric= overrides
    g = frame(brun([1, 1, 0, 0, 0], budgets, dataset="sine"))
    assert an.aubc(g)["aubc"].item() == pytest.approx(1 - want)
    assert an.aubc(g, metric="r2")["aubc"].item() == pytest.approx(want)
    assert an.budget_schedule_of(frame(f, passive(0.9, pool=300))) == {"iris": list(budgets)}


# --------------------------------------------------------------------------- curves
def test_budget_curve_band_and_passive_reference_against_scipy():
    vals = {0: [0.5, 0.6, 0.7], 1: [0.55, 0.62, 0.8], 2: [0.45, 0.7, 0.75]}
    runs = [brun(v, BUDGETS[:3], strategy="random", fold=k) for k, v in vals.items()]
    runs.append(brun([0.9, 0.9, 0.9], BUDGETS[:3], strategy="random", fold=3, diverge_at=2))
    ps = [0.91, 0.93, 0.95, 0.90]
    runs += [passive(p, fold=k) for k, p in enumerate(ps)]
    f = frame(*runs)
    bc = an.budget_curve(f)
    r = bc[(bc["strategy"] == "random") & (bc["budget"] == 20)].iloc[0]
    x = np.array([0.6, 0.62, 0.7])  # the diverged run is left out at every budget
    lo, hi = stats.t.interval(0.95, 2, loc=x.mean(), scale=stats.sem(x))
    assert (r["mean"], r["std"], r["n"]) == pytest.approx((x.mean(), x.std(ddof=1), 3))
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((lo, hi))
    assert (r["n_runs"], r["n_diverged"]) == (4, 1)
    pr = an.passive_reference(f).iloc[0]
    lo, hi = stats.t.interval(0.95, 3, loc=np.mean(ps), scale=stats.sem(ps))
    assert pr["mean"] == pytest.approx(np.mean(ps)) and pr["n"] == 4
    assert (pr["ci_low"], pr["ci_high"]) == pytest.approx((lo, hi))
    assert pr["budget"] == 200 and pr["metric"] == "accuracy"
    p_row = bc[bc["strategy"] == "passive"]
    assert len(p_row) == 1 and p_row["mean"].item() == pytest.approx(np.mean(ps))
    ab = an.at_budget(f)
    assert list(ab.columns) == ["dataset", "strategy", "trial", "fold", "budget", "metric",
                                "value", "diverged"]
    assert len(ab) == 4 * 3 + 4
    d = ab[(ab["strategy"] == "random") & (ab["fold"] == 3)]
    assert d["diverged"].all()  # run-level flag, also on the rounds before divergence
    assert d["value"].tolist()[:2] == [0.9, 0.9] and np.isnan(d["value"].tolist()[2])


# --------------------------------------------------------------------------- labels to target
def test_labels_to_target_reached_censored_diverged():
    b = (10, 20, 40, 80)
    f = frame(passive(0.9, fold=0), passive(0.9, fold=1),
              brun([0.5, 0.86, 0.88, 0.9], b, fold=0),  # 0.95 x 0.9 = 0.855 at 20; 0.891 at 80
              brun([0.5, 0.6, 0.7, 0.8], b, fold=1),  # never
              brun([0.5, 0.87, 0.9, 0.9], b, fold=2, diverge_at=2))  # reached, then diverged
    ltt = an.labels_to_target(f)
    assert set(ltt["strategy"]) == {"random"}  # passive is the reference, not listed
    t = ltt.set_index(["fraction", "fold"])
    assert t.loc[(0.95, 0), "target"] == pytest.approx(0.855)
    assert t.loc[(0.99, 0), "target"] == pytest.approx(0.891)
    assert t.loc[(0.95, 0), "labels"] == 20 and t.loc[(0.99, 0), "labels"] == 80
    assert t.loc[(0.95, 0), "reached"] and not t.loc[(0.95, 0), "censored"]
    assert t.loc[(0.95, 0), "presentations"] == 300  # cumsum(10 B) at B = 20
    for fr in (0.95, 0.99):
        assert t.loc[(fr, 1), "censored"] and np.isnan(t.loc[(fr, 1), "labels"])
        assert t.loc[(fr, 2), "censored"] and t.loc[(fr, 2), "diverged"]
        assert np.isnan(t.loc[(fr, 2), "labels"])
    assert t["labels_final"].eq(80).all() and t["labels_initial"].eq(10).all()
    s = an.labels_to_target_summary(ltt).set_index("fraction")
    assert s.loc[0.95, ["n_runs", "n_reached", "n_censored", "n_diverged"]].tolist() == \
        [3, 1, 2, 1]
    assert s.loc[0.95, "labels_median"] == 20 and s.loc[0.99, "labels_median"] == 80
    assert np.isnan(s.loc[0.95, "labels_median_all"])  # 1 of 3 reached: median not reached
    assert s.loc[0.95, "rate"] == pytest.approx(1 / 3)
    assert (s.loc[0.95, "labels_min"], s.loc[0.95, "labels_max"]) == (10, 80)
    # the summary also takes the budget frame itself
    pd.testing.assert_frame_equal(an.labels_to_target_summary(f), an.labels_to_target_summary(ltt))


def test_labels_to_target_lower_is_better_and_censored_median():
    b = (10, 20, 40, 80)
    f = frame(passive(0.1, dataset="sine"),
              brun([0.5, 0.2, 0.105, 0.1], b, dataset="sine", fold=0),
              brun([0.5, 0.104, 0.1, 0.1], b, dataset="sine", fold=1),
              brun([0.5, 0.3, 0.2, 0.2], b, dataset="sine", fold=2))
    t = an.labels_to_target(f, fractions=(0.95, 0.99)).set_index(["fraction", "fold"])
    # error metric: reached when the MSE is at most passive / fraction
    assert t.loc[(0.95, 0), "target"] == pytest.approx(0.1 / 0.95)
    assert t.loc[(0.95, 0), "labels"] == 40  # 0.105 <= 0.10526
    assert t.loc[(0.99, 0), "labels"] == 80  # 0.105 > 0.10101
    assert t.loc[(0.95, 1), "labels"] == 20 and t.loc[(0.99, 1), "labels"] == 40
    assert t.loc[(0.95, 2), "censored"]
    s = an.labels_to_target_summary(t.reset_index()).set_index("fraction")
    assert s.loc[0.95, "labels_median"] == 30  # over the reached runs: 20, 40
    assert s.loc[0.95, "labels_median_all"] == 40  # 20, 40, inf
    assert s.loc[0.95, "n_censored"] == 1
    assert an.labels_to_target(f, fractions=0.95)["fraction"].eq(0.95).all()
    with pytest.raises(ValueError, match="passive"):
        an.labels_to_target(f[f["strategy"] != "passive"])


# --------------------------------------------------------------------------- within problem
def _pairs(wide, s, b):
    ok = wide[[s, b]].dropna()
    return ok[s].to_numpy(float), ok[b].to_numpy(float)


def test_budget_comparisons_against_direct_tests_and_holm():
    f = synthetic_budget_frame(diverge=[("iris", "entropy", 1, 2, 4)], seed=3)
    c = st.budget_comparisons(f)
    assert set(c["quantity"]) == {"aubc", "budget"}
    assert c["baseline"].eq("random").all()
    assert not ((c["dataset"] == "sine") & (c["strategy"] == "entropy")).any()
    sched = an.budget_schedule_of(f)["iris"]
    iris = c[c["dataset"] == "iris"]
    assert len(iris[iris["quantity"] == "aubc"]) == 3
    assert len(iris[iris["quantity"] == "budget"]) == 3 * len(sched)
    assert iris.loc[iris["quantity"] == "aubc", "budget"].isna().all()
    # independent reference: values taken straight from the frame, diverged runs dropped
    bad = f.groupby(["dataset", "strategy", "trial", "fold"])["diverged"].transform("any")
    ok = f[~bad & (f["dataset"] == "iris")]
    for bb in (sched[0], sched[3], sched[-1]):
        wide = ok[ok["budget"] == bb].pivot_table(index=["trial", "fold"], columns="strategy",
                                                  values="accuracy")
        for s in ("entropy", "ensemble", "sensitivity"):
            a, b = _pairs(wide, s, "random")
            ref = st.corrected_resampled_ttest(a, b, n_train=4, n_test=1)  # K = 5 folds
            row = iris[(iris["quantity"] == "budget") & (iris["budget"] == bb)
                       & (iris["strategy"] == s)].iloc[0]
            assert row["n_pairs"] == a.size
            assert (row["t"], row["p"], row["mean_diff"]) == pytest.approx(
                (ref.t, ref.p, ref.mean_diff))
            assert (row["ci_low"], row["ci_high"]) == pytest.approx((ref.ci_low, ref.ci_high))
    # AUBC by the trapezoid rule written out here
    x = np.log(np.asarray(sched, float) / sched[0]) / np.log(sched[-1] / sched[0])
    per = (ok[ok["strategy"] != "passive"]
           .pivot_table(index=["strategy", "trial", "fold"], columns="budget", values="accuracy"))
    area = pd.Series(np.trapezoid(per.to_numpy(), x, axis=1), index=per.index).unstack("strategy")
    a, b = _pairs(area, "entropy", "random")
    ref = st.corrected_resampled_ttest(a, b, n_train=4, n_test=1)
    row = iris[(iris["quantity"] == "aubc") & (iris["strategy"] == "entropy")].iloc[0]
    assert row["n_pairs"] == 14 and row["n_excluded"] == 1
    assert (row["t"], row["p"]) == pytest.approx((ref.t, ref.p))
    assert row["direction"] == "better" and row["significant"]
    # Holm families: per problem and quantity
    for (_, _), fam in c.groupby(["dataset", "quantity"]):
        assert fam["p_holm"].to_numpy() == pytest.approx(
            multipletests(fam["p"].to_numpy(), method="holm")[1])
        assert (fam["significant"] == (fam["p_holm"] <= 0.05)).all()
    sine = c[(c["dataset"] == "sine") & (c["quantity"] == "aubc")].set_index("strategy")
    assert sine.loc["ensemble", "direction"] == "better"  # lower MSE
    assert sine.loc["ensemble", "mean_diff"] < 0 and sine.loc["ensemble", "significant"]
    # explicit sizes override the K-fold default
    c0 = st.budget_comparisons(f, n_train=100, n_test=0, strategies=("ensemble",))
    assert set(c0["strategy"]) == {"ensemble"}
    r0 = c0[(c0["dataset"] == "iris") & (c0["quantity"] == "aubc")].iloc[0]
    a, b = _pairs(area, "ensemble", "random")
    assert r0["p"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert st.DEFAULT_BASELINES["random"] == ("entropy", "ensemble", "sensitivity")
    c1 = st.budget_comparisons(f, include_initial=False)
    fam = c1[(c1["dataset"] == "iris") & (c1["quantity"] == "budget")]
    assert sorted(set(fam["budget"])) == sched[1:] and len(fam) == 3 * (len(sched) - 1)
    assert fam["p_holm"].to_numpy() == pytest.approx(
        multipletests(fam["p"].to_numpy(), method="holm")[1])


def _penalty_frame():
    """iris: entropy beats random by 0.1 at 3 of 4 budgets, identical at B_0;
    sine: sensitivity has lower MSE than random at 2 of 4 budgets, identical otherwise."""
    rng = np.random.default_rng(0)
    b = (10, 20, 40, 80)
    runs = []
    for t in range(2):
        for k in range(5):
            base = 0.6 + rng.normal(0, 0.02, 4)
            gain = np.array([0, 0.1, 0.1, 0.1]) + np.r_[0, rng.normal(0, 0.01, 3)]
            runs += [brun(base, b, strategy="random", trial=t, fold=k),
                     brun(base + gain, b, strategy="entropy", trial=t, fold=k)]
            mse = 0.5 + rng.normal(0, 0.02, 4)
            drop = np.array([0, 0.1, 0.1, 0]) + np.r_[0, rng.normal(0, 0.01, 2), 0]
            runs += [brun(mse, b, dataset="sine", strategy="random", trial=t, fold=k),
                     brun(mse - drop, b, dataset="sine", strategy="sensitivity", trial=t,
                          fold=k)]
    runs += [passive(0.9), passive(0.2, dataset="sine")]
    return frame(*runs)


def test_penalty_matrix_known_cells():
    f = _penalty_frame()
    m = st.penalty_matrix(f)
    assert list(m.index) == list(m.columns) == ["entropy", "random", "sensitivity"]
    assert m.loc["entropy", "random"] == pytest.approx(0.75)
    assert m.loc["random", "entropy"] == 0
    assert m.loc["sensitivity", "random"] == pytest.approx(0.5)  # lower MSE is better
    assert m.loc["random", "sensitivity"] == 0
    assert np.isnan(m.loc["entropy", "sensitivity"])  # no common (problem, budget) cell
    assert np.isnan(np.diag(m.to_numpy())).all()
    cells = m.attrs["cells"]
    assert cells.loc["entropy", "random"] == 4 and cells.loc["random", "sensitivity"] == 4
    assert cells.loc["entropy", "sensitivity"] == 0
    assert m.attrs["wins"].loc["entropy", "random"] == 3
    # each counted cell is a direct corrected t-test with p < alpha
    w = f[(f["dataset"] == "iris") & (f["budget"] == 20)].pivot_table(
        index=["trial", "fold"], columns="strategy", values="accuracy")
    assert st.corrected_resampled_ttest(w["entropy"], w["random"], 4, 1).p < 0.05
    # without B_0 (where the two are identical): 3 of 3 cells
    m1 = st.penalty_matrix(f, include_initial=False)
    assert m1.loc["entropy", "random"] == 1.0 and m1.attrs["cells"].loc["entropy", "random"] == 3
    # a strategy subset; alpha so strict that nothing counts
    m2 = st.penalty_matrix(f, strategies=["random", "entropy"], alpha=1e-300)
    assert list(m2.index) == ["entropy", "random"] and np.nansum(m2.to_numpy()) == 0


# --------------------------------------------------------------------------- across problems
def test_budget_across_tiny_hand_example():
    # constant curves: AUBC = the constant
    acc = {"iris": {"entropy": 0.9, "ensemble": 0.8, "random": 0.7},
           "wine": {"entropy": 0.85, "ensemble": 0.75, "random": 0.8},
           "fashion-mnist": {"entropy": 0.7, "ensemble": 0.6, "random": 0.65}}
    mse = {"sine": {"ensemble": 0.1, "random": 0.2, "sensitivity": 0.3},
           "california-housing": {"ensemble": 0.4, "random": 0.3, "sensitivity": 0.5}}
    runs = []
    for table in (acc, mse):
        for ds, row in table.items():
            runs.append(passive(0.99 if table is acc else 0.05, dataset=ds))
            for s, v in row.items():
                for k in range(2):
                    runs.append(brun([v] * 5, dataset=ds, strategy=s, fold=k))
    out = st.budget_across(frame(*runs))
    cls, reg = out["classification"], out["regression"]
    assert list(cls["scores"].columns) == ["entropy", "ensemble", "random"]
    assert cls["scores"].loc["wine", "random"] == pytest.approx(0.8)
    # ranks by hand: entropy 1,1,1; ensemble 2,3,3; random 3,2,2
    assert cls["avg_ranks"].to_dict() == pytest.approx(
        {"entropy": 1.0, "ensemble": 8 / 3, "random": 7 / 3})
    fr = cls["friedman"]
    ref = stats.friedmanchisquare(*cls["scores"].to_numpy().T)  # no ties
    assert fr.chi2 == pytest.approx(14 / 3) and fr.chi2 == pytest.approx(ref.statistic)
    assert fr.f == pytest.approx(2 * (14 / 3) / (3 * 2 - 14 / 3))
    assert fr.low_power and cls["power"]["low_power"]
    ph = cls["posthoc"].set_index("strategy")
    se = math.sqrt(3 * 4 / (6 * 3))
    assert ph.loc["entropy", "z"] == pytest.approx((1 - 7 / 3) / se)
    assert ph.loc["ensemble", "z"] == pytest.approx((8 / 3 - 7 / 3) / se)
    p = 2 * stats.norm.sf(np.abs([(1 - 7 / 3) / se, (8 / 3 - 7 / 3) / se]))
    assert ph.loc[["entropy", "ensemble"], "p_holm"].to_numpy() == pytest.approx(
        multipletests(p, method="holm")[1])
    assert ph.loc["entropy", "direction"] == "better"
    assert "random" not in ph.index  # the control
    # regression: lower MSE ranks first, no entropy
    assert reg["metric"] == "mse" and not reg["higher_is_better"]
    assert list(reg["scores"].columns) == ["ensemble", "random", "sensitivity"]
    assert reg["avg_ranks"].to_dict() == pytest.approx(
        {"ensemble": 1.5, "random": 1.5, "sensitivity": 3.0})
    assert reg["posthoc"] is not None and reg["note"] is None
    one = st.budget_across(frame(*[r for r in runs if (r["dataset"] == "iris").all()]))
    assert one["classification"]["friedman"] is None and one["classification"]["note"]


# --------------------------------------------------------------------------- figures
@pytest.fixture(scope="module")
def bframe():
    return synthetic_budget_frame(("iris", "sine"), trials=2, folds=3, budgets=6,
                                  diverge=[("iris", "ensemble", 0, 1, 3)], seed=1)


def test_palette_has_sensitivity():
    assert an.STRATEGY_ORDER[:6] == ("passive", "sasla", "entropy", "ensemble", "random",
                                     "sensitivity")
    assert fg.STRATEGY_LABELS["sensitivity"] == "Sensitivity"
    assert set(fg.STRATEGY_COLORS) == set(fg.STRATEGY_MARKERS) == set(fg.STRATEGY_LINESTYLES) \
        == set(an.STRATEGY_ORDER)
    draft = an.STRATEGY_ORDER[:6]
    assert len({to_hex(fg.STRATEGY_COLORS[s]) for s in draft}) == len(draft)
    assert len({fg.STRATEGY_MARKERS[s] for s in draft}) == len(draft)


def test_budget_curves_figure(bframe, tmp_path):
    fig = fg.budget_curves(bframe)
    iris = fig.axes[0]
    assert iris.get_xscale() == "log" and iris.get_yscale() == "linear"
    grey = to_hex("0.45")  # passive's full-pool line
    colours = [to_hex(ln.get_color()) for ln in iris.get_lines()]
    assert [c for c in colours if c != grey] == [
        to_hex(fg.STRATEGY_COLORS[s]) for s in ("entropy", "ensemble", "random", "sensitivity")]
    ref = an.passive_reference(bframe).set_index("dataset")
    flat = [ln for ln in iris.get_lines() if to_hex(ln.get_color()) == grey]
    assert len(flat) == 1 and flat[0].get_ydata()[0] == pytest.approx(ref.loc["iris", "mean"])
    assert fig.axes[1].get_yscale() == "log"  # MSE
    assert len(fig.legends) == 1
    saved(fig, tmp_path, "budget_curves")
    saved(fg.budget_curves(bframe, metric="mse", datasets=["sine"], width=fg.COLUMN_WIDTH,
                           markers=False), tmp_path, "budget_curves_sine")


def test_penalty_matrix_figure(tmp_path):
    m = st.penalty_matrix(_penalty_frame())
    fig = fg.penalty_matrix_figure(m, title="all problems")
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert "0.75" in texts and "0.50" in texts
    saved(fig, tmp_path, "penalty")
    saved(fg.penalty_matrix_figure(m, column_mean=False), tmp_path, "penalty_plain")


def test_labels_to_target_figure(bframe, tmp_path):
    summ = an.labels_to_target_summary(bframe)
    fig = fg.labels_to_target_figure(summ, 0.99)
    assert fig.axes[0].get_xscale() == "log"
    notes = [t.get_text() for t in fig.axes[0].texts]
    iris = summ[(summ["dataset"] == "iris") & (summ["fraction"] == 0.99)]
    assert sorted(notes) == sorted(f"{r}/{n}" for r, n in zip(iris["n_reached"], iris["n_runs"]))
    # the marker is the median over all runs (the text's statistic), not over the runs that reached it
    for ax in fig.axes[:1]:
        xs = sorted(float(x) for line in ax.lines if line.get_marker() not in ("None", ">", "")
                    for x in line.get_xdata())
        want = sorted(float(x) for x in iris["labels_median_all"] if np.isfinite(x))
        assert xs == pytest.approx(want)
    saved(fig, tmp_path, "labels_to_target")
    saved(fg.labels_to_target_figure(summ, 0.95, datasets=["sine"], logx=False,
                                     width=fg.COLUMN_WIDTH), tmp_path, "ltt_sine")
    with pytest.raises(ValueError):
        fg.labels_to_target_figure(summ, 0.5)
