"""Wall time of the ``full`` protocol on a problem too large to run whole here, from timed shards.

    .venv/bin/python bench/full_cost.py --problem california-housing \\
        --winner hidden=64,lr=0.1,weight_decay=0,momentum=0.95 \\
        --grid-epochs 20 --halving-epochs 100 --trial-epochs 1000
    .venv/bin/python bench/full_cost.py --problem fashion-mnist \\
        --winner hidden=64,lr=0.5,weight_decay=0,momentum=0.5 \\
        --grid-epochs 2 --trial-epochs 5 --budget-round-epochs 1,10

Each timed task is a real shard of the ``full`` profile (``alnn.pipeline``'s
tasks, computed by ``pipeline.compute`` in a one-thread worker, the data set
loaded before the clock starts), shortened to the epochs given; its thread
CPU time is scaled to the whole stage:

- grid, full search: the first shard of every hidden-layer size, scaled by
  (shards of that size) x grid_epochs / --grid-epochs (the cost of an epoch
  is the same at every epoch of a grid shard);
- grid, successive halving: the one halving shard at --halving-epochs (its
  rungs scaled alike), scaled by grid_epochs / --halving-epochs; the
  configurations reaching the later rungs may differ at the full budget;
- trials: the second shard of every strategy (the first also records trial
  0's training subsets), scaled by the number of shards; shortened to
  --trial-epochs < epochs, passive learning and SASLA scale by epochs /
  --trial-epochs, and a pool-based strategy (labelled set L grows by
  query_size every tau epochs) by the model t(epoch) = m c |L| + s |U|: c
  is passive learning's cost per pattern and epoch, m the strategy's
  members, s the scoring cost per unlabelled pattern, fitted from the
  shortened run;
- budget protocol: the second shard of every strategy at
  --budget-round-epochs R, scaled by the number of shards and round_epochs /
  R (selection scaled with training: an upper bound), or timed at R1,R2 and
  extrapolated along the line through both (the selection of a round does
  not grow with its epochs, its training does).

Wall time on W workers is given as CPU / W (every stage has many more shards
than workers, except the halving search, which is one shard on one core).
Rows go to stdout and to bench/results/full-cost-<problem>.csv.
"""
from __future__ import annotations

import argparse
import dataclasses
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from alnn import config as C  # noqa: E402
from alnn import pipeline as P  # noqa: E402

POOL_STRATEGIES = ("entropy", "ensemble", "random", "sensitivity")


def shortened(task: P.Task, **changes) -> P.Task:
    fields = dict(task.fields)
    for key, value in changes.items():
        if key == "round_epochs":
            fields["budget"] = {**fields["budget"], "round_epochs": value}
        else:
            fields[key] = value
    return P.Task(task.kind, task.problem, task.strategy, fields, task.device)


def timed(job: tuple[str, P.Task]) -> tuple[str, float, float]:
    """(name, thread CPU seconds, wall seconds) of one shard, its data set loaded first (its frame dropped)."""
    name, task = job
    P.init_worker()
    f = task.fields
    P.dataset(task.problem, f["subsample"], f["subsample_seed"])
    cpu, wall = time.thread_time(), time.perf_counter()
    P.compute(task)
    return name, time.thread_time() - cpu, time.perf_counter() - wall


