"""Greedy sampling in the input space, GSx (Yu and Kim 2010; SPEC section 3).

Every query takes ``size`` patterns of U one after the other: each is the
unlabelled pattern whose minimum Euclidean distance, in the preprocessed input
space, to the labelled set L and to the patterns of the batch chosen so far is
largest (ties: lowest pool position).  With an empty L the first pick is the
pattern of least total distance to the whole pool (GSx's start near the
centre of the data; Wu, Lin and Huang 2019).  It needs no network: the
query depends on the inputs and on L only.  scikit-activeml's
``GreedySamplingX`` makes the same picks on the same inputs
(tests/test_field_strategies.py); it breaks exact ties at random.

The schedule and the initial labelled set are those of
`alnn.strategies.entropy`.  Regression (the setting GSx was proposed for).
``scored`` counts |U|.

Selection cost (``DESCRIPTION["select_macs"]``, multiply-adds per scored
pattern, with N = |L| before the query): the squared norm of the input, I; the
I-term dot product with each of the N labelled inputs and with each of the
first q - 1 picks: (N + q) I in all (no forward pass).  The start of an empty
L (P I more per pattern) never occurs in the study, whose L starts non-empty.
"""

from __future__ import annotations

import torch

from alnn.strategies.diversity import BatchSchedule, farthest_first, min_sq_dist, sum_dist
from alnn.strategies.entropy import check_schedule

__all__ = ["GreedyX", "centre_start", "NAME", "MEMBERS", "DEFAULTS", "DESCRIPTION", "check_params"]

NAME = "greedy-x"
MEMBERS = 1
DEFAULTS = {"tau": 1, "query_size": 1, "initial": None}
DESCRIPTION = {
    "name": NAME,
    "label": "GSx",
    "summary": "greedy sampling in the input space (GSx): each query the unlabelled input farthest from L and "
               "the batch so far (Yu and Kim 2010)",
    "tasks": ("regression",),
    "reference": "Yu and Kim 2010",
    "select_macs": "(N+q)*I",
    "prose": 'GSx',
    "role": 'query',
    "protocols": ('budget',),
    "members": 1,
    "order": 11,
    "colour": '#56b4e9',
    "marker": 'X',
    "linestyle": [0, [1, 1]],
    "family": 'diversity',
}


def check_params(params: dict, task: str, pool_min: int) -> dict:
    return check_schedule(params, task, pool_min, name=NAME)


def centre_start(X: torch.Tensor, valid: torch.Tensor, x: torch.Tensor, ok: torch.Tensor,
                 empty: torch.Tensor) -> torch.Tensor:
    """GSx's first pick for the rows ``empty`` (L,) whose L is empty: the candidate of least total
    distance to the row's pool ``X`` (L, P, I) / ``valid``; -1 for the other rows."""
    first = torch.full(empty.shape, -1, dtype=torch.int64, device=x.device)
    rows = torch.nonzero(empty).squeeze(1)
    if rows.numel():
        total = sum_dist(x[rows], X[rows], valid[rows])
        total = torch.where(ok[rows], total, torch.full_like(total, float("inf")))
        first[rows] = total.argmin(dim=1)
    return first


class GreedyX(BatchSchedule):
    """Farthest-first batches in the input space."""

    name = NAME
    members = MEMBERS

    def picks(self, pool, view, mask, avail, idx, ok, size, counter):
        X = view.inputs().to(torch.float64)
        x, lab, _, lab_ok = self.features(X, pool, mask, idx)
        first = centre_start(X, pool.valid, x, ok, ~lab_ok.any(dim=1))
        return farthest_first(min_sq_dist(x, lab, lab_ok), ok, size, x, first=first)


STRATEGY = GreedyX
