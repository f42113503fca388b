"""The budget protocol (SPEC 3b) against separately computed references.

References: torch.nn + torch.optim.SGD networks trained on the round's
labelled set alone (cold start); a hand-written loop of `BatchedMLP` epochs
(warm start, bit for bit); `alnn.strategies.sasla.informativeness` on the same
weights (the sensitivity query); `alnn.run` (the passive ceiling shares the
draft protocol's networks).
"""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats as st

import alnn
from alnn import config as C
from alnn import pipeline as P
from alnn import store as S
from alnn.budget import run_budget, schedule
from alnn.engine import INIT as _INIT, SHUFFLE as _SHUFFLE, SPLIT as _SPLIT, split_seed as _split_seed
from alnn.model import BatchedMLP, TrainConfig, seed_words, shuffle_order
from alnn.preprocess import prepare, splits
from alnn.strategies.entropy import allocate, initial_labelled
from alnn.strategies.sasla import informativeness
from reference import torch_network

CFG = TrainConfig(hidden=6, lr=0.2, weight_decay=0.001, momentum=0.5, batch_size=8)
SEED = 11


@pytest.fixture(scope="module")
def iris():
    return alnn.datasets.load("iris")


@pytest.fixture(scope="module")
def sine():
    return alnn.datasets.load("sine")


# --------------------------------------------------------------------------- the schedule


@pytest.mark.parametrize("pool,b0,n", [(120, 10, 10), (3200, 10, 10), (142, 10, 8), (16512, 10, 14), (30, 3, 8)])
def test_geometric_schedule_is_monotone_with_exact_ends(pool, b0, n):
    b = schedule(pool, b0, "geometric", n, 1.0)
    assert b[0] == b0 and b[-1] == pool
    assert all(y > x for x, y in zip(b, b[1:]))
    assert len(b) == n >= 8
    # evenly spaced on the log scale up to rounding: each ratio within rounding of the common ratio
    ratio = (pool / b0) ** (1 / (n - 1))
    expected = b0 * ratio ** np.arange(n)
    assert np.all(np.abs(np.array(b) - expected) <= np.maximum(1.0, 0.02 * expected) + np.arange(n) * 0)


def test_schedule_from_counts_fractions_and_a_partial_pool():
    assert schedule(120, 10, "geometric", 8, 0.5)[-1] == 60
    assert schedule(120, 10, "geometric", 8, 90)[-1] == 90
    assert schedule(120, 10, [10, 0.25, 0.5, 1.0]) == [10, 30, 60, 120]
    assert schedule(12, 10, "geometric", 10, 1.0) == [10, 11, 12]  # fewer integers than budgets


@pytest.mark.parametrize("args,match", [
    ((120, 10, "linear"), "valid: 'geometric'"),
    ((120, 10, [10, 5]), "must increase"),
    ((120, 10, [10, 200]), "smallest training pool holds 120"),
    ((120, 10, "geometric", 10, 0.05), "not more than the initial"),
])
def test_bad_schedules_are_named(args, match):
    with pytest.raises(ValueError, match=match):
        schedule(*args)


# --------------------------------------------------------------------------- references


def _fold(ds, t, f, folds):
    tr, va = splits(ds, folds, _split_seed(SEED, _SPLIT, t))[f]
    return prepare(ds, tr, va)


