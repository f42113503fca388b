"""Each strategy's rule against a fake model with fixed outputs (nothing is trained here)."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.special import softmax
from scipy.stats import chisquare, entropy as scipy_entropy

from alnn.strategies import ensemble, entropy, passive
from alnn.strategies import random as random_strategy
from alnn.model import seed_words
from alnn.experiment import check_strategy


def _pool(L=2, P=40, C=3, lengths=None, seed=0):
    lengths = lengths or [P] * L
    valid = torch.arange(P).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    labels = torch.arange(P).remainder(C).repeat(L, 1) if C else None
    return SimpleNamespace(
        valid=valid, length=torch.tensor(lengths), labels=labels, n_classes=C,
        init_stream=torch.tensor([seed_words(seed, 3, l) for l in range(L)]),
        query_stream=torch.tensor([seed_words(seed, 4, l) for l in range(L)]))


class _FakeView:
    """Fixed outputs (L, members, P, K): what a strategy sees of the networks."""

    def __init__(self, outputs):
        self._outputs = torch.as_tensor(outputs, dtype=torch.float64)
        self.alive = torch.ones(self._outputs.shape[0], dtype=torch.bool)

    def outputs(self):
        return self._outputs


def test_entropy_utility_is_scipy_entropy_over_log_c():
    rng = np.random.default_rng(0)
    o = rng.uniform(0, 1, (25, 4))
    ref = scipy_entropy(softmax(o, axis=1), axis=1) / np.log(4)
    np.testing.assert_allclose(entropy.utility(torch.as_tensor(o)).numpy(), ref, rtol=1e-12)


def test_entropy_queries_the_argmax_of_the_unlabelled_patterns():
    P = 10
    pool = _pool(L=1, P=P, C=2)
    out = torch.zeros(1, 1, P, 2)
    out[0, 0, :, 0] = torch.linspace(0.0, 0.9, P)  # the closer o_0 is to o_1 = 0, the higher the entropy
    strat = entropy.Entropy({"tau": 1, "query_size": 1, "initial": None}, "classification")
    mask = torch.zeros(1, P, dtype=torch.bool)
    mask[0, 0] = True  # the most uncertain one is already labelled
    new, scored = strat.select(pool, _FakeView(out), mask, 2)
    assert new[0].nonzero().flatten().tolist() == [0, 1] and scored.tolist() == [P - 1]


def test_query_top_breaks_ties_by_position_and_stops_at_an_empty_pool():
    score = torch.tensor([[0.5, 0.9, 0.9, 0.1, 0.9]])
    valid = torch.ones(1, 5, dtype=torch.bool)
    none = torch.zeros(1, 5, dtype=torch.bool)
    assert entropy.query_top(score, none, valid, 2).tolist() == [[False, True, True, False, False]]
    almost = torch.tensor([[True, True, True, False, True]])
    assert entropy.query_top(score, almost, valid, 3).all()


def test_initial_labelled_set_is_stratified_and_shared():
    pool = _pool(L=3, P=120, C=3, lengths=[120, 119, 40])
    a = entropy.Entropy(check_strategy("entropy", None, "classification", 40), "classification").initial(pool)
    b = random_strategy.Random(check_strategy("random", None, "classification", 40), "classification").initial(pool)
    c = ensemble.Ensemble(check_strategy("ensemble", None, "classification", 40), "classification").initial(pool)
    assert torch.equal(a, b) and torch.equal(a, c)  # common random numbers across the pool-based strategies
    assert a.sum(dim=1).tolist() == [10, 10, 4]  # min(10% of the pool, 10)
    assert not (a & ~pool.valid).any()
    for row, size in zip(a, (10, 10, 4)):
        counts = np.bincount(pool.labels[0][row].numpy(), minlength=3)
        assert counts.min() >= 1 and counts.max() - counts.min() <= 1 and counts.sum() == size
    regression = entropy.initial_labelled(_pool(L=1, P=50, C=None), None, stratified=False)
    assert int(regression.sum()) == 5


def test_allocate():
    assert entropy.allocate([40, 40, 40], 10).tolist() == [4, 3, 3]
    assert entropy.allocate([5, 5, 90], 10).tolist() == [1, 1, 8]
    assert entropy.allocate([50, 50, 50, 50], 2).tolist() == [1, 1, 0, 0]
    assert entropy.allocate([1, 100], 10).tolist() == [1, 9]


def test_labelled_set_grows_by_query_size_every_tau_epochs():
    P = 60
    pool = _pool(L=2, P=P, C=3)
    out = torch.rand(2, 1, P, 3, generator=torch.Generator().manual_seed(0))
    for cls in (entropy.Entropy, random_strategy.Random):
        strat = cls({"tau": 3, "query_size": 4, "initial": 6}, "classification")
        mask = strat.initial(pool)
        sizes = []
        for epoch in range(1, 50):
            if strat.due(epoch):
                mask, _ = strat.select(pool, _FakeView(out), mask, epoch)
            sizes.append(int(mask[0].sum()))
        expected = [min(P, 6 + 4 * ((e - 1) // 3)) for e in range(1, 50)]
        assert sizes == expected, cls.__name__


def test_random_queries_are_uniform_over_the_unlabelled_patterns():
    L, P = 3000, 12
    pool = _pool(L=L, P=P, C=None)
    mask = torch.zeros(L, P, dtype=torch.bool)
    mask[:, :2] = True  # U = positions 2 .. 11
    strat = random_strategy.Random({"tau": 1, "query_size": 1, "initial": None}, "regression")
    view = SimpleNamespace(alive=torch.ones(L, dtype=torch.bool))
    new, scored = strat.select(pool, view, mask, 2)
    picked = (new & ~mask).nonzero()[:, 1].numpy()
    assert len(picked) == L and picked.min() >= 2 and scored.sum() == 0
    assert chisquare(np.bincount(picked - 2, minlength=10)).pvalue > 1e-3
    again, _ = strat.select(pool, view, mask, 2)
    other, _ = strat.select(pool, view, mask, 3)
    assert torch.equal(again, new) and not torch.equal(other, new)


def test_ensemble_variance_utility_and_vote():
    rng = np.random.default_rng(1)
    o = rng.uniform(0, 1, (2, 3, 7, 4))  # L, members, P, K
    ref = softmax(o, axis=-1).var(axis=1).sum(axis=-1)
    np.testing.assert_allclose(ensemble.utility(torch.as_tensor(o)).numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(ensemble.utility(torch.as_tensor(o), "regression").numpy(),
                               o.var(axis=1).sum(axis=-1), rtol=1e-12)
    members = torch.tensor([[[0.9, 0.1, 0.0]], [[0.2, 0.8, 0.1]], [[0.7, 0.3, 0.2]]])  # votes 0, 1, 0
    assert ensemble.vote(members).tolist() == [0]
    tie = torch.tensor([[[0.9, 0.0, 0.0]], [[0.0, 0.6, 0.0]], [[0.0, 0.0, 0.7]]])  # 1-1-1: highest mean prob
    assert ensemble.vote(tie).tolist() == [0]
    strat = ensemble.Ensemble({"tau": 1, "query_size": 2, "initial": None}, "classification")
    pool = _pool(L=2, P=7, C=4)
    new, scored = strat.select(pool, _FakeView(o), torch.zeros(2, 7, dtype=torch.bool), 2)
    for l in range(2):
        assert set(new[l].nonzero().flatten().tolist()) == set(np.argsort(-ref[l])[:2].tolist())
    assert scored.tolist() == [7, 7]


def test_passive_trains_on_everything_and_scores_nothing():
    pool = _pool(L=2, P=10, C=2, lengths=[10, 9])
    strat = passive.Passive({}, "classification")
    assert torch.equal(strat.initial(pool), pool.valid)
    assert not any(strat.due(e) for e in range(1, 100))


@pytest.mark.parametrize("strategy, params, task, message", [
    ("bogus", None, "classification", "unknown strategy 'bogus'; valid: passive, sasla"),
    ("sasla", {"betta": 0.9}, "classification", "unknown parameter 'betta' for strategy 'sasla'; valid: beta"),
    ("sasla", {"beta": 1.0}, "classification", r"beta must be a number in \(0, 1\), got 1.0"),
    ("sasla", {"norm": "max"}, "classification", "norm must be one of sum, euclidean"),
    ("entropy", {"tau": 0}, "classification", "tau must be a positive integer, got 0"),
    ("random", {"query_size": -1}, "regression", "query_size must be a positive integer"),
    ("ensemble", {"query_size": 500}, "classification", "query_size=500 is larger than the smallest"),
    ("entropy", None, "regression", "'entropy' is classification-only"),
    ("passive", {"tau": 1}, "classification", "unknown parameter 'tau' for strategy 'passive'; valid: members"),
])
def test_parameters_are_validated_with_one_clear_line(strategy, params, task, message):
    with pytest.raises(ValueError, match=message) as info:
        check_strategy(strategy, params, task, pool_min=120)
    assert "\n" not in str(info.value)


def test_defaults_are_filled_in():
    assert check_strategy("sasla", None, "classification", 10) == {"beta": 0.9, "tau": 1, "norm": "sum"}
    assert check_strategy("ensemble", {"query_size": 2}, "regression", 10) == {
        "tau": 1, "query_size": 2, "initial": None, "probability": "softmax"}
    assert check_strategy("random", None, "classification", 10) == {
        "tau": 1, "query_size": 1, "initial": None, "members": 1}
    assert check_strategy("passive", None, "classification", 10) == {"members": 1}
