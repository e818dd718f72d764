"""The run's written artifacts: escalation.json, escalation.md, and junit.xml fallbacks.

Everything is built as JSON data first (`summarize`, `run_info`, `escalation_document`),
redacted through `redaction.redact`, validated against
``schemas/reports/escalation.schema.json`` (2020-12; a failed validation is a bug in
redcloud-check and raises `EscalationSchemaError`), and only then written. The Markdown
ticket text is rendered from the same document (`ticket_markdown`).

`write_misconfigured` is what the core plugin calls on a configuration error: junit.xml
(one testcase "configuration" with an <error> naming the setting), escalation.json and
escalation.md, so junit.xml exists after every run.

Public surface: `CheckOutcome`, `SCHEMA_VERSION`, `EscalationSchemaError`, `summarize`,
`run_info`, `versions`, `escalation_document`, `validate_escalation`, `write_escalation`,
`write_junit`, `write_misconfigured`, `ticket_markdown` (re-exported from `ticket`).
"""

from __future__ import annotations

import json
import platform
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from redcloud_check.core.config import env_secrets
from redcloud_check.core.errors import ConfigError
from redcloud_check.core.exit_codes import ExitCode
from redcloud_check.core.files import atomic_write
from redcloud_check.core.findings import Finding
from redcloud_check.core.ids import new_run_id
from redcloud_check.core.redaction import Secrets, redact
from redcloud_check.core.timefmt import iso_utc
from redcloud_check.core.urls import without_userinfo
from redcloud_check.reporting.diagnosis import diagnose
from redcloud_check.reporting.ticket import ticket_markdown
from redcloud_check.rules.schemas import report_vocabulary
from redcloud_check.rules.stages import STAGES, GateBoard, stage_index

__all__ = ["SCHEMA_VERSION", "CheckOutcome", "EscalationSchemaError", "escalation_document",
           "run_info", "summarize", "ticket_markdown", "validate_escalation", "versions",
           "write_escalation", "write_junit", "write_misconfigured"]

SCHEMA_VERSION = "1.0"
DESELECTED = "deselected (-k, -m or --deselect)"


class EscalationSchemaError(ValueError):
    """escalation.json would not match its schema: a bug in redcloud-check."""


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """The verdict of one check: passed | failed | error | skipped (with the reason).

    `blocked_by`: for a check skipped because an earlier gate failed, that stage's name
    ("target" when the target was unreachable); kept from the item, never parsed from text.
    """

    nodeid: str
    name: str
    stage: str | None
    gate: bool
    outcome: str
    reason: str = ""
    blocked_by: str | None = None


def versions() -> dict[str, str]:
    import pytest

    from redcloud_check import __version__

    return {"redcloud-check": __version__, "python": platform.python_version(),
            "pytest": pytest.__version__}


def _counts(outcomes: Iterable[CheckOutcome]) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "skipped": 0, "blocked": 0, "waived": 0, "total": 0}
    for o in outcomes:
        counts["total"] += 1
        if o.outcome in ("failed", "error"):
            counts["failed"] += 1
        elif o.outcome == "waived":
            counts["waived"] += 1
        elif o.outcome == "skipped":
            counts["blocked" if o.blocked_by else "skipped"] += 1
        else:
            counts["passed"] += 1
    return counts


def _stage_row(stage_name: str, checks: list[CheckOutcome],
               gates_failed: Mapping[str, str], deselected: int = 0) -> dict[str, Any]:
    info = STAGES[stage_index(stage_name)]
    earlier = [s.name for s in STAGES[:stage_index(stage_name)] if s.name in gates_failed]
    blocked_by, reason, verdict = None, None, "not_run"
    if any(c.outcome in ("failed", "error") for c in checks):
        verdict = "failed"
    elif checks and all(c.outcome == "skipped" for c in checks):
        blocker = next((c for c in checks if c.blocked_by), None)
        verdict = "blocked" if blocker else "skipped"
        blocked_by = blocker.blocked_by if blocker else None
        reason = (blocker or checks[0]).reason
    elif checks and (gate := _gate_not_run(checks, deselected)) is not None:
        verdict, blocked_by, reason = gate  # what the stage proves did not run: not passed
    elif any(c.outcome == "waived" for c in checks):
        verdict = "waived"  # failed under a valid waiver: neither a failure nor a block
    elif checks:
        verdict = "passed"  # at least one check of the stage passed: it ran
        skipped = [c for c in checks if c.outcome == "skipped"]
        if skipped or deselected:
            reason = (f"{len(skipped) + deselected} of {len(checks) + deselected} checks not "
                      f"run: {skipped[0].reason if skipped else DESELECTED}")
    elif earlier:
        verdict, blocked_by = "blocked", earlier[0]
        reason = GateBoard.skip_reason(earlier[0])
    elif deselected:
        reason = DESELECTED
    counts = {**_counts(checks), "deselected": deselected}
    return {"name": info.name, "title": info.title, "verdict": verdict, "gate": info.gate,
            "gate_failed": gates_failed.get(stage_name), "counts": counts,
            "blocked_by": blocked_by, "reason": reason}


