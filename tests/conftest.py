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
