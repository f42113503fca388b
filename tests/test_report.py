"""The paper's generated layer (alnn.report): formatting, tables with known
answers, generated sentences that follow the numbers, and the whole paper
compiled from a synthetic result set (latexmk + pdftotext)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alnn import analysis as an
from alnn import report as rp
from alnn.config import load_profile
from alnn.report import context as cx
from alnn.report import figures as rf
from alnn.report import comparisons as cm
from alnn.report import reproduction as rpd
from alnn.report import format as fmt
from alnn.report import queries as rq
from alnn.report import tables as tb
from alnn.report.constants import DATASET_FACTS
from alnn.datasets import NAMES, TASKS

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "paper"
HAVE_LATEX = shutil.which("latexmk") is not None and shutil.which("pdftotext") is not None


# --------------------------------------------------------------------------- synthetic inputs
def synthetic_grid(problem: str, seed: int = 0) -> pd.DataFrame:
    """A small grid table, one row per configuration x fold; one configuration diverges."""
    rng = np.random.default_rng(seed)
    rows = []
    for h in (64, 256):
        for lr in (0.05, 0.5):
            for wd in (0.0, 0.001):
                for mo in (0.5, 0.9):
                    for fold in range(2):
                        loss = 0.1 + 0.01 * rng.random() + (0.05 if lr == 0.05 else 0) + wd
                        div = h == 256 and lr == 0.5 and wd == 0.001 and mo == 0.9
                        rows.append(dict(hidden=h, lr=lr, weight_decay=wd, momentum=mo,
                                         batch_size=16, fold=fold,
                                         val_loss=np.nan if div else loss, diverged=div))
    return pd.DataFrame(rows)


def synthetic_inputs(epochs: int = 30, trials: int = 2, folds: int = 3):
    frame = an.synthetic_frame(NAMES, trials=trials, folds=folds, epochs=epochs, pool=60,
                               diverge=[("wine", "ensemble", 0, 1, 20)], seed=1)
    grids = {p: synthetic_grid(p, i) for i, p in enumerate(NAMES)}
    winners = {}
    for p, g in grids.items():
        per = rq.grid_per_config(g)
        best = per[~per["diverged"]].sort_values("val_loss").iloc[0]
        winners[p] = dict(hidden=int(best["hidden"]), lr=float(best["lr"]),
                          weight_decay=float(best["weight_decay"]), momentum=float(best["momentum"]),
                          batch_size=16, val_loss=float(best["val_loss"]))
    profile = load_profile("quick").to_dict()
    masks = synthetic_diagnostics(epochs)
    return dict(grids=grids, winners=winners, trials=frame, profile=profile, masks=masks)


def synthetic_diagnostics(epochs: int, pool: int = 100) -> pd.DataFrame:
    """A SASLA selection record of one Iris network in the pipeline's long format
    (epoch, pattern, selected): patterns far from the class boundaries drop out."""
    rng = np.random.default_rng(3)
    patterns = np.sort(rng.choice(150, pool, replace=False))
    keep = np.ones((epochs, pool), bool)
    for e in range(1, epochs):
        keep[e] = rng.random(pool) < 1.0 - 0.6 * e / epochs
    frame = pd.DataFrame({"epoch": np.repeat(np.arange(1, epochs + 1), pool),
                          "pattern": np.tile(patterns, epochs), "selected": keep.reshape(-1)})
    frame.attrs["problem"] = "iris"
    return frame


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    inputs = synthetic_inputs()
    with pytest.warns(UserWarning, match="the profile says"):  # quick profile, synthetic counts
        res = rp.build(**inputs, generated_dir=out / "generated", figures_dir=out / "figures")
    return dict(out=out, inputs=inputs, result=res)


def values(path: Path) -> dict[str, str]:
    text = path.read_text()
    return dict(re.findall(r"^\\alnnset\{([^}]*)\}\{(.*)\}$", text, flags=re.M))


# --------------------------------------------------------------------------- formatting
def test_number_formatting():
    assert fmt.num(1234567.891, 0) == "1{,}234{,}568"
    assert fmt.num(-0.01234, sig=3) == "$-$0.0123"
    assert fmt.num(float("nan")) == "\\na"
    assert fmt.pct(0.9534) == "95.3\\%"
    assert fmt.pval(0.0004) == "$<$0.001" and fmt.pval(0.0456) == "0.046"
    assert fmt.count(56000) == "56.0k" and fmt.count(1500) == "1500" and fmt.count(2.5e6) == "2.5M"
    assert fmt.gnum(0.001) == "0.001" and fmt.gnum(512.0) == "512"
    assert fmt.decimals_for([0.0123, 0.2]) == 3 and fmt.decimals_for([123.4]) == 0
    assert fmt.join(["a", "b", "c"]) == "a, b and c" and fmt.join(["a"]) == "a"


def test_dataset_facts_match_loaders():
    from alnn import datasets

    for name in ("iris", "wine", "sine"):
        ds = datasets.load(name)
        assert DATASET_FACTS[name] == {"inputs": ds.n_features, "outputs": ds.n_outputs}


def test_references_are_cited_entries():
    refs = rp.load_references()
    bib = (PAPER / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    for problem in NAMES:
        for point in refs.get(problem, []):
            assert point["metric"]
            assert not point.get("bibkey") or point["bibkey"] in keys
            assert ("value" in point or "low" in point or "derived" in point or "reason" in point)


# --------------------------------------------------------------------------- tables with known answers
def _tiny_frame():
    """Two problems, passive vs sasla, fixed finals: sasla is 10 points better on iris."""
    rows = []
    for ds, base, delta in (("iris", 0.80, 0.10), ("wine", 0.90, 0.0)):
        for s in ("passive", "sasla"):
            for t in range(5):
                for f in range(3):
                    noise = 0.01 * ((t * 3 + f) % 4)
                    acc = base + (delta if s == "sasla" else 0.0) + noise
                    for e in (1, 2):
                        rows.append(dict(dataset=ds, strategy=s, trial=t, fold=f, epoch=e,
                                         subset_size=40 if s == "passive" else 20, labels_used=40,
                                         presentations=40 * e, scored=0, diverged=False, wall_s=0.1,
                                         train_loss=0.1, val_loss=0.1, accuracy=acc, f1=acc,
                                         precision=acc, recall=acc, mcc=acc, mse=1 - acc))
    return pd.DataFrame(rows)


def test_comparison_marks_best_and_significance():
    frame = _tiny_frame()
    ctx = cx.build_context(grids={}, winners={}, trials=frame, profile={}, data=None, references={})
    table = tb.comparison_table(ctx)
    iris = next(line for line in table.splitlines() if "Iris" in line and "Accuracy" in line)
    # passive 80 + mean noise 1.4 = 81.4; sasla 91.4, significantly better and bold
    assert "81.4" in iris and "\\best{91.4}\\sigup" in iris
    wine = next(line for line in table.splitlines() if "Wine" in line and "Accuracy" in line)
    assert "\\sigup" not in wine and "\\sigdown" not in wine
    assert wine.count("\\best{") == 2  # a tie: both bold


def test_findings_follow_the_numbers():
    frame = _tiny_frame()
    ctx = cx.build_context(grids={}, winners={}, trials=frame, profile={}, data=None, references={})
    text = cm.problem_comparison(ctx, "iris")
    assert "SASLA is significantly better than passive learning" in text
    wine = cm.problem_comparison(ctx, "wine")
    assert "no strategy is significantly better or worse than passive learning" in wine
    assert "practically equivalent to it" in wine or "inconclusive" in wine or "the same as it in every run" in wine
    flipped = frame.assign(strategy=frame["strategy"].map({"passive": "sasla", "sasla": "passive"}))
    ctx2 = cx.build_context(grids={}, winners={}, trials=flipped, profile={}, data=None, references={})
    assert "SASLA is significantly worse" in cm.problem_comparison(ctx2, "iris")


def test_pools_recover_dataset_size():
    frame = an.synthetic_frame(("iris",), trials=2, folds=3, epochs=3, pool=100)
    pools = cx._pools(frame)
    assert pools["iris"]["pool_mean"] == 100 and pools["iris"]["n"] == 150


def test_draft_claims_sentence_direction():
    frame = an.synthetic_frame(("fashion-mnist",), trials=2, folds=3, epochs=20, pool=60)
    ctx = cx.build_context(grids={}, winners={}, trials=frame, profile={}, data=None, references=None)
    text = rpd.draft_text(ctx)
    ours = ctx.stat("fashion-mnist", "passive", "accuracy")
    assert ours < 0.975 and "below the draft's 97.5\\% for passive learning" in text
    assert "beyond what this model class is known to reach" in text


# --------------------------------------------------------------------------- build
def test_build_writes_every_file(built):
    gen = built["out"] / "generated"
    figs = built["out"] / "figures"
    for name in rp.GENERATED:
        assert (gen / name).is_file(), name
    for name in rp.FIGURES:
        assert (figs / f"{name}.pdf").is_file() and (figs / f"{name}.png").is_file(), name
    assert not list(gen.glob(".*.tmp")) and not list(figs.glob(".*tmp*"))
    main = re.sub(r"(?<!\\)%.*", "", (PAPER / "main.tex").read_text() + (PAPER / "supplement.tex").read_text())
    used = set(re.findall(r"\\gen\{([^}]+)\}", main))
    defined = {}
    for name in ("profile.tex", "numbers.tex", "findings.tex", "budget.tex", "ablation.tex"):
        defined.update(values(gen / name))
    assert used <= set(defined), sorted(used - set(defined))
    inputs = set(re.findall(r"\\input\{([^}]+)\}", main)) - {"architecture"}
    assert {f"{i}.tex" for i in inputs} <= set(rp.GENERATED)
    graphics = set(re.findall(r"\\includegraphics(?:\[[^]]*\])?\{([^}]+)\}", main))
    assert graphics == set(rp.FIGURES)


def test_generated_citations_exist(built):
    bib = (PAPER / "references.bib").read_text()
    keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    gen = built["out"] / "generated"
    cited = set()
    for f in gen.glob("*.tex"):
        for group in re.findall(r"\\cite\{([^}]+)\}", f.read_text()):
            cited |= {k.strip() for k in group.split(",")}
    assert cited <= keys, cited - keys


def test_profile_is_printed(built):
    v = values(built["out"] / "generated" / "profile.tex")
    assert v["profile/name"] == "\\texttt{quick}"
    f = values(built["out"] / "generated" / "findings.tex")
    assert "reduced protocol" in f["text/profile-note"]
    table = (built["out"] / "generated" / "profile-table.tex").read_text()
    iris = next(line for line in table.splitlines() if line.startswith("Iris"))
    assert iris.split(" & ")[7:10] == ["2", "3", "30"]  # trials, folds, epochs of the results
    assert built["inputs"]["profile"]["problems"]["iris"]["trials"] != 2  # input left unchanged
    fm = load_profile("quick").problem("fashion-mnist")
    assert f"{fm.grid.size}$\\times${fm.grid_folds}$\\times${fm.grid_epochs}" in table


@pytest.mark.skipif(not HAVE_LATEX, reason="latexmk / pdftotext not installed")
def test_paper_compiles_and_reads_complete(built, tmp_path):
    paper = tmp_path / "paper"
    paper.mkdir()
    for name in ("main.tex", "supplement.tex", "references.bib", "architecture.tex"):
        shutil.copy(PAPER / name, paper / name)
    pdf = rp.compile_paper(paper, built["out"] / "generated", built["out"] / "figures",
                           outdir=tmp_path / "build")
    assert pdf.is_file()
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    flat = re.sub(r"-\n\s*", "", text)
    flat = re.sub(r"\s+", " ", flat).lower()
    for problem in rp.PROBLEM_LABELS.values():
        assert problem.lower() in flat, problem
    from alnn import config as C

    for s in C.STRATEGIES:  # the draft's protocol's (this paper's budget protocol was not run)
        assert rp.STRATEGY_LABELS[s].lower() in flat, s
    assert "todo" not in flat and "??" not in flat
    log = (tmp_path / "build" / "main.log").read_text(errors="replace")
    assert "undefined" not in log.lower()


def test_mask_forms_agree():
    """The diagnostics frame, the engine's record and {(trial, fold): record} give one history."""
    diag = synthetic_diagnostics(6)
    info = rf.mask_info(diag)
    assert info is not None and info["mask"].shape == (6, 100) and info["coords"].shape == (100, 2)
    pool = np.sort(diag["pattern"].unique())
    record = {"pool": pool, "mask": info["mask"]}
    for form in (record, {(0, 0): record}, {"problem": "iris", "masks": {(0, 0): record}}):
        other = rf.mask_info(form)
        assert np.array_equal(other["mask"], info["mask"])
        assert np.allclose(other["coords"], info["coords"])
    assert rf.mask_info(None) is None
    assert rf.mask_info({"problem": "wine", "pool": pool, "mask": info["mask"]}) is None


