"""Many one-hidden-layer sigmoid networks trained at once.

`BatchedMLP` holds M independent networks of one hidden size as stacked
tensors in ``torch.nn.Linear`` layout::

    hidden_weight (M, J, I)   hidden_bias (M, J)
    output_weight (M, K, J)   output_bias (M, K)

and trains them with batched matrix products (``torch.baddbmm``), so that one
call does the work of M ``torch.nn`` models with ``torch.optim.SGD``.

Model (SPEC section 2)
    y = sigmoid(V x + b);  o = sigmoid(W y + c) (classification) or W y + c (regression).

Loss
    The data term of a mini-batch of n patterns is (1/n) sum_p sum_k (t_pk - o_pk)^2
    (the draft's eq. 10: mean over patterns, sum over outputs).

Optimiser
    Exactly ``torch.optim.SGD(params, lr, momentum, weight_decay)`` (no dampening,
    no Nesterov) on every parameter, biases included::

        g   <- dLoss/dw + weight_decay * w
        buf <- momentum * buf + g          (buf starts at 0, so the first buf is g)
        w   <- w - lr * buf

    ``weight_decay`` is therefore torch's convention: it is the gradient of the
    penalty (weight_decay / 2) * sum(w^2); the SPEC's lambda * sum(w^2) is
    weight_decay = 2 * lambda.  lr, momentum and weight_decay may differ per network.

Mini-batches
    Every epoch each network shuffles the patterns of its pool that its mask
    includes, with its own random stream, and walks through them in batches of
    ``batch_size``; the last batch may be smaller.  A network with fewer
    included patterns takes fewer steps: in the steps after it has run out it is
    frozen exactly (no momentum drift, no decay).

Divergence
    A network whose loss or weights become non-finite is flagged (`alive` is
    False), its parameters and momentum are set to zero and it never updates
    again; the others are unaffected, bit for bit (every network is its own
    matrix in the batched products).

Precision
    ``precision="float32"`` (the default and the reference: products in the
    parameters' dtype), ``"bfloat16"`` (bfloat16 operands, float32 sums, float32
    master weights) or ``"tf32"`` (CUDA only); see `BatchedMLP`.

Randomness
    Initial weights are drawn like ``torch.nn.Linear``'s default
    (uniform on +-1/sqrt(fan_in), weights and biases) from a numpy generator
    seeded with a `numpy.random.SeedSequence` entropy tuple per network.
    Shuffles use a counter-based hash of (network stream, epoch, position), so
    they are identical on CPU and CUDA and do not depend on which other
    networks are in the batch.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np
import torch

__all__ = [
    "TrainConfig",
    "BatchedMLP",
    "resolve_device",
    "seed_words",
    "hash_uniform",
    "shuffle_order",
]


@dataclass(frozen=True)
class TrainConfig:
    """Control parameters of one network (SPEC section 5's grid dimensions).

    ``weight_decay`` uses torch's convention (see the module docstring):
    the gradient gets ``weight_decay * w``.
    """

    hidden: int
    lr: float
    weight_decay: float
    momentum: float
    batch_size: int

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("int", int):
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                    raise TypeError(f"TrainConfig.{f.name} must be an int, got {value!r}")
                object.__setattr__(self, f.name, int(value))
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                    raise TypeError(f"TrainConfig.{f.name} must be a number, got {value!r}")
                object.__setattr__(self, f.name, float(value))
        if self.hidden < 1:
            raise ValueError(f"TrainConfig.hidden must be >= 1, got {self.hidden}")
        if self.batch_size < 1:
            raise ValueError(f"TrainConfig.batch_size must be >= 1, got {self.batch_size}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"TrainConfig.lr must be a positive number, got {self.lr}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"TrainConfig.weight_decay must be >= 0, got {self.weight_decay}")
        if not (0 <= self.momentum < 1):
            raise ValueError(f"TrainConfig.momentum must be in [0, 1), got {self.momentum}")


# --------------------------------------------------------------------------- devices


def resolve_device(device) -> torch.device:
    """``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a torch.device; a clear ValueError if unusable."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'cpu' or 'cuda[:n]', got {device!r}") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} asked for, but CUDA is not available here; use device='cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif dev.type != "cpu":
        raise ValueError(f"device must be 'cpu' or 'cuda[:n]', got {device!r}")
    return dev


# --------------------------------------------------------------------------- randomness

_M32 = 0xFFFFFFFF


def seed_words(*entropy: int) -> tuple[int, int]:
    """Two 32-bit words from ``SeedSequence(entropy)``: the key of one random stream."""
    state = np.random.SeedSequence([int(e) for e in entropy]).generate_state(2, dtype=np.uint32)
    return int(state[0]), int(state[1])


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    # (x * c) mod 2**32 for 0 <= x < 2**32 without overflowing int64.
    lo, hi = c & 0xFFFF, c >> 16
    return (x * lo + (((x * hi) & 0xFFFF) << 16)) & _M32


def _mix32(x: torch.Tensor) -> torch.Tensor:
    # A bijective 32-bit integer hash (Wellons' lowbias32) on int64 tensors.
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def _mix32_np(x: np.ndarray) -> np.ndarray:
    # _mix32 on a uint32 array, in place (numpy's uint32 arithmetic wraps modulo 2**32).
    x ^= x >> 16
    x *= np.uint32(0x7FEB352D)
    x ^= x >> 15
    x *= np.uint32(0x846CA68B)
    x ^= x >> 16
    return x


def _hash_uint32(stream: torch.Tensor, counter: int, n: int) -> np.ndarray | None:
    # hash_uniform of a CPU stream in uint32 arithmetic: the same integers, several times
    # faster than the int64 emulation; None when the stream words are not 32-bit.
    s = stream.numpy()
    if s.size and (int(s.min()) < 0 or int(s.max()) > _M32):
        return None
    s = s.astype(np.uint32)
    s0, s1 = s[:, 0:1], s[:, 1:2]
    a = _mix32_np(s0 + np.uint32(((int(counter) & _M32) * 0x9E3779B9) & _M32))
    a = _mix32_np(a ^ s1)
    h = _mix32_np(np.arange(n, dtype=np.uint32) * np.uint32(0x85EBCA6B) + a)
    h ^= s1
    return _mix32_np(h)


