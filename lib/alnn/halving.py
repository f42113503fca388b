"""Successive halving (Jamieson and Talwalkar 2016) over the grid search's configurations.

`halving_search` trains the same networks as `alnn.experiment.grid_search`:
the configuration x fold networks of one hidden size are one
`alnn.model.BatchedMLP` with per-network lr, momentum and decay, on the same
splits (seed stream (seed, 10, 0)), from the same initial weights and with the
same shuffles.  Instead of training every network for ``epochs`` epochs it
stops the weak configurations early:

- rung i (1 .. ``rungs``) ends after ``rung_epochs(epochs, eta, rungs)[i-1]``
  = round(epochs / eta^(rungs - i)) epochs (at least 1); the last rung is
  ``epochs`` itself;
- at the end of every rung but the last the configurations still training are
  ranked by the grid's score, the mean validation loss over folds at that
  epoch (ties keep the grid's order); a configuration with a diverged fold is
  dropped first; the best max(1, n // eta) of the n configurations that
  entered the rung continue, without restarting, to the next rung;
- the ranking is global: every hidden size trains to the end of the rung
  before any configuration is ranked.

Dropping rebuilds each hidden size's batched model from the survivors'
parameters and momentum buffers (`BatchedMLP.snapshot`), so a dropped
configuration costs nothing afterwards.  A network's record at any rung is
bit for bit the full grid's at that epoch: every network is its own matrix in
the batched products, its shuffles depend on its own stream, and the one
operation whose rounding depends on the batch (torch's sigmoid, scalar code
for the last elements of a tensor, vectorised code for the rest) is kept off
the real networks by a frozen copy or two at the end of a rebuilt batch (see
`_Group`).  This holds on the CPU wherever the full grid's batches are
themselves a whole number of vector widths (always with the study's 64
configurations per hidden size; tests/test_halving.py checks it); CUDA's
batched products may choose their kernels by the batch size.

The frame has one row per (configuration, fold), in the grid's order, with
the columns of `grid_search` (values at the last rung the configuration
reached) plus ``rung`` (that rung, 1-based) and ``epochs`` (the epochs its
networks trained).  The network-epochs spent are ``frame["epochs"].sum()``;
the full grid spends configurations x folds x ``epochs``.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from alnn import engine
from alnn.model import BatchedMLP, TrainConfig, resolve_device, seed_words
from alnn.strategies import passive as _passive

__all__ = ["halving_search", "rung_epochs", "check_halving", "network_epochs", "ETA", "RUNGS"]

#: Defaults (``halving_eta``, ``halving_rungs`` in profiles.toml): a third continue, four rungs.
ETA, RUNGS = 3, 4


def check_halving(eta, rungs) -> tuple[int, int]:
    """Validated (eta, rungs); ValueError with one line otherwise."""
    for name, value, minimum in (("eta", eta, 2), ("rungs", rungs, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"halving {name} must be an integer >= {minimum}, got {value!r}")
    return int(eta), int(rungs)


def rung_epochs(epochs: int, eta: int = ETA, rungs: int = RUNGS) -> list[int]:
    """Epochs at the end of each rung: round(epochs / eta^(rungs - i)) for i = 1 .. rungs, at least 1.

    Non-decreasing, the last is ``epochs``; short budgets may repeat a value
    (then several cuts happen at the same epoch).
    """
    epochs = engine.check_int("epochs", epochs, 1)
    eta, rungs = check_halving(eta, rungs)
    return [max(1, int(np.floor(epochs / eta ** (rungs - i) + 0.5))) for i in range(1, rungs + 1)]


def network_epochs(n_configs: int, folds: int, epochs: int, eta: int = ETA, rungs: int = RUNGS) -> int:
    """Network-epochs successive halving spends when nothing diverges (the full grid: n x folds x epochs)."""
    budgets = rung_epochs(epochs, eta, rungs)
    total, n, done = 0, int(n_configs), 0
    for i, e in enumerate(budgets):
        total += n * folds * (e - done)
        done = e
        if i < len(budgets) - 1:
            n = max(1, n // eta)
    return total


#: Elements per step of torch's vectorised CPU loops, with margin (2 x 16 float32 lanes under AVX-512).
_LANES = 64


class _Group:
    """The networks of one (hidden, batch_size) still training: a batched model and its rows.

    The first ``len(order)`` networks are the real ones; after a cut a few
    frozen copies of the last one may follow (``padding``): torch computes
    the sigmoid of the last few elements of a tensor (its size modulo the
    vector width) with scalar code that rounds differently from the
    vectorised code, so a network lying in that tail would train and score
    differently from the same network in the full grid's batch (where the
    size is a multiple of the width: 64 configurations per hidden size).  The
    padding takes the tail; a network whose mask is empty takes no step and
    changes nothing else (`BatchedMLP.train_epoch`).
    """

    def __init__(self, base, configs, members: list[int], hidden: int, batch: int, folds: int, seed: int,
                 task: str, dev, precision: str = "float32"):
        self.hidden, self.batch = hidden, batch
        self.order = [(i, f) for i in members for f in range(folds)]  # real network -> (config, fold)
        # exactly what grid_search builds for this group
        self.data = engine.take(base, [f for _, f in self.order],
                             [(seed_words(seed, engine.GRID + engine.LABELLED, 0, f),
                               seed_words(seed, engine.GRID + engine.QUERY, 0, f)) for _, f in self.order])
        hyper = {k: [getattr(configs[i], k) for i, _ in self.order] for k in ("lr", "momentum", "weight_decay")}
        self.model, _, self.rows_x, self.rows_t, self.val_rows, self.val_T = engine.setup(
            self.data, 1, task, hidden, hyper["lr"], hyper["momentum"], hyper["weight_decay"],
            [(seed, engine.GRID + engine.INIT, 0, f, 0) for _, f in self.order], dev, torch.float32, precision)
        self.hyper = {k: np.asarray(v, dtype=np.float64) for k, v in hyper.items()}
        self.stream = torch.as_tensor([seed_words(seed, engine.GRID + engine.SHUFFLE, 0, f, 0) for _, f in self.order],
                                      dtype=torch.int64, device=dev)
        self.mask = _passive.Passive({}, task).initial(self.data.pool)
        self.diverged = np.zeros(len(self.order), dtype=bool)  # every network, padding included
        self.reference = np.full(len(self.order), np.nan)  # first-epoch training losses (divergence)
        self.last = None  # (sse, shown, wall) of the latest epoch trained
        self.padding = 0
        K, Q = self.data.T.shape[1], self.data.val_x.shape[1]
        #: per-network sizes of the tensors the engine applies a sigmoid to (training and validation)
        self._sizes = (batch * hidden, batch * K, Q * hidden, Q * K)

    @property
    def configs(self) -> list[int]:
        return list(dict.fromkeys(i for i, _ in self.order))

    def train(self, first: int, last: int) -> None:
        """Epochs ``first .. last``; keeps the SSE and patterns shown of the last one (`last`)."""
        t0 = time.perf_counter()
        for epoch in range(first, last + 1):
            sse, shown, bad = engine.train_epoch(self.model, self.data, self.rows_x, self.rows_t, self.mask,
                                              self.stream, epoch, self.batch, 1,
                                                 reference=self.reference)
            self.diverged |= bad
            self.last = (sse, shown, time.perf_counter() - t0)

    def _padding_for(self, n: int) -> int:
        if all((n * x) % _LANES == 0 for x in self._sizes):
            return 0
        return -(-(_LANES - 1) // min(self._sizes))

    def keep(self, survivors: set[int]) -> bool:
        """Rebuild with the networks of the configurations in ``survivors``; False when none is left."""
        index = [n for n, (i, _) in enumerate(self.order) if i in survivors]
        if len(index) == len(self.order):
            return True
        if not index:
            self.model = self.data = self.last = None
            return False
        pad = self._padding_for(len(index))
        rows = index + [index[-1]] * pad
        idx = torch.as_tensor(rows, dtype=torch.int64, device=self.mask.device)
        old = self.model
        state = [t.index_select(0, idx) for t in old.snapshot()]
        hyper = {k: v[rows] for k, v in self.hyper.items()}
        model = BatchedMLP(*(p.index_select(0, idx) for p in old.parameters()), output=old.output,
                           precision=old.precision, **hyper)
        model.restore(state)  # parameters and momentum buffers; every survivor is alive
        self.model, self.hyper = model, hyper
        pool = self.data.pool
        streams = [(tuple(a), tuple(b))
                   for a, b in zip(pool.init_stream[idx].tolist(), pool.query_stream[idx].tolist())]
        self.data = engine.take(self.data, rows, streams)
        pick = lambda t: t.index_select(0, idx)  # noqa: E731
        self.rows_x, self.rows_t, self.val_rows, self.val_T = (pick(t) for t in (self.rows_x, self.rows_t,
                                                                                  self.val_rows, self.val_T))
        self.stream, self.mask = pick(self.stream), pick(self.mask)
        self.mask[len(index):] = False  # the padding never trains
        self.diverged = self.diverged[rows]
        self.reference = self.reference[rows]
        sse, shown, wall = self.last
        self.last = (pick(sse), shown[rows], wall)
        self.order = [self.order[n] for n in index]
        self.padding = pad
        return True


def halving_search(dataset, configs: Sequence[TrainConfig], *, folds: int, epochs: int, seed: int,
                   eta: int = ETA, rungs: int = RUNGS, device: str = "cpu", progress: bool = True,
                   precision: str = "float32") -> pd.DataFrame:
    """Successive halving over ``configs``; one row per (config, fold) at the last rung it reached.

    Columns: those of `alnn.experiment.grid_search` (val_loss, diverged,
    train_loss and the validation metrics at the configuration's last rung),
    then ``rung`` and ``epochs``.  ``precision``: the engine's products, as in `grid_search`.
    See the module docstring.
    """
    from alnn.preprocess import prepare, splits
    from tqdm.auto import tqdm

    configs, folds, epochs, seed = engine.check_search(configs, folds, epochs, seed)
    eta, rungs = check_halving(eta, rungs)
    budgets = rung_epochs(epochs, eta, rungs)
    dev = resolve_device(device)
    task = dataset.task
    target_names = getattr(dataset, "target_names", None)
    base = engine.build(dataset, (prepare(dataset, tr, va)
                               for tr, va in splits(dataset, folds, engine.split_seed(seed, engine.GRID + engine.SPLIT, 0))),
                     [((0, 0), (0, 0))] * folds, dev, torch.float32)
    members: dict[tuple[int, int], list[int]] = {}
    for i, c in enumerate(configs):
        members.setdefault((c.hidden, c.batch_size), []).append(i)
    groups = [_Group(base, configs, m, hidden, batch, folds, seed, task, dev, precision)
              for (hidden, batch), m in members.items()]

    rows: dict[tuple[int, int], dict] = {}  # (config, fold) -> its record at its last rung
    done = 0
    bar = tqdm(total=epochs, desc=f"{dataset.name} halving ({len(configs)} configs, eta={eta}, {rungs} rungs)",
               unit="epoch", disable=not progress, leave=False)
    try:
        for r, until in enumerate(budgets, start=1):
            scores: dict[int, tuple[bool, float]] = {}  # config -> (diverged, mean val_loss)
            for g in groups:
                g.train(done + 1, until)  # nothing when this rung ends at the same epoch as the last
                sse, shown, wall = g.last
                cols = engine.empty_columns(1, len(g.order) + g.padding)
                targets: dict[str, np.ndarray] = {}
                engine.record(cols, targets, 0, 1, g.model, g.data, 1, task, g.val_rows, g.val_T, sse, shown,
                           g.diverged.copy(), wall, target_names)
                cols.update(targets)
                keep = [k for k in engine.metric_order(task, cols) if k not in engine.COUNTS and k != "wall_s"]
                for n, (i, f) in enumerate(g.order):
                    rows[(i, f)] = {"rung": r, "epochs": until, **{k: cols[k][0, n] for k in keep}}
                for i in g.configs:
                    losses = np.array([rows[(i, f)]["val_loss"] for f in range(folds)], dtype=np.float64)
                    bad = bool(any(rows[(i, f)]["diverged"] for f in range(folds))) or not np.all(np.isfinite(losses))
                    scores[i] = (bad, float(np.mean(losses)) if not bad else np.inf)
            bar.update(until - done)
            done = until
            if r == len(budgets):
                break
            n_keep = max(1, len(scores) // eta)
            ranked = sorted((i for i in scores if not scores[i][0]), key=lambda i: (scores[i][1], i))
            survivors = set(ranked[:n_keep])
            groups = [g for g in groups if g.keep(survivors)]
            if not groups:
                break
    finally:
        bar.close()

    out = []
    lead = ["hidden", "lr", "weight_decay", "momentum", "batch_size", "fold"]
    for i, c in enumerate(configs):
        for f in range(folds):
            out.append({"hidden": c.hidden, "lr": c.lr, "weight_decay": c.weight_decay, "momentum": c.momentum,
                        "batch_size": c.batch_size, "fold": f, **rows[(i, f)]})
    frame = pd.DataFrame(out)
    frame["diverged"] = frame["diverged"].astype(bool)
    frame["rung"] = frame["rung"].astype(np.int64)
    frame["epochs"] = frame["epochs"].astype(np.int64)
    first = lead + ["val_loss", "diverged"]
    rest = [c for c in frame.columns if c not in first and c not in ("rung", "epochs")]
    return frame[first + rest + ["rung", "epochs"]]
