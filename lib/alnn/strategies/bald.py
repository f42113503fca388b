"""BALD: query the largest disagreement of a committee, as mutual information (SPEC section 3).

Utility of a pattern of U: the mutual information between the label and the
committee member, estimated from the E = 3 members of `alnn.strategies.ensemble`
(their own initial weights, shuffles and optimiser state, one shared L),

    BALD(x) = H( mean_e p_e(. | x) ) - mean_e H( p_e(. | x) ),

in nats, where p_e is member e's class distribution of its sigmoid output
activations (``probability``: ``softmax``, the default, or ``normalised``;
`alnn.strategies.entropy.class_distribution`) and H the Shannon entropy
(0 log 0 = 0).  This is Houlsby et al. 2011's BALD with the posterior
replaced by the committee (the ensemble form of Beluch et al. 2018).
scikit-activeml's ``batch_bald`` with a batch of one computes the same
quantity after clipping the probabilities at 1e-7 (checked in
tests/test_field_strategies.py).

The utility is computed in float64 (it is a small difference of two entropies
near log C, whose order float32 rounding changes: on float32 outputs, CPU and
CUDA picked differently on a few of 50 models).  The schedule, the initial
labelled set and the top-q query (ties: lowest pool position) are those of
`alnn.strategies.entropy`; prediction, losses and presentations are those of
the `ensemble` committee.  Classification only.

Selection cost (``DESCRIPTION["select_macs"]``, multiply-adds per scored
pattern): every member's forward pass, E ((I + 1) J + (J + 1) K).
"""

from __future__ import annotations

import torch

from alnn.strategies.entropy import ProbabilityQuery, check_probability_query, class_distribution

__all__ = ["Bald", "utility", "NAME", "MEMBERS", "DEFAULTS", "DESCRIPTION", "check_params"]

NAME = "bald"
MEMBERS = 3
DEFAULTS = {"tau": 1, "query_size": 1, "initial": None, "probability": "softmax"}
DESCRIPTION = {
    "name": NAME,
    "label": "BALD",
    "summary": "BALD: query the largest mutual information between label and committee member, entropy of the "
               "mean distribution minus the members' mean entropy (Houlsby et al. 2011; ensemble form of "
               "Beluch et al. 2018)",
    "tasks": ("classification",),
    "reference": "Houlsby et al. 2011",
    "select_macs": "E*((I+1)*J + (J+1)*K)",
    "prose": 'BALD',
    "role": 'query',
    "protocols": ('budget',),
    "members": 3,
    "order": 8,
    "colour": '#9467bd',
    "marker": '*',
    "linestyle": [0, [5, 1, 1, 1]],
    "family": 'committee',
}


def _entropy(p: torch.Tensor) -> torch.Tensor:
    return -torch.special.xlogy(p, p).sum(dim=-1)


def utility(outputs, probability: str = "softmax") -> torch.Tensor:
    """BALD in nats; ``outputs`` (..., E members, P, K) -> (..., P)."""
    p = class_distribution(torch.as_tensor(outputs), probability)
    return _entropy(p.mean(dim=-3)) - _entropy(p).mean(dim=-2)


def check_params(params: dict, task: str, pool_min: int) -> dict:
    return check_probability_query(params, task, pool_min, name=NAME)


class Bald(ProbabilityQuery):
    """Query the patterns of largest committee mutual information."""

    name = NAME
    members = MEMBERS

    def scores(self, pool, view, counter: int) -> torch.Tensor:
        # float64: a difference of two entropies near log C, which float32 rounding would reorder
        return utility(view.outputs().to(torch.float64), self.probability)


STRATEGY = Bald