def hash_uniform(stream: torch.Tensor, counter: int, n: int) -> torch.Tensor:
    """Random 32-bit integers (as int64 in [0, 2**32)), shape (M, n).

    Row m depends only on ``stream[m]`` (two 32-bit words from `seed_words`),
    ``counter`` (e.g. the epoch) and the position, never on the other rows, and
    is the same on every device.
    """
    if stream.device.type == "cpu":
        h = _hash_uint32(stream, counter, n)
        if h is not None:
            return torch.from_numpy(h.astype(np.int64))
    stream = stream.to(torch.int64)
    s0, s1 = stream[:, 0:1], stream[:, 1:2]
    a = _mix32((s0 + _mul32(torch.full_like(s0, int(counter) & _M32), 0x9E3779B9)) & _M32)
    a = _mix32(a ^ s1)
    j = torch.arange(n, device=stream.device, dtype=torch.int64)
    h = _mix32((_mul32(j, 0x85EBCA6B) + a) & _M32)
    return _mix32(h ^ s1)


def included_positions(mask: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The included positions of every row of ``mask`` (M, P) bool, in ascending order, padded with 0 to
    the fullest row's count (at least one column), and the counts: (positions (M, w), counts (M,)),
    numpy.  A protocol whose masks stay the same for many epochs computes them once
    (`BatchedMLP.train_epoch`'s ``included``)."""
    m = mask.cpu().numpy()
    counts = m.sum(axis=1)
    M = m.shape[0]
    width = max(int(counts.max()) if M else 0, 1)
    rows, cols = np.nonzero(m)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    pos = np.zeros((M, width), dtype=np.int64)
    pos[rows, np.arange(rows.size) - start[rows]] = cols
    return pos, counts


def _shuffle_positions(stream: torch.Tensor, counter: int, pos: np.ndarray, counts: np.ndarray,
                       P: int) -> torch.Tensor | None:
    """The first ``counts[m]`` entries of ``shuffle_order`` for rows whose included positions are
    ``pos[m, :counts[m]]`` (ascending), hashing and sorting those positions alone; position 0 pads
    the rest.  None for streams whose words are not 32-bit."""
    s = stream.numpy()
    if s.size and (int(s.min()) < 0 or int(s.max()) > _M32):
        return None
    M, width = pos.shape
    s = s.astype(np.uint32)
    s0, s1 = s[:, 0:1], s[:, 1:2]
    a = _mix32_np(s0 + np.uint32(((int(counter) & _M32) * 0x9E3779B9) & _M32))
    a = _mix32_np(a ^ s1)
    h = _mix32_np(pos.astype(np.uint32) * np.uint32(0x85EBCA6B) + a)
    h ^= s1
    keys = _mix32_np(h)  # exactly _hash_uint32's keys at these positions
    bits = max(1, (P - 1).bit_length())
    comp = keys.astype(np.int64) << bits
    comp |= pos
    pad = np.arange(width)[None, :] >= np.asarray(counts)[:, None]
    comp[pad] = 1 << (32 + bits)  # after every included position; decodes to position 0
    comp.sort(axis=1)
    comp &= (1 << bits) - 1
    return torch.from_numpy(comp)


def _shuffle_sparse(stream: torch.Tensor, counter: int, mask: torch.Tensor) -> torch.Tensor | None:
    """`shuffle_order` for masks that include at most a quarter of the positions (CPU): the same first
    ``mask[m].sum()`` entries of every row, found by hashing and sorting the included positions alone
    (a labelled set of 10 in a pool of 16512 sorts 10 keys, not 16512), then position 0 as padding;
    the result has as many columns as the fullest row (at least one).  None where it does not apply."""
    M, P = mask.shape
    if not M or int(mask.sum(dim=1).max()) * 4 > P:
        return None
    pos, counts = included_positions(mask)
    return _shuffle_positions(stream, counter, pos, counts, P)


def shuffle_order(stream: torch.Tensor, counter: int, mask: torch.Tensor) -> torch.Tensor:
    """Positions of each row's included patterns in random order, then the excluded ones.

    ``mask`` is (M, P) bool.  Returns (M, P) int64; the first ``mask[m].sum()``
    entries of row m are a uniformly random permutation of the included positions.
    On the CPU, a mask that includes at most a quarter of the positions gets only
    those first entries, padded with position 0 to the fullest row's count
    (`_shuffle_sparse`): what follows them is never trained on.
    """
    P = mask.shape[1]
    if stream.device.type == "cpu" and mask.device.type == "cpu" and P < (1 << 30):
        sparse = _shuffle_sparse(stream, counter, mask)
        if sparse is not None:
            return sparse
        keys = _hash_uint32(stream, counter, P)
        if keys is not None:
            # One sort of distinct int64 keys (hash << bits | position, the excluded ones after
            # every hash): the order of the stable sort below, several times faster.
            bits = max(1, (P - 1).bit_length())
            pos = np.arange(P, dtype=np.int64)
            comp = keys.astype(np.int64) << bits
            comp |= pos
            np.copyto(comp, (1 << (32 + bits)) | pos, where=~mask.numpy())
            comp.sort(axis=1)
            comp &= (1 << bits) - 1
            return torch.from_numpy(comp)
    keys = hash_uniform(stream, counter, mask.shape[1])
    keys = torch.where(mask, keys, torch.full_like(keys, 1 << 40))
    return torch.sort(keys, dim=1, stable=True).indices


# --------------------------------------------------------------------------- the model

_ELEMENTS_PER_CHUNK = 1 << 22  # gathered elements per chunk of prediction work
# A CPU training step (one thread) works through the networks in about
# ceil(M B J / _STEP_CHUNK_ELEMENTS) equal groups, so that a group's hidden
# activations and back-propagated errors (about 1 MiB each) stay in the cache
# through all the step's operations instead of streaming whole (M, B, J) tensors
# from memory a dozen times: 2x faster on California Housing (80 networks of 512
# hidden units); larger groups cost memory traffic, smaller ones the fixed cost of
# some 15 torch calls per group.
_STEP_CHUNK_ELEMENTS = 1 << 18

PRECISIONS = ("float32", "bfloat16", "tf32")


def _bf16_mode(device: torch.device) -> str:
    """How bfloat16 products run here: "f32out" (CUDA, float32 results), "native" (bfloat16
    matrix instructions, bfloat16-rounded results) or "emulated" (float32 products of
    bfloat16-rounded operands: CPUs without bfloat16 instructions, where torch's bfloat16
    matrix product is tens of times slower than float32)."""
    if device.type == "cuda":
        return "f32out" if _cuda_bmm_out_dtype() else "native"
    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    return "native" if native else "emulated"


_OUT_DTYPE: list = []


def _cuda_bmm_out_dtype() -> bool:
    # Whether torch.bmm(bf16, bf16, out_dtype=torch.float32) works here (checked once).
    if not _OUT_DTYPE:
        try:
            a = torch.zeros((1, 1, 1), dtype=torch.bfloat16, device="cuda")
            ok = torch.bmm(a, a, out_dtype=torch.float32).dtype == torch.float32
        except (RuntimeError, TypeError, NotImplementedError):
            ok = False
        _OUT_DTYPE.append(ok)
    return _OUT_DTYPE[0]


@contextlib.contextmanager
def _tf32_products():
    """float32 matrix products in TensorFloat-32 on CUDA inside the block, restored after."""
    matmul = torch.backends.cuda.matmul
    try:
        old = matmul.fp32_precision
    except AttributeError:  # torch before the fp32_precision API
        old = matmul.allow_tf32
        matmul.allow_tf32 = True
        try:
            yield
        finally:
            matmul.allow_tf32 = old
        return
    matmul.fp32_precision = "tf32"
    try:
        yield
    finally:
        matmul.fp32_precision = old


def _per_model(value, m: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(m, float(arr))
    if arr.shape != (m,):
        raise ValueError(f"{name} must be a scalar or have one value per network ({m}), got shape {arr.shape}")
    return arr


class BatchedMLP:
    """M one-hidden-layer networks of one hidden size, trained together.

    Parameters are the four stacked tensors in ``torch.nn.Linear`` layout;
    ``lr``, ``momentum``, ``weight_decay`` are scalars or one value per network.
    ``output`` is ``"sigmoid"`` (classification) or ``"linear"`` (regression).

    ``precision`` says how the matrix products (forward, back-propagation and
    weight gradients, in training, `forward` and `predict`) are computed:

    ``"float32"`` (default, the reference)
        in the parameters' dtype (float32 or float64), exactly as before this option.
    ``"bfloat16"``
        each product's two operands are rounded to bfloat16 (8 significant bits);
        the products are summed in float32; everything else (biases, sigmoid,
        errors, momentum, weight decay, the master weights) stays float32.  On
        CUDA the product result is float32 (``torch.bmm(..., out_dtype=float32)``
        where available); on CPUs with bfloat16 instructions (AVX512-BF16, AMX)
        torch's bfloat16 product is used and its result is rounded to bfloat16;
        on other CPUs (`bf16_mode` ``"emulated"``) torch's bfloat16 product runs
        tens of times slower than float32, so the operands are rounded to
        bfloat16 and multiplied with the float32 product (exact products of
        bfloat16 numbers, float32 sums: the same numerics, a little slower than
        float32, for testing and portability, not speed).  One step's update
        agrees with float64 to a norm-wise relative error of 4e-3 to 2e-2 (the
        larger with a linear output, whose errors partly cancel in the sums over
        the batch); tests/test_precision.py asserts <= 3e-2 per network and per
        weight matrix, <= 6e-2 per bias vector.  Needs float32 parameters.
    ``"tf32"``
        float32 products with TensorFloat-32 tensor cores; CUDA only.
    """

    def __init__(self, hidden_weight, hidden_bias, output_weight, output_bias, *, output="sigmoid",
                 lr=0.1, momentum=0.0, weight_decay=0.0, precision="float32"):
        if output not in ("sigmoid", "linear"):
            raise ValueError(f"output must be 'sigmoid' or 'linear', got {output!r}")
        V, b, W, c = (torch.as_tensor(t) for t in (hidden_weight, hidden_bias, output_weight, output_bias))
        M, J, I = V.shape
        K = W.shape[1]
        if b.shape != (M, J) or W.shape != (M, K, J) or c.shape != (M, K):
            raise ValueError("parameter shapes must be (M,J,I), (M,J), (M,K,J), (M,K)")
        if not isinstance(precision, str) or precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}")
        if precision != "float32" and V.dtype != torch.float32:
            raise ValueError(f"precision={precision!r} needs float32 parameters (the master weights), "
                             f"got {V.dtype}")
        if precision == "tf32" and V.device.type != "cuda":
            raise ValueError(f"precision='tf32' (TensorFloat-32 products) is only valid on CUDA; these "
                             f"parameters are on {V.device.type!r}: use 'float32' or 'bfloat16'")
        self.output = output
        self.precision = precision
        self.bf16_mode = _bf16_mode(V.device) if precision == "bfloat16" else None
        # Storage: the hidden weight is kept as (M, I, J) when I < J, so that the
        # gradient product X^T D1 has J columns rather than I (few-column
        # products are several times slower); `hidden_weight` is always (M, J, I).
        self._hidden_t = I < J
        self._V = (V.transpose(1, 2) if self._hidden_t else V).contiguous().clone()
        self.hidden_bias = b.contiguous().clone()
        self.output_weight = W.contiguous().clone()
        self.output_bias = c.contiguous().clone()
        self._bufs = [torch.zeros_like(p) for p in self._storage()]
        self.alive = torch.ones(M, dtype=torch.bool, device=V.device)
        self._alive_np = np.ones(M, dtype=bool)
        self.set_hyperparameters(lr=lr, momentum=momentum, weight_decay=weight_decay)
        self._work: dict = {}
        self._same_rows = None  # (rows_x, rows_t, whether equal) of the latest epoch

    # ------------------------------------------------------------------ construction

    @classmethod
    def initialise(cls, seeds: Sequence[Sequence[int]], n_inputs: int, n_hidden: int, n_outputs: int, *,
                   output="sigmoid", lr=0.1, momentum=0.0, weight_decay=0.0, device="cpu",
                   dtype=torch.float32, precision="float32") -> "BatchedMLP":
        """One network per entropy tuple in ``seeds``, initialised like ``torch.nn.Linear``.

        Network m's weights depend only on ``seeds[m]`` and the layer sizes (not on
        ``precision``, see the class docstring).
        """
        if not isinstance(precision, str) or precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}")
        I, J, K = int(n_inputs), int(n_hidden), int(n_outputs)
        V = np.empty((len(seeds), J, I))
        b = np.empty((len(seeds), J))
        W = np.empty((len(seeds), K, J))
        c = np.empty((len(seeds), K))
        for m, entropy in enumerate(seeds):
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(e) for e in entropy])))
            bi, bo = 1.0 / math.sqrt(I), 1.0 / math.sqrt(J)
            V[m] = rng.uniform(-bi, bi, (J, I))
            b[m] = rng.uniform(-bi, bi, J)
            W[m] = rng.uniform(-bo, bo, (K, J))
            c[m] = rng.uniform(-bo, bo, K)
        dev = resolve_device(device)
        as_t = lambda a: torch.as_tensor(a, dtype=dtype).to(dev)  # noqa: E731
        return cls(as_t(V), as_t(b), as_t(W), as_t(c), output=output, lr=lr, momentum=momentum,
                   weight_decay=weight_decay, precision=precision)

    def set_hyperparameters(self, *, lr, momentum, weight_decay):
        M = self.n_models
        lr, mom, wd = (_per_model(v, M, n) for v, n in ((lr, "lr"), (momentum, "momentum"),
                                                         (weight_decay, "weight_decay")))
        self._hyper_np = (lr, mom, wd)
        dev, dt = self.device, self.dtype
        self._lr = torch.as_tensor(lr, dtype=dt, device=dev)
        self._mom = torch.as_tensor(mom, dtype=dt, device=dev)
        self._wd = torch.as_tensor(wd, dtype=dt, device=dev)
        same = all(np.all(v == v[0]) for v in (lr, mom, wd)) if M else True
        self._uniform = (float(lr[0]), float(mom[0]), float(wd[0])) if (same and M) else None

    # ------------------------------------------------------------------ properties

    @property
    def hidden_weight(self) -> torch.Tensor:
        """(M, J, I), ``torch.nn.Linear`` layout (a view of the stored tensor)."""
        return self._V.transpose(1, 2) if self._hidden_t else self._V

    def parameters(self) -> list[torch.Tensor]:
        """hidden_weight (M, J, I), hidden_bias (M, J), output_weight (M, K, J), output_bias (M, K)."""
        return [self.hidden_weight, self.hidden_bias, self.output_weight, self.output_bias]

    def _storage(self) -> list[torch.Tensor]:
        return [self._V, self.hidden_bias, self.output_weight, self.output_bias]

    @property
    def n_models(self) -> int:
        return self._V.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.hidden_weight.shape[2]

    @property
    def n_hidden(self) -> int:
        return self.hidden_bias.shape[1]

    @property
    def n_outputs(self) -> int:
        return self.output_weight.shape[1]

    @property
    def device(self) -> torch.device:
        return self._V.device

    @property
    def dtype(self) -> torch.dtype:
        return self._V.dtype

    # ------------------------------------------------------------------ forward

    def forward(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden activations (M, B, J) and outputs (M, B, K) for inputs X (M, B, I)."""
        if self.precision != "float32":
            with self._products():
                H = self._affine(X, self.hidden_weight.transpose(1, 2), self.hidden_bias.unsqueeze(1)).sigmoid_()
                O = self._affine(H, self.output_weight.transpose(1, 2), self.output_bias.unsqueeze(1))
            if self.output == "sigmoid":
                O.sigmoid_()
            return H, O
        H = torch.baddbmm(self.hidden_bias.unsqueeze(1), X, self.hidden_weight.transpose(1, 2)).sigmoid_()
        O = torch.baddbmm(self.output_bias.unsqueeze(1), H, self.output_weight.transpose(1, 2))
        if self.output == "sigmoid":
            O.sigmoid_()
        return H, O

    def predict(self, inputs: torch.Tensor, rows: torch.Tensor, *, chunk: int | None = None,
                models: slice | None = None) -> torch.Tensor:
        """Outputs (M, Q, K) of every network m for the rows ``inputs[rows[m]]``.

        ``models`` (a slice of the networks, M of them) restricts the call to those.
        Works in chunks of positions (and of networks) so that the gathered inputs
        never exceed about 2**22 elements; the chunking never changes the numbers.
        """
        M, Q = rows.shape
        I, J, K = self.n_inputs, self.n_hidden, self.n_outputs
        out = torch.empty((M, Q, K), dtype=self.dtype, device=self.device)
        if Q == 0 or M == 0:
            return out
        qc = chunk or max(1, min(Q, 1024))
        mc = max(1, min(M, _ELEMENTS_PER_CHUNK // (qc * max(I, J))))
        V, b, W, c = self.parameters() if models is None else [p[models] for p in self.parameters()]
        full = self.precision == "float32"
        with self._products():
            for m0 in range(0, M, mc):
                m1 = min(M, m0 + mc)
                for q0 in range(0, Q, qc):
                    q1 = min(Q, q0 + qc)
                    idx = rows[m0:m1, q0:q1].reshape(-1)
                    X = inputs.index_select(0, idx).view(m1 - m0, q1 - q0, I)
                    if full:
                        H = torch.baddbmm(b[m0:m1].unsqueeze(1), X, V[m0:m1].transpose(1, 2)).sigmoid_()
                        torch.baddbmm(c[m0:m1].unsqueeze(1), H, W[m0:m1].transpose(1, 2), out=out[m0:m1, q0:q1])
                    else:
                        H = self._affine(X, V[m0:m1].transpose(1, 2), b[m0:m1].unsqueeze(1)).sigmoid_()
                        self._affine(H, W[m0:m1].transpose(1, 2), c[m0:m1].unsqueeze(1), out=out[m0:m1, q0:q1])
        if self.output == "sigmoid":
            out.sigmoid_()
        return out

    def activations(self, inputs: torch.Tensor, rows: torch.Tensor, *, models: slice | None = None) -> torch.Tensor:
        """Hidden-layer activations (M, Q, J) of every network m for the rows ``inputs[rows[m]]``
        (chunked like `predict`; float32 products as in `forward`)."""
        M, Q = rows.shape
        I, J = self.n_inputs, self.n_hidden
        out = torch.empty((M, Q, J), dtype=self.dtype, device=self.device)
        if Q == 0 or M == 0:
            return out
        qc = max(1, min(Q, 1024))
        mc = max(1, min(M, _ELEMENTS_PER_CHUNK // (qc * max(I, J))))
        V, b = (self.hidden_weight, self.hidden_bias) if models is None else (self.hidden_weight[models],
                                                                              self.hidden_bias[models])
        with self._products():
            for m0 in range(0, M, mc):
                m1 = min(M, m0 + mc)
                for q0 in range(0, Q, qc):
                    q1 = min(Q, q0 + qc)
                    X = inputs.index_select(0, rows[m0:m1, q0:q1].reshape(-1)).view(m1 - m0, q1 - q0, I)
                    torch.baddbmm(b[m0:m1].unsqueeze(1), X, V[m0:m1].transpose(1, 2), out=out[m0:m1, q0:q1])
        return out.sigmoid_()

    # ------------------------------------------------------------------ products

    def _products(self):
        """The context of this model's matrix products: TensorFloat-32 for precision 'tf32'."""
        return _tf32_products() if self.precision == "tf32" else contextlib.nullcontext()

    def _lp(self, t: torch.Tensor) -> torch.Tensor:
        """A product operand in bfloat16 (a float32 tensor of bfloat16 values when emulated)."""
        t16 = t.to(torch.bfloat16)
        return t16.to(t.dtype) if self.bf16_mode == "emulated" else t16

    def _lp_cast(self, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """`_lp` into the preallocated ``dst`` (a view of the same shape as ``src``)."""
        return dst.copy_(src.to(torch.bfloat16) if self.bf16_mode == "emulated" else src)

    def _lp_mm(self, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor, *, add=None, beta=None) -> torch.Tensor:
        """``out <- add + a @ b``, ``out <- beta * out + a @ b`` or ``out <- a @ b`` (float32) from
        bfloat16 operands (`_lp`), the products summed in float32."""
        mode = self.bf16_mode
        if mode == "emulated":  # float32 tensors of bfloat16 values: exact products, float32 sums
            if add is not None:
                return torch.baddbmm(add, a, b, out=out)
            if beta is not None:
                return out.baddbmm_(a, b, beta=beta)
            return torch.bmm(a, b, out=out)
        p = torch.bmm(a, b, out_dtype=torch.float32) if mode == "f32out" else torch.bmm(a, b)
        if add is not None:
            return torch.add(add, p, out=out)
        if beta is not None:
            if beta != 1:
                out.mul_(beta)
            return out.add_(p)
        return out.copy_(p)

    def _affine(self, a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor, out=None) -> torch.Tensor:
        """``bias + a @ b`` with bfloat16 products (precision 'bfloat16') or float32 ones."""
        if self.bf16_mode is None:
            return torch.baddbmm(bias, a, b) if out is None else torch.baddbmm(bias, a, b, out=out)
        if out is None:
            out = torch.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=self.dtype, device=self.device)
        return self._lp_mm(self._lp(a), self._lp(b), out, add=bias)

    # ------------------------------------------------------------------ training

    def _buffers(self, B: int) -> dict:
        key = (B, torch.get_num_threads() == 1)
        work = self._work.get(key)
        if work is None:
            M, I, J, K = self.n_models, self.n_inputs, self.n_hidden, self.n_outputs
            # Groups of networks (see _STEP_CHUNK_ELEMENTS) on one CPU thread; else one group,
            # every operation one batched call as before the grouping.  The grouping leaves
            # every number as it is: each product is per network, and a group's element-wise
            # operations cover a multiple of 64 elements, so that torch's vectorised loops
            # never end in a scalar tail inside the tensor (the scalar sigmoid may differ in
            # the last bit).  Several threads would split the work differently: one group.
            size = max(M, 1)
            whole = B * J % 64 == 0 and (self.output == "linear" or K * B % 64 == 0)
            if self.device.type == "cpu" and key[1] and whole and M * B * J > _STEP_CHUNK_ELEMENTS:
                size = -(-M // -(-(M * B * J) // _STEP_CHUNK_ELEMENTS))
            e = dict(dtype=self.dtype, device=self.device)
            work = {
                "X": torch.empty((M * B, I), **e), "T": torch.empty((M * B, K), **e),
                # the hidden activations and back-propagated errors of one group at a time
                "Z1": torch.empty((size, B, J), **e), "S1": torch.empty((size, B, J), **e),
                "O": torch.empty((M, K, B), **e), "E": torch.empty((M, K, B), **e),
                "D2": torch.empty((M, K, B), **e),
                "gb": torch.empty((M, J), **e), "gc": torch.empty((M, K), **e),
            }
            groups = [(m0, min(M, m0 + size)) for m0 in range(0, M, size)]
            work["chunks"] = [self._chunk_views(work, B, m0, m1) for m0, m1 in groups]
            if self.bf16_mode is not None:  # the bfloat16 operands of one group's products
                l16 = dict(dtype=torch.float32 if self.bf16_mode == "emulated" else torch.bfloat16,
                           device=self.device)
                low = {"X": torch.empty((size, B, I), **l16), "Z1": torch.empty((size, B, J), **l16),
                       "S1": torch.empty((size, B, J), **l16), "D2": torch.empty((size, K, B), **l16),
                       "V": torch.empty((size,) + tuple(self._V.shape[1:]), **l16),
                       "W": torch.empty((size, K, J), **l16)}
                work["low"] = [self._low_views(low, m1 - m0) for m0, m1 in groups]
            self._work = {key: work}
        return work

    def _chunk_views(self, work: dict, B: int, m0: int, m1: int) -> tuple:
        """Views of networks m0:m1 of the step buffers and parameters in the shapes `_step` uses."""
        M, I, J, K = self.n_models, self.n_inputs, self.n_hidden, self.n_outputs
        n = m1 - m0
        X = work["X"].view(M, B, I)[m0:m1]
        H, S1, D2 = work["Z1"][:n], work["S1"][:n], work["D2"][m0:m1]
        Vs, W = self._V[m0:m1], self.output_weight[m0:m1]
        V = Vs if self._hidden_t else Vs.transpose(1, 2)  # (n, I, J): X @ V
        grad = (X.transpose(1, 2), S1) if self._hidden_t else (S1.transpose(1, 2), X)  # the gradient of Vs
        return (m0, m1, X, work["T"].view(M, B, K)[m0:m1].transpose(1, 2), H, H.transpose(1, 2), S1,
                work["O"][m0:m1], work["E"][m0:m1], D2, D2.transpose(1, 2), self.hidden_bias[m0:m1].unsqueeze(1),
                V, W, self.output_bias[m0:m1].unsqueeze(2), self._bufs[2][m0:m1], self._bufs[0][m0:m1],
                work["gb"][m0:m1], grad)

    def _low_views(self, low: dict, n: int) -> tuple:
        """The bfloat16 operand buffers of a group of n networks, in the shapes of `_chunk_views`."""
        x, h, d1, d2, w = low["X"][:n], low["Z1"][:n], low["S1"][:n], low["D2"][:n], low["W"][:n]
        v = low["V"][:n] if self._hidden_t else low["V"][:n].transpose(1, 2)
        grad = (x.transpose(1, 2), d1) if self._hidden_t else (d1.transpose(1, 2), x)
        return x, v, h, h.transpose(1, 2), w, d2, d2.transpose(1, 2), d1, grad

    def step(self, X: torch.Tensor, T: torch.Tensor, counts=None) -> torch.Tensor:
        """One SGD step of every network on its mini-batch X (M, B, I), targets T (M, B, K).

        ``counts`` (None or an int array of length M): network m uses only the first
        ``counts[m]`` patterns of its batch; a network with count 0 is left exactly
        as it is.  Returns the per-network sum of squared errors of the batch
        (before the update), shape (M,).
        """
        M, B, _ = X.shape
        work = self._buffers(B)
        if X.data_ptr() != work["X"].data_ptr():
            work["X"].view(M, B, -1).copy_(X)
        if T.data_ptr() != work["T"].data_ptr():
            work["T"].view(M, B, -1).copy_(T)
        return self._step(work, B, None if counts is None else np.asarray(counts))

    def _participation(self, B: int, counts: np.ndarray | None):
        """The loss scale (2/n: a float or (M, 1, 1)), the pattern mask ((M, 1, B) or None) and
        the frozen networks ((M,) bool or None) of one step."""
        if counts is None:
            return 2.0 / B, None, None
        M, dev = self.n_models, self.device
        valid = freeze = None
        if np.any(counts < B):
            valid = (torch.arange(B, device=dev) < torch.as_tensor(counts, device=dev)[:, None]).unsqueeze(1)
            valid = valid.to(self.dtype)
        n = np.maximum(counts, 1)
        scale = torch.as_tensor(2.0 / n, dtype=self.dtype, device=dev).view(M, 1, 1)
        idle = (counts == 0) & self._alive_np
        if idle.any():
            freeze = torch.as_tensor(idle, device=dev)
        return scale, valid, freeze

    def _begin(self, freeze):
        """The step's hyperparameters: ``(lr, momentum, decay), None`` when every network has the
        same ones, else ``None, (lr, momentum, decay)`` as (M,) tensors (a frozen network gets
        lr 0, momentum 1, decay 0), the momentum then already applied to the weights' buffers."""
        uniform = self._uniform if freeze is None else None
        if uniform is not None:
            return uniform, None
        M = self.n_models
        lr_t, mom_t, wd_t = self._lr, self._mom, self._wd
        if freeze is not None:
            lr_t = torch.where(freeze, torch.zeros_like(lr_t), lr_t)
            mom_t = torch.where(freeze, torch.ones_like(mom_t), mom_t)
            wd_t = torch.where(freeze, torch.zeros_like(wd_t), wd_t)
        self._bufs[2].mul_(mom_t.view(M, 1, 1))
        self._bufs[0].mul_(mom_t.view(M, 1, 1))
        return None, (lr_t, mom_t, wd_t)

    def _finish(self, work: dict, uniform, per_model) -> None:
        """The biases' momentum, then every parameter's decay and update (after the groups)."""
        M = self.n_models
        Vs, b, W, c = self._storage()
        bV, bb, bW, bc = self._bufs
        gc = torch.sum(work["D2"], dim=2, out=work["gc"])
        gb = work["gb"]
        if uniform is not None:
            lr, mom, wd = uniform
            bc.mul_(mom).add_(gc)
            bb.mul_(mom).add_(gb)
            for p, buf in ((Vs, bV), (b, bb), (W, bW), (c, bc)):
                if wd:
                    buf.add_(p, alpha=wd)
                p.add_(buf, alpha=-lr)
        else:
            lr_t, mom_t, wd_t = per_model
            bc.mul_(mom_t.view(M, 1)).add_(gc)
            bb.mul_(mom_t.view(M, 1)).add_(gb)
            neg_lr = -lr_t
            for p, buf in ((Vs, bV), (b, bb), (W, bW), (c, bc)):
                shape = (M,) + (1,) * (p.dim() - 1)
                buf.addcmul_(p, wd_t.view(shape))
                p.addcmul_(buf, neg_lr.view(shape))

    def _step(self, work: dict, B: int, counts: np.ndarray | None) -> torch.Tensor:
        """One step of every network on the batch in ``work["X"]``, ``work["T"]``.

        Per group of networks (`_STEP_CHUNK_ELEMENTS`), with E = O - T, D2 = dLoss/dZ2
        (M, K, B) and D1 = dLoss/dZ1 (M, B, J)::

            H = sigmoid(b + X V^T)        O = c + W H^T (sigmoid for classification)
            S1 = D2^T W                   (dLoss/dH, with W before its update)
            bufW <- mom bufW + D2 H       D1 = S1 * H (1 - H)      bufV <- mom bufV + D1^T X

        then the biases' momentum and every parameter's decay and update.  Each
        operation is the same torch call on the same operands per network as with
        all networks at once (the grouping never changes a bit).
        """
        if self.bf16_mode is not None:
            return self._step_bf16(work, B, counts)
        E = work["E"]
        sigmoid_out = self.output == "sigmoid"
        scale, valid, freeze = self._participation(B, counts)
        per_scale = isinstance(scale, torch.Tensor)
        uniform, per_model = self._begin(freeze)
        mom = None if uniform is None else uniform[1]

        with self._products():
            for m0, m1, X, Tt, H, Ht, S1, O, Ec, D2c, D2t, b1, V, Wc, c2, bWc, bVc, gbc, (ga, gm) in work["chunks"]:
                # forward
                torch.baddbmm(b1, X, V, out=H)
                H.sigmoid_()
                torch.baddbmm(c2, Wc, Ht, out=O)  # (m, K, B): K is small
                if sigmoid_out:
                    O.sigmoid_()
                torch.sub(O, Tt, out=Ec)
                if valid is not None:
                    Ec.mul_(valid[m0:m1])
                # backward
                torch.mul(Ec, scale[m0:m1] if per_scale else scale, out=D2c)
                if sigmoid_out:
                    D2c.mul_(O).mul_(1.0 - O)  # K is small: the temporary is cheap
                torch.bmm(D2t, Wc, out=S1)
                if mom is not None:
                    bWc.baddbmm_(D2c, H, beta=mom)
                else:
                    bWc.baddbmm_(D2c, H)
                torch.addcmul(H, H, H, value=-1.0, out=H)  # H <- H (1 - H); H itself is not needed any more
                S1.mul_(H)  # D1
                torch.sum(S1, dim=1, out=gbc)
                if mom is not None:
                    bVc.baddbmm_(ga, gm, beta=mom)
                else:
                    bVc.baddbmm_(ga, gm)
        sse = E.square().sum(dim=(1, 2))
        self._finish(work, uniform, per_model)
        return sse

    def _step_bf16(self, work: dict, B: int, counts: np.ndarray | None) -> torch.Tensor:
        """`_step` with bfloat16 products (precision 'bfloat16'): the operands of each product
        are rounded to bfloat16 (`_lp_cast`), the products summed in float32 (`_lp_mm`);
        the rest, momentum and the master weights included, is float32."""
        E = work["E"]
        sigmoid_out = self.output == "sigmoid"
        scale, valid, freeze = self._participation(B, counts)
        per_scale = isinstance(scale, torch.Tensor)
        uniform, per_model = self._begin(freeze)
        mom = 1.0 if uniform is None else uniform[1]  # per network: applied to the buffers in _begin
        cast, mm = self._lp_cast, self._lp_mm
        for chunk, low in zip(work["chunks"], work["low"]):
            m0, m1, X, Tt, H, Ht, S1, O, Ec, D2c, D2t, b1, V, Wc, c2, bWc, bVc, gbc, _ = chunk
            x, v, h, ht, w, d2, d2t, d1, (ga, gm) = low
            mm(cast(X, x), cast(V, v), H, add=b1)
            H.sigmoid_()
            cast(Wc, w)
            cast(H, h)
            mm(w, ht, O, add=c2)
            if sigmoid_out:
                O.sigmoid_()
            torch.sub(O, Tt, out=Ec)
            if valid is not None:
                Ec.mul_(valid[m0:m1])
            torch.mul(Ec, scale[m0:m1] if per_scale else scale, out=D2c)
            if sigmoid_out:
                D2c.mul_(O).mul_(1.0 - O)
            cast(D2c, d2)
            mm(d2t, w, S1)
            mm(d2, h, bWc, beta=mom)
            torch.addcmul(H, H, H, value=-1.0, out=H)
            S1.mul_(H)
            torch.sum(S1, dim=1, out=gbc)
            cast(S1, d1)
            mm(ga, gm, bVc, beta=mom)
        sse = E.square().sum(dim=(1, 2))
        self._finish(work, uniform, per_model)
        return sse

    def train_epoch(self, inputs: torch.Tensor, targets: torch.Tensor, rows_x: torch.Tensor,
                    rows_t: torch.Tensor, mask: torch.Tensor, stream: torch.Tensor, epoch: int,
                    batch_size: int, balanced: bool = False, max_steps: int | None = None,
                    included: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[torch.Tensor, np.ndarray]:
        """One epoch of every network on the included patterns of its pool.

        ``inputs`` (R, I) and ``targets`` (R', K) are shared tables; network m's pool
        position p is input row ``rows_x[m, p]`` and target row ``rows_t[m, p]``;
        ``mask`` (M, P) bool says which positions it trains on; ``stream`` (M, 2)
        holds each network's shuffle key (`seed_words`); ``epoch`` is the counter.
        The batches of network m are ``shuffle_order(stream, epoch, mask)[m]`` cut
        into pieces of ``batch_size`` (the last may be smaller), or with
        ``balanced`` into ceil(n / batch_size) pieces whose sizes differ by at most
        one, the larger first (``numpy.array_split``), so that no epoch ends with a
        batch of a pattern or two taking a full step.  Returns the per-network sum
        of squared errors over the epoch's batches (each measured before its step)
        and the number of patterns each network was shown (numpy).  With
        ``max_steps`` only the epoch's first ``max_steps`` mini-batches are
        trained (the rest of its shuffle is never shown): a round of a fixed
        number of steps ends part-way through its last epoch.  ``included``
        (CPU): `included_positions` of ``mask``, computed once by a caller whose
        mask stays the same over many epochs (the same batches, less work per
        epoch); diverged networks are left out here as without it.
        """
        M, P = mask.shape
        B = int(batch_size)
        order = None
        if included is not None and stream.device.type == "cpu":
            n = np.where(self._alive_np, included[1], 0)
            if int(n.max() if M else 0) * 4 <= P:
                order = _shuffle_positions(stream, epoch, included[0], n, P)
        if order is None:
            mask = mask & self.alive.unsqueeze(1)
            n = mask.sum(dim=1).cpu().numpy()
        sse = torch.zeros(M, dtype=self.dtype, device=self.device)
        nmax = int(n.max()) if M else 0
        if nmax == 0:
            return sse, n
        steps = -(-nmax // B)
        if order is None:
            order = shuffle_order(stream, epoch, mask)
        work = self._buffers(B)
        if balanced:
            k = -(-n // B)  # batches of each network
            base, extra = n // np.maximum(k, 1), n % np.maximum(k, 1)
            s_idx = np.arange(steps)[None, :]
            sizes = np.where(s_idx < k[:, None], base[:, None] + (s_idx < extra[:, None]), 0)  # (M, steps)
            offsets = s_idx * base[:, None] + np.minimum(s_idx, extra[:, None])
            pos = offsets[:, :, None] + np.arange(B)[None, None, :]
            pos = np.where(np.arange(B)[None, None, :] < sizes[:, :, None], pos, 0)
            pos_t = torch.as_tensor(pos.reshape(M, -1), dtype=torch.int64, device=self.device)
            order = order.gather(1, pos_t)
        else:
            width = steps * B
            if width > order.shape[1]:
                order = torch.cat([order, order.new_zeros((M, width - order.shape[1]))], dim=1)
            order = order[:, :width]
            sizes = None
        rx = rows_x.gather(1, order).view(M, steps, B).transpose(0, 1).contiguous()
        key = self._same_rows
        if key is not None and key[0] is rows_x and key[1] is rows_t:
            same = key[2]
        else:
            same = rows_t is rows_x or (rows_t.shape == rows_x.shape and torch.equal(rows_t, rows_x))
            self._same_rows = (rows_x, rows_t, same)
        rt = rx if same else rows_t.gather(1, order).view(M, steps, B).transpose(0, 1).contiguous()
        # one output: gather plain numbers (the same copy, several times faster than rows of one)
        flat_t = targets.view(-1) if targets.shape[1] == 1 and targets.is_contiguous() else None
        nmin = int(n.min())
        run = steps if max_steps is None else max(0, min(steps, int(max_steps)))
        if run < steps:
            shown = sizes[:, :run].sum(axis=1) if sizes is not None else np.minimum(n, run * B)
        else:
            shown = n
        for s in range(run):
            torch.index_select(inputs, 0, rx[s].view(-1), out=work["X"])
            if flat_t is not None:
                torch.index_select(flat_t, 0, rt[s].view(-1), out=work["T"].view(-1))
            else:
                torch.index_select(targets, 0, rt[s].view(-1), out=work["T"])
            if sizes is not None:
                counts = sizes[:, s]
                counts = None if bool(np.all(counts == B)) else counts
            else:
                counts = None if (s + 1) * B <= nmin else np.clip(n - s * B, 0, B)
            sse += self._step(work, B, counts)
        return sse, shown

    # ------------------------------------------------------------------ state

    def snapshot(self) -> list[torch.Tensor]:
        """Copies of the parameters and momentum buffers (for `restore`)."""
        return [t.clone() for t in self._storage() + self._bufs]

    def restore(self, state: Sequence[torch.Tensor], which=None) -> None:
        """Set the parameters and momentum of the networks ``which`` ((M,) bool; default all
        networks still alive) to those of a `snapshot`; diverged networks stay frozen."""
        which = self.alive if which is None else torch.as_tensor(which, device=self.device) & self.alive
        for t, saved in zip(self._storage() + self._bufs, state):
            t[which] = saved[which]

    # ------------------------------------------------------------------ divergence

    def finite(self) -> torch.Tensor:
        """(M,) bool: every parameter of the network is finite."""
        ok = torch.ones(self.n_models, dtype=torch.bool, device=self.device)
        for p in self._storage():
            ok &= torch.isfinite(p.reshape(self.n_models, -1).sum(dim=1))
        return ok

    def disable(self, which) -> None:
        """Mark the networks in ``which`` ((M,) bool) as diverged: zero them and freeze them."""
        which = torch.as_tensor(which, device=self.device, dtype=torch.bool)
        if not bool(which.any()):
            return
        for t in self._storage() + self._bufs:
            t[which] = 0
        self.alive &= ~which
        self._alive_np = self.alive.cpu().numpy()
