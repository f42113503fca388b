"""The strategies' descriptions, read without importing torch (SPEC section 3).

A strategy is one module of this package that assigns a literal dict to
``DESCRIPTION`` (and its parameter defaults to ``DEFAULTS``); this module
reads those two assignments from the modules' source with `ast`, so that the
configuration, the figures, the report, the statistics, the cost model, the
command line and the Makefile (``python -m alnn strategies``) know every
strategy, its label, colour and marker, its tasks and protocols, its role in
the comparisons and its selection cost, without importing torch and without
naming it anywhere else.  Adding a strategy is adding its module.

``DESCRIPTION`` keys (every one required):

=============  ==============================================================
name           the strategy's name (what profiles, the CLI and frames use)
label          for tables and figures, e.g. "Random"
prose          how a sentence names it, e.g. "random sampling"
summary        one line for the paper, with its reference
reference      the short citation, e.g. "Sener and Savarese 2018"
tasks          ("classification",), ("regression",) or both
role           "ceiling" (passive learning), "selective" (SASLA), "baseline"
               (random sampling) or "query" (a query strategy compared with
               random sampling in the budget protocol)
protocols      where it runs: ("draft", "budget"), ("budget",), ...
members        networks per model (3: a committee)
select_macs    multiply-adds per scored pattern of its selection, a Python
               expression in I, J, K (the network's shape), E (members),
               q (the query's size) and N (|L| before the query)
order          display and sort order (smaller first)
colour         its colour in figures (a hex string)
marker         its matplotlib marker
linestyle      its matplotlib line style: a name, or [offset, [on, off, ...]]
family         what kind of query it is (``FAMILIES``): uncertainty, committee,
               sensitivity, diversity; ceiling, selective, baseline otherwise
=============  ==============================================================
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Description", "catalogue", "names", "describe", "REQUIRED", "ROLES", "PROTOCOLS", "TASKS", "FAMILIES"]

REQUIRED = ("name", "label", "prose", "summary", "reference", "tasks", "role", "protocols", "members",
            "select_macs", "order", "colour", "marker", "linestyle", "family")
#: The families the paper groups the query strategies by.
FAMILIES = ("ceiling", "selective", "baseline", "uncertainty", "committee", "sensitivity", "diversity")
ROLES = ("ceiling", "selective", "baseline", "query")
PROTOCOLS = ("draft", "budget")
TASKS = ("classification", "regression")
_HERE = Path(__file__).parent


@dataclass(frozen=True)
class Description:
    """One strategy as its module describes it (see the module docstring)."""

    name: str
    label: str
    prose: str
    summary: str
    reference: str
    tasks: tuple[str, ...]
    role: str
    protocols: tuple[str, ...]
    members: int
    select_macs: str
    order: int
    colour: str
    marker: str
    linestyle: Any
    family: str
    defaults: dict
    module: str

    def applies(self, task: str) -> bool:
        return task in self.tasks

    def selection_macs(self, I: int, J: int, K: int, E: int | None = None, q: int = 1, N: int = 0) -> int:
        """Multiply-adds of scoring one pattern (the ``select_macs`` expression evaluated)."""
        scope = {"I": int(I), "J": int(J), "K": int(K), "E": int(self.members if E is None else E), "q": int(q),
                 "N": int(N)}
        return int(eval(compile(self.select_macs, f"<{self.name}.select_macs>", "eval"), {"__builtins__": {}},
                        scope))

    @property
    def style(self):
        """The line style as matplotlib takes it."""
        ls = self.linestyle
        return ls if isinstance(ls, str) else (ls[0], tuple(ls[1]))


def _literal(tree: ast.Module, name: str):
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) \
            else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets) and node.value is not None:
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return _with_names(tree, node.value)
    return None


def _with_names(tree: ast.Module, value: ast.expr):
    """A dict literal whose values may name module-level string constants (``"name": NAME``)."""
    consts = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                consts[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    expr = ast.Expression(body=ast.parse(ast.unparse(value), mode="eval").body)
    return eval(compile(expr, "<DESCRIPTION>", "eval"), {"__builtins__": {}}, consts)


def _check(d: dict, where: str) -> None:
    missing = [k for k in REQUIRED if k not in d]
    if missing:
        raise ValueError(f"{where}: DESCRIPTION lacks {', '.join(missing)}; valid keys: {', '.join(REQUIRED)}")
    if d["family"] not in FAMILIES:
        raise ValueError(f"{where}: family {d['family']!r} is not valid; valid: {', '.join(FAMILIES)}")
    if d["role"] not in ROLES:
        raise ValueError(f"{where}: role {d['role']!r} is not valid; valid: {', '.join(ROLES)}")
    for key, valid in (("protocols", PROTOCOLS), ("tasks", TASKS)):
        bad = [v for v in d[key] if v not in valid]
        if bad or not d[key]:
            raise ValueError(f"{where}: {key} {list(d[key])!r} is not valid; valid: {', '.join(valid)}")


@functools.lru_cache(maxsize=None)
def catalogue(folder: str | None = None) -> dict[str, Description]:
    """Every strategy of the package (or of ``folder``), by name, in display order."""
    root = Path(folder) if folder else _HERE
    found = []
    for path in sorted(root.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        d = _literal(tree, "DESCRIPTION")
        if not isinstance(d, dict):
            continue
        _check(d, path.name)
        defaults = _literal(tree, "DEFAULTS") or {}
        found.append(Description(
            name=d["name"], label=d["label"], prose=d["prose"], summary=d["summary"], reference=d["reference"],
            tasks=tuple(d["tasks"]), role=d["role"], protocols=tuple(d["protocols"]), members=int(d["members"]),
            select_macs=str(d["select_macs"]), order=int(d["order"]), colour=d["colour"], marker=d["marker"],
            linestyle=d["linestyle"], family=d["family"], defaults=dict(defaults), module=path.stem))
    names = [f.name for f in found]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"strategies described twice: {', '.join(dup)}")
    return {f.name: f for f in sorted(found, key=lambda f: (f.order, f.name))}


def names(*, protocol: str | None = None, task: str | None = None, role: str | None = None) -> tuple[str, ...]:
    """Names of the strategies (display order) that run in ``protocol``, apply to ``task``, play ``role``."""
    return tuple(n for n, d in catalogue().items()
                 if (protocol is None or protocol in d.protocols) and (task is None or task in d.tasks)
                 and (role is None or d.role == role))


def describe(name: str) -> Description:
    """One strategy's description; ValueError naming the valid ones otherwise."""
    cat = catalogue()
    if name not in cat:
        raise ValueError(f"unknown strategy {name!r}; valid: {', '.join(cat)}")
    return cat[name]


def main(argv: list[str] | None = None) -> int:
    """``python lib/alnn/strategies/catalogue.py [--protocol P] [--task T] [--role R] [--describe]``:
    the names (one line, space-separated; the Makefile reads them), or one line per strategy with its
    description.  Runs on the standard library alone, without the package installed."""
    import argparse

    ap = argparse.ArgumentParser(prog="alnn strategies", description="The strategies, as their modules describe them.")
    ap.add_argument("--protocol", choices=PROTOCOLS)
    ap.add_argument("--task", choices=TASKS)
    ap.add_argument("--role", choices=ROLES)
    ap.add_argument("--describe", action="store_true", help="one line per strategy: name, tasks, protocols, summary")
    a = ap.parse_args(argv)
    chosen = names(protocol=a.protocol, task=a.task, role=a.role)
    if a.describe:
        for n in chosen:
            d = describe(n)
            print(f"{n:<17} {'/'.join(d.tasks):<26} {'/'.join(d.protocols):<13} {d.summary}")
    else:
        print(" ".join(chosen))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
