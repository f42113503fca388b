"""Improved greedy sampling in the input and output spaces, iGS (Wu, Lin and Huang 2019; SPEC section 3).

Every query takes ``size`` patterns of U one after the other.  The "distance"
of a candidate n to a selected pattern m is the product

    d(n, m) = |x_n - x_m| |y_n - y_m|

of the Euclidean distances of their preprocessed inputs and of their outputs
(K >= 1 outputs in the standardised training units), where y_n is the
network's prediction for the candidate (member 0), and y_m is the true
training target of a labelled pattern or the prediction of a pattern picked
earlier in the batch (its label is not known yet).  Each pick is the candidate
whose minimum d to L and to the batch so far is largest, ties to the lowest
pool position: the minimum is taken of the product, pair by pair, as in Wu et
al.'s iGS and scikit-activeml's ``GreedySamplingTarget(method="GSi")`` (not
the product of the two separate minimum distances).  With an empty L the
first pick is GSx's start (the pattern of least total input distance to the
pool; scikit-activeml's ``n_GSx_samples=1``), and the next ones are iGS picks
against it.  scikit-activeml makes the same picks on the same inputs,
predictions and targets (tests/test_field_strategies.py) for one output; it
breaks exact ties at random and handles one target only (K > 1 here uses the
Euclidean distance of the K outputs).

It reads the training targets of the labelled patterns only
(``view.targets()`` (L, P, K), never at an unlabelled position).  The schedule
and the initial labelled set are those of `alnn.strategies.entropy`.
Regression.  ``scored`` counts |U|.

Selection cost (``DESCRIPTION["select_macs"]``, multiply-adds per scored
pattern, with N = |L| before the query): the forward pass, (I + 1) J +
(J + 1) K; then per pair (each of the N labelled patterns and each of the
first q - 1 picks) an I-term and a K-term dot product and the product of the
two distances, I + K + 1, with the squared norms (I + K) counted as one pair
more: (I + 1) J + (J + 1) K + (N + q) (I + K + 1).
"""

from __future__ import annotations

import torch

from alnn.strategies.diversity import BatchSchedule, farthest_first, gather, min_sq_dist
from alnn.strategies.entropy import check_schedule
from alnn.strategies.greedy_x import centre_start

__all__ = ["GreedyXY", "NAME", "MEMBERS", "DEFAULTS", "DESCRIPTION", "check_params"]

NAME = "greedy-xy"
MEMBERS = 1
DEFAULTS = {"tau": 1, "query_size": 1, "initial": None}
DESCRIPTION = {
    "name": NAME,
    "label": "iGS",
    "summary": "improved greedy sampling (iGS): each query the unlabelled pattern of largest minimum product of "
               "input distance and predicted-output distance to L and the batch so far (Wu, Lin and Huang 2019)",
    "tasks": ("regression",),
    "reference": "Wu, Lin and Huang 2019",
    "select_macs": "(I+1)*J + (J+1)*K + (N+q)*(I+K+1)",
    "prose": 'iGS',
    "role": 'query',
    "protocols": ('budget',),
    "members": 1,
    "order": 12,
    "colour": '#ca9161',
    "marker": '<',
    "linestyle": [0, [3, 1, 1, 1]],
    "family": 'diversity',
}


def check_params(params: dict, task: str, pool_min: int) -> dict:
    return check_schedule(params, task, pool_min, name=NAME)


class GreedyXY(BatchSchedule):
    """Farthest-first batches by the product of input and output distances."""

    name = NAME
    members = MEMBERS

    def picks(self, pool, view, mask, avail, idx, ok, size, counter):
        X = view.inputs().to(torch.float64)
        x, lab, lab_idx, lab_ok = self.features(X, pool, mask, idx)
        y = gather(view.outputs()[:, 0].to(torch.float64), idx)  # predictions of the candidates
        t = gather(view.targets().to(torch.float64), lab_idx)  # targets of the labelled patterns only
        score = min_sq_dist(x, lab, lab_ok, a_y=y, b_y=t)
        first = centre_start(X, pool.valid, x, ok, ~lab_ok.any(dim=1))
        return farthest_first(score, ok, size, x, y=y, first=first)


STRATEGY = GreedyXY
