"""Multiply-add counts (alnn.cost) against counts by hand, and their record in both protocols;
the ensemble controls (members = 3) against three networks trained apart and voting; the
``probability`` variants of entropy and the committee against their formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import alnn
from alnn import cost
from alnn.budget import run_budget
from alnn.engine import INIT as _INIT, SHUFFLE as _SHUFFLE, SPLIT as _SPLIT, split_seed as _split_seed
from alnn.model import TrainConfig, seed_words, shuffle_order
from alnn.pipeline import dataset
from alnn.preprocess import prepare, splits
from alnn.strategies import ensemble as ens
from alnn.strategies import entropy as ent
from reference import torch_network

SEED = 5
CFG = TrainConfig(hidden=3, lr=0.1, momentum=0.9, weight_decay=0.001, batch_size=16)


@pytest.fixture(scope="module")
def iris():
    return dataset("iris", None, 0)


def test_counts_of_a_two_two_one_network_by_hand():
    # I = 2 inputs, J = 2 hidden, K = 1 output.  Forward: h_j = v_j0 + v_j1 x_1 + v_j2 x_2 (3 each,
    # 6 in all), o = w_0 + w_1 h_1 + w_2 h_2 (3): 9 = P, the weights and biases.
    assert cost.parameters(2, 2, 1) == 9 and cost.forward(2, 2, 1) == 9
    # Back-propagation: dw = delta * (1, h_1, h_2) (3), hidden errors e_j = delta w_j (2),
    # dv_j = d_j * (1, x_1, x_2) (6): 11; with the forward pass 20 per presented pattern.
    assert cost.training_per_pattern(2, 2, 1) == 9 + 11 == 20
    # An update touches each of the 9 weights for momentum and step (18), and for decay (27).
    assert cost.update_per_step(2, 2, 1) == 18 and cost.update_per_step(2, 2, 1, 0.01) == 27
    # Selection: a forward pass per member (9, or 27 for three); SASLA's S[k, i] = sum_j u_kj v_ji
    # is K x I = 2 entries of J = 2 multiply-adds, counted twice as in SPEC 3c: 2 K J I = 8.
    assert cost.selection_per_pattern("entropy", 2, 2, 1) == 9
    assert cost.selection_per_pattern("ensemble", 2, 2, 1, members=3) == 27
    assert cost.selection_per_pattern("sasla", 2, 2, 1) == 9 + 8
    assert cost.selection_per_pattern("sensitivity", 2, 2, 1) == 17
    # 5 patterns in 2 steps without decay: 5 * 20 + 2 * 18
    assert int(cost.training(2, 2, 1, 5, 2)) == 136
    assert cost.training(2, 2, 1, [5, 0], [2, 0], [0.0, 0.1]).tolist() == [136, 0]


def _expected(frame, strategy, I, J, K, members, batch, steps_per_epoch):
    P = (I + 1) * J + (J + 1) * K
    train = frame["presentations"] * (2 * P + J * K) + steps_per_epoch * 3 * P * members
    select = frame["scored"] * (members * P + (2 * K * J * I if strategy in ("sasla", "sensitivity") else 0))
    return train, select


@pytest.mark.parametrize("strategy,members", [("passive", 1), ("sasla", 1), ("ensemble", 3), ("random", 1),
                                              ("entropy", 1), ("sensitivity", 1)])
def test_the_draft_protocol_records_cumulative_multiply_adds(iris, strategy, members):
    f = alnn.run(iris, strategy, config=CFG, trials=1, folds=2, epochs=4, seed=SEED, progress=False)
    # steps: ceil(subset / 16) per member and epoch, cumulated
    steps = f.groupby(["trial", "fold"])["subset_size"].transform(lambda s: (-(-s // 16)).cumsum())
    train, select = _expected(f, strategy, 4, 3, 3, members, 16, steps)
    assert (f["macs_train"] == train).all() and (f["macs_select"] == select).all()
    assert (f["macs"] == f["macs_train"] + f["macs_select"]).all()
    if strategy in ("passive", "random"):
        assert (f["macs_select"] == 0).all()


@pytest.mark.parametrize("rule", ["epochs", "steps"])
def test_the_budget_protocol_records_them_per_round(iris, rule):
    f = run_budget(iris, "sensitivity", config=CFG, trials=1, folds=2, round_epochs=2, seed=SEED, progress=False,
                   round_training=rule)
    if rule == "epochs":
        steps = f.groupby(["trial", "fold"])["budget"].transform(lambda b: (2 * -(-b // 16)).cumsum())
    else:  # S = 2 x ceil(75 / 16) steps every round, whatever |L|
        assert (f["steps"] == 2 * -(-75 // 16)).all()
        steps = f.groupby(["trial", "fold"])["steps"].cumsum()
    train, select = _expected(f, "sensitivity", 4, 3, 3, 1, 16, steps)
    assert (f["macs_train"] == train).all() and (f["macs_select"] == select).all()
    assert (f["macs_select"].groupby([f["trial"], f["fold"]]).diff().dropna() > 0).all()


# --------------------------------------------------------------------------- ensemble controls


def _member_outputs(ds, t, f, e, epochs, folds):
    """Member e of (trial t, fold f): a torch.nn network from its own initial weights, trained apart on the
    whole pool with its own shuffles (float64); its outputs on the validation part."""
    tr, va = splits(ds, folds, _split_seed(SEED, _SPLIT, t))[f]
    fold = prepare(ds, tr, va)
    I, K = fold.X_train.shape[1], fold.T_train.shape[1]
    net, opt = torch_network((SEED, _INIT, t, f, e), I, K, CFG)
    X = torch.as_tensor(fold.X_train, dtype=torch.float64)
    T = torch.as_tensor(fold.T_train, dtype=torch.float64)
    mask = torch.ones(1, len(X), dtype=torch.bool)
    stream = torch.as_tensor([seed_words(SEED, _SHUFFLE, t, f, e)])
    for epoch in range(1, epochs + 1):
        order = shuffle_order(stream, epoch, mask)[0].numpy()
        for s in range(0, len(order), CFG.batch_size):
            idx = order[s:s + CFG.batch_size]
            opt.zero_grad()
            ((net(X[idx]) - T[idx]) ** 2).sum(dim=1).mean().backward()
            opt.step()
    with torch.no_grad():
        return net(torch.as_tensor(fold.X_val, dtype=torch.float64)).numpy(), np.asarray(ds.y)[va]


def _vote_by_hand(outs):
    """Majority vote of the members' argmax; a three-way split goes to the highest mean softmax probability."""
    picks = [o.argmax(axis=1) for o in outs]
    mean_p = np.mean([np.exp(o) / np.exp(o).sum(axis=1, keepdims=True) for o in outs], axis=0)
    pred = []
    for q in range(len(picks[0])):
        votes = [p[q] for p in picks]
        best = max(set(votes), key=lambda c: (votes.count(c), mean_p[q, c]))
        pred.append(best)
    return np.array(pred)


