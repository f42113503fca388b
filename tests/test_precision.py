"""The engine's ``precision`` setting, and that its speed-ups leave the float32 numbers alone.

References are independent of the engine: torch.nn networks with autograd and
torch.optim.SGD, in float64.
"""

import numpy as np
import pytest
import torch

from alnn import model
from alnn.model import BatchedMLP, hash_uniform, seed_words, shuffle_order

# One bfloat16 step (operands rounded to 8 significant bits, float32 sums) against float64: the
# norm-wise relative error of each network's update.  Measured over 40 networks: 4e-3 to 5e-3
# with sigmoid outputs; with a linear output up to 1.9e-2 for the whole update and 4e-2 for a
# bias, whose gradient is a sum of signed terms over the batch: their cancellation magnifies
# bfloat16's rounding (2**-9) of the terms.
BF16_UPDATE_RTOL = 3e-2  # a network's whole update, and each weight matrix's
BF16_BIAS_RTOL = 6e-2  # each bias vector's


def _reference(net: BatchedMLP, m: int, dtype=torch.float64):
    """A torch.nn copy of network m (in ``dtype``) and its torch.optim.SGD optimiser."""
    layers = [torch.nn.Linear(net.n_inputs, net.n_hidden), torch.nn.Sigmoid(),
              torch.nn.Linear(net.n_hidden, net.n_outputs)]
    if net.output == "sigmoid":
        layers.append(torch.nn.Sigmoid())
    seq = torch.nn.Sequential(*layers).to(dtype)
    with torch.no_grad():
        for layer, w, b in ((seq[0], net.hidden_weight, net.hidden_bias), (seq[2], net.output_weight, net.output_bias)):
            layer.weight.copy_(w[m])
            layer.bias.copy_(b[m])
    lr, mom, wd = (float(h[m]) for h in net._hyper_np)
    return seq, torch.optim.SGD(seq.parameters(), lr=lr, momentum=mom, weight_decay=wd)


def _ref_step(seq, opt, X, T) -> float:
    opt.zero_grad()
    loss = ((seq(X) - T) ** 2).sum(dim=1).mean()  # the engine's loss: mean over patterns, sum over outputs
    loss.backward()
    opt.step()
    return float(loss.detach()) * len(X)


def _ref_params(seq):
    return [seq[0].weight, seq[0].bias, seq[2].weight, seq[2].bias]


def _check_update(net: BatchedMLP, before, seq, m: int) -> float:
    """Network m's update against its float64 reference's (BF16_UPDATE_RTOL, BF16_BIAS_RTOL);
    returns the hidden weights' relative error."""
    d = [mine[m].detach().double().cpu() - p0[m] for mine, p0 in zip(net.parameters(), before)]
    d_ref = [theirs.detach() - p0[m] for theirs, p0 in zip(_ref_params(seq), before)]
    rel = [float((a - b).norm() / b.norm()) for a, b in zip(d, d_ref)]
    whole = float(torch.cat([(a - b).flatten() for a, b in zip(d, d_ref)]).norm()
                  / torch.cat([b.flatten() for b in d_ref]).norm())
    assert whole <= BF16_UPDATE_RTOL, (m, whole)
    assert rel[0] <= BF16_UPDATE_RTOL and rel[2] <= BF16_UPDATE_RTOL, (m, rel)
    assert rel[1] <= BF16_BIAS_RTOL and rel[3] <= BF16_BIAS_RTOL, (m, rel)
    return rel[0]


def _bytes(tensors) -> list[bytes]:
    return [t.detach().cpu().contiguous().numpy().tobytes() for t in tensors]


def _groups(net: BatchedMLP) -> int:
    return len(next(iter(net._work.values()))["chunks"])


# --------------------------------------------------------------------------- the setting