def _torch_reference(ds, fold, t, f, labelled_positions, epochs, steps=None, shown=None):
    """A torch.nn network from the trial's initial weights, trained for ``epochs`` on L alone (float64);
    its mini-batches are the engine's shuffle of L (`shuffle_order`, epochs 1 .. epochs) cut by
    numpy.array_split into ceil(|L| / B) pieces (balanced batches).  With ``steps``: epochs over L
    until exactly that many SGD steps are done; ``shown`` (a list) gets each batch's size."""
    I, K = fold.X_train.shape[1], fold.T_train.shape[1]
    net, opt = torch_network((SEED, _INIT, t, f, 0), I, K, CFG, sigmoid_output=ds.task == "classification")
    X = torch.as_tensor(fold.X_train, dtype=torch.float64)
    T = torch.as_tensor(fold.T_train, dtype=torch.float64)
    mask = torch.zeros(1, len(X), dtype=torch.bool)
    mask[0, labelled_positions] = True
    stream = torch.as_tensor([seed_words(SEED, _SHUFFLE, t, f, 0)])
    n = int(mask.sum())
    done = 0
    for e in range(1, (epochs if steps is None else steps) + 1):
        if steps is not None and done == steps:
            break
        order = shuffle_order(stream, e, mask)[0, :n]
        for idx in np.array_split(order.numpy(), -(-n // CFG.batch_size)):
            if steps is not None and done == steps:
                break
            done += 1
            if shown is not None:
                shown.append(len(idx))
            opt.zero_grad()
            loss = ((net(X[idx]) - T[idx]) ** 2).sum(dim=1).mean()
            loss.backward()
            opt.step()
    with torch.no_grad():
        out = net(torch.as_tensor(fold.X_val, dtype=torch.float64))
        return float(((out - torch.as_tensor(fold.T_val, dtype=torch.float64)) ** 2).sum(dim=1).mean())


def _positions(record, fold):
    """Pool positions (rows of fold.X_train) of every round's labelled set."""
    where = {int(p): i for i, p in enumerate(fold.train_idx)}
    assert list(record["pool"]) == list(fold.train_idx)
    return [np.flatnonzero(row) for row in record["labelled"]]


@pytest.mark.parametrize("strategy", ["random", "entropy", "sensitivity"])
def test_cold_start_round_equals_a_network_trained_on_that_labelled_set_alone(iris, strategy):
    frame, lab = run_budget(iris, strategy, config=CFG, trials=1, folds=3, round_epochs=4, seed=SEED,
                            schedule_kind=[6, 12, 25], progress=False, return_labelled=True,
                            round_training="epochs")
    for f in range(3):
        fold = _fold(iris, 0, f, 3)
        rounds = _positions(lab[(0, f)], fold)
        for r, pos in enumerate(rounds):
            got = frame.query("fold == @f and round == @r")["val_loss"].item()
            want = _torch_reference(iris, fold, 0, f, pos, 4)
            assert got == pytest.approx(want, rel=2e-4, abs=1e-6)


@pytest.mark.parametrize("strategy", ["random", "entropy"])
def test_steps_rounds_equal_torch_networks_trained_exactly_S_steps_on_L(iris, strategy):
    """round_training="steps": every round takes S = round_epochs x ceil(P / b) steps (P the smallest
    pool), the same at every budget; its network equals a torch.nn + SGD network trained exactly S
    steps on L from the trial's initial weights with the same mini-batches; presentations are the
    sum of the batch sizes."""
    folds, epochs = 3, 2
    frame, lab = run_budget(iris, strategy, config=CFG, trials=1, folds=folds, round_epochs=epochs, seed=SEED,
                            schedule_kind=[6, 12, 25, 60], progress=False, return_labelled=True)
    pool = len(iris.y) - -(-len(iris.y) // folds)
    S = epochs * -(-pool // CFG.batch_size)
    assert set(frame["steps"]) == {S}
    for f in range(folds):
        fold = _fold(iris, 0, f, folds)
        rounds = _positions(lab[(0, f)], fold)
        total = 0
        for r, pos in enumerate(rounds):
            row = frame.query("fold == @f and round == @r")
            shown = []
            want = _torch_reference(iris, fold, 0, f, pos, epochs, steps=S, shown=shown)
            assert len(shown) == S and max(shown) <= CFG.batch_size
            total += sum(shown)
            assert row["presentations"].item() == total
            assert row["val_loss"].item() == pytest.approx(want, rel=2e-4, abs=1e-6)


def test_converge_stops_a_network_at_99_percent_training_accuracy_and_keeps_the_cap(iris):
    """round_training="converge": at the checkpoints (every ceil(P / b) steps) a network whose training
    accuracy on L has reached 99% stops; one that has not goes on, at most S steps; each equals a
    torch.nn network trained the steps it took."""
    folds, epochs = 3, 6
    frame, lab = run_budget(iris, "random", config=CFG, trials=1, folds=folds, round_epochs=epochs, seed=SEED,
                            schedule_kind=[6, 60], progress=False, return_labelled=True, round_training="converge")
    pool = len(iris.y) - -(-len(iris.y) // folds)
    check = -(-pool // CFG.batch_size)
    S = epochs * check
    steps = frame["steps"].to_numpy()
    assert steps.max() <= S
    assert (steps < S).any() and (frame["train_accuracy"] >= 0.99).any()
    for _, row in frame.iterrows():
        if row["steps"] < S:  # stopped early: at 99% training accuracy
            assert row["train_accuracy"] >= 0.99
        f, r = int(row["fold"]), int(row["round"])
        fold = _fold(iris, 0, f, folds)
        pos = _positions(lab[(0, f)], fold)[r]
        want = _torch_reference(iris, fold, 0, f, pos, epochs, steps=int(row["steps"]))
        assert row["val_loss"] == pytest.approx(want, rel=2e-4, abs=1e-6)


def test_a_network_blown_up_to_a_huge_finite_loss_is_flagged_frozen_and_left_out(sine):
    """Divergence (SPEC 4): a training loss above 1e3 times the first epoch's is diverged though finite;
    the network is frozen (metrics NaN) and its neighbours are exactly as in a run without it."""
    from alnn.experiment import run

    cfg = TrainConfig(hidden=6, lr=0.2, weight_decay=0.0, momentum=0.5, batch_size=8)
    calm = run(sine, "passive", config=cfg, trials=2, folds=2, epochs=6, seed=SEED, progress=False)
    from alnn import engine

    original = engine.BatchedMLP.train_epoch

    def blow_up(self, *a, **k):
        sse, shown = original(self, *a, **k)
        epoch = a[6]
        if epoch == 3:  # network 1 reports a loss 1e4 times its first epoch's: finite, but blown up
            sse = sse.clone()
            sse[1] = sse[1] * 1e4
        return sse, shown

    try:
        engine.BatchedMLP.train_epoch = blow_up
        hot = run(sine, "passive", config=cfg, trials=2, folds=2, epochs=6, seed=SEED, progress=False)
    finally:
        engine.BatchedMLP.train_epoch = original
    net1 = (hot["trial"] == 0) & (hot["fold"] == 1)
    assert np.isfinite(hot.loc[net1 & (hot["epoch"] == 3), "train_loss"]).all() == False  # noqa: E712
    assert hot.loc[net1 & (hot["epoch"] >= 3), "diverged"].all()
    assert not hot.loc[net1 & (hot["epoch"] < 3), "diverged"].any()
    assert hot.loc[net1 & (hot["epoch"] >= 3), "mse"].isna().all()
    others = ~net1
    pd.testing.assert_frame_equal(hot[others].drop(columns="wall_s"), calm[others].drop(columns="wall_s"))
    assert not hot.loc[others, "diverged"].any()


def test_inner_folds_are_stratified_and_cover_L_once(iris):
    from alnn.budget import inner_folds
    from alnn.engine import prepare as _prepare

    data, strat, *_ = _prepare(iris, "random", None, trials=1, folds=3, seed=SEED, trial_start=0, device="cpu",
                               initial=30)
    mask = strat.initial(data.pool)
    folds = inner_folds(data.pool, mask, 7, 3)
    assert torch.equal(folds >= 0, mask)
    for l in range(mask.shape[0]):
        lab = data.pool.labels[l][mask[l]].numpy()
        fo = folds[l][mask[l]].numpy()
        for c in np.unique(lab):
            counts = np.bincount(fo[lab == c], minlength=3)
            assert counts.max() - counts.min() <= 1


def test_per_budget_hyper_choice_equals_an_exhaustive_cv_on_L(iris):
    """hyper="per-budget": the chosen (lr, weight decay) of every model and round is the argmin of the
    mean held-out loss of an exhaustive 3-fold CV on L alone, computed separately with torch.nn
    networks trained the same S steps on the same inner folds and mini-batches."""
    from alnn.budget import HYPER_LR, HYPER_WEIGHT_DECAY, inner_folds
    from alnn.engine import prepare as _prepare

    cfg = TrainConfig(hidden=4, lr=0.2, weight_decay=0.0, momentum=0.5, batch_size=8)
    folds, epochs = 2, 1
    frame, lab = run_budget(iris, "random", config=cfg, trials=1, folds=folds, round_epochs=epochs, seed=SEED,
                            schedule_kind=[12, 24], progress=False, return_labelled=True, hyper="per-budget")
    data, *_ = _prepare(iris, "random", None, trials=1, folds=folds, seed=SEED, trial_start=0, device="cpu",
                        initial=12)
    pool = len(iris.y) - -(-len(iris.y) // folds)
    S = epochs * -(-pool // cfg.batch_size)
    for f in range(folds):
        fold = _fold(iris, 0, f, folds)
        X = torch.as_tensor(fold.X_train, dtype=torch.float64)
        T = torch.as_tensor(fold.T_train, dtype=torch.float64)
        stream = torch.as_tensor([seed_words(SEED, _SHUFFLE, 0, f, 0)])
        for r, labelled in enumerate(lab[(0, f)]["labelled"]):
            mask = torch.zeros(1, data.pool.valid.shape[1], dtype=torch.bool)
            mask[0, : len(labelled)] = torch.as_tensor(labelled)
            sub = type(data.pool)(valid=data.pool.valid[f:f + 1], length=data.pool.length[f:f + 1],
                                  labels=data.pool.labels[f:f + 1], n_classes=data.pool.n_classes,
                                  init_stream=data.pool.init_stream[f:f + 1],
                                  query_stream=data.pool.query_stream[f:f + 1])
            inner = inner_folds(sub, mask, (1 << 20) + r, 3)[0, : len(labelled)].numpy()
            scores = []
            for lr in HYPER_LR:
                for wd in HYPER_WEIGHT_DECAY:
                    c = TrainConfig(hidden=cfg.hidden, lr=lr, weight_decay=wd, momentum=cfg.momentum,
                                    batch_size=cfg.batch_size)
                    losses = []
                    for k in range(3):
                        train = np.flatnonzero((inner >= 0) & (inner != k))
                        val = np.flatnonzero(inner == k)
                        net, opt = torch_network((SEED, _INIT, 0, f, 0), X.shape[1], T.shape[1], c)
                        m = torch.zeros(1, len(X), dtype=torch.bool)
                        m[0, train] = True
                        n, done = len(train), 0
                        for e in range(1, S + 1):
                            order = shuffle_order(stream, e, m)[0, :n].numpy()
                            for idx in np.array_split(order, -(-n // c.batch_size)):
                                if done == S:
                                    break
                                done += 1
                                opt.zero_grad()
                                ((net(X[idx]) - T[idx]) ** 2).sum(dim=1).mean().backward()
                                opt.step()
                            if done == S:
                                break
                        with torch.no_grad():
                            losses.append(float(((net(X[val]) - T[val]) ** 2).sum(dim=1).mean()))
                    scores.append((np.mean(losses), lr, wd))
            best = min(scores, key=lambda x: x[0])  # ties: the grid's order (min keeps the first)
            row = frame.query("fold == @f and round == @r")
            assert (row["lr"].item(), row["weight_decay"].item()) == (best[1], best[2])


def _engine_loop(ds, fold_list, masks_per_round, round_epochs, balanced=True):
    """Warm start by hand: one BatchedMLP, epoch counters continuing, the mask switched at round ends."""
    from alnn.engine import build as _build

    L = len(fold_list)
    data = _build(ds, iter(fold_list), [((0, 0), (0, 0))] * L, torch.device("cpu"), torch.float32)
    I, K = data.X.shape[1], data.T.shape[1]
    net = BatchedMLP.initialise([(SEED, _INIT, 0, f, 0) for f in range(L)], I, CFG.hidden, K,
                                output="sigmoid" if ds.task == "classification" else "linear", lr=CFG.lr,
                                momentum=CFG.momentum, weight_decay=CFG.weight_decay)
    stream = torch.as_tensor([seed_words(SEED, _SHUFFLE, 0, f, 0) for f in range(L)])
    states, val = [], []
    for r, mask in enumerate(masks_per_round):
        for e in range(1, round_epochs + 1):
            net.train_epoch(data.X, data.T, data.pool_x, data.pool_t, mask, stream, r * round_epochs + e,
                            CFG.batch_size, balanced=balanced)
        states.append([p.clone() for p in net.parameters()])
        out = net.predict(data.X, data.val_x)
        tv = data.T.index_select(0, data.val_t.reshape(-1)).view(L, -1, K)
        se = torch.where(data.val_valid.unsqueeze(2), (out - tv) ** 2, torch.zeros_like(out))
        val.append((se.sum(dim=(1, 2)).double() / data.val_len).numpy())
    return states, np.array(val), data


def test_warm_start_continues_bit_for_bit(sine):
    frame, lab = run_budget(sine, "random", config=CFG, trials=1, folds=2, round_epochs=3, seed=SEED,
                            start="warm", schedule_kind=[10, 20, 40, 80], progress=False, return_labelled=True, round_training="epochs")
    folds = [_fold(sine, 0, f, 2) for f in range(2)]
    P = max(len(f.train_idx) for f in folds)
    masks = []
    for r in range(4):
        m = torch.zeros(2, P, dtype=torch.bool)
        for f in range(2):
            m[f, : lab[(0, f)]["labelled"].shape[1]] = torch.as_tensor(lab[(0, f)]["labelled"][r])
        masks.append(m)
    _, val, _ = _engine_loop(sine, folds, masks, 3)
    got = frame.sort_values(["round", "fold"])["val_loss"].to_numpy().reshape(4, 2)
    np.testing.assert_array_equal(got, val)


def test_sensitivity_queries_exactly_the_top_phi_unlabelled_patterns(iris):
    frame, lab = run_budget(iris, "sensitivity", config=CFG, trials=1, folds=2, round_epochs=3, seed=SEED,
                            start="warm", schedule_kind=[6, 15, 30], progress=False, return_labelled=True, round_training="epochs")
    folds = [_fold(iris, 0, f, 2) for f in range(2)]
    P = max(len(f.train_idx) for f in folds)
    masks = [torch.as_tensor(np.stack([lab[(0, f)]["labelled"][r] for f in range(2)])) for r in range(3)]
    assert P == masks[0].shape[1]
    states, _, data = _engine_loop(iris, folds, masks, 3)
    for r in range(2):
        for f in range(2):
            V, b, W, c = (p[f].double().numpy() for p in states[r])
            phi = informativeness(folds[f].X_train.astype(np.float64), V, b, W, c, output="sigmoid", norm="sum")
            L_now, L_next = masks[r][f].numpy(), masks[r + 1][f].numpy()
            assert not np.any(L_now & ~L_next)  # nothing leaves L
            added = np.flatnonzero(L_next & ~L_now)
            unl = np.flatnonzero(~L_now)
            top = unl[np.argsort(-phi[unl], kind="stable")[: len(added)]]
            assert sorted(added) == sorted(top)
            assert len(added) == [15, 30][r] - [6, 15][r]


def test_query_sizes_are_exact_and_labelled_sets_only_grow(iris):
    for strategy in ("random", "entropy", "ensemble", "sensitivity"):
        frame, lab = run_budget(iris, strategy, config=CFG, trials=2, folds=3, round_epochs=1, seed=SEED,
                                progress=False, return_labelled=True, round_training="epochs")
        budgets = schedule(100, 10, "geometric", 10, 1.0)
        assert sorted(frame["budget"].unique()) == budgets
        assert (frame["labels_used"] == frame["budget"]).all()
        for rec in lab.values():
            sizes = rec["labelled"].sum(axis=1)
            assert list(sizes) == budgets
            assert not np.any(rec["labelled"][:-1] & ~rec["labelled"][1:])
        # presentations: cumulative budget x epochs x members
        members = 3 if strategy == "ensemble" else 1
        per = frame.groupby("round")["presentations"].first().to_numpy()
        np.testing.assert_array_equal(per, np.cumsum(budgets) * members)
        scored = frame.groupby("round")["scored"].first().to_numpy()
        want = 0 if strategy == "random" else np.concatenate([[0], np.cumsum(100 - np.array(budgets[:-1]))])
        np.testing.assert_array_equal(scored, want)


def test_passive_ceiling_is_the_draft_protocols_network_after_round_epochs(iris):
    """With a batch size that divides the pool (100 = 10 x 10) balanced batches are the draft's batches."""
    cfg = TrainConfig(hidden=6, lr=0.2, weight_decay=0.001, momentum=0.5, batch_size=10)
    ceiling = run_budget(iris, "passive", config=cfg, trials=2, folds=3, round_epochs=5, seed=SEED, progress=False)
    draft = alnn.run(iris, "passive", config=cfg, trials=2, folds=3, epochs=5, seed=SEED, progress=False)
    last = draft[draft["epoch"] == 5].reset_index(drop=True)
    assert (ceiling["round"] == 0).all() and (ceiling["budget"] == 100).all()
    for col in ("accuracy", "val_loss", "mse", "presentations"):
        np.testing.assert_array_equal(ceiling[col].to_numpy(), last[col].to_numpy())


def test_budget_runs_are_deterministic_and_shards_equal_a_whole_run(sine):
    kw = dict(config=CFG, folds=2, round_epochs=2, seed=SEED, progress=False)
    whole = run_budget(sine, "ensemble", trials=3, **kw)
    again = run_budget(sine, "ensemble", trials=3, **kw)
    part = run_budget(sine, "ensemble", trials=2, trial_start=1, **kw)
    drop = ["wall_s"]
    pd.testing.assert_frame_equal(whole.drop(columns=drop), again.drop(columns=drop))
    pd.testing.assert_frame_equal(whole[whole["trial"] >= 1].drop(columns=drop).reset_index(drop=True),
                                  part.drop(columns=drop).reset_index(drop=True))


@pytest.mark.parametrize("kwargs,match", [
    (dict(strategy="sasla"), "no budget-protocol form"),
    (dict(strategy="nope"), "unknown strategy 'nope'"),
    (dict(start="lukewarm"), "valid: cold, warm"),
    (dict(round_epochs=0), "round_epochs must be an integer >= 1"),
])
def test_bad_budget_settings_fail_with_one_line(iris, kwargs, match):
    args = dict(strategy="random", config=CFG, trials=1, folds=2, round_epochs=1, seed=0, progress=False)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        run_budget(iris, args.pop("strategy"), **args)


def test_entropy_has_no_regression_form(sine):
    with pytest.raises(ValueError, match="classification-only"):
        run_budget(sine, "entropy", config=CFG, trials=1, folds=2, round_epochs=1, seed=0, progress=False)


# --------------------------------------------------------------------------- the tie-break


def test_tied_allocation_sends_the_extra_pattern_to_every_class_equally_often():
    rng = np.random.default_rng(0)
    wins = np.zeros(3, dtype=int)
    for _ in range(3000):
        alloc = allocate([40, 40, 40], 10, rng.random(3))
        assert alloc.sum() == 10 and sorted(alloc) == [3, 3, 4]
        wins[int(np.argmax(alloc))] += 1
    assert st.chisquare(wins).pvalue > 1e-3
    assert list(allocate([40, 40, 40], 10)) == [4, 3, 3]  # without keys: class order (documented)


def test_initial_labelled_sets_of_iris_folds_vary_the_class_that_gets_the_extra_pattern(iris):
    from alnn.engine import LABELLED as _LABELLED, prepare as _prepare

    data = _prepare(iris, "random", None, trials=60, folds=5, seed=SEED, trial_start=0, device="cpu")[0]
    mask = initial_labelled(data.pool, None, stratified=True)
    labels = data.pool.labels
    counts = np.stack([np.bincount(labels[l][mask[l]].numpy(), minlength=3) for l in range(mask.shape[0])])
    assert set(map(tuple, counts)) <= {(4, 3, 3), (3, 4, 3), (3, 3, 4)}
    extra = counts.argmax(axis=1)
    freq = np.bincount(extra, minlength=3)
    assert freq.min() > 0 and st.chisquare(freq).pvalue > 1e-3, freq
    assert _LABELLED == 3


# --------------------------------------------------------------------------- the stage


def test_budget_stage_resumes_to_identical_numbers_and_recomputes_a_corrupted_shard(tmp_path):
    profile = C.load_profile("smoke")
    store = S.Store(tmp_path / "smoke")
    inline = C.Execution(workers=1, progress=False)
    P.data(profile, "iris", store=store)
    P.grid(profile, "iris", store=store, execution=inline)
    paths = P.budget(profile, "iris", ["random", "passive"], store=store, execution=inline)
    first = {s: P.read_budget(store, "iris", s) for s in paths}
    shards = sorted((tmp_path / "smoke" / "shards" / "iris" / "budget-random").glob("*.parquet"))
    assert shards
    shards[0].write_bytes(shards[0].read_bytes()[:100])  # truncated
    P.budget(profile, "iris", ["random", "passive"], store=store, execution=inline)
    for s in paths:
        pd.testing.assert_frame_equal(P.read_budget(store, "iris", s).drop(columns="wall_s"),
                                      first[s].drop(columns="wall_s"))
    with pytest.raises(C.ConfigError, match="no budget-protocol form"):
        P.budget(profile, "iris", ["sasla"], store=store, execution=inline)


def test_sensitivity_in_the_draft_protocol_queries_the_top_phi_pattern_on_entropys_schedule(iris):
    """Epoch 1 trains on L_0; at the start of epoch 2 the pattern of highest Phi in U joins L."""
    frame, masks = alnn.run(iris, "sensitivity", config=CFG, trials=1, folds=2, epochs=2, seed=SEED,
                            progress=False, return_masks=True)
    folds = [_fold(iris, 0, f, 2) for f in range(2)]
    L0 = torch.as_tensor(np.stack([masks[(0, f)]["mask"][0] for f in range(2)]))
    states, _, _ = _engine_loop(iris, folds, [L0], 1, balanced=False)  # the draft protocol's batches
    for f in range(2):
        V, b, W, c = (p[f].double().numpy() for p in states[0])
        phi = informativeness(folds[f].X_train.astype(np.float64), V, b, W, c, output="sigmoid", norm="sum")
        unl = np.flatnonzero(~L0[f].numpy())
        added = np.flatnonzero(masks[(0, f)]["mask"][1] & ~masks[(0, f)]["mask"][0])
        assert list(added) == [unl[np.argmax(phi[unl])]]
        rec = masks[(0, f)]["score"][1]
        np.testing.assert_allclose(rec[unl], phi[unl], rtol=1e-4)
        assert np.isnan(rec[L0[f].numpy()]).all()
    assert set(frame["subset_size"]) == {7, 8}  # min(10% of the 75-pattern pool, 10), then one query


def test_balanced_epoch_matches_torch_sgd_on_array_split_batches():
    """Balanced mini-batches: ceil(n / B) pieces of the shuffle, sizes as numpy.array_split gives them."""
    I, J, K, M, P, B = 3, 5, 2, 3, 40, 16
    g = torch.Generator().manual_seed(4)
    inputs = torch.randn(P, I, generator=g, dtype=torch.float64)
    targets = torch.rand(P, K, generator=g, dtype=torch.float64)
    rows = torch.arange(P).repeat(M, 1)
    mask = torch.zeros(M, P, dtype=torch.bool)
    for m, n in enumerate((17, 33, 40)):
        mask[m, torch.randperm(P, generator=g)[:n]] = True
    stream = torch.as_tensor([seed_words(9, m) for m in range(M)])
    net = BatchedMLP.initialise([(9, m) for m in range(M)], I, J, K, lr=0.5, momentum=0.9, dtype=torch.float64)
    refs = []
    for m in range(M):
        seq = torch.nn.Sequential(torch.nn.Linear(I, J), torch.nn.Sigmoid(), torch.nn.Linear(J, K),
                                  torch.nn.Sigmoid()).double()
        with torch.no_grad():
            for dst, src in zip((seq[0].weight, seq[0].bias, seq[2].weight, seq[2].bias), net.parameters()):
                dst.copy_(src[m])
        refs.append((seq, torch.optim.SGD(seq.parameters(), lr=0.5, momentum=0.9)))
    for epoch in (1, 2):
        net.train_epoch(inputs, targets, rows, rows, mask, stream, epoch, B, balanced=True)
        order = shuffle_order(stream, epoch, mask)
        for m, (seq, opt) in enumerate(refs):
            n = int(mask[m].sum())
            pieces = np.array_split(order[m, :n].numpy(), -(-n // B))
            assert max(map(len, pieces)) - min(map(len, pieces)) <= 1
            for idx in pieces:
                opt.zero_grad()
                ((seq(inputs[idx]) - targets[idx]) ** 2).sum(dim=1).mean().backward()
                opt.step()
    for m, (seq, _) in enumerate(refs):
        for mine, theirs in zip(net.parameters(), (seq[0].weight, seq[0].bias, seq[2].weight, seq[2].bias)):
            np.testing.assert_allclose(mine[m].detach().numpy(), theirs.detach().numpy(), atol=1e-10)


def test_precision_reaches_the_engine_from_the_profile_and_the_entry_points(iris, tmp_path):
    """bfloat16 products change the numbers a little, never the shape; a bad precision is named."""
    kw = dict(config=CFG, trials=1, folds=2, round_epochs=3, seed=SEED, progress=False)
    ref = run_budget(iris, "random", **kw)
    bf = run_budget(iris, "random", precision="bfloat16", **kw)
    assert ref.shape == bf.shape and not np.array_equal(ref["val_loss"], bf["val_loss"])
    np.testing.assert_allclose(bf["val_loss"], ref["val_loss"], rtol=0.2)
    with pytest.raises(ValueError, match="precision must be one of"):
        alnn.run(iris, "passive", config=CFG, trials=1, folds=2, epochs=1, seed=0, progress=False, precision="fp8")
    raw = {"defaults": {"chunk": 1, "seeds": {"grid": 1, "trials": 2},
                        "problems": {p: {"batch_size": 8} for p in alnn.datasets.NAMES}},
           "smoke": {"trials": 1, "folds": 2, "epochs": 1, "grid_folds": 2, "grid_epochs": 1, "precision": "bfloat16",
                     "grid": {"hidden": [2], "lr": [0.1], "weight_decay": [0.0], "momentum": [0.0]}},
           "quick": {"trials": 1, "folds": 2, "epochs": 1, "grid_folds": 2, "grid_epochs": 1, "precision": "fp16",
                     "grid": {"hidden": [2], "lr": [0.1], "weight_decay": [0.0], "momentum": [0.0]}},
           "full": {"trials": 1, "folds": 2, "epochs": 1, "grid_folds": 2, "grid_epochs": 1,
                    "grid": {"hidden": [2], "lr": [0.1], "weight_decay": [0.0], "momentum": [0.0]}}}
    with pytest.raises(C.ConfigError, match="precision = 'fp16' is not valid; valid: float32, bfloat16, tf32"):
        C.parse_profiles(raw)
    raw["quick"]["precision"] = "float32"
    profs = C.parse_profiles(raw)
    smoke, full = profs["smoke"].problem("iris"), profs["full"].problem("iris")
    assert smoke.precision == "bfloat16" and smoke.stage_config("trials", "random")["precision"] == "bfloat16"
    assert "precision" not in full.stage_config("trials", "random")  # the reference keeps its shard keys
    task = P.trial_tasks(smoke, "random", {"hidden": 2, "lr": 0.1, "weight_decay": 0.0, "momentum": 0.0,
                                           "batch_size": 8})[0]
    assert task.fields["precision"] == "bfloat16"
