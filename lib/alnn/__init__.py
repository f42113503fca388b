"""alnn: active learning for one-hidden-layer neural networks.

The public entry points are imported lazily so that ``import alnn`` stays fast
and the data layer works without loading torch.
"""

from importlib import import_module

__version__ = "0.1.0"

_LAZY = {
    "run": ("alnn.experiment", "run"),
    "grid_search": ("alnn.experiment", "grid_search"),
    "run_budget": ("alnn.budget", "run_budget"),
    "TrainConfig": ("alnn.model", "TrainConfig"),
}
_SUBMODULES = {
    "datasets", "preprocess", "model", "metrics", "strategies", "experiment", "budget",
    "config", "pipeline", "store", "analysis", "stats", "figures", "report", "cli",
}


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(import_module(module), attr)
    if name in _SUBMODULES:
        return import_module(f"alnn.{name}")
    raise AttributeError(f"module 'alnn' has no attribute {name!r}")


__all__ = sorted(set(_LAZY) | _SUBMODULES)
