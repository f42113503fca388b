"""Passive learning: every network trains on its whole pool, every epoch (SPEC section 3).

This is the baseline and the strategy of the grid search.  It never selects
and scores nothing.

The strategy protocol shared by every strategy module (used by `alnn.run`):

``members``
    networks per trained model (3 for `ensemble`, else 1);
``initial(pool) -> mask``
    the (L, P) bool subset of epoch 1 for each of the L models;
``due(epoch) -> bool``
    whether a selection takes place at the start of ``epoch``;
``select(pool, view, mask, epoch) -> (mask, scored)``
    the new subsets and the number of patterns each model's selection scored.

``records_scores`` (optional, default False) and ``last_scores``
    a strategy with ``records_scores`` leaves in ``last_scores`` the (L, P)
    per-pattern scores its latest ``select`` computed (sasla: Phi of every pool
    pattern; entropy / ensemble: the utility of every unlabelled pattern, NaN
    elsewhere), or None when that selection computed none; ``run(...,
    return_masks=True)`` records them without another forward pass.

``pool`` describes the training pools (``valid``, ``length``, ``labels``,
``n_classes``, ``init_stream``, ``query_stream``); ``view`` gives the current
networks' ``outputs()`` (L, members, P, K), ``informativeness(norm)`` (L, P)
and ``alive`` (L,).  Strategies never touch a diverged model's subset.
"""

from __future__ import annotations

import torch

__all__ = ["Passive", "NAME", "MEMBERS", "DEFAULTS", "DESCRIPTION", "check_params", "check_members"]

NAME = "passive"
MEMBERS = 1
#: ``members`` > 1 is the ensemble control (SPEC 3d): that many networks with their own initial
#: weights (members 0, 1, ... of the weight streams, as `ensemble`'s) voting as the committee does
DEFAULTS: dict = {"members": 1}
#: What the report, the figures, the statistics and the cost model know of this strategy
#: (`alnn.strategies.catalogue`).
DESCRIPTION = {
    "name": NAME,
    "label": 'Passive',
    "prose": 'passive learning',
    "summary": 'passive learning: plain mini-batch SGD on the whole training pool, every epoch',
    "reference": '',
    "tasks": ('classification', 'regression'),
    "role": 'ceiling',
    "protocols": ('draft', 'budget'),
    "members": 1,
    "select_macs": '0',
    "order": 0,
    "colour": '#0173b2',
    "marker": 'o',
    "linestyle": '-',
    "family": 'ceiling',
}


def check_members(name: str, members) -> int:
    if isinstance(members, bool) or not isinstance(members, int) or members < 1:
        raise ValueError(f"{name}: members must be a positive integer (networks voting), got {members!r}")
    return int(members)


def check_params(params: dict, task: str, pool_min: int) -> dict:
    return {"members": check_members(NAME, params["members"])}


class Passive:
    """The whole pool, every epoch (``members`` networks voting when more than one)."""

    name = NAME
    members = MEMBERS

    def __init__(self, params: dict, task: str):
        self.task = task
        self.members = params.get("members", MEMBERS)

    def initial(self, pool) -> torch.Tensor:
        return pool.valid.clone()

    def due(self, epoch: int) -> bool:
        return False

    def select(self, pool, view, mask, epoch: int = 0):
        return mask, torch.zeros_like(pool.length)


STRATEGY = Passive
