"""Batched selection helpers of the field's batch strategies (farthest-first traversal, k-means++ seeding,
largest-cluster maximum distance), shared by the modules that use them.

Every helper works on the L models at once (loops run over the picks of a
batch only, never over patterns or models).  The candidates of a query, the
unlabelled patterns U of every model, are first gathered into a compact (L, M)
block in increasing pool position (`compact`, M = the largest |U|), so that
"ties go to the lowest position" is "ties go to the first candidate", which is
what ``torch.argmax`` returns.

Distances are Euclidean, computed in float64 by the expansion
|a - b|^2 = |a|^2 + |b|^2 - 2 a.b (clamped at 0), as scikit-learn's
``euclidean_distances`` does; max-min selections compare squared distances
(the same order as the distances).  Pairwise blocks are cut so that no block
holds more than ``CHUNK`` numbers.

`BatchSchedule` is the `alnn.strategies.entropy.PoolSchedule` of a batch
strategy: its ``query`` asks the subclass's ``picks`` for the pool positions of
every model's batch and applies them (labelled, padding and diverged models'
positions never change; ``scored`` = |U| of every live model, 0 for the dead).
"""

from __future__ import annotations

import torch

from alnn.model import hash_uniform
from alnn.strategies.entropy import PoolSchedule

__all__ = ["CHUNK", "compact", "gather", "uniforms", "min_sq_dist", "sum_dist", "farthest_first",
           "kmeanspp", "largest_cluster", "apply_picks", "BatchSchedule"]

#: the largest pairwise-distance block computed at once (numbers)
CHUNK = 1 << 22