def labelled_sizes(pool: int, params: dict, epochs: int) -> np.ndarray:
    """|L| in each epoch 1..epochs of a pool-based strategy (entropy.py's schedule)."""
    from alnn.strategies.entropy import initial_sizes

    tau, q = int(params.get("tau", 1)), int(params.get("query_size", 1))
    start = int(initial_sizes(np.array([pool]), params.get("initial"))[0])
    queries = np.maximum(0, (np.arange(1, epochs + 1) - 1) // tau)
    return np.minimum(pool, start + q * queries)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problem", required=True, choices=C.PROBLEMS)
    ap.add_argument("--winner", required=True, help="hidden=..,lr=..,weight_decay=..,momentum=.. (the batch size is the profile's)")
    ap.add_argument("--grid-epochs", type=int, default=20)
    ap.add_argument("--halving-epochs", type=int, default=0, help="0: no halving shard")
    ap.add_argument("--trial-epochs", type=int, default=0, help="0: the profile's epochs (whole shards)")
    ap.add_argument("--budget-round-epochs", default="0",
                    help="0: the profile's round_epochs; R1,R2: both timed, fitted by a line in the round epochs")
    ap.add_argument("--strategies", default="all")
    ap.add_argument("--stages", default="grid,halving,trials,budget")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)

    settings = C.load_profile("full").problem(args.problem)
    winner = {"batch_size": settings.batch_size}
    for item in args.winner.split(","):
        key, value = item.split("=")
        winner[key] = int(value) if key in ("hidden", "batch_size") else float(value)
    strategies = C.strategies_for(args.problem) if args.strategies == "all" else tuple(args.strategies.split(","))
    stages = set(args.stages.split(","))
    trial_epochs = args.trial_epochs or settings.epochs
    rounds = [int(r) or settings.budget.round_epochs for r in args.budget_round_epochs.split(",")]

    jobs, plan = [], {}  # plan: name -> (stage, strategy, shards, epochs run, epochs of the stage)
    if "grid" in stages:
        tasks = P.grid_tasks(dataclasses.replace(settings, grid_search="full"))
        by_hidden = {}
        for t in tasks:
            by_hidden.setdefault(t.fields["configs"][0]["hidden"], []).append(t)
        for hidden, group in sorted(by_hidden.items()):
            name = f"grid h={hidden}"
            jobs.append((name, shortened(group[0], epochs=args.grid_epochs)))
            plan[name] = ("grid (full search)", f"h={hidden}, {len(group[0].fields['configs'])} configurations x "
                          f"{settings.grid_folds} folds", len(group), args.grid_epochs, settings.grid_epochs)
    if "halving" in stages and args.halving_epochs:
        (task,) = P.grid_tasks(dataclasses.replace(settings, grid_search="halving"))
        jobs.append(("halving", shortened(task, epochs=args.halving_epochs)))
        plan["halving"] = ("grid (successive halving)", f"256 configurations, eta {settings.halving_eta}, "
                           f"{settings.halving_rungs} rungs", 1, args.halving_epochs, settings.grid_epochs)
    if "trials" in stages:
        for s in strategies:
            tasks = P.trial_tasks(settings, s, winner)
            name = f"trials {s}"
            jobs.append((name, shortened(tasks[min(1, len(tasks) - 1)], epochs=trial_epochs)))
            plan[name] = ("trials", s, len(tasks), trial_epochs, settings.epochs)
    if "budget" in stages:
        for s in strategies:
            if s not in settings.budget_strategies():
                continue
            tasks = P.budget_tasks(settings, s, winner)
            for i, r in enumerate(rounds):
                name = f"budget {s}" + (f" r={r}" if i else "")
                jobs.append((name, shortened(tasks[min(1, len(tasks) - 1)], round_epochs=r)))
                if not i:
                    plan[name] = ("budget", s, len(tasks), r, settings.budget.round_epochs)

    # the longest first, so that both workers stay busy
    order = sorted(jobs, key=lambda j: (not j[0].startswith("halving"), not j[0].startswith("grid h=512")))
    ctx = mp.get_context("spawn")
    results = {}
    started = time.perf_counter()
    with ctx.Pool(args.workers, maxtasksperchild=1) as pool:
        for name, cpu, wall in pool.imap_unordered(timed, order):
            results[name] = (cpu, wall)
            print(f"  {name}: {cpu:.1f} s CPU, {wall:.1f} s wall ({time.perf_counter() - started:.0f} s)", flush=True)

    n = P.settings_dataset(settings).n_samples
    pool_size = n * (settings.folds - 1) / settings.folds
    passive = results.get("trials passive")
    rows = []
    for name, (stage, what, shards, ran, full) in plan.items():
        cpu, wall = results[name]
        strategy = what if stage in ("trials", "budget") else ""
        how = "measured whole" if ran == full else f"x {full / ran:g} (epochs)"
        scale = full / ran
        if stage == "trials" and ran < full and strategy in POOL_STRATEGIES and passive is not None:
            params = C.params_dict(settings.params(strategy))
            members = int(params.get("members", 3 if strategy == "ensemble" else 1))
            per_pattern = passive[0] / ran / pool_size  # passive: c per pattern and epoch
            early, late = labelled_sizes(int(pool_size), params, ran), labelled_sizes(int(pool_size), params, full)
            score = max(0.0, (cpu - members * per_pattern * early.sum()) / (pool_size - early).sum())
            estimate = members * per_pattern * late.sum() + score * (pool_size - late).sum()
            scale = estimate / cpu
            how = (f"model m c|L| + s|U| (m = {members}, s = {score / per_pattern:.2f} c; "
                   f"L full at epoch {int(np.argmax(late >= int(pool_size))) + 1 if late[-1] >= int(pool_size) else '-'})")
        if stage == "budget" and len(rounds) == 2 and ran < full:
            # t(r) = t1 + (t2 - t1) (r - r1) / (r2 - r1): the selection and validation of each round are the
            # intercept, the training epochs the slope
            other = results[f"{name} r={rounds[1]}"][0]
            slope = (other - cpu) / (rounds[1] - ran)
            scale = (cpu + slope * (full - ran)) / cpu
            how = f"line through round_epochs {ran} and {rounds[1]} ({other:.1f} s)"
        stage_cpu = cpu * scale * shards
        rows.append({"problem": args.problem, "stage": stage, "shard": what, "epochs_run": ran,
                     "epochs": full, "shard_cpu_s": round(cpu, 1), "shard_wall_s": round(wall, 1),
                     "scale": how, "shards": shards, "stage_cpu_s": round(stage_cpu),
                     "stage_cpu_h": round(stage_cpu / 3600, 2)})
    grid_rows = [r for r in rows if r["stage"] == "grid (full search)"]
    if grid_rows and not any(r["stage"] == "grid (successive halving)" for r in rows):
        # no halving shard timed: its cost from the schedule and the grid's cost per network-epoch of each
        # hidden-layer size (rung 1 trains every configuration; the survivors' sizes bound the later rungs)
        from alnn.halving import network_epochs, rung_epochs

        folds = settings.grid_folds
        per = {}  # CPU seconds per network-epoch of each hidden-layer size
        for name, (stage, what, shards, ran, full) in plan.items():
            if stage == "grid (full search)":
                configs = len(dict(jobs)[name].fields["configs"])
                per[int(name.split("=")[1])] = results[name][0] / (configs * folds * ran)
        n_configs = len(P.grid_configs(settings))
        eta, rungs = settings.halving_eta, settings.halving_rungs
        ends = rung_epochs(settings.grid_epochs, eta, rungs)
        first = sum(per.values()) / len(per) * n_configs * folds * ends[0]
        later = network_epochs(n_configs, folds, settings.grid_epochs, eta, rungs) - n_configs * folds * ends[0]
        for bound, cost in (("survivors all h=%d" % min(per, key=per.get), min(per.values())),
                            ("survivors all h=%d" % max(per, key=per.get), max(per.values()))):
            stage_cpu = first + later * cost
            rows.append({"problem": args.problem, "stage": "grid (successive halving)",
                         "shard": f"schedule {ends}, {bound}", "epochs_run": 0, "epochs": settings.grid_epochs,
                         "shard_cpu_s": None, "shard_wall_s": None, "scale": "from the grid's rates", "shards": 1,
                         "stage_cpu_s": round(stage_cpu), "stage_cpu_h": round(stage_cpu / 3600, 2)})
    table = pd.DataFrame(rows)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"full-cost-{args.problem}.csv", index=False)
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.max_colwidth", 80):
        print(table.to_string(index=False))
    for stage, group in table.groupby("stage", sort=False):
        if stage == "grid (successive halving)":  # one shard: its rows are alternatives, and it runs on one core
            for _, r in group.iterrows():
                print(f"{stage} ({r['shard']}): {r['stage_cpu_s'] / 3600:.2f} h on one core")
            continue
        cpu = group["stage_cpu_s"].sum()
        print(f"{stage}: {cpu / 3600:.2f} CPU-hours, {cpu / args.workers / 3600:.2f} h wall on {args.workers} workers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
