"""Successive halving against the full grid search: the same winner, at what cost?

    python bench/halving.py                                   # iris, wine, sine, energy-efficiency; quick grid
    python bench/halving.py --problems iris,wine --epochs 1000  # the full budget (SPEC: 1000 epochs)
    python bench/halving.py --problems california-housing,fashion-mnist --full-grid --halving-only   # its time
    python bench/halving.py --variants 3x4,3x3,2x5,4x3       # other eta x rungs, from the full grid's curves
    python bench/halving.py --profile full --full-results /path/results   # full grid read from `alnn grid`'s shards

For every problem: the profile's grid (``--profile``, quick by default: 256
configurations, 3 folds, 100 epochs, the problem's batch size, subsample and
grid seed) searched twice, by `alnn.experiment.grid_search` (every
configuration for all the epochs) and by `alnn.halving.halving_search`
(``--eta``, ``--rungs``).  Reported: each winner, the full grid's
cross-validated score (mean validation MSE over folds, the grid's score) of
both winners, whether halving's winner is within one standard error of the
full grid's winner (score_halving - score_full <= std_full / sqrt(folds), std
over folds of the full winner), the network-epochs of each and their ratio,
the wall time of each, and whether every configuration that reached
halving's last rung has bit-identical validation losses to the full grid's.
``--halving-only`` skips the full grid (its score and rank columns are then
empty).  One process, one thread.  Writes the table to stdout (Markdown) and
to bench/results/halving.csv.

``--variants ETAxRUNGS,...`` instead trains the full grid once, scoring every
network after every epoch (its validation-loss curve), and replays successive
halving for each eta x rungs on those curves: the networks halving trains are
the full grid's, bit for bit, so the replay picks what `halving_search` would
(checked against it for the profile's eta x rungs).  Writes
bench/results/halving-variants.csv.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from alnn import config as C  # noqa: E402
from alnn import experiment, halving  # noqa: E402
from alnn import pipeline as P  # noqa: E402
from alnn import store as S  # noqa: E402
from alnn.model import TrainConfig  # noqa: E402

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent
SMALL = ("iris", "wine", "sine", "energy-efficiency")


def _config(row) -> str:
    return f"h={int(row['hidden'])} lr={row['lr']:g} wd={row['weight_decay']:g} m={row['momentum']:g}"


def stored_grid(settings: C.ProblemSettings, results: Path) -> pd.DataFrame:
    """The full grid's frame as the grid stage stored it under ``results`` (its shards, checked by key)."""
    store = S.Store.of(settings.profile, results)
    tasks = P.grid_tasks(dataclasses.replace(settings, grid_search="full"))
    missing = [str(t.path(store)) for t in tasks if not t.path(store).exists()]
    if missing:
        raise SystemExit(f"--full-results {results}: {len(missing)} of the {len(tasks)} grid shards of "
                         f"{settings.problem} are missing (first: {missing[0]}); run `alnn grid --profile "
                         f"{settings.profile} --results {results} --problem {settings.problem}` first")
    return pd.concat([S.read(t.path(store), t.expect()) for t in tasks], ignore_index=True)


