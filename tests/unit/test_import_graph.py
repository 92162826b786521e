"""No import cycle among grokscope's modules, read from the source (nothing is imported).

**The graph.** A node is a module: ``grokscope/a/_b.py`` is ``grokscope.a._b``, and a package's
``__init__.py`` is the package itself, ``grokscope.a``. Every ``import`` and ``from ... import``
anywhere in a module's source is an edge from that module — at the top, inside a function, a
``try`` or an ``if TYPE_CHECKING:`` block alike. (A ``TYPE_CHECKING`` import does not run, but it
still says that one module's definitions depend on the other's; a layering that needs one to
hide a cycle is the coupling this test exists to catch, so it counts.) The edge goes to the
module the statement *names*:

* ``import grokscope.a._b`` and ``from grokscope.a._b import f`` -> ``grokscope.a._b``;
* ``from grokscope.a import _b`` where ``_b`` is a submodule -> ``grokscope.a._b``;
* ``from grokscope.a import f`` where ``f`` is not a submodule, and ``import grokscope.a``
  -> ``grokscope.a`` (the package's ``__init__``);
* relative imports are resolved against the importing module's package first.

Python also runs the parent packages' ``__init__`` on the way to ``grokscope.a._b``; those
implicit steps are *not* edges. Counting them would make every package whose ``__init__``
re-exports its private modules (``grokscope.a -> grokscope.a._b``) a "cycle" with each of those
modules that imports a sibling by its full name — a dependency on ``_b``, not on ``a``'s
public face. A submodule that imports a sibling *through the package* (``from grokscope.a
import g``) does depend on the ``__init__``, and that edge is counted.

**A cycle** is a closed path of such edges between two or more modules: a strongly connected
component of the graph with more than one node. (A module naming itself is not a dependency.)
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def module_names(root: Path, package: str) -> dict[str, Path]:
    """``{dotted module name: file}`` of every ``.py`` under ``root/package``."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _named_module(name: str, modules: dict[str, Path]) -> str | None:
    """``name`` if it is one of ours, else its longest prefix that is (``None`` for other packages)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_edges(modules: dict[str, Path]) -> dict[str, dict[str, int]]:
    """``{module: {imported module: line of the first such import}}`` by the rules of the docstring."""
    edges: dict[str, dict[str, int]] = {}
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        out = edges.setdefault(mod, {})

        def add(target: str | None, line: int) -> None:
            if target is not None and target != mod:
                out.setdefault(target, line)

        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(_named_module(alias.name, modules), node.lineno)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    add(sub if sub in modules else _named_module(base, modules), node.lineno)
    return edges


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # recursion depth is bounded by the number of modules (~150)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


def one_cycle(comp: list[str], edges: dict[str, dict[str, int]], modules: dict[str, Path], root: Path) -> str:
    """A closed path through ``comp``'s first module, each step with the importing file:line."""
    members = set(comp)
    start = comp[0]
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:  # breadth first: the shortest way back to start
        nxt = []
        for v in frontier:
            for w in sorted(edges[v]):
                if w in members and w not in prev:
                    prev[w] = v
                    nxt.append(w)
        if start in prev:
            break
        frontier = nxt
    path = [start]
    while True:
        path.append(prev[path[-1]])
        if path[-1] == start:
            break
    path.reverse()
    steps = [f"{a} -> {b}  ({modules[a].relative_to(root).as_posix()}:{edges[a][b]})" for a, b in zip(path, path[1:])]
    return "\n    ".join(steps)


def describe(found: list[list[str]], edges, modules, root: Path) -> str:
    return "\n".join(f"cycle among {', '.join(c)}:\n    {one_cycle(c, edges, modules, root)}" for c in found)


# -- the checker, on small packages whose cycles are known ---------------------------------------
def _tree(tmp_path: Path, files: dict[str, str]) -> dict[str, dict[str, int]]:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return import_edges(module_names(tmp_path, "pkg"))


def test_edges_follow_the_rules(tmp_path):
    edges = _tree(tmp_path, {
        "pkg/__init__.py": "from pkg.sub import f\n",
        "pkg/sub/__init__.py": "from ._a import f\nfrom . import _b\n",
        "pkg/sub/_a.py": "import os\n\ndef f():\n    from ..other import g\n    return g\n",
        "pkg/sub/_b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import other\n",
        "pkg/other.py": "import pkg.sub._a as a\nfrom pkg.sub import f\nfrom pkg.sub._b import *\n",
    })
    assert edges == {
        "pkg": {"pkg.sub": 1},
        "pkg.sub": {"pkg.sub._a": 1, "pkg.sub._b": 2},
        "pkg.sub._a": {"pkg.other": 4},                                  # inside a function, relative
        "pkg.sub._b": {"pkg.other": 3},                                  # TYPE_CHECKING, a submodule by name
        "pkg.other": {"pkg.sub._a": 1, "pkg.sub": 2, "pkg.sub._b": 3},   # a name through the package -> __init__
    }


def test_cycles_are_found_exactly(tmp_path):
    files = {
        "pkg/__init__.py": "",
        "pkg/a/__init__.py": "from pkg.a._x import X\nfrom pkg.a._y import Y\n",
        "pkg/a/_x.py": "from pkg.a._y import Y\n",          # sibling by full name: no cycle with the __init__
        "pkg/a/_y.py": "Y = 1\n",
        "pkg/b.py": "def f():\n    from pkg.c import g\n",
        "pkg/c.py": "from pkg import b\n",
    }
    edges = _tree(tmp_path, files)
    modules = module_names(tmp_path, "pkg")
    found = cycles(edges)
    assert found == [["pkg.b", "pkg.c"]]
    assert one_cycle(found[0], edges, modules, tmp_path).splitlines() == [
        "pkg.b -> pkg.c  (pkg/b.py:2)", "    pkg.c -> pkg.b  (pkg/c.py:1)"]
    (tmp_path / "pkg/a/_y.py").write_text("from pkg.a import X\n")  # through the package: a real cycle
    assert cycles(import_edges(module_names(tmp_path, "pkg"))) == [["pkg.a", "pkg.a._x", "pkg.a._y"], ["pkg.b", "pkg.c"]]


def test_one_cycle_names_each_step(tmp_path):
    edges = _tree(tmp_path, {"pkg/__init__.py": "", "pkg/p.py": "import pkg.q\n", "pkg/q.py": "\n\nfrom . import r\n",
                             "pkg/r.py": "from .p import z\n"})
    modules = module_names(tmp_path, "pkg")
    (comp,) = cycles(edges)
    text = one_cycle(comp, edges, modules, tmp_path)
    assert text.splitlines()[0] == "pkg.p -> pkg.q  (pkg/p.py:1)"
    assert [line.strip().split("  ")[0] for line in text.splitlines()] == ["pkg.p -> pkg.q", "pkg.q -> pkg.r", "pkg.r -> pkg.p"]
    assert "pkg/q.py:3" in text


# -- grokscope itself ------------------------------------------------------------------------------
def test_grokscope_has_no_import_cycle():
    modules = module_names(SRC, "grokscope")
    assert "grokscope.sweep._executor" in modules and "grokscope" in modules  # the walk saw the tree
    edges = import_edges(modules)
    found = cycles(edges)
    assert not found, "import cycles (edges: importer -> imported, file:line):\n" + describe(found, edges, modules, SRC)
