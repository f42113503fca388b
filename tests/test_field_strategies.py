"""The field's strategies (margin, least-confidence, bald, coreset, badge, greedy-x, greedy-xy, lcmd)
against scikit-activeml's implementations, or a numpy transcription, on the same numbers.

Nothing is trained: a fake view hands every strategy fixed outputs, hidden
activations, inputs and targets.  Where scikit-activeml breaks exact ties at
random, the data here have no ties (continuous random numbers).
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from skactiveml.base import SkactivemlClassifier, SkactivemlRegressor
from skactiveml.pool import Badge, CoreSet, GreedySamplingTarget, GreedySamplingX, UncertaintySampling
from skactiveml.pool._bald import batch_bald
from skactiveml.pool._uncertainty_sampling import uncertainty_scores
from skactiveml.utils import check_random_state

from alnn.engine import check_strategy
from alnn.model import seed_words
from alnn.strategies import badge, bald, coreset, diversity, entropy, greedy_x, greedy_xy, lcmd
from alnn.strategies import least_confidence, margin

MODULES = (margin, least_confidence, bald, coreset, badge, greedy_x, greedy_xy, lcmd)
BATCH = (coreset, badge, greedy_x, greedy_xy, lcmd)


# --------------------------------------------------------------------------- fakes


def _pool(lengths, P, C=3, seed=0):
    L = len(lengths)
    valid = torch.arange(P).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    labels = torch.where(valid, torch.arange(P).remainder(C).repeat(L, 1), 0) if C else None
    return SimpleNamespace(valid=valid, length=torch.tensor(lengths), labels=labels, n_classes=C,
                           init_stream=torch.tensor([seed_words(seed, 3, l) for l in range(L)]),
                           query_stream=torch.tensor([seed_words(seed, 4, l) for l in range(L)]))


class _View:
    """Fixed network quantities: outputs (L, E, P, K), hidden (L, E, P, J), inputs (L, P, I), targets (L, P, K)."""

    def __init__(self, outputs, hidden, inputs, targets, alive=None):
        self._o, self._h, self._x, self._t = (torch.as_tensor(a, dtype=torch.float32) for a in
                                              (outputs, hidden, inputs, targets))
        self.alive = torch.ones(self._o.shape[0], dtype=torch.bool) if alive is None else torch.as_tensor(alive)

    def outputs(self):
        return self._o

    def hidden(self):
        return self._h

    def inputs(self):
        return self._x

    def targets(self):
        return self._t


def _case(task="classification", L=3, P=60, E=1, K=3, J=6, I=4, lengths=None, labelled=5, seed=0):
    """A pool (rows of different lengths), its view and a labelled set of ``labelled`` patterns per row."""
    rng = np.random.default_rng(seed)
    lengths = lengths or [P - 7 * l for l in range(L)]
    pool = _pool(lengths, P, C=K if task == "classification" else None, seed=seed)
    raw = rng.normal(size=(L, E, P, K))
    outputs = 1 / (1 + np.exp(-2 * raw)) if task == "classification" else raw
    view = _View(outputs, rng.uniform(0, 1, (L, E, P, J)), rng.normal(size=(L, P, I)), rng.normal(size=(L, P, K)))
    keys = torch.as_tensor(rng.uniform(size=(L, P)))
    keys = torch.where(pool.valid, keys, torch.full_like(keys, 2.0))
    rank = torch.argsort(torch.argsort(keys, dim=1), dim=1)
    mask = pool.valid & (rank < labelled)
    return pool, view, mask


def _strategy(module, task, size=1):
    params = module.check_params({**module.DEFAULTS, "query_size": size}, task, 40)
    return module.STRATEGY(params, task)


def _task(module):
    return module.DESCRIPTION["tasks"][0]


def _query(strat, pool, view, mask, size, counter=7):
    return strat.query(pool, view, mask, size, counter)


def _ordered(strat, pool, view, mask, size, counter=7):
    """The pool positions a batch strategy picks, in the order it picks them (-1: none), (L, size)."""
    avail = pool.valid & ~mask
    idx, ok = diversity.compact(avail)
    picks = strat.picks(pool, view, mask, avail, idx, ok, size, counter)
    return torch.where(picks >= 0, idx.gather(1, picks.clamp(min=0)), picks)


def _y(mask_row, values=None):
    """scikit-activeml's label vector: the value (0 by default) at the labelled positions, NaN elsewhere."""
    y = np.full(len(mask_row), np.nan)
    y[mask_row] = 0.0 if values is None else values[mask_row]
    return y


