"""alnn: active learning for one-hidden-layer neural networks.

The public API (``dir(alnn)`` lists it)::

    import alnn
    s = alnn.study("iris")                     # what the newest study with results used on Iris
    frame = alnn.run(**s.run_args("sasla"))    # the tidy per-epoch frame of the draft's protocol
    budget = alnn.run_budget(**s.budget_args("entropy"))  # the per-round frame of the budget protocol
    alnn.run("iris", "passive", config=alnn.TrainConfig(64, 0.1, 0.0, 0.9, 16), trials=1, folds=2,
             epochs=5, seed=0)                 # a data set may be given by name

The entry points are imported lazily so that ``import alnn`` stays fast and
the data layer works without loading torch.
"""

from importlib import import_module

__version__ = "0.1.0"

#: name -> (module, attribute): functions and classes
_LAZY = {
    "grid_search": ("alnn.experiment", "grid_search"),
    "TrainConfig": ("alnn.model", "TrainConfig"),
    "study": ("alnn.studies", "study"),
    "Study": ("alnn.studies", "Study"),
}
#: the engine's entry points, which also take a data set's name (alnn.studies.as_dataset)
_NAMED_DATA = {
    "run": ("alnn.experiment", "run"),
    "run_budget": ("alnn.budget", "run_budget"),
}
_SUBMODULES = {
    "datasets", "preprocess", "model", "metrics", "strategies", "experiment", "budget",
    "config", "pipeline", "store", "analysis", "stats", "figures", "report", "cli", "studies",
}


def _taking_names(function):
    """``function`` (an engine entry point whose first argument is the data set), also taking its name."""
    import functools

    from alnn.studies import as_dataset

    @functools.wraps(function)
    def wrapper(dataset, *args, **kwargs):
        return function(as_dataset(dataset), *args, **kwargs)

    wrapper.__doc__ = (f"{function.__doc__ or ''}\n\n``dataset`` may also be a problem's name "
                       f"(alnn.datasets.load: the whole data set).")
    return wrapper


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(import_module(module), attr)
    if name in _NAMED_DATA:
        module, attr = _NAMED_DATA[name]
        value = _taking_names(getattr(import_module(module), attr))
        globals()[name] = value  # built once
        return value
    if name in _SUBMODULES:
        return import_module(f"alnn.{name}")
    raise AttributeError(f"module 'alnn' has no attribute {name!r}; valid: {', '.join(__all__)}")


__all__ = sorted(set(_LAZY) | set(_NAMED_DATA) | _SUBMODULES)


def __dir__():
    return sorted(set(__all__) | {"__version__"})
