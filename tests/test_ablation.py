"""The ablation stage (SPEC 3d): settings batched as one model equal separate runs; the stage's
shards resume and equal a straight run; its variants and settings; its findings and their checks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import alnn
from alnn import config as C
from alnn import pipeline as P
from alnn import store as S
from alnn.budget import run_budget
from alnn.model import TrainConfig
from alnn.report import ablation as A
from alnn.report.claims import FindingError

CFG = TrainConfig(hidden=6, lr=0.1, momentum=0.9, weight_decay=0.0, batch_size=16)


@pytest.fixture(scope="module")
def iris():
    return P.dataset("iris", None, 0)


def _drop(frame):
    return frame.drop(columns=["wall_s"]).reset_index(drop=True)


def test_sasla_settings_in_one_batched_model_equal_separate_runs(iris):
    settings = [{"beta": b, "tau": t, "norm": n} for b in (0.5, 0.95) for t in (1, 3) for n in ("sum", "euclidean")]
    batched = alnn.run(iris, "sasla", config=CFG, trials=2, folds=2, epochs=7, seed=4, progress=False,
                       settings=settings)
    assert sorted(batched["setting"].unique()) == list(range(len(settings)))
    for i, s in enumerate(settings):
        alone = alnn.run(iris, "sasla", config=CFG, trials=2, folds=2, epochs=7, seed=4, progress=False, params=s)
        pd.testing.assert_frame_equal(_drop(batched[batched["setting"] == i].drop(columns="setting")), _drop(alone))


def test_probability_settings_batched_in_the_budget_protocol_equal_separate_runs(iris):
    settings = [{"probability": "softmax"}, {"probability": "normalised"}]
    batched = run_budget(iris, "entropy", config=CFG, trials=1, folds=3, round_epochs=3, seed=4, progress=False,
                         settings=settings)
    for i, s in enumerate(settings):
        alone = run_budget(iris, "entropy", config=CFG, trials=1, folds=3, round_epochs=3, seed=4, progress=False,
                           params=s)
        pd.testing.assert_frame_equal(_drop(batched[batched["setting"] == i].drop(columns="setting")), _drop(alone))


def test_settings_must_share_strategy_and_members(iris):
    with pytest.raises(ValueError, match="settings must be a non-empty list of parameter dicts"):
        alnn.run(iris, "sasla", config=CFG, trials=1, folds=2, epochs=1, seed=0, settings={"beta": 0.5})
    with pytest.raises(ValueError, match="sasla: beta must be a number in"):
        alnn.run(iris, "sasla", config=CFG, trials=1, folds=2, epochs=1, seed=0, settings=[{"beta": 2.0}])


def test_variants_cover_spec_3d(iris):
    prof = C.load_profile("quick")
    names = [v.name for v in P.ablation_variants(prof.problem("iris"))]
    assert names[0] == "trials-sasla-grid"
    for want in ("trials-passive-members", "trials-random-members", "trials-entropy-normalised",
                 "budget-random-members", "budget-ensemble-normalised", "budget-random-warm",
                 "budget-sensitivity-rounds", "budget-entropy-schedule"):
        assert want in names
    grid = P.ablation_variants(prof.problem("iris"))[0]
    a = prof.problem("iris").ablation
    assert len(grid.settings) == len(a.sasla_beta) * len(a.sasla_tau) * len(a.sasla_norm)
    sine = [v.name for v in P.ablation_variants(prof.problem("sine"))]
    assert not any("entropy" in n or "normalised" in n for n in sine)
    assert prof.ablation_problems == ("iris", "wine", "sine", "energy-efficiency")
    full = C.load_profile("full").problem("iris").ablation
    assert full.sasla_beta == (0.5, 0.75, 0.9, 0.95, 0.99) and full.sasla_tau == (1, 10, 50)


@pytest.mark.parametrize("table,match", [
    ({"problems": ["iris", "mnist"]}, "unknown problem 'mnist'; valid: iris, wine"),
    ({"sasla_beta": [0.5, 1.5]}, "sasla_beta = \\[0.5, 1.5\\] must hold numbers in \\(0, 1\\)"),
    ({"sasla_norm": ["max"]}, "'max' is not a valid norm; valid: sum, euclidean"),
    ({"strategies": ["passive"]}, "'passive' has no budget ablation; valid: entropy, ensemble, random, sensitivity"),
    ({"members": 1}, "members"),
])
def test_bad_ablation_settings_name_the_value_and_the_valid_ones(table, match):
    import tomllib

    raw = tomllib.loads(C.PROFILES_PATH.read_text())
    raw["smoke"]["ablation"] = {**raw["smoke"].get("ablation", {}), **table}
    with pytest.raises(C.ConfigError, match=match):
        C.parse_profiles(raw)


def _stage(tmp_path):
    store = S.Store.of("smoke", tmp_path)
    prof = C.load_profile("smoke")
    ex = C.Execution(workers=1, progress=False)
    for p in prof.ablation_problems:
        P.data(prof, p, store=store)
        P.grid(prof, p, store=store, execution=ex)
    return prof, store, ex


def test_ablation_stage_resumes_to_identical_numbers(tmp_path):
    prof, store, ex = _stage(tmp_path)
    P.ablation(prof, store=store, execution=ex)
    first = {(p, pr): P.read_ablation(store, p, pr) for p in prof.ablation_problems for pr in ("trials", "budget")}
    shards = sorted((tmp_path / "smoke" / "shards").rglob("*.parquet"))
    ablation_shards = [s for s in shards if "ablation-" in str(s)]
    assert ablation_shards
    ablation_shards[0].unlink()  # a shard lost in an interruption
    ablation_shards[1].write_bytes(ablation_shards[1].read_bytes()[:100])  # and one cut short
    P.ablation(prof, store=store, execution=ex)
    for key, frame in first.items():
        pd.testing.assert_frame_equal(_drop(P.read_ablation(store, *key)), _drop(frame))
    grid = first[("iris", "trials")]
    grid = grid[grid["variant"] == "trials-sasla-grid"]
    assert len(grid[["beta", "tau", "norm"]].drop_duplicates()) == 2 * 2 * 2
    with pytest.raises(C.ConfigError, match="no ablations in profile 'smoke'; valid: iris, sine"):
        P.ablation(prof, ["wine"], store=store, execution=ex)


def _synthetic(shift=0.0, noise=0.002, seed=0):
    """Ablation and default frames of one problem built so that the answers are known."""
    rng = np.random.default_rng(seed)
    rows_t, rows_a, rows_b, rows_ab = [], [], [], []
    labels_trials = {"passive": 0.9, "ensemble": 0.9 + shift, "random": 0.9, "entropy": 0.9}
    for t in range(3):
        for f in range(5):
            base = rng.normal(0, noise)
            for s, v in labels_trials.items():
                rows_t.append(dict(dataset="iris", strategy=s, trial=t, fold=f, epoch=10, diverged=False,
                                   accuracy=v + base + rng.normal(0, noise / 4), presentations=1000, macs=10_000))
            for name, s, v, extra in (("trials-passive-members", "passive", 0.9 + shift, {}),
                                      ("trials-random-members", "random", 0.9 + shift, {}),
                                      ("trials-entropy-normalised", "entropy", 0.9, {}),
                                      ("trials-ensemble-normalised", "ensemble", 0.9 + shift, {})):
                rows_a.append(dict(dataset="iris", variant=name, factor="members", level="3", strategy=s, trial=t,
                                   fold=f, epoch=10, diverged=False, accuracy=v + base + rng.normal(0, noise / 4),
                                   presentations=1000, macs=30_000, beta=np.nan, tau=pd.NA, norm=None))
            for beta, macs in ((0.5, 5_000), (0.9, 20_000)):
                rows_a.append(dict(dataset="iris", variant="trials-sasla-grid", factor="sasla", level="grid",
                                   strategy="sasla", trial=t, fold=f, epoch=10, diverged=False,
                                   accuracy=0.9 + base + rng.normal(0, noise / 4), presentations=500, macs=macs,
                                   beta=beta, tau=1, norm="sum"))
    trials = pd.DataFrame(rows_t)
    abl = pd.DataFrame(rows_a)
    abl["tau"] = abl["tau"].astype("Int64")
    return {"trials": abl, "budget": pd.DataFrame()}, trials


def test_findings_state_the_controls_and_the_saving_settings_and_checks_trip_on_tampering():
    abl, trials = _synthetic(shift=0.0)
    res = A.ablation_results(abl, trials=trials)
    found = A.findings(res)
    sasla = next(f for f in found if f.kind == "sasla")
    assert sasla.numbers["settings"] == 2 and sasla.numbers["cheaper"] == 1  # 5k and 20k against passive's 10k
    assert sasla.numbers["saving"] == 1 and sasla.numbers["cheapest"]["macs_share"] == pytest.approx(0.5)
    assert "the cheapest ($\\beta=0.5$" in sasla.text
    summary = next(f for f in found if f.kind == "control-summary")
    assert not summary.numbers["advantage"] and "no advantage to explain away" in summary.text
    bad = dataclasses.replace(sasla, numbers={**sasla.numbers, "saving": 0})
    with pytest.raises(FindingError, match="sasla"):
        A.check_findings([bad], res)
    ctrl = next(f for f in found if f.kind == "control")
    flipped = "inconclusive" if ctrl.numbers["members"]["verdict"] != "inconclusive" else "equivalent"
    bad = dataclasses.replace(ctrl, numbers={**ctrl.numbers, "members": {**ctrl.numbers["members"],
                                                                         "verdict": flipped}})
    with pytest.raises(FindingError, match="control"):
        A.check_findings([bad], res)


def test_a_committee_advantage_that_voting_explains_is_said_not_to_survive():
    abl, trials = _synthetic(shift=0.05)  # the committee and the three-member controls all gain 5 points
    res = A.ablation_results(abl, trials=trials)
    found = A.findings(res)
    summary = next(f for f in found if f.kind == "control-summary")
    assert summary.numbers["advantage"] == [("iris", "trials")]
    assert summary.numbers["kept"] == []
    assert "survives on none of them: the gain comes from voting" in summary.text
    table = A.ablation_table(res)
    assert "Iris & 5.0" in table


ABLATION_TAMPER = {
    "control": lambda n: n.update(single={**n["single"], "verdict": "worse" if n["single"]["verdict"] != "worse"
                                          else "better"}),
    "control-summary": lambda n: n.update(advantage=n["cells"], kept=n["cells"]),
    "sasla": lambda n: n.update(saving=n["saving"] + 1),
    "sasla-summary": lambda n: n.update(rows=[{**r, "saving": r["saving"] + 1} for r in n["rows"]]),
    "probability": lambda n: n.update(verdict="worse" if n["verdict"] != "worse" else "better"),
    "probability-summary": lambda n: n.update(different=n["cells"], equivalent=[]),
}


def _with_identical_setting(abl, trials):
    """A SASLA setting that never sets a pattern aside: its runs are passive learning's own."""
    t = abl["trials"]
    same = trials[trials["strategy"] == "passive"].merge(
        t[(t["variant"] == "trials-sasla-grid") & (t["beta"] == 0.5)][["trial", "fold"]], on=["trial", "fold"])
    extra = same.assign(variant="trials-sasla-grid", factor="sasla", level="grid", strategy="sasla", beta=0.99,
                        tau=1, norm="sum", macs=15_000)
    out = pd.concat([t, extra[t.columns]], ignore_index=True)
    out["tau"] = out["tau"].astype("Int64")
    return {**abl, "trials": out}


