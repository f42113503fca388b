"""The strategies: one module each, and their registry (SPEC section 3).

Every strategy is one mechanism: each model trains on a subset of its pool and
the strategy decides, at each selection point, which patterns are in it (the
protocol every module follows is described in `alnn.strategies.passive`).

Every module that assigns a ``DESCRIPTION`` is a strategy (`alnn.strategies.catalogue`
reads the descriptions without importing torch); ``REGISTRY[name]`` is the
strategy's module, imported on first use (``NAME``, ``MEMBERS``, ``DEFAULTS``, ``DESCRIPTION``,
``check_params`` and its class, :func:`strategy_class`).
"""

from __future__ import annotations

import importlib

from alnn.strategies.catalogue import catalogue as _described
from alnn.strategies.catalogue import describe

__all__ = ["STRATEGIES", "REGISTRY", "strategy_class", "module", "describe"]

#: Every strategy's name, in the catalogue's order (read without importing a strategy's module).
STRATEGIES: tuple[str, ...] = tuple(_described())


def module(name: str):
    """The module of strategy ``name`` (imported on first use); ValueError naming the valid ones otherwise."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; valid: {', '.join(STRATEGIES)}")
    return importlib.import_module(f"alnn.strategies.{_described()[name].module}")


def strategy_class(name: str):
    return module(name).STRATEGY


def __getattr__(attr: str):
    # ``REGISTRY`` (name -> the strategy's module) imports torch with the modules: built on first
    # use, so that the configuration and the command line read the catalogue without it
    if attr == "REGISTRY":
        return {name: module(name) for name in STRATEGIES}
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
