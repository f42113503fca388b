"""Cross-validation splits and preprocessing fitted on the training part only.

``splits`` gives stratified K-fold for classification and K-fold for
regression (optionally stratified on target-quantile bins), deterministic for
a given seed. ``prepare`` fits every statistic (medians for imputation, means
and scales for standardisation) on the training indices of one split and
applies it to both parts, so nothing about the validation part leaks into
training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alnn.datasets import Dataset


def _check_count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def splits(
    dataset: Dataset, folds: int, seed: int, *, stratify_bins: int | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``folds`` (train_idx, val_idx) pairs covering every pattern once as validation.

    Classification: stratified K-fold. Regression: K-fold, or stratified on
    ``stratify_bins`` quantile bins of the (first) target when given.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    folds = _check_count("folds", folds, 2)
    if folds > dataset.n_samples:
        raise ValueError(f"folds must be at most the number of patterns ({dataset.n_samples}), got {folds}")
    seed = int(seed) % (2**32)
    idx = np.arange(dataset.n_samples)
    if dataset.task == "classification":
        strata = dataset.y
    elif stratify_bins:
        target = dataset.y[:, 0]
        edges = np.quantile(target, np.linspace(0, 1, _check_count("stratify_bins", stratify_bins, 2) + 1)[1:-1])
        strata = np.digitize(target, edges)
    else:
        strata = None
    if strata is None:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed).split(idx)
    else:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(idx, strata)
    return [(np.sort(tr), np.sort(va)) for tr, va in splitter]


@dataclass(frozen=True)
class Scaler:
    """Per-feature affine map ``(x - shift) / scale`` with median imputation first."""

    fill: np.ndarray  # value replacing NaN, per feature (training medians)
    shift: np.ndarray
    scale: np.ndarray

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if np.isnan(X).any():
            X = np.where(np.isnan(X), self.fill, X)
        return ((X - self.shift) / self.scale).astype(np.float32)


def fit_scaler(dataset: Dataset, X_train: np.ndarray) -> Scaler:
    d = X_train.shape[1]
    with np.errstate(all="ignore"):
        fill = np.nanmedian(X_train, axis=0) if np.isnan(X_train).any() else np.zeros(d)
    fill = np.nan_to_num(fill).astype(np.float32)
    if dataset.scaling == "pixels":
        return Scaler(fill, np.zeros(d, np.float32), np.full(d, 255.0, np.float32))
    if dataset.scaling != "standardise":
        raise ValueError(f"unknown scaling {dataset.scaling!r}; valid: 'standardise', 'pixels'")
    filled = np.where(np.isnan(X_train), fill, X_train).astype(np.float64)
    shift = filled.mean(axis=0)
    scale = filled.std(axis=0)
    scale[scale == 0] = 1.0
    keep = list(dataset.passthrough)
    shift[keep] = 0.0
    scale[keep] = 1.0
    return Scaler(fill, shift.astype(np.float32), scale.astype(np.float32))


@dataclass(frozen=True)
class Fold:
    """One split, preprocessed with statistics of its training part.

    ``T_train``/``T_val`` are the network targets (n x K): one-hot for
    classification, standardised for regression. Regression metrics are
    reported in original units: ``T * target_std + target_mean``.
    """

    X_train: np.ndarray
    X_val: np.ndarray
    T_train: np.ndarray
    T_val: np.ndarray
    labels_train: np.ndarray | None
    labels_val: np.ndarray | None
    y_val: np.ndarray | None
    target_mean: np.ndarray | None
    target_std: np.ndarray | None
    train_idx: np.ndarray
    val_idx: np.ndarray
    scaler: Scaler


def one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((len(labels), k), dtype=np.float32)
    out[np.arange(len(labels)), labels] = 1.0
    return out


def prepare(dataset: Dataset, train_idx: np.ndarray, val_idx: np.ndarray) -> Fold:
    """Preprocess one split, fitting every statistic on ``train_idx`` only."""
    train_idx = np.asarray(train_idx)
    val_idx = np.asarray(val_idx)
    if np.intersect1d(train_idx, val_idx).size:
        raise ValueError("training and validation indices overlap")
    scaler = fit_scaler(dataset, dataset.X[train_idx])
    X_train = scaler.transform(dataset.X[train_idx])
    X_val = scaler.transform(dataset.X[val_idx])
    if dataset.task == "classification":
        k = dataset.n_outputs
        lab_tr, lab_va = dataset.y[train_idx], dataset.y[val_idx]
        return Fold(
            X_train, X_val, one_hot(lab_tr, k), one_hot(lab_va, k), lab_tr, lab_va,
            None, None, None, train_idx, val_idx, scaler,
        )
    y_tr = dataset.y[train_idx].astype(np.float64)
    mean = y_tr.mean(axis=0)
    std = y_tr.std(axis=0)
    std[std == 0] = 1.0
    T_train = ((y_tr - mean) / std).astype(np.float32)
    T_val = ((dataset.y[val_idx] - mean) / std).astype(np.float32)
    return Fold(
        X_train, X_val, T_train, T_val, None, None, dataset.y[val_idx],
        mean.astype(np.float32), std.astype(np.float32), train_idx, val_idx, scaler,
    )