class _FixedClassifier(SkactivemlClassifier):
    """predict_proba of sample i (its one feature) is row i of a table; with embeddings, also row i of those."""

    def __init__(self, table=None, emb=None, classes=None, missing_label=np.nan):
        super().__init__(classes=classes, missing_label=missing_label)
        self.table, self.emb = table, emb

    def fit(self, X, y, sample_weight=None):
        return self

    def predict_proba(self, X, return_embeddings=False):
        i = np.asarray(X)[:, 0].astype(int)
        return (self.table[i], self.emb[i]) if return_embeddings else self.table[i]

    def predict(self, X):
        return self.predict_proba(X).argmax(axis=1)


class _FixedRegressor(SkactivemlRegressor):
    """predict of sample i is entry i of a table; the samples are looked up by their inputs."""

    def __init__(self, X=None, table=None, missing_label=np.nan):
        super().__init__(missing_label=missing_label)
        self.X, self.table = X, table

    def fit(self, X, y, sample_weight=None):
        return self

    def predict(self, X):
        i = np.argmin(((np.asarray(X)[:, None, :] - self.X[None]) ** 2).sum(-1), axis=1)
        return self.table[i]


# --------------------------------------------------------------------------- utilities


@pytest.mark.parametrize("probability", entropy.PROBABILITIES)
def test_uncertainty_utilities_equal_skactivemls(probability):
    rng = np.random.default_rng(1)
    o = rng.uniform(0.01, 0.99, (200, 5))
    p = entropy.class_distribution(torch.as_tensor(o), probability).numpy()
    np.testing.assert_allclose(margin.utility(torch.as_tensor(o), probability).numpy(),
                               uncertainty_scores(p, method="margin_sampling"), rtol=0, atol=1e-12)
    np.testing.assert_allclose(least_confidence.utility(torch.as_tensor(o), probability).numpy(),
                               uncertainty_scores(p, method="least_confident"), rtol=0, atol=1e-12)
    np.testing.assert_allclose(entropy.utility(torch.as_tensor(o), probability).numpy() * math.log(5),
                               uncertainty_scores(p, method="entropy"), rtol=0, atol=1e-12)


@pytest.mark.parametrize("module, method", [(margin, "margin_sampling"), (least_confidence, "least_confident")])
@pytest.mark.parametrize("probability", entropy.PROBABILITIES)
def test_uncertainty_queries_equal_skactivemls(module, method, probability):
    pool, view, mask = _case(L=2, P=50, K=4, seed=2)
    strat = module.STRATEGY(module.check_params({**module.DEFAULTS, "probability": probability},
                                                "classification", 40), "classification")
    new, scored = _query(strat, pool, view, mask, 6)
    for l in range(2):
        n = int(pool.length[l])
        p = entropy.class_distribution(view.outputs()[l, 0, :n].double(), probability).numpy()
        qs = UncertaintySampling(method=method, random_state=0)
        picked = qs.query(np.arange(n, dtype=float)[:, None], _y(mask[l, :n].numpy()), _FixedClassifier(p),
                          fit_clf=False, batch_size=6)
        assert sorted(picked) == torch.nonzero(new[l] & ~mask[l]).squeeze(1).tolist()
        assert int(scored[l]) == n - int(mask[l].sum())


def test_bald_by_hand_two_members_three_classes():
    # normalised activations: the class distributions are the activations over their sum
    o = torch.tensor([[[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.9, 0.1, 0.0]],
                      [[0.5, 0.0, 0.5], [0.2, 0.3, 0.5], [0.1, 0.9, 0.0]]], dtype=torch.float64)
    ln2 = math.log(2)
    # pattern 0: mean (1/2, 1/4, 1/4): H = 1.5 ln 2, each member ln 2 -> 0.5 ln 2; pattern 1: agreement -> 0;
    # pattern 2: mean (1/2, 1/2, 0): H = ln 2, members H(0.9, 0.1) each
    h91 = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))
    np.testing.assert_allclose(bald.utility(o, "normalised").numpy(), [0.5 * ln2, 0.0, ln2 - h91], atol=1e-12)
    # softmax of the same activations, by hand
    s = np.exp(o.numpy()) / np.exp(o.numpy()).sum(-1, keepdims=True)
    H = lambda q: -(q * np.log(q)).sum(-1)  # noqa: E731
    np.testing.assert_allclose(bald.utility(o, "softmax").numpy(), H(s.mean(0)) - H(s).mean(0), atol=1e-12)


