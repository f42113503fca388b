"""A new user's first hour: JupyterLab as root, notebooks without side effects, a runnable API in the README,
a finished study that makes nothing, a reviewer's recompute path, DEVICE=cuda refused before any work.

The tests that need a finished study share the session's smoke study (``smoke_paper`` in conftest.py) and
leave it finished.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import papermill
import pytest

import alnn
from alnn import config as C
from alnn import store as S
from alnn import studies

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
NOTEBOOKS = ("problem", "strategy", "analysis")


def make(*args, check=True, timeout=900):
    """make as a user types it (none of the MAKEFLAGS of a make above, as under `make test`)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    proc = subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)
    if check and proc.returncode:
        raise AssertionError(f"make {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                             f"{proc.stderr[-3000:]}")
    return proc


def snapshot(*folders: Path, skip: tuple[Path, ...] = ()) -> dict[Path, tuple[int, bytes]]:
    """Every file below ``folders`` (but ``skip``): its modification time (ns) and bytes."""
    out = {}
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file() and not any(path.is_relative_to(s) for s in skip):
                out[path] = (path.stat().st_mtime_ns, path.read_bytes())
    return out


def assert_unchanged(before, after):
    assert after.keys() == before.keys(), (f"files added {sorted(map(str, after.keys() - before.keys()))[:5]}, "
                                           f"removed {sorted(map(str, before.keys() - after.keys()))[:5]}")
    changed = [str(p) for p in before if before[p] != after[p]]
    assert not changed, f"{len(changed)} file(s) rewritten: {changed[:5]}"


# ------------------------------------------------------------------ JupyterLab


def test_make_lab_passes_allow_root_only_as_root_and_lab_args_always():
    out = make("-n", "lab", "LAB_ARGS=--port=8899 --no-browser").stdout
    line = next(w for w in out.splitlines() if "jupyter lab" in w)
    assert "--notebook-dir=notebooks" in line and line.endswith("--port=8899 --no-browser")
    assert ("--allow-root" in line) == (os.getuid() == 0)


@pytest.mark.slow
def test_make_lab_answers_on_localhost_and_stops_by_its_pid():
    """Started as this user (root here, as in containers and CI), `make lab` prints its address with the token,
    answers on localhost, and a SIGTERM to make's own pid stops it (JupyterLab included)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS=--no-browser --port={port}"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        url = None
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            found = re.search(rf"http://(?:localhost|127\.0\.0\.1):{port}/lab\?token=(\w+)", "".join(lines))
            url = found and found.group(0)
            time.sleep(0.2)
        assert url, f"no address with a token within 120 s (exit {proc.poll()}):\n{''.join(lines)[-3000:]}"
        token = url.rsplit("=", 1)[1]
        with urllib.request.urlopen(f"http://localhost:{port}/api/status?token={token}", timeout=30) as answer:
            assert answer.status == 200 and "started" in json.loads(answer.read())
        os.kill(proc.pid, signal.SIGTERM)  # make's pid: make passes the signal to JupyterLab
        proc.wait(timeout=60)
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(f"http://localhost:{port}/api/status?token={token}", timeout=5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the session this test started
            proc.wait()


# ------------------------------------------------------------------ notebooks opened by hand


def test_notebook_outputs_are_the_out_parameters_of_each_notebook():
    """alnn.store.NOTEBOOK_OUTPUTS (what goes to the scratch folder when unset) lists every "out:" parameter."""
    for kind in NOTEBOOKS:
        declared = papermill.inspect_notebook(str(ROOT / "notebooks" / f"{kind}.ipynb"))
        outs = tuple(name for name, info in declared.items() if info["help"].startswith("out:"))
        assert outs == S.NOTEBOOK_OUTPUTS[kind], kind


def problem_params(**given):
    """The problem notebook's parameters: ``given``, the others unset (as its parameters cell leaves them)."""
    return {"profile": None, "problem": "iris", "data": None, "grid_table": None, "grid_winner": None,
            "heatmap": None, "budget_curves": None, "run_budget": False, **given}


def test_unset_outputs_go_to_scratch_and_missing_results_name_the_make_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        S.notebook_params("problem", problem_params(profile="full", problem="wine"))
    message = str(info.value)
    assert "\n" not in message and message.startswith("results/full/data/wine.json is missing")
    assert "run `make budget PROFILE=full` to produce them" in message
    with pytest.raises(FileNotFoundError, match=r"run `make trials budget ablation PROFILE=full RESULTS=elsewhere`"):
        S.notebook_params("analysis", {"profile": "full", "results": "elsewhere/full", "generated": None,
                                       "figures": None})
    # with its results there, outputs left unset go to the scratch folder, given ones stay
    store = S.Store.of("smoke")
    for path in S.notebook_inputs("problem", C.notebook_params("problem", problem_params(profile="smoke",
                                                                                         problem="wine"))):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    p = S.notebook_params("problem", problem_params(profile="smoke", problem="wine", heatmap="mine.png"))
    assert (p.heatmap, p.budget_curves) == ("mine.png", "reports/smoke/scratch/figures/budget-wine.png")
    assert p.data == str(store.data("wine"))


def _kernel_tree(tmp_path: Path, results: Path) -> Path:
    """A folder laid out as the repository for a kernel started in its notebooks/ (as JupyterLab starts one):
    the committed notebooks, results/ holding only the smoke study, and reports/, figures/ and paper/ the
    repository's own, so that a notebook writing where make does would change the files make tracks."""
    tree = tmp_path / "repo"
    (tree / "notebooks").mkdir(parents=True)
    for kind in NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / f"{kind}.ipynb", tree / "notebooks")
    (tree / "results").mkdir()
    (tree / "results" / "smoke").symlink_to(results / "smoke")
    for name in ("reports", "figures", "paper", "lib"):
        (tree / name).symlink_to(ROOT / name)
    return tree


