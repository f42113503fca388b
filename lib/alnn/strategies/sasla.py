"""SASLA: selective learning by output sensitivity (Engelbrecht 2001; SPEC section 3).

Informativeness of pattern p (bias units excluded from the inputs i)::

    S[p,k,i] = g_k(p) * sum_j w[k,j] * y_j(p) (1 - y_j(p)) * v[j,i]
    g_k = o_k (1 - o_k)  (sigmoid outputs)   or   1  (linear outputs)
    S_o[p,k] = sum_i |S[p,k,i]|  (norm="sum")   or   sqrt(sum_i S[p,k,i]^2)  (norm="euclidean")
    Phi[p]   = max_k S_o[p,k]

Selection at a selection point, from the whole candidate set D_C (the pool)::

    D_T = { p in D_C : Phi[p] > (1 - beta) * mean(Phi over D_C) }

so a pattern dropped earlier can come back.  Safety: for classification,
every class present in D_C keeps at least one pattern (its most informative
one); D_T is never empty (the most informative pattern is kept).

Schedule: epochs 1 .. tau train on the whole pool (D_T = D_C, as in
Engelbrecht's algorithm, which first trains on all of the data); at the start
of epochs tau + 1, 2 tau + 1, ... D_T is re-selected with the weights trained
so far.  Each selection scores |D_C| patterns.  For regression (one or several
linear outputs) the same rule applies without the class safety: an extension,
Engelbrecht published SASLA for classification.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["informativeness", "select", "pool_informativeness", "Sasla", "DEFAULTS", "DESCRIPTION", "NAME", "MEMBERS",
           "check_params"]

NAME = "sasla"
MEMBERS = 1
DEFAULTS = {"beta": 0.9, "tau": 1, "norm": "sum"}
#: What the report, the figures, the statistics and the cost model know of this strategy
#: (`alnn.strategies.catalogue`).
DESCRIPTION = {
    "name": NAME,
    "label": 'SASLA',
    "prose": 'SASLA',
    "summary": 'SASLA: every tau epochs, train on the patterns whose output sensitivity exceeds (1 - beta) times the mean (Engelbrecht 2001)',
    "reference": 'Engelbrecht 2001',
    "tasks": ('classification', 'regression'),
    "role": 'selective',
    "protocols": ('draft',),
    "members": 1,
    "select_macs": 'E*((I+1)*J + (J+1)*K) + 2*K*J*I',
    "order": 1,
    "colour": '#de8f05',
    "marker": 's',
    "linestyle": '--',
    "family": 'selective',
}
NORMS = ("sum", "euclidean")

_CHUNK_ELEMENTS = 1 << 21  # elements of the (patterns x K x I) sensitivity block per network and chunk


def _gram(V: torch.Tensor, norm: str) -> torch.Tensor | None:
    """V V^T (m, J, J) when the Euclidean norm is cheaper through it (J < I), else None."""
    return torch.bmm(V, V.transpose(1, 2)) if norm == "euclidean" and V.shape[1] < V.shape[2] else None


def _phi(X, V, b, W, c, output: str, norm: str, G: torch.Tensor | None = None) -> torch.Tensor:
    """Phi (m, n) for inputs X (m, n, I) of m networks; one chunk, no further splitting.

    ``G`` = `_gram` (V): the Euclidean norm as |S[p,k,:]|^2 = u G u^T, J^2 instead
    of J I operations per (pattern, output).
    """
    m, n, I = X.shape
    K, J = W.shape[1], W.shape[2]
    Y = torch.baddbmm(b.unsqueeze(1), X, V.transpose(1, 2)).sigmoid_()  # (m, n, J)
    O = torch.baddbmm(c.unsqueeze(1), Y, W.transpose(1, 2))  # (m, n, K)
    D = Y.mul_(1.0 - Y)  # y (1 - y)
    U = (D.unsqueeze(2) * W.unsqueeze(1)).view(m, n * K, J)  # rows u[p,k,j] = w_kj y_j (1 - y_j)
    if G is not None:
        So = (torch.bmm(U, G) * U).sum(dim=2).clamp_(min=0).sqrt_()
    else:
        # S[p, k, :] = u[p, k] @ V; with few inputs the product is taken transposed
        # (a product whose result has few columns is several times slower).
        if I < 64:
            S, dim = torch.bmm(V.transpose(1, 2), U.transpose(1, 2)), 1  # (m, I, n K)
        else:
            S, dim = torch.bmm(U, V), 2  # (m, n K, I)
        # abs().sum() is several times faster than torch.linalg.vector_norm(ord=1) here
        So = S.abs_().sum(dim=dim) if norm == "sum" else S.square_().sum(dim=dim).sqrt_()
    So = So.view(m, n, K)
    if output == "sigmoid":
        o = O.sigmoid_()
        So.mul_(o * (1.0 - o))
    return So.amax(dim=2)


def _chunk_size(K: int, I: int) -> int:
    return max(1, _CHUNK_ELEMENTS // max(1, K * I))


def informativeness(X, hidden_weight, hidden_bias, output_weight, output_bias, *, output="sigmoid",
                    norm="sum", chunk: int | None = None):
    """Pattern informativeness Phi for every row of X.

    Weights in ``torch.nn.Linear`` layout: ``hidden_weight`` (J, I), ``hidden_bias``
    (J,), ``output_weight`` (K, J), ``output_bias`` (K,); or the same with a
    leading network dimension M and X of shape (M, N, I), giving (M, N).
    ``output`` is "sigmoid" or "linear", ``norm`` "sum" or "euclidean".
    numpy in, numpy out (float64 unless the inputs are float32); torch in,
    torch out.  The N x K x I sensitivity tensor is built ``chunk`` patterns at a
    time (by default so that a chunk holds about 2**21 numbers).
    """
    if output not in ("sigmoid", "linear"):
        raise ValueError(f"output must be 'sigmoid' or 'linear', got {output!r}")
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
    as_numpy = not isinstance(X, torch.Tensor)
    X = torch.as_tensor(np.asarray(X)) if as_numpy else X
    if not X.is_floating_point():
        X = X.to(torch.float64)
    dev, dt = X.device, X.dtype
    V, b, W, c = (torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a).to(dev, dt)
                  for a in (hidden_weight, hidden_bias, output_weight, output_bias))
    single = V.dim() == 2
    if single:
        V, b, W, c, X = V.unsqueeze(0), b.unsqueeze(0), W.unsqueeze(0), c.unsqueeze(0), X.unsqueeze(0)
    elif X.dim() == 2:
        X = X.unsqueeze(0).expand(V.shape[0], -1, -1)
    M, N, I = X.shape
    if V.shape[2] != I or W.shape[2] != V.shape[1]:
        raise ValueError(f"shapes do not fit: X {tuple(X.shape)}, hidden_weight {tuple(V.shape)}, "
                         f"output_weight {tuple(W.shape)}")
    pc = chunk or _chunk_size(W.shape[1], I)
    out = torch.empty((M, N), dtype=dt, device=dev)
    with torch.no_grad():
        G = _gram(V, norm)
        for p0 in range(0, N, pc):
            p1 = min(N, p0 + pc)
            out[:, p0:p1] = _phi(X[:, p0:p1], V, b, W, c, output, norm, G)
    out = out[0] if single else out
    return out.cpu().numpy() if as_numpy else out


def pool_informativeness(model, inputs: torch.Tensor, rows: torch.Tensor, *, norm="sum",
                         models: slice | None = None) -> torch.Tensor:
    """Phi (M, P) of every network of a `BatchedMLP` (or of the slice ``models`` of them) on its pool
    rows ``inputs[rows[m]]``."""
    M, P = rows.shape
    I, K = model.n_inputs, model.n_outputs
    V, b, W, c = model.parameters() if models is None else [p[models] for p in model.parameters()]
    pc = min(P, _chunk_size(K, I))
    mc = max(1, _CHUNK_ELEMENTS // (pc * K * max(I, model.n_hidden)))
    out = torch.empty((M, P), dtype=model.dtype, device=model.device)
    with torch.no_grad():
        for m0 in range(0, M, mc):
            m1 = min(M, m0 + mc)
            G = _gram(V[m0:m1], norm)
            for p0 in range(0, P, pc):
                p1 = min(P, p0 + pc)
                X = inputs.index_select(0, rows[m0:m1, p0:p1].reshape(-1)).view(m1 - m0, p1 - p0, I)
                out[m0:m1, p0:p1] = _phi(X, V[m0:m1], b[m0:m1], W[m0:m1], c[m0:m1], model.output, norm, G)
    return out


def select(phi, candidates, *, beta: float, labels=None, n_classes: int | None = None) -> torch.Tensor:
    """SASLA's training subset from informativeness ``phi`` (L, P) over candidates (L, P) bool.

    ``labels`` (L, P) int (classification) enables the class safety.  A row whose
    candidates' Phi is not all finite keeps all of its candidates.
    """
    phi = torch.as_tensor(phi)
    cand = torch.as_tensor(candidates, dtype=torch.bool, device=phi.device)
    if phi.dim() == 1:
        return select(phi.unsqueeze(0), cand.unsqueeze(0), beta=beta,
                      labels=None if labels is None else torch.as_tensor(labels).unsqueeze(0),
                      n_classes=n_classes)[0]
    phi0 = torch.where(cand, phi, torch.zeros_like(phi))
    count = cand.sum(dim=1)
    mean = phi0.sum(dim=1) / count.clamp(min=1)
    chosen = cand & (phi0 > ((1.0 - beta) * mean).unsqueeze(1))
    scored = torch.where(cand, phi, torch.full_like(phi, -np.inf))
    if labels is not None:
        lab = torch.as_tensor(labels, device=phi.device).to(torch.int64)
        C = int(n_classes) if n_classes is not None else int(lab[cand].max()) + 1
        lab0 = torch.where(cand, lab, torch.zeros_like(lab))
        present = torch.zeros((phi.shape[0], C), dtype=torch.int64, device=phi.device)
        present.scatter_add_(1, lab0, cand.to(torch.int64))
        kept = torch.zeros_like(present).scatter_add_(1, lab0, chosen.to(torch.int64))
        for l, k in ((present > 0) & (kept == 0)).nonzero().tolist():
            of_class = torch.where(lab[l] == k, scored[l], torch.full_like(scored[l], -np.inf))
            chosen[l, int(torch.argmax(of_class))] = True
    empty = (chosen.sum(dim=1) == 0) & (count > 0)
    for l in empty.nonzero().flatten().tolist():
        chosen[l, int(torch.argmax(scored[l]))] = True
    finite = torch.where(cand, torch.isfinite(phi), torch.ones_like(cand)).all(dim=1)
    return torch.where(finite.unsqueeze(1), chosen, cand)


def check_params(params: dict, task: str, pool_min: int) -> dict:
    beta = params["beta"]
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not (0 < beta < 1):
        raise ValueError(f"sasla: beta must be a number in (0, 1), got {beta!r}")
    tau = params["tau"]
    if isinstance(tau, bool) or not isinstance(tau, (int, np.integer)) or tau < 1:
        raise ValueError(f"sasla: tau must be a positive integer (epochs), got {tau!r}")
    if params["norm"] not in NORMS:
        raise ValueError(f"sasla: norm must be one of {', '.join(NORMS)}, got {params['norm']!r}")
    return {"beta": float(beta), "tau": int(tau), "norm": params["norm"]}


class Sasla:
    """The SASLA strategy: the whole pool first, then re-selection every ``tau`` epochs."""

    name = NAME
    members = MEMBERS
    records_scores = True

    def __init__(self, params: dict, task: str):
        self.beta, self.tau, self.norm = params["beta"], params["tau"], params["norm"]
        self.task = task
        self.last_scores: torch.Tensor | None = None

    def initial(self, pool) -> torch.Tensor:
        return pool.valid.clone()

    def due(self, epoch: int) -> bool:
        return epoch > 1 and (epoch - 1) % self.tau == 0

    def select(self, pool, view, mask: torch.Tensor, epoch: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        phi = view.informativeness(self.norm)
        new = select(phi, pool.valid, beta=self.beta,
                     labels=pool.labels if self.task == "classification" else None, n_classes=pool.n_classes)
        alive = view.alive.unsqueeze(1)
        scored = torch.where(view.alive, pool.length, torch.zeros_like(pool.length))
        # Phi of every pool pattern, the values the rule above used (NaN: padding, diverged models)
        self.last_scores = torch.where(alive & pool.valid, phi, torch.full_like(phi, float("nan")))
        return torch.where(alive, new, mask), scored


STRATEGY = Sasla
