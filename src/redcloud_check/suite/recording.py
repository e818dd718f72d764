"""From what one phase of a check did to its `CheckResult`, and the text a failure shows.

Plain functions of plain values (the hooks extract them from pytest's objects):

    result_of(spec, nodeid, name, phase, ...)  the check's result after that phase, or None
                                               when the phase decides nothing (a setup
                                               that passed, a teardown that passed)
    failure_text(result, diagnosis_lines)      the failure as the terminal, junit.xml and
                                               report.html show it (`FailureText`)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from redcloud_check.core.citation import quote
from redcloud_check.core.errors import (
    CheckFailure,
    RateLimited,
    RedcloudCheckError,
    TargetUnreachable,
)
from redcloud_check.core.waivers import Waiver, WaiverBook
from redcloud_check.results.catalog import CheckSpec
from redcloud_check.results.ledger import CheckResult, Outcome, Skip, SkipCode

__all__ = ["FailureText", "PhaseReport", "failure_text", "result_of"]

BLOCKING = (SkipCode.BLOCKED, SkipCode.UNREACHABLE)


@dataclass(frozen=True, slots=True)
class PhaseReport:
    """What pytest reported for one phase of a check, as plain values."""

    phase: str  # setup | call | teardown
    passed: bool
    failed: bool
    skipped: bool
    waived: bool  # skipped as pytest's xfail that a valid waiver put on the check
    problem: BaseException | None  # what the phase raised (a skip exception included)
    duration_s: float = 0.0


def _skip_of(problem: BaseException | None) -> tuple[Skip, str | None]:
    """The typed skip a check raised (suite.declare.skip), or pytest's own skip's text."""
    skip = getattr(problem, "skip", None)
    if isinstance(skip, Skip):
        return skip, getattr(problem, "blocked_by", None)
    text = getattr(problem, "msg", None) or str(problem or "")
    return Skip(SkipCode.OTHER, str(text)), None


def _failed_outcome(problem: BaseException | None) -> Outcome:
    """The API's failure (a broken rule, no answer), a rate limit past the budget
    (inconclusive), or the tool's own error."""
    if isinstance(problem, RateLimited):
        return Outcome.INCONCLUSIVE
    if isinstance(problem, CheckFailure | TargetUnreachable):
        return Outcome.FAILED
    if isinstance(problem, AssertionError):  # an assert in a check: a rule, not our error
        return Outcome.FAILED
    return Outcome.ERROR


def result_of(spec: CheckSpec, nodeid: str, name: str, report: PhaseReport, *,
              previous: CheckResult | None, waiver: Waiver | None,
              book: WaiverBook | None) -> CheckResult | None:
    """The check's result once `report`'s phase is known (None: nothing decided yet)."""
    base = CheckResult(spec, nodeid, name, Outcome.PASSED, waiver=waiver,
                       duration_s=report.duration_s, phase=report.phase)
    if report.phase == "teardown":
        if not report.failed or previous is None:
            return None
        return replace(previous, outcome=Outcome.ERROR, problem=report.problem,
                       phase="teardown", evidence=None)
    if report.skipped and report.waived and waiver is not None:
        return replace(base, outcome=Outcome.WAIVED, problem=report.problem,
                       waiver_use="waived")
    if report.skipped:
        skip, blocked_by = _skip_of(report.problem)
        outcome = Outcome.BLOCKED if skip.code in BLOCKING else Outcome.SKIPPED
        return replace(base, outcome=outcome, skip=skip, blocked_by=blocked_by)
    if report.failed:
        outcome = _failed_outcome(report.problem)
        if report.phase == "setup" and outcome is not Outcome.INCONCLUSIVE:
            outcome = Outcome.ERROR
        expired = (outcome is Outcome.FAILED and waiver is not None and book is not None
                   and not book.active(waiver))
        return replace(base, outcome=outcome, problem=report.problem,
                       waiver_use="expired" if expired else None)
    if report.phase != "call":
        return None
    return replace(base, waiver_use="stale" if waiver is not None else None)


@dataclass(frozen=True, slots=True)
class _Crash:
    message: str


class FailureText:
    """A failure's text as pytest shows a report's longrepr: the whole text in the failures
    section, junit.xml and report.html; `reprcrash.message` (the check's id and title) on the
    short summary line and as junit.xml's failure message."""

    def __init__(self, text: str, headline: str) -> None:
        self.text = text
        self.reprcrash = _Crash(headline)

    def __str__(self) -> str:
        return self.text

    def toterminal(self, tw: Any) -> None:
        for line in self.text.splitlines():
            tw.line(line)


def failure_text(result: CheckResult, diagnosis: Sequence[str] = (),
                 waiver_note: str | None = None) -> FailureText | None:
    """The text of a failed (or errored) check; None when pytest's own traceback says it
    better (a bug of ours in a check: the traceback is the evidence)."""
    problem, spec = result.problem, result.spec
    where = f"  check:    {spec.id} ({result.nodeid})"
    if isinstance(problem, CheckFailure):
        head, body = problem.title, f"{problem.message}\n{where}"
        said = quote(problem.exchange) if problem.exchange is not None else None
        if said:
            body += f"\n  api said: {said}"
    elif isinstance(problem, TargetUnreachable):
        head = f"Target unreachable ({problem.kind})"
        body = f"{head}: {problem.detail}\n{where}"
    elif isinstance(problem, RateLimited):
        head = f"Inconclusive: {problem}"
        body = f"{head}\n  (a rate limit is conformant: not a failure)\n{where}"
    elif isinstance(problem, RedcloudCheckError):
        head = f"{type(problem).__name__}: {problem}"
        body = (f"{head}\n  (redcloud-check could not run this check; not a finding about "
                f"the API)\n{where}")
    else:
        return None
    lines = [body, *diagnosis]
    if waiver_note:
        lines.append(f"  waiver:   {waiver_note}")
    return FailureText("\n".join(lines), f"{spec.id} {head}")
