"""Margin sampling: query the smallest gap between the two most probable classes (SPEC section 3).

Utility of a pattern of U: 1 - (p_(1) - p_(2)), the two largest probabilities
of the class distribution of the network's sigmoid output activations
(``probability``: ``softmax`` over the activations, the default, or the
``normalised`` activations o_k / sum_j o_j;
`alnn.strategies.entropy.class_distribution`).  Scheffer, Decomain and Wrobel
2001; scikit-activeml's ``UncertaintySampling(method="margin_sampling")``
computes the same utility (checked in tests/test_field_strategies.py).

The schedule, the initial labelled set and the top-q query (ties: lowest pool
position) are those of `alnn.strategies.entropy`.  Classification only.

Selection cost (``DESCRIPTION["select_macs"]``, multiply-adds per scored
pattern): the forward pass of the network, (I + 1) J + (J + 1) K (the
class distribution and the sort are element-wise work, not counted, as in
`alnn.cost`).
"""

from __future__ import annotations

import torch

from alnn.strategies.entropy import ProbabilityQuery, check_probability_query, class_distribution

__all__ = ["Margin", "utility", "NAME", "MEMBERS", "DEFAULTS", "DESCRIPTION", "check_params"]

NAME = "margin"
MEMBERS = 1
DEFAULTS = {"tau": 1, "query_size": 1, "initial": None, "probability": "softmax"}
DESCRIPTION = {
    "name": NAME,
    "label": "Margin",
    "summary": "margin sampling: query the smallest gap 1 - (p_(1) - p_(2)) between the two most probable "
               "classes (Scheffer et al. 2001)",
    "tasks": ("classification",),
    "reference": "Scheffer et al. 2001",
    "select_macs": "(I+1)*J + (J+1)*K",
    "prose": 'margin sampling',
    "role": 'query',
    "protocols": ('budget',),
    "members": 1,
    "order": 6,
    "colour": '#56b4e9',
    "marker": 'X',
    "linestyle": [0, [1, 1]],
    "family": 'uncertainty',
}


def utility(outputs, probability: str = "softmax") -> torch.Tensor:
    """1 - (p_(1) - p_(2)) of the class distribution of ``outputs`` over the last axis (K >= 2)."""
    top = class_distribution(outputs, probability).topk(2, dim=-1).values
    return 1.0 - (top[..., 0] - top[..., 1])


def check_params(params: dict, task: str, pool_min: int) -> dict:
    return check_probability_query(params, task, pool_min, name=NAME)


class Margin(ProbabilityQuery):
    """Query the patterns whose two most probable classes are closest."""

    name = NAME
    members = MEMBERS
    utility = staticmethod(utility)


STRATEGY = Margin