def test_precision_is_validated():
    seeds = [(0, 0), (0, 1)]
    assert BatchedMLP.initialise(seeds, 4, 8, 3).precision == "float32"
    for bad in ("float16", "bf16", "", None, 32):
        with pytest.raises(ValueError, match="precision must be one of 'float32', 'bfloat16', 'tf32'"):
            BatchedMLP.initialise(seeds, 4, 8, 3, precision=bad)
    net = BatchedMLP.initialise(seeds, 4, 8, 3)
    with pytest.raises(ValueError, match="precision must be one of"):
        BatchedMLP(*net.parameters(), precision="half")
    with pytest.raises(ValueError, match="float32 parameters"):
        BatchedMLP.initialise(seeds, 4, 8, 3, dtype=torch.float64, precision="bfloat16")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="only valid on CUDA"):
            BatchedMLP.initialise(seeds, 4, 8, 3, precision="tf32")
    low = BatchedMLP.initialise(seeds, 4, 8, 3, precision="bfloat16")
    assert low.precision == "bfloat16" and low.bf16_mode in ("f32out", "native", "emulated")
    assert low.dtype == torch.float32  # the master weights
    assert all(torch.equal(p, q) for p, q in zip(low.parameters(), net.parameters()))  # same initial weights


# --------------------------------------------------------------------------- float32 is unchanged


def _train(monkeypatch, chunk, *, output, B, J, K, epochs=4, dtype=torch.float32):
    """Networks with per-network hyperparameters, subsets of different sizes (partial last
    batches, idle networks in late steps), balanced and plain epochs and one diverging network."""
    monkeypatch.setattr(model, "_STEP_CHUNK_ELEMENTS", chunk)
    M, P, I = 7, 60, 5
    g = torch.Generator().manual_seed(3)
    inputs = torch.randn(P + 9, I, generator=g, dtype=dtype)
    targets = (torch.rand if output == "sigmoid" else torch.randn)(P + 9, K, generator=g, dtype=dtype) * 2
    rows = torch.stack([torch.randperm(P + 9, generator=g)[:P] for _ in range(M)])
    mask = torch.rand(M, P, generator=g) < torch.linspace(0.2, 1.0, M).unsqueeze(1)
    stream = torch.tensor([seed_words(4, m) for m in range(M)])
    lr = np.linspace(0.05, 0.4, M)
    lr[2] = 1e7  # diverges: zeroed and frozen, the others untouched
    net = BatchedMLP.initialise([(4, m) for m in range(M)], I, J, K, output=output, lr=lr,
                                momentum=np.linspace(0, 0.95, M), weight_decay=np.linspace(0, 0.01, M),
                                dtype=dtype)
    losses = []
    for epoch in range(1, epochs + 1):
        sse, _ = net.train_epoch(inputs, targets, rows, rows, mask, stream, epoch, B, balanced=epoch % 2 == 0)
        net.disable(net.alive & ~(torch.isfinite(sse) & net.finite()))
        losses.append(sse.clone())
    same_lr = BatchedMLP(*net.parameters(), output=output, lr=0.1, momentum=0.9, weight_decay=1e-3)
    pick = torch.arange(M * B) % len(inputs)
    same_lr.step(inputs[pick].view(M, B, I), targets[pick].view(M, B, K))  # the uniform-hyperparameter path
    return net, net.snapshot() + losses + [net.predict(inputs, rows)] + same_lr.snapshot(), _groups(same_lr)


@pytest.mark.parametrize("output, B, J, K", [("linear", 16, 64, 1), ("sigmoid", 8, 8, 8), ("sigmoid", 16, 12, 4)])
def test_groups_of_networks_change_no_bit(monkeypatch, output, B, J, K):
    """A CPU step works through the networks in groups (cache-sized); the numbers are those of
    one group of all networks, byte for byte."""
    one, ref, n_one = _train(monkeypatch, 1 << 40, output=output, B=B, J=J, K=K)
    many, got, n_many = _train(monkeypatch, 1, output=output, B=B, J=J, K=K)
    assert n_one == 1 and n_many == 7  # groups of one network
    assert many.alive.tolist() == one.alive.tolist() and not bool(one.alive[2])
    assert _bytes(got) == _bytes(ref)


def test_groups_are_refused_where_a_vector_tail_could_change_a_bit(monkeypatch):
    # B * J = 42 is no multiple of 64: torch's element-wise loops would end each group in a
    # scalar tail (whose sigmoid may differ in the last bit), so the step keeps one group
    _, ref, _ = _train(monkeypatch, 1 << 40, output="sigmoid", B=6, J=7, K=3, epochs=2)
    _, got, groups = _train(monkeypatch, 1, output="sigmoid", B=6, J=7, K=3, epochs=2)
    assert groups == 1
    assert _bytes(got) == _bytes(ref)


