"""Notebooks and the Makefile graph: parameters, committed state, and `make paper PROFILE=smoke` end to end."""

import dataclasses
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import papermill
import pytest

from alnn import config as C

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = {"problem": C.ProblemNotebook, "strategy": C.StrategyNotebook, "analysis": C.AnalysisNotebook}


def make(*args, check=True, timeout=1200):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)
    if check and proc.returncode:
        raise AssertionError(f"make {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
                             f"{proc.stderr[-4000:]}")
    return proc


def papermill_calls(profile="smoke"):
    """(notebook, {parameter: value}) of every papermill command `make paper` would run."""
    out = make("-n", "-B", "paper", f"PROFILE={profile}").stdout
    calls = []
    for line in out.splitlines():
        if "-m papermill" not in line:
            continue
        words = shlex.split(line.split("||")[0].split(" 2> ")[0])
        i = words.index("papermill") + 1
        positional, params = [], {}
        while i < len(words):
            w = words[i]
            if w in ("-r", "-p"):
                params[words[i + 1]] = words[i + 2]
                i += 3
            elif w in ("--cwd", "--log-level"):
                i += 2
            elif w.startswith("-"):
                i += 1
            else:
                positional.append(w)
                i += 1
        calls.append((positional[0], params))
    return calls


@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_notebooks_are_committed_without_outputs(name):
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}.ipynb has outputs: strip them"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}.ipynb needs exactly one cell tagged 'parameters'"


@pytest.mark.parametrize("name, cls", list(NOTEBOOKS.items()))
def test_notebook_parameters_are_the_config_fields(name, cls):
    declared = papermill.inspect_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"))
    assert list(declared) == [f.name for f in dataclasses.fields(cls)]
    defaults = {k: json.loads(v["default"]) for k, v in declared.items()}
    cls(**defaults)  # the defaults themselves are valid


def test_makefile_lists_match_the_package():
    out = make("-s", "print-PROBLEMS", "print-CLASSIFICATION", "print-STRATEGIES").stdout.splitlines()
    assert out[0].split() == list(C.PROBLEMS)
    assert out[1].split() == [p for p in C.PROBLEMS if C.TASKS[p] == "classification"]
    assert out[2].split() == list(C.STRATEGIES)
    pairs = make("-s", "print-TRIALS", "PROFILE=smoke").stdout.split()
    assert sorted(pairs) == sorted(f"results/smoke/trials/{p}/{s}.parquet" for p, s in C.load_profile("smoke").pairs())


def test_every_parameter_the_makefile_passes_exists_in_its_notebook():
    calls = papermill_calls("quick")
    assert sorted(Path(nb).stem for nb, _ in calls) == sorted(
        ["analysis"] + ["problem"] * len(C.PROBLEMS) + ["strategy"] * len(C.STRATEGIES))
    for notebook, params in calls:
        declared = papermill.inspect_notebook(str(ROOT / notebook))
        unknown = set(params) - set(declared)
        assert not unknown, f"make passes {sorted(unknown)} that {notebook} does not declare"
        assert set(params) == set(declared), f"{notebook}: make leaves {set(declared) - set(params)} at defaults"
        C.notebook_params(Path(notebook).stem, params)  # and the values are valid
        assert params["profile"] == "quick"
        assert all("smoke" not in v for v in params.values())  # profile-specific paths only


def test_bad_make_settings_fail_before_any_work():
    for setting, valid in [("PROFILE=fast", "smoke quick full"), ("EXECUTOR=ray", "local dask"),
                           ("DEVICE=tpu", "cpu cuda"), ("WORKERS=two", "a positive integer")]:
        proc = make("-n", "paper", setting, check=False)
        assert proc.returncode != 0
        assert f"{setting} is not valid; valid: {valid}" in proc.stderr
        assert proc.stdout == ""


@pytest.mark.slow
@pytest.mark.parametrize("params, message", [
    ({"problme": "wine"}, "notebook problem.ipynb has no parameter 'problme'; valid: profile, problem"),
    ({"problem": "irs"}, "unknown problem 'irs'; valid: iris, wine"),
])
def test_papermill_rejects_unknown_parameters_and_values(tmp_path, params, message):
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(str(ROOT / "notebooks" / "problem.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters=params, cwd=str(ROOT), progress_bar=False)
    assert info.value.ename == "ConfigError" and message in info.value.evalue
    assert (tmp_path / "out.ipynb").exists()  # the partial output is kept


def outputs_of_smoke():
    files = {}
    for var in ("CONFIGS", "DATA", "GRID", "TRIALS", "DIAGNOSTICS", "NOTEBOOKS", "INDEX", "PDF"):
        files[var] = make("-s", f"print-{var}", "PROFILE=smoke").stdout.split()
    return files


@pytest.mark.slow
def test_make_paper_smoke_from_clean_then_reuses_everything():
    """`make paper PROFILE=smoke` from a clean profile: every stage's files exist; a rerun does nothing."""
    if not (ROOT / "paper" / "main.tex").exists():
        pytest.skip("paper/main.tex does not exist yet")
    make("clean", "PROFILE=smoke")
    start = time.perf_counter()
    first = make("paper", "PROFILE=smoke")
    first_s = time.perf_counter() - start
    files = outputs_of_smoke()
    for var, paths in files.items():
        missing = [p for p in paths if not (ROOT / p).is_file()]
        assert not missing, f"{var}: missing {missing}"
    for nb in files["NOTEBOOKS"]:
        assert (ROOT / nb).with_suffix(".html").is_file()
        executed = nbformat.read(ROOT / nb, as_version=4)
        assert not any(o.get("output_type") == "error" for c in executed.cells for o in c.get("outputs", []))
    for fig in ("grid-iris.png", "curves-sasla.png", "subset-entropy.png"):
        assert (ROOT / "reports" / "smoke" / "figures" / fig).is_file()
    assert (ROOT / "paper" / "main.pdf").read_bytes() == (ROOT / files["PDF"][0]).read_bytes()
    assert "shard(s) computed" in first.stderr and "papermill" in first.stdout

    start = time.perf_counter()
    second = make("paper", "PROFILE=smoke")
    second_s = time.perf_counter() - start
    for word in ("alnn grid", "alnn trials", "alnn data", "papermill", "latexmk", "alnn reports"):
        assert word not in second.stdout, f"the second run reran {word!r}:\n{second.stdout}"
    assert second_s < 30, f"second run took {second_s:.0f} s (first {first_s:.0f} s)"


@pytest.mark.slow
def test_a_failing_notebook_keeps_its_output_and_stops_make():
    target = ROOT / "reports" / "smoke" / "problem-wine.ipynb"
    winner = ROOT / "results" / "smoke" / "grid" / "wine.json"
    if not winner.exists():
        make("grid", "PROFILE=smoke")
    saved = winner.read_text()
    try:
        winner.write_text("{ not json")  # newer than its inputs, so make takes it as up to date
        proc = make(str(target.relative_to(ROOT)), "PROFILE=smoke", check=False)
        assert proc.returncode != 0
        assert "notebook problem-wine.ipynb failed; partial output in reports/smoke/problem-wine.failed.ipynb" \
            in proc.stderr
        failed = nbformat.read(target.with_name("problem-wine.failed.ipynb"), as_version=4)
        assert any(o.get("output_type") == "error" for c in failed.cells for o in c.get("outputs", []))
        assert not target.exists()
    finally:
        winner.write_text(saved)
        os.utime(winner)
