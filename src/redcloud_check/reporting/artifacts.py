"""The run's written artifacts: escalation.json, escalation.md, and junit.xml fallbacks.

Everything is built as JSON data first (`results.verdict.summarize`, `run_info`,
`escalation_document`),
redacted through `redaction.redact`, validated against
``schemas/reports/escalation.schema.json`` (2020-12; a failed validation is a bug in
redcloud-check and raises `EscalationSchemaError`), and only then written. The Markdown
ticket text is rendered from the same document (`ticket_markdown`).

`write_misconfigured` is what the core plugin calls on a configuration error: junit.xml
(one testcase "configuration" with an <error> naming the setting), escalation.json and
escalation.md, so junit.xml exists after every run.

Public surface: `SCHEMA_VERSION`, `EscalationSchemaError`, `check_rows`, `run_info`,
`versions`, `escalation_document`, `validate_escalation`, `write_escalation`, `write_junit`,
`write_misconfigured`, `ticket_markdown` (re-exported from `ticket`).
"""

from __future__ import annotations

import json
import platform
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from redcloud_check.core.config import env_secrets
from redcloud_check.core.errors import ConfigError
from redcloud_check.core.exit_codes import ExitCode
from redcloud_check.core.files import atomic_write
from redcloud_check.core.ids import new_run_id
from redcloud_check.core.redaction import Secrets, redact
from redcloud_check.core.timefmt import iso_utc
from redcloud_check.core.urls import without_userinfo
from redcloud_check.reporting.diagnosis import diagnose
from redcloud_check.reporting.ticket import ticket_markdown
from redcloud_check.results.ledger import CheckResult, Outcome
from redcloud_check.results.verdict import summarize
from redcloud_check.rules.schemas import report_vocabulary

__all__ = ["SCHEMA_VERSION", "EscalationSchemaError", "check_rows", "escalation_document",
           "run_info", "ticket_markdown", "validate_escalation", "versions",
           "write_escalation", "write_junit", "write_misconfigured"]

SCHEMA_VERSION = "1.0"


class EscalationSchemaError(ValueError):
    """escalation.json would not match its schema: a bug in redcloud-check."""


def versions() -> dict[str, str]:
    import pytest

    from redcloud_check import __version__

    return {"redcloud-check": __version__, "python": platform.python_version(),
            "pytest": pytest.__version__}


def run_info(*, run_id: str, started_at: float, finished_at: float | None = None,
             target: str | None, embedded: bool | None, client_id: str | None,
             number_id: str | None, exit_status: int | None,
             trace_id: str | None = None) -> dict[str, Any]:
    """escalation.json's `run`; `trace_id`: the W3C trace every request of the run carried
    (None: none was sent, RC_TRACEPARENT=0, or no request was made)."""
    return {"run_id": run_id, "started_at": iso_utc(started_at),
            "finished_at": iso_utc(time.time() if finished_at is None else finished_at),
            "target": target, "embedded": embedded, "client_id": client_id,
            "number_id": number_id, "traceId": trace_id, "versions": versions(),
            "exit_status": exit_status}


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


def _legacy(outcome: Outcome) -> str:
    """checks[].outcome as escalation.json has always spelled it: a blocked check is
    "skipped" (its blockedBy says by what)."""
    return "skipped" if outcome is Outcome.BLOCKED else outcome.value


def check_rows(checks: Sequence[CheckResult]) -> list[dict[str, Any]]:
    """escalation.json's checks[]: every check's id and outcome (what diff and replay read)."""
    return [{"checkId": c.check_id, "nodeid": c.nodeid, "name": c.name, "stage": c.stage,
             "outcome": _legacy(c.outcome), "reason": c.reason, "blockedBy": c.blocked_by}
            for c in checks]


def escalation_document(run: Mapping[str, Any], summary: Mapping[str, Any],
                        bundles: Sequence[Mapping[str, Any]], secrets: Secrets, *,
                        checks: Sequence[CheckResult] = (),
                        latency: Sequence[Mapping[str, Any]] = (),
                        webhooks: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The redacted escalation.json document (`write_escalation` validates it on the way
    out). `checks` (every check's outcome) and `latency` (per endpoint) are what
    `redcloud-check diff` compares between runs; `webhooks` is stage 5's evidence
    (`reporting.webhook_evidence.section`), when it ran."""
    doc = redact({"schemaVersion": SCHEMA_VERSION, "run": dict(run), "summary": dict(summary),
                  "bundles": [dict(b) for b in bundles],
                  "checks": check_rows(checks),
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


@dataclass(frozen=True, slots=True)
class JunitCase:
    """One testcase of a fallback junit.xml."""

    nodeid: str
    name: str
    outcome: str  # passed | failed | error | skipped | waived | blocked
    reason: str = ""
    check_id: str | None = None
    stage: str | None = None


def _junit_case(result: CheckResult) -> JunitCase:
    return JunitCase(result.nodeid, result.name, result.outcome.value, result.reason,
                     result.check_id, result.stage)


def write_junit(path: Path, results: Sequence[CheckResult | JunitCase], *,
                secrets: Secrets = (), suite: str = "redcloud-check") -> None:
    """A minimal JUnit XML file for runs where pytest's own junitxml wrote none."""
    root = ET.Element("testsuites")
    cases = [_junit_case(r) if isinstance(r, CheckResult) else r for r in results]
    failed = sum(1 for c in cases if c.outcome in ("failed", "error"))
    errors = sum(1 for c in cases if c.outcome == "error")
    skipped = sum(1 for c in cases if c.outcome in ("skipped", "blocked"))
    node = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)),
                         failures=str(failed - errors), errors=str(errors),
                         skipped=str(skipped), time="0")
    for case in cases:
        module, _, name = case.nodeid.rpartition("::")
        tc = ET.SubElement(node, "testcase", classname=module.replace("/", ".").removesuffix(
            ".py") or suite, name=name or case.name, time="0")
        if case.stage:
            props = ET.SubElement(tc, "properties")
            if case.check_id:
                ET.SubElement(props, "property", name="check_id", value=case.check_id)
            ET.SubElement(props, "property", name="rc_stage", value=case.stage)
        tag = {"failed": "failure", "error": "error", "skipped": "skipped", "blocked": "skipped",
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
    case = JunitCase(nodeid="redcloud-check::configuration", name="configuration",
                     outcome="error", reason=reason)
    write_junit(reports_dir / "junit.xml", [case], secrets=secrets)
    now = time.time()
    known = without_userinfo(target) if target and error.setting != "RC_BASE_URL" else None
    run = run_info(run_id=run_id or new_run_id(now), started_at=now, finished_at=now,
                   target=known, embedded=None if known is None else False, client_id=None,
                   number_id=None, exit_status=int(ExitCode.CONFIG_ERROR))
    summary = summarize([], config_error=error,
                        config_diagnosis=diagnose(error).as_dict())
    write_escalation(reports_dir, escalation_document(run, summary, [], secrets), secrets)
    from redcloud_check.reporting.history import record_run

    record_run(history_dir or reports_dir, run_id=run["run_id"], exit_code=run["exit_status"],
               summary=summary, latency=[])