def compare(settings: C.ProblemSettings, eta: int, rungs: int, halving_only: bool = False,
            full_results: Path | None = None) -> dict:
    ds = P.settings_dataset(settings)
    configs = P.grid_configs(settings)
    trains = [TrainConfig(**c) for c in configs]
    folds, epochs, seed = settings.grid_folds, settings.grid_epochs, settings.seeds.grid
    t0 = time.perf_counter()
    hframe = halving.halving_search(ds, trains, folds=folds, epochs=epochs, seed=seed, eta=eta, rungs=rungs,
                                    progress=False)
    t_half = time.perf_counter() - t0
    htable = P.summarise_halving(hframe, configs)
    hwin = htable.iloc[0]
    full_ne = len(configs) * folds * epochs
    half_ne = int(hframe["epochs"].sum())
    out = {"problem": settings.problem, "configs": len(configs), "folds": folds, "epochs": epochs, "eta": eta,
           "rungs": rungs, "halving_winner": _config(hwin), "halving_score_own": float(hwin["val_loss"]),
           "network_epochs_full": full_ne, "network_epochs_halving": half_ne, "ratio": full_ne / half_ne,
           "seconds_halving": t_half, "last_rung_configs": int((htable["rung"] == rungs).sum())}
    if halving_only:
        return out
    if full_results is not None:  # the grid stage's own shards (their time is the stage's, not measured here)
        fframe, t_full = stored_grid(settings, full_results), float("nan")
    else:
        t0 = time.perf_counter()
        fframe = experiment.grid_search(ds, trains, folds=folds, epochs=epochs, seed=seed, progress=False)
        t_full = time.perf_counter() - t0
    ftable = P.summarise_grid(fframe, configs)
    fwin = ftable.iloc[0]
    keys = list(P.GRID_KEYS)
    at = ftable.set_index(keys).loc[tuple(hwin[k] for k in keys)]
    se = float(fwin["val_loss_std"]) / math.sqrt(folds)
    # the survivors of the last rung: the same networks as the full grid's (bit for bit)
    last = hframe[hframe["rung"] == rungs]
    both = last.merge(fframe, on=keys + ["fold"], suffixes=("", "_full"))
    identical = bool(len(both) == len(last) and np.array_equal(both["val_loss"].to_numpy(),
                                                               both["val_loss_full"].to_numpy(), equal_nan=True))
    out.update({"full_winner": _config(fwin), "same_winner": bool(all(hwin[k] == fwin[k] for k in keys)),
                "full_score": float(fwin["val_loss"]), "full_std": float(fwin["val_loss_std"]),
                "halving_score": float(at["val_loss"]), "halving_rank_in_full": int(at["rank"]),
                "difference": float(at["val_loss"]) - float(fwin["val_loss"]), "se": se,
                "within_1se": bool(float(at["val_loss"]) - float(fwin["val_loss"]) <= se),
                "seconds_full": t_full, "survivors_identical": identical})
    return out


def curves(settings: C.ProblemSettings) -> np.ndarray:
    """Validation loss (configurations, folds, epochs) of every network of the full grid after every epoch
    (NaN once diverged): the networks of `grid_search`, scored as it scores them."""
    from alnn.preprocess import prepare, splits

    ds = P.settings_dataset(settings)
    configs = [TrainConfig(**c) for c in P.grid_configs(settings)]
    folds, epochs, seed = settings.grid_folds, settings.grid_epochs, settings.seeds.grid
    X = experiment
    prepared = (prepare(ds, tr, va) for tr, va in splits(ds, folds, X._split_seed(seed, X._GRID + X._SPLIT, 0)))
    base = X._build(ds, prepared, [((0, 0), (0, 0))] * folds, torch.device("cpu"), torch.float32)
    members: dict = {}
    for i, c in enumerate(configs):
        members.setdefault((c.hidden, c.batch_size), []).append(i)
    out = np.full((len(configs), folds, epochs), np.nan)
    for (hidden, batch), m in members.items():
        g = halving._Group(base, configs, m, hidden, batch, folds, seed, ds.task, torch.device("cpu"))
        for e in range(1, epochs + 1):
            g.train(e, e)
            loss = X._evaluate(g.model, g.data, 1, ds.task, g.val_rows, g.val_T)["val_loss"]
            for n, (i, f) in enumerate(g.order):
                out[i, f, e - 1] = np.nan if g.diverged[n] else loss[n]
    return out


