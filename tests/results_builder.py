"""CheckResults for tests of what renders the ledger (summaries, artifacts, diff)."""

from __future__ import annotations

from redcloud_check.core.errors import CheckFailure
from redcloud_check.results.catalog import CheckSpec
from redcloud_check.results.ledger import CheckResult, Outcome, Skip, SkipCode
from redcloud_check.rules.stages import STAGES, stage_index

SENDS_DISABLED = Skip(SkipCode.SENDS_DISABLED,
                      "sending is disabled for a remote target: set RC_ALLOW_SEND=1",
                      "sending is disabled for a remote target")


def check_id(stage: str, n: int) -> str:
    return f"RC-{stage.upper()}-{n:02d}"


def result(stage: str, outcome: str, reason: str = "", *, n: int | None = None,
           blocked_by: str | None = None, gate: bool = True, name: str | None = None,
           skip: Skip | None = None) -> CheckResult:
    """One check's result: the stage's gate (`gate`) or another of its checks (`n`)."""
    gate_id = STAGES[stage_index(stage)].gate_id
    cid = gate_id if gate and n is None else check_id(stage, n if n is not None else 90)
    name = name or cid.lower()
    spec = CheckSpec(cid, f"{cid} title", "a clause")
    kind = Outcome(outcome)
    problem = None
    if kind is Outcome.FAILED:
        problem = CheckFailure(title=reason or "failed", expected="e", actual="a", clause="c")
    if kind in (Outcome.SKIPPED, Outcome.BLOCKED) and skip is None:
        code = SkipCode.BLOCKED if blocked_by else SkipCode.OTHER
        skip = Skip(code, reason, f"blocked by {blocked_by}" if blocked_by else "")
    return CheckResult(spec, f"c/{stage}.py::{name}", name, kind, problem=problem, skip=skip,
                       blocked_by=blocked_by)