def test_large_values_use_scientific_notation():
    assert fmt.sci(740338.2) == "7.40$\\times$10$^{5}$"
    assert fmt.sci(-3.68e6) == "$-$3.68$\\times$10$^{6}$"


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_LATEX, reason="latexmk / pdftotext not installed")
def test_smoke_profile_end_to_end(tmp_path):
    """The real smoke pipeline (data, grid, trials in a temporary store) through report.build
    and latexmk, as the analysis notebook runs it."""
    from alnn import config as C
    from alnn import pipeline
    from alnn import store as S
    from alnn.datasets import DataError

    prof = C.load_profile("smoke")
    st = S.Store(tmp_path / "results")
    ex = C.Execution(workers=1, progress=False)
    try:
        for q in prof.problems:
            pipeline.data(prof, q, store=st)
            pipeline.grid(prof, q, store=st, execution=ex)
            pipeline.trials(prof, q, store=st, execution=ex)
    except DataError as exc:  # pragma: no cover - raw data unavailable
        pytest.skip(f"raw data unavailable: {exc}")
    grids = {q: S.read(st.grid_table(q), {"profile": prof.name, "problem": q}) for q in prof.problems}
    winners = {q: S.read_json(st.grid_winner(q)) for q in prof.problems}
    data = {q: S.read_json(st.data(q)) for q in prof.problems}
    trials = pd.concat([pipeline.read_trials(st, q, s) for q, s in prof.pairs()], ignore_index=True)
    masks = {"iris": pipeline.read_diagnostics(st, "iris", "sasla")}
    rp.build(grids=grids, winners=winners, trials=trials, profile=prof.to_dict(), data=data, masks=masks,
             generated_dir=tmp_path / "generated", figures_dir=tmp_path / "figures")
    pdf = rp.compile_paper(PAPER, tmp_path / "generated", tmp_path / "figures", outdir=tmp_path / "build")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = re.sub(r"\s+", " ", re.sub(r"-\n\s*", "", text)).lower()
    for name in list(rp.PROBLEM_LABELS.values()) + list(rp.STRATEGY_LABELS.values()):
        assert name.lower() in flat, name
    assert "todo" not in flat and "??" not in flat
    assert "reduced protocol" in flat and "smoke" in flat


