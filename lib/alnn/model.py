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

Randomness
    Initial weights are drawn like ``torch.nn.Linear``'s default
    (uniform on +-1/sqrt(fan_in), weights and biases) from a numpy generator
    seeded with a `numpy.random.SeedSequence` entropy tuple per network.
    Shuffles use a counter-based hash of (network stream, epoch, position), so
    they are identical on CPU and CUDA and do not depend on which other
    networks are in the batch.
"""

from __future__ import annotations

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


def hash_uniform(stream: torch.Tensor, counter: int, n: int) -> torch.Tensor:
    """Random 32-bit integers (as int64 in [0, 2**32)), shape (M, n).

    Row m depends only on ``stream[m]`` (two 32-bit words from `seed_words`),
    ``counter`` (e.g. the epoch) and the position, never on the other rows, and
    is the same on every device.
    """
    stream = stream.to(torch.int64)
    s0, s1 = stream[:, 0:1], stream[:, 1:2]
    a = _mix32((s0 + _mul32(torch.full_like(s0, int(counter) & _M32), 0x9E3779B9)) & _M32)
    a = _mix32(a ^ s1)
    j = torch.arange(n, device=stream.device, dtype=torch.int64)
    h = _mix32((_mul32(j, 0x85EBCA6B) + a) & _M32)
    return _mix32(h ^ s1)


def shuffle_order(stream: torch.Tensor, counter: int, mask: torch.Tensor) -> torch.Tensor:
    """Positions of each row's included patterns in random order, then the excluded ones.

    ``mask`` is (M, P) bool.  Returns (M, P) int64; the first ``mask[m].sum()``
    entries of row m are a uniformly random permutation of the included positions.
    """
    keys = hash_uniform(stream, counter, mask.shape[1])
    keys = torch.where(mask, keys, torch.full_like(keys, 1 << 40))
    return torch.sort(keys, dim=1, stable=True).indices


# --------------------------------------------------------------------------- the model

_ELEMENTS_PER_CHUNK = 1 << 22  # gathered elements per chunk of prediction work


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
    """

    def __init__(self, hidden_weight, hidden_bias, output_weight, output_bias, *, output="sigmoid",
                 lr=0.1, momentum=0.0, weight_decay=0.0):
        if output not in ("sigmoid", "linear"):
            raise ValueError(f"output must be 'sigmoid' or 'linear', got {output!r}")
        V, b, W, c = (torch.as_tensor(t) for t in (hidden_weight, hidden_bias, output_weight, output_bias))
        M, J, I = V.shape
        K = W.shape[1]
        if b.shape != (M, J) or W.shape != (M, K, J) or c.shape != (M, K):
            raise ValueError("parameter shapes must be (M,J,I), (M,J), (M,K,J), (M,K)")
        self.output = output
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

    # ------------------------------------------------------------------ construction

    @classmethod
    def initialise(cls, seeds: Sequence[Sequence[int]], n_inputs: int, n_hidden: int, n_outputs: int, *,
                   output="sigmoid", lr=0.1, momentum=0.0, weight_decay=0.0, device="cpu",
                   dtype=torch.float32) -> "BatchedMLP":
        """One network per entropy tuple in ``seeds``, initialised like ``torch.nn.Linear``.

        Network m's weights depend only on ``seeds[m]`` and the layer sizes.
        """
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
                   weight_decay=weight_decay)

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
        H = torch.baddbmm(self.hidden_bias.unsqueeze(1), X, self.hidden_weight.transpose(1, 2)).sigmoid_()
        O = torch.baddbmm(self.output_bias.unsqueeze(1), H, self.output_weight.transpose(1, 2))
        if self.output == "sigmoid":
            O.sigmoid_()
        return H, O

    def predict(self, inputs: torch.Tensor, rows: torch.Tensor, *, chunk: int | None = None) -> torch.Tensor:
        """Outputs (M, Q, K) of every network m for the rows ``inputs[rows[m]]``.

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
        V, b, W, c = self.parameters()
        for m0 in range(0, M, mc):
            m1 = min(M, m0 + mc)
            for q0 in range(0, Q, qc):
                q1 = min(Q, q0 + qc)
                idx = rows[m0:m1, q0:q1].reshape(-1)
                X = inputs.index_select(0, idx).view(m1 - m0, q1 - q0, I)
                H = torch.baddbmm(b[m0:m1].unsqueeze(1), X, V[m0:m1].transpose(1, 2)).sigmoid_()
                torch.baddbmm(c[m0:m1].unsqueeze(1), H, W[m0:m1].transpose(1, 2), out=out[m0:m1, q0:q1])
        if self.output == "sigmoid":
            out.sigmoid_()
        return out

    # ------------------------------------------------------------------ training

    def _buffers(self, B: int) -> dict:
        key = B
        work = self._work.get(key)
        if work is None:
            M, I, J, K = self.n_models, self.n_inputs, self.n_hidden, self.n_outputs
            e = dict(dtype=self.dtype, device=self.device)
            work = {
                "X": torch.empty((M * B, I), **e), "T": torch.empty((M * B, K), **e),
                "Z1": torch.empty((M, B, J), **e), "S1": torch.empty((M, B, J), **e),
                "O": torch.empty((M, K, B), **e), "E": torch.empty((M, K, B), **e),
                "gb": torch.empty((M, J), **e), "gc": torch.empty((M, K), **e),
            }
            self._work = {key: work}
        return work

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

    def _step(self, work: dict, B: int, counts: np.ndarray | None) -> torch.Tensor:
        M, I, J, K = self.n_models, self.n_inputs, self.n_hidden, self.n_outputs
        Vs, b, W, c = self._storage()
        bV, bb, bW, bc = self._bufs
        X = work["X"].view(M, B, I)
        Tt = work["T"].view(M, B, K).transpose(1, 2)
        H, S1, O, E = work["Z1"], work["S1"], work["O"], work["E"]  # O, E are (M, K, B): K is small

        # forward
        if self._hidden_t:
            torch.baddbmm(b.unsqueeze(1), X, Vs, out=H)
        else:
            torch.baddbmm(b.unsqueeze(1), X, Vs.transpose(1, 2), out=H)
        H.sigmoid_()
        torch.baddbmm(c.unsqueeze(2), W, H.transpose(1, 2), out=O)
        sigmoid_out = self.output == "sigmoid"
        if sigmoid_out:
            O.sigmoid_()
        torch.sub(O, Tt, out=E)

        # which patterns / networks take part
        freeze = None
        if counts is None:
            scale = 2.0 / B
        else:
            if np.any(counts < B):
                valid = torch.arange(B, device=self.device) < torch.as_tensor(counts, device=self.device)[:, None]
                E.mul_(valid.unsqueeze(1).to(E.dtype))
            n = np.maximum(counts, 1)
            scale = torch.as_tensor(2.0 / n, dtype=self.dtype, device=self.device).view(M, 1, 1)
            idle = (counts == 0) & self._alive_np
            if idle.any():
                freeze = torch.as_tensor(idle, device=self.device)
        sse = E.square().sum(dim=(1, 2))

        # backward: D2 = dLoss/dZ2 (M, K, B), D1 = dLoss/dZ1 (M, B, J)
        D2 = E.mul_(scale)
        if sigmoid_out:
            D2.mul_(O).mul_(1.0 - O)  # K is small: the temporary is cheap
        torch.bmm(D2.transpose(1, 2), W, out=S1)  # dLoss/dH, with W before its update
        gc = torch.sum(D2, dim=2, out=work["gc"])

        uniform = self._uniform if freeze is None else None
        if uniform is not None:
            lr, mom, wd = uniform
            bW.baddbmm_(D2, H, beta=mom)
            bc.mul_(mom).add_(gc)
        else:
            lr_t, mom_t, wd_t = self._lr, self._mom, self._wd
            if freeze is not None:
                lr_t = torch.where(freeze, torch.zeros_like(lr_t), lr_t)
                mom_t = torch.where(freeze, torch.ones_like(mom_t), mom_t)
                wd_t = torch.where(freeze, torch.zeros_like(wd_t), wd_t)
            bW.mul_(mom_t.view(M, 1, 1)).baddbmm_(D2, H)
            bc.mul_(mom_t.view(M, 1)).add_(gc)

        torch.addcmul(H, H, H, value=-1.0, out=H)  # H <- H (1 - H); H itself is not needed any more
        D1 = S1.mul_(H)
        gb = torch.sum(D1, dim=1, out=work["gb"])
        a, bm = (X.transpose(1, 2), D1) if self._hidden_t else (D1.transpose(1, 2), X)
        if uniform is not None:
            bV.baddbmm_(a, bm, beta=mom)
            bb.mul_(mom).add_(gb)
            for p, buf in ((Vs, bV), (b, bb), (W, bW), (c, bc)):
                if wd:
                    buf.add_(p, alpha=wd)
                p.add_(buf, alpha=-lr)
        else:
            bV.mul_(mom_t.view(M, 1, 1)).baddbmm_(a, bm)
            bb.mul_(mom_t.view(M, 1)).add_(gb)
            neg_lr = -lr_t
            for p, buf in ((Vs, bV), (b, bb), (W, bW), (c, bc)):
                shape = (M,) + (1,) * (p.dim() - 1)
                buf.addcmul_(p, wd_t.view(shape))
                p.addcmul_(buf, neg_lr.view(shape))
        return sse

    def train_epoch(self, inputs: torch.Tensor, targets: torch.Tensor, rows_x: torch.Tensor,
                    rows_t: torch.Tensor, mask: torch.Tensor, stream: torch.Tensor, epoch: int,
                    batch_size: int, balanced: bool = False) -> tuple[torch.Tensor, np.ndarray]:
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
        and the number of patterns each network was shown (numpy).
        """
        M, P = mask.shape
        B = int(batch_size)
        mask = mask & self.alive.unsqueeze(1)
        n = mask.sum(dim=1).cpu().numpy()
        sse = torch.zeros(M, dtype=self.dtype, device=self.device)
        nmax = int(n.max()) if M else 0
        if nmax == 0:
            return sse, n
        steps = -(-nmax // B)
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
            if width > P:
                order = torch.cat([order, order.new_zeros((M, width - P))], dim=1)
            order = order[:, :width]
            sizes = None
        rx = rows_x.gather(1, order).view(M, steps, B).transpose(0, 1).contiguous()
        rt = rows_t.gather(1, order).view(M, steps, B).transpose(0, 1).contiguous()
        nmin = int(n.min())
        for s in range(steps):
            torch.index_select(inputs, 0, rx[s].view(-1), out=work["X"])
            torch.index_select(targets, 0, rt[s].view(-1), out=work["T"])
            if sizes is not None:
                counts = sizes[:, s]
                counts = None if bool(np.all(counts == B)) else counts
            else:
                counts = None if (s + 1) * B <= nmin else np.clip(n - s * B, 0, B)
            sse += self._step(work, B, counts)
        return sse, n

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
