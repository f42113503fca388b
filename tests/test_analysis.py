"""alnn.analysis on hand-built tidy frames whose answers are known."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alnn import analysis as an

CLS = ("accuracy", "f1", "precision", "recall", "mcc", "mse")
REG = ("mse", "rmse", "mae", "r2")


def run(curve, *, dataset="iris", strategy="passive", trial=0, fold=0, diverge_at=None,
        sizes=None, labels=None, scored=None, regression=None):
    """One run in the engine's schema: ``curve`` is the primary metric per epoch
    (accuracy, or MSE for regression); other metrics are derived from it."""
    curve = np.asarray(curve, float)
    E = curve.size
    epoch = np.arange(1, E + 1)
    reg = dataset in ("sine", "california-housing", "energy-efficiency") if regression is None \
        else regression
    sizes = np.full(E, 10) if sizes is None else np.asarray(sizes)
    d = dict(dataset=dataset, strategy=strategy, trial=trial, fold=fold, epoch=epoch,
             subset_size=sizes, labels_used=sizes if labels is None else np.asarray(labels),
             presentations=np.cumsum(sizes), scored=np.zeros(E) if scored is None else scored,
             diverged=np.zeros(E, bool), wall_s=0.01 * epoch, train_loss=1.0 / epoch,
             val_loss=1.0 / epoch)
    if reg:
        d.update(mse=curve, rmse=np.sqrt(curve), mae=curve / 2, r2=1 - curve)
    else:
        d.update(accuracy=curve, f1=curve - 0.1, precision=curve, recall=curve, mcc=2 * curve - 1,
                 mse=1 - curve)
    f = pd.DataFrame(d)
    if diverge_at is not None:
        sel = f["epoch"] >= diverge_at
        f.loc[sel, "diverged"] = True
        f.loc[sel, [c for c in (REG if reg else CLS)] + ["train_loss", "val_loss"]] = np.nan
    return f


def frame(*runs):
    return pd.concat(runs, ignore_index=True)


# --------------------------------------------------------------------------- helpers
def test_task_of_and_directions():
    c = run([0.5, 0.6])
    r = run([1.0, 0.5], dataset="sine")
    assert an.task_of(c) == "classification"
    assert an.task_of(r) == "regression"
    mixed = frame(c, r)
    assert an.task_of(mixed[mixed["dataset"] == "sine"]) == "regression"
    assert an.tasks(mixed) == {"iris": "classification", "sine": "regression"}
    assert an.primary_metric(c) == "accuracy" and an.primary_metric(r) == "mse"
    assert an.higher_is_better("accuracy") and an.higher_is_better("r2_heating")
    assert not an.higher_is_better("mse") and not an.higher_is_better("mse_cooling")
    assert not an.higher_is_better("val_loss")
    with pytest.raises(KeyError):
        an.higher_is_better("nonsense")


def test_finals_takes_last_epoch_and_run_level_divergence():
    f = frame(run([0.1, 0.2, 0.3]), run([0.4, 0.5, 0.6], fold=1, diverge_at=2),
              run([0.7, 0.8, 0.9], strategy="sasla"))
    shuffled = f.sample(frac=1.0, random_state=1)
    fin = an.finals(shuffled)
    assert len(fin) == 3
    assert list(fin["strategy"]) == ["passive", "passive", "sasla"]  # STRATEGY_ORDER
    assert fin["epoch"].tolist() == [3, 3, 3]
    assert fin["accuracy"].iloc[0] == pytest.approx(0.3)
    assert np.isnan(fin["accuracy"].iloc[1]) and fin["diverged"].iloc[1]
    # a run whose flag is set only at an early epoch is still diverged
    g = run([0.1, 0.2, 0.3])
    g.loc[0, "diverged"] = True
    assert an.finals(g)["diverged"].item()
    pd.testing.assert_frame_equal(an.finals(fin), fin)  # idempotent


def test_summary_excludes_and_counts_diverged_runs():
    f = frame(run([0.5, 0.8], trial=0), run([0.5, 0.9], trial=1), run([0.5, 1.0], trial=2),
              run([0.5, 0.7], trial=3, diverge_at=2),
              run([1.0, 0.4], dataset="sine", trial=0), run([1.0, 0.6], dataset="sine", trial=1))
    s = an.summary(f)
    acc = s[(s["dataset"] == "iris") & (s["metric"] == "accuracy")].iloc[0]
    assert acc["mean"] == pytest.approx(0.9)
    assert acc["std"] == pytest.approx(0.1)  # ddof = 1
    assert acc["median"] == pytest.approx(0.9)
    assert (acc["n"], acc["n_runs"], acc["n_diverged"]) == (3, 4, 1)
    # the diverged run's finite cost columns are excluded too
    pres = s[(s["dataset"] == "iris") & (s["metric"] == "presentations")].iloc[0]
    assert pres["n"] == 3
    mse = s[(s["dataset"] == "sine") & (s["metric"] == "mse")].iloc[0]
    assert mse["mean"] == pytest.approx(0.5)
    # no regression metrics for iris, no accuracy for sine in a mixed frame
    assert not ((s["dataset"] == "iris") & (s["metric"] == "r2")).any()
    assert not ((s["dataset"] == "sine") & (s["metric"] == "accuracy")).any()
    assert not s["mean"].isna().any()


def test_summary_all_diverged_gives_blank_mean_and_counts():
    s = an.summary(run([0.5, 0.5], diverge_at=1))
    acc = s[s["metric"] == "accuracy"].iloc[0]
    assert np.isnan(acc["mean"]) and acc["n"] == 0 and acc["n_diverged"] == 1


# --------------------------------------------------------------------------- targets
def test_convergence_targets_both_directions_and_reference_only():
    f = frame(run([0.5, 0.8], trial=0), run([0.5, 1.0], trial=1),
              run([0.5, 0.1], trial=2, diverge_at=2),            # diverged passive: ignored
              run([0.5, 0.2], strategy="sasla"),                 # other strategies: ignored
              run([1.0, 0.19], dataset="sine", trial=0), run([1.0, 0.19], dataset="sine", trial=1))
    t = an.convergence_targets(f).set_index("dataset")
    assert t.loc["iris", "metric"] == "accuracy"
    assert t.loc["iris", "reference_mean"] == pytest.approx(0.9)
    assert t.loc["iris", "n_reference"] == 2
    assert t.loc["iris", "target"] == pytest.approx(0.95 * 0.9)
    assert t.loc["sine", "metric"] == "mse"
    assert t.loc["sine", "target"] == pytest.approx(0.19 / 0.95)  # = 0.2
    assert t.loc["sine", "target"] == pytest.approx(0.2)
    # negative reference mean (r2 worse than the mean predictor): tolerance stays a relaxation
    g = run([1.0, 1.5], dataset="sine")  # r2 = 1 - mse = -0.5
    t2 = an.convergence_targets(g, metric="r2").iloc[0]
    assert t2["target"] == pytest.approx(-0.5 - 0.05 * 0.5)
    with pytest.raises(ValueError):
        an.convergence_targets(run([0.5], strategy="sasla"))


# --------------------------------------------------------------------------- convergence
def step_curve(lo, hi, switch, epochs):
    """lo before epoch ``switch``, hi from it on."""
    return np.where(np.arange(1, epochs + 1) < switch, lo, hi)


def test_convergence_known_epoch_censored_and_diverged():
    target = 0.855
    crosses = run(step_curve(0.5, 1.0, 11, 40), sizes=np.arange(1, 41), trial=0)
    # MA5 at epoch 13 = (3 x 1 + 2 x 0.5)/5 = 0.8 < 0.855; at 14: 0.9 -> epoch 14
    never = run(np.full(40, 0.8), trial=1)
    diverges = run(step_curve(0.5, 1.0, 11, 40), trial=2, diverge_at=30)
    c = an.convergence(frame(crosses, never, diverges), {"iris": target})
    assert c["metric"].eq("accuracy").all()
    r0, r1, r2 = (c[c["trial"] == t].iloc[0] for t in range(3))
    assert r0["converged"] and not r0["censored"]
    assert r0["epochs_to_convergence"] == 14
    assert r0["presentations"] == sum(range(1, 15))   # cumulative at epoch 14
    assert r0["labels_used"] == 14 and r0["scored"] == 0
    assert r0["budget"] == 40 and r0["labels_used_final"] == 40
    assert not r1["converged"] and r1["censored"] and np.isnan(r1["epochs_to_convergence"])
    assert np.isnan(r1["presentations"]) and r1["presentations_final"] == 400
    assert r2["diverged"] and r2["censored"] and not r2["converged"]


def test_convergence_full_window_and_window_one():
    f = run(np.ones(10))
    assert an.convergence(f, {"iris": 0.9})["epochs_to_convergence"].item() == 5
    assert an.convergence(f, {"iris": 0.9}, window=1)["epochs_to_convergence"].item() == 1
    assert an.convergence(f, {"iris": 0.9}, window=3)["epochs_to_convergence"].item() == 3
    # reaching the target exactly counts
    g = run(step_curve(0.5, 0.75, 4, 10))
    assert an.convergence(g, {"iris": 0.75}, window=1)["epochs_to_convergence"].item() == 4
    # budget shorter than the window: censored
    assert an.convergence(run(np.ones(3)), {"iris": 0.5})["censored"].item()


def test_convergence_lower_is_better_and_target_table():
    curve = np.r_[np.full(9, 1.0), np.full(21, 0.1)]  # mse drops to 0.1 at epoch 10
    f = frame(run(curve, dataset="sine"), run(curve, dataset="sine", strategy="random"))
    t = an.convergence_targets(f)  # passive final mean 0.1 -> target 0.1/0.95
    c = an.convergence(f, t)
    # MA5 <= 0.105 needs a window entirely at 0.1: epochs 10..14 -> 14
    assert c["epochs_to_convergence"].tolist() == [14, 14]
    # explicit (metric, target) pairs
    c2 = an.convergence(f, {"sine": ("mae", 0.06)})
    assert c2["metric"].eq("mae").all() and c2["epochs_to_convergence"].tolist() == [14, 14]
    with pytest.raises(KeyError):
        an.convergence(f, {"iris": 0.5})


def test_convergence_summary_rates_and_conditional_means():
    runs = [run(step_curve(0.5, 1.0, sw, 30), trial=i, sizes=np.full(30, 2))
            for i, sw in enumerate((2, 6, 11))]   # converge at 6, 10, 15
    runs.append(run(np.full(30, 0.5), trial=3))                 # censored
    runs.append(run(np.full(30, 1.0), trial=4, diverge_at=3))   # diverged
    runs.append(run(np.full(30, 1.0), strategy="sasla"))
    c = an.convergence(frame(*runs), {"iris": 0.95})
    s = an.convergence_summary(c).set_index("strategy")
    p = s.loc["passive"]
    assert (p["n_runs"], p["n_converged"], p["n_censored"], p["n_diverged"]) == (5, 3, 2, 1)
    assert p["rate"] == pytest.approx(3 / 5)
    assert p["epochs_mean"] == pytest.approx((6 + 10 + 15) / 3)
    assert p["epochs_median"] == 10
    assert p["presentations_mean"] == pytest.approx(2 * (6 + 10 + 15) / 3)
    assert s.loc["sasla", "rate"] == 1.0 and s.loc["sasla", "epochs_mean"] == 5
    assert list(s.index) == ["passive", "sasla"]


# --------------------------------------------------------------------------- AULC
def test_aulc_is_mean_over_epochs_and_blank_when_diverged():
    e = np.arange(1, 11)
    f = frame(run(np.full(10, 0.7), trial=0), run(e / 10, trial=1),
              run(np.full(10, 0.9), trial=2, diverge_at=5))
    a = an.aulc(f)
    assert a["metric"].eq("accuracy").all()
    assert a.loc[a["trial"] == 0, "aulc"].item() == pytest.approx(0.7)   # flat curve -> its value
    assert a.loc[a["trial"] == 1, "aulc"].item() == pytest.approx(0.55)  # mean of 0.1..1.0
    bad = a[a["trial"] == 2].iloc[0]
    assert np.isnan(bad["aulc"]) and bad["diverged"] and bad["epochs"] == 10
    s = an.aulc_summary(a).iloc[0]
    assert s["mean"] == pytest.approx((0.7 + 0.55) / 2)
    assert (s["n"], s["n_runs"], s["n_diverged"]) == (2, 3, 1)
    # another metric by name; lower is better metrics are just averaged
    assert an.aulc(f, metric="mse").loc[0, "aulc"] == pytest.approx(0.3)


# --------------------------------------------------------------------------- curves
def test_subset_curve_mean_and_spread():
    f = frame(run(np.full(3, 0.5), sizes=[10, 8, 6], trial=0),
              run(np.full(3, 0.5), sizes=[10, 6, 2], trial=1),
              run(np.full(3, 0.5), sizes=[10, 1, 1], trial=2, diverge_at=2))
    sc = an.subset_curve(f)
    assert sc["mean"].tolist() == [10, 7, 4]
    assert sc["std"].tolist() == pytest.approx([0, np.sqrt(2), np.sqrt(8)])
    assert sc["min"].tolist() == [10, 6, 2] and sc["max"].tolist() == [10, 8, 6]
    assert sc["n"].tolist() == [2, 2, 2]


def test_learning_curve_interval_matches_scipy():
    vals = [0.6, 0.7, 0.9, 0.8]
    f = frame(*[run([0.5, v], trial=i, sizes=[i + 1, i + 1]) for i, v in enumerate(vals)])
    lc = an.learning_curve(f)
    last = lc[lc["epoch"] == 2].iloc[0]
    lo, hi = stats.t.interval(0.95, len(vals) - 1, loc=np.mean(vals), scale=stats.sem(vals))
    assert last["mean"] == pytest.approx(np.mean(vals))
    assert (last["ci_low"], last["ci_high"]) == pytest.approx((lo, hi))
    assert last["presentations_mean"] == pytest.approx(np.mean([2, 4, 6, 8]))
    assert lc["metric"].eq("accuracy").all()


def test_synthetic_frame_has_the_engine_schema():
    f = an.synthetic_frame(("iris", "energy-efficiency"), trials=1, folds=2, epochs=5,
                           diverge=[("iris", "sasla", 0, 1, 3)])
    base = ["dataset", "strategy", "trial", "fold", "epoch", "subset_size", "labels_used",
            "presentations", "scored", "diverged", "wall_s", "train_loss", "val_loss"]
    assert all(c in f.columns for c in base + list(CLS) + list(REG) + ["mse_heating"])
    assert set(f.loc[f["dataset"] == "energy-efficiency", "strategy"]) == \
        {"passive", "sasla", "ensemble", "random"}
    d = f[(f["strategy"] == "sasla") & (f["fold"] == 1) & (f["dataset"] == "iris")]
    assert d["diverged"].tolist() == [False, False, True, True, True]
    assert d["accuracy"].isna().tolist() == [False, False, True, True, True]
    assert an.finals(f)["diverged"].sum() == 1
