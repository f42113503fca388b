"""alnn.run and alnn.grid_search on small synthetic problems: the frame, seeds, shards, divergence."""

import numpy as np
import pandas as pd
import pytest

import alnn
from alnn.datasets import Dataset
from alnn.model import TrainConfig
from alnn.experiment import grid_search, run

CFG = TrainConfig(hidden=6, lr=0.2, weight_decay=0.001, momentum=0.5, batch_size=8)


def _classification(n=60, d=3, C=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % C
    X = (rng.normal(size=(n, d)) + y[:, None]).astype(np.float32)
    return Dataset(name="toy-c", task="classification", X=X, y=y.astype(np.int64),
                   feature_names=tuple(f"x{i}" for i in range(d)), class_names=tuple(f"k{c}" for c in range(C)))


def _regression(n=50, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=(n, 2)).astype(np.float32)
    y = np.stack([np.sin(X[:, 0]) * 10 + 5, X[:, 1] * 2], axis=1).astype(np.float32)
    return Dataset(name="toy-r", task="regression", X=X, y=y, feature_names=("a", "b"),
                   target_names=("Heating Load", "cool"))


def _run(ds, strategy, **kw):
    args = dict(config=CFG, trials=2, folds=3, epochs=5, seed=3, progress=False)
    args.update(kw)
    return run(ds, strategy, **args)


def test_classification_frame_schema_and_counts():
    ds = _classification()
    frame = _run(ds, "passive")
    assert list(frame.columns) == [
        "dataset", "strategy", "trial", "fold", "epoch", "subset_size", "labels_used", "presentations", "scored",
        "macs_train", "macs_select", "macs", "diverged", "wall_s", "train_loss", "val_loss", "accuracy", "f1", "precision", "recall", "mcc", "mse"]
    assert len(frame) == 2 * 3 * 5
    assert frame.groupby(["trial", "fold"]).epoch.apply(list).map(lambda e: e == [1, 2, 3, 4, 5]).all()
    assert (frame.subset_size == 40).all() and (frame.labels_used == 40).all() and (frame.scored == 0).all()
    assert (frame.presentations == 40 * frame.epoch).all()
    assert not frame.diverged.any() and frame.diverged.dtype == bool
    assert frame.accuracy.between(0, 1).all() and np.isfinite(frame.val_loss).all()
    assert np.allclose(frame.mse, frame.val_loss / 3)  # sum over K vs mean over K
    wall = frame.pivot(index="epoch", columns=["trial", "fold"], values="wall_s")
    assert (wall.diff().iloc[1:] > 0).all().all() and (wall.nunique(axis=1) == 1).all()  # one clock per call


def test_regression_frame_has_per_target_columns_in_original_units():
    frame = _run(_regression(), "sasla", epochs=3)
    assert list(frame.columns)[16:] == [
        "mse", "rmse", "mae", "r2", "mse_heating_load", "mse_cool", "rmse_heating_load", "rmse_cool",
        "mae_heating_load", "mae_cool", "r2_heating_load", "r2_cool"]
    np.testing.assert_allclose(frame.mse, (frame.mse_heating_load + frame.mse_cool) / 2)
    assert (frame.mse_heating_load > frame.val_loss).all()  # original units (scale 10) vs standardised


def test_pool_strategies_count_labels_presentations_and_scores():
    ds = _classification()
    ent = _run(ds, "entropy", params={"query_size": 2, "tau": 2})
    one = ent[(ent.trial == 0) & (ent.fold == 0)]
    assert one.subset_size.tolist() == [4, 4, 6, 6, 8]  # min(10% of 40, 10) = 4, +2 every 2 epochs
    assert one.labels_used.tolist() == one.subset_size.tolist()
    assert one.presentations.tolist() == np.cumsum(one.subset_size).tolist()
    assert one.scored.tolist() == [0, 0, 36, 36, 70]
    ens = _run(ds, "ensemble")
    one = ens[(ens.trial == 1) & (ens.fold == 2)]
    assert one.presentations.tolist() == (3 * np.cumsum(one.subset_size)).tolist()
    rnd = _run(ds, "random")
    assert (rnd.scored == 0).all()
    assert (rnd.groupby(["trial", "fold"]).subset_size.max() == 8).all()


@pytest.mark.parametrize("strategy", ["passive", "sasla", "entropy", "ensemble", "random"])
def test_same_seed_same_frame_and_shards_match_the_whole_run(strategy):
    ds = _classification()
    whole = _run(ds, strategy, trials=3, epochs=4)
    again = _run(ds, strategy, trials=3, epochs=4)
    pd.testing.assert_frame_equal(whole.drop(columns="wall_s"), again.drop(columns="wall_s"))
    shard = _run(ds, strategy, trials=2, trial_start=1, epochs=4)
    part = whole[whole.trial >= 1].reset_index(drop=True)
    pd.testing.assert_frame_equal(shard.drop(columns="wall_s"), part.drop(columns="wall_s"))
    other = _run(ds, strategy, trials=3, epochs=4, seed=4)
    assert not np.allclose(other.val_loss, whole.val_loss)


def test_common_random_numbers_across_strategies():
    ds = _classification()
    passive, sasla = _run(ds, "passive"), _run(ds, "sasla")
    cols = ["train_loss", "val_loss", "accuracy", "presentations"]
    first = lambda f: f[f.epoch == 1][cols].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(first(passive), first(sasla))  # same weights, same batches in epoch 1
    _, m1 = _run(ds, "entropy", return_masks=True)
    _, m2 = _run(ds, "ensemble", return_masks=True)
    assert all(np.array_equal(m1[k]["mask"][0], m2[k]["mask"][0]) for k in m1)  # same initial labelled set


def test_return_masks():
    ds = _classification()
    frame, masks = _run(ds, "sasla", params={"beta": 0.5}, return_masks=True)
    assert sorted(masks) == [(t, f) for t in range(2) for f in range(3)]
    for (t, f), entry in masks.items():
        rows = frame[(frame.trial == t) & (frame.fold == f)]
        assert entry["mask"].shape == (5, len(entry["pool"])) == (5, 40)
        assert entry["mask"].sum(axis=1).tolist() == rows.subset_size.tolist()
        assert entry["mask"][0].all()  # SASLA's first epoch trains on the whole pool
    for t in range(2):  # 3-fold CV: every pattern is in the pools of exactly two folds
        counts = np.bincount(np.concatenate([masks[(t, f)]["pool"] for f in range(3)]), minlength=60)
        assert (counts == 2).all()


def test_sasla_scores_are_phi_at_selection_epochs_and_give_the_mask():
    ds = _classification()
    beta = 0.5
    _, masks = _run(ds, "sasla", params={"beta": beta, "tau": 2}, return_masks=True)
    for entry in masks.values():
        score, mask = entry["score"], entry["mask"]
        assert score.shape == mask.shape == (5, 40) and score.dtype == np.float32
        # selections at the start of epochs 3 and 5 (tau = 2); no value carried to the others
        assert np.isnan(score[[0, 1, 3]]).all() and np.isfinite(score[[2, 4]]).all()
        assert (score[[2, 4]] >= 0).all()
        labels = ds.y[entry["pool"]]
        for e in (2, 4):
            phi = score[e]
            threshold = (1 - beta) * phi.mean(dtype=np.float64)
            clear = np.abs(phi - threshold) > 1e-6 * max(threshold, 1e-30)  # away from the float boundary
            rule = phi > threshold
            extra = mask[e] & ~rule
            assert not (rule & ~mask[e] & clear).any()  # everything above the threshold is kept
            for p in np.flatnonzero(extra & clear):  # the class safety: the most informative of a lost class
                k = labels[p]
                assert not rule[labels == k].any() and phi[p] == phi[labels == k].max()
        assert np.array_equal(mask[3], mask[2])  # no selection at epoch 4


@pytest.mark.parametrize("strategy,problem", [("entropy", _classification), ("ensemble", _classification),
                                              ("ensemble", _regression)])
def test_pool_strategy_scores_are_the_utilities_of_the_unlabelled(strategy, problem):
    ds = problem()
    _, masks = _run(ds, strategy, params={"query_size": 3}, epochs=20, return_masks=True)
    for entry in masks.values():
        score, mask = entry["score"], entry["mask"]
        assert score.shape == mask.shape and score.dtype == np.float32
        assert np.isnan(score[0]).all()  # no query before epoch 1
        for e in range(1, mask.shape[0]):
            before, after = mask[e - 1], mask[e]
            if before.all():  # U empty: no query, no score
                assert np.isnan(score[e]).all() and np.array_equal(after, before)
                continue
            assert np.isnan(score[e][before]).all() and np.isfinite(score[e][~before]).all()
            queried = after & ~before
            assert queried.sum() == min(3, (~before).sum())
            rest = ~after
            if rest.any():
                assert score[e][queried].min() >= score[e][rest].max()
        assert mask[-1].all()  # a few + 19 x 3 >= 40: the pool is labelled by the end


@pytest.mark.parametrize("strategy", ["passive", "random"])
def test_strategies_without_scores_have_no_score_key(strategy):
    from alnn.pipeline import diagnostics_frame

    _, masks = _run(_classification(), strategy, return_masks=True)
    assert all(set(entry) == {"pool", "mask"} for entry in masks.values())
    assert list(diagnostics_frame(masks[(0, 0)]).columns) == ["epoch", "pattern", "selected"]


def test_scores_become_a_diagnostics_column():
    from alnn.pipeline import diagnostics_frame

    _, masks = _run(_classification(), "sasla", return_masks=True)
    diag = diagnostics_frame(masks[(0, 0)])
    assert list(diag.columns) == ["epoch", "pattern", "selected", "score"]
    assert diag.loc[diag.epoch == 1, "score"].isna().all() and diag.loc[diag.epoch > 1, "score"].notna().all()


def test_a_diverging_run_is_flagged_and_blanked():
    frame = _run(_regression(), "passive", config=TrainConfig(hidden=6, lr=1e8, weight_decay=0, momentum=0.9,
                                                                 batch_size=8), epochs=4)
    assert frame.groupby(["trial", "fold"]).diverged.any().all()
    dead = frame[frame.diverged]
    assert dead[["train_loss", "val_loss", "mse", "r2", "mse_cool"]].isna().all().all()
    assert (frame.groupby(["trial", "fold"]).diverged.apply(lambda d: d.is_monotonic_increasing)).all()


def test_grid_search_rows_and_divergence_isolation():
    ds = _classification()
    a = TrainConfig(hidden=6, lr=0.1, weight_decay=0.0, momentum=0.5, batch_size=8)
    b = TrainConfig(hidden=6, lr=1e9, weight_decay=0.0, momentum=0.9, batch_size=8)
    c = TrainConfig(hidden=6, lr=0.3, weight_decay=0.01, momentum=0.9, batch_size=8)
    d = TrainConfig(hidden=4, lr=0.3, weight_decay=0.01, momentum=0.9, batch_size=8)
    kw = dict(folds=3, epochs=6, seed=1, progress=False)
    grid = grid_search(_regression(), [a, b, c, d], **kw)
    assert list(grid.columns)[:9] == ["hidden", "lr", "weight_decay", "momentum", "batch_size", "fold", "val_loss",
                                      "diverged", "train_loss"]
    assert len(grid) == 12 and grid.fold.tolist() == [0, 1, 2] * 4 and grid.lr.tolist()[3:6] == [1e9] * 3
    assert grid.diverged.tolist()[3:6] == [True] * 3 and grid.val_loss[3:6].isna().all()
    assert not grid.diverged[[0, 1, 2, 6, 7, 8, 9, 10, 11]].any()
    without = grid_search(_regression(), [a, c, d], **kw)
    pd.testing.assert_frame_equal(grid.drop(index=[3, 4, 5]).reset_index(drop=True), without)
    cls = grid_search(ds, [a], **kw)
    assert {"accuracy", "mcc", "mse"} <= set(cls.columns) and len(cls) == 3


def test_bad_arguments_fail_before_any_work(monkeypatch):
    import alnn.preprocess

    def boom(*args, **kwargs):
        raise AssertionError("work started")

    monkeypatch.setattr(alnn.preprocess, "splits", boom)
    ds = _classification()
    for strategy, params in (("sasla", {"beta": 2}), ("nope", None), ("entropy", {"query_size": 41})):
        with pytest.raises(ValueError):
            _run(ds, strategy, params=params)
    with pytest.raises(ValueError, match="classification-only"):
        _run(_regression(), "entropy")
    with pytest.raises(ValueError, match="epochs"):
        _run(ds, "passive", epochs=0)
    with pytest.raises(TypeError, match="TrainConfig"):
        _run(ds, "passive", config={"hidden": 3})


def test_package_level_entry_points_and_progress_bar(capsys):
    import alnn.experiment  # noqa: F401  the engine module has its own name: alnn.run stays the function

    frame = alnn.run(_classification(), "passive", config=CFG, trials=1, folds=2, epochs=2, seed=0, progress=True)
    assert len(frame) == 4
    assert alnn.TrainConfig is TrainConfig and alnn.grid_search is grid_search
    assert alnn.run.__wrapped__ is run and callable(alnn.run)  # takes a problem's name as well
