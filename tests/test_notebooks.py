"""Notebooks and the Makefile graph: parameters, committed state, and `make paper PROFILE=smoke` end to end."""

import ast
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
            if w in ("-r", "-p"):  # -r: a string; -p: a Python literal, as papermill reads it
                params[words[i + 1]] = words[i + 2] if w == "-r" else ast.literal_eval(words[i + 2])
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
    defaults = {k: ast.literal_eval(v["default"]) for k, v in declared.items()}  # None: derived (resolved())
    cls(**defaults)  # the defaults themselves are valid


def test_makefile_lists_match_the_package():
    out = make("-s", "print-PROBLEMS", "print-CLASSIFICATION", "print-STRATEGIES",
               "print-BUDGET_STRATEGIES").stdout.splitlines()
    assert out[0].split() == list(C.PROBLEMS)
    assert out[1].split() == [p for p in C.PROBLEMS if C.TASKS[p] == "classification"]
    assert out[2].split() == list(C.STRATEGIES)
    assert out[3].split() == list(C.BUDGET_STRATEGIES)
    budget = make("-s", "print-BUDGET", "PROFILE=smoke").stdout.split()
    prof = C.load_profile("smoke")
    assert sorted(budget) == sorted(f"results/smoke/budget/{p}/{s}.parquet" for p in prof.problems
                                    for s in prof.problem(p).budget_strategies())
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
        assert all("smoke" not in str(v) for v in params.values())  # profile-specific paths only


def test_make_paper_runs_the_notebooks_in_parallel_except_under_B_or_n():
    """SERIAL_NOTEBOOKS is empty for a plain `make paper` (the notebooks run NOTEBOOK_JOBS at a time) and
    names the flag under -B or -n (each notebook then runs, or is listed, once)."""
    # plain `make` as a user types it at a shell: no option at all is the case that matters, and no make
    # above it (under `make test` the inherited MAKEFLAGS and MAKELEVEL would change both)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}

    def serial(*flags):
        return subprocess.run(["make", *flags, "print-SERIAL_NOTEBOOKS"], cwd=ROOT, capture_output=True,
                              text=True, check=True, env=env).stdout.strip()

    assert serial() == ""
    assert serial("-j2") == ""
    assert serial("--no-print-directory") == ""
    assert serial("-B") == "B"
    assert "'n'" in serial("-n")


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


def outputs_of_smoke(results="results"):
    files = {}
    for var in ("CONFIGS", "DATA", "GRID", "TRIALS", "BUDGET", "DIAGNOSTICS", "NOTEBOOKS", "INDEX", "PDF"):
        files[var] = make("-s", f"print-{var}", "PROFILE=smoke", f"RESULTS={results}").stdout.split()
    return files


@pytest.mark.slow
def test_make_paper_smoke_from_clean_then_reuses_everything(smoke_paper):
    """`make paper PROFILE=smoke` from a clean profile (the session's smoke study, conftest.py): every stage's
    files exist; a rerun does nothing."""
    if not (ROOT / "paper" / "main.tex").exists():
        pytest.skip("paper/main.tex does not exist yet")
    results, first, first_s = smoke_paper
    files = outputs_of_smoke(results)
    for var, paths in files.items():
        missing = [p for p in paths if not (ROOT / p).is_file()]
        assert not missing, f"{var}: missing {missing}"
    for nb in files["NOTEBOOKS"]:
        assert (ROOT / nb).with_suffix(".html").is_file()
        executed = nbformat.read(ROOT / nb, as_version=4)
        assert not any(o.get("output_type") == "error" for c in executed.cells for o in c.get("outputs", []))
    for fig in ("grid-iris.png", "curves-sasla.png", "subset-entropy.png", "budget-iris.png", "budget-sensitivity.png"):
        assert (ROOT / "reports" / "smoke" / "figures" / fig).is_file()
    assert (ROOT / "paper" / "main.pdf").read_bytes() == (ROOT / files["PDF"][0]).read_bytes()
    assert "shard(s) computed" in first.stderr and "papermill" in first.stdout
    # the notebooks run in one parallel step (NOTEBOOK_JOBS at a time), all of them before LaTeX
    lines = first.stdout.splitlines()
    latex = min(i for i, line in enumerate(lines) if line.startswith("latexmk"))
    assert all(i < latex for i, line in enumerate(lines) if line.startswith("papermill")), first.stdout

    start = time.perf_counter()
    second = make("paper", "PROFILE=smoke", f"RESULTS={results}")
    second_s = time.perf_counter() - start
    for word in ("alnn grid", "alnn trials", "alnn budget", "alnn data", "papermill", "latexmk", "alnn reports"):
        assert word not in second.stdout, f"the second run reran {word!r}:\n{second.stdout}"
    assert second_s < 30, f"second run took {second_s:.0f} s (first {first_s:.0f} s)"


@pytest.mark.slow
def test_a_failing_notebook_keeps_its_output_and_stops_make():
    target = ROOT / "reports" / "smoke" / "problem-wine.ipynb"
    winner = ROOT / "results" / "smoke" / "grid" / "wine.json"
    make(str(ROOT.joinpath("results", "smoke", "budget", "wine", "random.parquet").relative_to(ROOT)), "PROFILE=smoke")
    saved = winner.read_text()
    stat = winner.stat()
    try:
        winner.write_text("{ not json")
        # its old time: newer than its inputs and older than the budget files, so make takes all as up to date
        os.utime(winner, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        for old in (target, target.with_suffix(".html")):  # so make must execute the notebook again
            old.unlink(missing_ok=True)
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


# ------------------------------------------------------------------ notebooks opened by hand (no papermill)


def _fake_results(root, profile, *files, mtime):
    folder = Path(root) / profile
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps({"profile": profile}))
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (mtime, mtime))