def test_bald_equals_skactivemls_batch_bald_of_one():
    rng = np.random.default_rng(3)
    o = torch.as_tensor(rng.uniform(0.05, 0.95, (3, 40, 4)))
    for probability in entropy.PROBABILITIES:
        p = entropy.class_distribution(o, probability).numpy()
        np.testing.assert_allclose(bald.utility(o, probability).numpy(), batch_bald(p.copy(), 1)[0], atol=1e-10)


def test_bald_queries_the_committees_largest_mutual_information():
    pool, view, mask = _case(L=2, P=40, E=3, K=3, seed=4)
    strat = _strategy(bald, "classification")
    assert strat.members == bald.MEMBERS == 3
    new, _ = _query(strat, pool, view, mask, 4)
    u = bald.utility(view.outputs().double(), "softmax")
    u = torch.where(pool.valid & ~mask, u, torch.full_like(u, -1.0))
    for l in range(2):
        assert set(torch.nonzero(new[l] & ~mask[l]).squeeze(1).tolist()) == set(u[l].topk(4).indices.tolist())


# --------------------------------------------------------------------------- batch selections


def test_coreset_equals_skactivemls_k_center_greedy():
    pool, view, mask = _case(L=3, P=70, J=5, labelled=6, seed=5)
    strat = _strategy(coreset, "classification")
    order = _ordered(strat, pool, view, mask, 12)
    for l in range(3):
        n = int(pool.length[l])
        h = view.hidden()[l, 0, :n].double().numpy()
        ref = CoreSet(random_state=0).query(h, _y(mask[l, :n].numpy()), batch_size=12)
        assert order[l].tolist() == list(ref)


def test_coreset_with_an_empty_labelled_set_starts_at_the_lowest_position():
    # scikit-activeml draws the first centre at random when L is empty; given that centre, the rest agree
    pool, view, mask = _case(L=2, P=30, J=4, labelled=0, seed=6)
    order = _ordered(_strategy(coreset, "regression"), pool, view, mask, 8)
    for l in range(2):
        n = int(pool.length[l])
        assert int(order[l, 0]) == 0
        given = np.zeros(n, dtype=bool)
        given[0] = True
        h = view.hidden()[l, 0, :n].double().numpy()
        assert order[l, 1:].tolist() == list(CoreSet(random_state=0).query(h, _y(given), batch_size=7))


def _badge_case(seed):
    pool, view, mask = _case(L=2, P=50, K=4, J=5, labelled=5, seed=seed)
    g, h1 = badge.factors(view.outputs()[:, 0].double(), view.hidden()[:, 0].double())
    return pool, view, mask, g, h1


def test_badge_embedding_is_the_output_layer_gradient():
    torch.manual_seed(0)
    h = torch.rand(6, dtype=torch.float64)
    W = torch.randn(4, 7, dtype=torch.float64, requires_grad=True)  # K x (J + 1), bias in the last column
    o = torch.sigmoid(W @ torch.cat([h, torch.ones(1, dtype=torch.float64)]))
    t = torch.nn.functional.one_hot(o.argmax(), 4).to(o.dtype)
    (0.5 * ((o - t) ** 2).sum()).backward()
    np.testing.assert_allclose(badge.embedding(o.detach(), h).numpy(), W.grad.flatten().numpy(), atol=1e-14)


