"""Grid and trial stages against a fake engine (fast), plus one real smoke run (slow)."""

import types

import numpy as np
import pandas as pd
import pytest

from alnn import config as C
from alnn import pipeline as P
from alnn import store as S
from alnn.cli import main


class FakeEngine:
    """The engine's interface with deterministic numbers and a call log (no training)."""

    def __init__(self, diverge=()):
        self.calls = []
        self.diverge = set(diverge)  # (hidden, lr) pairs whose folds diverge

    def grid_search(self, dataset, configs, *, folds, epochs, seed, device="cpu", progress=True):
        self.calls.append(("grid", dataset.name, len(configs)))
        rows = []
        for c in configs:
            for fold in range(folds):
                loss = 1.0 / c.hidden + abs(c.lr - 0.1) + c.weight_decay + 0.01 * fold + 0.001 * epochs
                div = (c.hidden, c.lr) in self.diverge
                rows.append({"hidden": c.hidden, "lr": c.lr, "weight_decay": c.weight_decay,
                             "momentum": c.momentum, "batch_size": c.batch_size, "fold": fold,
                             "val_loss": np.nan if div else loss, "diverged": div, "accuracy": 1 - loss})
        return pd.DataFrame(rows)

    def run(self, dataset, strategy, *, config, trials, folds, epochs, seed, trial_start=0, params=None,
            device="cpu", progress=True, return_masks=False):
        self.calls.append(("run", dataset.name, strategy, trial_start, trials))
        rows = []
        for t in range(trial_start, trial_start + trials):
            for f in range(folds):
                for e in range(1, epochs + 1):
                    rows.append({"dataset": dataset.name, "strategy": strategy, "trial": t, "fold": f,
                                 "epoch": e, "subset_size": 10, "labels_used": 10, "presentations": 10 * e,
                                 "scored": 0, "diverged": False, "wall_s": 0.0, "train_loss": 1 / e,
                                 "val_loss": 1 / e + seed % 7 + t / 100, "accuracy": 1 - 1 / (e + t + f)})
        frame = pd.DataFrame(rows)
        if not return_masks:
            return frame
        pool = np.arange(0, 2 * len(dataset.X) // 3)
        masks = {(t, f): {"pool": pool, "mask": np.arange(epochs * len(pool)).reshape(epochs, -1) % (t + 2) == 0}
                 for t in range(trial_start, trial_start + trials) for f in range(folds)}
        return frame, masks


@pytest.fixture
def fake(monkeypatch):
    engine = FakeEngine()
    monkeypatch.setattr(P, "_engine", lambda: engine)
    return engine


@pytest.fixture
def profile():
    return C.load_profile("smoke")


INLINE = C.Execution(workers=1, progress=False)


def test_grid_ranks_by_mean_validation_loss_and_diverged_last(tmp_path, fake, profile):
    fake.diverge = {(8, 0.1)}
    store = S.Store(tmp_path)
    table, winner = P.grid(profile, "iris", store=store, execution=INLINE)
    assert list(table["hidden"]) == [4, 8] and list(table["rank"]) == [1, 2]
    assert table["diverged"].tolist() == [False, True]
    assert winner["hidden"] == 4 and winner["rank"] == 1 and winner["batch_size"] == 16
    assert winner["val_loss"] == pytest.approx(1 / 4 + 0.005 + 0.002)
    assert S.read_json(store.grid_winner("iris")) == winner
    stored = S.read(store.grid_table("iris"), {"problem": "iris"})
    assert len(stored) == 2 and {"val_loss", "val_loss_std", "n_diverged", "rank"} <= set(stored.columns)
    assert len(fake.calls) == 2  # one shard per hidden size


def test_summarise_grid_orders_ties_by_the_grid():
    configs = [{"hidden": h, "lr": 0.1, "weight_decay": 0.0, "momentum": 0.0, "batch_size": 4} for h in (8, 4)]
    frame = pd.DataFrame([{**c, "fold": f, "val_loss": 1.0, "diverged": False} for c in configs for f in (0, 1)])
    table = P.summarise_grid(frame, configs)
    assert list(table["hidden"]) == [8, 4]


def test_trials_before_grid_fail_clearly(tmp_path, fake, profile):
    with pytest.raises(FileNotFoundError, match="run the grid stage first"):
        P.trials(profile, "iris", store=S.Store(tmp_path), execution=INLINE)


def test_trials_write_shards_and_a_second_run_reuses_them(tmp_path, fake, profile, capsys):
    store = S.Store(tmp_path)
    P.grid(profile, "iris", store=store, execution=INLINE)
    paths = P.trials(profile, "iris", store=store, execution=INLINE)
    assert set(paths) == set(C.STRATEGIES)
    runs = [c for c in fake.calls if c[0] == "run"]
    assert len(runs) == len(C.STRATEGIES)
    frame = P.read_trials(store, "iris", "sasla")
    assert set(frame["strategy"]) == {"sasla"} and len(frame) == 1 * 2 * 3
    shards = sorted((tmp_path / "shards" / "iris" / "sasla").glob("*[!g].parquet"))
    assert len(shards) == 1
    key = shards[0].stem
    meta = S.read_meta(shards[0])
    assert meta["key"] == key and meta["fields"]["strategy"] == "sasla"
    assert meta["fields"]["engine"] == C.engine_version()
    assert meta["fields"]["config"]["hidden"] == 8

    capsys.readouterr()
    fake.calls.clear()
    P.grid(profile, "iris", store=store, execution=INLINE)
    P.trials(profile, "iris", store=store, execution=INLINE)
    assert fake.calls == []
    err = capsys.readouterr().err
    assert "0 shard(s) computed, 2 reused" in err and f"0 shard(s) computed, {len(C.STRATEGIES)} reused" in err


def test_corrupted_shard_is_recomputed(tmp_path, fake, profile, capsys):
    store = S.Store(tmp_path)
    P.grid(profile, "iris", store=store, execution=INLINE)
    P.trials(profile, "iris", ["passive"], store=store, execution=INLINE)
    before = P.read_trials(store, "iris", "passive")
    shard = next((tmp_path / "shards" / "iris" / "passive").glob("*[!g].parquet"))
    shard.write_bytes(shard.read_bytes()[:100])
    fake.calls.clear()
    P.trials(profile, "iris", ["passive"], store=store, execution=INLINE)
    assert len(fake.calls) == 1
    assert "recomputing" in capsys.readouterr().err
    pd.testing.assert_frame_equal(P.read_trials(store, "iris", "passive"), before)


def test_changed_setting_gets_a_new_shard_and_never_mixes(tmp_path, fake, profile):
    store = S.Store(tmp_path)
    P.grid(profile, "iris", store=store, execution=INLINE)
    P.trials(profile, "iris", ["passive"], store=store, execution=INLINE)
    raw = __import__("tomllib").loads(C.PROFILES_PATH.read_text())
    raw["smoke"].setdefault("problems", {}).setdefault("iris", {})["epochs"] = 5
    changed = C.parse_profiles(raw)["smoke"]
    P.trials(changed, "iris", ["passive"], store=store, execution=INLINE)
    frame = P.read_trials(store, "iris", "passive")
    assert frame["epoch"].max() == 5 and len(frame) == 2 * 5
    assert len(list((tmp_path / "shards" / "iris" / "passive").glob("*[!g].parquet"))) == 2


def test_diagnostics_record_trial_0_fold_0(tmp_path, fake, profile):
    store = S.Store(tmp_path)
    P.grid(profile, "iris", store=store, execution=INLINE)
    P.trials(profile, "iris", ["sasla"], store=store, execution=INLINE)
    diag = P.read_diagnostics(store, "iris", "sasla")
    assert list(diag.columns) == ["epoch", "pattern", "selected"]
    assert len(diag) == 3 * 100 and diag["selected"].sum() == 150
    # a lost diagnostics file makes its shard recompute
    shard = next((tmp_path / "shards" / "iris" / "sasla").glob("*.diag.parquet"))
    shard.unlink()
    fake.calls.clear()
    P.trials(profile, "iris", ["sasla"], store=store, execution=INLINE)
    assert len(fake.calls) == 1 and shard.exists()


def test_diagnostics_frame_thins_long_records():
    record = {"pool": np.arange(10, 20), "mask": np.ones((7, 10), bool), "score": np.zeros((7, 10))}
    frame = P.diagnostics_frame(record)
    assert len(frame) == 70 and list(frame.columns) == ["epoch", "pattern", "selected", "score"]
    old = P.DIAGNOSTICS_CELLS
    try:
        P.DIAGNOSTICS_CELLS = 30
        thin = P.diagnostics_frame(record)
    finally:
        P.DIAGNOSTICS_CELLS = old
    assert sorted(thin["epoch"].unique()) == [1, 4, 7]


def test_chunks_cover_every_trial_once(tmp_path, fake):
    raw = __import__("tomllib").loads(C.PROFILES_PATH.read_text())
    raw["smoke"]["trials"] = 5
    raw["smoke"]["chunk"] = 2
    profile = C.parse_profiles(raw)["smoke"]
    store = S.Store(tmp_path)
    P.grid(profile, "iris", store=store, execution=INLINE)
    P.trials(profile, "iris", ["random"], store=store, execution=INLINE)
    runs = [c[3:] for c in fake.calls if c[0] == "run"]
    assert sorted(runs) == [(0, 2), (2, 2), (4, 1)]
    frame = P.read_trials(store, "iris", "random")
    assert sorted(frame["trial"].unique()) == [0, 1, 2, 3, 4]
    assert frame.groupby(["trial", "fold"]).size().eq(3).all()


def test_winner_from_another_profile_is_refused(tmp_path, fake, profile):
    store = S.Store(tmp_path)
    P.grid(profile, "iris", store=store, execution=INLINE)
    winner = S.read_json(store.grid_winner("iris"))
    S.write_json(store.grid_winner("iris"), {**winner, "profile": "quick"})
    with pytest.raises(S.ShardError, match="expected smoke/iris"):
        P.trials(profile, "iris", store=store, execution=INLINE)


def test_query_size_larger_than_the_pool_fails_before_work(tmp_path, fake):
    raw = __import__("tomllib").loads(C.PROFILES_PATH.read_text())
    raw["smoke"].setdefault("problems", {}).setdefault("iris", {})["strategies"] = {"random": {"query_size": 500}}
    profile = C.parse_profiles(raw)["smoke"]
    with pytest.raises(C.ConfigError, match=r"random.query_size = 500 is not smaller than the training pool "
                                            r"\(75 patterns\); valid: 1 .. 74"):
        P.data(profile, "iris", store=S.Store(tmp_path))
    assert fake.calls == []


def test_data_stage_describes_the_problem(tmp_path, profile):
    summary = P.data(profile, "fashion-mnist", store=S.Store(tmp_path))
    assert summary["n_samples"] == 300 and summary["n_features"] == 784
    assert sum(summary["class_counts"]) == 300 and min(summary["class_counts"]) >= 29
    sine = P.data(profile, "sine", store=S.Store(tmp_path))
    assert sine["task"] == "regression" and set(sine["targets"]["y"]) >= {"mean", "std"}
    assert S.read_json(tmp_path / "data" / "sine.json") == sine


def test_stage_configs_change_only_when_settings_do(tmp_path, profile):
    store = S.Store(tmp_path)
    first = P.write_stage_configs(profile, store)
    n_trials = sum(len(C.strategies_for(p)) for p in C.PROBLEMS)
    n_budget = sum(len(profile.problem(p).budget_strategies()) for p in C.PROBLEMS)
    assert len(first) == 6 * 2 + n_trials + n_budget + 1  # data, grid; trials; budget; ablation
    assert n_trials == 3 * 6 + 3 * 5 and n_budget == 3 * 10 + 3 * 8  # the registry's strategies
    assert P.write_stage_configs(profile, store) == []


def test_cli_runs_the_stages_and_reports_bad_values(tmp_path, fake, capsys):
    results = str(tmp_path)
    assert main(["config", "--profile", "smoke", "--results", results]) == 0
    assert main(["data", "--profile", "smoke", "--problem", "sine", "--results", results]) == 0
    assert main(["grid", "--profile", "smoke", "--problem", "sine", "--results", results, "--workers", "1"]) == 0
    assert main(["trials", "--profile", "smoke", "--problem", "sine", "--strategy", "sasla", "random",
                 "--results", results, "--workers", "1"]) == 0
    assert (tmp_path / "smoke" / "trials" / "sine" / "random.parquet").exists()
    assert not (tmp_path / "smoke" / "trials" / "sine" / "passive.parquet").exists()
    capsys.readouterr()
    for argv, message in [
        (["trials", "--profile", "smoke", "--problem", "sine", "--strategy", "entropy"],
         "strategy 'entropy' does not apply to regression problem 'sine'"),
        (["grid", "--profile", "smok", "--problem", "sine"], "unknown profile 'smok'; valid: smoke, quick, full"),
        (["grid", "--profile", "smoke", "--problem", "sin"], "unknown problem 'sin'; valid: iris"),
        (["grid", "--profile", "smoke", "--problem", "sine", "--executor", "ray"], "unknown executor 'ray'"),
        (["grid", "--profile", "smoke", "--problem", "sine", "--workers", "-1"], "workers = '-1' must be"),
    ]:
        assert main(argv + ["--results", results]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert main(["config", "--profile", "smoke", "--show"]) == 0
    shown = capsys.readouterr().out
    assert '"fashion-mnist"' in shown and '"subsample": 300' in shown


@pytest.mark.parametrize("raised", ["interrupt", "import"])
def test_an_interrupt_at_any_moment_ends_with_one_line(monkeypatch, capsys, raised):
    """Ctrl-C during a lazy import of torch or numpy reaches the command as the ImportError an extension
    module raises from the KeyboardInterrupt; either way the command says how to resume, with status 130."""
    import alnn.cli as cli

    def interrupted(argv):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            if raised == "interrupt":
                raise
            raise ImportError("initialization failed") from exc

    monkeypatch.setattr(cli, "_dispatch", interrupted)
    assert main(["all", "--profile", "smoke"]) == 130
    assert capsys.readouterr().err == "alnn all: interrupted; finished shards are kept, rerun to resume\n"


def test_an_import_error_of_its_own_is_not_an_interrupt(monkeypatch):
    import alnn.cli as cli

    def broken(argv):
        raise ImportError("no module named torch")

    monkeypatch.setattr(cli, "_dispatch", broken)
    with pytest.raises(ImportError, match="no module named torch"):
        main(["all", "--profile", "smoke"])


def test_the_configuration_and_command_line_load_without_torch():
    """Reading a profile and the catalogue imports no strategy module (and so no torch): the command line
    starts fast, and an interrupt in its first second is the command's own."""
    import subprocess
    import sys

    code = "import sys, alnn.cli, alnn.config; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_reports_render_html_and_an_index(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    paths = []
    for name in ("problem-iris", "strategy-sasla"):
        cell = new_code_cell("1 + 1", outputs=[new_output("execute_result", {"text/plain": "2"}, execution_count=1)])
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(new_notebook(cells=[cell]), path)
        paths.append(str(path))
    assert main(["reports", "--profile", "smoke", "--index", str(tmp_path / "index.html"), *paths]) == 0
    text = (tmp_path / "index.html").read_text()
    assert 'href="problem-iris.html"' in text and 'href="strategy-sasla.ipynb"' in text
    assert "<pre>2</pre>" in (tmp_path / "problem-iris.html").read_text()