@pytest.mark.slow
def test_notebooks_run_with_their_defaults_change_no_file_make_tracks(smoke_paper, tmp_path):
    """Each notebook executed with its committed defaults (no papermill parameter), in a kernel started in
    notebooks/: its figures and tables go to reports/smoke/scratch/, and no file of the smoke study (results,
    reports, figures, generated LaTeX, PDFs) changes, bytes or modification time."""
    import nbclient

    results, _, _ = smoke_paper
    tree = _kernel_tree(tmp_path, results)
    scratch = ROOT / "reports" / "smoke" / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    tracked = [results / "smoke", ROOT / "reports" / "smoke", ROOT / "figures" / "smoke",
               ROOT / "paper" / "generated" / "smoke", ROOT / "paper" / "build" / "smoke"]
    before = snapshot(*tracked, skip=(scratch,))
    assert len(before) > 100
    for kind in NOTEBOOKS:
        nb = nbformat.read(tree / "notebooks" / f"{kind}.ipynb", as_version=4)
        nbclient.NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(tree / "notebooks")}}).execute()
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{kind}: {errors[0]['ename']}: {errors[0]['evalue']}"
        if kind == "analysis":  # the paper's main figures, inline
            assert sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])) >= 4
        if kind == "strategy":  # every figure drawn: no empty figure's text in place of an image
            texts = [o.get("data", {}).get("text/plain", "") for c in nb.cells for o in c.get("outputs", [])]
            assert not any("with 0 Axes" in t for t in texts)
    assert_unchanged(before, snapshot(*tracked, skip=(scratch,)))
    written = {p.name for p in scratch.rglob("*") if p.is_file()}
    assert {"grid-iris.png", "budget-iris.png", "curves-sasla.png", "subset-sasla.png", "budget-sasla.png",
            "budget-curves.png", "summary.csv"} <= written, sorted(written)


# ------------------------------------------------------------------ a finished study makes nothing


@pytest.mark.slow
def test_a_finished_study_makes_nothing_even_after_a_stage_or_a_notebook_is_rerun(smoke_paper):
    results, _, _ = smoke_paper
    where = ("PROFILE=smoke", f"RESULTS={results}")
    make("paper", *where)  # (finished already, unless a test before this one changed it)
    assert make("-q", "paper", *where, check=False).returncode == 0, "make -q paper after make paper: out of date"
    # a stage rerun by hand reuses every shard and rewrites no file with the content it holds
    before = snapshot(results / "smoke")
    subprocess.run([PY, "-m", "alnn", "budget", "--profile", "smoke", "--problem", "iris", "--results", str(results),
                    "--workers", "1", "--no-progress"], cwd=ROOT, check=True, capture_output=True, timeout=300)
    assert_unchanged(before, snapshot(results / "smoke"))
    # one notebook remade by name: its HTML page and the index page follow, and the study is finished again
    nb = ROOT / "reports" / "smoke" / "problem-iris.ipynb"
    pages = {p: p.stat().st_mtime_ns for p in (nb, nb.with_suffix(".html"), nb.with_name("index.html"))}
    make("-W", "notebooks/problem.ipynb", str(nb.relative_to(ROOT)), *where)
    assert all(p.stat().st_mtime_ns > mtime for p, mtime in pages.items()), "notebook, HTML or index not remade"
    assert make("-q", "paper", *where, check=False).returncode == 0, "make -q paper after one notebook was remade"
    # and `make -n -W` prints that notebook's papermill command (the README's recipe)
    dry = make("-n", "-W", "notebooks/problem.ipynb", str(nb.relative_to(ROOT)), *where).stdout
    assert "-m papermill" in dry and "-r problem iris" in dry and "-p run_budget False" in dry


