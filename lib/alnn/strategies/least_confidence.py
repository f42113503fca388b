"""Least-confidence sampling: query the least probable top class (SPEC section 3).

Utility of a pattern of U: 1 - p_(1), the largest probability of the class
distribution of the network's sigmoid output activations (``probability``:
``softmax`` over the activations, the default, or the ``normalised``
activations o_k / sum_j o_j; `alnn.strategies.entropy.class_distribution`).
Lewis and Gale 1994 (uncertainty sampling); scikit-activeml's
``UncertaintySampling(method="least_confident")`` computes the same utility
(checked in tests/test_field_strategies.py).

The schedule, the initial labelled set and the top-q query (ties: lowest pool
position) are those of `alnn.strategies.entropy`.  Classification only.

Selection cost (``DESCRIPTION["select_macs"]``, multiply-adds per scored
pattern): the forward pass of the network, (I + 1) J + (J + 1) K.
"""

from __future__ import annotations

import torch

from alnn.strategies.entropy import ProbabilityQuery, check_probability_query, class_distribution

__all__ = ["LeastConfidence", "utility", "NAME", "MEMBERS", "DEFAULTS", "DESCRIPTION", "check_params"]

NAME = "least-confidence"
MEMBERS = 1
DEFAULTS = {"tau": 1, "query_size": 1, "initial": None, "probability": "softmax"}
DESCRIPTION = {
    "name": NAME,
    "label": "Least confidence",
    "summary": "least-confidence sampling: query the lowest top-class probability, utility 1 - p_(1) "
               "(Lewis and Gale 1994)",
    "tasks": ("classification",),
    "reference": "Lewis and Gale 1994",
    "select_macs": "(I+1)*J + (J+1)*K",
    "prose": 'least-confidence sampling',
    "role": 'query',
    "protocols": ('budget',),
    "members": 1,
    "order": 7,
    "colour": '#ca9161',
    "marker": '<',
    "linestyle": [0, [3, 1, 1, 1]],
    "family": 'uncertainty',
}


def utility(outputs, probability: str = "softmax") -> torch.Tensor:
    """1 - p_(1) of the class distribution of ``outputs`` over the last axis."""
    return 1.0 - class_distribution(outputs, probability).amax(dim=-1)


def check_params(params: dict, task: str, pool_min: int) -> dict:
    return check_probability_query(params, task, pool_min, name=NAME)


class LeastConfidence(ProbabilityQuery):
    """Query the patterns whose most probable class is least probable."""

    name = NAME
    members = MEMBERS
    utility = staticmethod(utility)


STRATEGY = LeastConfidence
