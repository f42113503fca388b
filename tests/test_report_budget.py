"""The budget section of the paper: every finding kind stated when the numbers say so and only then,
and every check trips on a claim its tables contradict."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from alnn import analysis as an
from alnn import stats as st
from alnn.report import budget as rb


def _frame(**efficiency):
    return an.synthetic_budget_frame(("iris", "wine", "sine"), trials=4, folds=5, budgets=8,
                                     efficiency=efficiency or None, noise=0.01, seed=3)


@pytest.fixture(scope="module")
def strong():
    """Entropy much better than random (efficiency 3), sensitivity much worse (0.3), the committee equal."""
    return rb.budget_results(_frame(entropy=3.0, ensemble=1.0, sensitivity=0.3))


@pytest.fixture(scope="module")
def null():
    """Every query strategy exactly as label-efficient as random sampling."""
    return rb.budget_results(_frame(entropy=1.0, ensemble=1.0, sensitivity=1.0))


def _by(found, kind, *subjects):
    return next(f for f in found if f.kind == kind and f.subjects == subjects)


def test_aubc_finding_states_better_and_worse_exactly_when_the_test_says_so(strong, null):
    found = rb.findings(strong)
    assert _by(found, "aubc", "iris", "entropy").numbers["verdict"] == "better"
    assert "significantly better than random sampling" in _by(found, "aubc", "iris", "entropy").text
    assert _by(found, "aubc", "iris", "sensitivity").numbers["verdict"] == "worse"
    assert _by(found, "aubc", "sine", "sensitivity").numbers["verdict"] == "worse"
    for f in rb.findings(null):
        if f.kind == "aubc":
            t = null.test(*f.subjects)
            assert (f.numbers["verdict"] != "none") == bool(t["significant"])
            assert ("significantly" in f.text.replace("does not differ significantly", "")) == bool(t["significant"])


def test_budgets_finding_counts_the_significant_budgets(strong):
    found = rb.findings(strong)
    f = _by(found, "budgets", "iris", "entropy")
    c = strong.comparisons
    rows = c[(c["dataset"] == "iris") & (c["strategy"] == "entropy") & (c["quantity"] == "budget")]
    assert f.numbers["better"] == int((rows["significant"] & (rows["direction"] == "better")).sum()) > 0
    assert f.numbers["budgets"] == len(strong.schedules["iris"]) == 8


def test_target_finding_never_crowns_a_strategy_that_rarely_reaches_the_target(strong):
    found = rb.findings(strong)
    f = _by(found, "target", "iris")
    assert f.numbers["fewest"] == ["entropy"]
    # a strategy that reaches the target in 1 of 20 runs, at few labels, is not the most label-efficient
    t = strong.targets.copy()
    sel = (t["dataset"] == "iris") & (t["strategy"] == "sensitivity") & np.isclose(t["fraction"], rb.TARGET)
    idx = t.index[sel]
    t.loc[idx, "censored"] = True
    t.loc[idx, "reached"] = False
    t.loc[idx, "labels"] = np.nan
    t.loc[idx[0], ["censored", "reached", "labels"]] = [False, True, 10.0]
    fooled = dataclasses.replace(strong, targets=t)
    f2 = _by(rb.findings(fooled), "target", "iris")
    assert "sensitivity" not in f2.numbers["fewest"]
    assert "1/20 runs reach it" in f2.text


def test_across_finding_follows_the_friedman_decision(strong):
    f = _by(rb.findings(strong), "budget-across", "classification")
    a = strong.across["classification"]
    assert f.numbers["reject"] == (a["friedman"].p_chi2 <= 0.05)  # the chi-square p, as the main text
    assert f.numbers["p"] >= f.numbers["floor"]
    assert ("does not reject" in f.text) == (not f.numbers["reject"])


@pytest.mark.parametrize("kind,subjects,tamper", [
    ("aubc", ("iris", "entropy"), {"verdict": "none"}),
    ("aubc", ("iris", "ensemble"), {"verdict": "better"}),
    ("budgets", ("iris", "entropy"), {"better": 0}),
    ("budget-across", ("classification",), {"reject": None}),
    ("target", ("iris",), {"fewest": ["random"]}),
])
def test_every_check_trips_on_a_contradicted_claim(strong, kind, subjects, tamper):
    found = rb.findings(strong)
    f = _by(found, kind, *subjects)
    numbers = dict(f.numbers)
    for key, value in tamper.items():
        numbers[key] = (not numbers[key]) if value is None else value
    bad = dataclasses.replace(f, numbers=numbers)
    with pytest.raises(rb.FindingError):
        rb.check_findings([bad], strong)


def test_text_that_contradicts_its_record_is_caught(strong):
    f = _by(rb.findings(strong), "aubc", "iris", "entropy")
    bad = dataclasses.replace(f, text=f.text.replace("significantly better", "significantly worse"))
    with pytest.raises(rb.FindingError):
        rb.check_findings([bad], strong)


def test_summary_sentence_counts_the_aubc_verdicts(strong):
    found = rb.findings(strong)
    v = rb.budget_values(strong, found)
    better = [f for f in found if f.kind == "aubc" and f.numbers["verdict"] == "better"]
    worse = [f for f in found if f.kind == "aubc" and f.numbers["verdict"] == "worse"]
    n = len([f for f in found if f.kind == "aubc"])
    text = v["text/budget-summary"]
    assert text.startswith(f"Of the {n} comparisons")
    assert f"{len(better)} is significantly better" in text or f"{len(better)} are significantly better" in text
    assert f"{len(worse)} significantly worse" in text


def test_table_marks_exactly_the_significant_cells(strong):
    tex = rb.budget_table(strong)
    rows = {line.split(" (")[0]: line for line in tex.splitlines() if "(" in line and "&" in line}
    c = strong.comparisons[strong.comparisons["quantity"] == "aubc"]
    n_plus = int((c["significant"] & (c["direction"] == "better")).sum())
    n_minus = int((c["significant"] & (c["direction"] == "worse")).sum())
    assert tex.count("\\sigup") == n_plus and tex.count("\\sigdown") == n_minus
    assert "$^{" not in tex  # no superscript sign that a reader could take for the Bayesian verdict
    assert "Iris" in rows and "Sine" in rows


def test_the_budget_by_budget_sentence_names_exactly_the_cells_that_differ(strong, null):
    found = rb.findings(strong)
    f = _by(found, "budgets-summary")
    cells = [g for g in found if g.kind == "budgets"]
    assert f.numbers["tested"] == len(cells)
    assert [(c["problem"], c["strategy"]) for c in f.numbers["cells"]] == \
        [g.subjects for g in cells if g.numbers["better"] or g.numbers["worse"]]
    quiet = _by(rb.findings(null), "budgets-summary")
    assert not quiet.numbers["cells"] and quiet.text.endswith("none differs significantly from random sampling "
                                                              "at any budget.")


def _dip(frame: pd.DataFrame, problem: str, budget_index: int, by: float) -> pd.DataFrame:
    """Random sampling's accuracy on ``problem`` lowered by ``by`` at one budget (every run)."""
    f = frame.copy()
    b = sorted(f.loc[(f["dataset"] == problem) & (f["strategy"] == "random"), "budget"].unique())[budget_index]
    sel = (f["dataset"] == problem) & (f["strategy"] == "random") & (f["budget"] == b)
    f.loc[sel, "accuracy"] -= by
    return f


