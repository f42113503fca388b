"""The budget protocol (SPEC 3b): does a strategy reach the same quality with fewer labels?

Budgets B_0 < B_1 < ... < B_R labelled patterns per model (`schedule`).  B_0
is the initial labelled set of section 3 (stratified for classification, the
draw of `alnn.strategies.entropy.initial_labelled`); round r trains on L
(|L| = B_r) by the round's rule (``round_training``, below), evaluates on the validation part (one
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

How long a round trains (``round_training``, SPEC 3b) is the same standard at
every budget, or the curve measures the optimiser schedule instead of the
labels:

- ``"steps"`` (default): every round takes S = ``round_epochs`` x
  ceil(P / b) SGD steps, the ceiling's steps on the smallest pool P of the
  call (`round_steps`), in balanced mini-batches of at most b = batch_size
  patterns: epochs over L (ceil(|L| / b) steps each, shuffled by the stream
  as above) until S steps are done, the last epoch cut short.  All networks
  of a round have the same |L|, so they stay in lock step;
- ``"converge"``: the same epochs, but at every checkpoint (the first epoch
  end after each further ceil(P / b) steps, one ceiling epoch's worth, and
  the round's last epoch) a network whose training accuracy on L has reached
  ``CONVERGE_ACCURACY`` (classification), or whose training loss on L
  improved by less than ``tolerance`` (relative) over the last ``window``
  checkpoints (regression), stops and stays frozen for the rest of the round
  while the others go on; at most S steps;
- ``"epochs"``: ``round_epochs`` epochs over L (the earlier rule, whose steps
  grow with |L|; kept for the ablation and the record).

``hyper="per-budget"`` (an ablation) chooses the learning rate and weight
decay of every model at every round (``HYPER_LR`` x ``HYPER_WEIGHT_DECAY``,
momentum the winner's) by 3-fold cross-validation on L alone (`inner_folds`:
stratified where the classes allow), each candidate trained by the round's own
rule from the trial's initial weights and scored by its mean loss on the
held-out inner fold, averaged over the folds (ties: the grid's order); the
tuning networks' training counts in the presentations and multiply-adds.

``passive`` is the ceiling line: one round on the whole pool, trained for
``round_epochs`` epochs from the same initial weights (at least S steps).  All networks of a call
(trials x folds x members) are one `alnn.model.BatchedMLP` and advance round
by round together; seeds, splits, initial weights and initial labelled sets
are those of `alnn.experiment` (common random numbers with the draft's
protocol), so a shard of trials 5..9 gives exactly the rows a run of trials
0..9 gives for them.  A network that diverges (`alnn.engine.train_epoch`: a
non-finite loss or weights, or a training loss above 1e3 times that of the
round's first epoch) stays frozen for the rest of the call (its metrics are
blank from that round on).

The frame has one row per network (trial x fold) and round:
``dataset, strategy, trial, fold, round, budget, labels_used, presentations,
scored, macs_train, macs_select, macs, diverged, wall_s, train_loss, val_loss``
``steps`` (SGD steps of the round, per network), ``train_accuracy``
(classification: accuracy on L at the round's end), ``lr`` and ``weight_decay``
(the round's, per model), ``class_<c>`` (classification: patterns of class c
in L) and the metrics of `alnn.experiment` (``presentations``, ``scored`` and the
multiply-adds of `alnn.cost` cumulative over rounds, presentations x members; ``wall_s`` cumulative seconds of training and
querying of the whole call).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from alnn import cost as _cost
from alnn.config import HYPERS, ROUND_TRAININGS, STARTS, STEPS_FROM
from alnn.strategies.catalogue import names as _strategy_names
from alnn.engine import (Cost, View, check_int, check_strategy, empty_columns, metric_order, pool_min, prepare,
                         record, setup, take, to_frame, train_epoch)
from alnn.model import TrainConfig, hash_uniform, included_positions
from alnn.strategies import STRATEGIES
from alnn.strategies.entropy import initial_sizes

__all__ = ["run_budget", "schedule", "round_steps", "inner_folds", "STARTS", "ROUND_TRAININGS", "HYPERS",
           "STRATEGIES_BUDGET", "MIN_GEOMETRIC", "CONVERGE_ACCURACY", "HYPER_LR", "HYPER_WEIGHT_DECAY"]

#: ``converge`` on classification: a network stops once its training accuracy on L reaches this.
CONVERGE_ACCURACY = 0.99
#: The ``per-budget`` grid (SPEC 5's learning rates and weight decays); momentum stays the winner's.
HYPER_LR = (0.01, 0.05, 0.1, 0.5)
HYPER_WEIGHT_DECAY = (0.0, 0.001, 0.01, 0.1)
#: Counter offsets of the per-budget inner folds (keyed by round) in the models' query streams.
_INNER_COUNTER = 1 << 20
#: Strategies of the budget protocol; passive is the full-pool ceiling.
STRATEGIES_BUDGET = _strategy_names(protocol="budget")
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
    pool = check_int("pool", pool, 1)
    if isinstance(kind, str):
        if kind != "geometric":
            raise ValueError(f"schedule {kind!r} is not valid; valid: 'geometric' or a list of budgets")
        b0 = check_int("initial", initial, 1)
        n = check_int("budgets", budgets, 2)
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


def round_steps(pool: int, batch_size: int, round_epochs: int) -> int:
    """S, the SGD steps of every round under ``round_training="steps"``: round_epochs x ceil(pool / b)."""
    pool, b, e = check_int("pool", pool, 1), check_int("batch_size", batch_size, 1), check_int("round_epochs",
                                                                                                round_epochs, 1)
    return e * -(-pool // b)


def inner_folds(pool, mask: torch.Tensor, counter: int, k: int = 3) -> torch.Tensor:
    """The ``k`` inner folds of every model's labelled set L (``hyper="per-budget"``): (L, P) int64,
    the fold (0 .. k-1) of each labelled position and -1 elsewhere.

    L's positions are ordered by class (classification; by nothing for
    regression), within a class by a uniform key of the model's query stream
    at ``counter``, and dealt to the folds in turn, so every class is split as
    evenly as its count allows (stratified where the classes allow).
    """
    L, P = mask.shape
    keys = hash_uniform(pool.query_stream, counter, P)
    cls = pool.labels if pool.labels is not None else torch.zeros_like(keys)
    big = (int(pool.n_classes or 1) + 1) << 33
    key = torch.where(mask, cls * (1 << 33) + keys, torch.full_like(keys, big))
    order = torch.sort(key, dim=1, stable=True).indices
    fold_sorted = torch.arange(P, device=mask.device).remainder(k).unsqueeze(0).expand(L, P)
    out = torch.full((L, P), -1, dtype=torch.int64, device=mask.device)
    out.scatter_(1, order, fold_sorted.contiguous())
    return torch.where(mask, out, torch.full_like(out, -1))


class _Round:
    """How one round trains its networks (``round_training``): the epoch plan and the stopping rule."""

    def __init__(self, rule: str, S: int, check_every: int, batch_size: int, round_epochs: int,
                 tolerance: float, window: int):
        self.rule, self.S, self.check_every, self.B = rule, S, check_every, batch_size
        self.round_epochs, self.tolerance, self.window = round_epochs, tolerance, window

    def epochs(self, size: int):
        """(epoch, max_steps) pairs of a round on |L| = ``size`` (``max_steps`` None: the whole epoch)."""
        if self.rule == "epochs":
            for e in range(1, self.round_epochs + 1):
                yield e, None
            return
        k = max(1, -(-int(size) // self.B))  # steps per epoch over L
        n = -(-self.S // k)
        for e in range(1, n + 1):
            yield e, (None if e < n else self.S - (n - 1) * k)


def _labelled_rows(mask: torch.Tensor, size: int) -> torch.Tensor:
    """Positions (rows, size) of each row's first ``size`` set entries (every live row holds ``size``)."""
    return torch.sort((~mask).to(torch.int8), dim=1, stable=True).indices[:, :size]


