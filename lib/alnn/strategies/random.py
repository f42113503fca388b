"""Random sampling: the baseline that uncertainty sampling must beat (SPEC section 3).

The same initial labelled set and schedule as `alnn.strategies.entropy` (``tau``,
``query_size``, ``initial``), but the ``query_size`` patterns moved from U to L
at each query are drawn uniformly at random from U, from the (seed, trial,
fold) query stream of the model (a counter-based hash of the epoch and the pool
position: `alnn.model.hash_uniform`).  It scores nothing (``scored`` stays 0).
With ``members`` = 3 it is the committee's control: three networks (their own
initial weights, shuffles and momentum, as `alnn.strategies.ensemble`'s) on the
same randomly grown L, predicting by the committee's vote or mean.
Classification (stratified initial set) and regression (uniform initial set).

This module is ``alnn.strategies.random``; inside the package it never shadows the
standard library's ``random`` (imports are absolute).
"""

from __future__ import annotations

import torch

from alnn.model import hash_uniform
from alnn.strategies.entropy import PoolSchedule
from alnn.strategies.entropy import check_schedule as _check_schedule
from alnn.strategies.passive import check_members

__all__ = ["Random", "NAME", "MEMBERS", "DEFAULTS", "DESCRIPTION", "check_params"]

NAME = "random"
MEMBERS = 1
#: ``members`` > 1 is the ensemble control (SPEC 3d): that many networks trained on the one random L,
#: voting (classification) or averaged (regression) as `ensemble`'s committee
DEFAULTS = {"tau": 1, "query_size": 1, "initial": None, "members": 1}
#: What the report, the figures, the statistics and the cost model know of this strategy
#: (`alnn.strategies.catalogue`).
DESCRIPTION = {
    "name": NAME,
    "label": 'Random',
    "prose": 'random sampling',
    "summary": 'random sampling: query uniformly at random, the baseline every query strategy must beat',
    "reference": '',
    "tasks": ('classification', 'regression'),
    "role": 'baseline',
    "protocols": ('draft', 'budget'),
    "members": 1,
    "select_macs": 'E*((I+1)*J + (J+1)*K)',
    "order": 4,
    "colour": '#949494',
    "marker": 'v',
    "linestyle": ':',
    "family": 'baseline',
}


def check_params(params: dict, task: str, pool_min: int) -> dict:
    return {**_check_schedule(params, task, pool_min, name=NAME), "members": check_members(NAME, params["members"])}


class Random(PoolSchedule):
    """Query ``query_size`` patterns of U uniformly at random."""

    name = NAME
    members = MEMBERS

    def __init__(self, params: dict, task: str):
        super().__init__(params, task)
        self.members = params.get("members", MEMBERS)

    counts_scored = False
    records_scores = False  # its random keys are no utility: no per-pattern scores

    def scores(self, pool, view, epoch: int) -> torch.Tensor:
        return hash_uniform(pool.query_stream, epoch, pool.valid.shape[1]).to(torch.float64)


STRATEGY = Random
