"""Record the reference frames of tests/test_drivers.py from the engine as it is.

Run once, from the repository root, with the engine whose numbers the drivers
must keep (the frames were recorded before the engine was split into
`alnn.engine` and the three protocol drivers):

    .venv/bin/python tests/frames/record.py
"""

from pathlib import Path

import alnn
from alnn.budget import run_budget
from alnn.experiment import grid_search, run
from alnn.halving import halving_search
from alnn.model import TrainConfig

HERE = Path(__file__).parent
CFG = TrainConfig(hidden=6, lr=0.2, weight_decay=0.001, momentum=0.5, batch_size=8)
#: the earlier rule of the budget protocol, a round of round_epochs epochs (passed after the refactor)
BUDGET = {}
GRID = [TrainConfig(hidden=h, lr=lr, weight_decay=0.0, momentum=m, batch_size=8)
        for h in (4, 6) for lr in (0.05, 0.5) for m in (0.0, 0.9)]


def frames():
    iris, sine = alnn.datasets.load("iris"), alnn.datasets.load("sine")
    out = {}
    for data in (iris, sine):
        strategies = ["passive", "sasla", "ensemble", "random", "sensitivity"]
        if data.task == "classification":
            strategies.append("entropy")
        for s in strategies:
            out[f"run-{data.name}-{s}"] = run(data, s, config=CFG, trials=2, folds=3, epochs=12, seed=5,
                                              progress=False)
        out[f"grid-{data.name}"] = grid_search(data, GRID, folds=2, epochs=9, seed=5, progress=False)
        out[f"halving-{data.name}"] = halving_search(data, GRID, folds=2, epochs=9, seed=5, eta=2, rungs=3,
                                                     progress=False)
        for s in ["passive", "random", "ensemble", "sensitivity"] + (["entropy"] if data.task == "classification" else []):
            for start in ("cold", "warm"):
                out[f"budget-{data.name}-{s}-{start}"] = run_budget(data, s, config=CFG, trials=2, folds=3,
                                                                    round_epochs=3, budgets=4, seed=5, start=start,
                                                                    progress=False, **BUDGET)
    return out


if __name__ == "__main__":
    for name, frame in frames().items():
        frame.drop(columns=["wall_s"], errors="ignore").to_parquet(HERE / f"{name}.parquet")