def _stall(frame: pd.DataFrame, problem: str, runs: int, error: float = 4.0) -> pd.DataFrame:
    """The first ``runs`` networks of passive learning's ceiling on ``problem`` end at MSE ``error`` (stalled)."""
    f = frame.copy()
    sel = f.index[(f["dataset"] == problem) & (f["strategy"] == "passive")]
    f.loc[sel[:runs], "mse"] = error
    return f


def test_a_ceiling_carried_by_a_few_stalled_networks_is_stated_with_the_mean_without_them(null):
    """Regression: on Sine the ceiling's mean MSE (0.0286) was above random sampling's AUBC (0.0276), without
    a word on the stalled networks behind it."""
    assert not [f for f in rb.findings(null) if f.kind == "carried"]
    res = rb.budget_results(_stall(_frame(entropy=1.0, ensemble=1.0, sensitivity=1.0), "sine", 3))
    f = _by(rb.findings(res), "carried", "sine")
    ceiling = res.frame[(res.frame["dataset"] == "sine") & (res.frame["strategy"] == "passive")]["mse"].to_numpy()
    assert f.numbers["far"] == 3 and f.numbers["runs"] == len(ceiling) == 20
    assert f.numbers["rest"] == pytest.approx(np.sort(ceiling)[:-3].mean(), rel=1e-12)
    assert "3 of the ceiling's 20 networks end with an MSE above 3 times the median" in f.text
    assert "like the runs that stall in the draft's protocol" in f.text
    assert "and without them the ceiling's mean would be better than random sampling's AUBC" in f.text
    rb.check_findings([f], res)
    # the training table counts them at the last budget of the ceiling
    t = res.training
    assert int(t[(t["dataset"] == "sine") & (t["strategy"] == "passive")]["far_off"].iloc[0]) == 3


