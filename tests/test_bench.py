"""The cost model of bench/full_cost.py against what the engine does."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from alnn import datasets, experiment
from alnn.model import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def _full_cost():
    spec = importlib.util.spec_from_file_location("full_cost", ROOT / "bench" / "full_cost.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("params", [{"tau": 1, "query_size": 1}, {"tau": 2, "query_size": 3},
                                    {"tau": 3, "query_size": 20, "initial": 0.25}])
def test_labelled_set_sizes_are_the_engines(params):
    """The extrapolation's |L| per epoch is the subset every pool-based network trained on, epoch by epoch,
    up to the whole pool."""
    full_cost = _full_cost()
    ds = datasets.load("wine")
    epochs = 40
    frame = experiment.run(ds, "random", config=TrainConfig(hidden=4, lr=0.1, weight_decay=0.0, momentum=0.5,
                                                              batch_size=16),
                           trials=1, folds=5, epochs=epochs, seed=7, params=params, progress=False)
    checked = 0
    for _, run in frame.groupby(["trial", "fold"]):
        run = run.sort_values("epoch")
        # a pool the schedule reaches is the largest subset; otherwise the fold's smallest training part
        reached = params["query_size"] * epochs > ds.n_samples
        pool = int(run["subset_size"].max()) if reached else ds.n_samples - int(np.ceil(ds.n_samples / 5))
        sizes = full_cost.labelled_sizes(pool, params, epochs)
        assert run["subset_size"].to_numpy().tolist() == sizes.tolist()
        checked += 1
    assert checked == 5
