"""BADGE: k-means++ seeding on gradient embeddings (Ash et al. 2020; SPEC section 3).

Gradient embedding
    the gradient of the network's training loss with respect to the output
    layer's weights and biases (K x (J + 1)), with the predicted class
    c = argmax_k o_k as the label.  For this network (sigmoid outputs o,
    squared-error loss 1/2 sum_k (o_k - t_k)^2, one-hot target t) it is the
    outer product e = g (outer) [h, 1] of

        g_k = (o_k - t_k) o_k (1 - o_k),  t = onehot(c),

    and the hidden activations h with the bias input 1 (member 0).  The bias
    column is included because the bias is a weight of the output layer;
    the loss's scale (1/2, or the mean over outputs) scales every embedding
    alike and changes no pick.  The gradient is that of the loss the network
    is trained on, so it does not depend on the ``probability`` setting of the
    probability-based strategies (the predicted class, argmax o, is the same
    under both class distributions).  Ash et al. use the cross-entropy of a
    softmax output, g = p - onehot(c), and scikit-activeml forms
    (p - onehot(argmax p)) (outer) embedding; given the pseudo-probabilities
    p = onehot(c) + g and the embedding [h, 1] it forms exactly this e
    (tests/test_field_strategies.py).

Selection (k-means++ seeding over U, `alnn.strategies.diversity.kmeanspp`)
    the first centre is the pattern of largest |e| (ties: lowest position; as
    Ash et al.'s code and scikit-activeml); each next one is drawn with
    probability proportional to D^2, the squared distance of its embedding to
    the nearest centre chosen so far, by inverting the cumulative distribution
    over U in pool order.  L plays no part (as in Ash et al.).  The draw of pick
    t uses the uniform made of words 2t and 2t + 1 of
    ``hash_uniform(pool.query_stream, counter, 2 * size)`` (one counter per
    query, one pair of positions per pick; pick 0 uses its pair only when
    every embedding is 0 and it is drawn uniformly).  Where every remaining
    D^2 is 0 the pick is uniform over the patterns not yet chosen.

    scikit-activeml's ``Badge`` differs in two ways, both kept out on purpose:
    its D^2 after the first pick is the minimum of the squared distances to
    the centres *and of the squared norm |e|^2* (it starts its running minimum
    from the norms of the first step, as if the origin were a centre; Ash et
    al.'s code and standard k-means++ seeding measure the distance to the
    chosen centres only), and after a step where every D^2 is 0 it measures
    the next ones to the newest centre alone.  With the origin counted
    (`alnn.strategies.diversity.kmeanspp`'s ``origin=True``) and the same
    uniforms (its ``RandomState`` consumes one per pick after the first), the
    picks are scikit-activeml's; without it they are those of a separate numpy
    transcription of k-means++ seeding (tests/test_field_strategies.py).

The schedule and the initial labelled set are those of
`alnn.strategies.entropy`.  Classification only.  ``scored`` counts |U|.

Selection cost (``DESCRIPTION["select_macs"]``, multiply-adds per scored
pattern): the forward pass, (I + 1) J + (J + 1) K; the squared norms of g and
[h, 1] and their product, K + J + 2; after each of the first q - 1 picks the
squared distance to the new centre, |e - e'|^2 = |e|^2 + |e'|^2 -
2 (g.g') ([h, 1].[h', 1]) without forming e, K + J + 2: in all
(I + 1) J + (J + 1) K + q (K + J + 2).
"""

from __future__ import annotations

import torch

from alnn.strategies.diversity import BatchSchedule, gather, kmeanspp, uniforms
from alnn.strategies.entropy import check_schedule

__all__ = ["Badge", "factors", "embedding", "NAME", "MEMBERS", "DEFAULTS", "DESCRIPTION", "check_params"]

NAME = "badge"
MEMBERS = 1
DEFAULTS = {"tau": 1, "query_size": 1, "initial": None}
DESCRIPTION = {
    "name": NAME,
    "label": "BADGE",
    "summary": "BADGE: k-means++ seeding on the gradient of the loss with respect to the output layer's weights, "
               "with the predicted class as the label (Ash et al. 2020)",
    "tasks": ("classification",),
    "reference": "Ash et al. 2020",
    "select_macs": "(I+1)*J + (J+1)*K + q*(K+J+2)",
    "prose": 'BADGE',
    "role": 'query',
    "protocols": ('budget',),
    "members": 1,
    "order": 10,
    "colour": '#bcbd22',
    "marker": 'h',
    "linestyle": [0, [4, 2]],
    "family": 'diversity',
}


def factors(outputs, hidden) -> tuple[torch.Tensor, torch.Tensor]:
    """(g, [h, 1]): the embedding is their outer product; ``outputs`` (..., K), ``hidden`` (..., J)."""
    o = torch.as_tensor(outputs)
    h = torch.as_tensor(hidden).to(o.dtype)
    t = torch.nn.functional.one_hot(o.argmax(dim=-1), o.shape[-1]).to(o.dtype)
    g = (o - t) * o * (1.0 - o)
    return g, torch.cat([h, torch.ones_like(h[..., :1])], dim=-1)


def embedding(outputs, hidden) -> torch.Tensor:
    """The gradient embedding (..., K (J + 1)), row-major in (k, j): dLoss / dW_out[k, j]."""
    g, h1 = factors(outputs, hidden)
    return (g.unsqueeze(-1) * h1.unsqueeze(-2)).flatten(-2)


def check_params(params: dict, task: str, pool_min: int) -> dict:
    return check_schedule(params, task, pool_min, name=NAME)


class Badge(BatchSchedule):
    """k-means++ batches in the gradient-embedding space."""

    name = NAME
    members = MEMBERS

    def picks(self, pool, view, mask, avail, idx, ok, size, counter):
        g, h1 = factors(view.outputs()[:, 0].to(torch.float64), view.hidden()[:, 0])
        return kmeanspp(gather(g, idx), gather(h1, idx), ok, size, uniforms(pool.query_stream, counter, size))


STRATEGY = Badge
