"""The budget protocol (SPEC 3b): does a strategy reach the same quality with fewer labels?

Budgets B_0 < B_1 < ... < B_R labelled patterns per model (`schedule`).  B_0
is the initial labelled set of section 3 (stratified for classification, the
draw of `alnn.strategies.entropy.initial_labelled`); round r trains on L
(|L| = B_r) for ``round_epochs`` epochs, evaluates on the validation part (one
point of the budget curve), then scores the unlabelled patterns with the
current networks and queries B_{r+1} - B_r of them (the strategy's utility;
``random``: uniformly).  Training in a round starts

- ``start="cold"`` (default): from the trial's initial weights with fresh
  momentum, exactly the networks the draft's protocol (`alnn.run`) starts
  from; its shuffles are those of epochs 1 .. round_epochs of that
  protocol's shuffle stream, restricted to L, cut into mini-batches of
  near-equal size (``balanced``).  The model of round r is
  therefore a network trained from scratch on L_r alone;
- ``start="warm"``: from the previous round's weights and momentum, the
  epoch counter (and so the shuffles) continuing, as one run whose labelled
  set grows at the round boundaries.

``passive`` is the ceiling line: one round on the whole pool, trained for the
same ``round_epochs`` from the same initial weights.  All networks of a call
(trials x folds x members) are one `alnn.model.BatchedMLP` and advance round
by round together; seeds, splits, initial weights and initial labelled sets
are those of `alnn.experiment` (common random numbers with the draft's
protocol), so a shard of trials 5..9 gives exactly the rows a run of trials
0..9 gives for them.  A network that diverges stays frozen for the rest of the
call (its metrics are blank from that round on).

The frame has one row per network (trial x fold) and round:
``dataset, strategy, trial, fold, round, budget, labels_used, presentations,
scored, macs_train, macs_select, macs, diverged, wall_s, train_loss, val_loss``
and the metrics of `alnn.experiment` (``presentations``, ``scored`` and the
multiply-adds of `alnn.cost` cumulative over rounds, presentations x members; ``wall_s`` cumulative seconds of training and
querying of the whole call).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import torch

from alnn.experiment import (_Cost, _View, _check_int, _empty_columns, _frame, _metric_order, _pool_min, _prepare,
                             _record, _setup, _train_epoch, check_strategy)
from alnn.model import TrainConfig
from alnn.strategies import STRATEGIES
from alnn.strategies.entropy import initial_sizes, query_top

__all__ = ["run_budget", "schedule", "STARTS", "STRATEGIES_BUDGET", "MIN_GEOMETRIC"]

STARTS = ("cold", "warm")
#: Strategies of the budget protocol; passive is the full-pool ceiling.
STRATEGIES_BUDGET = ("passive", "entropy", "ensemble", "random", "sensitivity")
#: The geometric schedule has at least this many budgets when the pool allows it.
MIN_GEOMETRIC = 8


def _as_count(value: float, pool: int, what: str) -> int:
    """A budget given as a count (> 1) or as a fraction of the pool (in (0, 1])."""
    if not (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0):
        raise ValueError(f"{what} = {value!r} must be a count of labels (> 1) or a fraction of the pool in (0, 1]")
    count = round(value * pool) if value <= 1 else int(round(value))
    if count > pool:
        raise ValueError(f"{what} = {value!r} asks for {count} labels; the smallest training pool holds {pool}")
    return max(1, count)


def schedule(pool: int, initial: int, kind="geometric", budgets: int = 10, max_budget: float = 1.0) -> list[int]:
    """The budgets B_0 < ... < B_R, in labels, for pools of at least ``pool`` patterns.

    ``kind="geometric"``: ``budgets`` values from B_0 = ``initial`` to B_max =
    ``max_budget`` (a count, or a fraction of ``pool``), evenly spaced in log
    budget and rounded; B_0 and B_max exact, and where rounding makes two equal
    the later is raised by one (fewer budgets only when fewer integers lie
    between B_0 and B_max).  Otherwise ``kind`` is the list of budgets itself
    (counts > 1 or fractions in (0, 1]); its first value is B_0.
    """
    pool = _check_int("pool", pool, 1)
    if isinstance(kind, str):
        if kind != "geometric":
            raise ValueError(f"schedule {kind!r} is not valid; valid: 'geometric' or a list of budgets")
        b0 = _check_int("initial", initial, 1)
        n = _check_int("budgets", budgets, 2)
        bmax = _as_count(max_budget, pool, "max_budget")
        if bmax <= b0:
            raise ValueError(f"max_budget = {max_budget!r} gives {bmax} labels, not more than the initial "
                             f"labelled set ({b0}); valid: more than {b0}")
        n = min(n, bmax - b0 + 1)
        out = [b0]
        for r in range(1, n):
            b = int(round(b0 * (bmax / b0) ** (r / (n - 1))))
            out.append(max(b, out[-1] + 1))
        # raised values may overshoot at the top: pull the tail down below B_max
        out[-1] = bmax
        for r in range(n - 2, 0, -1):
            out[r] = min(out[r], out[r + 1] - 1)
        return out
    values = list(kind)
    if len(values) < 2:
        raise ValueError(f"schedule {values!r} needs at least two budgets")
    out = [_as_count(v, pool, f"schedule[{i}]") for i, v in enumerate(values)]
    if any(b <= a for a, b in zip(out, out[1:])):
        raise ValueError(f"schedule {values!r} gives budgets {out} in labels; they must increase")
    return out


def run_budget(dataset, strategy: str, *, config: TrainConfig, trials: int, folds: int, round_epochs: int,
               seed: int, trial_start: int = 0, params: dict | None = None, start: str = "cold",
               schedule_kind="geometric", budgets: int = 10, max_budget: float = 1.0, balanced: bool = True,
               device: str = "cpu", progress: bool = True, return_labelled: bool = False,
               precision: str = "float32", settings: list[dict] | None = None):
    """The budget protocol of one strategy on ``trials`` x ``folds`` models: the frame (module docstring).

    ``params`` are the strategy's (its ``tau`` plays no part here: a query
    happens once per round, of B_{r+1} - B_r patterns; ``query_size`` and
    ``initial`` are replaced by the schedule).  ``balanced`` (default) cuts each
    epoch into ceil(|L| / batch_size) mini-batches of near-equal size
    (`alnn.model.BatchedMLP.train_epoch`): with the small labelled sets of the
    first rounds a trailing batch of one or two patterns would otherwise take
    a full step (a labelled set of 17 with batches of 16 trains on 16 + 1).
    With ``return_labelled`` returns
    ``(frame, labelled)``: ``labelled[(trial, fold)] = {"pool": dataset indices
    (P,), "labelled": bool (rounds, P)}``, the set L each round trained on.
    ``settings`` (parameter dicts over ``params``, e.g. the ``probability``
    variants) train as extra networks of one batched model, as in `alnn.run`;
    the frame then has a ``setting`` column.
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be an alnn.TrainConfig, got {type(config).__name__}")
    if strategy not in STRATEGIES_BUDGET:
        if strategy in STRATEGIES:
            raise ValueError(f"strategy {strategy!r} has no budget-protocol form; valid: "
                             f"{', '.join(STRATEGIES_BUDGET)}")
        check_strategy(strategy, params, dataset.task, 2)  # unknown name: the usual message
    if start not in STARTS:
        raise ValueError(f"start = {start!r} is not valid; valid: {', '.join(STARTS)}")
    round_epochs = _check_int("round_epochs", round_epochs, 1)
    folds = _check_int("folds", folds, 2)
    pool_min = _pool_min(dataset, folds)
    passive = strategy == "passive"
    if passive:
        budget_list = None
    else:
        initial = (params or {}).get("initial")
        b0 = int(initial_sizes(np.array([pool_min]), initial)[0])
        budget_list = schedule(pool_min, b0, schedule_kind, budgets, max_budget)
        params = {**(params or {}), "query_size": 1}
    data, strat, ident, init_seeds, shuffles, dev = _prepare(
        dataset, strategy, params, trials=trials, folds=folds, seed=seed, trial_start=trial_start, device=device,
        initial=None if passive else budget_list[0], settings=settings)
    task = dataset.task
    L, P = data.pool_x.shape
    E = strat.members
    model, rep, rows_x, rows_t, val_rows, val_T = _setup(data, E, task, config.hidden, config.lr, config.momentum,
                                                         config.weight_decay, init_seeds, dev, torch.float32,
                                                         precision)
    stream = torch.as_tensor(shuffles, dtype=torch.int64, device=dev)
    view = _View(model, data, E)
    pool = data.pool
    initial_state = model.snapshot() if start == "cold" else None
    rounds = 1 if passive else len(budget_list)
    cols = _empty_columns(rounds, L)
    targets_cols: dict[str, np.ndarray] = {}
    budget_col = np.zeros((rounds, L), dtype=np.int64)
    labelled_rec = np.zeros((rounds, L, P), dtype=bool) if return_labelled else None
    presentations = np.zeros(L, dtype=np.int64)
    scored = np.zeros(L, dtype=np.int64)
    diverged = np.zeros(L, dtype=bool)
    wall = 0.0
    cost = _Cost(strategy, data.X.shape[1], config.hidden, data.T.shape[1], E, config.batch_size,
                 config.weight_decay)
    target_names = getattr(dataset, "target_names", None)

    from tqdm.auto import tqdm

    bar = tqdm(total=rounds * round_epochs, desc=f"{dataset.name} {strategy} budget", unit="epoch",
               disable=not progress, leave=False)
    bar.set_postfix(networks=L * E, rounds=rounds, refresh=False)
    try:
        t0 = time.perf_counter()
        mask = strat.initial(pool)
        wall += time.perf_counter() - t0
        for r in range(rounds):
            t0 = time.perf_counter()
            if r > 0:
                mask, sc = _query(strat, pool, view, mask, budget_list[r] - budget_list[r - 1], r)
                scored += sc
                cost.scored(sc)
                if initial_state is not None:
                    model.restore(initial_state)
            sse = torch.zeros(L * E, dtype=model.dtype, device=dev)
            shown = np.zeros((L, E), dtype=np.int64)
            for e in range(1, round_epochs + 1):
                counter = e if start == "cold" else r * round_epochs + e
                s_e, n_e, bad = _train_epoch(model, data, rows_x, rows_t, rep(mask), stream, counter,
                                             config.batch_size, E, balanced=balanced)
                diverged |= bad
                presentations += n_e.sum(axis=1)
                cost.trained(n_e)
                sse, shown = s_e, n_e
                bar.update()
            wall += time.perf_counter() - t0
            labels = mask.sum(dim=1).cpu().numpy()
            budget_col[r] = labels if passive else budget_list[r]
            cols["subset_size"][r] = labels
            cols["labels_used"][r] = labels
            cols["presentations"][r] = presentations
            cols["scored"][r] = scored
            cost.record(cols, r, L)
            if labelled_rec is not None:
                labelled_rec[r] = mask.cpu().numpy()
            _record(cols, targets_cols, r, rounds, model, data, E, task, val_rows, val_T, sse, shown, diverged,
                    wall, target_names)
    finally:
        bar.close()
    cols.update(targets_cols)
    order = _metric_order(task, cols)
    order = [c for c in order if c != "subset_size"]
    frame = _frame({"budget": budget_col, **{k: cols[k] for k in order}},
                   {"dataset": [dataset.name] * L, "strategy": [strategy] * L, **ident}, np.arange(rounds))
    frame = frame.rename(columns={"epoch": "round"})
    frame["diverged"] = frame["diverged"].astype(bool)
    if not return_labelled:
        return frame
    out = {}
    for l, (t, f) in enumerate(zip(ident["trial"], ident["fold"])):
        n = len(data.pool_idx[l])
        out[(t, f)] = {"pool": data.pool_idx[l], "labelled": labelled_rec[:, l, :n]}
    return frame, out


def _query(strat, pool, view, mask: torch.Tensor, size: int, counter: int):
    """Move ``size`` unlabelled patterns of every live model into L by the strategy's utility.

    Returns the new mask and the patterns each model scored (|U| for a
    strategy that scores, 0 for random).
    """
    avail = pool.valid & ~mask
    alive = view.alive
    n_avail = avail.sum(dim=1)
    if not bool((n_avail[alive] > 0).any()):
        return mask, np.zeros(mask.shape[0], dtype=np.int64)
    score = strat.scores(pool, view, counter)
    new = query_top(score, mask, pool.valid, size)
    sc = torch.where(alive, n_avail, torch.zeros_like(n_avail)) if strat.counts_scored else torch.zeros_like(n_avail)
    return torch.where(alive.unsqueeze(1), new, mask), sc.cpu().numpy()