# ------------------------------------------------------------------ the README's Python


def readme_python_blocks() -> list[str]:
    """The README's ```python blocks, but those after a `<!-- not run by the tests ... -->` line."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"(<!-- not run by the tests[^\n]*-->\n)?```python\n(.*?)```", text, re.S)
    return [code for skip, code in blocks if not skip]


def test_readme_has_runnable_python_and_the_api_is_listed():
    blocks = readme_python_blocks()
    assert blocks and all(ast.parse(code) for code in blocks)
    assert "alnn.study(" in blocks[0] and "alnn.run(**" in blocks[0]
    listed = dir(alnn)
    for name in ("run", "run_budget", "study", "Study", "TrainConfig", "grid_search", "datasets", "pipeline"):
        assert name in listed
    with pytest.raises(AttributeError, match="valid: .*run_budget"):
        alnn.runn  # noqa: B018


@pytest.mark.slow
def test_readme_python_runs_as_written(smoke_paper, tmp_path):
    """The README's Python blocks, run in a folder whose results/ holds the smoke study (the newest there)."""
    results, _, _ = smoke_paper
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "smoke").symlink_to(results / "smoke")
    code = "\n".join(readme_python_blocks())
    proc = subprocess.run([PY, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("smoke TrainConfig(")


@pytest.mark.slow
def test_a_study_runs_again_to_its_stored_frames(smoke_paper):
    """alnn.run(**study.run_args(s)) and alnn.run_budget(**study.budget_args(s)) recompute the stored frames."""
    results, _, _ = smoke_paper
    s = alnn.study("smoke", "sine", results=results)
    assert alnn.study("sine", "smoke", results=results).winner == s.winner
    assert s.config == alnn.TrainConfig(**{k: s.winner[k] for k in ("hidden", "lr", "weight_decay", "momentum",
                                                                    "batch_size")})
    frame = alnn.run(**s.run_args("sasla", progress=False))
    pd.testing.assert_frame_equal(frame.drop(columns="wall_s"), s.trials("sasla").drop(columns="wall_s"),
                                  check_exact=True)
    budget = alnn.run_budget(**s.budget_args("random", progress=False))
    pd.testing.assert_frame_equal(budget.drop(columns="wall_s"), s.budget("random").drop(columns="wall_s"),
                                  check_exact=True)


def test_study_names_come_in_either_order_and_bad_ones_are_named(tmp_path):
    settings = C.load_profile("smoke").problem("iris")
    winner = {"hidden": 8, "lr": 0.1, "weight_decay": 0.0, "momentum": 0.9, "batch_size": settings.batch_size,
              "profile": "smoke", "problem": "iris", "diverged": False, "val_loss": 0.5}
    S.write_json(S.Store.of("smoke", tmp_path).grid_winner("iris"), winner)
    s = alnn.study("iris", results=tmp_path)
    assert (s.profile, s.problem) == ("smoke", "iris")
    assert alnn.study("smoke", "iris", results=tmp_path).config == alnn.study("iris", "smoke", results=tmp_path).config
    assert s.config == alnn.TrainConfig(8, 0.1, 0.0, 0.9, settings.batch_size)  # `diverged` etc. left out
    args = s.run_args("entropy", trials=2)
    assert args["trials"] == 2 and args["epochs"] == settings.epochs and args["seed"] == settings.seeds.trials
    with pytest.raises(C.ConfigError, match="unknown problem 'irs'; valid: iris"):
        alnn.study("irs", results=tmp_path)
    with pytest.raises(C.ConfigError, match="unknown problem 'smoke'; valid: iris"):
        alnn.study("quick", "smoke", results=tmp_path)
    with pytest.raises(C.ConfigError, match="study takes a problem and optionally a profile, got 3 names"):
        alnn.study("quick", "iris", "wine", results=tmp_path)
    S.write_json(S.Store.of("smoke", tmp_path).grid_winner("sine"),
                 {**winner, "problem": "sine", "batch_size": C.load_profile("smoke").problem("sine").batch_size})
    with pytest.raises(C.ConfigError, match="strategy 'entropy' does not apply to regression problem 'sine'"):
        alnn.study("sine", results=tmp_path).run_args("entropy")
    with pytest.raises(FileNotFoundError, match=r"run `make grid PROFILE=quick RESULTS=.*` to produce them"):
        alnn.study("quick", "iris", results=tmp_path)


def test_run_takes_a_problem_by_name():
    cfg = alnn.TrainConfig(4, 0.1, 0.0, 0.9, 16)
    by_name = alnn.run("iris", "passive", config=cfg, trials=1, folds=2, epochs=2, seed=3, progress=False)
    by_data = alnn.run(alnn.datasets.load("iris"), "passive", config=cfg, trials=1, folds=2, epochs=2, seed=3,
                       progress=False)
    pd.testing.assert_frame_equal(by_name.drop(columns="wall_s"), by_data.drop(columns="wall_s"), check_exact=True)
    with pytest.raises(C.ConfigError, match="unknown problem 'iriss'; valid: iris, wine"):
        alnn.run("iriss", "passive", config=cfg, trials=1, folds=2, epochs=2, seed=3)


# ------------------------------------------------------------------ the store writes only what changes


def test_store_leaves_a_file_with_the_same_content_alone(tmp_path):
    frame = pd.DataFrame({"epoch": np.arange(1, 6), "accuracy": np.linspace(0.2, 0.9, 5)})
    path = S.write(tmp_path / "f.parquet", frame, {"key": "k"})
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    S.write(path, frame.copy(), {"key": "k"})
    assert path.stat().st_mtime_ns == 1_000_000_000  # same values, metadata and types: untouched
    for changed, meta in ((frame.assign(accuracy=frame.accuracy + 1e-9), {"key": "k"}), (frame, {"key": "k2"}),
                          (frame.astype({"epoch": "int32"}), {"key": "k"})):
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
        S.write(path, changed, meta)
        assert path.stat().st_mtime_ns > 1_000_000_000
        pd.testing.assert_frame_equal(S.read(path, meta), changed)
    # a damaged file that still carries the right metadata is replaced, not kept
    S.write(path, frame, {"key": "k"})
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    S.write(path, frame, {"key": "k"})
    pd.testing.assert_frame_equal(S.read(path, {"key": "k"}), frame)
    # JSON likewise
    j = S.write_json(tmp_path / "w.json", {"lr": 0.1})
    os.utime(j, ns=(1_000_000_000, 1_000_000_000))
    S.write_json(j, {"lr": 0.1})
    assert j.stat().st_mtime_ns == 1_000_000_000
    S.write_json(j, {"lr": 0.2})
    assert S.read_json(j) == {"lr": 0.2}


def test_generated_tables_and_figures_are_left_alone_when_unchanged(tmp_path):
    from matplotlib.figure import Figure

    from alnn import figures
    from alnn.report import format as fmt

    table = fmt.write_atomic(tmp_path / "t.tex", "a & b \\\\\n")
    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [1, 0])
    drawn = figures.save(fig, tmp_path / "f")
    for path in (table, *drawn):
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    fmt.write_atomic(table, "a & b \\\\\n")
    assert figures.save(fig, tmp_path / "f") == drawn
    assert all(p.stat().st_mtime_ns == 1_000_000_000 for p in (table, *drawn))
    fig.axes[0].set_title("changed")
    fmt.write_atomic(table, "c & d \\\\\n")
    figures.save(fig, tmp_path / "f")
    assert all(p.stat().st_mtime_ns > 1_000_000_000 for p in (table, *drawn))
    assert table.read_text() == "c & d \\\\\n" and not list(tmp_path.glob(".*"))


def test_budget_shards_have_their_own_folder_and_old_ones_move_there(tmp_path):
    from alnn import pipeline

    settings = C.load_profile("smoke").problem("iris")
    winner = {"hidden": 8, "lr": 0.1, "weight_decay": 0.0, "momentum": 0.9, "batch_size": settings.batch_size}
    store = S.Store(tmp_path / "smoke")
    task = pipeline.budget_tasks(settings, "random", winner)[0]
    trial = pipeline.trial_tasks(settings, "random", winner)[0]
    assert task.path(store) == tmp_path / "smoke" / "shards" / "iris" / "budget-random" / f"{task.key}.parquet"
    assert trial.path(store) == tmp_path / "smoke" / "shards" / "iris" / "random" / f"{trial.key}.parquet"
    frame = pd.DataFrame({"round": [0, 1], "accuracy": [0.3, 0.6]})
    old = S.write(store.shard("iris", "random", task.key), frame, task.expect())  # where budget shards used to lie
    outcome = pipeline.run_tasks([task], store, C.Execution(workers=1, progress=False), what="test")
    assert outcome.reused == 1 and outcome.computed == 0
    assert not old.exists() and task.path(store).is_file()


# ------------------------------------------------------------------ a reviewer's recompute path


def test_compare_names_each_file_and_column_that_differs(tmp_path):
    fresh, stored = S.Store(tmp_path / "a" / "smoke"), S.Store(tmp_path / "b" / "smoke")
    frame = pd.DataFrame({"epoch": [1, 2, 3], "accuracy": [0.5, 0.6, 0.7], "wall_s": [1.0, 2.0, 3.0]})
    for st in (fresh, stored):
        S.write(st.trials("iris", "sasla"), frame, {"key": "k"})
        S.write_json(st.grid_winner("iris"), {"lr": 0.1})
    S.write(stored.trials("iris", "passive"), frame.assign(wall_s=9.0), {"key": "k"})
    S.write(fresh.trials("iris", "passive"), frame, {"key": "k"})
    files, diffs = studies.compare(fresh, stored)
    assert len(files) == 3 and diffs == []  # the wall-clock column is left out
    S.write(stored.trials("iris", "sasla"), frame.assign(accuracy=[0.5, 0.6, 0.75]), {"key": "k"})
    S.write_json(stored.grid_winner("iris"), {"lr": 0.2})
    S.write(fresh.budget("iris", "random"), frame, {"key": "k"})
    files, diffs = studies.compare(fresh, stored, skip=["grid/iris.json"])
    assert [str(d) for d in diffs] == [
        "budget/iris/random.parquet: missing from the stored results",
        "trials/iris/sasla.parquet: column accuracy: 1 of 3 values differ, largest difference 0.05"]
    path = stored.trials("iris", "passive")
    path.write_bytes(path.read_bytes()[:50])
    assert any(str(d).startswith("trials/iris/passive.parquet: the stored file fails its checks")
               for d in studies.compare(fresh, stored)[1])


@pytest.mark.slow
def test_fresh_recompute_finds_no_difference_then_the_altered_shard(smoke_paper, tmp_path):
    """`alnn trials --fresh` on a copy of the smoke study's Iris results: no difference; after one stored shard
    is altered (a value changed, its metadata kept consistent), that shard is named, with exit status 1."""
    results, _, _ = smoke_paper
    mine = tmp_path / "results" / "smoke"
    for sub in ("data/iris.json", "grid/iris.json", "trials/iris", "diagnostics/iris", "shards/iris/sasla"):
        source = results / "smoke" / sub
        (mine / sub).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, mine / sub)

    def fresh(into):
        return subprocess.run([PY, "-m", "alnn", "trials", "--profile", "smoke", "--problem", "iris", "--strategy",
                               "sasla", "--results", str(tmp_path / "results"), "--workers", "1", "--no-progress",
                               "--fresh", str(into)], cwd=ROOT, capture_output=True, text=True, timeout=300)

    proc = fresh(tmp_path / "first")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert re.search(r"compared (\d+) file\(s\) .*: \1 identical, 0 differ", proc.stdout), proc.stdout
    shard = next(p for p in (mine / "shards" / "iris" / "sasla").glob("*.parquet") if ".diag" not in p.name)
    frame, meta = S.read(shard), S.read_meta(shard)
    frame.loc[frame.index[-1], "accuracy"] += 0.25
    S.write(shard, frame, {k: v for k, v in meta.items() if k not in ("rows", "content")})
    proc = fresh(tmp_path / "second")
    assert proc.returncode == 1, proc.stdout + proc.stderr[-2000:]
    assert f"differs: shards/iris/sasla/{shard.name}: column accuracy: 1 of" in proc.stdout, proc.stdout
    assert "largest difference 0.25" in proc.stdout


# ------------------------------------------------------------------ DEVICE=cuda


def test_device_cuda_without_cuda_stops_make_before_any_stage(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = make("data", "PROFILE=smoke", f"RESULTS={tmp_path}", "DEVICE=cuda", check=False, timeout=120)
    assert proc.returncode != 0
    assert "DEVICE=cuda is not valid on this machine" in proc.stderr and "valid here: cpu" in proc.stderr
    assert proc.stderr.count("\n") <= 2, proc.stderr
    assert list(tmp_path.iterdir()) == [], "work was done before the device was refused"