def _fit_on(model, data, nets, mask_net: torch.Tensor, pos: torch.Tensor, task: str):
    """Training accuracy (classification) and loss (mean over patterns of sum_k (t - o)^2) of every
    network on its labelled positions ``pos`` (networks, n); ``mask_net`` (networks, P) says which
    entries of ``pos`` are real."""
    rows_x = nets.rows_x.gather(1, pos)
    rows_t = nets.rows_t.gather(1, pos)
    valid = mask_net.gather(1, pos).to(torch.float64)
    n = valid.sum(dim=1).clamp(min=1)
    with torch.no_grad():
        out = model.predict(data.X, rows_x)
    K = out.shape[2]
    T = data.T.index_select(0, rows_t.reshape(-1)).view(*rows_t.shape, K)
    loss = ((out - T).square().sum(dim=2).to(torch.float64) * valid).sum(dim=1) / n
    acc = None
    if task == "classification":
        hit = (out.argmax(dim=2) == T.argmax(dim=2)).to(torch.float64)
        acc = (hit * valid).sum(dim=1) / n
    return acc, loss


def _train_round(model, data, nets, mask_net: torch.Tensor, plan: _Round, stream, counter0: int, E: int,
                 balanced: bool, reference: np.ndarray, task: str, size: int, on_epoch=None):
    """Train every network of ``model`` one round on ``mask_net`` (networks, P) by ``plan``.

    Returns (sse, shown, steps, diverged, presented): the last epoch's SSE and patterns shown, the
    SGD steps each network took, which models diverged and the patterns each model's members were
    shown in the round (L, E).  ``counter0`` + e is the shuffle counter of epoch e; ``on_epoch`` gets
    each epoch's patterns shown (L, E) (the cost of training is counted per epoch).
    """
    M = mask_net.shape[0]
    L = M // E
    steps = np.zeros(M, dtype=np.int64)
    diverged = np.zeros(L, dtype=bool)
    active = torch.ones(M, dtype=torch.bool, device=mask_net.device)
    converge = plan.rule == "converge"
    pos = _labelled_rows(mask_net, size) if converge else None
    history: list[np.ndarray] = []
    done_checks = 0
    sse = shown = None
    presented = np.zeros((L, E), dtype=np.int64)
    included = included_positions(mask_net) if mask_net.device.type == "cpu" else None
    for e, max_steps in plan.epochs(size):
        m = mask_net & active.unsqueeze(1) if converge else mask_net
        inc = None if included is None else (included[0], np.where(active.numpy(), included[1], 0))
        s_e, n_e, bad = train_epoch(model, data, nets.rows_x, nets.rows_t, m, stream, counter0 + e,
                                    plan.B, E, balanced=balanced, max_steps=max_steps, reference=reference,
                                    included=inc)
        diverged |= bad
        presented += n_e
        k = np.where(n_e.reshape(-1) > 0, -(-n_e.reshape(-1) // plan.B), 0)
        steps += k  # balanced or not: ceil(n / B) mini-batches of the patterns shown
        sse, shown = s_e, n_e
        if on_epoch is not None:
            on_epoch(n_e)
        if converge:
            total = int(steps.max())
            if total // plan.check_every > done_checks or (max_steps is not None):
                done_checks = total // plan.check_every
                acc, loss = _fit_on(model, data, nets, mask_net, pos, task)
                if task == "classification":
                    stop = acc >= CONVERGE_ACCURACY
                else:
                    history.append(loss.cpu().numpy())
                    stop = torch.zeros(M, dtype=torch.bool, device=active.device)
                    if len(history) > plan.window:
                        old, new = history[-1 - plan.window], history[-1]
                        with np.errstate(invalid="ignore", divide="ignore"):
                            rel = (old - new) / np.abs(old)
                        stop = torch.as_tensor(rel < plan.tolerance, device=active.device)
                active &= ~stop
                if not bool((active & model.alive).any()):
                    break
    return sse, shown, steps, diverged, presented


def run_budget(dataset, strategy: str, *, config: TrainConfig, trials: int, folds: int, round_epochs: int,
               seed: int, trial_start: int = 0, params: dict | None = None, start: str = "cold",
               schedule_kind="geometric", budgets: int = 10, max_budget: float = 1.0, balanced: bool = True,
               round_training: str = "steps", hyper: str = "winner", tolerance: float = 1e-3, window: int = 5,
               steps_from: str = "pool",
               device: str = "cpu", progress: bool = True, return_labelled: bool = False,
               precision: str = "float32", settings: list[dict] | None = None):
    """The budget protocol of one strategy on ``trials`` x ``folds`` models: the frame (module docstring).

    ``params`` are the strategy's (its ``tau`` plays no part here: a query
    happens once per round, of B_{r+1} - B_r patterns; ``query_size`` and
    ``initial`` are replaced by the schedule).  ``round_training`` and
    ``hyper``: see the module docstring; ``tolerance`` and ``window`` are
    ``converge``'s on regression; ``steps_from="last"`` counts S on the
    schedule's last budget instead of the smallest pool (round_epochs x
    ceil(B_R / b): for schedules that stop far short of the pool).  ``balanced`` (default) cuts each
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
    if round_training not in ROUND_TRAININGS:
        raise ValueError(f"round_training = {round_training!r} is not valid; valid: {', '.join(ROUND_TRAININGS)}")
    if hyper not in HYPERS:
        raise ValueError(f"hyper = {hyper!r} is not valid; valid: {', '.join(HYPERS)}")
    if steps_from not in STEPS_FROM:
        raise ValueError(f"steps_from = {steps_from!r} is not valid; valid: {', '.join(STEPS_FROM)}")
    if not (isinstance(tolerance, (int, float)) and not isinstance(tolerance, bool) and 0 < tolerance < 1):
        raise ValueError(f"tolerance = {tolerance!r} is not valid; valid: a number in (0, 1)")
    window = check_int("window", window, 1)
    round_epochs = check_int("round_epochs", round_epochs, 1)
    folds = check_int("folds", folds, 2)
    p_min = pool_min(dataset, folds)
    passive = strategy == "passive"
    if passive:
        budget_list = None
    else:
        initial = (params or {}).get("initial")
        b0 = int(initial_sizes(np.array([p_min]), initial)[0])
        budget_list = schedule(p_min, b0, schedule_kind, budgets, max_budget)
        params = {**(params or {}), "query_size": 1}
    if passive and hyper != "winner":
        raise ValueError("hyper = 'per-budget' tunes the rounds of a query strategy; the passive ceiling "
                         "trains with the grid winner; valid for passive: winner")
    data, strat, ident, init_seeds, shuffles, dev = prepare(
        dataset, strategy, params, trials=trials, folds=folds, seed=seed, trial_start=trial_start, device=device,
        initial=None if passive else budget_list[0], settings=settings)
    task = dataset.task
    L, P = data.pool_x.shape
    E = strat.members
    nets = setup(data, E, task, config.hidden, config.lr, config.momentum, config.weight_decay, init_seeds, dev,
                 torch.float32, precision)
    model, rep = nets.model, nets.rep
    stream = torch.as_tensor(shuffles, dtype=torch.int64, device=dev)
    view = View(model, data, E)
    pool = data.pool
    initial_state = model.snapshot() if start == "cold" else None
    rounds = 1 if passive else len(budget_list)
    S = round_steps(p_min if passive or steps_from == "pool" else budget_list[-1], config.batch_size, round_epochs)
    plan = _Round("epochs" if passive else round_training, S, -(-p_min // config.batch_size), config.batch_size,
                  round_epochs, float(tolerance), window)
    cols = empty_columns(rounds, L)
    for key in ("steps",):
        cols[key] = np.zeros((rounds, L), dtype=np.int64)
    for key in ("lr", "weight_decay") + (("train_accuracy",) if task == "classification" else ()):
        cols[key] = np.full((rounds, L), np.nan)
    n_classes = data.pool.n_classes if task == "classification" else 0
    class_cols = np.zeros((rounds, L, n_classes), dtype=np.int64)
    targets_cols: dict[str, np.ndarray] = {}
    budget_col = np.zeros((rounds, L), dtype=np.int64)
    labelled_rec = np.zeros((rounds, L, P), dtype=bool) if return_labelled else None
    presentations = np.zeros(L, dtype=np.int64)
    scored = np.zeros(L, dtype=np.int64)
    diverged = np.zeros(L, dtype=bool)
    reference = np.full(L * E, np.nan)
    wall = 0.0
    cost = Cost(strategy, data.X.shape[1], config.hidden, data.T.shape[1], E, config.batch_size,
                config.weight_decay)
    target_names = getattr(dataset, "target_names", None)
    lr_w, wd_w = float(config.lr), float(config.weight_decay)

    from tqdm.auto import tqdm

    bar = tqdm(total=rounds, desc=f"{dataset.name} {strategy} budget ({plan.rule})", unit="round",
               disable=not progress, leave=False)
    bar.set_postfix(networks=L * E, steps=S if plan.rule != "epochs" else None, refresh=False)
    counter = 0  # warm start: the shuffle counter runs on across rounds
    try:
        t0 = time.perf_counter()
        mask = strat.initial(pool)
        wall += time.perf_counter() - t0
        for r in range(rounds):
            t0 = time.perf_counter()
            if r > 0:
                q = budget_list[r] - budget_list[r - 1]
                mask, sc = strat.query(pool, view, mask, q, r)
                sc = sc.cpu().numpy()
                scored += sc
                cost.scored(sc, labelled=budget_list[r - 1], query=q)
                if initial_state is not None:
                    model.restore(initial_state)
                    reference[:] = np.nan  # the round restarts from the initial weights
            size = int(budget_list[r]) if not passive else P
            lr_r, wd_r = np.full(L, lr_w), np.full(L, wd_w)
            if hyper == "per-budget":
                lr_r, wd_r, tuned = _tune(data, nets, mask, plan, shuffles, init_seeds, task, config, E, balanced,
                                          size, r, dev, precision)
                presentations += tuned[0]
                cost.add_training(tuned[1])
                model.set_hyperparameters(lr=np.repeat(lr_r, E), momentum=config.momentum,
                                          weight_decay=np.repeat(wd_r, E))
            c0 = 0 if start == "cold" else counter
            sse, shown, steps, bad, presented = _train_round(model, data, nets, rep(mask), plan, stream, c0, E,
                                                             balanced, reference, task, size, cost.trained)
            counter = c0 + sum(1 for _ in plan.epochs(size)) if start == "warm" else counter
            diverged |= bad
            presentations += presented.sum(axis=1)
            wall += time.perf_counter() - t0
            bar.update()
            labels = mask.sum(dim=1).cpu().numpy()
            budget_col[r] = labels if passive else budget_list[r]
            cols["subset_size"][r] = labels
            cols["labels_used"][r] = labels
            cols["presentations"][r] = presentations
            cols["scored"][r] = scored
            cols["steps"][r] = steps.reshape(L, E).max(axis=1)
            cols["lr"][r], cols["weight_decay"][r] = lr_r, wd_r
            if task == "classification":
                pos = _labelled_rows(mask, int(labels.max()))
                acc, _ = _fit_on(model, data, nets, rep(mask), rep(pos), task)
                acc = acc.view(L, E).mean(dim=1).cpu().numpy()
                cols["train_accuracy"][r] = np.where(diverged, np.nan, acc)
                lab = torch.where(mask, pool.labels, torch.full_like(pool.labels, n_classes))
                counts = torch.zeros((L, n_classes + 1), dtype=torch.int64, device=dev)
                counts.scatter_add_(1, lab, torch.ones_like(lab))
                class_cols[r] = counts[:, :n_classes].cpu().numpy()
            cost.record(cols, r, L)
            if labelled_rec is not None:
                labelled_rec[r] = mask.cpu().numpy()
            record(cols, targets_cols, r, rounds, model, data, E, task, nets.val_rows, nets.val_T, sse, shown,
                   diverged, wall, target_names)
            if hyper == "per-budget":
                model.set_hyperparameters(lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    finally:
        bar.close()
    cols.update(targets_cols)
    order = metric_order(task, cols)
    order = [c for c in order if c != "subset_size"]
    extra = {f"class_{c}": class_cols[:, :, c] for c in range(n_classes)}
    frame = to_frame({"budget": budget_col, **{k: cols[k] for k in order}, **extra},
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


def _tune(data, nets, mask, plan: _Round, shuffles, init_seeds, task, config: TrainConfig, E: int, balanced: bool,
          size: int, r: int, dev, precision: str):
    """``hyper="per-budget"``: (lr, weight_decay) of every model by 3-fold CV on its L alone.

    Every model's L x (lr, weight decay) x inner fold is one network of one batched model, started
    from the model's initial weights (member 0) with the model's shuffle stream, trained by the
    round's rule on L minus the inner fold and scored by its loss on the inner fold.  Returns the
    chosen lr and weight decay (L,) and (presentations, multiply-adds) of the tuning networks,
    summed per model ((L,) each).
    """

    L, P = mask.shape
    k = 3
    folds = inner_folds(data.pool, mask, _INNER_COUNTER + r, k)
    grid = [(lr, wd) for lr in HYPER_LR for wd in HYPER_WEIGHT_DECAY]
    G = len(grid)
    # network order: model-major, then configuration, then inner fold
    index = [l for l in range(L) for _ in range(G * k)]
    streams = [(tuple(a), tuple(b)) for a, b in zip(data.pool.init_stream.tolist(), data.pool.query_stream.tolist())]
    sub = take(data, index, [streams[l] for l in index])
    seeds = [init_seeds[l * E] for l in index]
    lr = [g[0] for l in range(L) for g in grid for _ in range(k)]
    wd = [g[1] for l in range(L) for g in grid for _ in range(k)]
    inner = setup(sub, 1, task, config.hidden, lr, config.momentum, wd, seeds, dev, torch.float32, precision)
    stream = torch.as_tensor([shuffles[l * E] for l in index], dtype=torch.int64, device=dev)
    fold_id = torch.arange(k, device=dev).repeat(L * G)
    f_rep = folds.index_select(0, torch.as_tensor(index, device=dev))
    train_mask = (f_rep >= 0) & (f_rep != fold_id.unsqueeze(1))
    val_mask = f_rep == fold_id.unsqueeze(1)
    n_train = train_mask.sum(dim=1)
    reference = np.full(len(index), np.nan)
    _, _, steps, _, presented = _train_round(inner.model, sub, inner, train_mask, plan, stream, 0, 1, balanced,
                                             reference, task, int(n_train.max()))
    macs = _cost.training(data.X.shape[1], config.hidden, data.T.shape[1], presented.reshape(-1), steps, wd)
    n_val = int(val_mask.sum(dim=1).max())
    pos = _labelled_rows(val_mask, n_val)
    _, loss = _fit_on(inner.model, sub, inner, val_mask, pos, task)
    loss = torch.where(inner.model.alive, loss, torch.full_like(loss, float("inf")))
    score = loss.view(L, G, k).mean(dim=2).cpu().numpy()
    score = np.where(np.isfinite(score), score, np.inf)
    best = np.argmin(score, axis=1)  # ties: the grid's order
    lr_out = np.array([grid[b][0] for b in best])
    wd_out = np.array([grid[b][1] for b in best])
    return lr_out, wd_out, (presented.reshape(L, G * k).sum(axis=1), macs.reshape(L, G * k).sum(axis=1))
