"""The three protocols are thin drivers over `alnn.engine`: their frames are bit for bit those
recorded from the engine before it was split out of `alnn.experiment` (tests/frames/record.py),
and no driver imports a private name of another module."""

import ast
from pathlib import Path

import pandas as pd
import pytest

import alnn
from alnn.budget import run_budget
from alnn.experiment import grid_search, run
from alnn.halving import halving_search

FRAMES = Path(__file__).parent / "frames"
LIB = Path(alnn.__file__).parent

import importlib.util  # noqa: E402

_spec = importlib.util.spec_from_file_location("record_frames", FRAMES / "record.py")


def _recorded():
    return sorted(p.stem for p in FRAMES.glob("*.parquet"))


@pytest.fixture(scope="module")
def data():
    return {"iris": alnn.datasets.load("iris"), "sine": alnn.datasets.load("sine")}


def _compute(name: str, data):
    mod = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(mod)
    kind, problem, *rest = name.split("-")
    d = data[problem]
    if kind == "run":
        return run(d, rest[0], config=mod.CFG, trials=2, folds=3, epochs=12, seed=5, progress=False)
    if kind == "grid":
        return grid_search(d, mod.GRID, folds=2, epochs=9, seed=5, progress=False)
    if kind == "halving":
        return halving_search(d, mod.GRID, folds=2, epochs=9, seed=5, eta=2, rungs=3, progress=False)
    strategy, start = rest
    # the rounds of the earlier rule: round_epochs epochs over L
    return run_budget(d, strategy, config=mod.CFG, trials=2, folds=3, round_epochs=3, budgets=4, seed=5,
                      start=start, progress=False, round_training="epochs")


@pytest.mark.parametrize("name", _recorded())
def test_driver_frames_are_bit_identical_to_the_recorded_engine(name, data):
    expected = pd.read_parquet(FRAMES / f"{name}.parquet")
    got = _compute(name, data).drop(columns=["wall_s"], errors="ignore")
    got = got[[c for c in got.columns if c in expected.columns]]
    assert list(got.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_exact=True)


@pytest.mark.parametrize("module", ["budget", "halving", "experiment"])
def test_drivers_import_no_private_name_of_another_module(module):
    tree = ast.parse((LIB / f"{module}.py").read_text())
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("alnn"):
            bad += [a.name for a in node.names if a.name.startswith("_")]
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            if isinstance(node.value, ast.Name) and node.value.id in {"engine", "experiment", "model", "budget"}:
                bad.append(f"{node.value.id}.{node.attr}")
    assert not bad, f"{module} uses private names of other modules: {bad}"
