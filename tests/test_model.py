"""The batched trainer against separate torch.nn networks with torch.optim.SGD."""

import numpy as np
import pytest
import torch

from alnn.model import BatchedMLP, TrainConfig, hash_uniform, resolve_device, seed_words, shuffle_order

I, J, K = 5, 7, 3


def _reference(net: BatchedMLP, m: int):
    """A torch.nn copy of network m and its torch.optim.SGD optimiser."""
    layers = [torch.nn.Linear(net.n_inputs, net.n_hidden), torch.nn.Sigmoid(),
              torch.nn.Linear(net.n_hidden, net.n_outputs)]
    if net.output == "sigmoid":
        layers.append(torch.nn.Sigmoid())
    seq = torch.nn.Sequential(*layers).to(net.dtype)
    with torch.no_grad():
        seq[0].weight.copy_(net.hidden_weight[m])
        seq[0].bias.copy_(net.hidden_bias[m])
        seq[2].weight.copy_(net.output_weight[m])
        seq[2].bias.copy_(net.output_bias[m])
    lr, mom, wd = (float(h[m]) for h in net._hyper_np)
    return seq, torch.optim.SGD(seq.parameters(), lr=lr, momentum=mom, weight_decay=wd)


def _ref_step(seq, opt, X, T):
    opt.zero_grad()
    loss = ((seq(X) - T) ** 2).sum(dim=1).mean()  # the engine's loss: mean over patterns, sum over outputs
    loss.backward()
    opt.step()
    return float(loss.detach()) * len(X)


def _assert_same(net, refs, tol):
    for m, (seq, _) in enumerate(refs):
        for mine, theirs in zip(net.parameters(), (seq[0].weight, seq[0].bias, seq[2].weight, seq[2].bias)):
            np.testing.assert_allclose(mine[m].detach().numpy(), theirs.detach().numpy(), rtol=0, atol=tol)


@pytest.mark.parametrize("output", ["sigmoid", "linear"])
@pytest.mark.parametrize("per_model", [True, False])
def test_steps_match_torch_sgd(output, per_model):
    M, B = 4, 6
    hyper = (dict(lr=[0.1, 0.5, 0.05, 0.2], momentum=[0.0, 0.9, 0.5, 0.95], weight_decay=[0.0, 0.01, 0.1, 0.001])
             if per_model else dict(lr=0.2, momentum=0.9, weight_decay=0.01))
    net = BatchedMLP.initialise([(7, m) for m in range(M)], I, J, K, output=output, dtype=torch.float64, **hyper)
    refs = [_reference(net, m) for m in range(M)]
    g = torch.Generator().manual_seed(0)
    for it in range(120):
        X = torch.randn(M, B, I, generator=g, dtype=torch.float64)
        T = torch.rand(M, B, K, generator=g, dtype=torch.float64)
        counts = None if it % 3 else np.array([B, 3, 0, 1])  # partial batches and an idle network
        sse = net.step(X, T, counts)
        for m, (seq, opt) in enumerate(refs):
            c = B if counts is None else counts[m]
            if c:
                assert _ref_step(seq, opt, X[m, :c], T[m, :c]) == pytest.approx(float(sse[m]), rel=1e-9)
            else:
                assert float(sse[m]) == 0.0
    _assert_same(net, refs, 1e-9)


def test_train_epoch_matches_torch_sgd_on_its_batches():
    M, P, B = 3, 23, 4
    g = torch.Generator().manual_seed(1)
    inputs = torch.randn(40, I, generator=g, dtype=torch.float64)
    targets = torch.rand(40, K, generator=g, dtype=torch.float64)
    rows = torch.stack([torch.randperm(40, generator=g)[:P] for _ in range(M)])
    mask = torch.rand(M, P, generator=g) < torch.tensor([[1.0], [0.5], [0.2]])  # different subset sizes
    stream = torch.tensor([seed_words(3, m) for m in range(M)])
    net = BatchedMLP.initialise([(3, m) for m in range(M)], I, J, K, lr=[0.3, 0.1, 0.2], momentum=0.9,
                                weight_decay=0.01, dtype=torch.float64)
    refs = [_reference(net, m) for m in range(M)]
    for epoch in range(1, 6):
        sse, shown = net.train_epoch(inputs, targets, rows, rows, mask, stream, epoch, B)
        order = shuffle_order(stream, epoch, mask)
        for m, (seq, opt) in enumerate(refs):
            n = int(mask[m].sum())
            assert shown[m] == n
            pos = order[m, :n]
            total = 0.0
            for s in range(0, n, B):
                r = rows[m, pos[s:s + B]]
                total += _ref_step(seq, opt, inputs[r], targets[r])
            assert total == pytest.approx(float(sse[m]), rel=1e-9)
    _assert_same(net, refs, 1e-9)


