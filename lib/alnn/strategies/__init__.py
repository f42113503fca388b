"""The strategies: one module each, and their registry (SPEC section 3).

Every strategy is one mechanism: each model trains on a subset of its pool and
the strategy decides, at each selection point, which patterns are in it (the
protocol every module follows is described in `alnn.strategies.passive`).

=============  ======================================================  =========
strategy       subset                                                   members
=============  ======================================================  =========
passive        the whole pool, every epoch                              1
sasla          patterns of high output sensitivity (Engelbrecht 2001)   1
entropy        pool-based: query the highest predictive entropy         1
ensemble       pool-based: query the highest committee variance         3
random         pool-based: query uniformly at random (the baseline)     1
sensitivity    pool-based: query the highest informativeness Phi        1
=============  ======================================================  =========

``REGISTRY[name]`` is the strategy's module (``NAME``, ``MEMBERS``,
``DEFAULTS``, ``check_params`` and its class, :func:`strategy_class`).
"""

from __future__ import annotations

from alnn.strategies import ensemble, entropy, passive, random, sasla, sensitivity

__all__ = ["STRATEGIES", "POOL_BASED", "CLASSIFICATION_ONLY", "REGISTRY", "strategy_class", "module"]

REGISTRY = {m.NAME: m for m in (passive, sasla, entropy, ensemble, random, sensitivity)}
STRATEGIES: tuple[str, ...] = tuple(REGISTRY)
#: strategies that grow a labelled set L by queries (the schedule of `alnn.strategies.entropy`)
POOL_BASED: tuple[str, ...] = ("entropy", "ensemble", "random", "sensitivity")
#: strategies that exist for classification only
CLASSIFICATION_ONLY: frozenset[str] = frozenset({"entropy"})


def module(name: str):
    """The module of strategy ``name``; ValueError naming the valid ones otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"unknown strategy {name!r}; valid: {', '.join(STRATEGIES)}")
    return REGISTRY[name]


def strategy_class(name: str):
    return module(name).STRATEGY
