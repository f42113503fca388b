"""The import structure of lib/alnn: no cycles among its modules, and no module using another's private
(underscore) names.

Every import of an alnn module counts, wherever it stands (module level or inside a function):
``import alnn.x``, ``from alnn.x import y``, ``from alnn import x`` and relative imports. ``from
package import submodule`` is an edge to the submodule (not to the package's ``__init__``); importing a
name defined in a package's ``__init__`` is an edge to the package. A private name is one with a leading
underscore that is not a dunder: ``from alnn.x import _y`` and ``x._y`` (``x`` an alnn module bound by an
import) are uses across modules.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "lib"
PACKAGE = LIB / "alnn"


def module_paths() -> dict[str, Path]:
    """Every module of lib/alnn by dotted name (a package by its own name, for its ``__init__.py``)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(LIB).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = module_paths()


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _package_of(module: str) -> str:
    path = MODULES[module]
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _absolute(module: str, node: ast.ImportFrom) -> str | None:
    """The module an ImportFrom names, relative imports resolved."""
    if not node.level:
        return node.module
    base = _package_of(module).split(".")
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


class Imports:
    """What one module imports from alnn: the modules (edges), the names bound to alnn modules, and every
    private name it takes from another module (with its line)."""

    def __init__(self, module: str):
        self.module = module
        self.tree = ast.parse(MODULES[module].read_text(encoding="utf-8"), filename=str(MODULES[module]))
        self.edges: dict[str, int] = {}  # imported alnn module -> first line
        self.aliases: dict[str, str] = {}  # name in this module -> alnn module
        self.private: list[tuple[int, str]] = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name in MODULES:
                        self._edge(a.name, node.lineno)
                        if a.asname:
                            self.aliases[a.asname] = a.name
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(module, node)
                if source is None or source.split(".")[0] != "alnn":
                    continue
                for a in node.names:
                    sub = f"{source}.{a.name}"
                    if sub in MODULES:  # from package import submodule
                        self._edge(sub, node.lineno)
                        self.aliases[a.asname or a.name] = sub
                    else:
                        if source in MODULES:
                            self._edge(source, node.lineno)
                        if private(a.name) and source != module:
                            self.private.append((node.lineno, f"from {source} import {a.name}"))
        for node in ast.walk(self.tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in self.aliases and private(node.attr)
                    and self.aliases[node.value.id] != module):
                self.private.append((node.lineno, f"{node.value.id}.{node.attr} ({self.aliases[node.value.id]})"))

    def _edge(self, target: str, line: int) -> None:
        if target != self.module:
            self.edges.setdefault(target, line)


IMPORTS = {m: Imports(m) for m in MODULES}


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as one cycle through
    its members (a shortest way back to its first module), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    out = []
    for comp in sorted(comps):
        members = set(comp)
        start = comp[0]
        prev = {start: None}
        queue = [start]
        found = None
        while queue and found is None:  # breadth first from start back to start, inside the component
            v = queue.pop(0)
            for w in sorted(graph[v]):
                if w == start:
                    found = v
                    break
                if w in members and w not in prev:
                    prev[w] = v
                    queue.append(w)
        path = [found]
        while path[-1] != start:
            path.append(prev[path[-1]])
        out.append(path[::-1] + [start])
    return out


def describe(cycle: list[str]) -> str:
    steps = []
    for a, b in zip(cycle, cycle[1:]):
        steps.append(f"{a} -> {b} ({MODULES[a].relative_to(LIB.parent)}:{IMPORTS[a].edges[b]})")
    return "; ".join(steps)


def test_the_walk_sees_the_package():
    assert {"alnn", "alnn.cli", "alnn.report", "alnn.report.generate", "alnn.strategies.catalogue"} <= set(MODULES)
    assert "alnn.report.format" in IMPORTS["alnn.report.generate"].edges
    assert "alnn.report.latex" in IMPORTS["alnn.report.__main__"].edges


def test_the_checker_finds_a_cycle_and_a_private_use(tmp_path, monkeypatch):
    assert cycles({"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b": 1}, "b": {}}) == []
    pkg = tmp_path / "alnn"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "one.py").write_text("def f():\n    from alnn.two import _g\n    return _g()\n")
    (pkg / "two.py").write_text("from alnn import one as o\n\ndef _g():\n    return o._h\n")
    here = sys.modules[__name__]
    monkeypatch.setattr(here, "LIB", tmp_path)
    monkeypatch.setattr(here, "PACKAGE", pkg)
    monkeypatch.setattr(here, "MODULES", module_paths())
    one, two = Imports("alnn.one"), Imports("alnn.two")
    assert one.edges == {"alnn.two": 2} and two.edges == {"alnn.one": 1}
    assert one.private == [(2, "from alnn.two import _g")]
    assert two.private == [(4, "o._h (alnn.one)")]
    assert cycles({"alnn.one": one.edges, "alnn.two": two.edges}) == [["alnn.one", "alnn.two", "alnn.one"]]


def test_no_import_cycles():
    found = cycles({m: imp.edges for m, imp in IMPORTS.items()})
    assert not found, "import cycles among lib/alnn's modules:\n" + "\n".join(map(describe, found))


def test_no_private_names_across_modules():
    uses = [f"{MODULES[m].relative_to(LIB.parent)}:{line}: {what}"
            for m, imp in sorted(IMPORTS.items()) for line, what in sorted(imp.private)]
    assert not uses, "private names used across modules:\n" + "\n".join(uses)


def test_the_report_packages_leaves_import_none_of_it():
    """``constants`` and ``format`` import no module of alnn.report; ``queries``, the table queries the
    writers share, only ``format``; the package's ``__init__`` only the entry points' modules."""
    def report_imports(module):
        return {m for m in IMPORTS[module].edges if m.startswith("alnn.report.")}

    assert report_imports("alnn.report.constants") == set()
    assert report_imports("alnn.report.format") == set()
    assert report_imports("alnn.report.queries") == {"alnn.report.format"}
    assert report_imports("alnn.report") == {"alnn.report.constants", "alnn.report.context",
                                             "alnn.report.generate", "alnn.report.latex"}