def test_shuffle_order_is_a_per_network_permutation_of_the_included_patterns():
    g = torch.Generator().manual_seed(2)
    mask = torch.rand(6, 50, generator=g) < 0.6
    stream = torch.tensor([seed_words(11, m) for m in range(6)])
    order = shuffle_order(stream, 4, mask)
    for m in range(6):
        n = int(mask[m].sum())
        assert sorted(order[m, :n].tolist()) == mask[m].nonzero().flatten().tolist()
    # a network's order depends on its own stream only, not on the other rows
    assert torch.equal(shuffle_order(stream[2:4], 4, mask[2:4]), order[2:4])
    assert not torch.equal(shuffle_order(stream, 5, mask), order)


def test_hash_uniform_looks_uniform():
    keys = hash_uniform(torch.tensor([seed_words(0, 1)]), 0, 20000).double() / 2**32
    assert keys.min() >= 0 and keys.max() < 1
    assert abs(float(keys.mean()) - 0.5) < 0.01
    counts = torch.histc(keys, bins=10, min=0, max=1)
    assert float(((counts - 2000) ** 2 / 2000).sum()) < 30  # chi-square, 9 df


def test_initialise_is_seeded_like_nn_linear():
    a = BatchedMLP.initialise([(1, 0), (1, 1)], 16, 9, 2)
    b = BatchedMLP.initialise([(1, 1)], 16, 9, 2)
    assert torch.equal(a.hidden_weight[1], b.hidden_weight[0])
    assert not torch.equal(a.hidden_weight[0], a.hidden_weight[1])
    assert float(a.hidden_weight.abs().max()) <= 1 / 4 and float(a.hidden_weight.abs().max()) > 0.2
    assert float(a.output_weight.abs().max()) <= 1 / 3
    assert a.dtype == torch.float32


def test_divergence_is_isolated_and_neighbours_are_bit_identical():
    M, P, B = 3, 30, 5
    g = torch.Generator().manual_seed(4)
    inputs = torch.randn(P, I, generator=g)
    targets = torch.randn(P, K, generator=g) * 5
    rows = torch.arange(P).repeat(M, 1)
    mask = torch.ones(M, P, dtype=torch.bool)
    stream = torch.tensor([seed_words(5, m) for m in range(M)])

    def train(lr_mid):
        net = BatchedMLP.initialise([(5, m) for m in range(M)], I, J, K, output="linear",
                                    lr=[0.01, lr_mid, 0.02], momentum=0.9)
        losses = []
        for epoch in range(1, 8):
            sse, _ = net.train_epoch(inputs, targets, rows, rows, mask, stream, epoch, B)
            net.disable(net.alive & ~(torch.isfinite(sse) & net.finite()))
            losses.append(sse.clone())
        return net, torch.stack(losses)

    bad, bad_losses = train(1e6)
    good, good_losses = train(0.03)
    assert bad.alive.tolist() == [True, False, True]
    assert good.alive.all()
    assert float(bad.hidden_weight[1].abs().sum()) == 0  # disabled networks are zeroed and frozen
    for p, q in zip(bad.parameters(), good.parameters()):
        assert torch.equal(p[[0, 2]], q[[0, 2]])
    assert torch.equal(bad_losses[:, [0, 2]], good_losses[:, [0, 2]])


def test_train_config_validates():
    TrainConfig(hidden=64, lr=0.1, weight_decay=0, momentum=0.9, batch_size=16)
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(hidden=64, lr=0.0, weight_decay=0, momentum=0.9, batch_size=16)
    with pytest.raises(ValueError, match="momentum"):
        TrainConfig(hidden=64, lr=0.1, weight_decay=0, momentum=1.0, batch_size=16)
    with pytest.raises(TypeError, match="hidden"):
        TrainConfig(hidden=6.5, lr=0.1, weight_decay=0, momentum=0.9, batch_size=16)


def test_unavailable_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
    else:
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")


def test_sparse_shuffle_gives_the_dense_shuffles_included_positions_in_the_same_order():
    """A mask that includes few positions is shuffled by hashing those alone; the first |L| entries of
    every row are exactly those of the full sort over all positions (bit for bit the same batches)."""
    import numpy as np
    import torch

    from alnn.model import _hash_uint32, seed_words, shuffle_order

    rng = np.random.default_rng(0)
    P = 500
    mask = torch.as_tensor(rng.random((7, P)) < 0.05)
    mask[3] = False  # a row with nothing included
    stream = torch.as_tensor([seed_words(1, 2, m) for m in range(7)])
    got = shuffle_order(stream, 9, mask)
    keys = _hash_uint32(stream, 9, P).astype(np.int64)
    for m in range(7):
        inc = np.flatnonzero(mask[m].numpy())
        want = inc[np.lexsort((inc, keys[m, inc]))]  # by key, ties by position
        assert got[m, : len(inc)].tolist() == want.tolist()
    assert got.shape[1] == int(mask.sum(dim=1).max())
