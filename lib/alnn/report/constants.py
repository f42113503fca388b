"""Names, labels and fixed facts shared by the writers of the generated layer."""

from __future__ import annotations

from pathlib import Path

from alnn import analysis as an
from alnn.strategies.catalogue import catalogue


#: Names of the figures (without extension) that main.tex includes.
FIGURES = ("learning-curves-epochs", "learning-curves-presentations", "subset-size",
           "labels-to-target", "grid-heatmaps", "cd-classification", "cd-regression",
           "sasla-at-work", "budget-curves", "penalty-matrix", "budget-labels", "sasla-tradeoff",
           "budget-ablations", "budget-classes", "budget-absolute")
#: Generated LaTeX files that main.tex inputs.
GENERATED = ("profile.tex", "numbers.tex", "findings.tex", "profile-table.tex",
             "gridsearch.tex", "sanity.tex", "comparison.tex", "stats-within.tex",
             "convergence.tex", "stats-across.tex", "budget.tex", "budget-table.tex", "budget-training.tex",
             "budget-falls.tex", "budget-tests.tex", "budget-targets.tex", "budget-across.tex", "cost.tex",
             "ablation.tex",
             "ablation-table.tex", "ablation-sasla.tex", "robust.tex", "draft.tex")

REFERENCES_PATH = Path(__file__).parent.with_name("references.toml")

STRATEGIES = an.STRATEGY_ORDER
PROBLEM_LABELS = {"iris": "Iris", "wine": "Wine", "fashion-mnist": "Fashion-MNIST",
                  "sine": "Sine", "california-housing": "California Housing",
                  "energy-efficiency": "Energy Efficiency"}
PROBLEM_SHORT = {"iris": "Iris", "wine": "Wine", "fashion-mnist": "F-MNIST", "sine": "Sine",
                 "california-housing": "Housing", "energy-efficiency": "Energy"}
STRATEGY_LABELS = {n: d.label for n, d in catalogue().items()}
#: How the prose names each strategy.
STRATEGY_PROSE = {n: d.prose for n, d in catalogue().items()}
TASK_PROSE = {"classification": "classification", "regression": "function approximation"}

#: Inputs I (after one-hot encoding) and outputs K of every problem (SPEC section 1);
#: tests/test_report.py checks them against alnn.datasets.
DATASET_FACTS = {
    "iris": {"inputs": 4, "outputs": 3},
    "wine": {"inputs": 13, "outputs": 3},
    "fashion-mnist": {"inputs": 784, "outputs": 10},
    "sine": {"inputs": 1, "outputs": 1},
    "california-housing": {"inputs": 13, "outputs": 1},
    "energy-efficiency": {"inputs": 8, "outputs": 2},
}

#: Rows of the comparison table per task: (metric, label, percent?).
TABLE_METRICS = {
    "classification": (("accuracy", "Accuracy (\\%)", True), ("f1", "Macro F1 (\\%)", True),
                       ("mcc", "MCC", False)),
    "regression": (("mse", "MSE", False), ("rmse", "RMSE", False), ("mae", "MAE", False),
                   ("r2", "$R^2$", False)),
}
METRIC_PROSE = {"accuracy": "accuracy", "f1": "macro F1", "mcc": "MCC", "mse": "MSE",
                "rmse": "RMSE", "mae": "MAE", "r2": "$R^2$"}

ALPHA = 0.05