def test_badge_equals_skactivemls_kmeanspp_with_the_same_draws():
    """scikit-activeml's Badge forms (p - onehot(argmax p)) (outer) embedding; with p = onehot(c) + g and
    the embedding [h, 1] that is our gradient embedding.  Its RandomState draws one uniform per pick after
    the first (numpy's choice(n, 1, p=...) inverts the cumulative distribution with one rand()): the same
    uniforms, handed to `diversity.kmeanspp`, give the same picks in the same order once the origin counts
    as a centre.  That is where the definitions differ: scikit-activeml's D^2 after the first pick is
    min(|e|^2, squared distances to the centres); k-means++ (Ash et al.'s code, the strategy) has no origin."""
    pool, view, mask, g, h1 = _badge_case(7)
    q = 10
    differ = []
    for l in range(2):
        n = int(pool.length[l])
        unl = ~mask[l, :n]
        r = torch.nn.functional.one_hot(view.outputs()[l, 0, :n].argmax(-1), 4).double() + g[l, :n]
        y = _y(mask[l, :n].numpy())
        qs = Badge(clf_embedding_flag_name="return_embeddings", random_state=11)
        ref = qs.query(np.arange(n, dtype=float)[:, None], y, _FixedClassifier(r.numpy(), h1[l, :n].numpy()),
                       fit_clf=False, batch_size=q)
        rs = check_random_state(11, int(unl.sum()) + 1)  # the RandomState Badge.query makes from its seed
        u = torch.zeros(1, q, dtype=torch.float64)
        u[0, 1:] = torch.as_tensor([rs.rand() for _ in range(q - 1)])
        avail = pool.valid[l:l + 1] & ~mask[l:l + 1]
        idx, ok = diversity.compact(avail)
        gl, hl = diversity.gather(g[l:l + 1], idx), diversity.gather(h1[l:l + 1], idx)
        picks = diversity.kmeanspp(gl, hl, ok, q, u, origin=True)
        assert idx.gather(1, picks)[0].tolist() == list(ref)
        # without the origin: the numpy transcription of k-means++ seeding, on the formed embeddings
        plain = diversity.kmeanspp(gl, hl, ok, q, u)
        emb = badge.embedding(view.outputs()[l, 0].double(), view.hidden()[l, 0].double())[idx[0]].numpy()
        assert plain[0].tolist() == _kmeanspp_reference(emb, u[0].numpy())
        assert plain[0, 0] == picks[0, 0]
        differ.append(plain[0].tolist() != picks[0].tolist())
    assert any(differ)  # the origin matters


def _kmeanspp_reference(emb, u):
    """k-means++ seeding (Arthur and Vassilvitskii 2007, first centre of largest norm as in Ash et al.'s code):
    pick t > 0 inverts the cumulative distribution of D^2 (distances to the centres so far) at u[t]."""
    n2 = (emb ** 2).sum(1)
    picks = [int(np.argmax(n2))]
    d2 = ((emb - emb[picks[0]]) ** 2).sum(1)
    for t in range(1, len(u)):
        w = d2.copy()
        w[picks] = 0.0
        if w.sum() == 0:
            w = np.ones(len(emb))
            w[picks] = 0.0
        cdf = np.cumsum(w / w.sum())
        j = int(np.searchsorted(cdf / cdf[-1], u[t], side="right"))
        picks.append(j)
        d2 = np.minimum(d2, ((emb - emb[j]) ** 2).sum(1))
    return picks


def test_badge_strategy_draws_from_its_query_stream():
    pool, view, mask, g, h1 = _badge_case(8)
    strat = _strategy(badge, "classification")
    order = _ordered(strat, pool, view, mask, 9, counter=3)
    idx, ok = diversity.compact(pool.valid & ~mask)
    u = diversity.uniforms(pool.query_stream, 3, 9)
    assert ((u >= 0) & (u < 1)).all()
    picks = diversity.kmeanspp(diversity.gather(g, idx), diversity.gather(h1, idx), ok, 9, u)
    assert torch.equal(order, idx.gather(1, picks))
    # the first centre is deterministic: the largest embedding norm, as scikit-activeml's (any seed)
    for l in range(2):
        n = int(pool.length[l])
        r = torch.nn.functional.one_hot(view.outputs()[l, 0, :n].argmax(-1), 4).double() + g[l, :n]
        qs = Badge(clf_embedding_flag_name="return_embeddings", random_state=123)
        ref = qs.query(np.arange(n, dtype=float)[:, None], _y(mask[l, :n].numpy()),
                       _FixedClassifier(r.numpy(), h1[l, :n].numpy()), fit_clf=False, batch_size=1)
        assert int(order[l, 0]) == ref[0]
    # another counter, other draws (after the same first centre)
    other = _ordered(strat, pool, view, mask, 9, counter=4)
    assert torch.equal(other[:, 0], order[:, 0]) and not torch.equal(other, order)