def test_a_random_sampling_curve_that_gets_worse_beyond_its_interval_is_stated_and_only_then(null):
    """The curve-sanity finding: stated (with its budgets) where random sampling's mean criterion falls
    beyond the corrected 95% interval of the paired difference, not stated on a curve that rises."""
    found = rb.findings(null)
    summary = _by(found, "drops-summary")
    assert summary.numbers["problems"] == [] and summary.text.startswith("On none of the 3 problems")
    assert not [f for f in found if f.kind == "drops"]
    res = rb.budget_results(_dip(_frame(entropy=1.0, ensemble=1.0, sensitivity=1.0), "wine", 4, 0.2))
    found = rb.findings(res)
    f = _by(found, "drops", "wine")
    b = sorted(res.schedules["wine"])
    assert [(c["from"], c["to"]) for c in f.numbers["cells"]] == [(b[3], b[4])]
    assert "gets worse beyond its 95\\% interval" in f.text
    assert _by(found, "drops-summary").numbers["problems"] == ["wine"]
    # a dip well inside the runs' spread is no drop: the interval straddles zero
    quiet = rb.budget_results(_dip(_frame(entropy=1.0, ensemble=1.0, sensitivity=1.0), "wine", 4, 0.0))
    assert not [g for g in rb.findings(quiet) if g.kind == "drops"]


def test_the_curve_sanity_check_trips_on_tampered_numbers_and_text(null):
    res = rb.budget_results(_dip(_frame(entropy=1.0, ensemble=1.0, sensitivity=1.0), "iris", 3, 0.2))
    found = rb.findings(res)
    f = _by(found, "drops", "iris")
    wrong = dataclasses.replace(f, numbers={**f.numbers, "cells": f.numbers["cells"][:0]})
    with pytest.raises(rb.FindingError):
        rb.check_findings([wrong], res)
    s = _by(found, "drops-summary")
    with pytest.raises(rb.FindingError):
        rb.check_findings([dataclasses.replace(s, numbers={**s.numbers, "problems": []})], res)
    with pytest.raises(rb.FindingError):  # the text says none though a curve falls
        rb.check_findings([dataclasses.replace(s, text="On none of the 3 problems does it.")], res)