def test_every_ablation_kind_on_the_trials_checks_tampered_numbers_and_text():
    from alnn.report import claims as cl

    abl, trials = _synthetic(shift=0.0)
    res = A.ablation_results(_with_identical_setting(abl, trials), trials=trials)
    found = A.findings(res)
    assert {f.kind for f in found} == set(ABLATION_TAMPER)
    assert {k.name for k in cl.kinds("alnn.report.ablation")} >= set(ABLATION_TAMPER)
    for f in found:
        numbers = {k: (v.copy() if hasattr(v, "copy") else v) for k, v in f.numbers.items()}
        ABLATION_TAMPER[f.kind](numbers)
        with pytest.raises(FindingError, match=f.kind):
            A.check_findings([cl.make(f.kind, f.subjects, numbers)], res)
        with pytest.raises(FindingError, match=f.kind):
            A.check_findings([dataclasses.replace(f, text=f.text.replace(".", ",", 1) + " ")], res)


def test_a_setting_whose_runs_are_passive_learnings_is_said_to_be_so_not_equivalent():
    abl, trials = _synthetic(shift=0.0)
    res = A.ablation_results(_with_identical_setting(abl, trials), trials=trials)
    sasla = next(f for f in A.findings(res) if f.kind == "sasla")
    assert sasla.numbers["settings"] == 3 and sasla.numbers["untouched"] == 1
    assert "never set a pattern aside, so its runs are passive learning's own" in sasla.text
    row = res.sasla[res.sasla["beta"] == 0.99].iloc[0]
    assert row["equivalence"] == "identical"  # not "practically equivalent": the paired differences are all 0
    assert "practically worse" not in sasla.text or sasla.numbers["worse"]
