"""Reliability: interrupted runs, stale and corrupted results, bad settings, divergence, concurrency.

Every test here drives the real engine through the real command line (or the
Makefile) at the smoke profile, on a results folder of its own, and compares
with a straight run: the numbers must be identical, except the wall-clock
column, which measures time rather than learning.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alnn import config as C
from alnn import store as S

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
#: Two small problems, one of each task, keep these tests to seconds.
PROBLEMS = ("iris", "sine")
pytestmark = pytest.mark.slow


def alnn(results, *args, check=True, timeout=600, **kw):
    cmd = [PY, "-m", "alnn", *args, "--results", str(results)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def run_all(results, *extra, **kw):
    return alnn(results, "all", "--profile", "smoke", "--problem", *PROBLEMS, "--workers", "1",
                "--no-progress", *extra, **kw)


def result_frames(results) -> dict[str, pd.DataFrame]:
    """Every grid table, trial frame and budget-protocol frame of a results folder, keyed by its relative path."""
    root = Path(results) / "smoke"
    out = {}
    for path in (sorted(root.glob("grid/*.parquet")) + sorted(root.glob("trials/*/*.parquet"))
                 + sorted(root.glob("budget/*/*.parquet"))):
        frame = S.read(path)
        out[str(path.relative_to(root))] = frame.drop(columns=[c for c in ("wall_s",) if c in frame])
    return out


def assert_same_results(a, b):
    fa, fb = result_frames(a), result_frames(b)
    assert fa.keys() == fb.keys() and fa, f"different result files: {sorted(fa)} vs {sorted(fb)}"
    for name in fa:
        pd.testing.assert_frame_equal(fa[name], fb[name], check_exact=True, obj=name)


def shard_files(results):
    return sorted((Path(results) / "smoke" / "shards").rglob("*.parquet"))


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """One uninterrupted run: the reference every other run must reproduce exactly."""
    results = tmp_path_factory.mktemp("straight")
    start = time.perf_counter()
    run_all(results)
    return results, time.perf_counter() - start


# ------------------------------------------------------------------ interruption


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_interrupted_run_resumes_to_identical_numbers(straight, tmp_path, sig):
    reference, seconds = straight
    rng = np.random.default_rng(int(sig))  # a different, reproducible moment per signal
    proc = subprocess.Popen([PY, "-m", "alnn", "all", "--profile", "smoke", "--problem", *PROBLEMS,
                             "--workers", "1", "--no-progress", "--results", str(tmp_path)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    time.sleep(float(rng.uniform(0.25, 0.75)) * seconds)
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0, "the run finished before it could be interrupted"
    if sig == signal.SIGINT:
        assert "rerun to resume" in err
    # a finished shard is its frame (and, for the trial-0 shard, the diagnostics written just before it);
    # diagnostics whose frame was not written yet belong to a shard in flight, which is recomputed
    before = {p: p.stat().st_mtime_ns for p in shard_files(tmp_path)
              if not p.name.endswith(".diag.parquet") or p.with_name(p.name.replace(".diag", "")).exists()}
    # no half-written file has a finished name; every shard on disk reads back whole
    for path in before:
        S.read(path)
    resumed = run_all(tmp_path)
    assert_same_results(reference, tmp_path)
    # finished shards were reused, not recomputed
    for path, mtime in before.items():
        assert path.stat().st_mtime_ns == mtime, f"{path.name} was recomputed"
    assert "reused" in resumed.stderr


def test_finished_run_reruns_nothing(straight):
    reference, _ = straight
    before = {p: p.stat().st_mtime_ns for p in shard_files(reference)}
    out = run_all(reference).stderr
    assert "0 shard(s) computed" in out and " 0 reused" not in out
    assert {p: p.stat().st_mtime_ns for p in shard_files(reference)} == before


# ------------------------------------------------------------------ corrupted results


@pytest.mark.parametrize("damage", ["truncate", "flip", "foreign"])
def test_corrupted_shard_is_detected_named_and_recomputed(straight, tmp_path, damage):
    reference, _ = straight
    import shutil

    shutil.copytree(reference, tmp_path, dirs_exist_ok=True)
    shard = next(p for p in shard_files(tmp_path) if "sasla" in p.parts and not p.name.endswith(".diag.parquet"))
    data = shard.read_bytes()
    if damage == "truncate":
        shard.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        # A flipped byte either fails a check (page checksum, footer, content hash) or leaves every value
        # as it was (statistics, padding); take the first one from a third of the file on that fails.
        original = S.read(shard)
        for offset in range(len(data) // 3, len(data), 97):
            middle = bytearray(data)
            middle[offset] ^= 0xFF
            shard.write_bytes(bytes(middle))
            try:
                pd.testing.assert_frame_equal(S.read(shard), original)  # harmless: the values are intact
            except S.ShardError:
                break
        else:
            pytest.fail("no flipped byte was detected")
    else:  # a whole, valid file from another shard under this shard's name
        other = next(p for p in shard_files(tmp_path) if "passive" in p.parts)
        shard.write_bytes(other.read_bytes())
    out = run_all(tmp_path).stderr
    assert "recomputing" in out and shard.name in out
    assert "1 shard(s) computed" in out
    assert_same_results(reference, tmp_path)


def test_stale_results_of_another_setting_are_never_mixed(straight, tmp_path):
    """Another seed gives other shards; the table holds only the shards of the setting in force."""
    reference, _ = straight
    profile = C.load_profile("smoke")
    from alnn import pipeline as P

    import tomllib

    other = C.parse_profiles(_with_seed(tomllib.loads(C.PROFILES_PATH.read_text()), 77))["smoke"]
    store = S.Store(Path(tmp_path) / "smoke")
    import shutil

    shutil.copytree(reference, tmp_path, dirs_exist_ok=True)
    inline = C.execution(workers=1, progress=False)
    P.trials(other, "iris", ["passive"], store=store, execution=inline)
    mixed = S.read(store.trials("iris", "passive"))
    assert S.read_meta(store.trials("iris", "passive"))["seed"] == 77
    assert not mixed.equals(S.read(Path(reference) / "smoke" / "trials" / "iris" / "passive.parquet"))
    # back to the profile in force: its shards are reused and the table is the reference again
    P.trials(profile, "iris", ["passive"], store=store, execution=inline)
    pd.testing.assert_frame_equal(
        S.read(store.trials("iris", "passive")).drop(columns="wall_s"),
        S.read(Path(reference) / "smoke" / "trials" / "iris" / "passive.parquet").drop(columns="wall_s"))


def _with_seed(raw, seed):
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    raw["smoke"] = dict(raw.get("smoke", {}))
    raw["smoke"]["seeds"] = {**raw.get("smoke", {}).get("seeds", {}), "trials": seed}
    return raw


# ------------------------------------------------------------------ concurrency


def test_two_executors_on_one_store_match_a_serial_run(straight, tmp_path):
    reference, _ = straight
    procs = [subprocess.Popen([PY, "-m", "alnn", "all", "--profile", "smoke", "--problem", *PROBLEMS,
                               "--workers", "1", "--no-progress", "--results", str(tmp_path)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    assert_same_results(reference, tmp_path)
    assert not list(Path(tmp_path).rglob("*.tmp"))


def test_make_j2_matches_a_serial_run(straight, tmp_path):
    """`make -j2` runs two problems' stages at once into one store: same numbers as one serial run."""
    reference, _ = straight
    proc = subprocess.run(["make", "--no-print-directory", "-j2", "trials", "budget", "PROFILE=smoke", "WORKERS=1",
                           f"RESULTS={tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ours = result_frames(reference)
    theirs = result_frames(tmp_path)
    for name, frame in ours.items():
        pd.testing.assert_frame_equal(frame, theirs[name], check_exact=True, obj=name)


# ------------------------------------------------------------------ divergence


def test_divergent_configuration_is_flagged_ranked_last_and_never_poisons_a_mean():
    """Learning rate 0.5 with momentum 0.95 on a linear-output problem blows up; the run goes on."""
    import alnn
    from alnn import analysis, datasets
    from alnn.model import TrainConfig
    from alnn.pipeline import summarise_grid

    ds = datasets.load("energy-efficiency")
    configs = [TrainConfig(64, 0.01, 0.0, 0.5, 32), TrainConfig(64, 0.5, 0.0, 0.95, 32)]
    grid = alnn.grid_search(ds, configs, folds=2, epochs=30, seed=0, progress=False)
    assert not grid[grid.lr == 0.01].diverged.any()
    assert grid[grid.lr == 0.5].diverged.all()
    table = summarise_grid(grid, [dict(hidden=c.hidden, lr=c.lr, weight_decay=c.weight_decay,
                                       momentum=c.momentum, batch_size=c.batch_size) for c in configs])
    assert table.iloc[-1]["lr"] == 0.5 and table.iloc[0]["lr"] == 0.01
    frame = alnn.run(ds, "passive", config=configs[1], trials=1, folds=2, epochs=30, seed=0, progress=False)
    assert frame.groupby(["trial", "fold"]).diverged.max().all()
    healthy = alnn.run(ds, "passive", config=configs[0], trials=1, folds=2, epochs=30, seed=0, progress=False)
    both = pd.concat([frame.assign(strategy="sasla"), healthy])
    summary = analysis.summary(both)
    row = summary[(summary.strategy == "sasla") & (summary.metric == "mse")].iloc[0]
    assert row["n_diverged"] == 2
    ok = summary[(summary.strategy == "passive") & (summary.metric == "mse")].iloc[0]
    assert np.isfinite(ok["mean"]) and ok["n_diverged"] == 0


# ------------------------------------------------------------------ bad settings, every entrance


def _one_line_error(text: str, *needles: str) -> None:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    assert lines, "no error message"
    last = lines[-1]
    for needle in needles:
        assert needle in last, f"{needle!r} not in {last!r}"


@pytest.mark.parametrize("args, needles", [
    (["trials", "--profile", "huge"], ["'huge'", "smoke", "quick", "full"]),
    (["trials", "--profile", "smoke", "--problem", "mnist"], ["'mnist'", "iris", "energy-efficiency"]),
    (["trials", "--profile", "smoke", "--problem", "iris", "--strategy", "greedy"], ["'greedy'", "sasla", "random"]),
    (["trials", "--profile", "smoke", "--problem", "sine", "--strategy", "entropy"], ["entropy", "sine"]),
    (["grid", "--profile", "smoke", "--problem", "iris", "--executor", "slurm"], ["'slurm'", "local", "dask"]),
    (["grid", "--profile", "smoke", "--problem", "iris", "--device", "tpu"], ["'tpu'", "cpu", "cuda"]),
    (["grid", "--profile", "smoke", "--problem", "iris", "--workers", "-2"], ["-2"]),
    (["grid", "--profile", "smoke", "--problem", "iris", "--workers", "1.5"], ["1.5"]),
])
def test_cli_rejects_bad_settings_before_any_work(tmp_path, args, needles):
    proc = alnn(tmp_path, *args, check=False)
    assert proc.returncode == 2
    _one_line_error(proc.stderr, *needles)
    assert not list(Path(tmp_path).rglob("*.parquet"))


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a GPU is present")
def test_unavailable_device_fails_before_any_work(tmp_path):
    proc = alnn(tmp_path, "grid", "--profile", "smoke", "--problem", "iris", "--device", "cuda", check=False)
    assert proc.returncode == 2
    _one_line_error(proc.stderr, "cuda", "cpu")
    assert not list(Path(tmp_path).rglob("*.parquet"))


@pytest.mark.parametrize("setting, needles", [
    ("PROFILE=huge", ["huge", "smoke quick full"]),
    ("EXECUTOR=slurm", ["slurm", "local dask"]),
    ("DEVICE=tpu", ["tpu", "cpu cuda"]),
    ("WORKERS=-1", ["-1"]),
])
def test_makefile_rejects_bad_settings_before_any_work(setting, needles):
    proc = subprocess.run(["make", "--no-print-directory", "paper", setting], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    _one_line_error(proc.stderr, *needles)


def _api_cases():
    import alnn
    from alnn import datasets
    from alnn.model import TrainConfig

    iris = datasets.load("iris")
    sine = datasets.load("sine")
    cfg = TrainConfig(8, 0.1, 0.0, 0.5, 16)
    common = dict(config=cfg, folds=2, epochs=1, seed=0, progress=False)
    return [
        (lambda: alnn.run(iris, "greedy", trials=1, **common), ["'greedy'", "passive", "sasla"]),
        (lambda: alnn.run(iris, "passive", trials=-1, **common), ["trials", "-1"]),
        (lambda: alnn.run(iris, "passive", trials=2.5, **common), ["trials", "2.5"]),
        (lambda: alnn.run(iris, "sasla", trials=1, params={"beta": 1.5}, **common), ["beta", "1.5"]),
        (lambda: alnn.run(iris, "sasla", trials=1, params={"beta": 0}, **common), ["beta", "0"]),
        (lambda: alnn.run(iris, "entropy", trials=1, params={"query_size": 10_000}, **common),
         ["query_size", "10000"]),
        (lambda: alnn.run(sine, "entropy", trials=1, **common), ["entropy", "regression"]),
        (lambda: alnn.run(iris, "passive", trials=1, device="tpu", **{**common}), ["'tpu'", "cpu"]),
        (lambda: datasets.load("mnist"), ["'mnist'", "fashion-mnist"]),
        (lambda: C.load_profile("huge"), ["'huge'", "smoke"]),
    ]


@pytest.mark.parametrize("case", range(10))
def test_python_api_rejects_bad_settings(case):
    call, needles = _api_cases()[case]
    with pytest.raises(ValueError) as err:
        call()
    message = str(err.value)
    assert "\n" not in message.strip()
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
