"""The stages of the experiment: data description, grid search and trials.

Each stage splits its work into *shards*: a group of grid-search
configurations, or a chunk of trials of one problem x strategy. A shard is
named by a key, the hash of every setting that determines it (profile,
problem, strategy, configuration, strategy parameters, seed, trial range,
epochs, folds, subsample and the engine's code version: see :func:`trial_tasks`).
A stage computes only the shards missing from the store (or failing its
checks), so an interrupted run resumes where it stopped and a finished one
reruns nothing; then it assembles the stage's result files from the shards.

Shards run on an executor: in this process, in a local pool of worker
processes (one torch thread each, sized to the machine's cores), or on a Dask
cluster. Workers compute and return frames; only this process writes to the
store, so the store needs no shared file system.

Python API::

    from alnn import pipeline
    pipeline.grid("quick", "iris")                      # -> (table, winner)
    pipeline.trials("quick", "iris", ["sasla"])         # -> {strategy: frame path}
    pipeline.trials("quick", "iris", execution=config.execution("dask", "tcp://host:8786"))
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from alnn import config as C
from alnn import store as S

GRID_KEYS = ("hidden", "lr", "weight_decay", "momentum", "batch_size")
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Inputs


def _profile(profile: str | C.Profile) -> C.Profile:
    return profile if isinstance(profile, C.Profile) else C.load_profile(profile)


def _store(profile: C.Profile, store: S.Store | str | Path | None) -> S.Store:
    if store is None:
        return S.Store.of(profile.name)
    return store if isinstance(store, S.Store) else S.Store(store)


@functools.lru_cache(maxsize=4)
def dataset(problem: str, subsample: int | None, seed: int):
    """The problem's data set, stratified-subsampled to ``subsample`` patterns (cached per process)."""
    from alnn import datasets

    ds = datasets.load(problem)
    if subsample is not None:
        if subsample > ds.n_samples:
            raise C.ConfigError(f"subsample = {subsample} exceeds the {ds.n_samples} patterns of {problem}; "
                                f"valid: 2 .. {ds.n_samples}")
        ds = datasets.stratified_subsample(ds, subsample, seed)
    return ds


def settings_dataset(settings: C.ProblemSettings):
    return dataset(settings.problem, settings.subsample, settings.seeds.subsample)