def test_grouped_steps_match_torch_sgd(monkeypatch):
    """In groups of one network, with one linear output gathered from its own table (rows_t is
    not rows_x): every step equals torch.nn + torch.optim.SGD (float64)."""
    monkeypatch.setattr(model, "_STEP_CHUNK_ELEMENTS", 1)
    M, P, I, J, K, B = 4, 37, 6, 16, 1, 8
    g = torch.Generator().manual_seed(5)
    inputs = torch.randn(50, I, generator=g, dtype=torch.float64)
    targets = torch.randn(45, K, generator=g, dtype=torch.float64)
    rows_x = torch.stack([torch.randperm(50, generator=g)[:P] for _ in range(M)])
    rows_t = torch.stack([torch.randperm(45, generator=g)[:P] for _ in range(M)])
    mask = torch.rand(M, P, generator=g) < torch.tensor([[1.0], [0.7], [0.4], [0.9]])
    stream = torch.tensor([seed_words(6, m) for m in range(M)])
    net = BatchedMLP.initialise([(6, m) for m in range(M)], I, J, K, output="linear", lr=[0.05, 0.1, 0.02, 0.08],
                                momentum=0.9, weight_decay=[0.0, 1e-3, 1e-2, 0.0], dtype=torch.float64)
    refs = [_reference(net, m) for m in range(M)]
    for epoch in range(1, 5):
        sse, shown = net.train_epoch(inputs, targets, rows_x, rows_t, mask, stream, epoch, B)
        order = shuffle_order(stream, epoch, mask)
        for m, (seq, opt) in enumerate(refs):
            pos = order[m, :int(shown[m])]
            total = sum(_ref_step(seq, opt, inputs[rows_x[m, pos[s:s + B]]], targets[rows_t[m, pos[s:s + B]]])
                        for s in range(0, len(pos), B))
            assert total == pytest.approx(float(sse[m]), rel=1e-9)
    assert _groups(net) == M
    for m, (seq, _) in enumerate(refs):
        for mine, theirs in zip(net.parameters(), _ref_params(seq)):
            np.testing.assert_allclose(mine[m].detach().numpy(), theirs.detach().numpy(), rtol=0, atol=1e-9)


def test_cpu_shuffle_fast_path_gives_the_reference_order(monkeypatch):
    """hash_uniform and shuffle_order on the CPU (uint32 numpy, one sort of distinct keys) give
    exactly the integers and orders of the int64 torch reference (CUDA's path)."""
    g = torch.Generator().manual_seed(7)
    stream = torch.tensor([seed_words(9, m) for m in range(5)])
    masks = [torch.rand(5, 300, generator=g) < 0.5, torch.ones(5, 64, dtype=torch.bool),
             torch.zeros(5, 10, dtype=torch.bool), torch.rand(5, 1, generator=g) < 0.5]
    counters = [0, 1, 77, 2**32 - 1, 2**32 + 5]
    fast = [hash_uniform(stream, c, 1000) for c in counters] + [shuffle_order(stream, 3, m) for m in masks]
    monkeypatch.setattr(model, "_hash_uint32", lambda *args: None)  # the torch int64 path
    slow = [hash_uniform(stream, c, 1000) for c in counters] + [shuffle_order(stream, 3, m) for m in masks]
    for a, b in zip(fast, slow):
        assert a.dtype == b.dtype == torch.int64
        assert torch.equal(a, b)


# --------------------------------------------------------------------------- bfloat16


@pytest.mark.parametrize("mode", ["this machine", "emulated", "native"])
@pytest.mark.parametrize("output, K", [("sigmoid", 3), ("linear", 1)])
def test_bfloat16_step_agrees_with_float64(monkeypatch, mode, output, K):
    """One bfloat16 step (momentum and weight decay on) against float64 autograd + SGD from the
    same parameters: each network's update within BF16_UPDATE_RTOL / BF16_BIAS_RTOL
    (norm-wise), and clearly not float32 (the operands really are rounded)."""
    if mode != "this machine":  # "native" runs torch's bfloat16 product even where it is slow
        monkeypatch.setattr(model, "_bf16_mode", lambda device: mode)
    M, I, J, B = 3, 13, 64, 32
    net = BatchedMLP.initialise([(8, m) for m in range(M)], I, J, K, output=output, lr=[0.1, 0.3, 0.05],
                                momentum=0.9, weight_decay=1e-3, precision="bfloat16")
    assert net.bf16_mode == (model._bf16_mode(net.device) if mode == "this machine" else mode)
    g = torch.Generator().manual_seed(9)
    X = torch.randn(M, B, I, generator=g)
    T = torch.rand(M, B, K, generator=g) if output == "sigmoid" else torch.randn(M, B, K, generator=g)
    refs = [_reference(net, m) for m in range(M)]
    before = [p.detach().double().clone() for p in net.parameters()]
    sse = net.step(X, T)
    for m, (seq, opt) in enumerate(refs):
        loss = _ref_step(seq, opt, X[m].double(), T[m].double())
        assert float(sse[m]) == pytest.approx(loss, rel=1e-2)
        rel = _check_update(net, before, seq, m)
        assert rel > 1e-5  # float32 products would agree to about 1e-7


