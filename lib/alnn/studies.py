"""What a study used, ready to run again; and recomputing a stage into a fresh folder.

:func:`study` reads one problem of one profile's results (the grid winner the
stages trained with) and returns a :class:`Study`: the data set as the stages
used it (subsampled where the profile says so), the configuration, the
profile's settings, and the keyword arguments of :func:`alnn.run` and
:func:`alnn.run_budget` that recompute the stored frames::

    import alnn
    s = alnn.study("iris")                      # the newest profile with results; alnn.study("quick", "iris")
    frame = alnn.run(**s.run_args("sasla"))     # = results/<profile>/trials/iris/sasla.parquet (but wall_s)
    budget = alnn.run_budget(**s.budget_args("entropy", trials=2))

:func:`recompute` runs one stage of a profile into a new, empty results folder
(the inputs it needs copied in: the data descriptions and grid winners) and
:func:`compare` lists how every file it wrote differs from the stored one; the
command line's ``alnn <stage> --fresh`` prints that list.
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from alnn import config as C
from alnn import store as S

#: Columns that measure time rather than learning: left out of every comparison.
TIMING_COLUMNS = ("wall_s",)
#: Metadata entries that hash the values (the timing columns included): left out of every comparison.
VOLATILE_META = ("content",)


def as_dataset(dataset):
    """A data set, or the name of one (:func:`alnn.datasets.load`: the whole set, as the raw files hold it)."""
    if isinstance(dataset, str):
        from alnn import datasets

        return datasets.load(C.check_problem(dataset))
    return dataset


# --------------------------------------------------------------------------- what a study used


@dataclass(frozen=True)
class Study:
    """One problem of one profile's study: what its stages trained with (see :func:`study`)."""

    profile: str
    problem: str
    settings: C.ProblemSettings = field(repr=False)
    winner: dict[str, Any] = field(repr=False)
    store: S.Store

    @property
    def config(self):
        """The grid winner as an :class:`alnn.TrainConfig` (the configuration every strategy trained with)."""
        from alnn.model import TrainConfig
        from alnn.pipeline import GRID_KEYS

        return TrainConfig(**{k: self.winner[k] for k in GRID_KEYS})

    @functools.cached_property
    def dataset(self):
        """The data set as the stages used it (the profile's stratified subsample where it names one)."""
        from alnn.pipeline import settings_dataset

        return settings_dataset(self.settings)

    def _fields(self, kind: str, strategy: str) -> dict[str, Any]:
        from alnn import pipeline

        tasks = (pipeline.trial_tasks if kind == "trials" else pipeline.budget_tasks)(self.settings, strategy,
                                                                                      self.winner)
        return {**tasks[0].fields, "trial_start": 0, "trials": self.settings.trials}

    def run_args(self, strategy: str, **changes) -> dict[str, Any]:
        """Keyword arguments of :func:`alnn.run` for ``strategy`` as the trial stage ran it (every trial);
        ``changes`` replace any of them (e.g. ``trials=2``, ``progress=False``)."""
        C.check_pair(self.problem, strategy)
        f = self._fields("trials", strategy)
        args = {"dataset": self.dataset, "strategy": strategy, "config": self.config, "trials": f["trials"],
                "folds": f["folds"], "epochs": f["epochs"], "seed": f["seed"], "params": f["params"] or None,
                **({"precision": f["precision"]} if "precision" in f else {})}
        return {**args, **changes}

    def budget_args(self, strategy: str, **changes) -> dict[str, Any]:
        """Keyword arguments of :func:`alnn.run_budget` for ``strategy`` as the budget stage ran it (every
        trial); ``changes`` replace any of them."""
        C.check_pair(self.problem, strategy)
        f = self._fields("budget", strategy)
        b = f["budget"]
        args = {"dataset": self.dataset, "strategy": strategy, "config": self.config, "trials": f["trials"],
                "folds": f["folds"], "round_epochs": b["round_epochs"], "seed": f["seed"],
                "params": f["params"] or None, "start": b["start"],
                "schedule_kind": b["schedule"] if isinstance(b["schedule"], str) else tuple(b["schedule"]),
                "budgets": b["budgets"], "max_budget": b["max_budget"],
                **{k: b[k] for k in ("round_training", "hyper", "tolerance", "window") if k in b},
                **({"precision": f["precision"]} if "precision" in f else {})}
        return {**args, **changes}

    def trials(self, strategy: str) -> pd.DataFrame:
        """The stored trial frame of ``strategy`` (checked)."""
        from alnn.pipeline import read_trials

        return read_trials(self.store, self.problem, C.check_pair(self.problem, strategy)[1])

    def budget(self, strategy: str) -> pd.DataFrame:
        """The stored budget-protocol frame of ``strategy`` (checked)."""
        from alnn.pipeline import read_budget

        return read_budget(self.store, self.problem, C.check_pair(self.problem, strategy)[1])