def test_passive_with_three_members_is_three_networks_trained_apart_voting(iris):
    epochs = 6
    f = alnn.run(iris, "passive", config=CFG, trials=1, folds=2, epochs=epochs, seed=SEED, progress=False,
                 params={"members": 3})
    last = f[f["epoch"] == epochs].set_index("fold")
    for fold in (0, 1):
        outs, y = zip(*[_member_outputs(iris, 0, fold, e, epochs, 2) for e in range(3)])
        accuracy = float(np.mean(_vote_by_hand(outs) == y[0]))
        assert last.loc[fold, "accuracy"] == pytest.approx(accuracy, abs=1e-12)
        assert last.loc[fold, "presentations"] == 3 * 75 * epochs
    single = alnn.run(iris, "passive", config=CFG, trials=1, folds=2, epochs=epochs, seed=SEED, progress=False)
    assert not np.allclose(single["val_loss"], f["val_loss"])  # the vote is not member 0 alone


def test_random_with_three_members_queries_the_same_labels_as_random(iris):
    one, lab1 = run_budget(iris, "random", config=CFG, trials=1, folds=2, round_epochs=2, seed=SEED,
                           progress=False, return_labelled=True)
    three, lab3 = run_budget(iris, "random", config=CFG, trials=1, folds=2, round_epochs=2, seed=SEED,
                             progress=False, return_labelled=True, params={"members": 3})
    for key in lab1:
        assert np.array_equal(lab1[key]["labelled"], lab3[key]["labelled"])
    assert (three["presentations"] == 3 * one["presentations"]).all()
    with pytest.raises(ValueError, match="members must be a positive integer"):
        alnn.run(iris, "random", config=CFG, trials=1, folds=2, epochs=1, seed=SEED, params={"members": 0})


