"""The engine under the three protocols: networks, data, views, training, divergence, records.

The draft's protocol (`alnn.experiment.run`, and its grid search), the budget
protocol (`alnn.budget.run_budget`) and successive halving
(`alnn.halving.halving_search`) are thin drivers over this module's public
interface:

- `prepare` stacks the trials x folds models' data (`build`, `take`: `Data`,
  `Pool`) with each network's seeds (the table below) and the strategy;
- `setup` builds the batched networks of the L models x members and the row
  tables they train and validate on (`Networks`);
- `train_epoch` trains every network one epoch (or its first ``max_steps``
  mini-batches) on given masks and flags divergence (below);
- `View` is what a strategy may ask of the current networks; a strategy's
  query is always ``strategy.query(pool, view, mask, size, counter)``;
- `record` writes one row of the recorded columns (`empty_columns`), `Cost`
  counts multiply-adds (`alnn.cost`), `to_frame` turns the columns into the tidy
  frame.

Divergence (SPEC 4): a network is diverged when its training loss or its
weights become non-finite, or when the mean training loss of an epoch exceeds
``DIVERGENCE_RATIO`` (1e3) times the mean training loss of its first epoch
(the reference each protocol keeps per network, `train_epoch`'s
``reference``): a network that blows up without overflowing is diverged too.
A diverged network is zeroed and frozen; its metrics are NaN from then on and
its neighbours in the batch are untouched.

Seeds (``numpy.random.SeedSequence`` entropy tuples, a purpose tag second):

=====================================  ===========================================
split of trial t                       (seed, 0, t)  -> an int seed for `alnn.preprocess.splits`
initial weights of (t, fold, member)   (seed, 1, t, fold, member); identical for every strategy
shuffles of (t, fold, member)          (seed, 2, t, fold, member); identical for every strategy
initial labelled set of (t, fold)      (seed, 3, t, fold); shared by entropy, ensemble, random
random queries of (t, fold)            (seed, 4, t, fold)
grid search                            the same with t = 0 and tag + 10 (splits of their own)
=====================================  ===========================================

Every stream depends on its own tuple only, so trials 5..9 computed alone give
exactly the rows that a run of trials 0..9 gives for them.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from alnn import cost as _cost
from alnn import metrics as _metrics
from alnn.model import BatchedMLP, TrainConfig, resolve_device, seed_words
from alnn.strategies import REGISTRY as _REGISTRY
from alnn.strategies import STRATEGIES, describe
from alnn.strategies import ensemble as _ensemble
from alnn.strategies import sasla as _sasla

__all__ = ["SPLIT", "INIT", "SHUFFLE", "LABELLED", "QUERY", "GRID", "KEYS", "COUNTS", "DIVERGENCE_RATIO",
           "check_strategy", "strategy_params", "check_int", "check_search", "pool_min", "split_seed", "Pool",
           "Data", "build", "take", "View", "pool_block", "Settings", "Cost", "evaluate", "train_epoch", "record",
           "empty_columns", "setup", "Networks", "to_frame", "metric_order", "prepare", "STRATEGIES"]

_MODULES = {name: (m, m.STRATEGY) for name, m in _REGISTRY.items()}
SPLIT, INIT, SHUFFLE, LABELLED, QUERY = 0, 1, 2, 3, 4
GRID = 10

KEYS = ("dataset", "strategy", "trial", "fold", "epoch")
COUNTS = ("subset_size", "labels_used", "presentations", "scored", "macs_train", "macs_select", "macs")


# --------------------------------------------------------------------------- validation


def pool_min(dataset, folds: int) -> int:
    n = int(dataset.X.shape[0])
    return n - math.ceil(n / folds)


def check_strategy(strategy: str, params: dict | None, task: str, pool_min: int) -> dict:
    """Validated parameters of ``strategy`` with defaults filled in; ValueError otherwise."""
    if strategy not in _MODULES:
        raise ValueError(f"unknown strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
    module = _MODULES[strategy][0]
    params = dict(params or {})
    unknown = sorted(set(params) - set(module.DEFAULTS))
    if unknown:
        valid = ", ".join(module.DEFAULTS) or "none"
        raise ValueError(f"unknown parameter {unknown[0]!r} for strategy {strategy!r}; valid: {valid}")
    tasks = describe(strategy).tasks
    if task not in tasks:
        valid = ", ".join(s for s in STRATEGIES if task in describe(s).tasks)
        raise ValueError(f"strategy {strategy!r} is {' and '.join(tasks)}-only, got a {task} problem; "
                         f"valid for {task}: {valid}")
    return module.check_params({**module.DEFAULTS, **params}, task, pool_min)


def strategy_params(strategy: str) -> dict:
    """The default parameters of a strategy."""
    if strategy not in _MODULES:
        raise ValueError(f"unknown strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
    return dict(_MODULES[strategy][0].DEFAULTS)


def check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def split_seed(seed: int, tag: int, t: int) -> int:
    return int(np.random.SeedSequence([seed, tag, t]).generate_state(1, dtype=np.uint32)[0])


# --------------------------------------------------------------------------- data


@dataclass
class Pool:
    """Training pools of the L models (what strategies see)."""

    valid: torch.Tensor  # (L, P) bool
    length: torch.Tensor  # (L,) int64
    labels: torch.Tensor | None  # (L, P) int64
    n_classes: int | None
    init_stream: torch.Tensor  # (L, 2) int64
    query_stream: torch.Tensor  # (L, 2) int64


@dataclass
class Data:
    X: torch.Tensor  # (views * n, I) preprocessed inputs
    T: torch.Tensor  # (tviews * n, K) training targets
    pool_x: torch.Tensor  # (L, P) rows of X
    pool_t: torch.Tensor  # (L, P) rows of T
    val_x: torch.Tensor  # (L, Q)
    val_t: torch.Tensor  # (L, Q)
    val_valid: torch.Tensor  # (L, Q) bool
    val_len: torch.Tensor  # (L,)
    pool: Pool
    val_labels: torch.Tensor | None  # (L, Q)
    y_val: torch.Tensor | None  # (L, Q, T) original units
    target_mean: torch.Tensor | None  # (L, T)
    target_std: torch.Tensor | None  # (L, T)
    pool_idx: list  # dataset indices of each pool


class _Views:
    """Distinct full-size preprocessed matrices, each stored once."""

    def __init__(self):
        self.arrays: list[np.ndarray] = []
        self._index: dict[bytes, list[int]] = {}

    def add(self, a: np.ndarray) -> int:
        step = max(1, a.shape[0] // 64)
        key = hashlib.blake2b(np.ascontiguousarray(a[::step]).tobytes(), digest_size=16).digest()
        for i in self._index.get(key, []):
            if np.array_equal(self.arrays[i], a):
                return i
        self.arrays.append(a)
        self._index.setdefault(key, []).append(len(self.arrays) - 1)
        return len(self.arrays) - 1


def _pad(rows: list[np.ndarray], width: int, fill: int | None = None) -> np.ndarray:
    out = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
        out[i, len(r):] = r[0] if (fill is None and len(r)) else (fill or 0)
    return out


def build(dataset, folds, streams: list[tuple], device, dtype) -> Data:
    """Stack the L models' data from an iterable of `alnn.preprocess.Fold` (consumed one at a time).

    ``streams`` holds each model's (init_stream, query_stream) words.  Only the
    distinct full-size preprocessed matrices are kept, never a Fold.
    """
    n, d = dataset.X.shape
    K = dataset.n_outputs
    classification = dataset.task == "classification"
    y_all = np.asarray(dataset.y)
    xviews, tviews = _Views(), _Views()
    xv, tv, train, val, y_val, mean, std = [], [], [], [], [], [], []
    for f in folds:
        Z = np.zeros((n, d), dtype=np.float32)
        Z[f.train_idx] = f.X_train
        Z[f.val_idx] = f.X_val
        xv.append(xviews.add(Z))
        Tz = np.zeros((n, K), dtype=np.float32)
        Tz[f.train_idx] = f.T_train
        Tz[f.val_idx] = f.T_val
        tv.append(tviews.add(Tz))
        train.append(np.asarray(f.train_idx, dtype=np.int64))
        val.append(np.asarray(f.val_idx, dtype=np.int64))
        if not classification:
            y_val.append(np.asarray(f.y_val, dtype=np.float64).reshape(len(f.val_idx), K))
            mean.append(np.asarray(f.target_mean, dtype=np.float64).reshape(K))
            std.append(np.asarray(f.target_std, dtype=np.float64).reshape(K))
        del f, Z, Tz
    X = torch.as_tensor(np.concatenate(xviews.arrays), dtype=dtype).to(device)
    T = torch.as_tensor(np.concatenate(tviews.arrays), dtype=dtype).to(device)
    del xviews, tviews

    L = len(train)
    P = max(len(r) for r in train)
    Q = max(len(r) for r in val)
    tr, va = _pad(train, P), _pad(val, Q)
    xo = (np.asarray(xv) * n)[:, None]
    to = (np.asarray(tv) * n)[:, None]
    plen = np.array([len(r) for r in train])
    qlen = np.array([len(r) for r in val])
    as_long = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.int64, device=device)  # noqa: E731
    valid = torch.as_tensor(np.arange(P)[None, :] < plen[:, None], device=device)
    val_valid = torch.as_tensor(np.arange(Q)[None, :] < qlen[:, None], device=device)
    labels = val_labels = yv = mu = sd = None
    if classification:
        labels = as_long(np.where(valid.cpu().numpy(), y_all[tr], 0))
        val_labels = as_long(np.where(val_valid.cpu().numpy(), y_all[va], 0))
    else:
        yv_np = np.zeros((L, Q, K))
        for i, y in enumerate(y_val):
            yv_np[i, : len(y)] = y
        yv = torch.as_tensor(yv_np, device=device)
        mu = torch.as_tensor(np.stack(mean), device=device)
        sd = torch.as_tensor(np.stack(std), device=device)
    pool = Pool(valid=valid, length=as_long(plen), labels=labels, n_classes=K if classification else None,
                 init_stream=as_long([s[0] for s in streams]), query_stream=as_long([s[1] for s in streams]))
    return Data(X=X, T=T, pool_x=as_long(tr + xo), pool_t=as_long(tr + to), val_x=as_long(va + xo),
                 val_t=as_long(va + to), val_valid=val_valid, val_len=as_long(qlen), pool=pool,
                 val_labels=val_labels, y_val=yv, target_mean=mu, target_std=sd, pool_idx=train)


def take(data: Data, index: list[int], streams: list[tuple]) -> Data:
    """The models ``index`` of ``data`` (sharing its inputs), with new random streams."""
    idx = torch.as_tensor(index, dtype=torch.int64, device=data.pool_x.device)
    pick = lambda t: None if t is None else t.index_select(0, idx)  # noqa: E731
    as_long = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.int64, device=idx.device)  # noqa: E731
    pool = Pool(valid=pick(data.pool.valid), length=pick(data.pool.length), labels=pick(data.pool.labels),
                 n_classes=data.pool.n_classes, init_stream=as_long([s[0] for s in streams]),
                 query_stream=as_long([s[1] for s in streams]))
    return Data(X=data.X, T=data.T, pool_x=pick(data.pool_x), pool_t=pick(data.pool_t), val_x=pick(data.val_x),
                 val_t=pick(data.val_t), val_valid=pick(data.val_valid), val_len=pick(data.val_len), pool=pool,
                 val_labels=pick(data.val_labels), y_val=pick(data.y_val), target_mean=pick(data.target_mean),
                 target_std=pick(data.target_std), pool_idx=[data.pool_idx[i] for i in index])


class View:
    """What a strategy may ask of the current networks (see `alnn.strategies.passive`).

    ``block(lo, hi)`` is the view of models lo .. hi - 1 alone (their networks only)."""

    def __init__(self, model: BatchedMLP, data: Data, members: int, lo: int = 0, hi: int | None = None):
        self.model, self.data, self.E = model, data, members
        self.lo, self.hi = lo, data.pool_x.shape[0] if hi is None else hi
        self.L = self.hi - self.lo
        rows = data.pool_x[self.lo:self.hi]
        self._rows = rows.repeat_interleave(members, dim=0) if members > 1 else rows
        whole = self.lo == 0 and self.hi == data.pool_x.shape[0]
        self._models = None if whole else slice(self.lo * members, self.hi * members)

    def block(self, lo: int, hi: int) -> "View":
        return View(self.model, self.data, self.E, self.lo + lo, self.lo + hi)

    @property
    def alive(self) -> torch.Tensor:
        alive = self.model.alive if self._models is None else self.model.alive[self._models]
        return alive.view(self.L, self.E).all(dim=1)

    def outputs(self) -> torch.Tensor:
        with torch.no_grad():
            out = self.model.predict(self.data.X, self._rows, models=self._models)
        return out.view(self.L, self.E, *out.shape[1:])

    def hidden(self) -> torch.Tensor:
        """Hidden-layer activations (L, E, P, J) of every pool position, for every member."""
        with torch.no_grad():
            out = self.model.activations(self.data.X, self._rows, models=self._models)
        return out.view(self.L, self.E, *out.shape[1:])

    def inputs(self) -> torch.Tensor:
        """The preprocessed inputs (L, P, I) of every pool position."""
        rows = self.data.pool_x[self.lo:self.hi]
        return self.data.X.index_select(0, rows.reshape(-1)).view(self.L, rows.shape[1], -1)

    def targets(self) -> torch.Tensor:
        """The training targets (L, P, K) of every pool position (a strategy reads the labelled ones only)."""
        rows = self.data.pool_t[self.lo:self.hi]
        return self.data.T.index_select(0, rows.reshape(-1)).view(self.L, rows.shape[1], -1)

    def informativeness(self, norm: str) -> torch.Tensor:
        phi = _sasla.pool_informativeness(self.model, self.data.X, self._rows, norm=norm, models=self._models)
        return phi.view(self.L, self.E, -1)[:, 0]


def pool_block(pool: Pool, lo: int, hi: int) -> Pool:
    """The pools of models lo .. hi - 1."""
    cut = lambda t: None if t is None else t[lo:hi]  # noqa: E731
    return Pool(valid=cut(pool.valid), length=cut(pool.length), labels=cut(pool.labels), n_classes=pool.n_classes,
                 init_stream=cut(pool.init_stream), query_stream=cut(pool.query_stream))


class Settings:
    """Several settings of one strategy as one strategy over blocks of models (the ablations).

    Setting s holds models s * size .. (s + 1) * size - 1, the same trials x folds
    networks (the same data, initial weights, shuffles and labelled-set draws) for
    every setting, so all train as extra networks of one batched model and the
    settings differ only in what they select.  Each block's selection is exactly
    its strategy's own on those models.
    """

    records_scores = False
    last_scores = None

    def __init__(self, parts: list, size: int):
        names = {p.name for p in parts}
        members = {p.members for p in parts}
        if len(names) != 1 or len(members) != 1:
            raise ValueError(f"settings batched together must be of one strategy and one member count, got "
                             f"strategies {sorted(names)} and members {sorted(members)}")
        self.parts, self.size = parts, size
        self.name, self.members = names.pop(), members.pop()
        self.counts_scored = getattr(parts[0], "counts_scored", True)

    def _blocks(self):
        for i, part in enumerate(self.parts):
            yield part, i * self.size, (i + 1) * self.size

    def initial(self, pool) -> torch.Tensor:
        return torch.cat([p.initial(pool_block(pool, lo, hi)) for p, lo, hi in self._blocks()])

    def due(self, epoch: int) -> bool:
        return any(p.due(epoch) for p in self.parts)

    def select(self, pool, view, mask, epoch: int = 0):
        masks, scored = [], []
        for p, lo, hi in self._blocks():
            if p.due(epoch):
                m, sc = p.select(pool_block(pool, lo, hi), view.block(lo, hi), mask[lo:hi], epoch)
            else:
                m, sc = mask[lo:hi], torch.zeros_like(pool.length[lo:hi])
            masks.append(m)
            scored.append(sc)
        return torch.cat(masks), torch.cat(scored)

    def query(self, pool, view, mask, size: int, counter: int):
        masks, scored = [], []
        for p, lo, hi in self._blocks():
            m, sc = p.query(pool_block(pool, lo, hi), view.block(lo, hi), mask[lo:hi], size, counter)
            masks.append(m)
            scored.append(sc)
        return torch.cat(masks), torch.cat(scored)

    def scores(self, pool, view, epoch: int) -> torch.Tensor:
        return torch.cat([p.scores(pool_block(pool, lo, hi), view.block(lo, hi), epoch)
                          for p, lo, hi in self._blocks()])


# --------------------------------------------------------------------------- the engine


class Cost:
    """Cumulative multiply-adds of the L models (`alnn.cost`): training and selection."""

    def __init__(self, strategy: str, I: int, J: int, K: int, members: int, batch_size: int, weight_decay):
        self.strategy, self.shape, self.E, self.B = strategy, (I, J, K), members, int(batch_size)
        self.wd = np.asarray(weight_decay, dtype=np.float64)
        self.train = None
        self.select = None

    def trained(self, shown: np.ndarray) -> None:
        """``shown`` (L, members): patterns each member was shown in one epoch."""
        L = shown.shape[0]
        wd = self.wd if self.wd.ndim == 0 else self.wd.reshape(L, -1)[:, 0]  # grid search: one per network
        steps = -(-shown // self.B)  # ceil(n / B) mini-batches per member, balanced or not
        t = _cost.training(*self.shape, shown.sum(axis=1), steps.sum(axis=1), wd)
        self.train = t if self.train is None else self.train + t

    def add_training(self, macs: np.ndarray) -> None:
        """Multiply-adds of training counted elsewhere (L,): e.g. the per-budget tuning networks'."""
        macs = np.asarray(macs, dtype=np.int64)
        self.train = macs if self.train is None else self.train + macs

    def scored(self, scored: np.ndarray, *, labelled: int = 0, query: int = 1) -> None:
        """``scored`` (L,) patterns scored by a query of ``query`` patterns with ``labelled`` in L."""
        s = _cost.selection(self.strategy, *self.shape, scored, self.E, labelled=labelled, query=query)
        self.select = s if self.select is None else self.select + s

    def record(self, cols: dict, r: int, L: int) -> None:
        train = np.zeros(L, np.int64) if self.train is None else self.train
        select = np.zeros(L, np.int64) if self.select is None else self.select
        cols["macs_train"][r], cols["macs_select"][r], cols["macs"][r] = train, select, train + select


