"""The draft's protocol: `run` (one run of many epochs per strategy) and its `grid_search`.

All trials x folds networks of one call (times 3 members for ``ensemble``)
are one `alnn.model.BatchedMLP`; each network trains on its own fold's pool.
Preprocessed inputs are stored once per distinct preprocessing (Fashion-MNIST,
scaled by 255, is stored once for every fold; a standardised problem once per
fold) and every network indexes into them.

The networks, their data and seeds (common random numbers: the same initial
weights, shuffles and initial labelled sets for every strategy, trials 5..9
computed alone give exactly the rows of a run of trials 0..9) are those of
`alnn.engine`, the engine this protocol, the budget protocol and successive
halving drive; ``passive`` and ``sasla`` see the same mini-batches in epoch 1,
and member 0 of ``ensemble`` starts from the weights of the other strategies'
network.

The tidy frame has one row per network (trial x fold) and epoch:

- ``subset_size``: patterns trained on in that epoch (|D_T| or |L|);
- ``labels_used``: distinct pool patterns trained on so far (the labels the
  strategy has needed; the whole pool for passive and sasla, |L| for the others);
- ``presentations``: cumulative patterns presented (x3 for ``ensemble``);
- ``scored``: cumulative patterns evaluated by the selection step;
- ``macs_train``, ``macs_select``, ``macs``: cumulative multiply-adds of
  training (every member's presented patterns and mini-batch updates), of
  selection (every scored pattern: the members' forward passes, and the K x I
  sensitivity matrix for sasla and sensitivity) and their sum (`alnn.cost`);
- ``diverged``: the network's loss or weights became non-finite, or its
  training loss exceeded 1e3 times that of its first epoch, in this epoch or
  earlier (`alnn.engine.train_epoch`); its losses and metrics are NaN from
  that epoch on and its counts stay;
- ``wall_s``: cumulative wall-clock seconds of the whole batched call spent
  selecting and training (evaluation excluded), the same for all its networks;
- ``train_loss``: mean over the epoch's presented patterns of sum_k (t - o)^2,
  each measured during the epoch before its update (weight decay excluded);
- ``val_loss``: the same quantity on the validation part after the epoch, in
  the units the network is trained on (standardised targets for regression);
- metrics of `alnn.metrics` on the validation part: classification
  ``accuracy, f1, precision, recall, mcc, mse`` (``mse`` = mean over patterns and
  outputs of (one-hot - o)^2, sklearn's ``mean_squared_error``); regression
  ``mse, rmse, mae, r2`` in original units averaged over targets, plus
  ``mse_<target>`` ... when there are several targets.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from alnn.engine import (COUNTS, GRID, INIT, LABELLED, QUERY, SHUFFLE, SPLIT, STRATEGIES, Cost, Data, View, build,
                         check_int, check_search, check_strategy, empty_columns, to_frame, metric_order, prepare,
                         record, setup, split_seed, strategy_params, take, train_epoch)
from alnn.model import TrainConfig, resolve_device, seed_words
from alnn.strategies import passive as _passive

__all__ = ["run", "grid_search", "STRATEGIES", "check_strategy", "strategy_params"]

def _engine(data: Data, strategy, *, task: str, hidden: int, lr, momentum, weight_decay, batch_size: int,
            epochs: int, init_seeds: list, shuffle_streams: list, device, dtype, progress: bool, desc: str,
            final_only: bool = False, return_masks: bool = False, target_names=None, precision: str = "float32"):
    L, P = data.pool_x.shape
    E = strategy.members
    M = L * E
    model, rep, rows_x, rows_t, val_rows, val_T = setup(data, E, task, hidden, lr, momentum, weight_decay,
                                                         init_seeds, device, dtype, precision)
    stream = torch.as_tensor(shuffle_streams, dtype=torch.int64, device=device)
    view = View(model, data, E)
    pool = data.pool

    mask = strategy.initial(pool)
    labelled_ever = torch.zeros_like(mask)
    n_rec = 1 if final_only else epochs
    cols = empty_columns(n_rec, L)
    targets_cols: dict[str, np.ndarray] = {}
    masks = np.zeros((epochs, L, P), dtype=bool) if return_masks else None
    scores = (np.full((epochs, L, P), np.nan, dtype=np.float32)
              if return_masks and getattr(strategy, "records_scores", False) else None)
    presentations = np.zeros(L, dtype=np.int64)
    scored = np.zeros(L, dtype=np.int64)
    diverged = np.zeros(L, dtype=bool)
    reference = np.full(M, np.nan)  # each network's first-epoch training loss (divergence, `train_epoch`)
    wall = 0.0
    cost = Cost(strategy.name, data.X.shape[1], hidden, data.T.shape[1], E, batch_size, weight_decay)

    from tqdm.auto import tqdm

    bar = tqdm(total=epochs, desc=desc, unit="epoch", disable=not progress, leave=False)
    bar.set_postfix(networks=M, diverged=0, refresh=False)
    try:
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            if strategy.due(epoch):
                mask, sc = strategy.select(pool, view, mask, epoch)
                sc = sc.cpu().numpy()
                scored += sc
                cost.scored(sc)
                if scores is not None and getattr(strategy, "last_scores", None) is not None:
                    scores[epoch - 1] = strategy.last_scores.to(torch.float32).cpu().numpy()
            sse, shown, bad = train_epoch(model, data, rows_x, rows_t, rep(mask), stream, epoch, batch_size, E,
                                          reference=reference)
            wall += time.perf_counter() - t0
            diverged |= bad
            presentations += shown.sum(axis=1)
            cost.trained(shown)
            labelled_ever |= mask
            if masks is not None:
                masks[epoch - 1] = mask.cpu().numpy()
            r = 0 if final_only else epoch - 1
            if final_only and epoch < epochs:
                bar.update()
                continue
            cols["subset_size"][r] = mask.sum(dim=1).cpu().numpy()
            cols["labels_used"][r] = labelled_ever.sum(dim=1).cpu().numpy()
            cols["presentations"][r] = presentations
            cols["scored"][r] = scored
            cost.record(cols, r, L)
            record(cols, targets_cols, r, n_rec, model, data, E, task, val_rows, val_T, sse, shown, diverged, wall,
                    target_names)
            bar.update()
            if bad.any():
                bar.set_postfix(networks=M, diverged=int(diverged.sum()), refresh=False)
    finally:
        bar.close()
    cols.update(targets_cols)
    if masks is None:
        return cols, masks
    return cols, {"mask": masks, "score": scores}


# --------------------------------------------------------------------------- public entry points


def run(dataset, strategy: str, *, config: TrainConfig, trials: int, folds: int, epochs: int, seed: int,
        trial_start: int = 0, params: dict | None = None, device: str = "cpu", progress: bool = True,
        return_masks: bool = False, precision: str = "float32", settings: list[dict] | None = None):
    """Train ``trials`` x ``folds`` networks with one strategy; the tidy frame (see the module docstring).

    Trials are ``trial_start .. trial_start + trials - 1``.  ``params`` are the
    strategy's (sasla: beta, tau, norm; entropy / ensemble / random: tau,
    query_size, initial).  With ``return_masks`` returns ``(frame, masks)``:
    ``masks[(trial, fold)] = {"pool": dataset indices of the pool (P,),
    "mask": bool (epochs, P), the subset trained on in each epoch,
    "score": float32 (epochs, P)}``.  ``score`` holds the values the strategy
    selected by, computed at the start of the epoch (no extra forward pass):
    sasla, Phi of every pool pattern at each selection epoch (the mask of that
    epoch is Phi > (1 - beta) mean(Phi) plus the class safety); entropy and
    ensemble, the utility of every pattern unlabelled before each query (the
    queried ones included).  NaN elsewhere: epochs without a selection or query
    (sasla's epochs 1 .. tau; no value is carried over), patterns labelled
    before the query, diverged networks.  ``passive`` and ``random`` compute no
    per-pattern score: their records have no ``score`` key.  ``precision`` is
    the engine's product precision (`alnn.model.BatchedMLP`: float32, the
    reference; bfloat16; tf32 on CUDA).

    ``settings`` (a list of parameter dicts, each merged over ``params``) trains
    every setting's trials x folds networks as one batched model (the ablations:
    the same initial weights, shuffles and labelled-set draws for every setting);
    the frame then has a ``setting`` column (the index into ``settings``), and
    each setting's rows equal those of a run with its parameters alone.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be an alnn.TrainConfig, got {type(config).__name__}")
    epochs = check_int("epochs", epochs, 1)
    if settings is not None and return_masks:
        raise ValueError("return_masks records one setting's subsets; run without settings to record them")
    data, strat, ident, init_seeds, shuffles, dev = prepare(dataset, strategy, params, trials=trials, folds=folds,
                                                             seed=seed, trial_start=trial_start, device=device,
                                                             settings=settings)
    task = dataset.task
    cols, masks = _engine(
        data, strat, task=task, hidden=config.hidden, lr=config.lr, momentum=config.momentum,
        weight_decay=config.weight_decay, batch_size=config.batch_size, epochs=epochs, init_seeds=init_seeds,
        shuffle_streams=shuffles, device=dev, dtype=torch.float32, progress=progress,
        desc=f"{dataset.name} {strategy}", return_masks=return_masks,
        target_names=getattr(dataset, "target_names", None), precision=precision)
    L = len(ident["trial"])
    frame = to_frame({k: cols[k] for k in metric_order(task, cols)},
                   {"dataset": [dataset.name] * L, "strategy": [strategy] * L, **ident},
                   np.arange(1, epochs + 1))
    frame["diverged"] = frame["diverged"].astype(bool)
    if not return_masks:
        return frame
    out = {}
    for l, (t, f) in enumerate(zip(ident["trial"], ident["fold"])):
        n = len(data.pool_idx[l])
        out[(t, f)] = {"pool": data.pool_idx[l], "mask": masks["mask"][:, l, :n]}
        if masks["score"] is not None:
            out[(t, f)]["score"] = masks["score"][:, l, :n]
    return frame, out