def study(*names: str, results: str | Path = "results") -> Study:
    """What one profile's study used on one problem: ``study("iris")`` (the newest profile whose results hold
    Iris's grid winner) or ``study("quick", "iris")`` (the two names in either order: no profile is named
    like a problem). ``results``: the folder above the profiles' results (default ``results``)."""
    if not 1 <= len(names) <= 2:
        raise C.ConfigError(f"study takes a problem and optionally a profile, got {len(names)} names; "
                            f"e.g. study('iris') or study('quick', 'iris')")
    profile = next((n for n in names if n in C.PROFILES), None)
    rest = [n for n in names if n is not profile]
    if len(rest) != 1:
        raise C.ConfigError(f"study({', '.join(map(repr, names))}): name one problem ({', '.join(C.PROBLEMS)}) "
                            f"and at most one profile ({', '.join(C.PROFILES)})")
    problem = C.check_problem(rest[0])
    where = "" if Path(results) == Path("results") else f" RESULTS={results}"
    if profile is None:
        profile = C.default_profile(results, (f"grid/{problem}.json",), make=f"make grid{where}")
    store = S.Store.of(profile, results)
    path = store.grid_winner(problem)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: profile {profile} has no grid results for {problem}; "
                                f"run `make grid PROFILE={profile}{where}` to produce them")
    from alnn.pipeline import read_winner

    settings = C.load_profile(profile).problem(problem)
    return Study(profile, problem, settings, read_winner(path, settings), store)


# --------------------------------------------------------------------------- recomputing into a fresh folder

#: The stages :func:`recompute` runs, and the stored inputs each needs copied in.
STAGES = ("data", "grid", "trials", "budget", "ablation", "all")


def fresh_folder(profile: str) -> Path:
    """A new, empty folder for a fresh recompute (in the system's temporary folder)."""
    return Path(tempfile.mkdtemp(prefix=f"alnn-fresh-{profile}-"))


def _copy_inputs(stage: str, problems: Sequence[str], stored: S.Store, fresh: S.Store) -> list[Path]:
    """Copy what ``stage`` reads but does not compute (data descriptions and grid winners) into ``fresh``."""
    if stage not in ("trials", "budget", "ablation"):
        return []
    copied = []
    for problem in problems:
        for source in (stored.data(problem), stored.grid_winner(problem)):
            if not source.is_file():
                continue  # the stage names what is missing
            target = fresh.root / source.relative_to(stored.root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            copied.append(target.relative_to(fresh.root))
    return copied


def recompute(stage: str, profile: str | C.Profile, problems: Iterable[str] | None = None,
              strategies: Sequence[str] | None = None, *, stored: S.Store | str | Path,
              into: str | Path | None = None, execution: C.Execution | None = None) -> "Recomputed":
    """Run ``stage`` of ``profile`` into ``into`` (a new folder; default :func:`fresh_folder`), from the stored
    data descriptions and grid winners where the stage reads them, and compare what it wrote with ``stored``
    (the profile's results, e.g. ``results/quick``)."""
    from alnn import pipeline

    C.check_choice("stage", stage, STAGES)
    profile = profile if isinstance(profile, C.Profile) else C.load_profile(profile)
    stored = stored if isinstance(stored, S.Store) else S.Store(stored)
    chosen_problems = None if problems is None else list(problems)
    if stage == "ablation":
        problems = list(profile.ablation_problems if chosen_problems is None else chosen_problems)
    else:
        problems = list(profile.problems if chosen_problems is None else chosen_problems)
    base = Path(into) if into is not None else fresh_folder(profile.name)
    if base.exists() and any(base.iterdir()):
        raise C.ConfigError(f"fresh folder {base} is not empty; valid: a new or empty folder")
    fresh = S.Store.of(profile.name, base)
    copied = _copy_inputs(stage, problems, stored, fresh)
    execution = execution or C.Execution()
    with pipeline.make_executor(execution) as executor:
        for problem in problems if stage != "ablation" else ():
            if stage in ("data", "all"):
                pipeline.data(profile, problem, store=fresh)
            if stage in ("grid", "all"):
                pipeline.grid(profile, problem, store=fresh, execution=execution, executor=executor)
            if stage in ("trials", "all"):
                chosen = None if strategies is None else [s for s in strategies if C.applicable(problem, s)]
                if chosen is None or chosen:
                    pipeline.trials(profile, problem, chosen, store=fresh, execution=execution, executor=executor)
            if stage in ("budget", "all"):
                allowed = profile.problem(problem).budget_strategies()
                chosen = None if strategies is None else [s for s in strategies if s in allowed]
                if chosen is None or chosen:
                    pipeline.budget(profile, problem, chosen, store=fresh, execution=execution, executor=executor)
        if stage == "ablation":
            pipeline.ablation(profile, chosen_problems, store=fresh, execution=execution, executor=executor)
    return Recomputed(fresh, stored, copied, compare(fresh, stored, skip=copied))


@dataclass
class Difference:
    path: Path  # relative to both stores' roots
    what: str  # in words

    def __str__(self) -> str:
        return f"{self.path}: {self.what}"


@dataclass
class Recomputed:
    fresh: S.Store
    stored: S.Store
    copied: list[Path]  # inputs copied from the stored results (not compared)
    compared: tuple[list[Path], list[Difference]]  # every file compared, and the differences

    @property
    def differences(self) -> list[Difference]:
        return self.compared[1]

    def report(self) -> str:
        files, diffs = self.compared
        lines = [f"compared {len(files)} file(s) of {self.fresh.root} with {self.stored.root}: "
                 f"{len(files) - len({d.path for d in diffs})} identical, {len({d.path for d in diffs})} differ"
                 + (f" (timing columns {', '.join(TIMING_COLUMNS)} left out)" if files else "")]
        lines += [f"differs: {d}" for d in diffs]
        return "\n".join(lines)


def _frame_differences(fresh: pd.DataFrame, stored: pd.DataFrame) -> list[str]:
    fresh = fresh.drop(columns=[c for c in TIMING_COLUMNS if c in fresh])
    stored = stored.drop(columns=[c for c in TIMING_COLUMNS if c in stored])
    if list(fresh.columns) != list(stored.columns):
        return [f"columns {list(stored.columns)} stored, {list(fresh.columns)} recomputed"]
    if len(fresh) != len(stored):
        return [f"{len(stored)} rows stored, {len(fresh)} recomputed"]
    out = []
    for name in fresh.columns:
        a, b = fresh[name].reset_index(drop=True), stored[name].reset_index(drop=True)
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b) \
                and not pd.api.types.is_bool_dtype(a):
            x, y = a.to_numpy(dtype=np.float64, na_value=np.nan), b.to_numpy(dtype=np.float64, na_value=np.nan)
            same = (x == y) | (np.isnan(x) & np.isnan(y))
            if not same.all():
                gap = np.abs(x - y)[~same]
                gap = gap[np.isfinite(gap)]
                largest = f", largest difference {gap.max():.6g}" if gap.size else ""
                out.append(f"column {name}: {int((~same).sum())} of {len(same)} values differ{largest}")
        else:
            same = (a.astype(object).to_numpy() == b.astype(object).to_numpy()) | (a.isna() & b.isna()).to_numpy()
            if not same.all():
                out.append(f"column {name}: {int((~same).sum())} of {len(same)} values differ")
    return out