def test_bfloat16_trains_iris_like_float32():
    """Iris, 8 networks, 60 epochs: validation accuracy in bfloat16 within 5 points of float32."""
    from sklearn.datasets import load_iris

    Xn, y = load_iris(return_X_y=True)
    perm = np.random.default_rng(0).permutation(150)
    Xn = (Xn - Xn[perm[:120]].mean(0)) / Xn[perm[:120]].std(0)
    inputs = torch.as_tensor(Xn, dtype=torch.float32)
    targets = torch.nn.functional.one_hot(torch.as_tensor(y), 3).float()
    M = 8
    rows = torch.as_tensor(perm[:120]).repeat(M, 1)
    val = torch.as_tensor(perm[120:]).repeat(M, 1)
    mask = torch.ones(M, 120, dtype=torch.bool)
    stream = torch.tensor([seed_words(10, m) for m in range(M)])
    acc = {}
    for precision in ("float32", "bfloat16"):
        net = BatchedMLP.initialise([(10, m) for m in range(M)], 4, 16, 3, lr=0.5, momentum=0.9,
                                    weight_decay=1e-4, precision=precision)
        for epoch in range(1, 61):
            net.train_epoch(inputs, targets, rows, rows, mask, stream, epoch, 16)
        pred = net.predict(inputs, val).argmax(dim=2)
        acc[precision] = (pred == torch.as_tensor(y)[val]).float().mean(dim=1).numpy()
    assert acc["float32"].mean() > 0.85
    assert acc["bfloat16"].mean() >= acc["float32"].mean() - 0.05
    assert acc["bfloat16"].min() > 0.7


def test_bfloat16_forward_and_predict_are_close_to_float32():
    seeds = [(11, m) for m in range(3)]
    net32 = BatchedMLP.initialise(seeds, 20, 48, 4)
    net16 = BatchedMLP.initialise(seeds, 20, 48, 4, precision="bfloat16")
    g = torch.Generator().manual_seed(12)
    inputs = torch.randn(70, 20, generator=g)
    rows = torch.randint(0, 70, (3, 50), generator=g)
    p32, p16 = net32.predict(inputs, rows), net16.predict(inputs, rows, chunk=7)
    assert p16.dtype == torch.float32
    assert float((p16 - p32).abs().max()) < 1e-2
    assert float((p16 - p32).abs().max()) > 0  # really bfloat16
    (h32, o32), (h16, o16) = net32.forward(inputs[rows]), net16.forward(inputs[rows])
    assert float((h16 - h32).abs().max()) < 2e-2 and float((o16 - o32).abs().max()) < 1e-2
    torch.testing.assert_close(o16, p16, rtol=0, atol=1e-6)


# --------------------------------------------------------------------------- CUDA


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["tf32", "bfloat16"])
def test_cuda_low_precision_step_agrees_with_float64(precision):
    M, I, J, K, B = 3, 13, 64, 3, 32
    net = BatchedMLP.initialise([(13, m) for m in range(M)], I, J, K, lr=0.2, momentum=0.9, weight_decay=1e-3,
                                device="cuda", precision=precision)
    refs = [_reference(net, m) for m in range(M)]
    matmul = torch.backends.cuda.matmul
    setting = matmul.fp32_precision
    g = torch.Generator().manual_seed(14)
    X, T = torch.randn(M, B, I, generator=g), torch.rand(M, B, K, generator=g)
    before = [p.detach().double().cpu().clone() for p in net.parameters()]
    net.step(X.cuda(), T.cuda())
    assert matmul.fp32_precision == setting  # the TensorFloat-32 setting is restored
    for m, (seq, opt) in enumerate(refs):
        _ref_step(seq, opt, X[m].double(), T[m].double())
        _check_update(net, before, seq, m)
