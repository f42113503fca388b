"""The CUDA checks of the engine, the strategies and the budget protocol, as one script (run on a GPU).

    python bench/cuda_check.py --data DIR --out DIR

``DIR`` holds ``fashion-mnist.npz`` (the quick profile's stratified 3000-pattern
subsample: X, y), written on any machine by ``python bench/cuda_check.py
--export DIR``.  Prints, and writes to ``--out``/cuda_check.json:

1. the draft's protocol (alnn.run) on Iris and Sine, every strategy, CPU
   against CUDA: the largest relative difference of the validation loss;
2. the budget protocol (steps rounds) on Iris and Sine, every query strategy,
   CPU against CUDA: the same, and the share of labelled sets that agree;
3. the wall time of a quick-profile Fashion-MNIST budget shard (random and
   entropy, 2 trials x 5 folds, S = 450 steps) on CUDA and the same on the CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

import alnn  # noqa: E402
from alnn import config as C  # noqa: E402
from alnn.budget import run_budget  # noqa: E402
from alnn.experiment import run  # noqa: E402
from alnn.model import TrainConfig  # noqa: E402

CFG = TrainConfig(hidden=16, lr=0.2, weight_decay=0.001, momentum=0.5, batch_size=16)


def _rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.max(np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-12))) if ok.any() else float("nan")


def export(folder: Path) -> None:
    from alnn import pipeline

    s = C.load_profile("quick").problem("fashion-mnist")
    ds = pipeline.dataset("fashion-mnist", s.subsample, s.seeds.subsample)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "fashion-mnist.npz", X=ds.X, y=ds.y)
    print(folder / "fashion-mnist.npz")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--export")
    ap.add_argument("--data")
    ap.add_argument("--out", default=".")
    a = ap.parse_args()
    if a.export:
        export(Path(a.export))
        return 0
    import torch

    out: dict = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    iris, sine = alnn.datasets.load("iris"), alnn.datasets.load("sine")
    draft = {}
    for ds in (iris, sine):
        for s in C.strategies_for(ds.name):
            f = {d: run(ds, s, config=CFG, trials=2, folds=3, epochs=20, seed=3, device=d, progress=False)
                 for d in ("cpu", "cuda")}
            draft[f"{ds.name}/{s}"] = _rel(f["cuda"]["val_loss"], f["cpu"]["val_loss"])
            print("draft", ds.name, s, draft[f"{ds.name}/{s}"], flush=True)
    out["draft_max_rel_val_loss"] = draft
    budget = {}
    for ds in (iris, sine):
        for s in C.load_profile("smoke").problem(ds.name).budget_strategies():
            r = {d: run_budget(ds, s, config=CFG, trials=2, folds=3, round_epochs=3, budgets=5, seed=3, device=d,
                               progress=False, return_labelled=True) for d in ("cpu", "cuda")}
            same = [np.array_equal(r["cpu"][1][k]["labelled"], r["cuda"][1][k]["labelled"]) for k in r["cpu"][1]]
            budget[f"{ds.name}/{s}"] = {"max_rel_val_loss": _rel(r["cuda"][0]["val_loss"], r["cpu"][0]["val_loss"]),
                                        "labelled_sets_equal": float(np.mean(same))}
            print("budget", ds.name, s, budget[f"{ds.name}/{s}"], flush=True)
    out["budget"] = budget
    if a.data:
        z = np.load(Path(a.data) / "fashion-mnist.npz")
        base = alnn.datasets.load("iris")
        ds = type(base)(name="fashion-mnist", task="classification", X=z["X"], y=z["y"],
                        feature_names=tuple(f"p{i}" for i in range(z["X"].shape[1])),
                        class_names=tuple(str(i) for i in range(10)), scaling="pixels")
        cfg = TrainConfig(hidden=64, lr=0.5, weight_decay=0.0, momentum=0.5, batch_size=128)
        times = {}
        for d in ("cuda", "cpu"):
            for s in ("random", "entropy"):
                t = time.perf_counter()
                f = run_budget(ds, s, config=cfg, trials=2, folds=5, round_epochs=45, seed=1, max_budget=0.5,
                               steps_from="last", device=d, progress=False)
                if d == "cuda":
                    torch.cuda.synchronize()
                times[f"{d}/{s}"] = {"seconds": time.perf_counter() - t,
                                     "accuracy_at_budgets": f.groupby("budget")["accuracy"].mean().round(3).tolist()}
                print("fashion-mnist", d, s, times[f"{d}/{s}"], flush=True)
        out["fashion_mnist_budget_shard"] = times
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "cuda_check.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
