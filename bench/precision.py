"""bfloat16 against float32: are the final metrics practically equivalent (SPEC 6)?

    python bench/precision.py                                # iris, wine, sine, energy-efficiency, fashion-mnist
    python bench/precision.py --problems iris --strategies passive,sasla --trials 10

For every problem: the profile's (``--profile``, quick by default) grid winner
(from ``results/<profile>/grid/<problem>.json``; run ``make grid`` first), its
epochs, folds, batch size and subsample; ``--trials`` trials of each
strategy trained twice from the same initial weights and mini-batches, once
with ``precision="float32"`` (the reference) and once with ``"bfloat16"``
(products in bfloat16, float32 accumulation and master weights).  The final
primary criteria are paired by (trial, fold) and compared by the corrected
resampled t-test and the Bayesian correlated t-test with the region of
practical equivalence of SPEC 6 (one accuracy point; 5% of float32's MSE):
`alnn.stats.compare_within_problem` with `alnn.stats.default_rope`.  Writes
the table to stdout (Markdown) and to bench/results/precision.csv; one
process, one thread.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402
import torch  # noqa: E402

import alnn  # noqa: E402
from alnn import analysis as an  # noqa: E402
from alnn import config as C  # noqa: E402
from alnn import pipeline as P  # noqa: E402
from alnn import stats as st  # noqa: E402
from alnn import store as S  # noqa: E402
from alnn.model import TrainConfig  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--problems", default="iris,wine,sine,energy-efficiency,fashion-mnist")
    ap.add_argument("--strategies", default="passive,sasla")
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--results", default="results")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    prof = C.load_profile(args.profile)
    store = S.Store.of(prof.name, args.results)
    rows = []
    for p in args.problems.split(","):
        s = prof.problem(p)
        winner = P._winner_for(store, prof, s, p)
        cfg = TrainConfig(**{k: winner[k] for k in P.GRID_KEYS})
        ds = P.settings_dataset(s)
        for strategy in args.strategies.split(","):
            frames, seconds = [], {}
            for precision in ("float32", "bfloat16"):
                t0 = time.perf_counter()
                f = alnn.run(ds, strategy, config=cfg, trials=args.trials, folds=s.folds, epochs=s.epochs,
                             seed=s.seeds.trials, params=C.params_dict(s.params(strategy)), progress=False,
                             precision=precision)
                seconds[precision] = time.perf_counter() - t0
                frames.append(an.finals(f).assign(strategy=precision))
            fin = pd.concat(frames, ignore_index=True)
            metric = an.PRIMARY_METRIC[s.task]
            c = st.compare_within_problem(fin, metric, baselines={"float32": ["bfloat16"]},
                                          rope=st.default_rope, level=s.equivalence_level).iloc[0]
            rows.append({"problem": p, "strategy": strategy, "metric": metric, "runs": int(c["n_pairs"]),
                         "float32": c["mean_baseline"], "bfloat16": c["mean_strategy"], "diff": c["mean_diff"],
                         "rope": c["rope"], "p_rope": c["p_rope"], "verdict": c["equivalence"],
                         "p_holm": c["p_holm"], "s_float32": seconds["float32"], "s_bfloat16": seconds["bfloat16"]})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    out = Path(__file__).with_name("results")
    out.mkdir(exist_ok=True)
    table.to_csv(out / "precision.csv", index=False)
    cols = list(table.columns)
    print("| " + " | ".join(cols) + " |")
    print("|" + " --- |" * len(cols))
    for r in table.itertuples(index=False):
        print("| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in r) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
