"""Arithmetic cost in multiply-adds, counted from the network's shape (SPEC 3c).

A network with I inputs, J sigmoid hidden units and K outputs has
P = (I + 1) J + (J + 1) K weights, biases included (a bias is a multiply-add
by the constant input 1).  Counted per network:

=========================  ==================================================
forward, one pattern       P                 (hidden layer (I + 1) J, output layer (J + 1) K)
back-propagation           P + J K           (output-layer gradient (J + 1) K, hidden error J K,
                                              hidden-layer gradient (I + 1) J)
training, one presented    2 P + J K         (forward and back-propagation)
pattern
update, one mini-batch     (2 + d) P         (momentum v <- m v + g, step w <- w - lr v,
step                                          and d = 1 for weight decay g <- g + lambda w)
selection, one scored      m P               (the forward pass of each of the m members)
pattern                    + 2 K J I         (sasla and sensitivity: the K x I sensitivity matrix,
                                              S[k, i] = g_k sum_j w_kj y_j (1 - y_j) v_ji)
=========================  ==================================================

Element-wise work (sigmoids, the loss, the entropy or the variance of a
selection) and the evaluation on the validation part are not counted: the
count is what a strategy spends to train and to choose, the same on every
machine.  Wall time is recorded beside it (``wall_s``).
"""

from __future__ import annotations

import numpy as np

from alnn.strategies.catalogue import catalogue, describe

__all__ = ["parameters", "forward", "training_per_pattern", "update_per_step", "selection_per_pattern",
           "training", "selection", "SENSITIVITY_STRATEGIES"]

#: strategies whose selection builds the K x I sensitivity matrix of every scored pattern
SENSITIVITY_STRATEGIES = frozenset(n for n, d in catalogue().items() if "2*K*J*I" in d.select_macs.replace(" ", ""))


def parameters(I: int, J: int, K: int) -> int:
    """Weights and biases of the network, P = (I + 1) J + (J + 1) K."""
    return (I + 1) * J + (J + 1) * K


def forward(I: int, J: int, K: int) -> int:
    """Multiply-adds of one forward pass of one pattern."""
    return parameters(I, J, K)


def training_per_pattern(I: int, J: int, K: int) -> int:
    """Forward pass and back-propagation of one presented pattern: 2 P + J K."""
    return 2 * parameters(I, J, K) + J * K


def update_per_step(I: int, J: int, K: int, weight_decay: float = 0.0) -> int:
    """One momentum update of every weight: (2 + d) P, d = 1 with weight decay."""
    return (2 + (1 if weight_decay > 0 else 0)) * parameters(I, J, K)


def selection_per_pattern(strategy: str, I: int, J: int, K: int, members: int = 1, *, labelled: int = 0,
                          query: int = 1) -> int:
    """What scoring one pattern costs: the strategy's own count (its ``DESCRIPTION["select_macs"]``,
    `alnn.strategies.catalogue`): every member's forward pass, plus 2 K J I for sasla and sensitivity,
    plus the distances of the diversity strategies (to the ``labelled`` patterns and the ``query``)."""
    return describe(strategy).selection_macs(I, J, K, E=members, q=query, N=labelled)


def training(I: int, J: int, K: int, presented, steps, weight_decay=0.0) -> np.ndarray:
    """Multiply-adds of training: ``presented`` patterns in ``steps`` mini-batch steps (arrays, int64;
    ``weight_decay`` a number or one per network)."""
    presented = np.asarray(presented, dtype=np.int64)
    steps = np.asarray(steps, dtype=np.int64)
    d = (np.asarray(weight_decay, dtype=np.float64) > 0).astype(np.int64)
    return presented * training_per_pattern(I, J, K) + steps * (2 + d) * parameters(I, J, K)


def selection(strategy: str, I: int, J: int, K: int, scored, members: int = 1, *, labelled: int = 0,
              query: int = 1) -> np.ndarray:
    """Multiply-adds of selection: ``scored`` patterns scored (array, int64; each by every member)."""
    return np.asarray(scored, dtype=np.int64) * selection_per_pattern(strategy, I, J, K, members,
                                                                      labelled=labelled, query=query)