def replay(curve: np.ndarray, eta: int, rungs: int) -> tuple[int, int]:
    """(winner, network-epochs) of successive halving on validation-loss curves (`alnn.halving`'s rule)."""
    n, folds, epochs = curve.shape
    active, spent, done, score = list(range(n)), 0, 0, {}
    budgets = halving.rung_epochs(epochs, eta, rungs)
    for r, e in enumerate(budgets, start=1):
        spent += len(active) * folds * (e - done)
        done = e
        v = curve[active, :, e - 1]
        bad = ~np.all(np.isfinite(v), axis=1)
        score = {i: (np.inf if b else float(np.mean(row))) for i, b, row in zip(active, bad, v)}
        if r == len(budgets):
            break
        ranked = sorted((i for i, b in zip(active, bad) if not b), key=lambda i: (score[i], i))
        active = sorted(ranked[:max(1, len(active) // eta)])
        if not active:
            break
    return min(active, key=lambda i: (score[i], i)), spent


def variants(settings: C.ProblemSettings, pairs: list[tuple[int, int]], keep: Path | None = None) -> list[dict]:
    """The replayed eta x rungs; with ``keep``, the curves are read from (or saved to) a .npy file there."""
    configs = P.grid_configs(settings)
    saved = keep / f"curves-{settings.profile}-{settings.problem}-{settings.grid_epochs}.npy" if keep else None
    if saved is not None and saved.exists():
        curve = np.load(saved)
        return [dict(row, seconds_curves=np.nan) for row in replayed(curve, configs, settings.problem, pairs)]
    t0 = time.perf_counter()
    curve = curves(settings)
    seconds = time.perf_counter() - t0
    if saved is not None:
        saved.parent.mkdir(parents=True, exist_ok=True)
        np.save(saved, curve)
    # the replay against the real thing, for the profile's eta x rungs
    real = halving.halving_search(P.settings_dataset(settings), [TrainConfig(**c) for c in configs],
                                  folds=settings.grid_folds, epochs=settings.grid_epochs, seed=settings.seeds.grid,
                                  eta=settings.halving_eta, rungs=settings.halving_rungs, progress=False)
    top = P.summarise_halving(real, configs).iloc[0]
    keys = list(P.GRID_KEYS)
    win, spent = replay(curve, settings.halving_eta, settings.halving_rungs)
    if [configs[win][k] for k in keys] != [top[k] for k in keys] or spent != int(real["epochs"].sum()):
        raise AssertionError(f"{settings.problem}: the replay disagrees with halving_search")
    return [dict(row, seconds_curves=seconds) for row in replayed(curve, configs, settings.problem, pairs)]


def replayed(curve: np.ndarray, configs: list[dict], problem: str, pairs: list[tuple[int, int]]) -> list[dict]:
    """One row per eta x rungs: halving's winner on ``curve`` against the full grid's."""
    n, folds, epochs = curve.shape
    final = curve[:, :, -1]
    ok = np.all(np.isfinite(final), axis=1)
    mean = np.where(ok, final.mean(axis=1), np.inf)
    std = np.nanstd(final, axis=1, ddof=1)
    best = int(np.argmin(mean))
    rank = np.empty(n, dtype=int)
    rank[np.lexsort((np.arange(n), mean))] = np.arange(1, n + 1)
    se = std[best] / math.sqrt(folds)
    rows = []
    for eta, rungs in pairs:
        win, spent = replay(curve, eta, rungs)
        rows.append({"problem": problem, "epochs": epochs, "eta": eta, "rungs": rungs,
                     "rung_epochs": halving.rung_epochs(epochs, eta, rungs), "full_winner": _config(configs[best]),
                     "winner": _config(configs[win]), "rank_in_full": int(rank[win]),
                     "difference_over_se": float((mean[win] - mean[best]) / se),
                     "within_1se": bool(mean[win] - mean[best] <= se), "ratio": n * folds * epochs / spent})
    return rows


def markdown_variants(rows: list[dict]) -> str:
    lines = ["| problem | epochs | eta x rungs | rungs end at epoch | winner's rank in the full grid | "
             "difference / SE | within 1 SE | network-epochs full / halving |", "| " + " | ".join(["---"] * 8) + " |"]
    for r in rows:
        lines.append(f"| {r['problem']} | {r['epochs']} | {r['eta']} x {r['rungs']} | "
                     f"{', '.join(map(str, r['rung_epochs']))} | {r['rank_in_full']} | "
                     f"{r['difference_over_se']:.2f} | {'yes' if r['within_1se'] else 'NO'} | {r['ratio']:.1f}x |")
    return "\n".join(lines)


def markdown(rows: list[dict]) -> str:
    head = ("| problem | epochs | full-grid winner | halving winner | same | score full (std) | score of halving's "
            "winner (its rank in the full grid) | difference / SE | within 1 SE | network-epochs full / halving "
            "| ratio | seconds full / halving | last rung bit-identical |")
    lines = [head, "| " + " | ".join(["---"] * 13) + " |"]
    for r in rows:
        if "full_score" in r:
            lines.append(
                f"| {r['problem']} | {r['epochs']} | {r['full_winner']} | {r['halving_winner']} | "
                f"{'yes' if r['same_winner'] else 'no'} | {r['full_score']:.4f} ({r['full_std']:.4f}) | "
                f"{r['halving_score']:.4f} ({r['halving_rank_in_full']}) | "
                f"{r['difference']:.4f} / {r['se']:.4f} | {'yes' if r['within_1se'] else 'NO'} | "
                f"{r['network_epochs_full']:,} / {r['network_epochs_halving']:,} | {r['ratio']:.1f}x | "
                f"{r['seconds_full']:.0f} / {r['seconds_halving']:.0f} | "
                f"{'yes' if r['survivors_identical'] else 'NO'} |")
        else:
            lines.append(
                f"| {r['problem']} | {r['epochs']} | (not run) | {r['halving_winner']} | | | "
                f"{r['halving_score_own']:.4f} (own) | | | {r['network_epochs_full']:,} / "
                f"{r['network_epochs_halving']:,} | {r['ratio']:.1f}x | - / {r['seconds_halving']:.0f} | |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="quick", choices=C.PROFILES)
    ap.add_argument("--problems", default=",".join(SMALL), help="comma-separated problems")
    ap.add_argument("--epochs", type=int, default=None, help="grid epochs (default: the profile's)")
    ap.add_argument("--eta", type=int, default=None, help="default: the profile's halving_eta")
    ap.add_argument("--rungs", type=int, default=None, help="default: the profile's halving_rungs")
    ap.add_argument("--full-grid", action="store_true",
                    help="the SPEC's 256-configuration grid even where the profile thins it")
    ap.add_argument("--halving-only", action="store_true", help="skip the full grid (time halving alone)")
    ap.add_argument("--full-results", default=None,
                    help="results folder whose grid stage (same profile) holds the full grid: read, not trained")
    ap.add_argument("--variants", default=None, help="ETAxRUNGS,... replayed on the full grid's curves")
    ap.add_argument("--curves", default=None, help="folder to keep the curves in (reused when there)")
    ap.add_argument("--out", default=str(ROOT / "results" / "halving.csv"))
    args = ap.parse_args(argv)
    profile = C.load_profile(args.profile)
    spec_grid = C.load_profile("full").problem("iris").grid
    rows = []
    pairs = [tuple(int(v) for v in p.split("x")) for p in args.variants.split(",")] if args.variants else None
    for problem in args.problems.split(","):
        s = profile.problem(problem.strip())
        if args.epochs is not None:
            s = dataclasses.replace(s, grid_epochs=args.epochs)
        if args.full_grid:
            s = dataclasses.replace(s, grid=spec_grid)
        eta = args.eta if args.eta is not None else s.halving_eta
        rungs = args.rungs if args.rungs is not None else s.halving_rungs
        halving.check_halving(eta, rungs)
        if pairs:
            for eta, rungs in pairs:
                halving.check_halving(eta, rungs)
            new = variants(s, pairs, Path(args.curves) if args.curves else None)
            for row in new:
                print(f"{problem}: {row}", flush=True)
            rows.extend(new)
            continue
        row = compare(s, eta, rungs, args.halving_only, Path(args.full_results) if args.full_results else None)
        print(f"{problem}: {row}", flush=True)
        rows.append(row)
    print()
    if pairs:
        print(f"profile {args.profile}, {os.cpu_count()} cpus, torch {torch.__version__}")
        print(markdown_variants(rows))
        out = Path(args.out).with_name("halving-variants.csv") if args.out == ap.get_default("out") else Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(out, index=False)
        print(f"\nwritten {out}")
        return
    print(f"profile {args.profile}, eta {rows[0]['eta']}, {rows[0]['rungs']} rungs, {os.cpu_count()} cpus, "
          f"torch {torch.__version__}, load {os.getloadavg()[0]:.1f}")
    print(markdown(rows))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out, index=False)
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()
