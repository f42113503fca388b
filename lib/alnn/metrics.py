"""Validation metrics of many networks at once (SPEC section 4).

Every function takes one row per network: labels or predictions of shape
(M, N) / (M, N, T), an optional ``valid`` (M, N) bool mask for padded rows (the
networks' validation sets may differ in size), numpy arrays or torch tensors.
It returns numpy float64 arrays with one value per network, computed in float64
from batched confusion matrices, never by calling scikit-learn per network.

The definitions are scikit-learn's (``sklearn.metrics``), with its defaults:

- accuracy; macro precision, recall and F1 with ``zero_division=0``, averaged
  over the classes that occur in the true or the predicted labels;
  multiclass MCC (Gorodkin's R_K, sklearn's ``matthews_corrcoef``; 0 when undefined);
- regression, per target and as the plain mean over targets
  (``multioutput="uniform_average"``): MSE, RMSE (mean of the per-target
  RMSEs), MAE, R^2 (1 - SS_res / SS_tot; a constant target gives 1 when the
  fit is perfect, else 0, as sklearn's ``force_finite``).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["confusion_matrices", "classification_metrics", "from_confusion", "regression_metrics",
           "CLASSIFICATION", "REGRESSION"]

CLASSIFICATION = ("accuracy", "f1", "precision", "recall", "mcc")
REGRESSION = ("mse", "rmse", "mae", "r2")


def _tensor(a, dtype=None, device=None) -> torch.Tensor:
    t = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    if device is not None:
        t = t.to(device)
    return t if dtype is None else t.to(dtype)


def _rows(a) -> torch.Tensor:
    t = _tensor(a)
    return t.unsqueeze(0) if t.dim() == 1 else t


def confusion_matrices(y_true, y_pred, n_classes: int, valid=None) -> torch.Tensor:
    """(M, C, C) int64 confusion matrices, rows = true class, columns = predicted class."""
    t = _rows(y_true).to(torch.int64)
    p = _rows(y_pred).to(t.device, torch.int64)
    M, N = t.shape
    C = int(n_classes)
    flat = (torch.arange(M, device=t.device).unsqueeze(1) * C + t) * C + p
    if valid is not None:
        flat = flat[_rows(valid).to(t.device, torch.bool)]
    return torch.bincount(flat.reshape(-1), minlength=M * C * C).view(M, C, C)


def _safe_div(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    return torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)), torch.zeros_like(num))


def from_confusion(cm) -> dict[str, np.ndarray]:
    """accuracy, f1, precision, recall (macro) and mcc from (M, C, C) confusion matrices."""
    cm = _tensor(cm).to(torch.float64)
    if cm.dim() == 2:
        cm = cm.unsqueeze(0)
    tp = torch.diagonal(cm, dim1=1, dim2=2)
    true = cm.sum(dim=2)
    pred = cm.sum(dim=1)
    n = cm.sum(dim=(1, 2))
    present = (true + pred) > 0
    n_present = present.sum(dim=1).to(torch.float64)

    def macro(per_class):
        return _safe_div((per_class * present).sum(dim=1), n_present)

    precision = macro(_safe_div(tp, pred))
    recall = macro(_safe_div(tp, true))
    f1 = macro(_safe_div(2 * tp, true + pred))
    correct = tp.sum(dim=1)
    accuracy = torch.where(n > 0, correct / torch.where(n > 0, n, torch.ones_like(n)), torch.full_like(n, np.nan))
    cov_tp = correct * n - (true * pred).sum(dim=1)
    cov_pp = n * n - (pred * pred).sum(dim=1)
    cov_tt = n * n - (true * true).sum(dim=1)
    den = cov_pp * cov_tt
    mcc = torch.where(den > 0, cov_tp / torch.sqrt(torch.where(den > 0, den, torch.ones_like(den))),
                      torch.zeros_like(den))
    out = {"accuracy": accuracy, "f1": f1, "precision": precision, "recall": recall, "mcc": mcc}
    return {k: v.cpu().numpy() for k, v in out.items()}


def classification_metrics(y_true, y_pred, n_classes: int, valid=None) -> dict[str, np.ndarray]:
    """accuracy, f1, precision, recall, mcc per network from labels (M, N)."""
    return from_confusion(confusion_matrices(y_true, y_pred, n_classes, valid))


def regression_metrics(y_true, y_pred, valid=None) -> dict[str, np.ndarray]:
    """mse, rmse, mae, r2 per network, averaged over targets, and per target.

    ``y_true`` and ``y_pred`` are (M, N) or (M, N, T) in the units to report.
    Returns the averages under ``mse, rmse, mae, r2`` (shape (M,)) and the
    per-target values under ``mse_targets`` ... ``r2_targets`` (shape (M, T)).
    """
    yt = _tensor(y_true).to(torch.float64)
    yp = _tensor(y_pred).to(yt.device, torch.float64)
    if yt.dim() == 1:
        yt, yp = yt.unsqueeze(0), yp.unsqueeze(0)
    if yt.dim() == 2:
        yt, yp = yt.unsqueeze(2), yp.unsqueeze(2)
    M, N, T = yt.shape
    if valid is None:
        w = torch.ones((M, N, 1), dtype=torch.float64, device=yt.device)
    else:
        w = _rows(valid).to(yt.device, torch.float64).unsqueeze(2)
    n = w.sum(dim=1)  # (M, 1)
    err = (yp - yt) * w
    err = torch.where(w > 0, err, torch.zeros_like(err))  # padded rows may hold anything
    ss_res = err.square().sum(dim=1)  # (M, T)
    mse = ss_res / n
    mae = err.abs().sum(dim=1) / n
    yt0 = torch.where(w > 0, yt, torch.zeros_like(yt))
    mean = yt0.sum(dim=1, keepdim=True) / n.unsqueeze(1)
    ss_tot = ((yt0 - mean) * w).square().sum(dim=1)
    r2 = torch.where(ss_tot > 0, 1 - ss_res / torch.where(ss_tot > 0, ss_tot, torch.ones_like(ss_tot)),
                     torch.where(ss_res == 0, torch.ones_like(ss_res), torch.zeros_like(ss_res)))
    r2 = torch.where(torch.isfinite(ss_res), r2, torch.full_like(r2, np.nan))
    per = {"mse": mse, "rmse": mse.sqrt(), "mae": mae, "r2": r2}
    out = {k: v.mean(dim=1).cpu().numpy() for k, v in per.items()}
    out.update({f"{k}_targets": v.cpu().numpy() for k, v in per.items()})
    return out
