"""Shared test set-up: the raw-data mirror and a quiet, single-threaded torch."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# `make test` exports ALNN_DATA_MIRROR; a bare `pytest` finds ../shared/data too.
if not os.environ.get("ALNN_DATA_MIRROR") and SHARED_DATA.is_dir():
    os.environ["ALNN_DATA_MIRROR"] = str(SHARED_DATA)
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def isolated_data(tmp_path, monkeypatch):
    """An empty cache, no mirror, no download: nothing can be found."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("ALNN_DATA_DIR", str(cache))
    monkeypatch.delenv("ALNN_DATA_MIRROR", raising=False)
    monkeypatch.setenv("ALNN_DATA_OFFLINE", "1")
    return cache


@pytest.fixture(scope="session")
def smoke_paper(tmp_path_factory):
    """`make paper PROFILE=smoke` once per session, from a clean profile, its results in a temporary folder:
    ``(results folder, the run's CompletedProcess, its seconds)``. Tests that share it must leave it finished."""
    import subprocess
    import time

    results = tmp_path_factory.mktemp("smoke-results")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    env["PYTHONUNBUFFERED"] = "1"

    def make(*args):
        proc = subprocess.run(["make", "--no-print-directory", *args, "PROFILE=smoke", f"RESULTS={results}"],
                              cwd=ROOT, capture_output=True, text=True, timeout=1800, env=env)
        if proc.returncode:
            raise AssertionError(f"make {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
                                 f"{proc.stderr[-4000:]}")
        return proc

    make("clean")
    start = time.perf_counter()
    first = make("paper")
    return results, first, time.perf_counter() - start