def _column_name(name: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_").lower()


def evaluate(model: BatchedMLP, data: Data, members: int, task: str, val_rows, val_T) -> dict:
    """Validation loss and metrics of the L models, numpy arrays of length L."""
    L, Q = data.val_x.shape
    with torch.no_grad():
        O = model.predict(data.X, val_rows)  # (M, Q, K)
    K = O.shape[2]
    w = data.val_valid.repeat_interleave(members, dim=0).unsqueeze(2).to(O.dtype) if members > 1 \
        else data.val_valid.unsqueeze(2).to(O.dtype)
    n = data.val_len.to(torch.float64)
    se = torch.where(w > 0, (O - val_T).square(), torch.zeros_like(O))
    val_loss = (se.sum(dim=(1, 2)).to(torch.float64).view(L, members) / n.unsqueeze(1)).mean(dim=1)
    O4 = O.view(L, members, Q, K)
    mean_out = O4.mean(dim=1).to(torch.float64)
    out = {"val_loss": val_loss.cpu().numpy()}
    if task == "classification":
        pred = O4[:, 0].argmax(dim=2) if members == 1 else _ensemble.vote(O4)
        out.update(_metrics.classification_metrics(data.val_labels, pred, K, data.val_valid))
        onehot = torch.nn.functional.one_hot(data.val_labels, K).to(torch.float64)
        sq = torch.where(data.val_valid.unsqueeze(2), (mean_out - onehot).square(), torch.zeros_like(mean_out))
        out["mse"] = (sq.sum(dim=(1, 2)) / (n * K)).cpu().numpy()
    else:
        pred = mean_out * data.target_std.unsqueeze(1) + data.target_mean.unsqueeze(1)
        reg = _metrics.regression_metrics(data.y_val, pred, data.val_valid)
        out.update({k: reg[k] for k in _metrics.REGRESSION})
        out["_targets"] = {k: reg[f"{k}_targets"] for k in _metrics.REGRESSION}
    return out


#: A network whose mean training loss in an epoch exceeds this many times that of its first epoch is diverged.
DIVERGENCE_RATIO = 1e3


def train_epoch(model: BatchedMLP, data: Data, rows_x, rows_t, mask_rep, stream, counter: int,
                batch_size: int, members: int, balanced: bool = False, max_steps: int | None = None,
                reference: np.ndarray | None = None, included=None):
    """One epoch (or its first ``max_steps`` mini-batches) of every network; diverged networks are frozen.

    ``reference`` (float64 (M,), one per network, NaN where not yet set) holds
    the mean training loss of each network's first epoch: this call fills the
    NaN entries of the networks it trained and flags as diverged every network
    whose mean training loss exceeds ``DIVERGENCE_RATIO`` times its reference
    (SPEC 4), besides non-finite losses and weights (the only test without
    ``reference``).  A protocol restarting its networks from their initial
    weights resets the reference with them.  Returns the per-network SSE
    (tensor), the patterns shown (L, members) and which of the L models
    diverged in this epoch (numpy bool).  ``included``: see `BatchedMLP.train_epoch`.
    """
    L = data.pool_x.shape[0]
    sse, shown = model.train_epoch(data.X, data.T, rows_x, rows_t, mask_rep, stream, counter, batch_size,
                                   balanced=balanced, max_steps=max_steps, included=included)
    ok = torch.isfinite(sse) & model.finite()
    if reference is not None:
        trained = (shown > 0) & model.alive.cpu().numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            loss = sse.to(torch.float64).cpu().numpy() / shown
        first = trained & np.isnan(reference) & np.isfinite(loss)
        reference[first] = loss[first]
        with np.errstate(invalid="ignore"):
            blown = trained & (loss > DIVERGENCE_RATIO * reference)
        if blown.any():
            ok &= torch.as_tensor(~blown, device=ok.device)
    bad = (model.alive & ~ok).view(L, members).any(dim=1)
    if bool(bad.any()):
        model.disable(bad.repeat_interleave(members) if members > 1 else bad)
    return sse, shown.reshape(L, members), bad.cpu().numpy()


def record(cols: dict, targets_cols: dict, r: int, n_rec: int, model: BatchedMLP, data: Data, members: int,
            task: str, val_rows, val_T, sse, shown, diverged, wall: float, target_names) -> None:
    """Row ``r`` of the recorded columns: divergence, wall time, training loss and validation metrics."""
    L = data.pool_x.shape[0]
    cols["diverged"][r] = diverged
    cols["wall_s"][r] = wall
    with np.errstate(invalid="ignore", divide="ignore"):
        tl = (sse.to(torch.float64).cpu().numpy().reshape(L, members) / shown).mean(axis=1)
    cols["train_loss"][r] = np.where(diverged, np.nan, tl)
    ev = evaluate(model, data, members, task, val_rows, val_T)
    per_target = ev.pop("_targets", None)
    for key, value in ev.items():
        cols.setdefault(key, np.full((n_rec, L), np.nan))[r] = np.where(diverged, np.nan, value)
    if per_target is not None and target_names is not None and len(target_names) > 1:
        for key, value in per_target.items():
            for j, name in enumerate(target_names):
                c = f"{key}_{_column_name(name)}"
                targets_cols.setdefault(c, np.full((n_rec, L), np.nan))[r] = np.where(
                    diverged, np.nan, value[:, j])


def empty_columns(n_rec: int, L: int) -> dict:
    cols: dict[str, np.ndarray] = {key: np.zeros((n_rec, L), dtype=np.int64) for key in COUNTS}
    cols["diverged"] = np.zeros((n_rec, L), dtype=bool)
    for key in ("wall_s", "train_loss"):
        cols[key] = np.zeros((n_rec, L))
    return cols


class Networks(NamedTuple):
    """The batched networks of L models x members and the row tables they train and validate on."""

    model: BatchedMLP
    rep: object  # per-model tensor -> per-network tensor (each row repeated ``members`` times)
    rows_x: torch.Tensor
    rows_t: torch.Tensor
    val_rows: torch.Tensor
    val_T: torch.Tensor


def setup(data: Data, members: int, task: str, hidden: int, lr, momentum, weight_decay, init_seeds, device,
          dtype, precision: str = "float32") -> Networks:
    """The batched model of the L x members networks and the row tables they train and validate on."""
    E = members
    K = data.T.shape[1]
    model = BatchedMLP.initialise(init_seeds, data.X.shape[1], hidden, K,
                                  output="sigmoid" if task == "classification" else "linear", lr=lr,
                                  momentum=momentum, weight_decay=weight_decay, device=device, dtype=dtype,
                                  precision=precision)
    rep = (lambda t: t.repeat_interleave(E, dim=0)) if E > 1 else (lambda t: t)
    val_T = data.T.index_select(0, rep(data.val_t).reshape(-1)).view(model.n_models, -1, K)
    return Networks(model, rep, rep(data.pool_x), rep(data.pool_t), rep(data.val_x), val_T)


def to_frame(cols: dict, ident: dict, epochs_recorded: np.ndarray) -> pd.DataFrame:
    """Rows ordered by model then epoch; ``ident`` holds per-model columns (length L)."""
    n_rec, L = cols["diverged"].shape
    data = {}
    for key, values in ident.items():
        data[key] = np.repeat(np.asarray(values), n_rec)
    data["epoch"] = np.tile(epochs_recorded, L)
    for key, values in cols.items():
        data[key] = values.T.reshape(-1)
    return pd.DataFrame(data)


def metric_order(task: str, cols: dict) -> list[str]:
    head = list(COUNTS) + ["diverged", "wall_s", "train_loss",
            "val_loss"]
    if task == "classification":
        metrics = list(_metrics.CLASSIFICATION) + ["mse"]
    else:
        metrics = list(_metrics.REGRESSION)
    rest = [c for c in cols if c not in head and c not in metrics]
    return head + metrics + rest


def _check_settings(settings) -> list[dict] | None:
    if settings is None:
        return None
    if isinstance(settings, dict) or not all(isinstance(s, dict) for s in settings) or not len(settings):
        raise ValueError(f"settings must be a non-empty list of parameter dicts, got {settings!r}")
    return [dict(s) for s in settings]


def prepare(dataset, strategy: str, params: dict | None, *, trials: int, folds: int, seed: int,
             trial_start: int, device, initial=None, settings: list[dict] | None = None):
    """What every protocol starts from: the stacked data of the trials x folds models, the strategy,
    the identity columns, and each network's initial-weight seeds and shuffle stream (common random
    numbers: see the module docstring).  ``initial`` overrides the strategy's initial labelled-set size.
    ``settings`` (parameter dicts, each over ``params``): the trials x folds models once per setting,
    setting-major, as one strategy (`Settings`); the identity columns then hold ``setting``."""
    from alnn.preprocess import prepare, splits

    trials = check_int("trials", trials, 1)
    folds = check_int("folds", folds, 2)
    seed = check_int("seed", seed, 0)
    trial_start = check_int("trial_start", trial_start, 0)
    settings = _check_settings(settings)
    p_min = pool_min(dataset, folds)

    def strategy_of(p):
        p = check_strategy(strategy, p, dataset.task, p_min)
        if initial is not None and "initial" in p:
            p = {**p, "initial": int(initial)}
        return _MODULES[strategy][1](p, dataset.task)

    dev = resolve_device(device)
    if settings is None:
        strat = strategy_of(params)
    else:
        strat = Settings([strategy_of({**(params or {}), **s}) for s in settings], trials * folds)
    E = strat.members
    ident = {"trial": [], "fold": []}
    init_seeds, shuffles, streams = [], [], []
    for t in range(trial_start, trial_start + trials):
        for f in range(folds):
            ident["trial"].append(t)
            ident["fold"].append(f)
            streams.append((seed_words(seed, LABELLED, t, f), seed_words(seed, QUERY, t, f)))
            for e in range(E):
                init_seeds.append((seed, INIT, t, f, e))
                shuffles.append(seed_words(seed, SHUFFLE, t, f, e))

    def prepared():
        for t in range(trial_start, trial_start + trials):
            for tr, va in splits(dataset, folds, split_seed(seed, SPLIT, t)):
                yield prepare(dataset, tr, va)

    data = build(dataset, prepared(), streams, dev, torch.float32)
    if settings is not None:
        S, L0 = len(settings), len(streams)
        data = take(data, list(range(L0)) * S, streams * S)
        ident = {"setting": list(np.repeat(np.arange(S), L0)), "trial": ident["trial"] * S,
                 "fold": ident["fold"] * S}
        init_seeds, shuffles = init_seeds * S, shuffles * S
    return data, strat, ident, init_seeds, shuffles, dev


def check_search(configs, folds, epochs, seed):
    """The validated arguments every grid search takes (full grid and successive halving)."""
    configs = list(configs)
    if not configs:
        raise ValueError("configs is empty: give at least one TrainConfig")
    for c in configs:
        if not isinstance(c, TrainConfig):
            raise TypeError(f"configs must hold alnn.TrainConfig objects, got {type(c).__name__}")
    return configs, check_int("folds", folds, 2), check_int("epochs", epochs, 1), check_int("seed", seed, 0)