def test_default_profile_is_the_newest_with_results(tmp_path):
    grid = ("data/iris.json", "grid/iris.parquet", "grid/iris.json")
    _fake_results(tmp_path, "smoke", *grid, mtime=1_000_000)
    _fake_results(tmp_path, "quick", *grid, mtime=2_000_000)
    assert C.default_profile(tmp_path) == "quick"
    assert C.default_profile(tmp_path, grid) == "quick"
    os.utime(tmp_path / "smoke" / "grid" / "iris.json", (3_000_000, 3_000_000))  # anything below counts
    assert C.default_profile(tmp_path, grid) == "smoke"
    _fake_results(tmp_path, "full", "config/data-iris.json", mtime=4_000_000)  # newest, but without the grid
    assert C.default_profile(tmp_path) == "full"
    assert C.default_profile(tmp_path, grid) == "smoke"


def _cell_defaults(kind):
    """The values the committed parameters cell of ``kind``.ipynb assigns."""
    declared = papermill.inspect_notebook(str(ROOT / "notebooks" / f"{kind}.ipynb"))
    return {k: ast.literal_eval(v["default"]) for k, v in declared.items()}


def test_notebook_defaults_resolve_to_the_newest_profile(tmp_path, monkeypatch):
    """What the validation cell returns for the committed parameters cells: the newest profile's files."""
    monkeypatch.chdir(tmp_path)
    _fake_results("results", "smoke", "data/wine.json", "grid/wine.parquet", "grid/wine.json", mtime=1_000_000)
    _fake_results("results", "quick", "data/wine.json", "grid/wine.parquet", "grid/wine.json", mtime=2_000_000)
    cell = _cell_defaults("problem")
    p = C.notebook_params("problem", {**cell, "problem": "wine"})
    assert (p.profile, p.data, p.grid_table, p.grid_winner, p.heatmap) == (
        "quick", "results/quick/data/wine.json", "results/quick/grid/wine.parquet", "results/quick/grid/wine.json",
        "reports/quick/figures/grid-wine.png")
    # what papermill injects wins; an explicit profile derives the rest from it
    assert C.notebook_params("problem", {**cell, "problem": "wine", "profile": "smoke"}).data == \
        "results/smoke/data/wine.json"
    strategy = C.notebook_params("strategy", {**_cell_defaults("strategy"), "results": "results/full"})
    assert (strategy.profile, strategy.curves) == ("full", "reports/full/figures/curves-sasla.png")
    given = {"profile": "smoke", "results": "r/smoke", "generated": "g", "figures": "f"}
    analysis = C.notebook_params("analysis", {**_cell_defaults("analysis"), **given})
    assert {k: getattr(analysis, k) for k in given} == given


@pytest.mark.parametrize("kind, make_command", [("problem", "make grid"), ("strategy", "make trials"),
                                                ("analysis", "make trials")])
def test_notebook_defaults_without_results_name_the_make_command(tmp_path, monkeypatch, kind, make_command):
    monkeypatch.chdir(tmp_path)
    _fake_results("results", "smoke", "config/data-iris.json", mtime=1_000_000)  # a profile folder, no results
    with pytest.raises(FileNotFoundError) as info:
        C.notebook_params(kind, _cell_defaults(kind))
    message = str(info.value)
    assert "\n" not in message and f"run `{make_command}`" in message and "results/" in message
    with pytest.raises(FileNotFoundError, match="run `make paper`"):
        C.default_profile(tmp_path / "nothing")


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(NOTEBOOKS))
def test_notebook_opened_by_hand_reads_the_newest_profile(tmp_path, kind):
    """In a kernel started in notebooks/ as JupyterLab does, without papermill: the committed cells up to the
    parameters cell, then the validation call, read the newest profile whose results exist."""
    import nbclient

    for profile, mtime in (("quick", 1_000_000), ("smoke", 2_000_000)):  # every result file a notebook reads
        _fake_results(tmp_path / "results", profile, *[f"{d}/{q}.{e}" for q in C.PROBLEMS
                                                       for d, e in (("data", "json"), ("grid", "parquet"),
                                                                    ("grid", "json"))],
                      *[f"trials/{q}/{s}.parquet" for q in C.PROBLEMS for s in C.strategies_for(q)], mtime=mtime)
    (tmp_path / "notebooks").mkdir()
    nb = nbformat.read(ROOT / "notebooks" / f"{kind}.ipynb", as_version=4)
    last = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    probe = (f"p = config.notebook_params({kind!r}, globals())\n"
             "import dataclasses, json; print(json.dumps(dataclasses.asdict(p)))")
    nb.cells = nb.cells[:last + 1] + [nbformat.v4.new_code_cell(probe)]
    nbclient.NotebookClient(nb, timeout=300, resources={"metadata": {"path": str(tmp_path / "notebooks")}}).execute()
    p = json.loads(nb.cells[-1].outputs[0]["text"])
    assert p["profile"] == "smoke"
    paths = [v for k, v in p.items() if isinstance(v, str) and k not in ("profile", "problem", "strategy")]
    assert paths and all("/smoke" in v for v in paths), p
