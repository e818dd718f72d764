"""The package's layers hold (docs/architecture.md): no import cycle at runtime, `core`
imports nothing else of ours, the simulator only itself and `core`.

Every import counts, at module level or inside a function, except one under
`if TYPE_CHECKING:` (never executed). Read from the source with `ast`: nothing is imported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import redcloud_check

PACKAGE = "redcloud_check"
ROOT = Path(redcloud_check.__file__).parent

ALLOWED_EDGES: frozenset[tuple[str, str]] = frozenset()  # no cycle is allowed
ALLOWED_OUT_OF_CORE: frozenset[tuple[str, str]] = frozenset()  # core imports only core


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement below `node` that can run: all but an `if TYPE_CHECKING:`
    body (its `else:` runs)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for branch in child.orelse:
                yield from _runtime_imports(ast.Module(body=[branch], type_ignores=[]))
        else:
            yield from _runtime_imports(child)


def _base(module: str, node: ast.ImportFrom) -> str:
    """The module an `from X import ...` names, relative levels resolved."""
    if not node.level:
        return node.module or ""
    package = module.split(".")
    if MODULES[module].name != "__init__.py":
        package = package[:-1]
    package = package[:len(package) - node.level + 1]
    return ".".join([*package, *([node.module] if node.module else [])])


def imports_of(module: str) -> set[str]:
    """The modules of ours `module` imports at runtime; `from a import b` is `a.b` when
    that is a module of ours, else `a`."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    targets: set[str] = set()
    for node in _runtime_imports(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = _base(module, node)
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                     for a in node.names]
        targets.update(n for n in names if n in MODULES and n != module)
    return targets


GRAPH = {module: imports_of(module) for module in MODULES}


def _cycle_through(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    """A shortest import path from `start` back to itself, or None."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for target in sorted(graph[module]):
                if target == start:
                    return [*paths[module], start]
                if target not in paths:
                    paths[target] = [*paths[module], target]
                    following.append(target)
        frontier = following
    return None


def test_the_import_reader_sees_function_level_imports_and_skips_type_checking() -> None:
    """The reader itself: plugin imports suite.run only under TYPE_CHECKING and
    suite.collection inside a function; the simulator's package imports its server only
    under TYPE_CHECKING and inside __getattr__."""
    assert "redcloud_check.suite.collection" in GRAPH["redcloud_check.plugin"]
    assert "redcloud_check.simulator.server" in GRAPH["redcloud_check.simulator"]
    assert "redcloud_check.core.exit_codes" in GRAPH["redcloud_check.cli"]
    assert len(MODULES) > 90


def test_no_import_cycle_at_runtime() -> None:
    graph = {m: {t for t in targets if (m, t) not in ALLOWED_EDGES}
             for m, targets in GRAPH.items()}
    cycles = {tuple(c) for m in sorted(graph) if (c := _cycle_through(m, graph))}
    shown = sorted({" -> ".join(c) for c in cycles if c[0] == min(c)})
    assert not shown, "import cycles at runtime:\n" + "\n".join(shown)


def _outside(module: str, allowed: tuple[str, ...]) -> list[str]:
    return sorted(t for t in GRAPH[module]
                  if not any(t == a or t.startswith(a + ".") for a in allowed))


def test_core_imports_nothing_of_ours_outside_core() -> None:
    wrong = {m: [t for t in _outside(m, ("redcloud_check.core",))
                 if (m, t) not in ALLOWED_OUT_OF_CORE]
             for m in MODULES if m.startswith("redcloud_check.core.") or m == "redcloud_check.core"}
    assert not {m: t for m, t in wrong.items() if t}


def test_the_simulator_imports_only_itself_and_core() -> None:
    allowed = ("redcloud_check.simulator", "redcloud_check.core")
    wrong = {m: _outside(m, allowed) for m in MODULES if m.startswith("redcloud_check.simulator")}
    assert not {m: t for m, t in wrong.items() if t}


def test_a_cycle_is_found_with_its_path() -> None:
    graph = {"a": {"b"}, "b": {"c", "d"}, "c": {"a"}, "d": set()}
    assert _cycle_through("a", graph) == ["a", "b", "c", "a"]
    assert _cycle_through("d", graph) is None
