"""Successive halving (alnn.halving) against the full grid search, and its grid stage (smoke scale)."""

import itertools
import tomllib

import numpy as np
import pytest

from alnn import config as C
from alnn import experiment, halving
from alnn import pipeline as P
from alnn import store as S
from alnn.datasets import Dataset
from alnn.model import TrainConfig

KEYS = list(P.GRID_KEYS)


def blobs(n=128, seed=0):
    """Two well separated classes in 4 inputs: a large learning rate learns them, a tiny one cannot."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.normal(size=(n, 4)).astype(np.float32) + 2.5 * y[:, None].astype(np.float32)
    return Dataset(name="blobs", task="classification", X=X, y=y.astype(np.int64),
                   feature_names=("a", "b", "c", "d"), class_names=("no", "yes"))


def ramp(n=96, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    y = (X @ np.array([[1.5], [-0.5]], dtype=np.float32)) + 0.05 * rng.normal(size=(n, 1)).astype(np.float32)
    return Dataset(name="ramp", task="regression", X=X, y=y.astype(np.float32), feature_names=("a", "b"),
                   target_names=("t",))


# 8 configurations per hidden size: with 2 folds of 64 validation patterns every batched tensor of the
# full grid is a whole number of vector widths, as with the study's 64 configurations per hidden size
CONFIGS = [TrainConfig(h, lr, 0.0, m, 16)
           for h, lr, m in itertools.product([8, 16], [0.5, 0.2, 0.05, 1e-4], [0.0, 0.9])]
GRID = dict(folds=2, seed=7, progress=False)


@pytest.fixture(scope="module")
def data():
    return blobs()


@pytest.fixture(scope="module")
def searched(data):
    return halving.halving_search(data, CONFIGS, epochs=9, eta=3, rungs=3, **GRID)


def as_dicts(configs):
    return [{k: getattr(c, k) for k in KEYS} for c in configs]


def test_rungs_and_network_epochs_are_counted_exactly(searched):
    assert halving.rung_epochs(100, 3, 4) == [4, 11, 33, 100]
    assert halving.rung_epochs(1000, 3, 4) == [37, 111, 333, 1000]
    assert halving.rung_epochs(2, 3, 4) == [1, 1, 1, 2]  # short budgets repeat a rung's epochs
    assert halving.rung_epochs(9, 3, 1) == [9]
    assert halving.rung_epochs(9, 3, 3) == [1, 3, 9]
    # 16 configurations x 2 folds for 1 epoch; the best 16 // 3 = 5 to epoch 3; the best 5 // 3 = 1 to 9
    reached = searched.groupby(KEYS)["rung"].first().value_counts().to_dict()
    assert reached == {1: 11, 2: 4, 3: 1}
    assert set(zip(searched["rung"], searched["epochs"])) == {(1, 1), (2, 3), (3, 9)}
    spent = 16 * 2 * 1 + 5 * 2 * (3 - 1) + 1 * 2 * (9 - 3)
    assert searched["epochs"].sum() == spent == 64
    assert halving.network_epochs(16, 2, 9, 3, 3) == spent
    assert len(searched) == 32 and list(searched.columns[-2:]) == ["rung", "epochs"]


def test_halving_picks_the_full_grids_winner(data, searched):
    full = P.summarise_grid(experiment.grid_search(data, CONFIGS, epochs=9, **GRID), as_dicts(CONFIGS))
    table = P.summarise_halving(searched, as_dicts(CONFIGS))
    assert table.iloc[0][KEYS].tolist() == full.iloc[0][KEYS].tolist()
    assert table.iloc[0]["lr"] >= 0.2 and table.iloc[0]["rung"] == 3
    assert full.set_index(KEYS).loc[tuple(table.iloc[0][KEYS])]["rank"] == 1
    # the tiny learning rate is hopeless: dropped at the first rung
    assert (table.loc[table["lr"] == 1e-4, "rung"] == 1).all()
    # ranked by rung reached, then by the score there
    assert table["rank"].tolist() == list(range(1, 17))
    assert (np.diff(table["rung"].to_numpy()) <= 0).all()
    for _, part in table.groupby("rung"):
        assert (np.diff(part["val_loss"].to_numpy()) >= 0).all()
    assert set(P.summarise_grid(searched, as_dicts(CONFIGS)).columns) | {"rung", "epochs"} == set(table.columns)


@pytest.mark.parametrize("rung, epochs", [(1, 1), (2, 3), (3, 9)])
def test_every_network_is_the_full_grids_network_up_to_its_last_rung(data, searched, rung, epochs):
    """A configuration's record at the rung where it stopped is the full grid's at that epoch, bit for bit
    (the networks are the same: splits, initial weights, shuffles and every update)."""
    full = experiment.grid_search(data, CONFIGS, epochs=epochs, **GRID)
    mine = searched[searched["rung"] == rung]
    both = mine.merge(full, on=KEYS + ["fold"], suffixes=("", "_full"))
    assert len(both) == len(mine) > 0
    for col in full.columns:
        if col in KEYS or col == "fold":
            continue
        a, b = both[col].to_numpy(), both[f"{col}_full"].to_numpy()
        assert (np.array_equal(a, b, equal_nan=True) if a.dtype.kind == "f" else np.array_equal(a, b)), col


def test_the_engine_precision_is_passed_through(data):
    frame = halving.halving_search(data, CONFIGS, epochs=9, eta=3, rungs=3, precision="bfloat16", **GRID)
    full = experiment.grid_search(data, CONFIGS, epochs=9, precision="bfloat16", **GRID)
    last = frame[frame["rung"] == 3].merge(full, on=KEYS + ["fold"], suffixes=("", "_full"))
    assert len(last) > 0 and np.array_equal(last["val_loss"], last["val_loss_full"])
    with pytest.raises(ValueError, match="precision"):
        halving.halving_search(data, CONFIGS[:2], epochs=2, precision="float8", **GRID)


def test_one_rung_is_the_full_grid(data):
    full = experiment.grid_search(data, CONFIGS[:8], epochs=4, **GRID)
    one = halving.halving_search(data, CONFIGS[:8], epochs=4, eta=2, rungs=1, **GRID)
    assert (one["rung"] == 1).all() and (one["epochs"] == 4).all()
    assert one.drop(columns=["rung", "epochs"]).equals(full)


def test_diverged_configurations_are_dropped_first_and_ranked_last():
    ds = ramp()
    # lr 5000 diverges (non-finite weights); lr 500 overflows the outputs (an infinite loss): both fail
    configs = [TrainConfig(8, lr, 0.0, 0.95, 16) for lr in (5000.0, 0.1, 500.0, 0.05)]
    frame = halving.halving_search(ds, configs, epochs=4, eta=2, rungs=2, folds=2, seed=3, progress=False)
    table = P.summarise_halving(frame, as_dicts(configs))
    assert set(table["lr"].tolist()[2:]) == {5000.0, 500.0} and table["diverged"].tolist() == [False, False, True, True]
    assert table["rung"].tolist() == [2, 2, 1, 1]  # 4 // 2 = 2 continue: the two that did not fail
    assert frame["epochs"].sum() == 4 * 2 * 2 + 2 * 2 * 2


@pytest.mark.parametrize("eta, rungs, pattern", [
    (1, 4, r"halving eta must be an integer >= 2, got 1"),
    (3, 0, r"halving rungs must be an integer >= 1, got 0"),
    (2.5, 4, r"halving eta must be an integer >= 2, got 2.5"),
])
def test_bad_halving_arguments_fail_in_one_line(data, eta, rungs, pattern):
    with pytest.raises(ValueError, match=pattern) as info:
        halving.halving_search(data, CONFIGS[:2], epochs=2, eta=eta, rungs=rungs, **GRID)
    assert "\n" not in str(info.value)


def shipped():
    return tomllib.loads(C.PROFILES_PATH.read_text())


@pytest.mark.parametrize("key, value, pattern", [
    ("grid_search", "bayes", r"smoke.problems.iris.grid_search = 'bayes' is not valid; valid: full, halving"),
    ("grid_search", 3, r"smoke.problems.iris.grid_search = 3 is not a string"),
    ("halving_eta", 1, r"smoke.problems.iris.halving_eta = 1 must be an integer >= 2"),
    ("halving_rungs", 0, r"smoke.problems.iris.halving_rungs = 0 must be an integer >= 1"),
    ("halving_rungs", 2.0, r"smoke.problems.iris.halving_rungs = 2.0 is not an integer"),
])
def test_bad_grid_search_settings_fail_in_one_line(key, value, pattern):
    raw = shipped()
    raw["smoke"].setdefault("problems", {}).setdefault("iris", {})[key] = value
    with pytest.raises(C.ConfigError, match=pattern) as info:
        C.parse_profiles(raw)
    assert "\n" not in str(info.value)


def halving_profile(**over):
    raw = shipped()
    raw["smoke"].update({"grid_search": "halving", "grid_epochs": 3, "halving_rungs": 2,
                         "grid": {"hidden": [4, 8], "lr": [0.5, 0.0001], "weight_decay": [0.0], "momentum": [0.9]},
                         **over})
    return C.parse_profiles(raw)["smoke"]


def test_search_settings_are_part_of_the_grid_stage_config():
    full = C.load_profile("smoke").problem("iris")
    assert full.grid_search == "full" and (full.halving_eta, full.halving_rungs) == (3, 4)
    assert "search" not in full.stage_config("grid")  # the full grid's shard keys stay what they were
    assert all("search" not in t.fields for t in P.grid_tasks(full))
    s = halving_profile().problem("iris")
    config = s.stage_config("grid")
    assert (config["search"], config["eta"], config["rungs"]) == ("halving", 3, 2)
    assert config["halving_engine"] == C.engine_version(C.HALVING_MODULES)
    assert halving_profile(halving_eta=2).problem("iris").stage_config("grid") != config
    tasks = P.grid_tasks(s)
    assert len(tasks) == 1 and len(tasks[0].fields["configs"]) == 4  # one shard: the ranking is global
    assert P.grid_tasks(halving_profile(halving_rungs=3).problem("iris"))[0].key != tasks[0].key


def test_grid_stage_with_halving_writes_the_table_and_winner_and_reuses_its_shard(tmp_path, monkeypatch, capsys):
    profile = halving_profile()
    store = S.Store(tmp_path)
    calls = []
    real = P._halving()

    class Counting:
        def halving_search(self, *args, **kwargs):
            calls.append(kwargs)
            return real.halving_search(*args, **kwargs)

    monkeypatch.setattr(P, "_halving", lambda: Counting())
    execution = C.Execution(workers=1, progress=False)
    table, winner = P.grid(profile, "iris", store=store, execution=execution)
    assert len(calls) == 1 and (calls[0]["eta"], calls[0]["rungs"]) == (3, 2)
    assert len(table) == 4 and table["rank"].tolist() == [1, 2, 3, 4]
    assert {"rung", "epochs", "val_loss", "val_loss_std", "n_diverged", "diverged"} <= set(table.columns)
    assert winner["lr"] == 0.5 and winner["rank"] == 1 and table.iloc[0]["rung"] == 2
    assert winner["search"] == "halving" and (winner["eta"], winner["rungs"]) == (3, 2)
    # 4 configurations x 2 folds x 1 epoch, then the best 4 // 3 = 1 for 2 more epochs
    assert winner["network_epochs"] == 4 * 2 * 1 + 1 * 2 * 2 and winner["network_epochs_full"] == 4 * 2 * 3
    assert winner["rung_configs"] == {"1": 3, "2": 1}
    assert S.read_json(store.grid_winner("iris")) == winner
    stored = S.read(store.grid_table("iris"), {"problem": "iris", "search": "halving"})
    assert stored.equals(table)
    assert "successive halving eta=3 in 2 rungs" in capsys.readouterr().err
    # a second run reuses the shard and writes the same result
    table2, winner2 = P.grid(profile, "iris", store=store, execution=execution)
    assert len(calls) == 1 and table2.equals(table) and winner2 == winner
    assert "0 shard(s) computed, 1 reused" in capsys.readouterr().err
    # the trial stage accepts halving's winner
    assert P.read_winner(store.grid_winner("iris"), profile.problem("iris"))["lr"] == 0.5