def test_kmeanspp_draws_in_proportion_to_the_squared_distance():
    # one model, 3 candidates on a line in a 1 x 1 embedding: after centre 0 (the largest norm, at 3),
    # D^2 = (3 - 1)^2 = 4 and (3 - 2)^2 = 1: u < 0.8 takes candidate 1 (value 1), u >= 0.8 candidate 2
    g = torch.ones(1, 3, 1, dtype=torch.float64)
    h = torch.tensor([[[3.0], [1.0], [2.0]]], dtype=torch.float64)
    ok = torch.ones(1, 3, dtype=torch.bool)
    for u1, second in ((0.0, 1), (0.79, 1), (0.81, 2), (0.999, 2)):
        picks = diversity.kmeanspp(g, h, ok, 3, torch.tensor([[0.5, u1, 0.5]], dtype=torch.float64))
        assert picks[0, :2].tolist() == [0, second] and sorted(picks[0].tolist()) == [0, 1, 2]
    # every embedding 0: uniform over the candidates
    picks = diversity.kmeanspp(g * 0, h, ok, 2, torch.tensor([[0.7, 0.2]], dtype=torch.float64))
    assert picks[0].tolist() == [2, 0]


def test_greedy_x_equals_skactivemls_gsx():
    pool, view, mask = _case("regression", L=3, P=60, I=4, K=1, labelled=5, seed=9)
    order = _ordered(_strategy(greedy_x, "regression"), pool, view, mask, 10)
    for l in range(3):
        n = int(pool.length[l])
        X = view.inputs()[l, :n].double().numpy()
        ref = GreedySamplingX(random_state=0).query(X, _y(mask[l, :n].numpy()), batch_size=10)
        assert order[l].tolist() == list(ref)


def _gs_target_reference(view, pool, mask, l, q):
    n = int(pool.length[l])
    X = view.inputs()[l, :n].double().numpy()
    pred = view.outputs()[l, 0, :n, 0].double().numpy()
    y = _y(mask[l, :n].numpy(), view.targets()[l, :n, 0].double().numpy())
    return list(GreedySamplingTarget(method="GSi", random_state=0).query(
        X, y, _FixedRegressor(X, pred), fit_reg=False, batch_size=q))


@pytest.mark.parametrize("labelled", [5, 0])
def test_greedy_xy_equals_skactivemls_igs(labelled):
    """iGS: the minimum over L and the batch of |x_n - x_m| |y_n - y_m| (true targets of L, predictions of
    the batch's picks); with an empty L the first pick is GSx's start (scikit-activeml's n_GSx_samples=1)."""
    pool, view, mask = _case("regression", L=3, P=50, I=3, K=1, labelled=labelled, seed=10)
    order = _ordered(_strategy(greedy_xy, "regression"), pool, view, mask, 9)
    for l in range(3):
        assert order[l].tolist() == _gs_target_reference(view, pool, mask, l, 9)


def test_greedy_x_with_an_empty_labelled_set_starts_near_the_centre():
    pool, view, mask = _case("regression", L=2, P=40, I=3, K=1, labelled=0, seed=12)
    order = _ordered(_strategy(greedy_x, "regression"), pool, view, mask, 6)
    for l in range(2):
        n = int(pool.length[l])
        X = view.inputs()[l, :n].double().numpy()
        assert order[l].tolist() == list(GreedySamplingX(random_state=0).query(X, _y(np.zeros(n, bool)),
                                                                               batch_size=6))


def _lcmd_reference(H, labelled, q):
    """Holzmüller et al.'s LargestClusterMaxDistSelectionMethod (TP mode, sq-dist weights), one pool, in numpy:
    the labelled patterns (in position order) and then the picks become centres one by one."""
    n = len(H)
    pool = np.flatnonzero(~labelled)
    min_sq = np.full(n, np.inf)
    closest = np.zeros(n, dtype=int)
    centres = 0

    def add(i):
        nonlocal centres
        d = ((H - H[i]) ** 2).sum(1)
        d[i] = 0.0
        for m in range(n):
            if d[m] < min_sq[m]:
                min_sq[m], closest[m] = d[m], centres + 1
        centres += 1

    for i in np.flatnonzero(labelled):
        add(i)
    picks = []
    for _ in range(q):
        if centres == 0:
            j = pool[np.argmax((H[pool] ** 2).sum(1))]
        else:
            weight = np.zeros(centres + 1)
            for m in pool:
                weight[closest[m]] += min_sq[m]
            best, j = -np.inf, -1
            for m in pool:
                if m in picks or weight[closest[m]] != weight.max():
                    continue
                if min_sq[m] > best:
                    best, j = min_sq[m], m
        picks.append(int(j))
        add(j)
    return picks


@pytest.mark.parametrize("labelled", [6, 0])
def test_lcmd_equals_a_numpy_transcription_of_the_authors_rule(labelled):
    pool, view, mask = _case("regression", L=3, P=45, J=4, K=1, labelled=labelled, seed=13)
    order = _ordered(_strategy(lcmd, "regression"), pool, view, mask, 10)
    for l in range(3):
        n = int(pool.length[l])
        H = view.hidden()[l, 0, :n].double().numpy()
        assert order[l].tolist() == _lcmd_reference(H, mask[l, :n].numpy(), 10)


