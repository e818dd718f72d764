"""Graded findings that are not failures.

The docs decide what fails. Where they are silent (Cache-Control on the token response,
a webhook timestamp far from now, a message.failed final event), the suite still says what
it saw, as a `Finding` of severity "warning" or "info". Findings never change the exit code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from redcloud_check.core.shared_log import SharedLog

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


class FindingLog(SharedLog[Finding]):
    """The run's findings (webhook threads add to it too)."""

    def warnings(self) -> list[Finding]:
        return [f for f in self.all() if f.severity == "warning"]
