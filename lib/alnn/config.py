"""Validated settings: the three profiles of ``profiles.toml`` and every entrance's options.

Everything a stage, the command line or a notebook receives passes through
here first, so a bad value fails before any work, with one line that names the
bad value and the valid ones (:class:`ConfigError`).

``profiles.toml`` holds a ``[defaults]`` table and one table per profile
(``full``, ``quick``, ``smoke``). A profile is its table merged over the
defaults (nested tables key by key, lists replaced whole). Inside a profile,
``[<profile>.problems.<problem>]`` may override any profile-level setting for
that problem (``trials``, ``folds``, ``epochs``, ``chunk``, ``grid_folds``,
``grid_epochs``, single ``grid`` axes, single strategy parameters) and sets the
problem's own ``batch_size`` and ``subsample``. :meth:`Profile.problem` returns
the fully resolved :class:`ProblemSettings` of one problem: that object, and
nothing else, determines the problem's grid search and trials.

This module imports neither torch nor pandas, so reading a profile is fast
(the Makefile calls it on every run).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import json
import math
import os
import tomllib
import types
import typing
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any, Mapping

from alnn.datasets import NAMES as PROBLEMS
from alnn.datasets import TASKS
from alnn.strategies.catalogue import catalogue as _catalogue
from alnn.strategies.catalogue import names as _strategy_names

PROFILES_PATH = Path(__file__).with_name("profiles.toml")

PROFILES: tuple[str, ...] = ("smoke", "quick", "full")
#: Every strategy (`alnn.strategies.catalogue`: each describes itself in its own module).
ALL_STRATEGIES: tuple[str, ...] = _strategy_names()
#: Strategies of the draft's protocol (the trial stage and the strategy notebooks).
STRATEGIES: tuple[str, ...] = _strategy_names(protocol="draft")
#: Strategies of the budget protocol (SPEC 3b): ``passive`` is its full-pool ceiling.
BUDGET_STRATEGIES: tuple[str, ...] = _strategy_names(protocol="budget")
STARTS: tuple[str, ...] = ("cold", "warm")
#: How a round of the budget protocol trains (SPEC 3b; `alnn.budget`): the same SGD steps at every budget
#: (default), until the training criterion stops improving, or round_epochs epochs over L (the earlier rule).
ROUND_TRAININGS: tuple[str, ...] = ("steps", "converge", "epochs")
#: What S, the steps of a ``steps`` round, is counted on: the smallest pool (the ceiling's steps, SPEC 3b)
#: or the schedule's last budget (round_epochs epochs over B_R; for schedules that stop well short of the pool).
STEPS_FROM: tuple[str, ...] = ("pool", "last")
#: The hyperparameters of a budget round: the grid winner (default) or chosen per round by CV on L alone.
HYPERS: tuple[str, ...] = ("winner", "per-budget")
#: The budget protocol's ablations (`alnn.pipeline.ablation_variants`): each factor and the suffixes its
#: variants' labels end in (``<strategy>-<suffix>``; a suffix holds no hyphen).
BUDGET_ABLATION_SUFFIXES: dict[str, tuple[str, ...]] = {
    "start": ("warm", "cold"), "round_epochs": ("rounds",), "schedule": ("schedule",),
    "round_training": ("converge", "epochs"), "hyper": ("tuned",)}
#: Precisions of the engine's products (`alnn.model.BatchedMLP`).
PRECISIONS: tuple[str, ...] = ("float32", "bfloat16", "tf32")
#: The tasks each strategy exists for (SPEC section 3).
STRATEGY_TASKS: dict[str, tuple[str, ...]] = {n: d.tasks for n, d in _catalogue().items()}
EXECUTORS: tuple[str, ...] = ("local", "dask")
DEVICES: tuple[str, ...] = ("cpu", "cuda")
NORMS: tuple[str, ...] = ("sum", "euclidean")
#: Class distributions of ``entropy`` and the classification committee (SPEC 3).
PROBABILITIES: tuple[str, ...] = ("softmax", "normalised")
GRID_AXES: tuple[str, ...] = ("hidden", "lr", "weight_decay", "momentum")

#: Source files whose code determines a result (the engine and the data layer).
#: Their hash, :func:`engine_version`, is part of every shard key.
ENGINE_MODULES: tuple[str, ...] = (
    "alnn.datasets", "alnn.preprocess", "alnn.model", "alnn.metrics", "alnn.strategies",
    "alnn.engine", "alnn.experiment", "alnn.cost",
)
#: The budget protocol's own module: part of the budget stage's shard keys only.
BUDGET_MODULES: tuple[str, ...] = ("alnn.budget",)
#: Successive halving's own module: part of the grid stage's shard keys when ``grid_search = "halving"``.
HALVING_MODULES: tuple[str, ...] = ("alnn.halving",)
#: How the grid stage searches the grid: every configuration for ``grid_epochs`` (``full``), or
#: successive halving (``halving``: alnn.halving; one shard per problem).
GRID_SEARCHES: tuple[str, ...] = ("full", "halving")


class ConfigError(ValueError):
    """A bad setting. The message is one line naming the bad value and the valid ones."""


# ---------------------------------------------------------------------------
# Applicability of strategies to problems


def check_choice(what: str, value: object, valid: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in valid:
        raise ConfigError(f"unknown {what} {value!r}; valid: {', '.join(valid)}")
    return value


def check_problem(name: object) -> str:
    return check_choice("problem", name, PROBLEMS)


def check_strategy(name: object, valid: tuple[str, ...] = ALL_STRATEGIES) -> str:
    """A strategy's name (of every strategy, or of ``valid``: e.g. the draft's protocol's)."""
    return check_choice("strategy", name, valid)


