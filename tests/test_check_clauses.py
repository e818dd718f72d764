"""Each check states its doc clause once, in its declaration: its failures cite that clause
(or an alias of it), never another."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CHECKS = sorted((Path(__file__).resolve().parents[1] / "checks").glob("test_*.py"))


def _checks() -> list[tuple[str, ast.FunctionDef]]:
    return [(path.name, node) for path in CHECKS
            for node in ast.parse(path.read_text("utf-8")).body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]


@pytest.mark.parametrize(("module", "check"), _checks(), ids=lambda v: getattr(v, "name", v))
def test_failures_cite_the_declared_clause(module: str, check: ast.FunctionDef) -> None:
    [marker] = [ast.unparse(k.value) for d in check.decorator_list
                if isinstance(d, ast.Call) and ast.unparse(d.func) in ("check", "cases")
                for k in d.keywords if k.arg == "clause"]
    aliases = {ast.unparse(a.targets[0]) for a in ast.walk(check)
               if isinstance(a, ast.Assign) and ast.unparse(a.value) == marker}
    cited = {ast.unparse(k.value) for c in ast.walk(check) if isinstance(c, ast.Call)
             for k in c.keywords if k.arg == "clause"}
    assert cited <= {marker, *aliases}, f"{module}::{check.name} cites {cited}, marks {marker}"