def describe(settings: C.ProblemSettings) -> dict[str, Any]:
    """The data description the problem notebook and the paper use (written by the data stage)."""
    ds = settings_dataset(settings)
    out: dict[str, Any] = {
        "profile": settings.profile, "problem": settings.problem, "task": ds.task,
        "n_samples": ds.n_samples, "n_features": ds.n_features, "n_outputs": ds.n_outputs,
        "subsample": settings.subsample, "source": ds.source,
        "feature_names": list(ds.feature_names),
        "fingerprint": hashlib.sha256(np.ascontiguousarray(ds.X).tobytes()
                                      + np.ascontiguousarray(ds.y).tobytes()).hexdigest()[:16],
        "notes": {k: v for k, v in ds.notes.items() if isinstance(v, (int, float, str))},
    }
    if ds.task == "classification":
        counts = np.bincount(ds.y, minlength=ds.n_outputs)
        out["class_names"] = list(ds.class_names)
        out["class_counts"] = [int(c) for c in counts]
    else:
        out["target_names"] = list(ds.target_names)
        out["targets"] = {
            name: {"mean": float(np.mean(col)), "std": float(np.std(col)), "min": float(np.min(col)),
                   "median": float(np.median(col)), "max": float(np.max(col))}
            for name, col in zip(ds.target_names, np.asarray(ds.y, dtype=np.float64).T)
        }
    pool = ds.n_samples - -(-ds.n_samples // settings.folds)  # smallest training pool of a fold
    out["smallest_pool"] = int(pool)
    return out


def check_pool(settings: C.ProblemSettings, n_samples: int) -> None:
    """Counts that depend on the data size: folds and query sizes must fit the training pool."""
    where = f"{settings.profile}.problems.{settings.problem}"
    for key in ("folds", "grid_folds"):
        if getattr(settings, key) > n_samples:
            raise C.ConfigError(f"{where}.{key} = {getattr(settings, key)} exceeds the {n_samples} patterns")
    pool = n_samples - -(-n_samples // settings.folds)
    for strategy, params in settings.strategies.items():
        for name in ("query_size", "initial"):
            value = getattr(params, name, None)
            if value is not None and value >= pool:
                raise C.ConfigError(f"{where}.strategies.{strategy}.{name} = {value} is not smaller than the "
                                    f"training pool ({pool} patterns); valid: 1 .. {pool - 1}")


def data(profile: str | C.Profile, problem: str, *, store=None) -> dict[str, Any]:
    """The data stage: write ``data/<problem>.json`` (description of the data the stages use)."""
    profile = _profile(profile)
    settings = profile.problem(problem)
    start = time.perf_counter()
    summary = describe(settings)
    check_pool(settings, summary["n_samples"])
    S.write_json(_store(profile, store).data(problem), summary)
    log(f"data   {problem} [{profile.name}]: {summary['n_samples']} patterns x {summary['n_features']} "
        f"features, {time.perf_counter() - start:.1f} s")
    return summary


# ---------------------------------------------------------------------------
# Tasks: what one shard computes


@dataclass(frozen=True)
class Task:
    kind: str  # "grid", "trials", "budget" or "ablation"
    problem: str
    strategy: str  # "grid" for grid shards
    fields: dict[str, Any]  # everything that determines the shard (stored in its metadata)
    device: str = "cpu"
    progress: bool = False
    key: str = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "key", S.key_of(self.fields))

    def __hash__(self):
        return hash(self.key)

    @property
    def folder(self) -> str:
        """The shard's folder below ``shards/<problem>/``: the strategy (trials), ``grid``,
        ``budget-<strategy>`` or ``ablation-<variant>`` (its strategy field names the variant)."""
        return f"budget-{self.strategy}" if self.kind == "budget" else self.strategy

    def path(self, store: S.Store) -> Path:
        return store.shard(self.problem, self.folder, self.key)

    def diagnostics_path(self, store: S.Store) -> Path:
        return store.shard(self.problem, self.folder, f"{self.key}.diag")

    def expect(self) -> dict[str, Any]:
        return {"key": self.key, "fields": self.fields}

    @property
    def wants_diagnostics(self) -> bool:
        """The shard holding trial 0 also records which patterns trial 0, fold 0 trained on."""
        return self.kind == "trials" and self.fields["trial_start"] == 0

    @property
    def label(self) -> str:
        f = self.fields
        if self.kind == "grid":
            how = f", successive halving eta={f['eta']}, {f['rungs']} rungs" if f.get("search") == "halving" else ""
            return f"grid {self.problem} ({len(f['configs'])} configurations{how})"
        if self.kind == "ablation":
            return f"{self.problem}/{f['variant']} trials {f['trial_start']}..{f['trial_start'] + f['trials'] - 1}"
        if self.kind == "budget":
            return f"{self.problem}/{self.strategy} budget trials {f['trial_start']}..{f['trial_start'] + f['trials'] - 1}"
        return f"{self.problem}/{self.strategy} trials {f['trial_start']}..{f['trial_start'] + f['trials'] - 1}"


def _common(settings: C.ProblemSettings) -> dict[str, Any]:
    return {"profile": settings.profile, "problem": settings.problem, "subsample": settings.subsample,
            "subsample_seed": settings.seeds.subsample, "engine": C.engine_version(), **settings.precision_fields()}


def grid_configs(settings: C.ProblemSettings) -> list[dict[str, Any]]:
    """Every grid-search configuration of a problem, in the grid's fixed order."""
    return [{**point, "batch_size": settings.batch_size} for point in settings.grid.points()]


def grid_tasks(settings: C.ProblemSettings, device: str = "cpu") -> list[Task]:
    """The grid stage's shards.

    ``grid_search = "full"``: shards of at most ``grid_chunk`` configurations
    of one hidden-layer size (they train as one batch). ``"halving"``: one
    shard with every configuration (successive halving ranks them all
    together at each rung, so it cannot be split; ``grid_chunk`` is unused);
    its key holds eta, the rungs and the code of :mod:`alnn.halving` too.
    """
    configs = grid_configs(settings)
    if settings.grid_search == "full":
        groups: dict[int, list[dict[str, Any]]] = {}
        for cfg in configs:
            groups.setdefault(cfg["hidden"], []).append(cfg)
        size = settings.grid_chunk
        chunks = [group[i:i + size] for group in groups.values() for i in range(0, len(group), size)]
    else:
        chunks = [configs]
    return [
        Task("grid", settings.problem, "grid",
             {**_common(settings), "kind": "grid", "configs": chunk, "folds": settings.grid_folds,
              "epochs": settings.grid_epochs, "seed": settings.seeds.grid, **settings.grid_search_fields()},
             device)
        for chunk in chunks
    ]


def trial_tasks(settings: C.ProblemSettings, strategy: str, winner: dict[str, Any],
                device: str = "cpu") -> list[Task]:
    """One shard per chunk of trials of one problem x strategy, trained with the grid winner."""
    C.check_pair(settings.problem, strategy, C.STRATEGIES)
    config = {k: winner[k] for k in GRID_KEYS}
    base = {**_common(settings), "kind": "trials", "strategy": strategy, "config": config,
            "params": C.params_dict(settings.params(strategy)), "seed": settings.seeds.trials,
            "folds": settings.folds, "epochs": settings.epochs}
    return [Task("trials", settings.problem, strategy, {**base, "trial_start": start, "trials": n}, device)
            for start, n in settings.trial_chunks()]


def budget_tasks(settings: C.ProblemSettings, strategy: str, winner: dict[str, Any],
                 device: str = "cpu") -> list[Task]:
    """One budget-protocol shard per chunk of trials of one problem x strategy (grid winner, SPEC 3b)."""
    C.check_pair(settings.problem, strategy)
    if strategy not in settings.budget_strategies():
        raise C.ConfigError(f"strategy {strategy!r} has no budget-protocol form on {settings.problem}; valid: "
                            f"{', '.join(settings.budget_strategies())}")
    config = {k: winner[k] for k in GRID_KEYS}
    base = {**_common(settings), "kind": "budget", "strategy": strategy, "config": config,
            "params": C.params_dict(settings.params(strategy)), "seed": settings.seeds.trials,
            "folds": settings.folds, "budget": C.as_plain(settings.budget),
            "budget_engine": C.engine_version(C.BUDGET_MODULES)}
    return [Task("budget", settings.problem, strategy, {**base, "trial_start": start, "trials": n}, device)
            for start, n in settings.budget_chunks()]


@dataclass(frozen=True)
class Variant:
    """One control or ablation (SPEC 3d): a strategy with changed parameters in one protocol.

    ``settings`` (parameter dicts over ``params``) train as one batched model;
    ``budget`` is the budget protocol's settings (``None`` in the draft's protocol).
    """

    name: str  # e.g. "trials-sasla-grid", "budget-random-warm": the variant's column value and shard folder
    protocol: str  # "trials" (the draft's protocol) or "budget"
    strategy: str
    factor: str  # what changes: sasla, members, probability, start, round_epochs, schedule, round_training, hyper
    level: str  # its value here, in words
    params: dict[str, Any]
    settings: tuple[dict[str, Any], ...] | None = None
    budget: dict[str, Any] | None = None


#: what each factor changes, and the paper's name for it
ABLATION_FACTORS = ("sasla", "members", "probability", "start", "round_epochs", "schedule", "round_training",
                    "hyper")


def ablation_variants(settings: C.ProblemSettings) -> list[Variant]:
    """Every control and ablation of one problem, in a fixed order (SPEC 3d; `alnn.config.Ablation`)."""
    a = settings.ablation
    classification = settings.task == "classification"
    params = {s: C.params_dict(settings.params(s)) for s in C.strategies_for(settings.problem)}
    budget = C.as_plain(settings.budget)
    out = [Variant("trials-sasla-grid", "trials", "sasla", "sasla", "grid", params["sasla"],
                   tuple({"beta": b, "tau": t, "norm": n} for b in a.sasla_beta for t in a.sasla_tau
                         for n in a.sasla_norm))]
    for protocol in ("trials", "budget"):
        b = budget if protocol == "budget" else None
        for s in ("passive", "random"):
            out.append(Variant(f"{protocol}-{s}-members", protocol, s, "members", f"{a.members} members",
                               {**params[s], "members": a.members}, budget=b))
        if classification:
            for s in ("entropy", "ensemble"):
                out.append(Variant(f"{protocol}-{s}-normalised", protocol, s, "probability", "normalised",
                                   {**params[s], "probability": "normalised"}, budget=b))
    other_start = "warm" if settings.budget.start == "cold" else "cold"
    rounds = a.round_epochs or max(1, settings.budget.round_epochs // 2)
    count = a.budgets or max(2, settings.budget.budgets // 2)
    for s in a.strategies:
        if not C.applicable(settings.problem, s):
            continue
        out.append(Variant(f"budget-{s}-{other_start}", "budget", s, "start", other_start, params[s],
                           budget={**budget, "start": other_start}))
        out.append(Variant(f"budget-{s}-rounds", "budget", s, "round_epochs", f"{rounds} epochs", params[s],
                           budget={**budget, "round_epochs": rounds}))
        if isinstance(settings.budget.schedule, str):
            out.append(Variant(f"budget-{s}-schedule", "budget", s, "schedule", f"{count} budgets", params[s],
                               budget={**budget, "budgets": count}))
        for rule in a.round_trainings:
            if rule != settings.budget.round_training:
                out.append(Variant(f"budget-{s}-{rule}", "budget", s, "round_training", rule, params[s],
                                   budget={**budget, "round_training": rule}))
    tuned = a.hyper_problems is None or settings.problem in a.hyper_problems
    for s in a.hyper_strategies if tuned and settings.budget.hyper == "winner" else ():
        if C.applicable(settings.problem, s):
            out.append(Variant(f"budget-{s}-tuned", "budget", s, "hyper", "per-budget", params[s],
                               budget={**budget, "hyper": "per-budget"}))
    return out


def ablation_tasks(settings: C.ProblemSettings, winner: dict[str, Any], device: str = "cpu") -> dict[str, list[Task]]:
    """The ablation stage's shards of one problem: ``{variant name: [tasks in trial order]}``."""
    config = {k: winner[k] for k in GRID_KEYS}
    trials = settings.ablation.trials or settings.trials
    chunks = [(s, min(settings.chunk, trials - s)) for s in range(0, trials, settings.chunk)]
    out = {}
    for v in ablation_variants(settings):
        base = {**_common(settings), "kind": "ablation", "variant": v.name, "protocol": v.protocol,
                "strategy": v.strategy, "config": config, "params": v.params,
                "settings": None if v.settings is None else [dict(x) for x in v.settings],
                "seed": settings.seeds.trials, "folds": settings.folds}
        if v.protocol == "trials":
            base["epochs"] = settings.epochs
        else:
            base.update(budget=v.budget, budget_engine=C.engine_version(C.BUDGET_MODULES))
        out[v.name] = [Task("ablation", settings.problem, f"ablation-{v.name}",
                            {**base, "trial_start": start, "trials": n}, device) for start, n in chunks]
    return out


def init_worker(parent: int | None = None, signal_on_death: bool = True) -> None:
    """One thread per worker: the pool supplies the parallelism.

    With ``parent`` (the pid of the process that started this worker), the
    worker also exits within moments of that process's death, instead of
    computing on for no one (:func:`alnn.watchdog.exit_with_parent`).
    """
    if parent is not None:
        from alnn.watchdog import exit_with_parent

        exit_with_parent(parent, signal_on_death=signal_on_death)
    for name in THREAD_ENV:
        os.environ.setdefault(name, "1")
    import torch

    torch.set_num_threads(1)


def _engine():
    import alnn.experiment as engine

    return engine


def _halving():
    import alnn.halving as halving

    return halving


#: Largest diagnostics record kept (epochs x pool cells); beyond it, evenly spaced epochs are kept.
DIAGNOSTICS_CELLS = 2_000_000


def diagnostics_frame(record: dict[str, np.ndarray]) -> pd.DataFrame:
    """Long frame (epoch, pattern, selected[, score]) of one network's subsets, from ``run(return_masks=True)``.

    ``pattern`` is the index into the (subsampled) data set; ``selected`` says
    whether the pattern was in the network's training subset in that epoch.
    Every other per-pattern array the engine returns (epochs x pool) becomes a
    column too.
    """
    pool = np.asarray(record["pool"])
    mask = np.asarray(record["mask"], dtype=bool)
    epochs, size = mask.shape
    keep = np.arange(epochs)
    if epochs * size > DIAGNOSTICS_CELLS:
        keep = np.unique(np.linspace(0, epochs - 1, max(2, DIAGNOSTICS_CELLS // size)).round().astype(int))
    out = {"epoch": np.repeat(keep + 1, size).astype(np.int32),
           "pattern": np.tile(pool, len(keep)).astype(np.int32),
           "selected": mask[keep].reshape(-1)}
    for name, values in record.items():
        values = np.asarray(values)
        if name not in ("pool", "mask") and values.shape == mask.shape:
            out[name] = values[keep].reshape(-1)
    return pd.DataFrame(out)


def compute(task: Task) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Compute one shard (runs in a worker; reads the data set itself): (frame, diagnostics or None)."""
    init_worker()
    from alnn.model import TrainConfig

    engine = _engine()
    f = task.fields
    ds = dataset(task.problem, f["subsample"], f["subsample_seed"])
    precision = {"precision": f["precision"]} if "precision" in f else {}  # absent: the float32 reference
    if task.kind == "grid":
        configs = [TrainConfig(**c) for c in f["configs"]]
        if f.get("search") == "halving":
            return _halving().halving_search(ds, configs, folds=f["folds"], epochs=f["epochs"], seed=f["seed"],
                                             eta=f["eta"], rungs=f["rungs"], device=task.device,
                                             progress=task.progress, **precision), None
        return engine.grid_search(ds, configs, folds=f["folds"], epochs=f["epochs"], seed=f["seed"],
                                  device=task.device, progress=task.progress, **precision), None
    strategy = f.get("strategy", task.strategy)
    extra = {"settings": f["settings"]} if f.get("settings") is not None else {}
    if task.kind == "budget" or (task.kind == "ablation" and f["protocol"] == "budget"):
        from alnn.budget import run_budget

        b = f["budget"]
        schedule = b["schedule"] if isinstance(b["schedule"], str) else tuple(b["schedule"])
        return run_budget(ds, strategy, config=TrainConfig(**f["config"]), trials=f["trials"],
                          folds=f["folds"], round_epochs=b["round_epochs"], seed=f["seed"],
                          trial_start=f["trial_start"], params=f["params"] or None, start=b["start"],
                          schedule_kind=schedule, budgets=b["budgets"], max_budget=b["max_budget"],
                          round_training=b["round_training"], hyper=b["hyper"], tolerance=b["tolerance"],
                          window=b["window"], steps_from=b["steps_from"], device=task.device,
                          progress=task.progress, **precision, **extra), None
    if task.kind == "ablation":
        return engine.run(ds, strategy, config=TrainConfig(**f["config"]), trials=f["trials"], folds=f["folds"],
                          epochs=f["epochs"], seed=f["seed"], trial_start=f["trial_start"],
                          params=f["params"] or None, device=task.device, progress=task.progress, **precision,
                          **extra), None
    out = engine.run(ds, task.strategy, config=TrainConfig(**f["config"]), trials=f["trials"],
                     folds=f["folds"], epochs=f["epochs"], seed=f["seed"], trial_start=f["trial_start"],
                     params=f["params"] or None, device=task.device, progress=task.progress,
                     return_masks=task.wants_diagnostics, **precision)
    if not task.wants_diagnostics:
        return out, None
    frame, masks = out
    return frame, diagnostics_frame(masks[(0, 0)])


# ---------------------------------------------------------------------------
# Executors


def default_workers(device: str = "cpu") -> int:
    if device == "cuda":
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class Executor:
    """Runs shard tasks and yields ``(task, frame)`` as each finishes."""

    name = "inline"
    workers = 1

    def map(self, fn: Callable[[Task], pd.DataFrame], tasks: Sequence[Task]) -> Iterator[tuple[Task, Any]]:
        for task in tasks:
            yield task, fn(task)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class LocalExecutor(Executor):
    """A pool of ``workers`` processes (spawned, one torch thread each), kept for the executor's life;
    a single task, or a single worker, runs in this process instead."""

    name = "local"

    def __init__(self, workers: int | None = None, device: str = "cpu"):
        self.workers = workers or default_workers(device)
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing

            # Workers are spawned on demand and inherit the environment: one thread each, while the pool lives.
            self._saved_env = {k: os.environ.get(k) for k in THREAD_ENV}
            os.environ.update({k: "1" for k in THREAD_ENV})
            # Workers exit when this process dies. The parent-death signal follows the thread that spawns a
            # worker (the one calling map), so it is armed only from the main thread, which lives as long as
            # the process; the watchdog thread of alnn.watchdog covers every case.
            import threading

            on_death = threading.current_thread() is threading.main_thread()
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=init_worker, initargs=(os.getpid(), on_death))
        return self._pool

    def map(self, fn, tasks):
        if min(self.workers, len(tasks)) <= 1:
            yield from super().map(fn, tasks)
            return
        pool = self._get_pool()
        futures = {pool.submit(fn, t): t for t in tasks}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
            for k, v in self._saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


class DaskExecutor(Executor):
    """Shards as tasks on a Dask cluster: ``scheduler`` is an address or a scheduler file;
    none starts a ``LocalCluster`` of single-threaded worker processes on loopback."""

    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int | None = None, client=None):
        from distributed import Client, LocalCluster

        self._cluster = None
        if client is not None:
            self.client = client
            self._own = False
        else:
            self._own = True
            if scheduler is None:
                self._cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                                             processes=True, host="127.0.0.1", dashboard_address=None)
                self.client = Client(self._cluster)
            elif scheduler.endswith(".json") or Path(scheduler).is_file():
                self.client = Client(scheduler_file=scheduler)
            else:
                self.client = Client(scheduler)
        self.workers = max(1, len(self.client.scheduler_info(n_workers=-1).get("workers", {})))

    def map(self, fn, tasks):
        from distributed import as_completed as dask_completed

        futures = {self.client.submit(fn, t, key=f"alnn-{t.kind}-{t.key}", pure=False): t for t in tasks}
        try:
            for future in dask_completed(list(futures)):
                yield futures[future], future.result()
        except BaseException:
            self.client.cancel(list(futures))
            raise

    def close(self):
        if self._own:
            self.client.close()
            if self._cluster is not None:
                self._cluster.close()


def make_executor(execution: C.Execution) -> Executor:
    execution.check_device()
    if execution.executor == "dask":
        return DaskExecutor(execution.scheduler, execution.workers)
    return LocalExecutor(execution.workers, execution.device)


# ---------------------------------------------------------------------------
# Running shards


@dataclass
class Outcome:
    frames: dict[str, pd.DataFrame]  # key -> frame, every task
    diagnostics: dict[str, pd.DataFrame]  # key -> diagnostics, tasks that record them
    computed: int
    reused: int
    seconds: float


def _adopt_legacy(task: Task, store: S.Store) -> None:
    """Budget shards used to lie beside the trial shards of their strategy (``shards/<problem>/<strategy>/``);
    one found there under its key moves to its own folder (a rename: the key names the same shard)."""
    if task.kind != "budget":
        return
    new = task.path(store)
    old = store.shard(task.problem, task.strategy, task.key)
    if not new.exists() and old.is_file():
        new.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(old, new)
        except FileNotFoundError:  # another process moved it first
            pass


def _load(task: Task, store: S.Store) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    _adopt_legacy(task, store)
    diag = None
    if task.wants_diagnostics:
        diag = S.try_read(task.diagnostics_path(store), task.expect(), log=log)
        if diag is None:
            return None, None
    return S.try_read(task.path(store), task.expect(), log=log), diag


def run_tasks(tasks: Sequence[Task], store: S.Store, execution: C.Execution, *, what: str,
              executor: Executor | None = None) -> Outcome:
    """Reuse every stored shard that passes its checks; compute the others; return all frames.

    A computed shard is written (diagnostics first, then the shard itself) as
    soon as it arrives, so an interruption loses only the shards in flight.
    """
    start = time.perf_counter()
    tasks = list(dict.fromkeys(tasks))
    frames: dict[str, pd.DataFrame] = {}
    diags: dict[str, pd.DataFrame] = {}
    pending: list[Task] = []
    for folder in {task.path(store).parent for task in tasks}:  # files of writers killed mid-write
        if folder.is_dir():
            S.sweep_stale(folder)
    for task in tasks:
        frame, diag = _load(task, store)
        if frame is None:
            pending.append(task)
        else:
            frames[task.key] = frame
            if diag is not None:
                diags[task.key] = diag
    reused = len(frames)
    if pending:
        own = executor is None
        executor = executor or make_executor(execution)
        inline = isinstance(executor, LocalExecutor) and min(executor.workers, len(pending)) <= 1
        show = inline and execution.progress and len(pending) == 1  # the engine's own epoch bar
        pending = [Task(t.kind, t.problem, t.strategy, t.fields, execution.device, show) for t in pending]
        from tqdm.auto import tqdm

        bar = tqdm(total=len(pending), desc=what, unit="shard", file=sys.stderr,
                   disable=not execution.progress or show, leave=False)
        try:
            for task, (frame, diag) in executor.map(compute, pending):
                if diag is not None:
                    S.write(task.diagnostics_path(store), diag, task.expect())
                    diags[task.key] = diag
                S.write(task.path(store), frame, task.expect())
                frames[task.key] = frame
                bar.update()
        finally:
            bar.close()
            if own:
                executor.close()
    return Outcome(frames, diags, len(tasks) - reused, reused, time.perf_counter() - start)


def _summary_line(stage: str, what: str, profile: str, outcome: Outcome, execution: C.Execution,
                  executor_desc: str) -> str:
    return (f"{stage:<6} {what} [{profile}]: {outcome.computed} shard(s) computed, {outcome.reused} reused, "
            f"{outcome.seconds:.1f} s ({executor_desc})")


def _describe_executor(execution: C.Execution, pending: int) -> str:
    if pending == 0:
        return "nothing to compute"
    if execution.executor == "dask":
        return f"dask {execution.scheduler or 'LocalCluster'}, {execution.device}"
    workers = execution.workers or default_workers(execution.device)
    return f"local, {min(workers, max(pending, 1))} worker(s), {execution.device}"


# ---------------------------------------------------------------------------
# Grid stage


def summarise_grid(frame: pd.DataFrame, configs: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per configuration: mean validation MSE over folds, its spread, divergence and rank.

    A configuration with a diverged fold (or a non-finite loss) ranks after
    every other; ties keep the grid's order.
    """
    frame = frame.copy()
    frame["diverged"] = frame["diverged"].astype(bool) | ~np.isfinite(frame["val_loss"].astype(float))
    metrics = [c for c in frame.columns if c not in GRID_KEYS + ("fold", "diverged", "val_loss")
               and pd.api.types.is_numeric_dtype(frame[c])]
    agg = frame.groupby(list(GRID_KEYS), sort=False).agg(
        val_loss=("val_loss", "mean"), val_loss_std=("val_loss", "std"), folds=("fold", "nunique"),
        n_diverged=("diverged", "sum"), **{m: (m, "mean") for m in metrics})
    order = pd.DataFrame(configs)[list(GRID_KEYS)]
    order["order"] = np.arange(len(order))
    table = order.merge(agg.reset_index(), on=list(GRID_KEYS), how="left", validate="one_to_one")
    if table["folds"].isna().any():
        missing = table.loc[table["folds"].isna(), list(GRID_KEYS)].to_dict("records")
        raise RuntimeError(f"grid search returned no rows for {missing[:3]}")
    table["diverged"] = (table["n_diverged"] > 0) | ~np.isfinite(table["val_loss"])
    table = table.sort_values(["diverged", "val_loss", "order"], kind="stable", na_position="last")
    table["rank"] = np.arange(1, len(table) + 1)
    table = table.drop(columns="order").reset_index(drop=True)
    table["n_diverged"] = table["n_diverged"].astype(int)
    table["folds"] = table["folds"].astype(int)
    return table


def summarise_halving(frame: pd.DataFrame, configs: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """:func:`summarise_grid` of a successive-halving frame (:func:`alnn.halving.halving_search`), plus
    ``rung`` (the last rung a configuration reached) and ``epochs`` (epochs its networks trained).

    Ranked: the configurations of the highest rung reached by their final score first, then the others by
    the rung they reached (higher first) and their score there; diverged configurations last; ties keep
    the grid's order. Scores of different rungs are at different epochs: the ranking across rungs is the
    order in which halving dropped them.
    """
    table = summarise_grid(frame, configs).drop(columns="rank")
    order = pd.DataFrame(configs)[list(GRID_KEYS)]
    order["order"] = np.arange(len(order))
    table = table.merge(order, on=list(GRID_KEYS), how="left", validate="one_to_one")
    for c in ("rung", "epochs"):
        table[c] = table[c].round().astype(int)
    table = table.sort_values(["diverged", "rung", "val_loss", "order"], ascending=[True, False, True, True],
                              kind="stable", na_position="last")
    table = table[[c for c in table.columns if c not in ("rung", "epochs", "order")] + ["rung", "epochs"]]
    table["rank"] = np.arange(1, len(table) + 1)
    return table.reset_index(drop=True)


def search_summary(frame: pd.DataFrame, table: pd.DataFrame, settings: C.ProblemSettings) -> dict[str, Any]:
    """How the grid was searched and what it cost: network-epochs (networks x epochs trained) against the
    full grid's configurations x folds x grid_epochs (stored with the winner)."""
    full = int(len(table)) * settings.grid_folds * settings.grid_epochs
    out: dict[str, Any] = {"search": settings.grid_search, "network_epochs_full": full}
    if settings.grid_search == "halving":
        spent = int(frame["epochs"].sum())
        reached = table.groupby("rung")["epochs"].agg(["size", "max"])
        out.update({"network_epochs": spent, "eta": settings.halving_eta, "rungs": settings.halving_rungs,
                    "rung_configs": {str(r): int(n) for r, n in reached["size"].items()},
                    "rung_epochs": {str(r): int(e) for r, e in reached["max"].items()}})
    else:
        out["network_epochs"] = full
    return out


def winner_of(table: pd.DataFrame, settings: C.ProblemSettings, keys: Sequence[str]) -> dict[str, Any]:
    best = table.iloc[0]
    out = {k: (int(best[k]) if k in ("hidden", "batch_size") else float(best[k])) for k in GRID_KEYS}
    out.update({
        "val_loss": float(best["val_loss"]), "val_loss_std": float(best["val_loss_std"]),
        "diverged": bool(best["diverged"]), "rank": 1, "n_configs": int(len(table)),
        "folds": settings.grid_folds, "epochs": settings.grid_epochs, "seed": settings.seeds.grid,
        "profile": settings.profile, "problem": settings.problem, "shards": list(keys),
    })
    return out


def grid(profile: str | C.Profile, problem: str, *, store=None, execution: C.Execution | None = None,
         executor: Executor | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The grid stage of one problem: ``grid/<problem>.parquet`` (ranked table) and ``.json`` (winner).

    With ``grid_search = "halving"`` the table is :func:`summarise_halving`'s (``rung``, ``epochs``
    added) and the shard is one per problem; the winner records the search and its network-epochs
    (:func:`search_summary`) either way.
    """
    profile = _profile(profile)
    execution = execution or C.Execution()
    settings = profile.problem(problem)
    store = _store(profile, store)
    tasks = grid_tasks(settings, execution.device)
    outcome = run_tasks(tasks, store, execution, what=f"grid {problem}", executor=executor)
    frame = pd.concat([outcome.frames[t.key] for t in tasks], ignore_index=True)
    halving = settings.grid_search == "halving"
    table = (summarise_halving if halving else summarise_grid)(frame, grid_configs(settings))
    keys = [t.key for t in tasks]
    winner = winner_of(table, settings, keys)
    searched = search_summary(frame, table, settings)
    winner.update(searched)
    shared = {k: v for k, v in tasks[0].fields.items() if k not in ("configs", "kind")}
    S.write(store.grid_table(problem), table, {**shared, "grid": C.as_plain(settings.grid), "shards": keys,
                                                "search": settings.grid_search})
    S.write_json(store.grid_winner(problem), winner)
    if winner["diverged"]:
        log(f"warning: every grid configuration of {problem} diverged; the winner is the least bad one")
    how = ""
    if halving:
        last = max(int(r) for r in searched["rung_configs"])
        how = (f", successive halving eta={settings.halving_eta} in {settings.halving_rungs} rungs: "
               f"{searched['rung_configs'][str(last)]} reached rung {last}, {searched['network_epochs']} of "
               f"{searched['network_epochs_full']} network-epochs "
               f"({searched['network_epochs_full'] / max(searched['network_epochs'], 1):.1f}x fewer)")
    log(_summary_line("grid", f"{problem} ({len(table)} configurations x {settings.grid_folds} folds x "
                      f"{settings.grid_epochs} epochs{how})", profile.name, outcome, execution,
                      _describe_executor(execution, outcome.computed))
        + f"; winner hidden={winner['hidden']} lr={winner['lr']:g} weight_decay={winner['weight_decay']:g} "
          f"momentum={winner['momentum']:g}")
    return table, winner


def read_winner(path: str | Path, settings: C.ProblemSettings) -> dict[str, Any]:
    """The grid winner of a problem, checked against the profile it must come from."""
    winner = S.read_json(path)
    if winner.get("profile") != settings.profile or winner.get("problem") != settings.problem:
        raise S.ShardError(f"{path}: winner of {winner.get('profile')}/{winner.get('problem')}, "
                           f"expected {settings.profile}/{settings.problem}")
    missing = [k for k in GRID_KEYS if k not in winner]
    if missing:
        raise S.ShardError(f"{path}: lacks {missing}")
    if winner.get("batch_size") != settings.batch_size:
        raise S.ShardError(f"{path}: batch size {winner.get('batch_size')} but the profile says "
                           f"{settings.batch_size}: rerun the grid stage")
    return winner


# ---------------------------------------------------------------------------
# Trial stage


def trials(profile: str | C.Profile, problem: str, strategies: Iterable[str] | None = None, *, store=None,
           execution: C.Execution | None = None, executor: Executor | None = None) -> dict[str, Path]:
    """The trial stage of one problem: ``trials/<problem>/<strategy>.parquet`` for each strategy.

    Needs the problem's grid winner (run :func:`grid` first). All shards of
    all the strategies go to the executor together.
    """
    profile = _profile(profile)
    execution = execution or C.Execution()
    settings = profile.problem(problem)
    store = _store(profile, store)
    strategies = list(C.strategies_for(problem) if strategies is None else strategies)
    for s in strategies:
        C.check_pair(problem, s, C.STRATEGIES)
    winner = _winner_for(store, profile, settings, problem)
    by_strategy = {s: trial_tasks(settings, s, winner, execution.device) for s in strategies}
    outcome = run_tasks([t for ts in by_strategy.values() for t in ts], store, execution, what=f"trials {problem}",
                        executor=executor)
    paths = {}
    for s, tasks, frame, meta in _assembled(by_strategy, outcome, settings):
        first = tasks[0]
        S.write(store.diagnostics(problem, s), outcome.diagnostics[first.key],
                {**meta, "trial": 0, "fold": 0, "shard": first.key})
        paths[s] = S.write(store.trials(problem, s), frame, meta)
    log(_summary_line("trials", f"{problem} x {', '.join(strategies)} ({settings.trials} trials x "
                      f"{settings.folds} folds x {settings.epochs} epochs)", profile.name, outcome, execution,
                      _describe_executor(execution, outcome.computed)))
    return paths


def _assembled(by_strategy: dict[str, list[Task]], outcome: Outcome, settings: C.ProblemSettings):
    """(strategy, tasks, frame, metadata) of each strategy of a trial-like stage: its shards' frames in
    trial order, and the settings its shards share (everything but the trial range) with their keys."""
    for s, tasks in by_strategy.items():
        keys = [t.key for t in tasks]
        frame = pd.concat([outcome.frames[k] for k in keys], ignore_index=True)
        shared = {k: v for k, v in tasks[0].fields.items() if k not in ("trial_start", "trials", "kind")}
        trials = sum(int(t.fields["trials"]) for t in tasks)
        yield s, tasks, frame, {**shared, "trials": trials, "strategy": s, "shards": keys}


def _winner_for(store: S.Store, profile: C.Profile, settings: C.ProblemSettings, problem: str) -> dict[str, Any]:
    winner_path = store.grid_winner(problem)
    if not winner_path.exists():
        raise FileNotFoundError(f"{winner_path} is missing: run the grid stage first "
                                f"(alnn grid --profile {profile.name} --problem {problem})")
    winner = read_winner(winner_path, settings)
    if store.data(problem).exists():
        check_pool(settings, S.read_json(store.data(problem))["n_samples"])
    return winner


def budget(profile: str | C.Profile, problem: str, strategies: Iterable[str] | None = None, *, store=None,
           execution: C.Execution | None = None, executor: Executor | None = None) -> dict[str, Path]:
    """The budget stage of one problem (SPEC 3b): ``budget/<problem>/<strategy>.parquet`` per strategy.

    Needs the problem's grid winner. Shards, reuse, integrity checks and
    interruption behave exactly as in the trial stage (:func:`run_tasks`).
    """
    profile = _profile(profile)
    execution = execution or C.Execution()
    settings = profile.problem(problem)
    store = _store(profile, store)
    strategies = list(settings.budget_strategies() if strategies is None else strategies)
    winner = _winner_for(store, profile, settings, problem)
    by_strategy = {s: budget_tasks(settings, s, winner, execution.device) for s in strategies}
    outcome = run_tasks([t for ts in by_strategy.values() for t in ts], store, execution, what=f"budget {problem}",
                        executor=executor)
    paths = {s: S.write(store.budget(problem, s), frame, meta)
             for s, _, frame, meta in _assembled(by_strategy, outcome, settings)}
    b = settings.budget
    log(_summary_line("budget", f"{problem} x {', '.join(strategies)} ({settings.budget_trials} trials x "
                      f"{settings.folds} folds, rounds by {b.round_training} from {b.round_epochs} epochs, "
                      f"{b.start} start)",
                      profile.name, outcome, execution, _describe_executor(execution, outcome.computed)))
    return paths


def ablation(profile: str | C.Profile, problems: Iterable[str] | None = None, *, store=None,
             execution: C.Execution | None = None, executor: Executor | None = None) -> Path:
    """The ablation stage (SPEC 3d): ``ablation/<problem>/trials.parquet`` and ``budget.parquet`` of every
    problem the profile's ablations cover, and ``ablation/index.json`` listing them.

    One row per network and epoch (round) of every variant (:func:`ablation_variants`), with the columns of
    its protocol's frame and ``variant, factor, level`` (and ``beta, tau, norm`` of the SASLA grid). All
    shards of all problems go to the executor together; reuse, checks and resume are those of
    :func:`run_tasks`.
    """
    profile = _profile(profile)
    execution = execution or C.Execution()
    store = _store(profile, store)
    problems = list(profile.ablation_problems if problems is None else problems)
    for p in problems:
        if p not in profile.ablation_problems:
            raise C.ConfigError(f"problem {p!r} has no ablations in profile {profile.name!r}; valid: "
                                f"{', '.join(profile.ablation_problems) or 'none (set ablation.problems)'}")
    work = {}
    for p in problems:
        settings = profile.problem(p)
        work[p] = (settings, ablation_tasks(settings, _winner_for(store, profile, settings, p), execution.device))
    every = [t for _, by in work.values() for ts in by.values() for t in ts]
    outcome = run_tasks(every, store, execution, what="ablation", executor=executor)
    index = {}
    for p, (settings, by_variant) in work.items():
        variants = {v.name: v for v in ablation_variants(settings)}
        frames = {"trials": [], "budget": []}
        for name, tasks in by_variant.items():
            v = variants[name]
            frame = pd.concat([outcome.frames[t.key] for t in tasks], ignore_index=True)
            if v.settings is not None:
                table = pd.DataFrame(list(v.settings))
                frame = frame.join(table, on="setting").drop(columns="setting")
            frame.insert(1, "variant", name)
            frame.insert(2, "factor", v.factor)
            frame.insert(3, "level", v.level)
            frames[v.protocol].append(frame)
        index[p] = {}
        for protocol, parts in frames.items():
            meta = {"profile": profile.name, "problem": p, "protocol": protocol,
                    "trials": settings.ablation.trials or settings.trials,
                    "stage": settings.stage_config("ablation"),
                    "shards": [t.key for name, ts in by_variant.items() for t in ts
                               if variants[name].protocol == protocol]}
            frame = pd.concat(parts, ignore_index=True)
            if "tau" in frame:  # only the SASLA grid has one; the other variants' rows hold <NA>
                frame["tau"] = frame["tau"].astype("Int64")
            S.write(store.ablation(p, protocol), frame, meta)
            index[p][protocol] = str(store.ablation(p, protocol).relative_to(store.root))
    path = S.write_json(store.ablation_index(), {"profile": profile.name, "problems": index})
    log(_summary_line("ablation", f"{', '.join(problems) or 'no problem'}", profile.name, outcome, execution,
                      _describe_executor(execution, outcome.computed)))
    return path


def read_ablation(store: S.Store, problem: str, protocol: str) -> pd.DataFrame:
    """The controls and ablations of one problem in one protocol ("trials" or "budget"), checked."""
    C.check_choice("protocol", protocol, ("trials", "budget"))
    return S.read(store.ablation(problem, protocol), {"problem": problem, "protocol": protocol})


def read_budget(store: S.Store, problem: str, strategy: str) -> pd.DataFrame:
    """A budget-protocol frame, checked (metadata, row count, page checksums)."""
    return S.read(store.budget(problem, strategy), {"problem": problem, "strategy": strategy})


def read_trials(store: S.Store, problem: str, strategy: str) -> pd.DataFrame:
    """A trial frame, checked (metadata, row count, page checksums)."""
    return S.read(store.trials(problem, strategy), {"problem": problem, "strategy": strategy})


def read_diagnostics(store: S.Store, problem: str, strategy: str) -> pd.DataFrame:
    """Which patterns trial 0, fold 0 trained on in each epoch (see :func:`diagnostics_frame`)."""
    return S.read(store.diagnostics(problem, strategy), {"problem": problem, "strategy": strategy})


def write_stage_configs(profile: str | C.Profile, store=None) -> list[Path]:
    """Write ``config/*.json`` (what each stage of each problem depends on), touching only changed files.

    The Makefile makes every result file depend on its stage's config file,
    so editing one problem's settings reruns exactly that problem's stages.
    """
    profile = _profile(profile)
    store = _store(profile, store)
    changed = []
    for problem in profile.problems:
        settings = profile.problem(problem)
        items = ([("data", None), ("grid", None)] + [("trials", s) for s in C.strategies_for(problem)]
                 + [("budget", s) for s in settings.budget_strategies()])
        for stage, strategy in items:
            path = store.config(stage, problem, strategy)
            if C.write_if_changed(path, settings.stage_config(stage, strategy)):
                changed.append(path)
    ablation = {p: profile.problem(p).stage_config("ablation") for p in profile.ablation_problems}
    if C.write_if_changed(store.ablation_config(), {"profile": profile.name, "problems": ablation}):
        changed.append(store.ablation_config())
    return changed
