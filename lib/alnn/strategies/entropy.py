"""Entropy uncertainty sampling (pool-based active learning; SPEC section 3, the draft's Algorithm 1).

Class distribution
    P(c | x) = softmax over the K sigmoid output *activations* o_1 .. o_K of the
    network (the draft's "softmax of the output units"), not over their
    pre-activations.  Because each o_k lies in (0, 1), these probabilities never
    differ by more than a factor e; the ranking of patterns is what matters.

    With ``probability="normalised"`` the class distribution is instead
    o_k / sum_j o_j (SPEC 3): softmax over activations in (0, 1) squeezes the
    normalised entropy of ten classes into about [0.96, 1] and scores "no class
    fires" like a true tie, while the normalised activations tell them apart.

Utility
    normalised predictive entropy H(x) / log C, in [0, 1].

Schedule (shared with `ensemble` and `random`)
    - initial labelled set L: ``initial`` patterns of the pool, by default
      min(floor(10% of the pool), 10) and at least 1; for classification
      stratified by class (each class present gets one pattern first when the
      set has room for all classes, the rest is shared out in proportion to the
      class sizes by largest remainder, ties broken at random from the draw's
      own stream: `allocate`), chosen uniformly within each class;
      uniformly for regression.  The draw comes from the (seed, trial, fold)
      stream that `entropy`, `ensemble` and `random` share, so all three start
      from the same L;
    - epochs 1 .. tau train on L; at the start of epochs tau + 1, 2 tau + 1, ...
      every pattern of U = pool minus L is scored and the ``query_size`` best
      (ties: lowest pool position) move from U to L; training continues from the
      current weights (warm start) on the larger L;
    - once U is empty, L stays the whole pool.

``scored`` counts |U| at every query.  Classification only.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from alnn.model import hash_uniform

__all__ = ["Entropy", "utility", "class_distribution", "PROBABILITIES", "check_probability", "query_top", "initial_labelled", "initial_sizes", "allocate",
           "check_params", "check_probability_query", "check_schedule", "PoolSchedule", "ProbabilityQuery", "NAME", "MEMBERS", "DEFAULTS", "DESCRIPTION"]

NAME = "entropy"
MEMBERS = 1
DEFAULTS = {"tau": 1, "query_size": 1, "initial": None, "probability": "softmax"}
#: What the report, the figures, the statistics and the cost model know of this strategy
#: (`alnn.strategies.catalogue`).
DESCRIPTION = {
    "name": NAME,
    "label": 'Entropy',
    "prose": 'entropy sampling',
    "summary": 'entropy sampling: query the largest normalised predictive entropy (Lewis and Gale 1994)',
    "reference": 'Lewis and Gale 1994',
    "tasks": ('classification',),
    "role": 'query',
    "protocols": ('draft', 'budget'),
    "members": 1,
    "select_macs": 'E*((I+1)*J + (J+1)*K)',
    "order": 2,
    "colour": '#029e73',
    "marker": '^',
    "linestyle": '-.',
    "family": 'uncertainty',
}
#: the class distribution of the output activations o (SPEC 3)
PROBABILITIES = ("softmax", "normalised")


def class_distribution(outputs, probability: str = "softmax") -> torch.Tensor:
    """P(c | x) from the sigmoid output activations (last axis): softmax(o) or o / sum(o)."""
    o = torch.as_tensor(outputs)
    if probability == "softmax":
        return torch.softmax(o, dim=-1)
    if probability == "normalised":
        total = o.sum(dim=-1, keepdim=True)
        # every activation at 0 (float underflow): no class fires, which is a uniform distribution
        return torch.where(total > 0, o / total.clamp(min=torch.finfo(o.dtype).tiny), torch.full_like(o, 1.0 / o.shape[-1]))
    raise ValueError(f"probability must be one of {', '.join(PROBABILITIES)}, got {probability!r}")


def utility(outputs, probability: str = "softmax") -> torch.Tensor:
    """Normalised entropy H / log C of the class distribution of ``outputs`` over the last axis (K >= 2)."""
    o = torch.as_tensor(outputs)
    if probability == "softmax":
        logp = torch.log_softmax(o, dim=-1)
        return -(logp.exp() * logp).sum(dim=-1) / math.log(o.shape[-1])
    p = class_distribution(o, probability)
    return -torch.special.xlogy(p, p).sum(dim=-1) / math.log(o.shape[-1])


def check_probability(name: str, probability) -> str:
    if probability not in PROBABILITIES:
        raise ValueError(f"{name}: probability must be one of {', '.join(PROBABILITIES)}, got {probability!r}")
    return probability


def query_top(score: torch.Tensor, labelled: torch.Tensor, valid: torch.Tensor, q: int) -> torch.Tensor:
    """Move the ``q`` highest-scoring unlabelled positions of every row into ``labelled``.

    Ties go to the lowest position; rows with fewer than ``q`` unlabelled
    patterns take them all.
    """
    avail = valid & ~labelled
    key = torch.where(avail, score, torch.full_like(score, -np.inf))
    order = torch.sort(key, dim=1, descending=True, stable=True).indices[:, :q]
    return _take(labelled, avail, order)


def _take(labelled, avail, order):
    take = avail.gather(1, order)
    rows = torch.arange(labelled.shape[0], device=labelled.device).unsqueeze(1).expand_as(order)
    new = labelled.clone()
    new[rows[take], order[take]] = True
    return new


def allocate(counts, size: int, tiebreak=None) -> np.ndarray:
    """Stratified allocation of ``size`` draws to classes of sizes ``counts``.

    One per present class first when ``size`` allows it; the rest goes to the
    classes in proportion to how far each is below its share ``size * n_c / n``,
    by largest remainder, never more than a class holds.  Remainders that tie
    (to 1e-9) are broken by ``tiebreak`` (one random key per class, from the
    draw's own stream: the smallest key wins), so no class is favoured; without
    it, by class order.  When ``size`` is smaller than the number of present
    classes, which classes get a pattern is decided by the same rule.
    """
    counts = np.asarray(counts, dtype=np.int64)
    keys = np.arange(len(counts), dtype=np.float64) if tiebreak is None else np.asarray(tiebreak, np.float64)
    if keys.shape != counts.shape:
        raise ValueError(f"tiebreak must have one key per class ({len(counts)}), got shape {keys.shape}")
    size = int(min(size, counts.sum()))
    present = counts > 0
    alloc = np.where(present, 1, 0) if size >= present.sum() else np.zeros_like(counts)
    rest = size - int(alloc.sum())
    if rest > 0:
        share = size * counts / counts.sum()
        need = np.clip(share - alloc, 0, None)
        quota = rest * need / need.sum() if need.sum() > 0 else rest * counts / counts.sum()
        add = np.minimum(np.floor(quota).astype(np.int64), counts - alloc)
        alloc = alloc + add
        left = rest - int(add.sum())
        frac = np.round(quota - add, 9)
        while left > 0:
            frac = np.where(counts - alloc > 0, frac, -np.inf)
            k = int(np.lexsort((keys, -frac))[0])  # largest remainder, ties: smallest key
            alloc[k] += 1
            frac[k] -= 1.0
            left -= 1
    return alloc


def initial_sizes(length: np.ndarray, initial) -> np.ndarray:
    """Size of the initial labelled set for pools of the given lengths."""
    length = np.asarray(length, dtype=np.int64)
    if initial is None:
        size = np.minimum(np.floor(0.1 * length).astype(np.int64), 10)
    elif isinstance(initial, float):
        size = np.floor(initial * length).astype(np.int64)
    else:
        size = np.full_like(length, int(initial))
    return np.clip(size, 1, length)


def initial_labelled(pool, initial, stratified: bool) -> torch.Tensor:
    """The initial labelled set L (L, P) bool of every model (see the module docstring)."""
    valid = pool.valid
    L, P = valid.shape
    length = pool.length.cpu().numpy()
    sizes = initial_sizes(length, initial)
    keys = hash_uniform(pool.init_stream, 0, P)
    if not stratified or pool.labels is None:
        keys = torch.where(valid, keys, torch.full_like(keys, 1 << 40))
        rank = torch.argsort(torch.sort(keys, dim=1, stable=True).indices, dim=1)
        return valid & (rank < torch.as_tensor(sizes, device=valid.device).unsqueeze(1))
    C = int(pool.n_classes)
    lab = torch.where(valid, pool.labels, torch.full_like(pool.labels, C))
    counts = torch.zeros((L, C + 1), dtype=torch.int64, device=valid.device)
    counts.scatter_add_(1, lab, torch.ones_like(lab))
    counts_np = counts[:, :C].cpu().numpy()
    alloc = np.zeros((L, C + 1), dtype=np.int64)
    tiebreak = hash_uniform(pool.init_stream, 1, C).cpu().numpy()  # counter 1: the class keys of the draw
    for l in range(L):
        alloc[l, :C] = allocate(counts_np[l], sizes[l], tiebreak[l])
    order = torch.sort(lab * (1 << 33) + keys, dim=1, stable=True).indices
    lab_sorted = lab.gather(1, order)
    start = torch.cumsum(counts, dim=1) - counts  # first sorted position of each class
    rank_sorted = torch.arange(P, device=valid.device).unsqueeze(0) - start.gather(1, lab_sorted)
    alloc_t = torch.as_tensor(alloc, device=valid.device)
    take_sorted = rank_sorted < alloc_t.gather(1, lab_sorted)
    mask = torch.zeros_like(valid)
    mask.scatter_(1, order, take_sorted)
    return mask & valid


def check_schedule(params: dict, task: str, pool_min: int, name: str = NAME) -> dict:
    """The validated schedule (tau, query_size, initial) of a pool-based strategy."""
    tau, q, initial = params["tau"], params["query_size"], params["initial"]
    for key, value in (("tau", tau), ("query_size", q)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}: {key} must be a positive integer, got {value!r}")
    if q > pool_min:
        raise ValueError(f"{name}: query_size={q} is larger than the smallest training pool ({pool_min} patterns)")
    if initial is not None:
        if isinstance(initial, bool) or not isinstance(initial, (int, float, np.integer, np.floating)):
            raise ValueError(f"{name}: initial must be None, a count >= 1 or a fraction in (0, 1), got {initial!r}")
        if isinstance(initial, (float, np.floating)):
            if not 0 < initial < 1:
                raise ValueError(f"{name}: initial as a fraction must be in (0, 1), got {initial!r}")
            initial = float(initial)
        else:
            if not 1 <= initial <= pool_min:
                raise ValueError(f"{name}: initial must be between 1 and the smallest pool ({pool_min}), "
                                 f"got {initial!r}")
            initial = int(initial)
    return {"tau": int(tau), "query_size": int(q), "initial": initial}


class PoolSchedule:
    """Initial labelled set and query schedule shared by entropy, ensemble and random."""

    name = "pool"
    members = 1

    def __init__(self, params: dict, task: str):
        self.tau, self.query_size, self.initial_size = params["tau"], params["query_size"], params["initial"]
        self.task = task

    def initial(self, pool) -> torch.Tensor:
        return initial_labelled(pool, self.initial_size, stratified=self.task == "classification")

    def due(self, epoch: int) -> bool:
        return epoch > 1 and (epoch - 1) % self.tau == 0

    def scores(self, pool, view, epoch: int) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    counts_scored = True
    #: whether `select` keeps its utilities in ``last_scores`` (per-pattern diagnostics)
    records_scores = True
    last_scores: torch.Tensor | None = None

    def select(self, pool, view, mask: torch.Tensor, epoch: int = 0):
        """The draft's protocol's query at a due epoch: `query` of ``query_size`` patterns."""
        return self.query(pool, view, mask, self.query_size, epoch)

    def query(self, pool, view, mask: torch.Tensor, size: int, counter: int):
        """Move ``size`` unlabelled patterns of every live model into L (every protocol's query).

        Returns the new mask and the patterns each model scored (|U| for a
        strategy that scores, 0 for random and for diverged models); ``counter``
        keys the query's random draws.  This default queries the ``size``
        highest `scores`; batch strategies override it.
        """
        self.last_scores = None
        avail = pool.valid & ~mask
        n_avail = avail.sum(dim=1)
        alive = view.alive
        if not bool((n_avail[alive] > 0).any()):
            return mask, torch.zeros_like(pool.length)
        score = self.scores(pool, view, counter)
        if self.records_scores:  # the utility of every unlabelled pattern; NaN: labelled, padding, diverged
            self.last_scores = torch.where(avail & alive.unsqueeze(1), score, torch.full_like(score, float("nan")))
        new = query_top(score, mask, pool.valid, size)
        scored = n_avail if self.counts_scored else torch.zeros_like(n_avail)
        scored = torch.where(alive, scored, torch.zeros_like(scored))
        return torch.where(alive.unsqueeze(1), new, mask), scored


class ProbabilityQuery(PoolSchedule):
    """A query by a utility of the network's outputs under the ``probability`` parameter: subclasses set
    ``utility`` (outputs, probability) -> (L, P) scores of the first member, higher queried first, or
    override ``scores`` (a committee's utility of all its members)."""

    utility = staticmethod(utility)

    def __init__(self, params: dict, task: str):
        super().__init__(params, task)
        self.probability = params.get("probability", "softmax")

    def scores(self, pool, view, epoch: int) -> torch.Tensor:
        return self.utility(view.outputs()[:, 0], self.probability)


class Entropy(ProbabilityQuery):
    """Query the patterns of highest normalised predictive entropy."""

    name = NAME
    members = MEMBERS


def check_probability_query(params: dict, task: str, pool_min: int, name: str) -> dict:
    """The parameters of a query by a utility of the class distribution: its schedule and its ``probability``."""
    return {**check_schedule(params, task, pool_min, name=name),
            "probability": check_probability(name, params["probability"])}


def check_params(params: dict, task: str, pool_min: int) -> dict:
    return check_probability_query(params, task, pool_min, name=NAME)


STRATEGY = Entropy