def compact(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The True positions of every row of ``mask`` (L, P), in increasing order.

    Returns (idx, ok), both (L, M) with M = max(1, largest row count): ``idx``
    the positions (arbitrary where ``ok`` is False), ``ok`` which are real.
    """
    count = mask.sum(dim=1)
    M = max(1, int(count.max())) if mask.numel() else 1
    idx = torch.sort((~mask).to(torch.uint8), dim=1, stable=True).indices[:, :M]
    ok = torch.arange(idx.shape[1], device=mask.device).unsqueeze(0) < count.unsqueeze(1)
    return idx, ok


def gather(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Rows ``idx`` (L, M) of every model's ``x`` (L, P, D) -> (L, M, D)."""
    return x.gather(1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def uniforms(stream: torch.Tensor, counter: int, n: int) -> torch.Tensor:
    """``n`` uniforms in [0, 1) per model (L, n) float64, from the model's counter-based stream.

    Draw t takes words 2t and 2t + 1 of `alnn.model.hash_uniform`'s
    ``(stream, counter)`` sequence and joins them into 53 bits as numpy's
    ``random_sample`` does: ((a >> 5) 2^26 + (b >> 6)) / 2^53.
    """
    h = hash_uniform(stream, counter, 2 * n)
    a, b = h[:, 0::2] >> 5, h[:, 1::2] >> 6
    return (a * 67108864 + b).to(torch.float64) / 9007199254740992.0


def _sq(a: torch.Tensor) -> torch.Tensor:
    return (a * a).sum(dim=-1)


def _pair_sq(a, a2, b, b2) -> torch.Tensor:
    """Squared distances (L, n, m) of a (L, n, D) to b (L, m, D), given their squared norms."""
    d = a2.unsqueeze(2) + b2.unsqueeze(1) - 2.0 * torch.bmm(a, b.transpose(1, 2))
    return d.clamp_(min=0.0)


def _blocks(L: int, n: int, m: int):
    step = max(1, CHUNK // max(1, L * n))
    return range(0, m, step), step


def min_sq_dist(a: torch.Tensor, b: torch.Tensor, b_ok: torch.Tensor, a_y=None, b_y=None,
                index: bool = False):
    """Minimum over the real rows of ``b`` of the squared distance to each row of ``a``.

    ``a`` (L, n, D), ``b`` (L, m, D), ``b_ok`` (L, m) bool.  With ``a_y``,
    ``b_y`` (L, n, K), (L, m, K) the "distance" is the product of the distances
    in both spaces (its square: |a - b|^2 |a_y - b_y|^2: the greedy rule on inputs and outputs).  Returns
    (L, n) float64, +inf where a row has no real ``b``; with ``index`` also the
    (L, n) position in ``b`` of the first minimum.
    """
    L, n, _ = a.shape
    m = b.shape[1]
    best = torch.full((L, n), float("inf"), dtype=torch.float64, device=a.device)
    arg = torch.zeros((L, n), dtype=torch.int64, device=a.device)
    if m == 0 or n == 0:
        return (best, arg) if index else best
    a2, b2 = _sq(a), _sq(b)
    ay2, by2 = (_sq(a_y), _sq(b_y)) if a_y is not None else (None, None)
    starts, step = _blocks(L, n, m)
    for s in starts:
        e = min(m, s + step)
        d = _pair_sq(a, a2, b[:, s:e], b2[:, s:e])
        if a_y is not None:
            d = d * _pair_sq(a_y, ay2, b_y[:, s:e], by2[:, s:e])
        d = d.masked_fill_(~b_ok[:, s:e].unsqueeze(1), float("inf"))
        v, i = d.min(dim=2)
        better = v < best  # strict: the earlier block keeps a tie
        best = torch.where(better, v, best)
        arg = torch.where(better, i + s, arg)
    return (best, arg) if index else best


def sum_dist(a: torch.Tensor, b: torch.Tensor, b_ok: torch.Tensor) -> torch.Tensor:
    """Sum over the real rows of ``b`` of the (not squared) distance to each row of ``a``: (L, n)."""
    L, n, _ = a.shape
    m = b.shape[1]
    total = torch.zeros((L, n), dtype=torch.float64, device=a.device)
    a2, b2 = _sq(a), _sq(b)
    starts, step = _blocks(L, n, m)
    for s in starts:
        e = min(m, s + step)
        d = _pair_sq(a, a2, b[:, s:e], b2[:, s:e]).sqrt_()
        total += (d * b_ok[:, s:e].unsqueeze(1)).sum(dim=2)
    return total


class _Space:
    """Candidates' features (L, M, D), kept transposed (L, D, M) so that the distances of all of them to one
    candidate per row are one batched (1 x D) (D x M) product."""

    def __init__(self, x: torch.Tensor):
        self.xt = x.transpose(1, 2).contiguous()
        self.x2 = _sq(x).unsqueeze(1)  # (L, 1, M)
        self.rows = torch.arange(x.shape[0], device=x.device)

    def dot(self, j: torch.Tensor) -> torch.Tensor:
        """(L, M) dot products of every candidate with candidate ``j`` (L,) of its row."""
        c = self.xt[self.rows, :, j].unsqueeze(1)  # (L, 1, D)
        return torch.bmm(c, self.xt).squeeze(1)

    def sq_to(self, j: torch.Tensor) -> torch.Tensor:
        """(L, M) squared distances of every candidate to candidate ``j`` (L,) of its row."""
        c = self.xt[self.rows, :, j].unsqueeze(1)
        base = self.x2 + self.x2[self.rows, :, j].unsqueeze(2)
        return torch.baddbmm(base, c, self.xt, alpha=-2.0).squeeze(1).clamp_(min=0.0)


def farthest_first(score: torch.Tensor, ok: torch.Tensor, size: int, x: torch.Tensor,
                   y: torch.Tensor | None = None, first: torch.Tensor | None = None) -> torch.Tensor:
    """Greedy max-min selection (k-center greedy, GSx, iGS) of ``size`` candidates per row.

    ``score`` (L, M): the squared distance of every candidate to the labelled
    set (+inf where the set is empty); ``ok`` (L, M) the real candidates;
    ``x`` (L, M, D) their features (and ``y`` (L, M, K) their second space: the
    squared distance is then the product of both squared distances).  Each pick
    is the candidate whose minimum distance to the labelled set and the picks
    so far is largest, ties to the first candidate; ``first`` (L,) long, -1
    where unused, overrides the first pick of a row.  Returns (L, size)
    candidate indices, -1 once a row has no candidate left.
    """
    L, M = score.shape
    rows = torch.arange(L, device=score.device)
    xs = _Space(x)
    ys = _Space(y) if y is not None else None
    score = torch.where(ok, score, torch.full_like(score, -float("inf")))
    n_take = ok.sum(dim=1).clamp(max=size)
    picks = torch.full((L, size), -1, dtype=torch.int64, device=score.device)
    last = min(size, M) - 1
    for t in range(last + 1):
        j = score.argmax(dim=1)
        if t == 0 and first is not None:
            j = torch.where(first >= 0, first, j)
        picks[:, t] = torch.where(t < n_take, j, torch.full_like(j, -1))
        if t == last:
            break
        d = xs.sq_to(j)
        if ys is not None:
            d.mul_(ys.sq_to(j))
        torch.minimum(score, d, out=score)
        score[rows, j] = -float("inf")
    return picks


def kmeanspp(g: torch.Tensor, h: torch.Tensor, ok: torch.Tensor, size: int, u: torch.Tensor,
             origin: bool = False) -> torch.Tensor:
    """k-means++ seeding (Arthur and Vassilvitskii 2007) of ``size`` candidates per row on the embeddings e = g (outer) h.

    ``g`` (L, M, K), ``h`` (L, M, H): the embedding of candidate m is the
    outer product of g[m] and h[m], never formed: |e - e'|^2 = |g|^2 |h|^2 +
    |g'|^2 |h'|^2 - 2 (g.g')(h.h').  ``ok`` (L, M) the real candidates; ``u``
    (L, size) uniforms in [0, 1), u[:, t] the draw of pick t.  Pick 0 is the
    candidate of largest |e| (ties: the first); each next pick is drawn with
    probability proportional to D^2, the squared distance to the nearest pick
    so far, by inverting the cumulative distribution in candidate order as
    numpy's ``RandomState.choice(n, 1, p=D2 / sum(D2))`` does
    (``searchsorted(cumsum(p) / cumsum(p)[-1], u, side="right")``).  When
    every remaining D^2 is 0 (or every |e| is, at pick 0), the pick is drawn
    uniformly among the candidates not yet picked, with the same draw.  Returns
    (L, size) candidate indices, -1 once a row has no candidate left.

    ``origin=True`` also counts the zero embedding as a centre, as
    scikit-activeml's ``Badge`` does (its D^2 after the first pick is the
    minimum of |e|^2 and the squared distances to the picks); Ash et al.'s code
    and the strategy built on it do not.
    """
    L, M = ok.shape
    rows = torch.arange(L, device=ok.device)
    gs, hs = _Space(g), _Space(h)
    n2 = (gs.x2 * hs.x2).squeeze(1)  # |e|^2
    n_take = ok.sum(dim=1).clamp(max=size)
    free = ok.clone()
    d2 = torch.where(ok, n2, torch.zeros_like(n2))  # 0 at padding and, from now on, at every pick
    picks = torch.full((L, size), -1, dtype=torch.int64, device=ok.device)
    last = min(size, M) - 1
    for t in range(last + 1):
        flat = d2.sum(dim=1) <= 0
        w = d2
        if bool(flat.any()):  # no mass left: uniform over the candidates not yet picked
            w = torch.where(flat.unsqueeze(1), free.to(d2.dtype), d2)
        if t == 0:
            j = w.argmax(dim=1)
            if bool(flat.any()):
                j = torch.where(flat, _draw(w, u[:, 0]), j)
        else:
            j = _draw(w, u[:, t])
        picks[:, t] = torch.where(t < n_take, j, torch.full_like(j, -1))
        free[rows, j] = False
        if t == last:
            break
        new = (n2 + n2[rows, j].unsqueeze(1)).sub_(gs.dot(j).mul_(hs.dot(j)), alpha=2.0).clamp_(min=0.0)
        if t == 0 and not origin:
            d2 = torch.where(ok, new, torch.zeros_like(new))
        else:
            torch.minimum(d2, new, out=d2)
        d2[rows, j] = 0.0
    return picks


def _draw(w: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Index drawn with probability proportional to the weights ``w`` (L, M) by the uniforms ``u`` (L,)."""
    cdf = torch.cumsum(w / w.sum(dim=1, keepdim=True), dim=1)
    cdf = cdf / cdf[:, -1:]
    j = torch.searchsorted(cdf, u.to(cdf.dtype).unsqueeze(1).contiguous(), right=True).squeeze(1)
    return j.clamp_(max=w.shape[1] - 1)


def largest_cluster(score: torch.Tensor, closest: torch.Tensor, n_centres: torch.Tensor, ok: torch.Tensor,
                    size: int, x: torch.Tensor) -> torch.Tensor:
    """Largest-cluster maximum-distance selection (Holzmüller et al. 2023) of ``size`` candidates per row.

    ``score`` (L, M): the squared distance of every candidate to its nearest
    labelled pattern, ``closest`` (L, M) that pattern's index among the labelled
    (0 .. n_centres - 1; ties: the first), ``n_centres`` (L,) |L| of every row;
    ``ok`` the real candidates and ``x`` (L, M, D) their features.  Every
    labelled pattern and every pick is a centre; a candidate belongs to the
    cluster of its nearest centre (a tie keeps the earlier centre).  Each pick
    is, among the candidates of the cluster(s) of largest sum of squared
    distances to their centre, the one farthest from it (ties: the first
    candidate).  With no centre yet, the first pick is the candidate of
    largest |x| (the kernel diagonal).  Returns (L, size) candidate indices,
    -1 once a row has no candidate left.
    """
    L, M = score.shape
    rows = torch.arange(L, device=score.device)
    xs = _Space(x)
    C = int(n_centres.max()) if L else 0
    slots = C + size + 1  # labelled centres, the picks, and a dump slot for padding
    dump = slots - 1
    closest = torch.where(ok, closest, torch.full_like(closest, dump))
    score = torch.where(ok, score, torch.zeros_like(score))  # padding: weight 0, never nearer
    free = ok.clone()
    n_take = ok.sum(dim=1).clamp(max=size)
    picks = torch.full((L, size), -1, dtype=torch.int64, device=score.device)
    neg = torch.full_like(score, -float("inf"))
    cw = torch.empty((L, slots), dtype=score.dtype, device=score.device)
    last = min(size, M) - 1
    for t in range(last + 1):
        cw.zero_().scatter_add_(1, closest, score)
        cw[:, dump] = -1.0
        top = cw.max(dim=1, keepdim=True).values
        cand = free & (cw.gather(1, closest) == top)
        j = torch.where(cand, score, neg).argmax(dim=1)
        if t == 0:
            j = torch.where(n_centres == 0, torch.where(ok, xs.x2.squeeze(1), neg).argmax(dim=1), j)
        picks[:, t] = torch.where(t < n_take, j, torch.full_like(j, -1))
        free[rows, j] = False
        if t == last:
            break
        d = xs.sq_to(j)
        d[rows, j] = 0.0
        nearer = d < score
        closest = torch.where(nearer, C + t, closest)
        torch.minimum(score, d, out=score)
    return picks


def apply_picks(mask: torch.Tensor, idx: torch.Tensor, picks: torch.Tensor, alive: torch.Tensor) -> torch.Tensor:
    """``mask`` with the candidates ``picks`` (L, q; -1: none) of the live rows, positions ``idx`` (L, M), set."""
    take = (picks >= 0) & alive.unsqueeze(1)
    pos = idx.gather(1, picks.clamp(min=0))
    rows = torch.arange(mask.shape[0], device=mask.device).unsqueeze(1).expand_as(picks)
    new = mask.clone()
    new[rows[take], pos[take]] = True
    return new


class BatchSchedule(PoolSchedule):
    """The schedule of `alnn.strategies.entropy` with a batch selection (``picks``) instead of a top-q."""

    counts_scored = True
    records_scores = False  # a batch selection has no per-pattern utility
    last_scores = None

    def picks(self, pool, view, mask: torch.Tensor, avail: torch.Tensor, idx: torch.Tensor, ok: torch.Tensor,
              size: int, counter: int) -> torch.Tensor:  # pragma: no cover - abstract
        """(L, size) indices into the candidates ``idx`` / ``ok`` (`compact` of ``avail``), -1: none."""
        raise NotImplementedError

    @staticmethod
    def features(F: torch.Tensor, pool, mask: torch.Tensor, idx: torch.Tensor):
        """The rows of ``F`` (L, P, D) of the candidates ``idx`` and of the labelled patterns, with the
        labelled patterns' positions and ``ok`` (`compact` of the valid positions in ``mask``)."""
        lab_idx, lab_ok = compact(mask & pool.valid)
        return gather(F, idx), gather(F, lab_idx), lab_idx, lab_ok

    def query(self, pool, view, mask: torch.Tensor, size: int, counter: int):
        self.last_scores = None
        avail = pool.valid & ~mask
        n_avail = avail.sum(dim=1)
        alive = view.alive
        if size < 1 or not bool((n_avail[alive] > 0).any()):
            return mask, torch.zeros_like(n_avail)
        idx, ok = compact(avail)
        picks = self.picks(pool, view, mask, avail, idx, ok, int(size), counter)
        new = apply_picks(mask, idx, picks, alive)
        scored = torch.where(alive, n_avail, torch.zeros_like(n_avail))
        return new, scored
