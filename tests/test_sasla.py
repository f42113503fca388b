"""SASLA: informativeness against autograd Jacobians; the selection rule on fixed outputs."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from alnn.strategies import sasla
from alnn.model import BatchedMLP


def _net(seed, I=5, J=7, K=3):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    return r(J, I), r(J), r(K, J), r(K)


def _jacobian_phi(X, V, b, W, c, output, norm):
    def f(x):
        o = torch.sigmoid(x @ V.T + b) @ W.T + c
        return torch.sigmoid(o) if output == "sigmoid" else o
    out = []
    for x in X:
        jac = torch.autograd.functional.jacobian(f, x)  # K x I
        so = jac.abs().sum(dim=1) if norm == "sum" else jac.norm(dim=1)
        out.append(so.max())
    return torch.stack(out)


@pytest.mark.parametrize("output", ["sigmoid", "linear"])
@pytest.mark.parametrize("norm", ["sum", "euclidean"])
@pytest.mark.parametrize("I, J", [(5, 7), (70, 6)])  # both product orientations, both Euclidean paths
def test_informativeness_matches_autograd_jacobian(output, norm, I, J):
    V, b, W, c = _net(0, I=I, J=J)
    X = torch.randn(13, I, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ref = _jacobian_phi(X, V, b, W, c, output, norm)
    got = sasla.informativeness(X, V, b, W, c, output=output, norm=norm)
    assert isinstance(got, torch.Tensor)
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-5)
    got_np = sasla.informativeness(X.numpy(), V.numpy(), b.numpy(), W.numpy(), c.numpy(), output=output, norm=norm)
    assert isinstance(got_np, np.ndarray)
    np.testing.assert_allclose(got_np, ref.numpy(), rtol=0, atol=1e-5)


def test_informativeness_works_in_chunks(monkeypatch):
    V, b, W, c = _net(2)
    X = torch.randn(50, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    whole = sasla.informativeness(X, V, b, W, c, chunk=50)
    seen = []
    real = sasla._phi
    monkeypatch.setattr(sasla, "_phi", lambda X, *a: seen.append(X.shape[1]) or real(X, *a))
    torch.testing.assert_close(sasla.informativeness(X, V, b, W, c, chunk=7), whole)
    assert max(seen) == 7 and sum(seen) == 50


def test_batched_and_pool_informativeness_agree_with_single_networks():
    nets = [_net(s) for s in (4, 5)]
    V, b, W, c = (torch.stack(t) for t in zip(*nets))
    inputs = torch.randn(20, 5, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    rows = torch.stack([torch.arange(20), torch.arange(19, -1, -1)])
    model = BatchedMLP(V, b, W, c, output="sigmoid")
    pool = sasla.pool_informativeness(model, inputs, rows, norm="euclidean")
    for m in range(2):
        single = sasla.informativeness(inputs[rows[m]], *nets[m], norm="euclidean")
        torch.testing.assert_close(pool[m], single)
    batched = sasla.informativeness(inputs[rows], V, b, W, c, norm="euclidean")
    torch.testing.assert_close(batched, pool)


def test_threshold_selects_above_one_minus_beta_times_mean():
    phi = torch.tensor([[1.0, 2.0, 3.0, 10.0, 0.0]])
    cand = torch.tensor([[True, True, True, True, False]])  # last position is padding
    # mean over candidates = 4; (1 - 0.5) * 4 = 2 -> strictly above 2
    assert sasla.select(phi, cand, beta=0.5).tolist() == [[False, False, True, True, False]]
    assert sasla.select(phi, cand, beta=0.9).tolist() == [[True, True, True, True, False]]


def test_class_safety_keeps_the_most_informative_pattern_of_a_dropped_class():
    phi = torch.tensor([[0.1, 0.2, 5.0, 6.0, 0.3, 7.0]])
    labels = torch.tensor([[0, 0, 1, 1, 2, 2]])
    cand = torch.ones(1, 6, dtype=torch.bool)
    # mean 3.1, threshold 1.55: class 0 would vanish; its best pattern (0.2) is kept
    got = sasla.select(phi, cand, beta=0.5, labels=labels, n_classes=3)
    assert got.tolist() == [[False, True, True, True, False, True]]
    assert sasla.select(phi, cand, beta=0.5).tolist() == [[False, False, True, True, False, True]]


def test_never_empty_and_non_finite_rows_keep_their_candidates():
    phi = torch.tensor([[1.0, 1.0, 1.0], [np.nan, 1.0, 2.0]])
    cand = torch.ones(2, 3, dtype=torch.bool)
    got = sasla.select(phi, cand, beta=0.01)  # threshold 0.99 * mean = 0.99: nothing strictly above? all are 1.0
    assert got[0].tolist() == [True, True, True]
    got = sasla.select(torch.tensor([[1.0, 1.0]]), torch.ones(1, 2, dtype=torch.bool), beta=1e-12)
    assert int(got.sum()) >= 1
    assert sasla.select(phi, cand, beta=0.5)[1].tolist() == [True, True, True]
    equal = sasla.select(torch.zeros(1, 4), torch.ones(1, 4, dtype=torch.bool), beta=0.9)
    assert equal.tolist() == [[True, False, False, False]]  # nothing above 0: the first maximum is kept


class _FakeView:
    def __init__(self, phi):
        self.phi = phi
        self.alive = torch.ones(phi.shape[0], dtype=torch.bool)

    def informativeness(self, norm):
        return self.phi


def test_strategy_reselects_from_the_whole_candidate_set_every_tau_epochs():
    pool = SimpleNamespace(valid=torch.ones(1, 4, dtype=torch.bool), length=torch.tensor([4]),
                           labels=None, n_classes=None)
    strat = sasla.Sasla({"beta": 0.5, "tau": 2, "norm": "sum"}, "regression")
    assert [e for e in range(1, 9) if strat.due(e)] == [3, 5, 7]
    mask = strat.initial(pool)
    assert mask.all()
    mask, scored = strat.select(pool, _FakeView(torch.tensor([[1.0, 1.0, 1.0, 9.0]])), mask, 3)
    assert mask.tolist() == [[False, False, False, True]] and scored.tolist() == [4]
    mask, _ = strat.select(pool, _FakeView(torch.tensor([[9.0, 1.0, 1.0, 1.0]])), mask, 5)
    assert mask.tolist() == [[True, False, False, False]]  # a dropped pattern comes back
    view = _FakeView(torch.tensor([[1.0, 1.0, 9.0, 1.0]]))
    view.alive = torch.tensor([False])
    kept, scored = strat.select(pool, view, mask, 7)
    assert torch.equal(kept, mask) and scored.tolist() == [0]  # a diverged model is left alone