def _gate_not_run(checks: list[CheckOutcome],
                  deselected: int) -> tuple[str, str | None, str] | None:
    """(verdict, blocked_by, reason) when the stage's gate check did not run although others
    did; None when it ran (or the stage has none)."""
    gate = next((c for c in checks if c.gate), None)
    if gate is None and deselected:
        return "skipped", None, f"its gate check was {DESELECTED}"
    if gate is None or gate.outcome != "skipped":
        return None
    return ("blocked" if gate.blocked_by else "skipped"), gate.blocked_by, gate.reason


def headline(verdict: str, stages: Sequence[Mapping[str, Any]]) -> str:
    """The verdict in one line, saying exactly what was proven: "passed" alone only when
    every check of every stage ran and passed; otherwise the stages that passed and the
    ones (or the checks) that did not run, with why."""
    if verdict == "passed":
        return verdict
    parts = [f"{label}: {', '.join(names)}" for label in ("failed", "passed", "waived")
             if (names := [s["name"] for s in stages if s["verdict"] == label])]
    grouped: dict[str, list[str]] = {}
    for s in stages:
        if s["verdict"] in ("blocked", "skipped", "not_run"):
            grouped.setdefault(_short(s["reason"]), []).append(s["name"])
    why = [f"{', '.join(names)} ({reason})" for reason, names in grouped.items()]
    partly = [f"{s['name']} ({_short(s['reason'])})" for s in stages
              if s["verdict"] == "passed" and s["reason"]]
    parts += [f"not run: {', '.join(why)}"] if why else []
    parts += [f"some checks not run: {', '.join(partly)}"] if partly else []
    return f"{verdict} — " + "; ".join(parts)


def _short(reason: str | None) -> str:
    """A reason up to its first colon ("blocked by numbers", "sending is disabled for a
    remote target"); "3 of 7 checks not run: ..." keeps its count and cause."""
    text = reason or "not run"
    head, _, rest = text.partition(": ")
    if head[:1].isdigit() and rest:
        return f"{head}: {_short(rest)}"
    return head.split(" (")[0].split(", ")[0]


def _warning(f: Finding) -> dict[str, Any]:
    return {"severity": f.severity, "title": f.title, "detail": f.detail, "clause": f.clause,
            "check": f.check, "stage": f.stage}


def summarize(outcomes: Sequence[CheckOutcome], *, findings: Iterable[Finding] = (),
              gates_failed: Mapping[str, str] | None = None, unreachable: str | None = None,
              config_error: ConfigError | None = None,
              interrupted: bool = False,
              waivers: Mapping[str, Any] | None = None,
              drift: Sequence[Mapping[str, Any]] = (),
              deselected: Mapping[str, int] | None = None,
              misrouted: str | None = None) -> dict[str, Any]:
    """Per-stage verdicts, counts, what blocked what, and the warnings. `misrouted`: a
    number's webhook override left pointing at a listener of ours that is gone."""
    gates = dict(gates_failed or {})
    off = dict(deselected or {})
    stages = [_stage_row(s.name, [o for o in outcomes if o.stage == s.name], gates,
                         off.get(s.name, 0)) for s in STAGES]
    counts = _counts(outcomes)
    if config_error is not None:
        verdict = "misconfigured"
    elif interrupted:
        verdict = "interrupted"  # Ctrl-C or SIGTERM: whatever passed says nothing of the rest
    elif unreachable:
        verdict = "unreachable"
    elif misrouted:
        verdict = "unhealthy"  # production delivery events go nowhere, whatever passed
    elif counts["failed"]:
        verdict = "failed"
    elif counts["blocked"]:
        verdict = "blocked"
    elif all(st["verdict"] in ("passed", "waived") and not st["reason"] for st in stages):
        verdict = "passed"  # every check of every stage ran
    else:
        verdict = "partial" if counts["passed"] + counts["waived"] else "not_run"
    config = None
    if config_error is not None:
        config = {"setting": config_error.setting, "problem": config_error.problem,
                  "hint": config_error.hint, "message": str(config_error),
                  "diagnosis": diagnose(config_error).as_dict()}
    return {
        "verdict": verdict, "headline": headline(verdict, stages), "counts": counts,
        "stages": stages,
        "blocked": [{"stage": s["name"], "blocked_by": s["blocked_by"], "reason": s["reason"]}
                    for s in stages if s["verdict"] == "blocked" and s["blocked_by"]],
        "warnings": [_warning(f) for f in findings],
        "config_error": config, "unreachable": unreachable, "misrouted": misrouted,
        "waivers": dict(waivers or {"file": None, "waived": [], "expired": [], "stale": []}),
        "drift": {"undocumented": [dict(u) for u in drift]},
    }


def run_info(*, run_id: str, started_at: float, finished_at: float | None = None,
             target: str | None, embedded: bool | None, client_id: str | None,
             number_id: str | None, exit_status: int | None) -> dict[str, Any]:
    return {"run_id": run_id, "started_at": iso_utc(started_at),
            "finished_at": iso_utc(time.time() if finished_at is None else finished_at),
            "target": target, "embedded": embedded, "client_id": client_id,
            "number_id": number_id, "versions": versions(), "exit_status": exit_status}


