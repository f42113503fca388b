"""Profiles and settings: the shipped profiles are valid, and every bad value fails in one line."""

import json
import textwrap

import pytest

from alnn import config as C

FULL_GRID = {"hidden": (64, 128, 256, 512), "lr": (0.01, 0.05, 0.1, 0.5),
             "weight_decay": (0.0, 0.001, 0.01, 0.1), "momentum": (0.0, 0.5, 0.9, 0.95)}
BATCH = {"iris": 16, "wine": 16, "sine": 16, "energy-efficiency": 32, "california-housing": 128,
         "fashion-mnist": 128}


def test_shipped_profiles_load():
    profiles = C.load_profiles()
    assert tuple(profiles) == C.PROFILES
    for profile in profiles.values():
        assert profile.problems == C.PROBLEMS
        assert profile.description
        for problem in C.PROBLEMS:
            s = profile.problem(problem)
            assert s.batch_size == BATCH[problem]
            assert set(s.strategies) == {x for x in C.ALL_STRATEGIES if C.applicable(problem, x)}
            assert set(C.strategies_for(problem)) <= set(s.strategies)


def test_full_profile_is_the_study_protocol():
    full = C.load_profile("full")
    for problem in C.PROBLEMS:
        s = full.problem(problem)
        assert (s.trials, s.folds, s.epochs, s.grid_folds, s.grid_epochs) == (50, 5, 1000, 5, 1000)
        assert s.subsample is None
        assert s.grid.size == 256
        assert {a: getattr(s.grid, a) for a in C.GRID_AXES} == FULL_GRID
        assert s.params("sasla") == C.SaslaParams(beta=0.9, tau=1, norm="sum")
        assert sum(n for _, n in s.trial_chunks()) == 50


def test_smoke_profile_is_tiny():
    smoke = C.load_profile("smoke")
    for problem in C.PROBLEMS:
        s = smoke.problem(problem)
        assert s.trials == 1 and s.folds == 2 and s.epochs <= 5 and s.grid.size == 2
    assert smoke.problem("fashion-mnist").subsample <= 500


def test_quick_profile_reduces_only_what_it_must():
    quick = C.load_profile("quick")
    for problem in ("iris", "wine", "sine", "energy-efficiency"):
        assert quick.problem(problem).grid.size == 256  # the full grid where affordable
    assert quick.problem("fashion-mnist").subsample is not None


def test_applicability():
    assert C.strategies_for("sine") == ("passive", "sasla", "ensemble", "random", "sensitivity")
    assert C.strategies_for("iris") == C.STRATEGIES
    assert C.problems_for("entropy") == ("iris", "wine", "fashion-mnist")
    pairs = C.load_profile("smoke").pairs()
    assert len(pairs) == 3 * 6 + 3 * 5
    assert C.load_profile("smoke").problem("sine").budget_strategies() == (
        "passive", "ensemble", "random", "sensitivity", "coreset", "greedy-x", "greedy-xy", "lcmd")
    # the registry: every strategy's module describes it; the draft's protocol runs the draft's six
    assert C.STRATEGIES == ("passive", "sasla", "entropy", "ensemble", "random", "sensitivity")
    assert set(C.BUDGET_STRATEGIES) == set(C.ALL_STRATEGIES) - {"sasla"}
    with pytest.raises(C.ConfigError, match="'entropy' does not apply to regression problem 'sine'"):
        C.check_pair("sine", "entropy")


@pytest.mark.parametrize("check, value, valid", [
    (C.check_problem, "irs", "iris, wine"),
    (C.check_strategy, "sassla", "passive, sasla"),
    (C.check_profile, "fast", "smoke, quick, full"),
])
def test_unknown_names_fail_naming_the_valid_ones(check, value, valid):
    with pytest.raises(C.ConfigError) as info:
        check(value)
    message = str(info.value)
    assert repr(value) in message and valid in message and "\n" not in message


def shipped():
    import tomllib

    return tomllib.loads(C.PROFILES_PATH.read_text())


def setting(raw, dotted, value):
    *parents, last = dotted.split(".")
    for name in parents:
        raw = raw.setdefault(name, {})
    raw[last] = value


