"""Dask distributed: a LocalCluster on loopback gives the same numbers as the local pool and as one process."""

import pandas as pd
import pytest

from alnn import config as C
from alnn import pipeline as P
from alnn import store as S

PROBLEM = "iris"
VOLATILE = ["wall_s"]  # wall-clock time is the only column allowed to differ


def run_all(store, execution, executor=None):
    profile = C.load_profile("smoke")
    table, winner = P.grid(profile, PROBLEM, store=store, execution=execution, executor=executor)
    paths = P.trials(profile, PROBLEM, store=store, execution=execution, executor=executor)
    frames = {s: P.read_trials(store, PROBLEM, s).drop(columns=VOLATILE) for s in paths}
    diags = {s: P.read_diagnostics(store, PROBLEM, s) for s in paths}
    budget = P.budget(profile, PROBLEM, store=store, execution=execution, executor=executor)
    budgets = {s: P.read_budget(store, PROBLEM, s).drop(columns=VOLATILE) for s in budget}
    return table, winner, frames, diags, budgets


class Counting(P.DaskExecutor):
    submitted = 0

    def map(self, fn, tasks):
        self.submitted += len(tasks)
        yield from super().map(fn, tasks)


@pytest.mark.slow
def test_local_cluster_gives_the_numbers_of_the_local_pool(tmp_path):
    distributed = pytest.importorskip("distributed")
    inline = run_all(S.Store(tmp_path / "inline"), C.Execution(workers=1, progress=False))
    pool = run_all(S.Store(tmp_path / "pool"), C.Execution(workers=2, progress=False))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        executor = Counting(client=client)
        assert executor.workers == 2
        dask = run_all(S.Store(tmp_path / "dask"), C.Execution(executor="dask", progress=False), executor)
        shards = 2 + len(C.strategies_for(PROBLEM)) + len(C.load_profile("smoke").problem(PROBLEM).budget_strategies())
        assert executor.submitted == shards  # two grid shards (hidden sizes); one chunk per strategy, both protocols
        run_all(S.Store(tmp_path / "dask"), C.Execution(executor="dask", progress=False), executor)
        assert executor.submitted == shards  # the rerun reuses every shard: nothing is submitted
    for other in (pool, dask):
        pd.testing.assert_frame_equal(inline[0], other[0])
        assert {k: v for k, v in inline[1].items() if k != "shards"} == \
               {k: v for k, v in other[1].items() if k != "shards"}
        assert inline[1]["shards"] == other[1]["shards"]  # same keys: the shards are interchangeable
        for s in inline[2]:
            pd.testing.assert_frame_equal(inline[2][s], other[2][s])
            pd.testing.assert_frame_equal(inline[3][s], other[3][s])
        assert inline[4].keys() == other[4].keys() and inline[4]
        for s in inline[4]:
            pd.testing.assert_frame_equal(inline[4][s], other[4][s])


@pytest.mark.slow
def test_dask_executor_from_the_command_line(tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    from alnn.cli import main

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        results = str(tmp_path)
        args = ["--profile", "smoke", "--problem", "sine", "--results", results, "--executor", "dask",
                "--scheduler", cluster.scheduler_address]
        assert main(["grid", *args]) == 0
        assert main(["trials", *args, "--strategy", "passive"]) == 0
    err = capsys.readouterr().err
    assert f"dask {cluster.scheduler_address}" in err
    assert (tmp_path / "smoke" / "trials" / "sine" / "passive.parquet").exists()
