"""Ensemble uncertainty sampling, query by committee (SPEC section 3).

Three networks with their own initial weights (members 0, 1, 2 of the
(seed, trial, fold) weight streams; member 0 is the network every other
strategy starts from), their own shuffles and their own optimiser state, all
trained on one shared labelled set L with the schedule of `alnn.strategies.entropy`
(initial set, ``tau``, ``query_size``, warm start).

Utility of a pattern of U: the total variance across the members (population
variance, ddof = 0) of
- classification: their class distributions (``probability``: softmax over the
  sigmoid output activations, the default, or the normalised activations
  o_k / sum_j o_j; `alnn.strategies.entropy.class_distribution`), summed over
  classes;
- regression: their predictions (in the standardised training units), summed
  over targets.

Prediction: majority vote of the members' argmax classes, a tie (all three
disagree) going to the class of highest mean class probability among the tied
ones; the mean of the members' outputs for regression.  In `alnn.run`'s frame
the validation metrics are those of this prediction, ``mse`` is that of the
members' mean output, and ``train_loss`` / ``val_loss`` are the mean over the
members of their own losses; ``presentations`` counts every member's patterns
(3 x the subset size per epoch).
"""

from __future__ import annotations

import torch

from alnn.strategies.entropy import ProbabilityQuery, check_probability_query, class_distribution

__all__ = ["Ensemble", "utility", "vote", "NAME", "MEMBERS", "DEFAULTS", "DESCRIPTION", "check_params"]

NAME = "ensemble"
MEMBERS = 3
DEFAULTS = {"tau": 1, "query_size": 1, "initial": None, "probability": "softmax"}  # probability: classification
#: What the report, the figures, the statistics and the cost model know of this strategy
#: (`alnn.strategies.catalogue`).
DESCRIPTION = {
    "name": NAME,
    "label": 'Committee',
    "prose": 'the committee',
    "summary": 'query by committee: three networks, query the largest variance of their predictions (Seung et al. 1992)',
    "reference": 'Seung et al. 1992',
    "tasks": ('classification', 'regression'),
    "role": 'query',
    "protocols": ('draft', 'budget'),
    "members": 3,
    "select_macs": 'E*((I+1)*J + (J+1)*K)',
    "order": 3,
    "colour": '#cc78bc',
    "marker": 'D',
    "linestyle": [0, [5, 1]],
    "family": 'committee',
}


def check_params(params: dict, task: str, pool_min: int) -> dict:
    return check_probability_query(params, task, pool_min, name=NAME)


def utility(outputs, task: str = "classification", probability: str = "softmax") -> torch.Tensor:
    """Total variance across members; ``outputs`` (..., E members, P, K) -> (..., P)."""
    o = torch.as_tensor(outputs)
    q = class_distribution(o, probability) if task == "classification" else o
    return q.var(dim=-3, unbiased=False).sum(dim=-1)


def vote(outputs) -> torch.Tensor:
    """Majority vote of the members; ``outputs`` (..., E, Q, K) -> class labels (..., Q)."""
    o = torch.as_tensor(outputs)
    K = o.shape[-1]
    votes = torch.nn.functional.one_hot(o.argmax(dim=-1), K).sum(dim=-3).to(o.dtype)
    mean_p = torch.softmax(o, dim=-1).mean(dim=-3)  # < 1, so it only breaks ties between equal vote counts
    return (votes + 0.5 * mean_p).argmax(dim=-1)


class Ensemble(ProbabilityQuery):
    """Query the patterns on which the three members disagree most."""

    name = NAME
    members = MEMBERS

    def scores(self, pool, view, epoch: int) -> torch.Tensor:
        return utility(view.outputs(), self.task, self.probability)


STRATEGY = Ensemble