# --------------------------------------------------------------------------- the query's contract


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.NAME)
def test_query_contract(module):
    """Exact sizes, never a labelled or padding position, scored = |U| of the live models, dead models
    unchanged, rows short of patterns take all, the same stream gives the same picks."""
    task = _task(module)
    E = module.MEMBERS
    pool, view, mask = _case(task, L=4, P=40, E=E, K=3 if task == "classification" else 2,
                             lengths=[40, 33, 9, 25], labelled=5, seed=14)
    view.alive = torch.tensor([True, True, True, False])
    view._o[3], view._h[3] = float("nan"), float("nan")  # a diverged network
    strat = _strategy(module, task)
    new, scored = _query(strat, pool, view, mask, 6)
    n_u = (pool.valid & ~mask).sum(dim=1)
    added = new & ~mask
    assert not (new & ~pool.valid).any() and (new | ~mask).all()  # nothing leaves L, no padding enters
    assert added.sum(dim=1).tolist() == [6, 6, 4, 0]  # row 2 has 4 unlabelled patterns; row 3 is dead
    assert torch.equal(new[3], mask[3])
    assert scored.dtype == torch.int64 and scored.tolist() == [int(n_u[0]), int(n_u[1]), int(n_u[2]), 0]
    again, scored2 = _query(_strategy(module, task), pool, view, mask, 6)
    assert torch.equal(again, new) and torch.equal(scored2, scored)
    assert strat.last_scores is None or module not in BATCH
    # the draft's protocol: select at a due epoch is the query of query_size patterns
    assert torch.equal(strat.select(pool, view, mask, 7)[0], _query(strat, pool, view, mask, strat.query_size)[0])
    # nothing left to query: unchanged, nothing scored
    full, none = _query(strat, pool, view, pool.valid.clone(), 6)
    assert torch.equal(full, pool.valid) and none.tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.NAME)
def test_picks_never_read_the_labels_or_targets_of_unlabelled_patterns(module):
    task = _task(module)
    pool, view, mask = _case(task, L=2, P=40, E=module.MEMBERS, K=3 if task == "classification" else 1,
                             labelled=5, seed=15)
    strat = _strategy(module, task)
    new, _ = _query(strat, pool, view, mask, 5)
    unl = (pool.valid & ~mask).unsqueeze(-1)
    view._t = torch.where(unl, view._t + 100.0, view._t)
    if pool.labels is not None:
        pool.labels = torch.where(mask, pool.labels, (pool.labels + 1) % pool.n_classes)
    again, _ = _query(strat, pool, view, mask, 5)
    assert torch.equal(again, new)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.NAME)
def test_parameters_and_description(module):
    tasks = module.DESCRIPTION["tasks"]
    params = module.check_params(dict(module.DEFAULTS), tasks[0], 40)
    assert params["tau"] == 1 and params["query_size"] == 1 and params["initial"] is None
    assert ("probability" in params) == (module in (margin, least_confidence, bald))
    for other in {"classification", "regression"} - set(tasks):  # the engine checks the task, from the description
        with pytest.raises(ValueError, match=f"strategy '{module.NAME}' is {tasks[0]}-only, got a {other} problem; "
                                             "valid for "):
            check_strategy(module.NAME, {}, other, 40)
    if "probability" in module.DEFAULTS:
        with pytest.raises(ValueError, match="probability must be one of softmax, normalised, got 'max'"):
            module.check_params({**module.DEFAULTS, "probability": "max"}, tasks[0], 40)
    with pytest.raises(ValueError, match="query_size=50 is larger than the smallest training pool"):
        module.check_params({**module.DEFAULTS, "query_size": 50}, tasks[0], 40)
    d = module.DESCRIPTION
    from alnn.strategies.catalogue import REQUIRED, describe

    assert set(d) == set(REQUIRED)
    assert d["name"] == module.NAME and d["role"] == "query" and module.STRATEGY.name == module.NAME
    assert describe(module.NAME).members == module.MEMBERS
    macs = eval(d["select_macs"], {}, {"I": 4, "J": 64, "K": 3, "E": module.MEMBERS, "q": 10, "N": 20})
    assert isinstance(macs, int) and macs > 0