# --------------------------------------------------------------------------- probability


def test_normalised_class_distribution_and_entropy_by_formula():
    o = torch.tensor([[0.5, 0.5, 0.0], [0.9, 0.05, 0.05], [0.01, 0.01, 0.01], [0.0, 0.0, 0.0]],
                     dtype=torch.float64)
    p = ent.class_distribution(o, "normalised")
    np.testing.assert_allclose(p[:3].numpy(), (o[:3] / o[:3].sum(dim=1, keepdim=True)).numpy())
    np.testing.assert_allclose(p[3].numpy(), [1 / 3] * 3)  # nothing fires: uniform
    h = ent.utility(o, "normalised").numpy()
    assert h[0] == pytest.approx(math.log(2) / math.log(3))
    assert h[1] == pytest.approx(-(0.9 * math.log(0.9) + 2 * 0.05 * math.log(0.05)) / math.log(3))
    assert h[2] == pytest.approx(1.0)
    soft = ent.utility(o, "softmax").numpy()
    q = np.exp(o.numpy()) / np.exp(o.numpy()).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(soft, -(q * np.log(q)).sum(axis=1) / math.log(3))
    # softmax over activations in (0, 1) squeezes ten classes into [0.96, 1]; the normalised form does not
    ten = torch.zeros(1, 10, dtype=torch.float64)
    ten[0, 0] = 1.0
    assert ent.utility(ten, "softmax").item() > 0.96 and ent.utility(ten, "normalised").item() == 0.0
    with pytest.raises(ValueError, match="probability must be one of softmax, normalised, got 'logits'"):
        ent.class_distribution(o, "logits")


def test_committee_variance_with_normalised_probabilities(iris):
    o = torch.tensor([[[[0.8, 0.2]]], [[[0.2, 0.2]]], [[[0.5, 0.5]]]], dtype=torch.float64).squeeze(1)
    # members (3, 1 pattern, 2 classes): normalised distributions (0.8, 0.2), (0.5, 0.5), (0.5, 0.5)
    q = np.array([[0.8, 0.2], [0.5, 0.5], [0.5, 0.5]])
    assert ens.utility(o, "classification", "normalised").item() == pytest.approx(q.var(axis=0).sum())
    a = alnn.run(iris, "ensemble", config=CFG, trials=1, folds=2, epochs=4, seed=SEED, progress=False,
                 params={"probability": "normalised"})
    b = alnn.run(iris, "entropy", config=CFG, trials=1, folds=2, epochs=4, seed=SEED, progress=False,
                 params={"probability": "normalised"})
    assert len(a) == len(b) == 8
    with pytest.raises(ValueError, match="entropy: probability must be one of softmax, normalised"):
        alnn.run(iris, "entropy", config=CFG, trials=1, folds=2, epochs=1, seed=SEED,
                 params={"probability": "odds"})
