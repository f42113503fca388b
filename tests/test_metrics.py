"""Batched metrics against scikit-learn on random predictions."""

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from alnn.metrics import classification_metrics, confusion_matrices, regression_metrics


def _sk_classification(t, p):
    kw = dict(average="macro", zero_division=0)
    return {"accuracy": skm.accuracy_score(t, p), "f1": skm.f1_score(t, p, **kw),
            "precision": skm.precision_score(t, p, **kw), "recall": skm.recall_score(t, p, **kw),
            "mcc": skm.matthews_corrcoef(t, p)}


def test_classification_matches_sklearn_on_random_predictions():
    rng = np.random.default_rng(0)
    M, N, C = 40, 37, 4
    t = rng.integers(0, C, (M, N))
    p = rng.integers(0, C, (M, N))
    p[0] = t[0]                      # perfect
    p[1] = 0                         # one class predicted only (MCC undefined -> 0)
    t[2] = rng.integers(0, 2, N)     # classes 2, 3 absent from truth ...
    p[2] = rng.integers(0, 3, N)     # ... and class 3 from predictions too
    lengths = rng.integers(5, N + 1, M)
    valid = np.arange(N)[None, :] < lengths[:, None]
    mine = classification_metrics(torch.as_tensor(t), torch.as_tensor(p), C, torch.as_tensor(valid))
    for m in range(M):
        ref = _sk_classification(t[m, :lengths[m]], p[m, :lengths[m]])
        for key, value in ref.items():
            assert mine[key][m] == pytest.approx(value, abs=1e-12), (m, key)


def test_confusion_matrices_match_sklearn():
    rng = np.random.default_rng(1)
    t, p = rng.integers(0, 3, (5, 50)), rng.integers(0, 3, (5, 50))
    cm = confusion_matrices(t, p, 3).numpy()
    for m in range(5):
        np.testing.assert_array_equal(cm[m], skm.confusion_matrix(t[m], p[m], labels=[0, 1, 2]))


@pytest.mark.parametrize("targets", [1, 3])
def test_regression_matches_sklearn(targets):
    rng = np.random.default_rng(2)
    M, N = 20, 31
    y = rng.normal(size=(M, N, targets)) * 3 + 1
    yhat = y + rng.normal(size=(M, N, targets))
    y[0, :, 0] = 2.0                 # constant target: sklearn's force_finite convention
    yhat[0, :, 0] = rng.normal(size=N)
    y[1] = yhat[1] = 5.0             # constant and perfect
    lengths = rng.integers(3, N + 1, M)
    valid = np.arange(N)[None, :] < lengths[:, None]
    yhat[~valid] = np.nan            # padding may hold anything
    mine = regression_metrics(y, yhat, valid)
    for m in range(M):
        a, b = y[m, :lengths[m]], yhat[m, :lengths[m]]
        ref = {"mse": skm.mean_squared_error(a, b), "rmse": skm.root_mean_squared_error(a, b),
               "mae": skm.mean_absolute_error(a, b), "r2": skm.r2_score(a, b)}
        per = {"mse": skm.mean_squared_error(a, b, multioutput="raw_values"),
               "rmse": skm.root_mean_squared_error(a, b, multioutput="raw_values"),
               "mae": skm.mean_absolute_error(a, b, multioutput="raw_values"),
               "r2": skm.r2_score(a, b, multioutput="raw_values")}
        for key in ref:
            assert mine[key][m] == pytest.approx(ref[key], abs=1e-10), (m, key)
            np.testing.assert_allclose(mine[f"{key}_targets"][m], per[key], atol=1e-10)