@pytest.mark.skipif(not HAVE_LATEX, reason="latexmk / pdftotext not installed")
def test_compile_fails_on_undefined_value(tmp_path):
    """A \\gen key that no generated file defines stops the build with its name."""
    main = (PAPER / "main.tex").read_text()
    macros = main[main.index("\\makeatletter"):main.index("\\makeatother") + len("\\makeatother")]
    paper = tmp_path / "paper"
    paper.mkdir()
    (paper / "main.tex").write_text("\\documentclass{article}\n" + macros + "\n\\input{numbers}\n"
                                    "\\begin{document}\n\\gen{a/known} \\gen{a/missing}\n\\end{document}\n")
    gen = tmp_path / "generated"
    gen.mkdir()
    (gen / "numbers.tex").write_text("\\alnnset{a/known}{42}\n")
    with pytest.raises(rp.LatexError, match="a/missing"):
        rp.compile_paper(paper, gen, tmp_path / "figures")
    pdf = rp.compile_paper(paper, gen, tmp_path / "figures", check=False)
    assert "42" in subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout


def test_diverged_trial_runs_are_counted_in_the_text():
    from alnn.analysis import synthetic_frame

    calm = synthetic_frame(("iris", "sine"), trials=2, folds=3, epochs=20)
    ctx = cx.build_context(grids={}, winners={}, trials=calm, profile={}, data=None, references={})
    assert cm.divergence_text(ctx).startswith("None of the")
    wild = synthetic_frame(("iris", "sine"), trials=2, folds=3, epochs=20,
                           diverge=[("sine", "sasla", 0, 1, 5), ("sine", "sasla", 1, 2, 9)])
    ctx = cx.build_context(grids={}, winners={}, trials=wild, profile={}, data=None, references={})
    text = cm.divergence_text(ctx)
    assert "SASLA on Sine" in text and "(2 of 6)" in text, text