@cache
def _validator() -> Draft202012Validator:
    from redcloud_check.rules.schemas import schemas_dir

    path = schemas_dir() / "reports" / "escalation.schema.json"
    return Draft202012Validator(json.loads(path.read_text("utf-8")))


def validate_escalation(doc: Any) -> None:
    """Raise EscalationSchemaError listing every violation (none: valid)."""
    problems = sorted(_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    if problems:
        shown = "; ".join(f"/{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
                          for e in problems[:5])
        raise EscalationSchemaError(f"escalation.json breaks its schema ({shown})")


def escalation_document(run: Mapping[str, Any], summary: Mapping[str, Any],
                        bundles: Sequence[Mapping[str, Any]], secrets: Secrets, *,
                        checks: Sequence[CheckOutcome] = (),
                        latency: Sequence[Mapping[str, Any]] = (),
                        webhooks: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The redacted escalation.json document (`write_escalation` validates it on the way
    out). `checks` (every check's outcome) and `latency` (per endpoint) are what
    `redcloud-check diff` compares between runs; `webhooks` is stage 5's evidence
    (`reporting.webhook_evidence.section`), when it ran."""
    doc = redact({"schemaVersion": SCHEMA_VERSION, "run": dict(run), "summary": dict(summary),
                  "bundles": [dict(b) for b in bundles],
                  "checks": [{"nodeid": c.nodeid, "name": c.name, "stage": c.stage,
                              "outcome": c.outcome, "reason": c.reason} for c in checks],
                  "latency": [dict(row) for row in latency],
                  **({"webhooks": dict(webhooks)} if webhooks else {})}, secrets,
                 keep=report_vocabulary())
    return doc


def write_escalation(reports_dir: Path, doc: Mapping[str, Any], secrets: Secrets) -> None:
    """Write escalation.json and escalation.md (both redacted again, on the way out), once
    the document is valid (EscalationSchemaError otherwise, and nothing is written)."""
    clean = redact(dict(doc), secrets, keep=report_vocabulary())
    validate_escalation(clean)
    atomic_write(reports_dir / "escalation.json", json.dumps(clean, indent=2, ensure_ascii=False),
                 durable=False)
    atomic_write(reports_dir / "escalation.md", redact(ticket_markdown(clean), secrets),
                 durable=False)


def write_junit(path: Path, cases: Sequence[CheckOutcome], *, secrets: Secrets = (),
                suite: str = "redcloud-check") -> None:
    """A minimal JUnit XML file for runs where pytest's own junitxml wrote none."""
    root = ET.Element("testsuites")
    tally = _counts(cases)
    errors = sum(1 for c in cases if c.outcome == "error")
    node = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)),
                         failures=str(tally["failed"] - errors), errors=str(errors),
                         skipped=str(tally["skipped"] + tally["blocked"]), time="0")
    for case in cases:
        module, _, name = case.nodeid.rpartition("::")
        tc = ET.SubElement(node, "testcase", classname=module.replace("/", ".").removesuffix(
            ".py") or suite, name=name or case.name, time="0")
        if case.stage:
            props = ET.SubElement(tc, "properties")
            ET.SubElement(props, "property", name="rc_stage", value=case.stage)
        tag = {"failed": "failure", "error": "error", "skipped": "skipped",
               "waived": "skipped"}.get(case.outcome)
        if tag:
            message = redact(case.reason, secrets)
            child = ET.SubElement(tc, tag, message=message, type=tag)
            child.text = message
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def write_misconfigured(reports_dir: Path, error: ConfigError, *, run_id: str | None = None,
                        target: str | None = None, history_dir: Path | None = None) -> None:
    """junit.xml, escalation.json, escalation.md and a history.jsonl line (in
    `history_dir`, default `reports_dir`) for a run stopped by a setting.

    `target` is RC_BASE_URL as given, when it was: the bundle names it (without any
    user:password part) unless RC_BASE_URL itself is the setting at fault."""
    secrets = env_secrets()
    reason = f"configuration error: {error} (setting {error.setting}; nothing was sent)"
    case = CheckOutcome(nodeid="redcloud-check::configuration", name="configuration",
                        stage=None, gate=False, outcome="error", reason=reason)
    write_junit(reports_dir / "junit.xml", [case], secrets=secrets)
    now = time.time()
    known = without_userinfo(target) if target and error.setting != "RC_BASE_URL" else None
    run = run_info(run_id=run_id or new_run_id(now), started_at=now, finished_at=now,
                   target=known, embedded=None if known is None else False, client_id=None,
                   number_id=None, exit_status=int(ExitCode.CONFIG_ERROR))
    summary = summarize([], config_error=error)
    write_escalation(reports_dir, escalation_document(run, summary, [], secrets), secrets)
    from redcloud_check.reporting.history import record_run

    record_run(history_dir or reports_dir, run_id=run["run_id"], exit_code=run["exit_status"],
               summary=summary, latency=[])
