"""Tables that hold the numbers the text states: the cost table of the draft's protocol (values worked
out by hand), the ranks table (Friedman's p from scipy) and the sanity table's comparison column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from alnn import stats as st
from alnn.report import context as cx
from alnn.report.claims import make
from alnn.report import sanity as rs
from alnn.report import selection as sel
from alnn.report import tables as tb
from alnn.report.format import pval


def _run(strategy: str, trial: int, subset, labels, presentations, macs, scored, wall: float) -> list[dict]:
    acc = 0.9
    return [dict(dataset="iris", strategy=strategy, trial=trial, fold=f, epoch=e + 1, subset_size=subset[e],
                 labels_used=labels[e], presentations=presentations[e], macs=macs[e], scored=scored[e],
                 diverged=False, wall_s=wall, train_loss=0.1, val_loss=0.1, accuracy=acc, f1=acc,
                 precision=acc, recall=acc, mcc=acc, mse=1 - acc)
            for f in range(2) for e in range(2)]


def _cost_frame() -> pd.DataFrame:
    """One problem, a pool of 100, two runs (folds) a strategy, two epochs; each strategy one engine call
    (one final wall_s shared by its two networks)."""
    rows = []
    for t in (0,):
        rows += _run("passive", t, (100, 100), (100, 100), (100, 200), (1000, 2000), (0, 0), 1.0)
        rows += _run("sasla", t, (100, 60), (100, 100), (100, 160), (2500, 5000), (100, 200), 2.0)
        rows += _run("entropy", t, (10, 20), (10, 20), (10, 30), (700, 1500), (90, 170), 1.2)
    return pd.DataFrame(rows)


def test_cost_table_holds_the_hand_worked_values():
    ctx = cx.build_context(grids={}, winners={}, trials=_cost_frame(), profile={}, data=None, references={})
    rows = sel.cost_rows(ctx).set_index("strategy")
    # SASLA: 60 of 100 patterns at the end, 160/200 presentations, 5000/2000 MACs, 1.0 s / 0.5 s per network
    assert rows.loc["sasla", ["subset", "labels", "presentations", "macs", "wall"]].tolist() == \
        pytest.approx([0.6, 1.0, 0.8, 2.5, 2.0])
    assert np.isnan(rows.loc["sasla", "scored_per_label"])  # not an incremental strategy
    assert rows.loc["sasla", "set_aside"] == pytest.approx(0.4)  # 40 of its 100 patterns aside at epoch 2
    assert np.isnan(rows.loc["entropy", "set_aside"])  # not a selective strategy
    # entropy: 20 labelled, 30/200 presentations, 1500/2000 MACs, 170 scored for 10 labels added, 0.6 s / 0.5 s
    assert rows.loc["entropy", ["subset", "labels", "presentations", "macs", "scored_per_label", "wall"]].tolist() \
        == pytest.approx([0.2, 0.2, 0.15, 0.75, 17.0, 1.2])
    table = sel.cost_table(ctx)
    assert "Iris & SASLA & 60 & 40 & 100 & 80 & 250 & -- & 2.0 \\\\" in table
    assert " & Entropy & 20 & -- & 20 & 15 & 75 & 17 & 1.2 \\\\" in table
    # the median block over one problem repeats its rows
    assert "Median & SASLA & 60 & -- & 100 & 80 & 250 & -- & 2.0 \\\\" in table


def test_overhead_sentence_quotes_the_cost_tables_medians():
    ctx = cx.build_context(grids={}, winners={}, trials=_cost_frame(), profile={}, data=None, references={})
    text = sel.overhead_text(ctx)
    assert "took 2.0 and 1.2 times" in text and "Table~\\ref{sup:tab:cost}" in text


def test_ranks_table_prints_friedmans_p_as_scipy_computes_it():
    rng = np.random.default_rng(3)
    scores = pd.DataFrame(rng.uniform(0.6, 0.9, (4, 3)), index=list("abcd"), columns=["passive", "sasla", "random"])
    fr = st.friedman_iman_davenport(scores, higher_is_better=True)
    p = sps.friedmanchisquare(*[scores[c] for c in scores.columns]).pvalue
    post = st.holm_vs_control(fr.avg_ranks, fr.n, control="passive")
    table = tb.ranks_table({"classification": {"friedman": fr, "post": post, "cd": 1.0}, "regression": None})
    assert f"$p$ of $\\chi^2_F$ & \\multicolumn{{2}}{{c}}{{{pval(p)}}}" in table
    floor = st.power_limits(3, 4)["min_p_friedman"]
    assert f"Smallest attainable $p$ of $\\chi^2_F$ & \\multicolumn{{2}}{{c}}{{{pval(floor)}}}" in table
    assert "\\multicolumn{2}{c}{\\na}" in table  # no test for the task without one


@pytest.mark.parametrize("metric, ours, point, printed", [
    ("accuracy", 0.805, {"metric": "accuracy", "value": 0.871}, "$-$6.6 points"),
    ("accuracy", 0.9, {"metric": "accuracy", "value": 0.9}, "equal"),
    ("rmse", 0.139, {"metric": "rmse", "value": 0.1}, "1.39$\\times$"),
    ("accuracy", 0.964, {"metric": "accuracy", "low": 0.961, "high": 1.0}, "inside"),
    ("r2", 0.946, {"metric": "r2", "value": 0.98}, "below"),
])
def test_sanity_tables_comparison_is_the_texts(metric, ours, point, printed):
    c = {"problem": "sine", "metric": metric, "ours": ours, "short": "ref", "bibkey": "",
         **rs.relation(ours, point, False)}
    assert rs.against(c) == printed
    text = make("sanity", (), {"clauses": [c], "floor": False}).text
    if printed.endswith("points"):
        assert "6.6 points below" in text
    if printed.endswith("$\\times$"):
        assert "1.39 times" in text