def test_the_diverged_finding_counts_the_runs_from_the_per_run_rows():
    frame = an.synthetic_budget_frame(("iris", "sine"), trials=3, folds=5, budgets=6, seed=2,
                                      diverge=[("sine", "random", 1, 2, 3), ("sine", "ensemble", 0, 0, 1)])
    res = rb.budget_results(frame)
    found = rb.findings(res)
    f = _by(found, "diverged")
    assert f.numbers["per_problem"] == {"iris": 0, "sine": 2}
    assert f.text.startswith("Of the 135 runs of the budget protocol, 2 have") and "left out of every mean" in f.text
    bad = dataclasses.replace(f, numbers={**f.numbers, "per_problem": {"iris": 0, "sine": 1}})
    with pytest.raises(rb.FindingError):
        rb.check_findings([bad], res)


def test_the_training_table_prints_random_samplings_fit_at_every_budget(strong):
    table = rb.training_table(strong)
    t = strong.training
    sub = t[(t["dataset"] == "iris") & (t["strategy"] == "random")]
    assert len(sub) == len(strong.schedules["iris"])
    line = next(l for l in table.splitlines() if l.startswith(" & train loss") and "Iris" not in l)
    assert line.count("&") == 1 + len(sub)
    assert "$B_{7}$" in table


def test_the_family_finding_groups_the_verdicts_and_its_check_trips(strong):
    found = rb.findings(strong)
    unc = _by(found, "families", "uncertainty")
    assert unc.numbers["members"] == ["entropy"]  # the field's members were not run on this frame
    assert sorted(map(tuple, unc.numbers["better"])) == [("iris", "entropy"), ("wine", "entropy")]
    assert "beats random sampling significantly on AUBC in 2 of the 2" in unc.text
    sens = _by(found, "families", "sensitivity")
    assert sens.numbers["better"] == [] and " in none of the " in sens.text
    assert sorted(map(tuple, sens.numbers["worse"])) == [("iris", "sensitivity"), ("sine", "sensitivity"),
                                                          ("wine", "sensitivity")]
    bad = dataclasses.replace(unc, numbers={**unc.numbers, "better": unc.numbers["better"][:1]})
    with pytest.raises(rb.FindingError):
        rb.check_findings([bad], strong)


def test_a_query_strategy_whose_curve_falls_is_stated_and_checked():
    f = _frame(entropy=1.0, ensemble=1.0, sensitivity=1.0)
    b = sorted(f.loc[(f["dataset"] == "wine") & (f["strategy"] == "entropy"), "budget"].unique())[4]
    sel = (f["dataset"] == "wine") & (f["strategy"] == "entropy") & (f["budget"] == b)
    f.loc[sel, "accuracy"] -= 0.2
    res = rb.budget_results(f)
    q = _by(rb.findings(res), "query-drops")
    bs = sorted(res.schedules["wine"])
    assert q.numbers["cells"] == [["wine", "entropy", bs[3], bs[4]]] and q.numbers["random_clean"] == ["wine"]
    assert "entropy sampling on Wine" in q.text and "does not fall so" in q.text
    with pytest.raises(rb.FindingError):
        rb.check_findings([dataclasses.replace(q, numbers={**q.numbers, "cells": []})], res)
    calm = _by(rb.findings(rb.budget_results(_frame(entropy=1.0, ensemble=1.0, sensitivity=1.0))), "query-drops")
    assert calm.numbers["cells"] == [] and calm.text.startswith("No query strategy")


# --------------------------------------------------------------------------- every kind of the registry
@pytest.fixture(scope="module")
def every():
    """Budget results on which every kind of the budget section occurs: entropy better and sensitivity
    worse than random, a dip in random sampling's Wine curve, and the draft protocol's passive values."""
    res = rb.budget_results(_stall(_dip(_frame(entropy=3.0, ensemble=1.0, sensitivity=0.3), "wine", 4, 0.2),
                                   "sine", 3))
    res = dataclasses.replace(res, trials_passive={p: float(res.reference.loc[res.reference["dataset"] == p,
                                                                               "mean"].iloc[0]) * 1.01
                                                   for p in res.problems})
    return res, rb.findings(res)