@pytest.mark.parametrize("dotted, value, pattern", [
    ("smoke.problems.iris.batchsize", 3, r"unknown setting 'batchsize'; valid: batch_size, subsample"),
    ("smoke.problems.iris.epochs", -1, r"smoke.problems.iris.epochs = -1 must be an integer >= 1"),
    ("smoke.problems.iris.trials", 2.5, r"smoke.problems.iris.trials = 2.5 is not an integer"),
    ("smoke.problems.iris.folds", 1, r"folds = 1 must be an integer >= 2"),
    ("quick.chunk", True, r"chunk = True is not an integer"),
    ("smoke.problems.iris.strategies.sasla.beta", 1.5, r"beta = 1.5 is outside the open interval \(0, 1\)"),
    ("smoke.problems.iris.strategies.sasla.beta", 0, r"beta = 0.0 is outside the open interval \(0, 1\)"),
    ("smoke.problems.iris.strategies.sasla.norm", "max", r"norm = 'max' is not a valid norm; valid: sum, euclidean"),
    ("smoke.problems.iris.strategies.entropy.query_size", 0, r"query_size = 0 must be an integer >= 1"),
    ("smoke.problems.iris.strategies.entropy.budget", 3, r"unknown setting 'budget'; valid: tau, query_size, initial"),
    ("smoke.problems.iris.strategies.uncertainty", {}, r"unknown setting 'uncertainty'; valid: passive, sasla"),
    ("smoke.problems.iris.grid.hidden", [], r"hidden = \[\] is not a non-empty list of integers"),
    ("smoke.problems.iris.grid.momentum", [1.0], r"momentum = \[1.0\] must lie in \[0, 1\)"),
    ("smoke.problems.iris.grid.lr", [0.1, 0.1], r"lr = \[0.1, 0.1\] repeats a value"),
    ("smoke.problems.irish.batch_size", 3, r"unknown setting 'irish'; valid: iris, wine"),
    ("smoke.seeds.grid", "a", r"smoke.seeds.grid = 'a' is not an integer"),
    ("smoke.epoch", 3, r"smoke: unknown setting 'epoch'"),
    ("fast.trials", 1, r"unknown setting 'fast'; valid: defaults, smoke, quick, full"),
])
def test_bad_profiles_fail_in_one_line(dotted, value, pattern):
    raw = shipped()
    setting(raw, dotted, value)
    with pytest.raises(C.ConfigError, match=pattern) as info:
        C.parse_profiles(raw)
    assert "\n" not in str(info.value)


def test_a_missing_profile_or_bad_toml_fails(tmp_path):
    raw = shipped()
    del raw["quick"]
    with pytest.raises(C.ConfigError, match="profile 'quick' is missing"):
        C.parse_profiles(raw)
    path = tmp_path / "p.toml"
    path.write_text("[smoke\n")
    with pytest.raises(C.ConfigError, match="not valid TOML"):
        C.load_profiles(path)