# --------------------------------------------------------------------------- alnn report
def synthetic_store(results: Path, profile: str = "smoke") -> dict:
    """``results/<profile>/`` holding synthetic frames in place of every result file the analysis notebook
    reads (the ablation frames empty), written as the stages write theirs; returns them as build's
    keyword arguments, concatenated as the notebook concatenates them."""
    from alnn import config as C
    from alnn import store as S

    prof = C.load_profile(profile)
    st = S.Store.of(profile, results)
    inputs = synthetic_inputs(epochs=12, trials=2, folds=3)
    frame = an.synthetic_frame(prof.problems, ("passive", "sasla", "entropy", "ensemble", "random", "sensitivity"),
                               trials=2, folds=3, epochs=12, pool=60, seed=1)
    trials = []
    for q, s in prof.pairs():
        part = frame[(frame["dataset"] == q) & (frame["strategy"] == s)].reset_index(drop=True)
        S.write(st.trials(q, s), part, {"problem": q, "strategy": s})
        trials.append(part)
    budget = []
    for i, q in enumerate(prof.problems):
        b = an.synthetic_budget_frame((q,), prof.problem(q).budget_strategies(), trials=2, folds=3, budgets=4,
                                      pool=60, seed=i)
        for s in prof.problem(q).budget_strategies():
            part = b[b["strategy"] == s].reset_index(drop=True)
            S.write(st.budget(q, s), part, {"problem": q, "strategy": s})
            budget.append(part)
    for q in prof.ablation_problems:
        for protocol in ("trials", "budget"):
            S.write(st.ablation(q, protocol), pd.DataFrame({"dataset": pd.Series([], dtype=str)}),
                    {"problem": q, "protocol": protocol})
    data = {q: {"n_samples": 100, "n_features": DATASET_FACTS[q]["inputs"],
                "n_outputs": DATASET_FACTS[q]["outputs"]} for q in prof.problems}
    for q in prof.problems:
        S.write(st.grid_table(q), inputs["grids"][q], {"profile": profile, "problem": q})
        for path, value in ((st.grid_winner(q), inputs["winners"][q]), (st.data(q), data[q])):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
    S.write(st.diagnostics("iris", "sasla"), inputs["masks"], {"problem": "iris", "strategy": "sasla"})
    return dict(grids=inputs["grids"], winners=inputs["winners"], data=data,
                trials=pd.concat(trials, ignore_index=True), masks={"iris": inputs["masks"]},
                profile=prof.to_dict(), budget=pd.concat(budget, ignore_index=True),
                ablation={"trials": pd.DataFrame(), "budget": pd.DataFrame()})


