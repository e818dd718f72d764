"""The run's verdict and exit code, computed from the ledger in one place.

    summarize(results, ...)   per-stage verdicts, counts, what blocked what, the headline and
                              the warnings: the `summary` of escalation.json, which the
                              terminal, report.html, the ticket and history render
    headline(verdict, stages) the verdict in one line, saying exactly what was proven
    exit_code(ledger, ...)    the command's exit code (core.exit_codes' table)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from redcloud_check.core.errors import ConfigError, RedcloudCheckError
from redcloud_check.core.exit_codes import ExitCode, from_pytest
from redcloud_check.core.findings import Finding
from redcloud_check.results.ledger import CheckResult, Outcome, RootCause, RunLedger
from redcloud_check.rules.stages import STAGES, blocked_reason, stage_index

__all__ = ["DESELECTED", "counts", "exit_code", "headline", "summarize"]

DESELECTED = "deselected (-k, -m, --deselect, --rc-checks or a replay)"
NOT_RUN = (Outcome.SKIPPED, Outcome.BLOCKED)


def counts(results: Iterable[CheckResult]) -> dict[str, int]:
    tally = {"passed": 0, "failed": 0, "skipped": 0, "blocked": 0, "waived": 0,
             "inconclusive": 0, "total": 0}
    for r in results:
        tally["total"] += 1
        key = "failed" if r.failing else r.outcome.value
        tally[key if key in tally else "passed"] += 1
    return tally


def _blocked(stage: str) -> tuple[str, str]:
    return blocked_reason(stage), f"blocked by {stage}"


def _short(result: CheckResult) -> str:
    if result.blocked_by:
        return f"blocked by {result.blocked_by}"
    return result.skip.label if result.skip is not None else "not run"


def _stage_row(stage_name: str, checks: list[CheckResult],
               gates_failed: Mapping[str, str], deselected: int = 0) -> dict[str, Any]:
    info = STAGES[stage_index(stage_name)]
    earlier = [s.name for s in STAGES[:stage_index(stage_name)] if s.name in gates_failed]
    blocked_by, reason, short, verdict = None, None, None, "not_run"
    gate = next((c for c in checks if c.spec.gate), None)
    if any(c.failing for c in checks):
        verdict = "failed"
    elif any(c.outcome is Outcome.INCONCLUSIVE for c in checks):
        verdict, reason, short = "inconclusive", next(
            c.reason for c in checks if c.outcome is Outcome.INCONCLUSIVE), "rate-limited"
    elif checks and all(c.outcome in NOT_RUN for c in checks):
        blocker = next((c for c in checks if c.blocked_by), None)
        verdict = "blocked" if blocker else "skipped"
        blocked_by = blocker.blocked_by if blocker else None
        first = blocker or checks[0]
        reason, short = first.reason, _short(first)
    elif checks and gate is None and deselected:
        verdict, reason, short = "skipped", f"its gate check was {DESELECTED}", "deselected"
    elif checks and gate is not None and gate.outcome in NOT_RUN:
        # what the stage proves did not run: not passed
        verdict = "blocked" if gate.blocked_by else "skipped"
        blocked_by, reason, short = gate.blocked_by, gate.reason, _short(gate)
    elif any(c.outcome is Outcome.WAIVED for c in checks):
        verdict = "waived"  # failed under a valid waiver: neither a failure nor a block
    elif checks:
        verdict = "passed"  # at least one check of the stage passed: it ran
        skipped = [c for c in checks if c.outcome in NOT_RUN]
        if skipped or deselected:
            why = skipped[0].reason if skipped else DESELECTED
            n = f"{len(skipped) + deselected} of {len(checks) + deselected} checks not run"
            reason = f"{n}: {why}"
            short = f"{n}: {_short(skipped[0]) if skipped else 'deselected'}"
    elif earlier:
        verdict, blocked_by = "blocked", earlier[0]
        reason, short = _blocked(earlier[0])
    elif deselected:
        reason, short = DESELECTED, "deselected"
    tally = {**counts(checks), "deselected": deselected}
    return {"name": info.name, "title": info.title, "verdict": verdict, "gate": info.gate,
            "gate_failed": gates_failed.get(stage_name), "counts": tally,
            "blocked_by": blocked_by, "reason": reason, "short": short}


def headline(verdict: str, stages: Sequence[Mapping[str, Any]]) -> str:
    """The verdict in one line, saying exactly what was proven: "passed" alone only when
    every check of every stage ran and passed; otherwise the stages that passed and the
    ones (or the checks) that did not run, with why."""
    if verdict == "passed":
        return verdict
    parts = [f"{label}: {', '.join(names)}"
             for label in ("failed", "inconclusive", "passed", "waived")
             if (names := [s["name"] for s in stages if s["verdict"] == label])]
    grouped: dict[str, list[str]] = {}
    for s in stages:
        if s["verdict"] in ("blocked", "skipped", "not_run"):
            grouped.setdefault(s.get("short") or "not run", []).append(s["name"])
    why = [f"{', '.join(names)} ({reason})" for reason, names in grouped.items()]
    partly = [f"{s['name']} ({s.get('short') or s['reason']})" for s in stages
              if s["verdict"] == "passed" and s["reason"]]
    parts += [f"not run: {', '.join(why)}"] if why else []
    parts += [f"some checks not run: {', '.join(partly)}"] if partly else []
    return f"{verdict} — " + "; ".join(parts)


def _warning(f: Finding) -> dict[str, Any]:
    return {"severity": f.severity, "title": f.title, "detail": f.detail, "clause": f.clause,
            "check": f.check, "stage": f.stage}


def summarize(results: Sequence[CheckResult], *, findings: Iterable[Finding] = (),
              gates_failed: Mapping[str, str] | None = None, unreachable: str | None = None,
              config_error: ConfigError | None = None, interrupted: bool = False,
              waivers: Mapping[str, Any] | None = None,
              drift: Sequence[Mapping[str, Any]] = (),
              deselected: Mapping[str, int] | None = None,
              misrouted: str | None = None,
              config_diagnosis: Mapping[str, Any] | None = None,
              root_causes: Sequence[RootCause] = ()) -> dict[str, Any]:
    """Per-stage verdicts, counts, what blocked what, and the warnings. `misrouted`: a
    number's webhook override left pointing at a listener of ours that is gone."""
    gates = dict(gates_failed or {})
    off = dict(deselected or {})
    stages = [_stage_row(s.name, [r for r in results if r.stage == s.name], gates,
                         off.get(s.name, 0)) for s in STAGES]
    tally = counts(results)
    if config_error is not None:
        verdict = "misconfigured"
    elif interrupted:
        verdict = "interrupted"  # Ctrl-C or SIGTERM: whatever passed says nothing of the rest
    elif unreachable:
        verdict = "unreachable"
    elif misrouted:
        verdict = "unhealthy"  # production delivery events go nowhere, whatever passed
    elif tally["failed"]:
        verdict = "failed"
    elif tally["inconclusive"]:
        verdict = "inconclusive"  # rate-limited past RC_RETRY_BUDGET: nothing failed
    elif tally["blocked"]:
        verdict = "blocked"
    elif all(st["verdict"] in ("passed", "waived") and not st["reason"] for st in stages):
        verdict = "passed"  # every check of every stage ran
    else:
        verdict = "partial" if tally["passed"] + tally["waived"] else "not_run"
    config = None
    if config_error is not None:
        config = {"setting": config_error.setting, "problem": config_error.problem,
                  "hint": config_error.hint, "message": str(config_error),
                  "diagnosis": dict(config_diagnosis or {})}
    return {
        "verdict": verdict, "headline": headline(verdict, stages), "counts": tally,
        "rootCauses": [r.as_dict() for r in root_causes],
        "stages": stages,
        "blocked": [{"stage": s["name"], "blocked_by": s["blocked_by"], "reason": s["reason"]}
                    for s in stages if s["verdict"] == "blocked" and s["blocked_by"]],
        "warnings": [_warning(f) for f in findings],
        "config_error": config, "unreachable": unreachable, "misrouted": misrouted,
        "waivers": dict(waivers or {"file": None, "waived": [], "expired": [], "stale": []}),
        "drift": {"undocumented": [dict(u) for u in drift]},
    }


def exit_code(ledger: RunLedger, *, pytest_status: int, missing_artifacts: int = 0) -> int:
    """The run's exit code: what pytest itself ended with (interrupted, a usage error, no
    check selected, its own internal error), then missing evidence, then errors of ours,
    then the ledger's verdict: a failed check or a misrouted override is 1."""
    code = from_pytest(pytest_status)
    if code in (ExitCode.CONFIG_ERROR, ExitCode.INTERRUPTED_OR_DEGRADED):
        return code
    if missing_artifacts:
        return ExitCode.EVIDENCE_INCOMPLETE
    results = ledger.results()
    bugs = [r for r in results if r.outcome is Outcome.ERROR
            and not isinstance(r.problem, RedcloudCheckError)]
    if ledger.internal_errors() or bugs or code == ExitCode.INTERNAL_ERROR:
        return ExitCode.INTERNAL_ERROR
    if code == ExitCode.NO_CHECKS:
        return code
    if any(r.failing for r in results) or ledger.misrouted:
        return ExitCode.CHECK_FAILED
    if any(r.outcome is Outcome.INCONCLUSIVE for r in results):
        return ExitCode.INTERRUPTED_OR_DEGRADED  # inconclusive: rate-limited past the budget
    return ExitCode.OK