def grid_search(dataset, configs: Sequence[TrainConfig], *, folds: int, epochs: int, seed: int,
                device: str = "cpu", progress: bool = True, precision: str = "float32") -> pd.DataFrame:
    """Passive training of every configuration on every fold; one row per (config, fold).

    Columns: hidden, lr, weight_decay, momentum, batch_size, fold, val_loss (final
    epoch, training units: the grid's score), diverged, train_loss, then the final
    validation metrics.  Configurations sharing (hidden, batch_size) train as one
    batched model with per-network lr, momentum and decay; within a fold they
    start from the same weights and see the same mini-batches.  The splits come
    from the grid's own seed stream, (seed, 10, 0).
    """
    from alnn.preprocess import prepare, splits

    configs, folds, epochs, seed = check_search(configs, folds, epochs, seed)
    dev = resolve_device(device)
    task = dataset.task
    base = build(dataset, (prepare(dataset, tr, va)
                            for tr, va in splits(dataset, folds, split_seed(seed, GRID + SPLIT, 0))),
                  [((0, 0), (0, 0))] * folds, dev, torch.float32)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, c in enumerate(configs):
        groups.setdefault((c.hidden, c.batch_size), []).append(i)
    frames = []
    strat = _passive.Passive({}, task)
    for (hidden, batch), members in groups.items():
        order = [(i, f) for i in members for f in range(folds)]
        data = take(base, [f for _, f in order],
                     [(seed_words(seed, GRID + LABELLED, 0, f), seed_words(seed, GRID + QUERY, 0, f))
                      for _, f in order])
        cols, _ = _engine(
            data, strat, task=task, hidden=hidden, lr=[configs[i].lr for i, _ in order],
            momentum=[configs[i].momentum for i, _ in order],
            weight_decay=[configs[i].weight_decay for i, _ in order], batch_size=batch, epochs=epochs,
            init_seeds=[(seed, GRID + INIT, 0, f, 0) for _, f in order],
            shuffle_streams=[seed_words(seed, GRID + SHUFFLE, 0, f, 0) for _, f in order],
            device=dev, dtype=torch.float32, progress=progress,
            desc=f"{dataset.name} grid h={hidden} ({len(members)} configs)", final_only=True,
            target_names=getattr(dataset, "target_names", None), precision=precision)
        ident = {k: [getattr(configs[i], k) for i, _ in order]
                 for k in ("hidden", "lr", "weight_decay", "momentum", "batch_size")}
        ident["fold"] = [f for _, f in order]
        ident["_order"] = [i for i, _ in order]
        keep = [k for k in metric_order(task, cols) if k not in COUNTS and k != "wall_s"]
        frames.append(to_frame({k: cols[k] for k in keep}, ident, np.array([epochs])))
    frame = pd.concat(frames, ignore_index=True).sort_values(["_order", "fold"], kind="stable")
    frame = frame.drop(columns=["_order", "epoch"]).reset_index(drop=True)
    frame["diverged"] = frame["diverged"].astype(bool)
    lead = ["hidden", "lr", "weight_decay", "momentum", "batch_size", "fold", "val_loss", "diverged"]
    return frame[lead + [c for c in frame.columns if c not in lead]]