def test_read_profile_reads_every_frame_the_paper_is_made_from(tmp_path):
    """alnn.report.read_profile reads what the analysis notebook read: the frames build is given, as they
    were written (so build_profile builds from the results what build builds from the frames)."""
    written = synthetic_store(tmp_path / "results")
    read = rp.read_profile("smoke", tmp_path / "results").build_args()
    assert read.keys() == written.keys() and read["profile"] == written["profile"]
    for key in ("trials", "budget"):
        pd.testing.assert_frame_equal(read[key], written[key])
    for key in ("grids", "masks"):
        assert read[key].keys() == written[key].keys()
        for q in read[key]:
            pd.testing.assert_frame_equal(read[key][q], written[key][q])
    assert read["winners"] == written["winners"] and read["data"] == written["data"]
    assert all(f.empty for f in read["ablation"].values()) and read["ablation"].keys() == {"trials", "budget"}


def test_alnn_report_builds_the_profile_and_names_missing_results(tmp_path, monkeypatch, capsys):
    from alnn import cli
    from alnn.report import generate

    assert cli.main(["report", "--profile", "smoke", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"alnn report: error: {tmp_path}/smoke/data/iris.json is missing") and "\n" not in err
    assert err.endswith(f"run `make trials budget ablation PROFILE=smoke RESULTS={tmp_path}` to produce them")
    synthetic_store(tmp_path)
    calls = []

    def build(**kw):  # what build writes from these frames: the tests above
        calls.append(kw)
        return {"generated": [Path("a.tex"), Path("b.csv")], "figures": [Path("c.pdf")]}

    monkeypatch.setattr(generate, "build", build)
    assert cli.main(["report", "--profile", "smoke", "--results", str(tmp_path)]) == 0
    assert capsys.readouterr().err == "report [smoke]: 2 generated file(s), 1 figure file(s)\n"
    assert cli.main(["report", "--profile", "smoke", "--results", str(tmp_path), "--generated", "g",
                     "--figures", "f"]) == 0
    inputs = rp.read_profile("smoke", tmp_path)
    with pytest.raises(ValueError, match="inputs of profile 'smoke' given for profile 'quick'"):
        rp.build_profile("quick", tmp_path, inputs=inputs)
    rp.build_profile("smoke", tmp_path, generated_dir=tmp_path / "g", figures=False, inputs=inputs)
    (default, given, notebook) = calls
    assert (default["generated_dir"], default["figures_dir"]) == ("paper/generated/smoke", "figures/smoke")
    assert (given["generated_dir"], given["figures_dir"]) == ("g", "f")
    assert (notebook["generated_dir"], notebook["figures_dir"]) == (str(tmp_path / "g"), "figures/smoke")
    assert default["figures"] and not notebook["figures"]
    for kw in (default, given, notebook):  # build gets what read_profile read
        args = {k: v for k, v in kw.items() if k not in ("generated_dir", "figures_dir", "figures")}
        assert args.keys() == inputs.build_args().keys()
        pd.testing.assert_frame_equal(args["trials"], inputs.trials)
        pd.testing.assert_frame_equal(args["budget"], inputs.budget)
        assert args["profile"] == inputs.profile.to_dict() and args["winners"] == inputs.winners