def _json_differences(fresh: Any, stored: Any) -> list[str]:
    if isinstance(fresh, dict) and isinstance(stored, dict):
        keys = sorted(set(fresh) | set(stored))
        return [f"{k}: {stored.get(k, '(absent)')!r} stored, {fresh.get(k, '(absent)')!r} recomputed"
                for k in keys if json.dumps(fresh.get(k), sort_keys=True, default=str)
                != json.dumps(stored.get(k), sort_keys=True, default=str)]
    return [] if fresh == stored else [f"{stored!r} stored, {fresh!r} recomputed"]


def compare(fresh: S.Store, stored: S.Store, skip: Iterable[str | Path] = ()) -> tuple[list[Path], list[Difference]]:
    """Every result file below ``fresh`` (Parquet and JSON; ``skip``: paths relative to its root) against the file
    of the same name below ``stored``: (the files compared, their differences). Frames are compared value by
    value without :data:`TIMING_COLUMNS`, their metadata without :data:`VOLATILE_META`; a stored file that is
    missing or fails its checks is a difference."""
    skip = {Path(p) for p in skip}
    files = sorted(p.relative_to(fresh.root) for p in fresh.root.rglob("*")
                   if p.is_file() and p.suffix in (".parquet", ".json") and not p.name.startswith("."))
    files = [f for f in files if f not in skip]
    diffs = []
    for rel in files:
        theirs = stored.root / rel
        if not theirs.is_file():
            diffs.append(Difference(rel, "missing from the stored results"))
            continue
        if rel.suffix == ".json":
            found = _json_differences(S.read_json(fresh.root / rel), S.read_json(theirs))
        else:
            try:
                stored_frame, stored_meta = S.read(theirs), S.read_meta(theirs)
            except S.ShardError as exc:
                diffs.append(Difference(rel, f"the stored file fails its checks ({exc})"))
                continue
            fresh_frame, fresh_meta = S.read(fresh.root / rel), S.read_meta(fresh.root / rel)
            found = _json_differences({k: v for k, v in fresh_meta.items() if k not in VOLATILE_META},
                                      {k: v for k, v in stored_meta.items() if k not in VOLATILE_META})
            found = [f"metadata {d}" for d in found] + _frame_differences(fresh_frame, stored_frame)
        diffs += [Difference(rel, d) for d in found]
    return files, diffs
