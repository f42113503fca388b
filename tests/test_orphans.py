"""Orphaned workers: killing the main process alone (kill -9 of `python -m alnn`, not of its process group)
must not leave its spawned pool workers computing for no one; a rerun then resumes exactly.

Workers are found through /proc (Linux): children of the main process whose command line is
multiprocessing's spawn entry point.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# The smoke-profile helpers and the module-scoped straight run of the reliability tests.
from test_reliability import PROBLEMS, PY, ROOT, assert_same_results, run_all, shard_files, straight  # noqa: F401

from alnn import store as S

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")]

#: How long workers may outlive the main process (they take 0.1 s here; a busy one alone would go on
#: for the rest of its shard, tens of seconds at the full profile).
GRACE_S = 5.0


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    """Running (a zombie that init has not reaped yet counts as gone)."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def children_of(parent: int) -> dict[int, list[bytes]]:
    """Live children of ``parent``: pid -> command line."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is None or stat[1] != parent or stat[0] in ("Z", "X"):
            continue
        try:
            out[int(entry.name)] = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
    return out


def workers_of(parent: int) -> list[int]:
    """Live pool workers of ``parent``: children started by multiprocessing's spawn (not its resource tracker)."""
    return sorted(pid for pid, cmdline in children_of(parent).items() if b"--multiprocessing-fork" in cmdline)


def wait_for_workers(proc: subprocess.Popen, n: int, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the run ended ({proc.returncode}) before its workers appeared:\n{_log(proc)}"
        found = workers_of(proc.pid)
        if len(found) >= n:
            return found
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} workers of {proc.pid} after {timeout} s: {workers_of(proc.pid)}")


def kill_main_only(proc: subprocess.Popen, workers: list[int]) -> float:
    """SIGKILL the main process alone; seconds until every worker, and every other child of it (the resource
    tracker), is gone (fails after GRACE_S)."""
    workers = sorted(set(workers) | set(children_of(proc.pid)))
    os.kill(proc.pid, signal.SIGKILL)
    killed = time.monotonic()
    proc.wait(timeout=30)
    while time.monotonic() - killed < GRACE_S:
        left = [pid for pid in workers if alive(pid)]
        if not left:
            return time.monotonic() - killed
        time.sleep(0.02)
    raise AssertionError(f"workers {left} still run {GRACE_S:.0f} s after their parent {proc.pid} was killed")


def _start(results: Path, *args: str) -> subprocess.Popen:
    """The real command line on ``results``, its stderr in a file beside it, in a session of its own (so that
    cleanup can kill whatever is left of it)."""
    log = Path(results).with_name(Path(results).name + ".stderr")
    with open(log, "w") as err:
        proc = subprocess.Popen([PY, "-m", "alnn", *args, "--no-progress", "--results", str(results)], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    proc.log = log
    return proc


def _log(proc: subprocess.Popen) -> str:
    return proc.log.read_text()[-3000:]


def _cleanup(proc: subprocess.Popen, workers: list[int]) -> None:
    for pid in workers:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


def test_busy_workers_exit_when_the_main_process_is_killed(tmp_path):
    """Workers in the middle of long shards (full profile, Iris, SASLA: about 30 s each here) exit at once."""
    results = tmp_path / "results"
    # the trial stage needs only the problem's grid winner: a plausible one, written directly
    S.write_json(results / "full" / "grid" / "iris.json", {
        "profile": "full", "problem": "iris", "hidden": 64, "lr": 0.1, "weight_decay": 0.0, "momentum": 0.9,
        "batch_size": 16})
    proc = _start(results, "trials", "--profile", "full", "--problem", "iris", "--strategy", "sasla",
                  "--workers", "2")
    workers: list[int] = []
    try:
        workers = wait_for_workers(proc, 2, timeout=120)
        time.sleep(2.0)  # into their first shards
        assert all(alive(pid) for pid in workers) and not shard_files_of(results, "full"), _log(proc)
        others = sorted(set(children_of(proc.pid)) - set(workers))  # multiprocessing's resource tracker
        seconds = kill_main_only(proc, workers)
        print(f"workers {workers} (and {others}) exited {seconds:.2f} s after the main process was killed")
    finally:
        _cleanup(proc, workers)


def shard_files_of(results: Path, profile: str) -> list[Path]:
    return sorted((Path(results) / profile / "shards").rglob("*.parquet"))


def test_rerun_after_killing_the_main_process_resumes_to_identical_numbers(straight, tmp_path):  # noqa: F811
    """Smoke profile with a pool of 2: kill -9 of the main process alone, once shards exist, leaves no worker;
    the rerun reuses the finished shards and gives exactly the numbers of an uninterrupted run."""
    reference, _ = straight
    results = tmp_path / "results"
    proc = _start(results, "all", "--profile", "smoke", "--problem", *PROBLEMS, "--workers", "2")
    workers: list[int] = []
    try:
        workers = wait_for_workers(proc, 2, timeout=120)
        deadline = time.monotonic() + 120
        while not shard_files(results) and time.monotonic() < deadline:
            assert proc.poll() is None, f"the run ended before it could be interrupted:\n{_log(proc)}"
            time.sleep(0.02)
        workers = sorted(set(workers) | set(workers_of(proc.pid)))
        assert proc.poll() is None, f"the run ended before it could be interrupted:\n{_log(proc)}"
        kill_main_only(proc, workers)
    finally:
        _cleanup(proc, workers)
    before = {p: p.stat().st_mtime_ns for p in shard_files(results)}
    assert before, "no shard was finished before the kill"
    for path in before:  # no half-written file under a finished name
        S.read(path)
    resumed = run_all(results)
    assert_same_results(reference, results)
    for path, mtime in before.items():
        assert path.stat().st_mtime_ns == mtime, f"{path.name} was recomputed"
    assert "reused" in resumed.stderr
    assert not list(results.rglob("*.tmp"))


# ------------------------------------------------------------------ the portable fallback, without prctl

_WATCHED = ("import sys, time; from alnn.watchdog import exit_with_parent; "
            "exit_with_parent(int(sys.argv[1]), signal_on_death=False); print('ready', flush=True); time.sleep(120)")


def test_watchdog_thread_alone_exits_when_the_parent_dies():
    """Where the parent-death signal is unavailable, the polling thread alone ends an orphan within a second."""
    middle = subprocess.Popen(
        [PY, "-c", "import os, subprocess, sys, time; "
                   f"c = subprocess.Popen([sys.executable, '-c', {_WATCHED!r}, str(os.getpid())]); "
                   "print(c.pid, flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    child = None
    try:
        child = int(middle.stdout.readline())
        assert middle.stdout.readline().strip() == "ready"
        assert alive(child)
        seconds = kill_main_only(middle, [child])
        assert seconds < 3, f"the watchdog took {seconds:.1f} s"
    finally:
        _cleanup(middle, [child] if child else [])
        middle.stdout.close()


def test_worker_whose_parent_died_before_arming_exits_at_once():
    """The re-check right after arming: a parent pid that is no longer the parent means exit, now."""
    from alnn.watchdog import ORPHAN_EXIT

    proc = subprocess.run([PY, "-c", _WATCHED, str(os.getpid() + 1_000_000)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == ORPHAN_EXIT and "ready" not in proc.stdout
