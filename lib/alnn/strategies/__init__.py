"""The strategies: one module each, and their registry (SPEC section 3).

Every strategy is one mechanism: each model trains on a subset of its pool and
the strategy decides, at each selection point, which patterns are in it (the
protocol every module follows is described in `alnn.strategies.passive`).

Every module that assigns a ``DESCRIPTION`` is a strategy (`alnn.strategies.catalogue`
reads the descriptions without importing torch); ``REGISTRY[name]`` is the
strategy's module (``NAME``, ``MEMBERS``, ``DEFAULTS``, ``DESCRIPTION``,
``check_params`` and its class, :func:`strategy_class`).
"""

from __future__ import annotations

import importlib

from alnn.strategies.catalogue import catalogue as _described
from alnn.strategies.catalogue import describe

__all__ = ["STRATEGIES", "REGISTRY", "strategy_class", "module", "describe"]

#: name -> the strategy's module, for every module that describes a strategy (`alnn.strategies.catalogue`)
REGISTRY = {name: importlib.import_module(f"alnn.strategies.{d.module}") for name, d in _described().items()}
STRATEGIES: tuple[str, ...] = tuple(REGISTRY)


def module(name: str):
    """The module of strategy ``name``; ValueError naming the valid ones otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"unknown strategy {name!r}; valid: {', '.join(STRATEGIES)}")
    return REGISTRY[name]


def strategy_class(name: str):
    return module(name).STRATEGY
