r"""The paper's generated layer: LaTeX tables, values, sentences and figures.

:func:`build` turns the results of one profile into every file that
``paper/main.tex`` reads, so that no number of the paper is typed by hand.
It writes, each file atomically (temporary name, then ``os.replace``):

into ``generated_dir`` (``paper/generated/<profile>/``)

==================  =========================================================
``profile.tex``     ``\alnnset{profile/...}``: the settings of the profile
``numbers.tex``     ``\alnnset{<key>}``: every number quoted in the prose
``findings.tex``    ``\alnnset{text/...}``: sentences whose wording depends on
                    the numbers ("significantly better", "below", ...)
``profile-table.tex`` table: the problems (patterns, inputs, outputs, pool) and
                    the profile's settings per problem
``gridsearch.tex``  table: the grid-search winners
``sanity.tex``      table: passive learning beside published references
``comparison.tex``  table: final metrics of every strategy (best in bold,
                    significance against passive marked)
``stats-within.tex`` table: corrected t-tests against passive per problem
``convergence.tex`` table: convergence rate, epochs, presentations, labels,
                    AULC and selection overhead
``stats-across.tex`` table: average ranks, Friedman / Iman-Davenport, Holm
``*.csv``           the analysis tables behind them (summary, within,
                    convergence, aulc, across)
==================  =========================================================

into ``figures_dir`` (``figures/<profile>/``), each as PDF and PNG:
``learning-curves-epochs``, ``learning-curves-presentations``,
``subset-size``, ``labels-to-target``, ``grid-heatmaps``,
``cd-classification``, ``cd-regression``, ``sasla-at-work``.

The values use ``\alnnset{key}{value}`` (defined in ``main.tex``), read with
``\gen{key}``; an undefined key prints a bold "??" and a LaTeX warning, which
:func:`compile_paper` turns into an error.

Literature reference points and the draft's claims come from
``references.toml`` beside this module. :func:`compile_paper` runs latexmk
with the generated folders on ``TEXINPUTS``; ``python -m alnn.report compile``
does the same from the command line.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import math
import os
import re
import shutil
import subprocess
import sys
import tomllib
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alnn import analysis as an
from alnn import stats as st
from alnn.datasets import NAMES as PROBLEMS
from alnn.datasets import TASKS

__all__ = [
    "FIGURES", "GENERATED", "PROBLEM_LABELS", "STRATEGY_LABELS", "REFERENCES_PATH",
    "build", "compile_paper", "latex_env", "load_references", "LatexError",
]

#: Names of the figures (without extension) that main.tex includes.
FIGURES = ("learning-curves-epochs", "learning-curves-presentations", "subset-size",
           "labels-to-target", "grid-heatmaps", "cd-classification", "cd-regression",
           "sasla-at-work")
#: Generated LaTeX files that main.tex inputs.
GENERATED = ("profile.tex", "numbers.tex", "findings.tex", "profile-table.tex",
             "gridsearch.tex", "sanity.tex", "comparison.tex", "stats-within.tex",
             "convergence.tex", "stats-across.tex")

REFERENCES_PATH = Path(__file__).with_name("references.toml")

STRATEGIES = an.STRATEGY_ORDER
PROBLEM_LABELS = {"iris": "Iris", "wine": "Wine", "fashion-mnist": "Fashion-MNIST",
                  "sine": "Sine", "california-housing": "California Housing",
                  "energy-efficiency": "Energy Efficiency"}
PROBLEM_SHORT = {"iris": "Iris", "wine": "Wine", "fashion-mnist": "F-MNIST", "sine": "Sine",
                 "california-housing": "Housing", "energy-efficiency": "Energy"}
STRATEGY_LABELS = {"passive": "Passive", "sasla": "SASLA", "entropy": "Entropy",
                   "ensemble": "Ensemble", "random": "Random"}
#: How the prose names each strategy.
STRATEGY_PROSE = {"passive": "passive learning", "sasla": "SASLA", "entropy": "entropy sampling",
                  "ensemble": "the committee", "random": "random sampling"}
TASK_PROSE = {"classification": "classification", "regression": "function approximation"}

#: Inputs I (after one-hot encoding) and outputs K of every problem (SPEC section 1);
#: tests/test_report.py checks them against alnn.datasets.
DATASET_FACTS = {
    "iris": {"inputs": 4, "outputs": 3},
    "wine": {"inputs": 13, "outputs": 3},
    "fashion-mnist": {"inputs": 784, "outputs": 10},
    "sine": {"inputs": 1, "outputs": 1},
    "california-housing": {"inputs": 13, "outputs": 1},
    "energy-efficiency": {"inputs": 8, "outputs": 2},
}

#: Rows of the comparison table per task: (metric, label, percent?).
TABLE_METRICS = {
    "classification": (("accuracy", "Accuracy (\\%)", True), ("f1", "Macro F1 (\\%)", True),
                       ("mcc", "MCC", False)),
    "regression": (("mse", "MSE", False), ("rmse", "RMSE", False), ("mae", "MAE", False),
                   ("r2", "$R^2$", False)),
}
METRIC_PROSE = {"accuracy": "accuracy", "f1": "macro F1", "mcc": "MCC", "mse": "MSE",
                "rmse": "RMSE", "mae": "MAE", "r2": "$R^2$"}

ALPHA = 0.05


# =========================================================================== formatting
def _finite(x) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _thousands(s: str) -> str:
    """Group the integer part of a plain number string in threes with {,}."""
    sign, s = ("-", s[1:]) if s.startswith("-") else ("", s)
    whole, _, frac = s.partition(".")
    if len(whole) > 4:
        groups = []
        while whole:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        whole = "{,}".join(groups)
    return sign + whole + ("." + frac if frac else "")


def _minus(s: str) -> str:
    return "$-$" + s[1:] if s.startswith("-") else s


def decimals_for(values: Iterable[float], sig: int = 3, most: int = 4) -> int:
    """Decimals that show ``sig`` significant digits of the largest |value|."""
    vals = [abs(float(v)) for v in values if _finite(v) and float(v) != 0]
    if not vals:
        return 2
    top = max(vals)
    return int(min(most, max(0, sig - 1 - math.floor(math.log10(top)))))


def num(x, decimals: int | None = None, *, sig: int = 3) -> str:
    """A number for LaTeX text: fixed decimals (or ``sig`` significant digits), thousands grouped."""
    if not _finite(x):
        return "\\na"
    x = float(x)
    d = decimals_for([x], sig) if decimals is None else decimals
    s = f"{x:.{d}f}"
    if s.lstrip("-").strip("0.") == "" and s.startswith("-"):
        s = s[1:]
    return _minus(_thousands(s))


def sci(x, digits: int = 2) -> str:
    """Scientific notation for LaTeX text, e.g. ``7.40$\\times$10$^{5}$``."""
    if not _finite(x):
        return "\\na"
    mant, exp = f"{float(x):.{digits}e}".split("e")
    return f"{_minus(mant)}$\\times$10$^{{{int(exp)}}}$"


def pct(x, decimals: int = 1, *, sign: bool = False) -> str:
    """A share as a percentage, e.g. ``0.953`` -> ``95.3\\%``."""
    if not _finite(x):
        return "\\na"
    s = f"{100 * float(x):{'+' if sign else ''}.{decimals}f}"
    return _minus(s) + "\\%"


def pnum(x, decimals: int = 1, *, sign: bool = False) -> str:
    """A share in percent without the sign, e.g. ``0.953`` -> ``95.3``."""
    if not _finite(x):
        return "\\na"
    return _minus(f"{100 * float(x):{'+' if sign else ''}.{decimals}f}")


def p_is(p) -> str:
    """``$p=0.123$`` or ``$p<0.001$``."""
    if not _finite(p):
        return "$p$ undefined"
    return "$p<0.001$" if float(p) < 0.001 else f"$p={float(p):.3f}$"


def pval(p) -> str:
    """A p-value: three decimals, or ``<0.001``."""
    if not _finite(p):
        return "\\na"
    p = float(p)
    return "$<$0.001" if p < 0.001 else f"{p:.3f}"


def count(x) -> str:
    """A count of patterns or presentations: grouped integer, or k / M for large ones."""
    if not _finite(x):
        return "\\na"
    x = float(x)
    if abs(x) >= 1e6:
        return f"{x / 1e6:.{1 if abs(x) < 1e8 else 0}f}M"
    if abs(x) >= 1e4:
        return f"{x / 1e3:.{1 if abs(x) < 1e5 else 0}f}k"
    return _thousands(f"{x:.0f}")


def gnum(x) -> str:
    """A parameter value as given (0.5, 0.001, 512)."""
    if not _finite(x):
        return "\\na"
    x = float(x)
    if x == int(x) and abs(x) < 1e6:
        return _thousands(str(int(x)))
    return _minus(f"{x:g}")


def join(items: Sequence[str], last: str = "and") -> str:
    items = list(items)
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


_WORDS = {0: "no", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six",
          7: "seven", 8: "eight", 9: "nine", 10: "ten"}


def words(n: int, zero: str = "no") -> str:
    """A small count in words ("three"); ``zero`` for 0 ("no" or "none")."""
    return zero if int(n) == 0 else _WORDS.get(int(n), str(int(n)))


def capital(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def _escape(s: str) -> str:
    return (str(s).replace("\\", "\\textbackslash{}").replace("&", "\\&").replace("%", "\\%")
            .replace("_", "\\_").replace("#", "\\#").replace("$", "\\$"))


def _key_ok(key: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9/\-.]+", key):
        raise ValueError(f"bad value key {key!r}")
    return key


# =========================================================================== files
def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _csv_atomic(path: Path, frame: pd.DataFrame) -> Path:
    return write_atomic(path, frame.to_csv(index=False))


@dataclass
class Values:
    """Key -> LaTeX string, written as ``\\alnnset{key}{value}`` lines."""
    items: dict[str, str] = field(default_factory=dict)

    def __setitem__(self, key: str, value: str) -> None:
        self.items[_key_ok(key)] = str(value)

    def __getitem__(self, key: str) -> str:
        return self.items[key]

    def __contains__(self, key: str) -> bool:
        return key in self.items

    def tex(self, header: str) -> str:
        lines = [f"% {header}", "% Generated by alnn.report.build: do not edit."]
        for k in sorted(self.items):
            v = self.items[k].replace("\n", " ")
            lines.append(f"\\alnnset{{{k}}}{{{v}}}")
        return "\n".join(lines) + "\n"


# =========================================================================== references
def load_references(path: str | Path | None = None) -> dict[str, Any]:
    """The literature reference points and draft claims of ``references.toml``."""
    with open(path or REFERENCES_PATH, "rb") as fh:
        return tomllib.load(fh)


def _sine_noise() -> float:
    from alnn import datasets

    return float(datasets.SINE_NOISE)


def _reference_points(refs: Mapping[str, Any], problem: str) -> list[dict[str, Any]]:
    """Points of one problem with derived values filled in."""
    out = []
    for point in refs.get(problem, []) or []:
        p = dict(point)
        if p.get("derived") == "noise":
            p["value"] = _sine_noise()
        elif p.get("derived") == "noise-r2":
            s2 = _sine_noise() ** 2
            p["value"] = 1 - s2 / (0.5 + s2)
        out.append(p)
    return out


# =========================================================================== context
def _plain_profile(profile) -> dict[str, Any]:
    """The profile as a plain dict, copied (the caller's is never changed)."""
    if hasattr(profile, "to_dict"):
        profile = profile.to_dict()
    return copy.deepcopy(dict(profile or {}))


@dataclass
class Context:
    """Everything the writers need, computed once from the inputs of :func:`build`."""

    trials: pd.DataFrame
    grids: dict[str, pd.DataFrame]
    winners: dict[str, dict]
    profile: dict[str, Any]
    data: dict[str, dict]
    refs: dict[str, Any]
    problems: list[str]
    finals: pd.DataFrame = None
    summary: pd.DataFrame = None
    targets: pd.DataFrame = None
    conv: pd.DataFrame = None
    conv_summary: pd.DataFrame = None
    aulc: pd.DataFrame = None
    aulc_summary: pd.DataFrame = None
    within: pd.DataFrame = None
    across: dict[str, dict] = None
    pools: dict[str, dict] = None
    window: int = 5
    fraction: float = 0.95

    # ---------------------------------------------------------------- access
    def task(self, problem: str) -> str:
        return TASKS[problem]

    def problems_of(self, task: str) -> list[str]:
        return [p for p in self.problems if TASKS[p] == task]

    def strategies(self, problem: str | None = None) -> list[str]:
        sub = self.trials if problem is None else self.trials[self.trials["dataset"] == problem]
        present = set(sub["strategy"])
        return [s for s in STRATEGIES if s in present]

    def settings(self, problem: str) -> dict[str, Any]:
        return (self.profile.get("problems") or {}).get(problem, {})

    def stat(self, problem: str, strategy: str, metric: str, what: str = "mean") -> float:
        s = self.summary
        row = s[(s["dataset"] == problem) & (s["strategy"] == strategy) & (s["metric"] == metric)]
        return float(row[what].iloc[0]) if len(row) and _finite(row[what].iloc[0]) else float("nan")

    def test(self, problem: str, strategy: str, metric: str, baseline: str = "passive"):
        w = self.within
        row = w[(w["dataset"] == problem) & (w["strategy"] == strategy) & (w["metric"] == metric)
                & (w["baseline"] == baseline)]
        return None if row.empty else row.iloc[0]

    def conv_row(self, problem: str, strategy: str):
        c = self.conv_summary
        row = c[(c["dataset"] == problem) & (c["strategy"] == strategy)]
        return None if row.empty else row.iloc[0]

    def primary(self, problem: str) -> str:
        return an.PRIMARY_METRIC[TASKS[problem]]


def _default(func, name):
    return inspect.signature(func).parameters[name].default


def _pools(trials: pd.DataFrame) -> dict[str, dict]:
    """Training-pool sizes per problem from passive's (or any full-pool strategy's) first epoch.

    ``n`` is the number of patterns: every pattern is in exactly one
    validation part per trial, so the K training pools of a trial sum to
    (K - 1) n.
    """
    out = {}
    for ds, sub in trials.groupby("dataset", sort=False):
        full = sub[sub["strategy"].isin(["passive", "sasla"])]
        if full.empty:
            continue
        first = full[full["epoch"] == full["epoch"].min()]
        per = first.groupby(["trial", "fold"])["subset_size"].max()
        k = sub["fold"].nunique()
        t0 = per.index.get_level_values("trial").min()
        n = per.loc[t0].sum() / (k - 1) if k > 1 else float("nan")
        out[ds] = {"pool_mean": float(per.mean()), "pool_min": int(per.min()),
                   "pool_max": int(per.max()), "n": int(round(n)) if _finite(n) else None,
                   "folds": int(k)}
    return out


def _across(fin: pd.DataFrame, problems: Sequence[str], alpha: float) -> dict[str, Any]:
    """Friedman / Iman-Davenport, Holm against passive and CD for one task's problems."""
    out: dict[str, Any] = {"ok": False, "n": len(problems)}
    if len(problems) < 2:
        return out
    sub = fin[fin["dataset"].isin(problems)]
    try:
        scores = st.score_matrix(sub)
    except (ValueError, KeyError):
        return out
    metric = scores.attrs.get("metric")
    if scores.shape[1] < 2 or scores.shape[0] < 2:
        return out
    hib = an.higher_is_better(metric)
    fr = st.friedman_iman_davenport(scores, higher_is_better=hib)
    post = (st.holm_vs_control(fr.avg_ranks, fr.n, alpha=alpha)
            if "passive" in fr.avg_ranks.index else pd.DataFrame())
    cd = st.critical_difference(fr.k, fr.n, alpha)
    out.update(ok=True, metric=metric, scores=scores, friedman=fr, post=post, cd=cd,
               limits=st.power_limits(fr.k, fr.n, alpha))
    return out


def _context(*, grids, winners, trials, profile, data, references) -> Context:
    trials = trials.copy()
    trials["dataset"] = trials["dataset"].astype(str)
    trials["strategy"] = trials["strategy"].astype(str)
    present = set(trials["dataset"])
    problems = [p for p in PROBLEMS if p in present]
    refs = load_references() if references is None else references
    ctx = Context(trials=trials, grids={k: v for k, v in (grids or {}).items()},
                  winners={k: dict(v) for k, v in (winners or {}).items()},
                  profile=_plain_profile(profile), data=dict(data or {}), refs=refs,
                  problems=problems)
    ctx.window = _default(an.convergence, "window")
    ctx.fraction = _default(an.convergence_targets, "fraction")
    ctx.finals = an.finals(trials)
    ctx.summary = an.summary(trials)
    ctx.targets = an.convergence_targets(trials)
    ctx.conv = an.convergence(trials, ctx.targets, window=ctx.window)
    ctx.conv_summary = an.convergence_summary(ctx.conv)
    ctx.aulc = an.aulc(trials)
    ctx.aulc_summary = an.aulc_summary(ctx.aulc)
    within = []
    for task, rows in TABLE_METRICS.items():
        probs = ctx.problems_of(task)
        if not probs:
            continue
        sub = ctx.finals[ctx.finals["dataset"].isin(probs)]
        for metric, _, _ in rows:
            if metric in sub.columns and sub[metric].notna().any():
                within.append(st.compare_within_problem(sub, metric=metric, alpha=ALPHA))
    ctx.within = (pd.concat(within, ignore_index=True) if within else
                  pd.DataFrame(columns=["dataset", "metric", "strategy", "baseline"]))
    ctx.across = {task: _across(ctx.finals, ctx.problems_of(task), ALPHA)
                  for task in ("classification", "regression")}
    ctx.pools = _pools(trials)
    _reconcile(ctx)
    return ctx


def _reconcile(ctx: Context) -> None:
    """Make the printed profile match the results: trials, folds and epochs are taken from the
    trial frame, and a difference from the profile passed in is reported as a warning (it means
    that the results are stale or come from another profile)."""
    problems = ctx.profile.setdefault("problems", {})
    for p in ctx.problems:
        sub = ctx.trials[ctx.trials["dataset"] == p]
        actual = {"trials": int(sub["trial"].nunique()), "folds": int(sub["fold"].nunique()),
                  "epochs": int(sub["epoch"].max())}
        settings = dict(problems.get(p) or {})
        stated = {k: settings.get(k) for k in actual}
        if settings and stated != actual:
            warnings.warn(f"{p}: the profile says {stated} but the results have {actual}; the paper "
                          f"prints the results' values", stacklevel=3)
        settings.update(actual)
        problems[p] = settings


# =========================================================================== profile
def _settings_rows(ctx: Context) -> list[tuple[str, dict]]:
    return [(p, ctx.settings(p)) for p in PROBLEMS if ctx.settings(p) or p in ctx.problems]


def _grid_size(grid: Mapping[str, Sequence]) -> int:
    axes = [grid.get(a) or [] for a in ("hidden", "lr", "weight_decay", "momentum")]
    return int(np.prod([len(a) for a in axes])) if all(axes) else 0


def _group_by_value(mapping: Mapping[str, Any]) -> list[tuple[Any, list[str]]]:
    groups: dict[Any, list[str]] = {}
    for p, v in mapping.items():
        groups.setdefault(v, []).append(p)
    return list(groups.items())


def _labels(problems: Iterable[str]) -> str:
    return join([PROBLEM_LABELS.get(p, p) for p in problems])


def _on(ctx: "Context", problems: Iterable[str]) -> str:
    """``on every problem`` / ``on every classification problem`` / ``on Iris and Wine``."""
    ps = list(dict.fromkeys(problems))
    if len(ps) > 1 and set(ps) == set(ctx.problems):
        return "on every problem"
    for task in ("classification", "regression"):
        task_ps = ctx.problems_of(task)
        if len(ps) > 1 and set(ps) == set(task_ps):
            return f"on every {TASK_PROSE[task]} problem"
    return "on " + _labels(ps)


def _query_params(settings: Mapping[str, Any]) -> dict[str, Any]:
    strategies = settings.get("strategies") or {}
    for s in ("entropy", "random", "ensemble"):
        if s in strategies:
            return strategies[s] or {}
    return {}


def _initial_rule() -> tuple[str, str]:
    """The default initial labelled set as (fraction of the pool, maximum)."""
    try:
        from alnn.entropy import initial_sizes

        cap = int(initial_sizes(np.array([10 ** 6]), None)[0])
        frac = float(initial_sizes(np.array([50]), None)[0]) / 50
        return pct(frac, 0), str(cap)
    except Exception:  # pragma: no cover - engine absent
        return "10\\%", "10"


def _members() -> str:
    try:
        from alnn.ensemble import MEMBERS

        return str(int(MEMBERS))
    except Exception:  # pragma: no cover - engine absent
        return "3"


def profile_values(ctx: Context) -> Values:
    v = Values()
    prof = ctx.profile
    name = str(prof.get("name", "unnamed"))
    v["profile/name"] = f"\\texttt{{{_escape(name)}}}"
    v["profile/description"] = _escape(prof.get("description", "")) or "no description"
    rows = _settings_rows(ctx)
    sasla = {}
    for _, s in rows:
        sasla = (s.get("strategies") or {}).get("sasla") or sasla
        if sasla:
            break
    beta = float(sasla.get("beta", np.nan)) if sasla else float("nan")
    v["profile/sasla-beta"] = gnum(beta)
    v["profile/sasla-threshold"] = gnum(round(1 - beta, 10)) if _finite(beta) else "\\na"
    v["profile/sasla-norm"] = {"sum": "sum", "euclidean": "Euclidean"}.get(sasla.get("norm"), "\\na")
    v["profile/sasla-tau"] = gnum(sasla.get("tau", np.nan))
    q = {}
    for _, s in rows:
        q = _query_params(s) or q
        if q:
            break
    v["profile/query-tau"] = gnum(q.get("tau", np.nan))
    frac, cap = _initial_rule()
    v["profile/initial-fraction"] = frac
    v["profile/initial-max"] = cap
    v["profile/ensemble-members"] = _members()
    v["profile/target-percent"] = pct(ctx.fraction, 0)
    v["profile/target-fraction"] = gnum(ctx.fraction)
    v["profile/window"] = str(ctx.window)
    seeds = (rows[0][1].get("seeds") if rows else None) or {}
    v["profile/seed"] = gnum(seeds.get("trials", np.nan))
    return v


def profile_table(ctx: Context) -> str:
    """The problems (patterns, inputs, outputs, training pool) and the profile's settings per problem."""
    lines = ["% Generated by alnn.report.build: do not edit.",
             "\\footnotesize\\setlength{\\tabcolsep}{4.5pt}",
             "\\begin{tabular}{llrrrrrrrrrr}", "\\toprule",
             " & & \\multicolumn{4}{c}{Data} & \\multicolumn{6}{c}{Settings of the profile} \\\\",
             "\\cmidrule(lr){3-6}\\cmidrule(lr){7-12}",
             "Problem & Task & $N$ & $I$ & Outputs & Pool & $|B|$ & Trials & Folds & Epochs & Grid & $q$ \\\\",
             "\\midrule"]
    for p in PROBLEMS:
        s = ctx.settings(p)
        info = ctx.data.get(p, {})
        facts = DATASET_FACTS[p]
        pool = ctx.pools.get(p, {})
        n = info.get("n_samples") or pool.get("n") or s.get("subsample")
        pool_txt = ("\\na" if not pool else count(pool["pool_min"]) if pool["pool_min"] == pool["pool_max"]
                    else f"{count(pool['pool_min'])}--{count(pool['pool_max'])}")
        grid = s.get("grid") or {}
        gsize = _grid_size(grid)
        gtxt = (f"{gsize}$\\times${s.get('grid_folds', '?')}$\\times${s.get('grid_epochs', '?')}"
                if gsize else "\\na")
        qp = _query_params(s)
        lines.append(" & ".join([
            PROBLEM_LABELS[p], "classification" if TASKS[p] == "classification" else "regression",
            count(n) if n else "\\na", gnum(info.get("n_features", facts["inputs"])),
            gnum(info.get("n_outputs", facts["outputs"])), pool_txt,
            gnum(s.get("batch_size", np.nan)), gnum(s.get("trials", np.nan)), gnum(s.get("folds", np.nan)),
            gnum(s.get("epochs", np.nan)), gtxt,
            gnum(qp.get("query_size", np.nan)) if qp else "\\na"]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}\\\\[3pt]",
              "\\parbox{0.9\\textwidth}{\\scriptsize $N$: patterns used (a stratified subsample where the "
              "profile asks for one); $I$: inputs after encoding; Pool: training patterns per fold; "
              "$|B|$: mini-batch size; Grid: configurations $\\times$ folds $\\times$ epochs of the grid "
              "search; $q$: patterns labelled per query by the incremental strategies.}"]
    return "\n".join(lines) + "\n"


# =========================================================================== grid search
def _grid_per_config(grid: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration (mean val_loss over folds, diverged if any fold diverged)."""
    keys = [k for k in ("hidden", "lr", "weight_decay", "momentum") if k in grid.columns]
    g = grid.copy()
    g["diverged"] = (g["diverged"].astype(bool) if "diverged" in g.columns else False)
    g["diverged"] |= ~np.isfinite(g["val_loss"].astype(float))
    if "fold" in g.columns:
        g = g.groupby(keys, sort=False).agg(val_loss=("val_loss", "mean"),
                                             diverged=("diverged", "any")).reset_index()
    return g


def grid_table(ctx: Context) -> str:
    lines = ["% Generated by alnn.report.build: do not edit.",
             "\\footnotesize\\setlength{\\tabcolsep}{3.5pt}",
             "\\begin{tabular}{lrrrrrrr}", "\\toprule",
             "Problem & $J$ & $\\eta$ & $\\lambda$ & $\\alpha$ & $|B|$ & MSE & Div. \\\\",
             "\\midrule"]
    for p in PROBLEMS:
        w = ctx.winners.get(p)
        if not w:
            continue
        grid = ctx.grids.get(p)
        if grid is not None and len(grid):
            per = _grid_per_config(grid)
            div = f"{int(per['diverged'].sum())}/{len(per)}"
        else:
            div = "\\na"
        lines.append(" & ".join([
            PROBLEM_LABELS[p], gnum(w.get("hidden")), gnum(w.get("lr")), gnum(w.get("weight_decay")),
            gnum(w.get("momentum")), gnum(w.get("batch_size", ctx.settings(p).get("batch_size"))),
            num(w.get("val_loss"), sig=3), div]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


# =========================================================================== comparison
def _cell(ctx: Context, p: str, s: str, metric: str, percent: bool, best: set[str]) -> str:
    """``mean`` (bold if best, marked if significant) ``± sd``; percentages with one decimal,
    other values with three significant digits of their own mean (rows can span magnitudes)."""
    mean, sd = ctx.stat(p, s, metric), ctx.stat(p, s, metric, "std")
    if not _finite(mean):
        return "\\na"
    decimals = 1 if percent else decimals_for([mean], 3)
    if percent:
        f = lambda x: pnum(x, 1)  # noqa: E731
    elif abs(mean) >= 1e5:  # an exploding strategy: keep the cell narrow
        f = sci
    else:
        f = lambda x: num(x, decimals)  # noqa: E731
    text = f(mean)
    if s in best:
        text = f"\\best{{{text}}}"
    mark = ""
    t = ctx.test(p, s, metric) if s != "passive" else None
    if t is not None and bool(t.get("significant", False)):
        mark = "\\sigup" if t["direction"] == "better" else "\\sigdown" if t["direction"] == "worse" else ""
    spread = f"\\,$\\pm$\\,{f(sd)}" if _finite(sd) else ""
    return f"{text}{mark}{spread}"


def _best(ctx: Context, p: str, strategies: Sequence[str], metric: str, percent: bool) -> set[str]:
    """Strategies whose mean is the best of the row; means equal to the displayed precision
    (0.1 point, or three significant digits) tie."""
    means = {s: ctx.stat(p, s, metric) for s in strategies}
    means = {s: m for s, m in means.items() if _finite(m)}
    if not means:
        return set()
    top = (max if an.higher_is_better(metric) else min)(means.values())
    if percent:
        return {s for s, m in means.items() if round(100 * m, 1) == round(100 * top, 1)}
    tol = 0.5 * 10 ** -decimals_for([top], 3)
    return {s for s, m in means.items() if abs(m - top) <= tol}


def comparison_table(ctx: Context) -> str:
    strategies = [s for s in STRATEGIES if s in set(ctx.trials["strategy"])]
    ncol = 2 + len(strategies)
    lines = ["% Generated by alnn.report.build: do not edit.",
             "\\footnotesize\\setlength{\\tabcolsep}{4pt}",
             f"\\begin{{tabular}}{{ll{'c' * len(strategies)}}}", "\\toprule",
             "Problem & Criterion & " + " & ".join(STRATEGY_LABELS[s] for s in strategies) + " \\\\"]
    for task in ("classification", "regression"):
        probs = ctx.problems_of(task)
        if not probs:
            continue
        lines += ["\\midrule", f"\\multicolumn{{{ncol}}}{{l}}{{\\emph{{{capital(TASK_PROSE[task])}}}}} \\\\"]
        for i, p in enumerate(probs):
            rows = [(m, lab, perc) for m, lab, perc in TABLE_METRICS[task]
                    if m in ctx.trials.columns and ctx.trials.loc[ctx.trials["dataset"] == p, m].notna().any()]
            if i:
                lines.append(f"\\cmidrule(l){{2-{ncol}}}")
            for j, (m, lab, perc) in enumerate(rows):
                best = _best(ctx, p, strategies, m, perc)
                head = f"\\multirow{{{len(rows)}}}{{*}}{{{PROBLEM_LABELS[p]}}}" if j == 0 else ""
                cells = [_cell(ctx, p, s, m, perc, best) for s in strategies]
                lines.append(" & ".join([head, lab] + cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


# =========================================================================== stats within
def within_table(ctx: Context) -> str:
    """Corrected resampled t-tests against passive learning on each problem's primary criterion."""
    lines = ["% Generated by alnn.report.build: do not edit.",
             "\\scriptsize\\setlength{\\tabcolsep}{2.5pt}",
             "\\begin{tabular}{@{}>{\\raggedright\\arraybackslash}p{1.25cm}lrcrr@{}}", "\\toprule",
             "Problem & Strategy & $\\Delta$ & " + pct(1 - ALPHA, 0) + " CI & $p_{\\mathrm{Holm}}$ & PS \\\\"]
    for task in ("classification", "regression"):
        probs = ctx.problems_of(task)
        if not probs:
            continue
        metric = an.PRIMARY_METRIC[task]
        unit = " (points)" if metric == "accuracy" else " (original units)"
        lines += ["\\midrule", f"\\multicolumn{{6}}{{@{{}}l}}{{\\emph{{{capital(TASK_PROSE[task])}: "
                                 f"{METRIC_PROSE[metric]}{unit}}}}} \\\\"]
        for i, p in enumerate(probs):
            rows = [(s, ctx.test(p, s, metric)) for s in ctx.strategies(p) if s != "passive"]
            rows = [(s, t) for s, t in rows if t is not None]
            if not rows:
                continue
            if i:
                lines.append("\\cmidrule(l){2-6}")
            scale = 100.0 if metric == "accuracy" else 1.0
            for j, (s, t) in enumerate(rows):
                head = (f"\\multirow{{{len(rows)}}}{{=}}{{{PROBLEM_LABELS[p]}}}" if j == 0 else "")
                width = scale * (float(t["ci_high"]) - float(t["ci_low"])) if _finite(t["ci_low"]) else np.nan
                dec = 1 if metric == "accuracy" else decimals_for([width if _finite(width) and width > 0
                                                                    else t["mean_diff"]], 2)
                fmt = (sci if metric != "accuracy" and _finite(t["mean_diff"]) and
                       max(abs(scale * float(t["mean_diff"])), abs(width) if _finite(width) else 0) >= 1e5
                       else (lambda x: num(x, dec)))
                diff = fmt(scale * t["mean_diff"]) if _finite(t["mean_diff"]) else "\\na"
                ci = (f"[{fmt(scale * t['ci_low'])}, {fmt(scale * t['ci_high'])}]"
                      if _finite(t["ci_low"]) else "\\na")
                ptxt = pval(t["p_holm"])
                if bool(t.get("significant", False)):
                    ptxt = f"\\textbf{{{ptxt}}}"
                lines.append(" & ".join([head, STRATEGY_LABELS[s], diff, ci, ptxt,
                                         num(t["prob_superiority"], 2)]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}\\\\[2pt]",
              "\\parbox{\\linewidth}{\\scriptsize $\\Delta$: mean paired difference, strategy minus "
              "passive; CI: corrected resampled $t$ interval; bold $p$: significant after Holm; PS: "
              "probability that a run of the strategy is better than a run of passive learning.}"]
    return "\n".join(lines) + "\n"


# =========================================================================== convergence
def _conv_value(ctx: Context, p: str, s: str, what: str):
    if what == "aulc":
        a = ctx.aulc_summary
        row = a[(a["dataset"] == p) & (a["strategy"] == s)]
        return float(row["mean"].iloc[0]) if len(row) and _finite(row["mean"].iloc[0]) else float("nan")
    if what == "scored":
        sub = ctx.trials[(ctx.trials["dataset"] == p) & (ctx.trials["strategy"] == s)]
        if sub.empty or "scored" not in sub.columns:
            return float("nan")
        return float(sub.groupby(["trial", "fold"])["scored"].max().mean())  # cumulative count
    r = ctx.conv_row(p, s)
    if r is None:
        return float("nan")
    key = {"rate": "rate", "epochs": "epochs_median", "presentations": "presentations_median",
           "labels": "labels_used_median"}[what]
    return float(r[key]) if key in r.index and _finite(r[key]) else float("nan")


def _fmt_conv(ctx: Context, p: str, what: str, x: float, decimals: int | None = None) -> str:
    if not _finite(x):
        return "\\na"
    if what == "rate":
        return pnum(x, 0)
    if what == "epochs":
        return num(x, 0 if float(x) == int(x) else 1)
    if what in ("presentations", "labels", "scored"):
        return count(x)
    if what == "aulc":
        return pnum(x, 1) if ctx.primary(p) == "accuracy" else num(x, decimals)
    return num(x)


def convergence_table(ctx: Context) -> str:
    probs = ctx.problems
    strategies = ctx.strategies()
    nprob = len(probs)
    ncol = 1 + 2 * nprob
    col = "l" + "r" * nprob + "@{\\hspace{1.4em}}" + "r" * nprob
    header = " & ".join(["Strategy"] + [PROBLEM_SHORT[p] for p in probs] * 2) + " \\\\"
    lines = ["% Generated by alnn.report.build: do not edit.",
             "\\footnotesize\\setlength{\\tabcolsep}{3.2pt}",
             f"\\begin{{tabular}}{{{col}}}", "\\toprule"]

    def block(left: str, right: str, lt: str, rt: str, first: bool = False):
        out = [] if first else ["\\midrule"]
        out.append(f" & \\multicolumn{{{nprob}}}{{c}}{{{lt}}} & \\multicolumn{{{nprob}}}{{c}}{{{rt}}} \\\\")
        out.append(f"\\cmidrule(lr){{2-{1 + nprob}}}\\cmidrule(lr){{{2 + nprob}-{ncol}}}")
        if first:
            out.append(header)
            out.append("\\midrule")
            tgt = []
            for p in probs:
                t = ctx.targets[ctx.targets["dataset"] == p]
                val = float(t["target"].iloc[0]) if len(t) else float("nan")
                tgt.append(pnum(val, 1) if ctx.primary(p) == "accuracy" else num(val, sig=3))
            budget = [gnum(ctx.trials.loc[ctx.trials["dataset"] == p, "epoch"].max()) for p in probs]
            out.append(" & ".join(["\\emph{target}"] + tgt + budget) + " \\\\")
            out.append(f"\\cmidrule(lr){{2-{1 + nprob}}}\\cmidrule(lr){{{2 + nprob}-{ncol}}}")
        decs = {}
        for p in probs:
            vals = [_conv_value(ctx, p, s, "aulc") for s in strategies]
            decs[p] = decimals_for(vals, 3)
        for s in strategies:
            cells = [STRATEGY_LABELS[s]]
            for what in (left, right):
                for p in probs:
                    if s not in ctx.strategies(p):
                        cells.append("\\na")
                        continue
                    x = _conv_value(ctx, p, s, what)
                    cells.append(_fmt_conv(ctx, p, what, x, decs[p]))
            out.append(" & ".join(cells) + " \\\\")
        return out

    lines += block("rate", "epochs", "Convergence rate (\\%)",
                   "Median epochs to target (budget in the first row)", first=True)
    lines += block("presentations", "labels", "Median presentations to target",
                   "Median labels used at target")
    lines += block("aulc", "scored", "AULC (accuracy in \\%, MSE in original units)",
                   "Patterns scored by the selection step per run")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


# =========================================================================== across problems
def across_table(ctx: Context) -> str:
    tasks = [t for t in ("classification", "regression") if ctx.problems_of(t)]
    lines = ["% Generated by alnn.report.build: do not edit.",
             "\\footnotesize\\setlength{\\tabcolsep}{4pt}",
             "\\begin{tabular}{l" + "rr" * len(tasks) + "}", "\\toprule",
             " & " + " & ".join(f"\\multicolumn{{2}}{{c}}{{{capital(TASK_PROSE[t])}}}" for t in tasks)
             + " \\\\",
             "".join(f"\\cmidrule(lr){{{2 + 2 * i}-{3 + 2 * i}}}" for i in range(len(tasks))),
             "Strategy" + " & Rank & $p_{\\mathrm{Holm}}$" * len(tasks) + " \\\\", "\\midrule"]
    for s in STRATEGIES:
        cells = [STRATEGY_LABELS[s]]
        seen = False
        for t in tasks:
            a = ctx.across[t]
            if not a.get("ok") or s not in a["friedman"].avg_ranks.index:
                cells += ["\\na", "\\na"]
                continue
            seen = True
            cells.append(num(a["friedman"].avg_ranks[s], 2))
            post = a["post"]
            row = post[post["strategy"] == s] if len(post) else post
            cells.append("\\na" if s == "passive" or row.empty else
                         (f"\\textbf{{{pval(row['p_holm'].iloc[0])}}}" if bool(row["significant"].iloc[0])
                          else pval(row["p_holm"].iloc[0])))
        if seen:
            lines.append(" & ".join(cells) + " \\\\")
    lines.append("\\midrule")

    def span(values: list[str]) -> str:
        return " & ".join(f"\\multicolumn{{2}}{{c}}{{{v}}}" for v in values)

    rows = [
        ("Problems $N$ / strategies $k$", lambda a: f"{a['friedman'].n} / {a['friedman'].k}"),
        ("Friedman $\\chi^2_F$", lambda a: num(a["friedman"].chi2, 2)),
        ("Iman--Davenport $F_F$",
         lambda a: (f"{num(a['friedman'].f, 2)} ({a['friedman'].df1}, {a['friedman'].df2})"
                    if _finite(a["friedman"].f) else f"$\\infty$ ({a['friedman'].df1}, {a['friedman'].df2})")),
        ("$p$ of $F_F$", lambda a: pval(a["friedman"].p_f)),
        ("Critical difference", lambda a: num(a["cd"], 2)),
    ]
    for label, fn in rows:
        vals = [fn(ctx.across[t]) if ctx.across[t].get("ok") else "\\na" for t in tasks]
        lines.append(label + " & " + span(vals) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


# =========================================================================== sanity table
def _passive_value(ctx: Context, p: str, metric: str) -> tuple[float, float]:
    return ctx.stat(p, "passive", metric), ctx.stat(p, "passive", metric, "std")


def _metric_name(metric: str) -> str:
    base, _, target = metric.partition("_")
    name = {"accuracy": "Accuracy", "rmse": "RMSE", "mae": "MAE", "mse": "MSE", "r2": "$R^2$",
            "f1": "Macro F1", "mcc": "MCC"}.get(base, base)
    if target:
        name += " (" + target.replace("_load", "").replace("_", " ") + ")"
    return name


def _fmt_metric(metric: str, x: float, decimals: int | None = None) -> str:
    if metric.split("_")[0] in ("accuracy", "f1"):
        return pnum(x, 1)
    return num(x, decimals, sig=3)


def sanity_table(ctx: Context) -> str:
    """Passive learning beside the published reference points of ``references.toml``."""
    lines = ["% Generated by alnn.report.build: do not edit.",
             "\\scriptsize\\setlength{\\tabcolsep}{2.5pt}",
             "\\begin{tabularx}{\\linewidth}{@{}>{\\raggedright\\arraybackslash}p{1.25cm}lrr"
             ">{\\raggedright\\arraybackslash}X@{}}",
             "\\toprule", "Problem & Criterion & Passive & Ref. & Reference \\\\", "\\midrule"]
    for p in PROBLEMS:
        points = _reference_points(ctx.refs, p)
        for j, pt in enumerate(points):
            m = pt["metric"]
            mean, sd = _passive_value(ctx, p, m) if p in ctx.problems else (float("nan"),) * 2
            dec = 1 if m.startswith("acc") else decimals_for([mean, pt.get("value", np.nan)], 3)
            ours = _fmt_metric(m, mean, dec)
            if _finite(sd):
                ours += f"\\,$\\pm$\\,{_fmt_metric(m, sd, dec)}"
            if "value" in pt:
                ref = _fmt_metric(m, pt["value"], dec)
            elif "low" in pt:
                ref = f"{_fmt_metric(m, pt['low'], dec)}--{_fmt_metric(m, pt['high'], dec)}"
            else:
                ref = "\\na"
            cite = f"~\\cite{{{pt['bibkey']}}}" if pt.get("bibkey") else ""
            head = PROBLEM_LABELS[p] if j == 0 else ""
            lines.append(" & ".join([head, _metric_name(m), ours, ref, f"{pt['label']}{cite}"]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabularx}"]
    return "\n".join(lines) + "\n"


# =========================================================================== numbers
def number_values(ctx: Context) -> Values:
    v = Values()
    v["stats/alpha"] = gnum(ALPHA)
    v["stats/ci-level"] = pct(1 - ALPHA, 0)
    v["stats/band-level"] = pct(_default(an.learning_curve, "ci"), 0)
    v["data/sine-noise"] = gnum(_sine_noise())
    for task in ("classification", "regression"):
        a = ctx.across[task]
        if a.get("ok"):
            lim = a["limits"]
            v[f"stats/min-p/{task}"] = pval(lim["min_p_friedman"])
            v[f"stats/cd/{task}"] = num(lim["cd"], 2)
        else:
            k = len([s for s in STRATEGIES if task == "classification" or s != "entropy"])
            n = len(ctx.problems_of(task)) or 1
            if n >= 2:
                lim = st.power_limits(k, n, ALPHA)
                v[f"stats/min-p/{task}"] = pval(lim["min_p_friedman"])
                v[f"stats/cd/{task}"] = num(lim["cd"], 2)
            else:
                v[f"stats/min-p/{task}"] = "\\na"
                v[f"stats/cd/{task}"] = "\\na"
    for p in ctx.problems:
        for s in ctx.strategies(p):
            for metric in (m for m, _, _ in TABLE_METRICS[TASKS[p]]):
                mean = ctx.stat(p, s, metric)
                if _finite(mean):
                    v[f"mean/{s}/{p}/{metric}"] = (pct(mean) if metric in ("accuracy", "f1")
                                                   else num(mean, sig=3))
    return v


# =========================================================================== findings
def _sig_sets(ctx: Context, p: str, metric: str, baseline: str = "passive"):
    better, worse, same = [], [], []
    for s in ctx.strategies(p):
        if s == baseline:
            continue
        t = ctx.test(p, s, metric, baseline)
        if t is None or not _finite(t["p"]):
            continue
        if bool(t["significant"]) and t["direction"] == "better":
            better.append(s)
        elif bool(t["significant"]) and t["direction"] == "worse":
            worse.append(s)
        else:
            same.append(s)
    return better, worse, same


def _names(strategies: Sequence[str]) -> str:
    return join([STRATEGY_PROSE[s] for s in strategies])


def _best_strategy(ctx: Context, p: str, metric: str) -> str | None:
    means = {s: ctx.stat(p, s, metric) for s in ctx.strategies(p)}
    means = {s: m for s, m in means.items() if _finite(m)}
    if not means:
        return None
    return (max if an.higher_is_better(metric) else min)(means, key=means.get)


def _problem_comparison(ctx: Context, p: str) -> str:
    """One sentence on the significant differences from passive learning on one problem."""
    metric = ctx.primary(p)
    better, worse, same = _sig_sets(ctx, p, metric)
    label = PROBLEM_LABELS[p]
    crit = METRIC_PROSE[metric]
    if not better and not worse:
        if same:
            return f"On {label}, no strategy differs significantly from passive learning in {crit}."
        return f"On {label}, the runs are too few to test the differences in {crit}."
    clauses = []
    if better:
        clauses.append(f"{_names(better)} {'is' if len(better) == 1 else 'are'} significantly better "
                       f"than passive learning")
    if worse:
        clauses.append(f"{_names(worse)} {'is' if len(worse) == 1 else 'are'} significantly worse"
                       + ("" if better else " than passive learning"))
    text = f"On {label}, " + " and ".join(clauses) + f" in {crit}"
    if same:
        text += f", while {_names(same)} {'does' if len(same) == 1 else 'do'} not differ significantly"
    return text + "."


def _comparison_text(ctx: Context, task: str) -> str:
    probs = ctx.problems_of(task)
    if not probs:
        return ""
    metric = an.PRIMARY_METRIC[task]
    crit = METRIC_PROSE[metric]
    quiet = [p for p in probs if not any(_sig_sets(ctx, p, metric)[:2]) and _sig_sets(ctx, p, metric)[2]]
    out = []
    if quiet:
        out.append(f"{capital(_on(ctx, quiet))}, no strategy differs significantly from passive learning in "
                   f"{crit}.")
    out += [_problem_comparison(ctx, p) for p in probs if p not in quiet]
    best = {}
    for p in probs:
        b = _best_strategy(ctx, p, metric)
        if b is not None:
            best.setdefault(b, []).append(p)
    if best:
        what = "highest" if an.higher_is_better(metric) else "lowest"
        out.append(f"The {what} mean {crit} belongs to "
                   + join([f"{STRATEGY_PROSE[s]} {_on(ctx, ps)}" for s, ps in best.items()]) + ".")
    return " ".join(out)


def _divergence_text(ctx: Context) -> str:
    """How many trial runs diverged (they are left out of every mean and counted here)."""
    summary = ctx.summary
    rows = []
    total = 0
    for p in ctx.problems:
        metric = ctx.primary(p)
        for s in ctx.strategies(p):
            hit = summary[(summary["dataset"] == p) & (summary["strategy"] == s) & (summary["metric"] == metric)]
            if len(hit):
                n, d = int(hit["n_runs"].iloc[0]), int(hit["n_diverged"].iloc[0])
                total += n
                if d:
                    rows.append(f"{STRATEGY_PROSE[s]} on {PROBLEM_LABELS[p]} ({d} of {n})")
    if not rows:
        return (f"None of the {count(total)} trial runs diverged (a diverged run has a non-finite loss or "
                "weight; it would be left out of every mean and counted here).")
    return ("Some trial runs diverged (a non-finite loss or weight); they are left out of every mean and "
            "spread, and counted here: " + join(rows) + ".")


def _random_text(ctx: Context) -> str:
    """Entropy sampling and the committee against random sampling, their baseline."""
    quiet, loud = [], []
    for s in ("entropy", "ensemble"):
        better, worse, same = [], [], []
        for p in ctx.problems:
            t = ctx.test(p, s, ctx.primary(p), "random")
            if t is None or not _finite(t["p"]):
                continue
            if bool(t["significant"]) and t["direction"] == "better":
                better.append(p)
            elif bool(t["significant"]) and t["direction"] == "worse":
                worse.append(p)
            else:
                same.append(p)
        if not (better or worse or same):
            continue
        name = STRATEGY_PROSE[s]
        if not better and not worse:
            quiet.append(name)
            continue
        bits = []
        if better:
            bits.append(f"significantly better {_on(ctx, better)}")
        if worse:
            bits.append(f"significantly worse {_on(ctx, worse)}")
        if same:
            bits.append("not significantly different elsewhere")
        loud.append(f"{name} is {join(bits)}")
    if not quiet and not loud:
        return ""
    parts = []
    if len(quiet) == 2:
        parts.append("neither entropy sampling nor the committee differs significantly from it on any "
                     "problem")
    elif quiet:
        parts.append(f"{quiet[0]} does not differ significantly from it on any problem")
    parts += loud
    return ("Against random sampling, the baseline of the uncertainty strategies, "
            + join(parts, "while") + ".")


def _subset_text(ctx: Context) -> str:
    sentences = []
    shares = {}
    for p in ctx.problems:
        pool = ctx.pools.get(p, {}).get("pool_mean")
        sub = ctx.trials[(ctx.trials["dataset"] == p) & (ctx.trials["strategy"] == "sasla")]
        if sub.empty or not pool:
            continue
        last = sub[sub["epoch"] == sub["epoch"].max()]["subset_size"].mean()
        low = sub.groupby("epoch")["subset_size"].mean().min()
        shares[p] = (last / pool, low / pool)
    if shares:
        lo = min(shares, key=lambda p: shares[p][0])
        hi = max(shares, key=lambda p: shares[p][0])
        if lo == hi:
            sentences.append(f"At the last epoch SASLA trained on {pct(shares[lo][0], 0)} of the pool of "
                             f"{PROBLEM_LABELS[lo]}.")
        else:
            sentences.append(
                f"At the last epoch SASLA trained on between {pct(shares[lo][0], 0)} "
                f"({PROBLEM_LABELS[lo]}) and {pct(shares[hi][0], 0)} ({PROBLEM_LABELS[hi]}) of the pool.")
        full = [p for p, (last, _) in shares.items() if last >= 0.995]
        if full:
            sentences.append(f"On {_labels(full)} it kept practically the whole pool, so it saved no "
                             "presentations there.")
    inc = {}
    for p in ctx.problems:
        pool = ctx.pools.get(p, {}).get("pool_mean")
        sub = ctx.trials[(ctx.trials["dataset"] == p) & (ctx.trials["strategy"] == "random")]
        if sub.empty or not pool:
            continue
        inc[p] = sub[sub["epoch"] == sub["epoch"].max()]["labels_used"].mean() / pool
    if inc:
        whole = [p for p, v in inc.items() if v >= 0.995]
        part = {p: v for p, v in inc.items() if v < 0.995}
        bits = []
        if whole:
            where = _on(ctx, whole)
            bits.append(f"labelled the whole pool {where} before the budget ran out" if where.startswith("on every")
                        else f"labelled the whole pool of {_labels(whole)} before the budget ran out")
        if part:
            bits.append("ended with " + join([f"{pct(v, 0)} of the pool of {PROBLEM_LABELS[p]}"
                                              for p, v in part.items()]) + " labelled")
        sentences.append("The incremental strategies " + join(bits, "but") + ".")
    return " ".join(sentences)


def _budget_text(ctx: Context) -> str:
    inc = {}
    for p in ctx.problems:
        pool = ctx.pools.get(p, {}).get("pool_mean")
        sub = ctx.trials[(ctx.trials["dataset"] == p) & (ctx.trials["strategy"] == "random")]
        if sub.empty or not pool:
            continue
        inc[p] = sub[sub["epoch"] == sub["epoch"].max()]["labels_used"].mean() / pool
    if not inc:
        return ""
    small = {p: v for p, v in inc.items() if v < 0.995}
    if not small:
        return ("With the budgets of this profile the labelled set reaches the whole pool on every "
                "problem before training ends.")
    return ("With the budgets of this profile the labelled set stays below the whole pool on "
            + join([f"{PROBLEM_LABELS[p]} ({pct(v, 0)} at the end)" for p, v in small.items()]) + ".")


def _convergence_text(ctx: Context) -> str:
    out = []
    rates = {}
    for s in ctx.strategies():
        rs = [r for p in ctx.problems if (r := ctx.conv_row(p, s)) is not None]
        if rs:
            n = sum(int(r["n_runs"]) for r in rs)
            rates[s] = sum(int(r["n_converged"]) for r in rs) / n if n else float("nan")
    if rates:
        out.append("Over all problems, the share of runs that reached the target was "
                   + join([f"{pct(v, 0)} for {STRATEGY_PROSE[s]}" for s, v in rates.items()]) + ".")
    faster, slower, same = [], [], []
    for p in ctx.problems:
        base = ctx.conv_row(p, "passive")
        if base is None or not _finite(base["epochs_median"]):
            continue
        for s in ctx.strategies(p):
            if s == "passive":
                continue
            r = ctx.conv_row(p, s)
            if r is None or not _finite(r["epochs_median"]):
                continue
            d = r["epochs_median"] - base["epochs_median"]
            (faster if d < 0 else slower if d > 0 else same).append((s, p))
    pairs = len(faster) + len(slower) + len(same)
    if pairs:
        text = (f"Of the {pairs} (strategy, problem) pairs in which both the strategy and passive "
                f"learning had converged runs, the strategy needed a lower median number of epochs in "
                f"{words(len(faster), 'none')} and a higher one in {words(len(slower), 'none')}")
        if faster:
            by = {}
            for s, p in faster:
                by.setdefault(s, []).append(p)
            text += " (faster: " + "; ".join(f"{STRATEGY_PROSE[s]} {_on(ctx, ps)}" for s, ps in by.items()) + ")"
        out.append(text + ".")
    else:
        out.append("No strategy had converged runs on a problem on which passive learning also had "
                   "converged runs, so epochs to convergence cannot be compared.")
    return " ".join(out)


def _efficiency_text(ctx: Context) -> str:
    """Presentations and labels needed to reach the target, compared with passive learning."""
    fewer: dict[str, list[str]] = {}
    compared = 0
    for p in ctx.problems:
        base = ctx.conv_row(p, "passive")
        if base is None or not _finite(base.get("presentations_median", np.nan)):
            continue
        for s in ctx.strategies(p):
            r = ctx.conv_row(p, s) if s != "passive" else None
            if r is None or not _finite(r.get("presentations_median", np.nan)):
                continue
            compared += 1
            if r["presentations_median"] < base["presentations_median"]:
                fewer.setdefault(s, []).append(p)
    out = []
    if compared:
        if fewer:
            out.append("Counted in presentations rather than epochs, a lower median than passive "
                       "learning's was needed to reach the target by "
                       + "; ".join(f"{STRATEGY_PROSE[s]} {_on(ctx, ps)}" for s, ps in fewer.items())
                       + f" ({words(sum(len(v) for v in fewer.values()))} of the {words(compared)} "
                         f"comparable pairs).")
        else:
            out.append("No active strategy reached the target with a lower median number of "
                       "presentations than passive learning.")
    lab = []
    for p in ctx.problems:
        pool = ctx.pools.get(p, {}).get("pool_mean")
        for s in ("entropy", "ensemble", "random"):
            r = ctx.conv_row(p, s)
            if r is None or not pool or not _finite(r.get("labels_used_median", np.nan)):
                continue
            lab.append((s, p, r["labels_used_median"] / pool))
    if lab:
        lo = min(lab, key=lambda x: x[2])
        hi = max(lab, key=lambda x: x[2])
        out.append(f"Where the incremental strategies converged, they had used between "
                   f"{pct(lo[2], 0)} ({STRATEGY_PROSE[lo[0]]}, {PROBLEM_LABELS[lo[1]]}) and "
                   f"{pct(hi[2], 0)} ({STRATEGY_PROSE[hi[0]]}, {PROBLEM_LABELS[hi[1]]}) of the pool's "
                   f"labels (median).")
    return " ".join(out)


def _across_text(ctx: Context) -> str:
    out = []
    for task in ("classification", "regression"):
        a = ctx.across[task]
        if not a.get("ok"):
            continue
        fr = a["friedman"]
        ranks = fr.avg_ranks.sort_values()
        order = join([f"{STRATEGY_PROSE[s]} ({num(r, 2)})" for s, r in ranks.items()])
        sig = fr.p_f < ALPHA
        text = (f"For {TASK_PROSE[task]}, the average ranks are {order}; the Iman--Davenport test "
                f"{'rejects' if sig else 'does not reject'} equal ranks ({p_is(fr.p_f)})")
        post = a["post"]
        if len(post):
            sig_s = post[post["significant"]]
            if sig_s.empty:
                text += ", and no strategy differs significantly from passive learning after Holm"
            else:
                text += ", and after Holm " + join([
                    f"{STRATEGY_PROSE[r.strategy]} ranks significantly "
                    f"{'better' if r.direction == 'better' else 'worse'} than passive learning"
                    for r in sig_s.itertuples()])
        out.append(text + ".")
    if out:
        out.append("With so few problems these tests can only reveal differences that are large and "
                   "consistent across all of them.")
    return " ".join(out)


def _sanity_clause(ctx: Context, p: str, pt: Mapping[str, Any]) -> tuple[str, bool] | None:
    """One clause comparing passive learning with a reference point, and whether an error
    lies below a noise floor."""
    m = pt["metric"]
    mean, _ = _passive_value(ctx, p, m)
    if not _finite(mean):
        return None
    label = PROBLEM_LABELS[p]
    short = pt.get("short", pt["label"])
    cite = f"~\\cite{{{pt['bibkey']}}}" if pt.get("bibkey") else ""
    is_acc = m.split("_")[0] in ("accuracy", "f1")
    name = _metric_name(m) if not is_acc else _metric_name(m).lower()
    if "value" in pt:
        ref = float(pt["value"])
        if is_acc:
            d = 100 * (mean - ref)
            rel = ("equal to" if abs(d) < 0.05 else
                   f"{num(abs(d), 1)} points {'above' if d > 0 else 'below'}")
            return f"its {name} on {label} is {rel} that of the {short}{cite}", False
        if m.startswith("r2"):
            return (f"its {name} on {label} is {'above' if mean > ref else 'below'} the {short}{cite}",
                    mean > ref and bool(pt.get("derived")))
        ratio = mean / ref if ref else float("nan")
        below_floor = bool(pt.get("derived")) and mean < ref
        return f"its {name} on {label} is {num(ratio, 2)} times the {short}{cite}", below_floor
    if "low" in pt:
        lo, hi = float(pt["low"]), float(pt["high"])
        where = "inside" if lo <= mean <= hi else "below" if mean < lo else "above"
        unit = "\\%" if is_acc else ""
        return (f"its {name} on {label} lies {where} the range {_fmt_metric(m, lo)}--"
                f"{_fmt_metric(m, hi)}{unit} of {short}{cite}", False)
    return None


def _sanity_text(ctx: Context) -> str:
    clauses, floor = [], False
    for p in PROBLEMS:
        if p not in ctx.problems:
            continue
        for pt in _reference_points(ctx.refs, p):
            c = _sanity_clause(ctx, p, pt)
            if c:
                clauses.append(c[0])
                floor |= c[1]
    if not clauses:
        return ""
    out = "Against these references, passive learning behaves as follows: " + "; ".join(clauses) + "."
    if floor:
        out += (" A result better than the noise floor is possible on a finite validation set, where "
                "the realised noise can be smaller than its standard deviation.")
    return out


def _draft_text(ctx: Context) -> str:
    draft = (ctx.refs.get("draft") or {}).get("accuracy") or {}
    out = []
    for p, claims in draft.items():
        if p not in ctx.problems:
            continue
        ss = [s for s in STRATEGIES if s in claims and s in ctx.strategies(p)]
        if not ss:
            continue
        theirs = join([pct(claims[s]) for s in ss])
        ours = join([pct(ctx.stat(p, s, "accuracy")) for s in ss])
        out.append(f"For {PROBLEM_LABELS[p]} the draft reported {theirs} for {_names(ss)}; our runs give "
                   f"{ours}.")
    fm = draft.get("fashion-mnist", {})
    if "fashion-mnist" in ctx.problems and "passive" in fm:
        ours = ctx.stat("fashion-mnist", "passive", "accuracy")
        top = max(fm.values())
        if _finite(ours):
            below = ours < fm["passive"]
            out.append(f"Our passive networks reach {pct(ours)} on Fashion-MNIST, "
                       + (f"{num(100 * (fm['passive'] - ours), 1)} points below the draft's "
                          f"{pct(fm['passive'])} for passive learning and "
                          f"{num(100 * (top - ours), 1)} points below its best value of {pct(top)}"
                          if below else
                          f"{'not below' if ours >= fm['passive'] else ''} the draft's {pct(fm['passive'])}")
                       + ".")
        refs = [pt for pt in _reference_points(ctx.refs, "fashion-mnist") if "value" in pt]
        if refs:
            ref = refs[0]
            out.append(f"The Fashion-MNIST benchmark reports {pct(ref['value'])} for its best "
                       f"one-hidden-layer network~\\cite{{{ref['bibkey']}}}, "
                       + ("so the draft's values of " + pct(min(fm.values()))
                          + " and more lie beyond what this model class is known to reach on the data "
                            "set, and our measurements do not support them."
                          if min(fm.values()) > ref["value"] else
                          "which the draft's values do not exceed."))
    ranked = []
    for p, claims in draft.items():
        if p not in ctx.problems:
            continue
        ss = [s for s in claims if s in ctx.strategies(p) and _finite(ctx.stat(p, s, "accuracy"))]
        if len(ss) < 2:
            continue
        theirs = max(ss, key=lambda s: claims[s])
        ours = max(ss, key=lambda s: ctx.stat(p, s, "accuracy"))
        ranked.append((p, theirs, ours))
    if ranked:
        agree = [p for p, t, o in ranked if t == o]
        out.append(f"The draft's best strategy per problem is also ours on {words(len(agree), 'none')} of the "
                   f"{words(len(ranked))} problems it reported.")
    return " ".join(out)


def _grid_text(ctx: Context) -> str:
    groups: dict[tuple, list[str]] = {}
    for p, s in _settings_rows(ctx):
        grid = s.get("grid") or {}
        key = tuple(tuple(grid.get(a) or []) for a in ("hidden", "lr", "weight_decay", "momentum"))
        groups.setdefault((key, s.get("grid_folds"), s.get("grid_epochs")), []).append(p)
    parts = []
    for (key, folds, epochs), probs in groups.items():
        size = int(np.prod([len(a) for a in key])) if all(key) else 0
        axes = "$\\times$".join("\\{" + ", ".join(gnum(x) for x in a) + "\\}" for a in key)
        parts.append(f"{axes}, i.e.\\ {size} configurations, each trained for {epochs} epochs and scored by "
                     f"{folds}-fold cross-validation, for {_labels(probs)}")
    return ("the grid being " + "; and ".join(parts)) if parts else "the grid of the profile"


def _grid_findings(ctx: Context) -> str:
    edges, out = [], []
    for p, w in ctx.winners.items():
        grid = ctx.settings(p).get("grid") or {}
        for axis, name in (("hidden", "hidden size"), ("lr", "learning rate")):
            vals = grid.get(axis) or []
            if len(vals) >= 2 and w.get(axis) in (min(vals), max(vals)):
                edges.append((p, name, w.get(axis) == max(vals)))
    if edges:
        by = {}
        for p, name, top in edges:
            by.setdefault((name, "largest" if top else "smallest"), []).append(p)
        out.append("The winner lies at an edge of the grid for "
                   + join([f"the {name} on {_labels(ps)} (the {end} value)" for (name, end), ps in by.items()])
                   + ", so a wider grid might do better there.")
    div = []
    for p, g in ctx.grids.items():
        per = _grid_per_config(g) if len(g) else g
        if len(per) and per["diverged"].any():
            div.append((p, int(per["diverged"].sum()), len(per)))
    if div:
        out.append("Diverged configurations, which rank last, occurred on "
                   + join([f"{PROBLEM_LABELS[p]} ({d} of {n})" for p, d, n in div]) + ".")
    draft = (ctx.refs.get("draft") or {}).get("grid") or {}
    same = [(p, all(float(ctx.winners[p].get(k, np.nan)) == float(v) for k, v in d.items()))
            for p, d in draft.items() if p in ctx.winners]
    if same:
        n_same = sum(s for _, s in same)
        out.append(f"The draft's grid winners (Table~II of the draft) are reproduced exactly on "
                   f"{'none' if n_same == 0 else words(n_same)} of the {words(len(same))} problems for "
                   f"which it reported them.")
    return " ".join(out)


def _profile_note(ctx: Context, short: bool = False, abstract: bool = False) -> str:
    """Whether the results come from the full protocol, and if not, how the profile differs."""
    name = str(ctx.profile.get("name", ""))
    if name == "full":
        return ("" if short or abstract else "These are the results of the full protocol.")
    try:
        from alnn.config import load_profile

        full = load_profile("full")
        s = next(iter(full.settings.values()))
        full_txt = (f"{s.trials} trials of {s.folds}-fold cross-validation with {s.epochs} epochs, "
                    f"a {s.grid.size}-point grid and the whole of every data set")
    except Exception:  # pragma: no cover - config absent
        full_txt = "the full protocol"
    rows = [s for _, s in _settings_rows(ctx)]
    trials = sorted({s.get("trials") for s in rows if s.get("trials")})
    folds = sorted({s.get("folds") for s in rows if s.get("folds")})
    epochs = sorted({s.get("epochs") for s in rows if s.get("epochs")})

    def rng(vals):
        return gnum(vals[0]) if len(vals) == 1 else f"{gnum(vals[0])}--{gnum(vals[-1])}"

    ours = (f"{rng(trials)} {'trial' if trials == [1] else 'trials'} of {rng(folds)}-fold "
            f"cross-validation with {rng(epochs)} epochs"
            if trials and folds and epochs else "fewer trials")
    if abstract:
        return (f"All numbers come from the reduced \\texttt{{{_escape(name)}}} profile ({ours}), "
                f"not from the full protocol.")
    if short:
        return (f"All numbers come from the reduced \\texttt{{{_escape(name)}}} profile ({ours}), "
                f"not from the full protocol ({full_txt}).")
    return (f"\\textbf{{The results in this paper come from a reduced protocol}}: the "
            f"\\texttt{{{_escape(name)}}} profile uses {ours}, whereas the study's full protocol uses "
            f"{full_txt}. The code path is the same; the numbers have wider intervals and the tests "
            f"less power than the full protocol would give.")


def _batch_text(ctx: Context) -> str:
    sizes = {p: s.get("batch_size") for p, s in _settings_rows(ctx) if s.get("batch_size")}
    if not sizes:
        return "the mini-batch size of the profile"
    groups = _group_by_value(sizes)
    return join([f"{gnum(v)} patterns for {_labels(ps)}" for v, ps in sorted(groups, key=lambda g: g[0])])


def _query_text(ctx: Context) -> str:
    qs = {}
    for p, s in _settings_rows(ctx):
        q = _query_params(s)
        if q.get("query_size"):
            qs[p] = q["query_size"]
    if not qs:
        return "set by the profile"
    groups = sorted(_group_by_value(qs), key=lambda g: g[0])
    return join([f"{gnum(v)} for {_labels(ps)}" for v, ps in groups])


def _subsample_text(ctx: Context) -> str:
    subs = {p: s.get("subsample") for p, s in _settings_rows(ctx) if s.get("subsample")}
    if not subs:
        return "Every problem is used in full."
    parts = []
    for n, ps in _group_by_value(subs):
        parts.append(f"{_labels(ps)} {'is' if len(ps) == 1 else 'are'} reduced to "
                     f"{'a stratified subsample' if len(ps) == 1 else 'stratified subsamples'} of "
                     f"{count(n)} patterns{'' if len(ps) == 1 else ' each'}")
    return "In this profile " + join(parts) + "."


def _call_seconds(trials: pd.DataFrame) -> pd.DataFrame:
    """Wall-clock seconds of every batched engine call: ``wall_s`` is cumulative per call and
    shared by all its networks, so a call is a (dataset, strategy) group of runs with the same
    final ``wall_s``."""
    if "wall_s" not in trials.columns:
        return pd.DataFrame(columns=["dataset", "strategy", "seconds", "runs"])
    last = trials.groupby(["dataset", "strategy", "trial", "fold"], sort=False)["wall_s"].max()
    last = last.reset_index()
    calls = last.groupby(["dataset", "strategy", "wall_s"], sort=False).size().rename("runs").reset_index()
    return calls.rename(columns={"wall_s": "seconds"})


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{num(seconds, 0)} seconds"
    if seconds < 7200:
        return f"{num(seconds / 60, 0)} minutes"
    return f"{num(seconds / 3600, 1)} hours"


def _hardware_text(ctx: Context) -> str:
    calls = _call_seconds(ctx.trials)
    total = float(calls["seconds"].sum()) if len(calls) else float("nan")
    if not _finite(total) or total <= 0:
        return ""
    return (f"The training runs behind the results of this paper took {_duration(total)} of "
            f"wall-clock time in the engine (selection and training, evaluation excluded), "
            f"not counting the grid search.")


def _overhead_text(ctx: Context) -> str:
    """Wall-clock time per run of each strategy relative to passive learning (median over problems)."""
    calls = _call_seconds(ctx.trials)
    if calls.empty:
        return ""
    per_run = calls.groupby(["dataset", "strategy"])[["seconds", "runs"]].sum()
    per_run = (per_run["seconds"] / per_run["runs"]).unstack("strategy")
    if "passive" not in per_run.columns:
        return ""
    ratios = {s: float((per_run[s] / per_run["passive"]).median()) for s in per_run.columns
              if s != "passive" and per_run[s].notna().any()}
    ratios = {s: r for s, r in ratios.items() if _finite(r)}
    if not ratios:
        return ""
    order = [s for s in STRATEGIES if s in ratios]
    return ("Per network, selection and training took "
            + join([num(ratios[s], 1) for s in order])
            + " times the wall-clock time of passive learning for " + _names(order)
            + (", respectively" if len(order) > 1 else "")
            + " (median over problems; indicative only, as it depends on the machine and its load).")


def _significance_summary(ctx: Context) -> str:
    """Which strategies are significantly better / worse than passive learning, and where."""
    better, worse = {}, {}
    for p in ctx.problems:
        b, w, _ = _sig_sets(ctx, p, ctx.primary(p))
        for st_ in b:
            better.setdefault(st_, []).append(p)
        for st_ in w:
            worse.setdefault(st_, []).append(p)

    def listing(d):
        return join([f"{STRATEGY_PROSE[s]} {_on(ctx, ps)}" for s, ps in d.items()])

    if not better:
        text = ("after Holm's correction no active strategy is significantly better than passive "
                "learning on its primary criterion on any problem")
    else:
        text = ("after Holm's correction, active strategies are significantly better than passive "
                "learning only for " + listing(better))
    if worse:
        text += ", while significantly worse results occur for " + listing(worse)
    else:
        text += ", and none is significantly worse"
    return text


def _abstract_results(ctx: Context) -> str:
    out = [capital(_significance_summary(ctx)) + "."]
    fm = ((ctx.refs.get("draft") or {}).get("accuracy") or {}).get("fashion-mnist", {})
    ours = ctx.stat("fashion-mnist", "passive", "accuracy") if "fashion-mnist" in ctx.problems else np.nan
    if _finite(ours) and fm:
        top = max(fm.values())
        rel = "below" if ours < top else "not below"
        out.append(f"Passive learning reaches {pct(ours)} on Fashion-MNIST, {rel} the {pct(top)} "
                   f"that the draft reported for its best strategy.")
    return " ".join(out)


def _conclusion_text(ctx: Context) -> str:
    out = [f"On the six problems, {_significance_summary(ctx)}."]
    sub = _subset_text(ctx)
    if sub:
        out.append(sub.split(". ")[0].rstrip(".") + ".")
    return " ".join(out)


def _sasla_text(ctx: Context, info: dict | None) -> tuple[str, str]:
    if info:
        p = PROBLEM_LABELS.get(info["problem"], info["problem"])
        first, last = info["first"], info["last"]
        text = (f"The network shown (one {p} network, trial {info['trial']}, fold {info['fold']}) "
                f"trained on {pct(first, 0)} of its pool at epoch {info['e_first']} and on "
                f"{pct(last, 0)} at epoch {info['e_last']}; kept patterns are filled, set-aside "
                f"patterns open.")
        if info.get("returned"):
            text += (f" Across the epochs, {info['returned']} patterns were set aside and later "
                     f"selected again, which the re-selection from the whole candidate set allows.")
        caption = (f"patterns of one {p} network kept in the training subset $D_T$ (filled) and set "
                   f"aside (open) at a few epochs.")
        return text, caption
    text = ("No mask history was supplied to the report, so the figure shows instead the share of the "
            "pool that SASLA kept over the epochs on every problem (mean and range over runs).")
    caption = "share of the training pool in SASLA's subset $D_T$ against epochs (mean and range over runs)."
    return text, caption


def _limitations_text(ctx: Context) -> str:
    note = _profile_note(ctx, short=True)
    return note


def findings_values(ctx: Context, sasla_info: dict | None) -> Values:
    v = Values()
    v["text/abstract-results"] = _abstract_results(ctx)
    v["text/abstract-profile"] = _profile_note(ctx, abstract=True)
    v["text/profile-note"] = _profile_note(ctx)
    v["text/limitations"] = _limitations_text(ctx)
    v["text/batch-sizes"] = _batch_text(ctx)
    v["text/query-sizes"] = _query_text(ctx)
    v["text/subsample"] = _subsample_text(ctx)
    v["text/grid"] = _grid_text(ctx)
    v["text/grid-findings"] = _grid_findings(ctx)
    v["text/budget"] = _budget_text(ctx)
    v["text/hardware"] = _hardware_text(ctx)
    v["text/sanity"] = _sanity_text(ctx)
    v["text/comparison-classification"] = _comparison_text(ctx, "classification")
    v["text/comparison-regression"] = _comparison_text(ctx, "regression")
    v["text/random-baseline"] = _random_text(ctx)
    v["text/divergence"] = _divergence_text(ctx)
    v["text/convergence"] = _convergence_text(ctx)
    v["text/efficiency"] = _efficiency_text(ctx)
    v["text/overhead"] = _overhead_text(ctx)
    v["text/subset"] = _subset_text(ctx)
    v["text/across"] = _across_text(ctx)
    v["text/draft-claims"] = _draft_text(ctx)
    v["text/conclusion"] = _conclusion_text(ctx)
    text, caption = _sasla_text(ctx, sasla_info)
    v["text/sasla-at-work"] = text
    v["text/sasla-caption"] = caption
    return v


# =========================================================================== figures
def _grid_overview(ctx: Context):
    """Compact grid-search figure: per problem, hidden size x learning rate, the best mean
    validation loss over weight decay and momentum (cells annotated, winner outlined)."""
    from matplotlib.colors import LogNorm, Normalize
    from matplotlib.patches import Rectangle

    from alnn import figures as fg

    probs = [p for p in PROBLEMS if p in ctx.grids and len(ctx.grids[p])]
    n = max(1, len(probs))
    ncols = min(3, n)
    nrows = int(np.ceil(n / ncols))
    with fg.paper_style():
        fig, axes = fg._new(fg.COLUMN_WIDTH, 1.05 * nrows + 0.1, nrows, ncols)
        for ax, p in zip(axes.flat, probs):
            per = _grid_per_config(ctx.grids[p])
            per = per.assign(v=per["val_loss"].where(~per["diverged"]))
            best = per.groupby(["lr", "hidden"])["v"].min().unstack("hidden")
            mat = best.to_numpy(float)
            good = mat[np.isfinite(mat)]
            if good.size:
                lo, hi = float(good.min()), float(good.max())
                norm = LogNorm(lo, hi if hi > lo else lo * 1.01) if lo > 0 else Normalize(lo, hi + 1e-12)
            else:
                norm = Normalize(0, 1)
            ax.imshow(np.ma.masked_invalid(mat), cmap="viridis_r", norm=norm, aspect="auto",
                      origin="lower")
            for i in range(mat.shape[0]):
                for j in range(mat.shape[1]):
                    txt = "x" if not np.isfinite(mat[i, j]) else f"{mat[i, j]:.2g}"
                    ax.text(j, i, txt, ha="center", va="center", fontsize=4.5,
                            color="black" if np.isfinite(mat[i, j]) and norm(mat[i, j]) > 0.5 else "white")
            w = ctx.winners.get(p)
            if w and w.get("lr") in list(best.index) and w.get("hidden") in list(best.columns):
                i, j = list(best.index).index(w["lr"]), list(best.columns).index(w["hidden"])
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=1.0))
            ax.set_xticks(range(mat.shape[1]), [f"{int(h)}" for h in best.columns], fontsize=5)
            ax.set_yticks(range(mat.shape[0]), [f"{v:g}" for v in best.index], fontsize=5)
            ax.tick_params(length=0, pad=1)
            for sp in ax.spines.values():
                sp.set_visible(False)
            ax.set_title(PROBLEM_LABELS[p], fontsize=7)
            ax.set_xlabel("hidden units $J$", fontsize=6, labelpad=1)
            ax.set_ylabel("learning rate $\\eta$", fontsize=6, labelpad=1)
        for ax in list(axes.flat)[len(probs):]:
            ax.set_visible(False)
    return fig


def _sasla_share_figure(ctx: Context):
    from alnn import figures as fg

    with fg.paper_style():
        fig, axes = fg._new(fg.COLUMN_WIDTH, 1.9)
        ax = axes[0, 0]
        styles = ["-", "--", "-.", ":", (0, (5, 1)), (0, (1, 1))]
        for i, p in enumerate(ctx.problems):
            pool = ctx.pools.get(p, {}).get("pool_mean")
            sub = ctx.trials[(ctx.trials["dataset"] == p) & (ctx.trials["strategy"] == "sasla")]
            if sub.empty or not pool:
                continue
            g = sub.groupby("epoch")["subset_size"]
            ax.plot(g.mean().index, g.mean() / pool, color=fg.STRATEGY_COLORS["sasla"],
                    ls=styles[i % len(styles)], label=PROBLEM_LABELS[p])
            ax.fill_between(g.mean().index, g.min() / pool, g.max() / pool,
                            color=fg.STRATEGY_COLORS["sasla"], alpha=0.1, lw=0)
        ax.set_xlabel("Epoch")
        ax.set_ylabel("$|D_T|$ / pool")
        ax.set_ylim(0, 1.05)
        ax.legend(ncol=2, fontsize=6)
    return fig


#: Problems whose patterns can be drawn in the plane, and how: (feature columns or "xy", labels).
_PLANE = {"iris": ((2, 3), ("petal length (cm)", "petal width (cm)")),
          "sine": ("xy", ("$x$", "$y$"))}


def _mask_record(masks) -> dict | None:
    """One network's mask history as ``{problem, pool, mask, epochs, trial, fold}``.

    Accepted forms of ``masks`` (see :func:`build`):

    * the pipeline's diagnostics frame (long: ``epoch, pattern, selected``), its
      problem in ``frame.attrs["problem"]`` or a ``dataset`` column (else iris);
    * ``{problem: that frame}``;
    * ``alnn.run(..., return_masks=True)[1]`` (``{(trial, fold): {"pool", "mask"}}``:
      the first network is drawn), optionally wrapped as ``{"problem": p, "masks": ...}``;
    * one record ``{"pool", "mask"}``, with optional ``problem``, ``trial``, ``fold``.
    """
    if masks is None:
        return None
    if isinstance(masks, pd.DataFrame):
        f = masks
        problem = f.attrs.get("problem") or (str(f["dataset"].iloc[0]) if "dataset" in f.columns else "iris")
        if f.empty or not {"epoch", "pattern", "selected"} <= set(f.columns):
            return None
        wide = f.pivot_table(index="epoch", columns="pattern", values="selected", aggfunc="first")
        wide = wide.sort_index()
        return {"problem": problem, "pool": wide.columns.to_numpy(int),
                "mask": wide.fillna(False).to_numpy(bool), "epochs": wide.index.to_numpy(int),
                "trial": f.attrs.get("trial", 0), "fold": f.attrs.get("fold", 0)}
    if not isinstance(masks, Mapping) or not masks:
        return None
    if "mask" in masks and "pool" in masks:
        mask = np.asarray(masks["mask"], bool)
        return {"problem": masks.get("problem", "iris"), "pool": np.asarray(masks["pool"], int),
                "mask": mask, "epochs": np.asarray(masks.get("epochs", np.arange(1, len(mask) + 1))),
                "trial": masks.get("trial", 0), "fold": masks.get("fold", 0)}
    if "masks" in masks:
        inner = _mask_record(masks["masks"])
        if inner is not None and "problem" in masks:
            inner["problem"] = masks["problem"]
        return inner
    key = next(iter(masks))
    if isinstance(key, tuple) and len(key) == 2:
        rec = _mask_record(dict(masks[key]))
        if rec is not None:
            rec["trial"], rec["fold"] = key
        return rec
    for problem in ("iris", "sine"):
        if problem in masks:
            rec = _mask_record(masks[problem])
            if rec is not None:
                rec["problem"] = problem
            return rec
    return None


def _plane(problem: str, pool: np.ndarray):
    """2-D coordinates (and classes) of the pool patterns of an Iris or sine network."""
    from alnn import datasets

    cols, labels = _PLANE[problem]
    ds = datasets.load(problem)
    if cols == "xy":
        coords = np.column_stack([ds.X[pool, 0], np.asarray(ds.y)[pool, 0]])
        classes = None
    else:
        coords = np.asarray(ds.X)[pool][:, list(cols)]
        classes = np.asarray(ds.y)[pool]
    return coords.astype(float), classes, labels


def _mask_info(masks) -> dict | None:
    """The SASLA mask history in the form :func:`alnn.figures.sasla_at_work` draws, with the
    numbers the text quotes; ``None`` when no usable history of an Iris or sine network is given."""
    rec = _mask_record(masks)
    if rec is None or rec["problem"] not in _PLANE or rec["mask"].ndim != 2 or rec["mask"].size == 0:
        return None
    mask = rec["mask"]
    try:
        coords, classes, labels = _plane(rec["problem"], rec["pool"])
    except Exception:  # pragma: no cover - data layer unavailable
        return None
    share = mask.mean(axis=1)
    dropped = np.cumsum(~mask, axis=0) > 0  # set aside at this epoch or before
    back = int((dropped[:-1] & mask[1:]).any(axis=0).sum()) if mask.shape[0] > 1 else 0
    epochs = np.asarray(rec["epochs"], int)
    return {"mask": mask, "coords": coords, "classes": classes, "axis_labels": labels,
            "problem": rec["problem"], "trial": rec["trial"], "fold": rec["fold"],
            "epochs": epochs, "first": float(share[0]), "last": float(share[-1]),
            "e_first": int(epochs[0]), "e_last": int(epochs[-1]), "returned": back}


def build_figures(ctx: Context, figures_dir: Path, sasla_info: dict | None) -> list[Path]:
    """Every figure of the paper, as PDF and PNG under ``figures_dir``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from alnn import figures as fg

    figures_dir = Path(figures_dir)
    out: list[Path] = []
    trials = ctx.trials
    order = [p for p in PROBLEMS if p in ctx.problems]
    out += fg.save(fg.learning_curves(trials, x="epoch", datasets=order, panel_height=1.05),
                   figures_dir / "learning-curves-epochs")
    out += fg.save(fg.learning_curves(trials, x="presentations", datasets=order, panel_height=1.05),
                   figures_dir / "learning-curves-presentations")
    out += fg.save(_compact(fg.subset_sizes(trials, datasets=order, ncols=3, width=fg.COLUMN_WIDTH,
                                            panel_height=0.95), "Subset size"),
                   figures_dir / "subset-size")
    out += fg.save(_compact(fg.labels_to_convergence(ctx.conv, datasets=order, ncols=2,
                                                     width=fg.COLUMN_WIDTH, panel_height=0.9),
                            legend_cols=2),
                   figures_dir / "labels-to-target")
    out += fg.save(_grid_overview(ctx), figures_dir / "grid-heatmaps")
    for task in ("classification", "regression"):
        a = ctx.across[task]
        name = figures_dir / f"cd-{task}"
        if a.get("ok"):
            fig = fg.critical_difference_diagram(a["friedman"].avg_ranks, a["cd"],
                                                 title=capital(TASK_PROSE[task]))
        else:
            fig = _placeholder(f"{capital(TASK_PROSE[task])}: fewer than two problems, no ranking")
        out += fg.save(fig, name)
    if sasla_info:
        fig = fg.sasla_at_work(sasla_info["mask"], sasla_info["coords"], classes=sasla_info["classes"],
                               axis_labels=sasla_info["axis_labels"], n_panels=3,
                               width=fg.COLUMN_WIDTH, panel_height=1.35)
        rows = np.unique(np.linspace(1, len(sasla_info["epochs"]), 3).round().astype(int))
        for ax, row in zip([a for a in fig.axes if a.get_title()], rows):
            # two-line titles fit the narrow panels; rows of a thinned record map to their epochs
            kept = int(sasla_info["mask"][row - 1].sum())
            ax.set_title(f"epoch {sasla_info['epochs'][row - 1]}\n$|D_T|$ = {kept}", fontsize=7)
    else:
        fig = _sasla_share_figure(ctx)
    out += fg.save(fig, figures_dir / "sasla-at-work")
    return out


def _compact(fig, ylabel: str | None = None, legend_cols: int = 3):
    """Fit a multi-panel figure into one column: smaller titles and tick labels, the y label on
    the first column only, at most three ticks on short log axes, a legend in ``legend_cols``
    columns."""
    from matplotlib.ticker import MaxNLocator, NullLocator

    axes = [a for a in fig.axes if a.get_visible()]
    for ax in axes:
        ax.title.set_fontsize(7)
        ax.tick_params(labelsize=5.5, pad=1)
        ax.xaxis.label.set_fontsize(6)
        ax.yaxis.label.set_fontsize(6)
        if ylabel is not None:
            spec = ax.get_subplotspec()
            ax.set_ylabel(ylabel if spec is not None and spec.is_first_col() else "")
        if ax.get_xscale() == "log":
            lo, hi = ax.get_xlim()
            if lo > 0 and hi / lo < 20:  # under 1.3 decades: plain ticks, three at most
                ax.xaxis.set_major_locator(MaxNLocator(3))
                ax.xaxis.set_minor_locator(NullLocator())
    for leg in list(fig.legends):  # a legend's layout is fixed when it is made: make it anew
        handles, labels = leg.legend_handles, [t.get_text() for t in leg.get_texts()]
        leg.remove()
        fig.legend(handles, labels, loc="outside upper center", ncol=legend_cols, fontsize=6,
                   frameon=False, handlelength=2.0, columnspacing=1.0)
    return fig


def _placeholder(text: str):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.5, 0.5))
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=7)
    return fig


# =========================================================================== build
def build(*, grids: Mapping[str, pd.DataFrame], winners: Mapping[str, Mapping], trials: pd.DataFrame,
          profile, generated_dir, figures_dir, masks=None, data: Mapping[str, Mapping] | None = None,
          references: Mapping[str, Any] | None = None, figures: bool = True) -> dict[str, list[Path]]:
    """Write every generated file of the paper and every figure.

    ``grids[problem]``: the grid-search table (one row per configuration, or
    per configuration x fold) with hidden, lr, weight_decay, momentum,
    val_loss, diverged; ``winners[problem]``: the winning configuration
    (hidden, lr, weight_decay, momentum, batch_size, val_loss); ``trials``:
    the concatenated tidy frames of every problem and strategy; ``profile``:
    the profile as a plain dict (``alnn.config.Profile.to_dict()``) or the
    Profile itself (the paper prints its trials, folds and epochs as found in
    ``trials`` and warns when they differ); ``masks``: optional SASLA
    selection record of one Iris or sine network for the "SASLA at work"
    figure, in any form :func:`_mask_record` accepts (the pipeline passes
    ``{"iris": <diagnostics frame>}``; without it the figure shows SASLA's
    subset share on every problem); ``data``: optional ``{problem: data-stage
    description}`` (n_samples, n_features, n_outputs) for the problem table;
    ``references``: overrides ``references.toml`` (tests); ``figures=False``
    skips the figures. Returns ``{"generated": [...], "figures": [...]}``.
    """
    generated_dir, figures_dir = Path(generated_dir), Path(figures_dir)
    ctx = _context(grids=grids, winners=winners, trials=trials, profile=profile, data=data,
                   references=references)
    sasla_info = _mask_info(masks)
    files = {
        "profile.tex": profile_values(ctx).tex("Settings of the profile that produced the results."),
        "numbers.tex": number_values(ctx).tex("Numbers quoted in the text."),
        "findings.tex": findings_values(ctx, sasla_info).tex("Sentences that depend on the results."),
        "profile-table.tex": profile_table(ctx),
        "gridsearch.tex": grid_table(ctx),
        "sanity.tex": sanity_table(ctx),
        "comparison.tex": comparison_table(ctx),
        "stats-within.tex": within_table(ctx),
        "convergence.tex": convergence_table(ctx),
        "stats-across.tex": across_table(ctx),
    }
    written = [write_atomic(generated_dir / name, text) for name, text in files.items()]
    across = []
    for task, a in ctx.across.items():
        if a.get("ok"):
            r = a["friedman"].avg_ranks.rename("avg_rank").reset_index().rename(columns={"index": "strategy"})
            r.insert(0, "task", task)
            if len(a["post"]):
                r = r.merge(a["post"][["strategy", "z", "p", "p_holm", "significant"]], on="strategy", how="left")
            r["f_id"], r["p_f"], r["cd"] = a["friedman"].f, a["friedman"].p_f, a["cd"]
            across.append(r)
    tables = {"summary.csv": ctx.summary, "within.csv": ctx.within, "convergence.csv": ctx.conv_summary,
              "aulc.csv": ctx.aulc_summary, "targets.csv": ctx.targets,
              "across.csv": pd.concat(across, ignore_index=True) if across else pd.DataFrame()}
    written += [_csv_atomic(generated_dir / name, frame) for name, frame in tables.items()]
    figs = build_figures(ctx, figures_dir, sasla_info) if figures else []
    return {"generated": written, "figures": figs}


# =========================================================================== compile
class LatexError(RuntimeError):
    """The paper did not build, or built with undefined values, references or citations."""


def latex_env(generated_dir, figures_dir, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for latexmk: the generated folders first on TEXINPUTS (searched recursively)."""
    env = dict(os.environ if base is None else base)
    paths = f"{Path(generated_dir).resolve()}//:{Path(figures_dir).resolve()}//:"
    env["TEXINPUTS"] = paths + env.get("TEXINPUTS", "")
    return env


_PROBLEM_LINES = re.compile(
    r"^(!.*|.*:\d+: .*|.*LaTeX Warning: (Reference|Citation).*undefined.*|"
    r".*There were undefined references.*|.*Package alnn Warning.*|.*I couldn't open.*|"
    r".*Warning--I didn't find a database entry.*)$")


def _log_problems(log: str) -> list[str]:
    lines = log.splitlines()
    out = []
    for i, line in enumerate(lines):
        if _PROBLEM_LINES.match(line):
            out.extend(lines[i:i + (3 if line.startswith("!") or re.match(r".*:\d+: ", line) else 1)])
    return out


def compile_paper(paper_dir, generated_dir, figures_dir, *, outdir=None, main: str = "main.tex",
                  check: bool = True, timeout: float = 600) -> Path:
    """Build ``main.pdf`` from ``paper_dir/main.tex`` with latexmk.

    The generated files and figures of one profile come first on
    ``TEXINPUTS``; auxiliary files and the PDF go to ``outdir`` (default
    ``paper_dir``). A LaTeX error raises :class:`LatexError` with the log's
    relevant lines; with ``check`` (the default) so does a build that leaves
    an undefined reference, citation or generated value. Returns the PDF.
    """
    paper_dir = Path(paper_dir).resolve()
    out = Path(outdir).resolve() if outdir is not None else paper_dir
    out.mkdir(parents=True, exist_ok=True)
    if shutil.which("latexmk") is None:
        raise LatexError("latexmk not found: install TeX Live (latexmk, IEEEtran)")
    stem = Path(main).stem
    cmd = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
           f"-outdir={out}", main]
    env = latex_env(generated_dir, figures_dir)
    env["BIBINPUTS"] = f"{paper_dir}:" + env.get("BIBINPUTS", "")
    proc = subprocess.run(cmd, cwd=paper_dir, env=env, capture_output=True, text=True, timeout=timeout)
    log_path = out / f"{stem}.log"
    log = log_path.read_text(errors="replace") if log_path.exists() else ""
    blg = out / f"{stem}.blg"
    blg_text = blg.read_text(errors="replace") if blg.exists() else ""
    problems = _log_problems(log) + _log_problems(blg_text)
    if proc.returncode != 0:
        detail = "\n".join(problems) or (proc.stdout + proc.stderr)[-3000:]
        raise LatexError(f"latexmk failed on {paper_dir / main} (exit {proc.returncode}); "
                         f"from {log_path}:\n{detail}")
    if check and problems:
        raise LatexError(f"{paper_dir / main} built with problems; from {log_path}:\n" + "\n".join(problems))
    return out / f"{stem}.pdf"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alnn.report",
                                     description="Build the paper PDF from the generated files.")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compile", help="run latexmk on paper/main.tex")
    c.add_argument("--paper", default="paper", help="folder of main.tex (default: paper)")
    c.add_argument("--generated", required=True, help="paper/generated/<profile>")
    c.add_argument("--figures", required=True, help="figures/<profile>")
    c.add_argument("--outdir", default=None, help="folder for the PDF and auxiliary files (default: --paper)")
    c.add_argument("--no-check", action="store_true", help="accept undefined references")
    args = parser.parse_args(argv)
    try:
        pdf = compile_paper(args.paper, args.generated, args.figures, outdir=args.outdir,
                            check=not args.no_check)
    except LatexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(pdf)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
