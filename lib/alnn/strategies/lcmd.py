"""LCMD, largest cluster maximum distance (Holzmüller et al. 2023; SPEC section 3).

Features: the network's last-layer gradient features, the gradient of each
(linear) output with respect to the output layer's weights and bias, [h, 1]
(member 0's J hidden activations and the bias input; every output has the
same one, so the kernel is K (h.h' + 1) and distances are those of h up to the
factor sqrt(K), which changes no pick).

Selection (TP mode of Holzmüller et al.: the labelled patterns are centres):
every labelled pattern and every pick of the batch is a centre, and every
unlabelled pattern belongs to the cluster of its nearest centre (a tie keeps
the earlier centre: labelled ones in pool order, then the picks in order).
Each pick is, among the unlabelled patterns of the cluster with the largest
sum of squared distances of its members to its centre, the one farthest from
its centre (ties: lowest pool position); it then becomes a centre.  With an
empty L the first pick is the pattern of largest |[h, 1]| (the kernel
diagonal).  This follows ``LargestClusterMaxDistSelectionMethod`` of the
authors' bmdal_reg code (``dist_weight_mode="sq-dist"``); scikit-activeml has
no LCMD, so the test checks it against a separate numpy transcription of that
rule (tests/test_field_strategies.py).  Holzmüller et al.'s recommended
features are the full network gradient with random projections; the
last-layer features are their "ll" variant.

The schedule and the initial labelled set are those of
`alnn.strategies.entropy`.  Regression.  ``scored`` counts |U|.

Selection cost (``DESCRIPTION["select_macs"]``, multiply-adds per scored
pattern, with N = |L| before the query): the hidden layer, (I + 1) J; its
squared norm, J; the J-term dot product with each of the N labelled patterns
(nearest centre) and each of the first q - 1 picks: (I + 1) J + (N + q) J (the
cluster sums are additions, not counted).
"""

from __future__ import annotations

import torch

from alnn.strategies.diversity import BatchSchedule, largest_cluster, min_sq_dist
from alnn.strategies.entropy import check_schedule

__all__ = ["Lcmd", "NAME", "MEMBERS", "DEFAULTS", "DESCRIPTION", "check_params"]

NAME = "lcmd"
MEMBERS = 1
DEFAULTS = {"tau": 1, "query_size": 1, "initial": None}
DESCRIPTION = {
    "name": NAME,
    "label": "LCMD",
    "summary": "LCMD: each query the pattern farthest from its centre in the largest cluster (sum of squared "
               "distances) around L and the batch so far, on last-layer gradient features (Holzmüller et al. 2023)",
    "tasks": ("regression",),
    "reference": "Holzmüller et al. 2023",
    "select_macs": "(I+1)*J + (N+q)*J",
    "prose": 'LCMD',
    "role": 'query',
    "protocols": ('budget',),
    "members": 1,
    "order": 13,
    "colour": '#9467bd',
    "marker": '*',
    "linestyle": [0, [5, 1, 1, 1]],
    "family": 'diversity',
}


def check_params(params: dict, task: str, pool_min: int) -> dict:
    return check_schedule(params, task, pool_min, name=NAME)


class Lcmd(BatchSchedule):
    """Largest-cluster maximum-distance batches on the last-layer gradient features."""

    name = NAME
    members = MEMBERS

    def picks(self, pool, view, mask, avail, idx, ok, size, counter):
        x, lab, _, lab_ok = self.features(view.hidden()[:, 0].to(torch.float64), pool, mask, idx)
        score, closest = min_sq_dist(x, lab, lab_ok, index=True)
        return largest_cluster(score, closest, lab_ok.sum(dim=1), ok, size, x)


STRATEGY = Lcmd
