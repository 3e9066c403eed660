"""The shape of the package: no module over 500 lines, no import cycle.

The import graph is read with `ast` from every .py file of distributor/, and
counts every import: at the top, inside functions, under `if TYPE_CHECKING:`.
Importing `a.b.c` imports the packages `a` and `a.b` too (their __init__ runs
first), and `from a.b import name` imports `a.b` and, when `name` is a module,
`a.b.name`.

One thing is not an edge: a module reaching a sibling *through* its own
package (`distributor.store.outbox` importing `distributor.store.db`, or
`from distributor.store import schema` when schema is a module). Python has
already begun that package before any module inside it runs, so nothing of
its __init__ is needed. Taking a *name* from one's own package's __init__
(`from distributor.store import utcnow` inside store/outbox.py) is an edge, and
the cycle it makes with an __init__ that imports the module is reported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "distributor"
MAX_LINES = 500

def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under the package `root`."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports (see the docstring)."""
    mods = modules(root)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            # (module imported, whether a name is taken from that module itself)
            targets: list[tuple[str, bool]] = []
            if isinstance(node, ast.Import):
                targets = [(a.name, True) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                submodules = [f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in mods]
                takes_names = len(submodules) < len(node.names)
                targets = [(s, True) for s in submodules] + [(source, takes_names)]
            for target, direct in targets:
                parts = target.split(".")
                for i in range(1, len(parts) + 1):
                    dep = ".".join(parts[:i])
                    if dep not in mods or dep == name:
                        continue
                    through_own_package = name.startswith(dep + ".") and not (dep == target and direct)
                    if not through_own_package:
                        graph[name].add(dep)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


# ------------------------------------------------------------------ the package


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_500_lines(path: Path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE.parent)} has {lines} lines (at most {MAX_LINES})"


def test_no_import_cycle_inside_the_package():
    cycle = find_cycle(import_graph(PACKAGE))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


# ------------------------------------------------------------------ the checker itself


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


@pytest.mark.parametrize("files, cycle", [
    # Inside a function, and only for type checking: both count.
    ({"pkg/__init__.py": "", "pkg/a.py": "def f():\n    from pkg.b import g\n",
      "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import f\n"},
     ["pkg.a", "pkg.b", "pkg.a"]),
    # A package's __init__ importing a module that takes a name from the __init__.
    ({"pkg/__init__.py": "from pkg.sub.m import x\n", "pkg/sub/__init__.py": "from pkg.sub.m import x\ny = 1\n",
      "pkg/sub/m.py": "x = 1\ndef f():\n    from pkg.sub import y\n"},
     ["pkg.sub", "pkg.sub.m", "pkg.sub"]),
    # Through another package's __init__: importing pkg.b.c runs pkg/b/__init__.py.
    ({"pkg/__init__.py": "", "pkg/a.py": "import pkg.b.c\n", "pkg/b/__init__.py": "from pkg import a\n",
      "pkg/b/c.py": ""},
     ["pkg.a", "pkg.b", "pkg.a"]),
    # Relative imports resolve like absolute ones.
    ({"pkg/__init__.py": "", "pkg/a.py": "from . import b\n", "pkg/b.py": "from .a import f\n"},
     ["pkg.a", "pkg.b", "pkg.a"]),
])
def test_the_checker_finds_cycles(tmp_path, files, cycle):
    assert find_cycle(import_graph(write(tmp_path, files))) == cycle


def test_the_checker_lets_a_module_reach_a_sibling_through_its_own_package(tmp_path):
    pkg = write(tmp_path, {
        "pkg/__init__.py": "from pkg.a import f\n",
        "pkg/a.py": "from pkg.b import g\nfrom pkg import c\n",
        "pkg/b.py": "g = 1\n",
        "pkg/c.py": "",
    })
    graph = import_graph(pkg)
    assert graph["pkg.a"] == {"pkg.b", "pkg.c"}
    assert find_cycle(graph) is None
