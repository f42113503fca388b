"""Core-set: k-center greedy on the hidden-layer activations (Sener and Savarese 2018; SPEC section 3).

Every query takes ``size`` patterns of U one after the other: each is the
unlabelled pattern whose minimum Euclidean distance to the labelled set L and
to the patterns of the batch chosen so far is largest (farthest-first
traversal, the greedy 2-approximation of the k-center problem), in the space
of the network's J hidden-layer sigmoid activations (member 0; the
representation the output layer sees).  Ties go to the lowest pool position;
with an empty L the first pick is the lowest position (every distance is
infinite).  scikit-activeml's ``CoreSet`` makes the same picks on the same
activations (tests/test_field_strategies.py) except in two places where it
differs on purpose: it breaks exact ties at random (``rand_argmax``), and with
an empty L its first pick is random; and when every remaining distance is 0
(only duplicates of chosen patterns left) it measures the next distances to
the newest pick alone, where this module keeps them at 0.

The schedule and the initial labelled set are those of
`alnn.strategies.entropy`.  Classification and regression.  ``scored``
counts |U| at every query; no per-pattern utility is recorded.

Selection cost (``DESCRIPTION["select_macs"]``, multiply-adds per scored
pattern, with N = |L| before the query): the hidden layer, (I + 1) J; its
squared norm, J; the J-term dot product with each of the N labelled patterns
(the minimum distance to L) and with each of the first q - 1 picks (the update
after a pick): (I + 1) J + (N + q) J in all.  Distances are formed as
|a|^2 + |b|^2 - 2 a.b, so each pair costs one dot product.
"""

from __future__ import annotations

import torch

from alnn.strategies.diversity import BatchSchedule, farthest_first, min_sq_dist
from alnn.strategies.entropy import check_schedule

__all__ = ["CoreSet", "NAME", "MEMBERS", "DEFAULTS", "DESCRIPTION", "check_params"]

NAME = "coreset"
MEMBERS = 1
DEFAULTS = {"tau": 1, "query_size": 1, "initial": None}
DESCRIPTION = {
    "name": NAME,
    "label": "Core-set",
    "summary": "core-set: k-center greedy on the hidden-layer activations, each query the pattern farthest "
               "from L and the batch so far (Sener and Savarese 2018)",
    "tasks": ("classification", "regression"),
    "reference": "Sener and Savarese 2018",
    "select_macs": "(I+1)*J + (N+q)*J",
    "prose": 'core-set sampling',
    "role": 'query',
    "protocols": ('budget',),
    "members": 1,
    "order": 9,
    "colour": '#17becf',
    "marker": '>',
    "linestyle": [0, [2, 1]],
    "family": 'diversity',
}


def check_params(params: dict, task: str, pool_min: int) -> dict:
    return check_schedule(params, task, pool_min, name=NAME)


class CoreSet(BatchSchedule):
    """k-center greedy batches in the hidden-layer space."""

    name = NAME
    members = MEMBERS

    def picks(self, pool, view, mask, avail, idx, ok, size, counter):
        x, lab, _, lab_ok = self.features(view.hidden()[:, 0].to(torch.float64), pool, mask, idx)
        return farthest_first(min_sq_dist(x, lab, lab_ok), ok, size, x)


STRATEGY = CoreSet
