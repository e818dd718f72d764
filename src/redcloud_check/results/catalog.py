"""The checks of the suite, known by stable ids: `RC-<STAGE>-<NN>`.

A check's id is declared once, with the check (`suite.declare.check`), and never reused for
another rule: junit.xml's `check_id` property, `checkId` in escalation.json, waivers, diff and
replay all use it. The stage is part of the id, so it is stated once too. A renamed function
keeps its id, as ruff's rule codes outlive their rules' names.

    CheckSpec          what a check is: id, title, clause, gate or not, grade
    spec_for(...)      a CheckSpec from a check function's declaration and docstring
    stage_of(id)       the stage an id belongs to ("RC-SEND-07" -> "send")
    CHECK_ID           the id pattern

Plain module: no pytest (the probe and the renderers use it too).
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import asdict, dataclass
from functools import cache
from importlib.resources import files
from typing import Any, Literal

from redcloud_check.rules.stages import STAGE_NAMES, STAGES, stage_index

__all__ = ["CATALOG_FILE", "CHECK_ID", "CheckSpec", "Grade", "catalog", "function_of",
           "id_of", "is_check_id", "row_of", "spec_for", "spec_of_id",
           "stage_of"]

CATALOG_FILE = "checks.json"  # next to this module: the catalog, generated from the checks

# fail: the docs state the rule; warning: the check only ever reports what the docs leave open
Grade = Literal["fail", "warning"]
CHECK_ID = re.compile(r"^RC-(" + "|".join(s.upper() for s in STAGE_NAMES) + r")-(\d{2})$")


def is_check_id(text: str) -> bool:
    return CHECK_ID.match(text) is not None


def stage_of(check_id: str) -> str:
    """The stage a check id names; ValueError for a malformed id."""
    match = CHECK_ID.match(check_id)
    if match is None:
        raise ValueError(f"{check_id!r} is not a check id (RC-<STAGE>-<NN>, stages "
                         f"{', '.join(s.upper() for s in STAGE_NAMES)})")
    return match.group(1).lower()


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One check of the suite, as its declaration states it."""

    id: str
    title: str  # the rule in one plain sentence (the docstring's first sentence)
    clause: str  # the doc clause it enforces (file and section)
    grade: Grade = "fail"
    statement: str = ""  # the whole docstring: the rule and how it is graded

    def __post_init__(self) -> None:
        stage_of(self.id)  # a malformed id is a bug in the suite: fail at import

    @property
    def stage(self) -> str:
        return stage_of(self.id)

    @property
    def gate(self) -> bool:
        """The stage's gate check (rules.stages names it by id): its failure blocks every
        later stage."""
        return STAGES[stage_index(self.stage)].gate_id == self.id

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "stage": self.stage, "gate": self.gate}


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    head, dot, _ = flat.partition(". ")
    return head + ("." if dot or not head.endswith(".") else "")


def spec_for(check_id: str, doc: str | None, *, clause: str, grade: Grade = "fail",
             case: str | None = None) -> CheckSpec:
    """The spec of a check function (its docstring gives the title and statement); `case`:
    for one case of a parametrized check, what that case sends, in plain words."""
    statement = inspect.cleandoc(doc) if doc else ""
    title = _first_sentence(statement.split("\n\n")[0]) if statement else check_id
    if case:
        title = f"{title.rstrip('.')}: {case}"
        statement = f"{statement}\n\nThis case: {case}." if statement else case
    return CheckSpec(check_id, title, clause, grade, statement)


@cache
def catalog() -> tuple[dict[str, Any], ...]:
    """Every check of the suite, as generated from the checks' declarations into
    checks.json (`tests/test_checks_catalog.py` keeps it current): id, stage, gate, title,
    clause, grade, statement, function. For what has no pytest to collect the checks with
    (the probe's waivers, replay, docs/checks.md)."""
    text = files("redcloud_check.results").joinpath(CATALOG_FILE).read_text("utf-8")
    return tuple(json.loads(text)["checks"])


@cache
def _by_id() -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in catalog()}


def row_of(check_id: str) -> dict[str, Any] | None:
    """The catalog's row of the check with `check_id` (None: no such check)."""
    return _by_id().get(check_id)


def spec_of_id(check_id: str) -> CheckSpec:
    """The spec of the check with `check_id`, from the catalog (KeyError: no such check)."""
    row = row_of(check_id)
    if row is None:
        raise KeyError(f"no check {check_id} in the catalog")
    return CheckSpec(row["id"], row["title"], row["clause"], row["grade"], row["statement"])


def id_of(function: str) -> str | None:
    """The id of the check whose function name (parameters included) is `function`."""
    return next((c["id"] for c in catalog() if c["function"] == function), None)


def function_of(check_id: str) -> str | None:
    """The function name of the check with `check_id` (parameters included for a case)."""
    row = row_of(check_id)
    return row["function"] if row is not None else None