def check_profile(name: object) -> str:
    return check_choice("profile", name, PROFILES)


def applicable(problem: str, strategy: str) -> bool:
    """Whether ``strategy`` runs on ``problem`` (entropy is classification only)."""
    return TASKS[problem] in STRATEGY_TASKS[strategy]


def strategies_for(problem: str) -> tuple[str, ...]:
    check_problem(problem)
    return tuple(s for s in STRATEGIES if applicable(problem, s))


def problems_for(strategy: str) -> tuple[str, ...]:
    check_strategy(strategy)
    return tuple(p for p in PROBLEMS if applicable(p, strategy))


def check_pair(problem: object, strategy: object, valid: tuple[str, ...] = ALL_STRATEGIES) -> tuple[str, str]:
    problem, strategy = check_problem(problem), check_strategy(strategy, valid)
    if not applicable(problem, strategy):
        raise ConfigError(
            f"strategy {strategy!r} does not apply to {TASKS[problem]} problem {problem!r}; "
            f"valid strategies for {problem}: {', '.join(strategies_for(problem))}"
        )
    return problem, strategy


# ---------------------------------------------------------------------------
# Typed construction of frozen dataclasses from plain mappings


_TYPE_NAMES = {int: ("an integer", "integers"), float: ("a number", "numbers"), str: ("a string", "strings"),
               bool: ("true or false", "booleans"), type(None): ("unset", "unset")}


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"a non-empty list of {_TYPE_NAMES[typing.get_args(tp)[0]][1]}"
    return _TYPE_NAMES[tp][0]


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """``value`` converted to ``tp`` (int -> float allowed), else a one-line error."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return _coerce(value, arg, where)
            except ConfigError:
                pass
    elif origin is tuple:
        if isinstance(value, (list, tuple)) and value:
            return tuple(_coerce(v, typing.get_args(tp)[0], f"{where}[{i}]") for i, v in enumerate(value))
    elif tp is type(None):
        if value is None:
            return None
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - a programming error in this module
        raise TypeError(f"unsupported field type {tp!r}")
    raise ConfigError(f"{where} = {value!r} is not {_type_name(tp)}")


def build(cls: type, data: Mapping[str, Any], where: str, **extra: Any) -> Any:
    """An instance of the frozen dataclass ``cls`` from ``data``: unknown keys and wrong types fail."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a table of settings, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and f.name not in extra}
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}; valid: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, f in fields.items():
        if name in data:
            values[name] = _coerce(data[name], hints[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: missing setting {name!r}")
    return cls(**values, **extra)


def _positive(where: str, value: int, minimum: int = 1) -> None:
    if value < minimum:
        raise ConfigError(f"{where} = {value!r} must be an integer >= {minimum}")


def as_plain(obj: Any) -> Any:
    """Dataclasses, tuples and mappings as JSON-ready dicts and lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: as_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): as_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [as_plain(v) for v in obj]
    return obj


# ---------------------------------------------------------------------------
# Strategy parameters


@dataclass(frozen=True)
class PassiveParams:
    """``passive``: ``members`` > 1 is the ensemble control (that many networks voting)."""

    members: int = 1

    def check(self, where: str) -> None:
        _positive(f"{where}.members", self.members)


@dataclass(frozen=True)
class SaslaParams:
    beta: float = 0.9  # selection constant: keep Phi > (1 - beta) * mean(Phi)
    tau: int = 1  # epochs between selections
    norm: str = "sum"  # norm over inputs: sum or euclidean

    def check(self, where: str) -> None:
        if not 0.0 < self.beta < 1.0:
            raise ConfigError(f"{where}.beta = {self.beta!r} is outside the open interval (0, 1)")
        _positive(f"{where}.tau", self.tau)
        if self.norm not in NORMS:
            raise ConfigError(f"{where}.norm = {self.norm!r} is not a valid norm; valid: {', '.join(NORMS)}")


@dataclass(frozen=True)
class QueryParams:
    """Pool-based schedule shared by ``entropy``, ``ensemble`` and ``random``."""

    tau: int = 1  # epochs between queries
    query_size: int = 1  # patterns moved from U to L per query
    initial: int | None = None  # size of the initial labelled set; None: min(10% of the pool, 10)

    def check(self, where: str) -> None:
        _positive(f"{where}.tau", self.tau)
        _positive(f"{where}.query_size", self.query_size)
        if self.initial is not None:
            _positive(f"{where}.initial", self.initial)


@dataclass(frozen=True)
class SensitivityParams(QueryParams):
    """``sensitivity``: the pool-based schedule, utility Phi with the given norm."""

    norm: str = "sum"  # norm over inputs of the sensitivity matrix: sum or euclidean

    def check(self, where: str) -> None:
        super().check(where)
        if self.norm not in NORMS:
            raise ConfigError(f"{where}.norm = {self.norm!r} is not a valid norm; valid: {', '.join(NORMS)}")


@dataclass(frozen=True)
class RandomParams(QueryParams):
    """``random``: the pool-based schedule; ``members`` > 1 is the ensemble control."""

    members: int = 1

    def check(self, where: str) -> None:
        super().check(where)
        _positive(f"{where}.members", self.members)


@dataclass(frozen=True)
class UncertaintyParams(QueryParams):
    """``entropy`` and ``ensemble``: the schedule and the class distribution (classification)."""

    probability: str = "softmax"  # softmax over the output activations (the draft's) or normalised o / sum(o)

    def check(self, where: str) -> None:
        super().check(where)
        if self.probability not in PROBABILITIES:
            raise ConfigError(f"{where}.probability = {self.probability!r} is not valid; valid: "
                              f"{', '.join(PROBABILITIES)}")


PARAMS: dict[str, type] = {
    "passive": PassiveParams,
    "sasla": SaslaParams,
    "entropy": UncertaintyParams,
    "ensemble": UncertaintyParams,
    "random": RandomParams,
    "sensitivity": SensitivityParams,
}


def _generic_params(strategy: str) -> type:
    """The parameters of a strategy without a class of its own here: a frozen dataclass of its module's
    ``DEFAULTS`` (types from the defaults; the schedule's and the class distribution's checks)."""
    defaults = _catalogue()[strategy].defaults
    base = QueryParams if {"tau", "query_size", "initial"} <= set(defaults) else object
    fields = []
    for key, value in defaults.items():
        if base is QueryParams and key in ("tau", "query_size", "initial"):
            continue
        tp = Any if value is None else type(value)
        fields.append((key, tp, dataclasses.field(default=value)))

    def check(self, where: str) -> None:
        if base is QueryParams:
            QueryParams.check(self, where)
        p = getattr(self, "probability", None)
        if p is not None and p not in PROBABILITIES:
            raise ConfigError(f"{where}.probability = {p!r} is not valid; valid: {', '.join(PROBABILITIES)}")

    bases = (base,) if base is not object else ()
    return dataclasses.make_dataclass(f"{strategy.title().replace('-', '')}Params", fields, bases=bases,
                                      frozen=True, namespace={"check": check})


def strategy_params(strategy: str, data: Mapping[str, Any] | None = None, where: str = "params") -> Any:
    """Validated parameters of one strategy (defaults where ``data`` is silent)."""
    check_choice("strategy", strategy, ALL_STRATEGIES)
    if strategy not in PARAMS:
        PARAMS[strategy] = _generic_params(strategy)
    params = build(PARAMS[strategy], data or {}, where)
    if hasattr(params, "check"):
        params.check(where)
    return params


def params_dict(params: Any) -> dict[str, Any]:
    """Parameters as the keyword dict the engine's ``params=`` takes (unset ones left out)."""
    return {k: v for k, v in as_plain(params).items() if v is not None}


# ---------------------------------------------------------------------------
# Profiles


@dataclass(frozen=True)
class Grid:
    """Axes of the grid search: the configurations are their Cartesian product."""

    hidden: tuple[int, ...]
    lr: tuple[float, ...]
    weight_decay: tuple[float, ...]
    momentum: tuple[float, ...]

    def check(self, where: str) -> None:
        for axis in GRID_AXES:
            values = getattr(self, axis)
            if len(set(values)) != len(values):
                raise ConfigError(f"{where}.{axis} = {list(values)!r} repeats a value")
        for h in self.hidden:
            _positive(f"{where}.hidden", h)
        for axis in ("lr",):
            if any(v <= 0 for v in getattr(self, axis)):
                raise ConfigError(f"{where}.{axis} = {list(getattr(self, axis))!r} must be > 0")
        if any(v < 0 for v in self.weight_decay):
            raise ConfigError(f"{where}.weight_decay = {list(self.weight_decay)!r} must be >= 0")
        if any(not 0 <= v < 1 for v in self.momentum):
            raise ConfigError(f"{where}.momentum = {list(self.momentum)!r} must lie in [0, 1)")

    @property
    def size(self) -> int:
        return math.prod(len(getattr(self, a)) for a in GRID_AXES)

    def points(self) -> list[dict[str, Any]]:
        """Every configuration as a dict of the four axes, in a fixed order."""
        return [dict(zip(GRID_AXES, values)) for values in product(*(getattr(self, a) for a in GRID_AXES))]


@dataclass(frozen=True)
class Budget:
    """The budget protocol of one problem (SPEC 3b).

    ``schedule`` is ``"geometric"`` (``budgets`` budgets from B_0, the initial
    labelled set, to B_max, evenly spaced on a log scale and rounded) or an
    explicit list of budgets, each a count of labels (an integer) or a fraction
    of the smallest training pool (a number in (0, 1]).  ``max_budget`` is B_max
    of the geometric schedule: a count or a fraction of the smallest pool
    (1.0: the whole pool).  ``round_training`` says how long a round trains:
    ``steps`` (default: round_epochs x ceil(P / batch) SGD steps at every
    budget, the ceiling's steps on the smallest pool P), ``converge`` (until the
    training criterion stops improving: accuracy on L >= 99%, or a relative
    loss improvement below ``tolerance`` over ``window`` checkpoints; at most
    those steps) or ``epochs`` (``round_epochs`` epochs over L, the earlier
    rule); ``round_epochs`` is set so that the ceiling, passive trained that
    many epochs on the whole pool, reaches its plateau.  ``steps_from``
    ``pool`` (S counted on the smallest pool, the ceiling's steps) or ``last``
    (round_epochs x ceil(B_R / batch): for a schedule that stops far short of
    the pool, the steps its last budget's round takes in round_epochs epochs).  ``hyper`` ``winner``
    (the grid winner) or ``per-budget`` (lr x weight decay chosen every round
    by 3-fold CV on L alone).  ``start`` ``cold`` (the trial's initial weights
    and fresh momentum every round) or ``warm`` (the previous round's weights
    and momentum).
    """

    round_epochs: int = 100
    round_training: str = "steps"
    steps_from: str = "pool"
    hyper: str = "winner"
    tolerance: float = 1e-3
    window: int = 5
    start: str = "cold"
    schedule: str | tuple[float, ...] = "geometric"
    budgets: int = 10
    max_budget: float = 1.0
    chunk: int | None = None  # trials per shard; none: the problem's chunk
    trials: int | None = None  # trials of the budget stage (the first ones of the trial stage); none: the problem's

    def check(self, where: str) -> None:
        _positive(f"{where}.round_epochs", self.round_epochs)
        if self.round_training not in ROUND_TRAININGS:
            raise ConfigError(f"{where}.round_training = {self.round_training!r} is not valid; valid: "
                              f"{', '.join(ROUND_TRAININGS)}")
        if self.steps_from not in STEPS_FROM:
            raise ConfigError(f"{where}.steps_from = {self.steps_from!r} is not valid; valid: {', '.join(STEPS_FROM)}")
        if self.hyper not in HYPERS:
            raise ConfigError(f"{where}.hyper = {self.hyper!r} is not valid; valid: {', '.join(HYPERS)}")
        if not 0 < self.tolerance < 1:
            raise ConfigError(f"{where}.tolerance = {self.tolerance!r} is not valid; valid: a number in (0, 1)")
        _positive(f"{where}.window", self.window)
        if self.start not in STARTS:
            raise ConfigError(f"{where}.start = {self.start!r} is not valid; valid: {', '.join(STARTS)}")
        if isinstance(self.schedule, str):
            if self.schedule != "geometric":
                raise ConfigError(f"{where}.schedule = {self.schedule!r} is not valid; valid: 'geometric' "
                                  "or a list of budgets (counts, or fractions of the pool in (0, 1])")
        else:
            if any(not (v > 0) for v in self.schedule):
                raise ConfigError(f"{where}.schedule = {list(self.schedule)!r} must hold positive budgets")
            if any(b <= a for a, b in zip(self.schedule, self.schedule[1:])):
                raise ConfigError(f"{where}.schedule = {list(self.schedule)!r} must increase")
        if self.budgets < 2:
            raise ConfigError(f"{where}.budgets = {self.budgets!r} must be an integer >= 2")
        if not self.max_budget > 0:
            raise ConfigError(f"{where}.max_budget = {self.max_budget!r} must be > 0 (a count, or a fraction "
                              "of the pool in (0, 1])")
        if self.chunk is not None:
            _positive(f"{where}.chunk", self.chunk)
        if self.trials is not None:
            _positive(f"{where}.trials", self.trials)


@dataclass(frozen=True)
class Ablation:
    """Controls and ablations of one problem (SPEC 3d); the problem is covered when it is in ``problems``.

    Draft's protocol: the SASLA grid ``sasla_beta`` x ``sasla_tau`` x
    ``sasla_norm`` (one batched model per shard); ``passive`` and ``random``
    with ``members`` voting networks; ``entropy`` and ``ensemble`` with the
    normalised class distribution (classification).  Budget protocol: ``random``
    and the ``passive`` ceiling with ``members`` networks; the normalised class
    distribution; and for each of ``strategies``: the other ``start``, rounds of
    ``round_epochs`` epochs (default half the problem's) and a geometric schedule
    of ``budgets`` budgets (default half the problem's); each other rule of
    ``round_trainings`` (how long a round trains); and ``hyper = per-budget``
    for ``hyper_strategies`` on ``hyper_problems`` (default every covered
    problem; tuning costs 48 networks per model and round).  ``trials`` (default the
    problem's) trials of the problem's folds, each the same network as in the
    trial and budget stages (common random numbers).
    """

    problems: tuple[str, ...] = ()
    trials: int | None = None
    sasla_beta: tuple[float, ...] = (0.5, 0.75, 0.9, 0.95, 0.99)
    sasla_tau: tuple[int, ...] = (1, 10, 50)
    sasla_norm: tuple[str, ...] = ("sum", "euclidean")
    members: int = 3
    round_epochs: int | None = None
    budgets: int | None = None
    strategies: tuple[str, ...] = ("entropy", "ensemble", "random", "sensitivity")
    round_trainings: tuple[str, ...] = ("converge", "epochs")
    hyper_strategies: tuple[str, ...] = ("random", "sensitivity")
    hyper_problems: tuple[str, ...] | None = None

    def check(self, where: str) -> None:
        for p in self.problems:
            if p not in PROBLEMS:
                raise ConfigError(f"{where}.problems: unknown problem {p!r}; valid: {', '.join(PROBLEMS)}")
        if self.trials is not None:
            _positive(f"{where}.trials", self.trials)
        if not self.sasla_beta or any(not 0 < b < 1 for b in self.sasla_beta):
            raise ConfigError(f"{where}.sasla_beta = {list(self.sasla_beta)!r} must hold numbers in (0, 1)")
        if not self.sasla_tau or any(t < 1 for t in self.sasla_tau):
            raise ConfigError(f"{where}.sasla_tau = {list(self.sasla_tau)!r} must hold positive integers")
        for n in self.sasla_norm:
            if n not in NORMS:
                raise ConfigError(f"{where}.sasla_norm: {n!r} is not a valid norm; valid: {', '.join(NORMS)}")
        _positive(f"{where}.members", self.members, 2)
        if self.round_epochs is not None:
            _positive(f"{where}.round_epochs", self.round_epochs)
        if self.budgets is not None:
            _positive(f"{where}.budgets", self.budgets, 2)
        for key in ("strategies", "hyper_strategies"):
            for s in getattr(self, key):
                if s not in BUDGET_STRATEGIES or s == "passive":
                    valid = ", ".join(b for b in BUDGET_STRATEGIES if b != "passive")
                    raise ConfigError(f"{where}.{key}: {s!r} has no budget ablation; valid: {valid}")
        for r in self.round_trainings:
            if r not in ROUND_TRAININGS:
                raise ConfigError(f"{where}.round_trainings: {r!r} is not valid; valid: {', '.join(ROUND_TRAININGS)}")
        for p in self.hyper_problems or ():
            if p not in self.problems:
                raise ConfigError(f"{where}.hyper_problems: {p!r} is not among the ablation's problems; valid: "
                                  f"{', '.join(self.problems) or 'none'}")


@dataclass(frozen=True)
class Seeds:
    grid: int  # splits and initial weights of the grid search
    trials: int  # splits and initial weights of the trials
    subsample: int = 0  # the stratified subsample of a large problem


@dataclass(frozen=True)
class ProblemSettings:
    """Everything that determines one problem's grid search and trials in one profile."""

    profile: str
    problem: str
    task: str
    batch_size: int
    subsample: int | None
    trials: int
    folds: int
    epochs: int
    chunk: int
    grid_folds: int
    grid_epochs: int
    grid_chunk: int  # grid configurations per shard (a shard never mixes hidden-layer sizes)
    grid: Grid
    seeds: Seeds
    strategies: dict[str, Any]  # strategy -> params dataclass, applicable strategies only
    budget: Budget = Budget()
    ablation: Ablation = Ablation()
    grid_search: str = "full"  # "full" or "halving" (GRID_SEARCHES)
    halving_eta: int = 3  # halving: keep the best 1/eta of the configurations at each rung
    halving_rungs: int = 4  # halving: rungs; the first ends after grid_epochs / eta^(rungs - 1) epochs
    precision: str = "float32"  # the engine's products (PRECISIONS): float32 (the reference), bfloat16, tf32 (CUDA)
    # SPEC 6: the region of practical equivalence of the Bayesian correlated t-test, and its decision level
    rope_accuracy: float = 0.01  # accuracy-like criteria (in [0, 1]): one point
    rope_relative: float = 0.05  # error criteria (MSE): this fraction of the baseline's mean
    equivalence_level: float = 0.95  # posterior mass that decides equivalent / better / worse

    def precision_fields(self) -> dict[str, Any]:
        """What the precision adds to every stage's config and shard key (nothing for the float32 reference)."""
        return {} if self.precision == "float32" else {"precision": self.precision}

    def grid_search_fields(self) -> dict[str, Any]:
        """What the search method adds to the grid stage's config and shard key (nothing for ``full``,
        so that the full grid's shards keep their keys)."""
        if self.grid_search == "full":
            return {}
        return {"search": self.grid_search, "eta": self.halving_eta, "rungs": self.halving_rungs,
                "halving_engine": engine_version(HALVING_MODULES)}

    def params(self, strategy: str) -> Any:
        check_pair(self.problem, strategy)
        return self.strategies[strategy]

    def trial_chunks(self) -> list[tuple[int, int]]:
        """(trial_start, trials) of every shard, covering trials 0 .. trials - 1."""
        return [(s, min(self.chunk, self.trials - s)) for s in range(0, self.trials, self.chunk)]

    def budget_chunks(self) -> list[tuple[int, int]]:
        """(trial_start, trials) of every budget-protocol shard."""
        size = self.budget.chunk or self.chunk
        n = self.budget_trials
        return [(s, min(size, n - s)) for s in range(0, n, size)]

    @property
    def budget_trials(self) -> int:
        """Trials of the budget stage: the budget table's ``trials``, or the problem's."""
        return self.budget.trials or self.trials

    def budget_strategies(self) -> tuple[str, ...]:
        return tuple(s for s in BUDGET_STRATEGIES if applicable(self.problem, s))

    def to_dict(self) -> dict[str, Any]:
        return as_plain(self)

    def stage_config(self, stage: str, strategy: str | None = None) -> dict[str, Any]:
        """The settings one stage of this problem depends on (written by ``alnn config``)."""
        data = {
            "profile": self.profile, "problem": self.problem, "subsample": self.subsample,
            "subsample_seed": self.seeds.subsample, "engine": engine_version(),
        }
        if stage == "data":
            return data
        data.update(self.precision_fields())
        data["batch_size"] = self.batch_size
        if stage == "grid":
            return {**data, "grid": as_plain(self.grid), "folds": self.grid_folds,
                    "epochs": self.grid_epochs, "chunk": self.grid_chunk, "seed": self.seeds.grid,
                    **self.grid_search_fields()}
        if stage == "trials":
            check_pair(self.problem, strategy)
            return {**data, "strategy": strategy, "params": params_dict(self.strategies[strategy]),
                    "trials": self.trials, "folds": self.folds, "epochs": self.epochs,
                    "chunk": self.chunk, "seed": self.seeds.trials}
        if stage == "budget":
            check_pair(self.problem, strategy)
            return {**data, "strategy": strategy, "params": params_dict(self.strategies[strategy]),
                    "budget": as_plain(self.budget), "budget_engine": engine_version(BUDGET_MODULES),
                    "trials": self.trials, "folds": self.folds,
                    "chunk": self.budget.chunk or self.chunk, "seed": self.seeds.trials}
        if stage == "ablation":
            return {**data, "ablation": as_plain(self.ablation), "budget": as_plain(self.budget),
                    "params": {s: params_dict(p) for s, p in self.strategies.items()},
                    "budget_engine": engine_version(BUDGET_MODULES), "trials": self.trials, "folds": self.folds,
                    "epochs": self.epochs, "chunk": self.chunk, "seed": self.seeds.trials}
        raise ConfigError(f"unknown stage {stage!r}; valid: data, grid, trials, budget, ablation")


# Settings a problem table may override, and the ones only a problem table has.
_SHARED_KEYS = ("trials", "folds", "epochs", "chunk", "grid_folds", "grid_epochs", "grid_chunk", "grid",
                "grid_search", "halving_eta", "halving_rungs", "strategies", "budget", "ablation", "precision",
                "rope_accuracy", "rope_relative", "equivalence_level")
_PROBLEM_KEYS = ("batch_size", "subsample") + _SHARED_KEYS
_PROFILE_KEYS = ("description", "seeds", "problems") + _SHARED_KEYS


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    settings: dict[str, ProblemSettings]  # problem -> resolved settings, every problem of the study

    def problem(self, name: str) -> ProblemSettings:
        return self.settings[check_problem(name)]

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(self.settings)

    @property
    def ablation_problems(self) -> tuple[str, ...]:
        """The problems the ablation stage covers (SPEC 3d)."""
        return tuple(p for p, s in self.settings.items() if p in s.ablation.problems)

    def pairs(self) -> list[tuple[str, str]]:
        """Every (problem, strategy) the trial stage runs."""
        return [(p, s) for p in self.problems for s in strategies_for(p)]

    def to_dict(self) -> dict[str, Any]:
        """The resolved profile as plain data (what the paper prints)."""
        return {"name": self.name, "description": self.description,
                "problems": {p: s.to_dict() for p, s in self.settings.items()}}


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _check_keys(where: str, data: Any, valid: tuple[str, ...]) -> None:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a table of settings, got {data!r}")
    for key in data:
        if key not in valid:
            raise ConfigError(f"{where}: unknown setting {key!r}; valid: {', '.join(valid)}")


def _resolve_problem(profile: str, problem: str, table: Mapping[str, Any], seeds: Seeds) -> ProblemSettings:
    where = f"{profile}.problems.{problem}"
    _check_keys(where, table, _PROBLEM_KEYS)
    ints = {}
    table = {"grid_chunk": 1 << 30, **table}  # default: every configuration of one hidden size in one shard
    for key in ("batch_size", "trials", "folds", "epochs", "chunk", "grid_folds", "grid_epochs", "grid_chunk"):
        if key not in table:
            raise ConfigError(f"{where}: missing setting {key!r} (set it for the profile or the problem)")
        ints[key] = _coerce(table[key], int, f"{where}.{key}")
        _positive(f"{where}.{key}", ints[key], 2 if key.endswith("folds") else 1)
    subsample = _coerce(table.get("subsample"), int | None, f"{where}.subsample")
    if subsample is not None:
        _positive(f"{where}.subsample", subsample, 2)
    grid = build(Grid, table.get("grid", {}), f"{where}.grid")
    grid.check(f"{where}.grid")
    strat_table = table.get("strategies", {})
    _check_keys(f"{where}.strategies", strat_table, ALL_STRATEGIES)
    strategies = {
        s: strategy_params(s, strat_table.get(s, {}), f"{where}.strategies.{s}")
        for s in ALL_STRATEGIES if applicable(problem, s)
    }
    budget = build(Budget, table.get("budget", {}), f"{where}.budget")
    budget.check(f"{where}.budget")
    ablation = build(Ablation, table.get("ablation", {}), f"{where}.ablation")
    ablation.check(f"{where}.ablation")
    search = _coerce(table.get("grid_search", "full"), str, f"{where}.grid_search")
    if search not in GRID_SEARCHES:
        raise ConfigError(f"{where}.grid_search = {search!r} is not valid; valid: {', '.join(GRID_SEARCHES)}")
    halving = {}
    for key, default, minimum in (("halving_eta", 3, 2), ("halving_rungs", 4, 1)):
        halving[key] = _coerce(table.get(key, default), int, f"{where}.{key}")
        _positive(f"{where}.{key}", halving[key], minimum)
    precision = _coerce(table.get("precision", "float32"), str, f"{where}.precision")
    if precision not in PRECISIONS:
        raise ConfigError(f"{where}.precision = {precision!r} is not valid; valid: {', '.join(PRECISIONS)}")
    floats = {}
    for key, default, low, high in (("rope_accuracy", 0.01, 0.0, 1.0), ("rope_relative", 0.05, 0.0, 1.0),
                                    ("equivalence_level", 0.95, 0.5, 1.0)):
        floats[key] = _coerce(table.get(key, default), float, f"{where}.{key}")
        if not low < floats[key] < high:
            raise ConfigError(f"{where}.{key} = {floats[key]!r} must lie in the open interval ({low}, {high})")
    return ProblemSettings(profile=profile, problem=problem, task=TASKS[problem], subsample=subsample, **floats,
                           grid=grid, seeds=seeds, strategies=strategies, budget=budget, ablation=ablation,
                           grid_search=search,
                           precision=precision, **halving, **ints)


def _resolve_profile(name: str, raw: Mapping[str, Any], defaults: Mapping[str, Any]) -> Profile:
    _check_keys(name, raw, _PROFILE_KEYS)
    table = _merge(defaults, raw)
    description = _coerce(table.get("description", ""), str, f"{name}.description")
    seeds = build(Seeds, table.get("seeds", {}), f"{name}.seeds")
    problems = table.get("problems", {})
    _check_keys(f"{name}.problems", problems, PROBLEMS)
    shared = {k: table[k] for k in _SHARED_KEYS if k in table}
    settings = {}
    for problem in PROBLEMS:
        settings[problem] = _resolve_problem(name, problem, _merge(shared, problems.get(problem, {})), seeds)
    return Profile(name=name, description=description, settings=settings)


def load_profiles(path: str | Path | None = None) -> dict[str, Profile]:
    """Every profile of ``profiles.toml`` (or of ``path``), validated."""
    path = Path(path) if path is not None else PROFILES_PATH
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_profiles(raw, path.name)


def parse_profiles(raw: Mapping[str, Any], source: str = "profiles.toml") -> dict[str, Profile]:
    """Every profile of an already parsed profiles table (see :func:`load_profiles`)."""
    try:
        _check_keys(source, raw, ("defaults",) + PROFILES)
        missing = [p for p in PROFILES if p not in raw]
        if missing:
            raise ConfigError(f"profile {missing[0]!r} is missing; every one of {', '.join(PROFILES)} must be defined")
        defaults = raw.get("defaults", {})
        _check_keys("defaults", defaults, _PROFILE_KEYS)
        return {p: _resolve_profile(p, raw[p], defaults) for p in PROFILES}
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def load_profile(name: str, path: str | Path | None = None) -> Profile:
    """One validated profile by name."""
    check_profile(name)
    return load_profiles(path)[name]


# ---------------------------------------------------------------------------
# The code version of the engine


def _module_files(module: str) -> list[Path]:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return []
    origin = Path(spec.origin)
    if spec.submodule_search_locations:  # a package: every .py file under it
        return sorted(origin.parent.rglob("*.py"))
    return [origin]


@functools.lru_cache(maxsize=None)
def engine_version(modules: tuple[str, ...] = ENGINE_MODULES) -> str:
    """A hash of the source of the modules that determine a result (first 16 hex digits)."""
    digest = hashlib.sha256()
    for module in modules:
        for path in _module_files(module):
            digest.update(f"{module}:{path.name}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------------------
# Execution settings (CLI, Makefile, Python API)


@dataclass(frozen=True)
class Execution:
    """Where shards run: ``local`` process pool or a ``dask`` cluster, on ``cpu`` or ``cuda``."""

    executor: str = "local"
    scheduler: str | None = None  # dask: address tcp://host:port or a scheduler JSON file; none: a LocalCluster
    device: str = "cpu"
    workers: int | None = None  # local pool size; none: the machine's cores (1 on cuda)
    progress: bool = True

    def __post_init__(self):
        check_choice("executor", self.executor, EXECUTORS)
        check_choice("device", self.device, DEVICES)
        if self.workers is not None:
            if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
                raise ConfigError(f"workers = {self.workers!r} must be an integer >= 1")
        if self.scheduler is not None and self.executor != "dask":
            raise ConfigError(f"scheduler {self.scheduler!r} given with executor {self.executor!r}; "
                              "a scheduler needs executor 'dask'")

    def check_device(self) -> None:
        """Fail early when ``cuda`` is asked for and no GPU is visible."""
        if self.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise ConfigError("device 'cuda' is not available on this machine (torch.cuda.is_available() "
                                  "is False); valid here: cpu")


def execution(executor: str = "local", scheduler: str | None = None, device: str = "cpu",
              workers: int | str | None = None, progress: bool = True) -> Execution:
    """An :class:`Execution` from loosely typed inputs (empty strings mean unset, as from make)."""
    if isinstance(workers, str):
        workers = workers.strip()
        if workers == "":
            workers = None
        elif workers.isdigit():
            workers = int(workers)
        else:
            raise ConfigError(f"workers = {workers!r} must be an integer >= 1")
    return Execution(executor=executor or "local", scheduler=scheduler or None, device=device or "cpu",
                     workers=workers, progress=progress)


# ---------------------------------------------------------------------------
# Notebook parameters
#
# Each notebook's parameters cell declares exactly the fields of one of these
# classes. ``notebook_params(kind, globals())`` rejects names the notebook
# does not declare (papermill only warns about them) and values outside the
# allowed set, so a misspelt ``-p`` stops the notebook with one clear line.


@dataclass(frozen=True)
class ProblemNotebook:
    profile: str | None  # None: the newest profile with this problem's grid results (:func:`default_profile`)
    problem: str
    data: str | None  # in: results/<profile>/data/<problem>.json (None: that file)
    grid_table: str | None  # in: results/<profile>/grid/<problem>.parquet (None: that file)
    grid_winner: str | None  # in: results/<profile>/grid/<problem>.json (None: that file)
    heatmap: str | None  # out: figure of the grid search (None: reports/<profile>/figures/grid-<problem>.png)
    budget_curves: str | None  # out: the problem's budget curves (None: reports/<profile>/figures/budget-<problem>.png)
    run_budget: bool  # True: run the problem's budget stage first (missing shards only)

    def __post_init__(self):
        if self.profile is not None:
            check_profile(self.profile)
        check_problem(self.problem)

    def resolved(self, results: str = "results") -> "ProblemNotebook":
        """Every unset parameter filled in (what a notebook opened by hand, without papermill, reads)."""
        q = self.problem
        profile = self.profile or default_profile(
            results, (f"data/{q}.json", f"grid/{q}.parquet", f"grid/{q}.json"), make="make grid")
        r = f"{results}/{profile}"
        return dataclasses.replace(
            self, profile=profile, data=self.data or f"{r}/data/{q}.json",
            grid_table=self.grid_table or f"{r}/grid/{q}.parquet", grid_winner=self.grid_winner or f"{r}/grid/{q}.json",
            heatmap=self.heatmap or f"reports/{profile}/figures/grid-{q}.png",
            budget_curves=self.budget_curves or f"reports/{profile}/figures/budget-{q}.png")


@dataclass(frozen=True)
class StrategyNotebook:
    profile: str | None  # None: the newest profile with this strategy's trials (:func:`default_profile`)
    strategy: str
    results: str | None  # in: results/<profile> (trial frames and diagnostics of every problem the strategy applies to)
    curves: str | None  # out: learning-curve figure (None: reports/<profile>/figures/curves-<strategy>.png)
    subset: str | None  # out: subset-size figure (None: reports/<profile>/figures/subset-<strategy>.png)
    budget_curves: str | None  # out: budget curves against random (None: reports/<profile>/figures/budget-<strategy>.png)

    def __post_init__(self):
        if self.profile is not None:
            check_profile(self.profile)
        check_strategy(self.strategy, STRATEGIES)

    def resolved(self, results: str = "results") -> "StrategyNotebook":
        """Every unset parameter filled in (what a notebook opened by hand, without papermill, reads)."""
        s = self.strategy
        profile = self.profile or _profile_of(self.results) or default_profile(
            results, tuple(f"trials/{q}/{t}.parquet" for q in problems_for(s) for t in dict.fromkeys(("passive", s))),
            make="make trials")
        return dataclasses.replace(
            self, profile=profile, results=self.results or f"{results}/{profile}",
            curves=self.curves or f"reports/{profile}/figures/curves-{s}.png",
            subset=self.subset or f"reports/{profile}/figures/subset-{s}.png",
            budget_curves=self.budget_curves or f"reports/{profile}/figures/budget-{s}.png")


@dataclass(frozen=True)
class AnalysisNotebook:
    profile: str | None  # None: the newest profile with every trial frame (:func:`default_profile`)
    results: str | None  # in: results/<profile>
    generated: str | None  # out: paper/generated/<profile>
    figures: str | None  # out: figures/<profile>

    def __post_init__(self):
        if self.profile is not None:
            check_profile(self.profile)

    def resolved(self, results: str = "results") -> "AnalysisNotebook":
        """Every unset parameter filled in (what a notebook opened by hand, without papermill, reads)."""
        profile = self.profile or _profile_of(self.results) or default_profile(
            results, tuple(f"trials/{q}/{s}.parquet" for q in PROBLEMS for s in strategies_for(q)),
            make="make trials")
        return dataclasses.replace(
            self, profile=profile, results=self.results or f"{results}/{profile}",
            generated=self.generated or f"paper/generated/{profile}", figures=self.figures or f"figures/{profile}")


NOTEBOOKS: dict[str, type] = {
    "problem": ProblemNotebook,
    "strategy": StrategyNotebook,
    "analysis": AnalysisNotebook,
}

# Names IPython itself puts in a kernel's namespace.
_KERNEL_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython", "open"})
_PARAM_TYPES = (str, int, float, bool, list, tuple, dict, type(None))


def notebook_params(kind: str, namespace: Mapping[str, Any]) -> Any:
    """The validated parameters of notebook ``kind`` from its namespace (pass ``globals()``).

    Call it in the cell after the ``parameters`` cell, before any other
    assignment: every public variable of a plain type (a parameter papermill
    injected, or one the parameters cell declares) must be a field of the
    notebook's class, and every value must be valid. Parameters left unset
    (``None``: a notebook opened by hand) are filled in by the class's
    ``resolved()``: the profile is then the newest with results
    (:func:`default_profile`), the paths that profile's usual files.
    """
    cls = NOTEBOOKS[check_choice("notebook", kind, tuple(NOTEBOOKS))]
    values = {
        k: v for k, v in namespace.items()
        if not k.startswith("_") and k not in _KERNEL_NAMES and isinstance(v, _PARAM_TYPES)
    }
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(k for k in values if k not in names)
    if unknown:
        raise ConfigError(f"notebook {kind}.ipynb has no parameter {unknown[0]!r}; valid: {', '.join(names)}")
    return build(cls, values, f"{kind}.ipynb parameter").resolved()


def write_if_changed(path: str | Path, data: Any) -> bool:
    """Write ``data`` as JSON unless the file already holds exactly it (keeps make's timestamps)."""
    path = Path(path)
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True


__all__ = [
    "PROFILES", "STRATEGIES", "PROBLEMS", "EXECUTORS", "DEVICES", "ConfigError", "Profile",
    "ProblemSettings", "Grid", "Seeds", "Budget", "SaslaParams", "QueryParams", "SensitivityParams",
    "PassiveParams", "Execution", "BUDGET_STRATEGIES", "STARTS",
    "load_profile", "load_profiles", "strategy_params", "params_dict", "applicable", "strategies_for",
    "problems_for", "check_pair", "engine_version", "execution", "notebook_params",
]


# ---------------------------------------------------------------------------
# The profile a notebook opened by hand reads


def _profile_of(results: str | None) -> str | None:
    """The profile a results folder ``.../<profile>`` belongs to, if its name is one."""
    return Path(results).name if results and Path(results).name in PROFILES else None


def _newest_mtime(root: Path) -> float:
    """The latest modification time of ``root`` or of anything below it (results are written by rename,
    so a folder's time moves with every file written into it)."""
    newest = root.stat().st_mtime
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            try:
                newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime)
            except FileNotFoundError:  # removed meanwhile (a temporary file)
                pass
    return newest


def default_profile(results: str | Path = "results", need: tuple[str, ...] = (), make: str = "make paper") -> str:
    """The profile whose results folder (``results/<profile>``) was modified most recently, among those that exist
    and hold every path of ``need`` (relative to the profile's folder).

    What a notebook opened by hand reads (its ``profile = None``). With none, a
    :class:`FileNotFoundError` whose one line names ``make``, the command that
    produces what is needed.
    """
    root = Path(results)
    found = {p: _newest_mtime(root / p) for p in PROFILES
             if (root / p).is_dir() and all((root / p / n).exists() for n in need)}
    if not found:
        what = f"holds {need[0]}{' etc.' if len(need) > 1 else ''}" if need else "exists"
        raise FileNotFoundError(f"no results under {root}/: none of {', '.join(PROFILES)} {what}; run `{make}` "
                                f"(PROFILE=quick by default) to produce them, or set profile in the parameters cell")
    return max(found, key=found.get)