def test_overrides_merge_key_by_key(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(textwrap.dedent("""
        [defaults]
        trials = 2
        folds = 2
        epochs = 3
        chunk = 1
        grid_folds = 2
        grid_epochs = 2
        seeds = { grid = 1, trials = 2 }
        grid = { hidden = [4, 8], lr = [0.1], weight_decay = [0.0], momentum = [0.5] }
        strategies = { sasla = { beta = 0.8 } }
        [defaults.problems]
        iris = { batch_size = 4 }
        wine = { batch_size = 4 }
        sine = { batch_size = 4 }
        energy-efficiency = { batch_size = 4 }
        california-housing = { batch_size = 4 }
        fashion-mnist = { batch_size = 4, subsample = 100 }
        [smoke]
        [quick]
        epochs = 5
        [quick.problems.iris]
        epochs = 7
        grid = { lr = [0.2, 0.3] }
        strategies = { sasla = { tau = 2 } }
        [full]
    """))
    profiles = C.load_profiles(path)
    iris = profiles["quick"].problem("iris")
    assert iris.epochs == 7 and profiles["quick"].problem("wine").epochs == 5
    assert iris.grid.lr == (0.2, 0.3) and iris.grid.hidden == (4, 8)
    assert iris.params("sasla") == C.SaslaParams(beta=0.8, tau=2, norm="sum")
    assert profiles["smoke"].problem("fashion-mnist").subsample == 100
    assert profiles["smoke"].problem("iris").seeds == C.Seeds(grid=1, trials=2, subsample=0)
    assert iris.trial_chunks() == [(0, 1), (1, 1)]
    assert iris.grid_chunk >= iris.grid.size  # unset: one shard per hidden-layer size


def test_grid_chunk_splits_hidden_sizes_only():
    from alnn import pipeline

    full = C.load_profile("full")
    tasks = pipeline.grid_tasks(full.problem("fashion-mnist"))
    assert len(tasks) == 64 and all(len({c["hidden"] for c in t.fields["configs"]}) == 1 for t in tasks)
    assert sum(len(t.fields["configs"]) for t in tasks) == 256
    assert len(pipeline.grid_tasks(full.problem("iris"))) == 4


def test_stage_configs_are_json_and_carry_the_engine_version():
    s = C.load_profile("quick").problem("iris")
    grid = s.stage_config("grid")
    trials = s.stage_config("trials", "sasla")
    json.dumps(grid), json.dumps(trials)
    assert grid["engine"] == trials["engine"] == C.engine_version()
    assert trials["params"] == {"beta": 0.9, "tau": 1, "norm": "sum"}
    with pytest.raises(C.ConfigError):
        C.load_profile("quick").problem("sine").stage_config("trials", "entropy")


def test_engine_version_follows_the_source(tmp_path, monkeypatch):
    pkg = tmp_path / "fakeengine"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = C.engine_version(("fakeengine.a",))
    (pkg / "a.py").write_text("x = 2\n")
    C.engine_version.cache_clear()
    assert C.engine_version(("fakeengine.a",)) != before
    assert C.engine_version(("no_such_module_xyz",)) == C.engine_version(())


@pytest.mark.parametrize("kwargs, pattern", [
    ({"executor": "slurm"}, r"unknown executor 'slurm'; valid: local, dask"),
    ({"device": "tpu"}, r"unknown device 'tpu'; valid: cpu, cuda"),
    ({"workers": "two"}, r"workers = 'two' must be an integer >= 1"),
    ({"workers": 0}, r"workers = 0 must be an integer >= 1"),
    ({"scheduler": "tcp://x:1"}, r"a scheduler needs executor 'dask'"),
])
def test_bad_execution_settings(kwargs, pattern):
    with pytest.raises(C.ConfigError, match=pattern):
        C.execution(**kwargs)


def test_execution_accepts_make_style_empty_strings():
    e = C.execution("", "", "", "")
    assert e == C.Execution("local", None, "cpu", None)
    assert C.execution("dask", "tcp://127.0.0.1:8786", workers="3").workers == 3


def test_unavailable_cuda_fails_before_work():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(C.ConfigError, match="device 'cuda' is not available"):
        C.execution(device="cuda").check_device()


def problem_namespace(**over):
    ns = {"profile": "smoke", "problem": "iris", "data": "d.json", "grid_table": "g.parquet",
          "grid_winner": "g.json", "heatmap": "h.png", "budget_curves": "b.png", "run_budget": False, "C": C,
          "In": [], "Out": {}, "_": None}
    ns.update(over)
    return ns


def test_notebook_params_accept_declared_names():
    p = C.notebook_params("problem", problem_namespace())
    assert p.problem == "iris" and p.heatmap == "h.png"


@pytest.mark.parametrize("over, pattern", [
    ({"problme": "wine"}, r"notebook problem.ipynb has no parameter 'problme'; valid: profile, problem"),
    ({"problem": "irs"}, r"unknown problem 'irs'; valid: iris"),
    ({"profile": "fast"}, r"unknown profile 'fast'"),
    ({"heatmap": 3}, r"heatmap = 3 is not a string"),
])
def test_notebook_params_reject_unknown_names_and_values(over, pattern):
    with pytest.raises(C.ConfigError, match=pattern):
        C.notebook_params("problem", problem_namespace(**over))


def test_write_if_changed_keeps_the_timestamp(tmp_path):
    path = tmp_path / "a" / "c.json"
    assert C.write_if_changed(path, {"a": 1})
    mtime = path.stat().st_mtime_ns
    assert not C.write_if_changed(path, {"a": 1})
    assert path.stat().st_mtime_ns == mtime
    assert C.write_if_changed(path, {"a": 2})
