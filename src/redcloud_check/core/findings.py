"""Graded findings that are not failures.

The docs decide what fails. Where they are silent (Cache-Control on the token response,
a webhook timestamp far from now, a message.failed final event), the suite still says what
it saw, as a `Finding` of severity "warning" or "info". Findings never change the exit code.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

# The grades of the suite, written once (JSON-Schema-Test-Suite / Autobahn style): "fail"
# only where the docs state the rule; a `Finding` is one of the other two, never a failure.
Advisory = Literal["warning", "info"]
Severity = Literal["fail", Advisory]


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Advisory
    title: str
    detail: str
    clause: str
    check: str | None = None  # nodeid of the check that made it
    stage: str | None = None


class FindingLog:
    """Thread-safe list of findings (webhook threads add to it too)."""

    def __init__(self) -> None:
        self._items: list[Finding] = []
        self._lock = threading.Lock()

    def add(self, finding: Finding) -> None:
        with self._lock:
            self._items.append(finding)

    def all(self) -> list[Finding]:
        with self._lock:
            return list(self._items)

    def for_check(self, check: str) -> list[Finding]:
        return [f for f in self.all() if f.check == check]

    def warnings(self) -> list[Finding]:
        return [f for f in self.all() if f.severity == "warning"]
