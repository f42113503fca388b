"""Sensitivity sampling: pool-based queries by SASLA's informativeness (SPEC section 3).

The incremental counterpart of `alnn.strategies.sasla`, in the spirit of
Engelbrecht and Cloete's incremental learning by sensitivity analysis: the
schedule of `alnn.strategies.entropy` (initial labelled set, ``tau``,
``query_size``, warm start), with the utility of an unlabelled pattern its
informativeness Phi[p] = max_k S_o[p, k] (`alnn.strategies.sasla.informativeness`,
sum or Euclidean norm over the inputs).  Phi needs the inputs and the current
weights only, never a label, so this is a genuine pool-based query.
Classification (sigmoid outputs) and regression (linear outputs).

``scored`` counts |U| at every query; each scored pattern costs the forward
pass and the K x I sensitivity matrix.
"""

from __future__ import annotations

import torch

from alnn.strategies.entropy import PoolSchedule
from alnn.strategies.entropy import check_schedule as _check_schedule
from alnn.strategies.sasla import NORMS

__all__ = ["Sensitivity", "NAME", "MEMBERS", "DEFAULTS", "DESCRIPTION", "check_params"]

NAME = "sensitivity"
MEMBERS = 1
DEFAULTS = {"tau": 1, "query_size": 1, "initial": None, "norm": "sum"}
#: What the report, the figures, the statistics and the cost model know of this strategy
#: (`alnn.strategies.catalogue`).
DESCRIPTION = {
    "name": NAME,
    "label": 'Sensitivity',
    "prose": 'sensitivity sampling',
    "summary": "sensitivity sampling: query the largest output sensitivity Phi, SASLA's informativeness (Engelbrecht and Cloete 1999)",
    "reference": 'Engelbrecht and Cloete 1999',
    "tasks": ('classification', 'regression'),
    "role": 'query',
    "protocols": ('draft', 'budget'),
    "members": 1,
    "select_macs": 'E*((I+1)*J + (J+1)*K) + 2*K*J*I',
    "order": 5,
    "colour": '#d55e00',
    "marker": 'P',
    "linestyle": [0, [3, 1, 1, 1, 1, 1]],
    "family": 'sensitivity',
}


def check_params(params: dict, task: str, pool_min: int) -> dict:
    norm = params["norm"]
    if norm not in NORMS:
        raise ValueError(f"{NAME}: norm must be one of {', '.join(NORMS)}, got {norm!r}")
    return {**_check_schedule(params, task, pool_min, name=NAME), "norm": norm}


class Sensitivity(PoolSchedule):
    """Query the unlabelled patterns of highest informativeness Phi."""

    name = NAME
    members = MEMBERS

    def __init__(self, params: dict, task: str):
        super().__init__(params, task)
        self.norm = params["norm"]

    def scores(self, pool, view, epoch: int) -> torch.Tensor:
        return view.informativeness(self.norm)


STRATEGY = Sensitivity