def _flip(key):
    return lambda n: n.update({key: not n[key]})


BUDGET_TAMPER = {
    "aubc": lambda n: n.update(verdict="none" if n["verdict"] != "none" else "better"),
    "budgets": lambda n: n.update(better=n["better"] + 1),
    "budget-across": lambda n: n.update(reject=not n["reject"]) if n["tested"] else n.update(note="tested"),
    "target": lambda n: n.update(median={s: m + 5 for s, m in n["median"].items()}),
    "plateau": lambda n: n.update(ceiling=n["ceiling"] * 0.5),
    "drops": lambda n: n.update(cells=n["cells"][1:]),
    "drops-summary": lambda n: n.update(problems=[]),
    "query-drops": lambda n: n.update(cells=n["cells"] + [["iris", "entropy", 10, 12]]),
    "diverged": lambda n: n.update(per_problem={p: k + 1 for p, k in n["per_problem"].items()}),
    "families": lambda n: n.update(better=n["worse"], worse=n["better"]) if n["better"] or n["worse"]
    else n.update(better=[list(n["cells"][0])]),
    "budgets-summary": lambda n: n.update(cells=n["cells"][1:] if n["cells"] else
                                          [{"problem": "iris", "strategy": "entropy", "better": 1, "worse": 0,
                                            "budgets": 8}]),
    "targets": lambda n: n.update(rows=[{**r, "fewest": ["sensitivity"]} for r in n["rows"]]),
    "plateaus": lambda n: n.update(rows=[{**r, "ceiling": r["ceiling"] * 0.5} for r in n["rows"]]),
    "carried": lambda n: n.update(far=n["far"] - 1, rest=n["rest"] * 2),
    "aubc-summary": lambda n: n.update(better=n["worse"], worse=n["better"]),
}


def test_every_budget_kind_occurs_and_has_a_tamper_case(every):
    from alnn.report import claims as cl

    declared = {k.name for k in cl.kinds("alnn.report.budget")}
    assert {f.kind for f in every[1]} == declared == set(BUDGET_TAMPER)


@pytest.mark.parametrize("kind", sorted(BUDGET_TAMPER))
def test_every_budget_check_trips_on_tampered_numbers_and_on_tampered_text(every, kind):
    from alnn.report import claims as cl

    res, found = every
    fs = [f for f in found if f.kind == kind]
    for f in fs:
        numbers = {k: (v.copy() if hasattr(v, "copy") else v) for k, v in f.numbers.items()}
        BUDGET_TAMPER[kind](numbers)
        bad = cl.make(kind, f.subjects, numbers)  # the text rendered from the tampered numbers
        with pytest.raises(rb.FindingError, match=kind):
            rb.check_findings([bad], res)
        with pytest.raises(rb.FindingError, match=kind):
            rb.check_findings([dataclasses.replace(f, text=f.text.replace(".", ",", 1) + " ")], res)


def test_the_largest_fall_says_how_well_its_networks_fit_their_labelled_sets(every):
    """Regression: Wine's query strategies fell at 18 labels where their networks fit L worse (training
    accuracy 0.86-0.92 against random sampling's 0.97), and the paper gave the fall without the fit."""
    res, found = every
    f = _by(found, "query-drops")
    p, s, _, b1, *_ = f.numbers["largest"]
    fr = res.frame
    at = fr[(fr["dataset"] == p) & (fr["budget"] == b1)]
    hand = [at.loc[at["strategy"] == k, "train_accuracy"].mean() for k in (s, "random")]
    assert f.numbers["fit"] == pytest.approx(hand, rel=1e-12)
    assert f"At {b1} labels its networks fit their labelled sets" in f.text
    bad = dataclasses.replace(f, numbers={**f.numbers, "fit": [hand[0] - 0.1, hand[1]]})
    with pytest.raises(rb.FindingError, match="training accuracies"):
        rb.check_findings([bad], res)
