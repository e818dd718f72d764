"""doctor's report: one document (schemas/reports/doctor.schema.json), printed as one JSON
line with --json, else as text for a person, both redacted. Rendered from the typed result
(`probe.doctor.DoctorResult`), never parsed back; a failure's lines are the diagnosis
pipeline's (`reporting.diagnosis.terminal_lines`).

    redcloud-check doctor: http://127.0.0.1:41237 (embedded simulator: no RC_BASE_URL)
    settings  RC_BASE_URL       unset (embedded simulator)
              RC_CLIENT_ID      rc_test_client_123 (default)
              ...
    client    rc_test_client_123  Red Cloud Test Client  ACTIVE
    numbers   numberId        E.164         status  SMS  MMS  delivery override
              num_abc123      +15551234567  ACTIVE  yes  yes  https://...   <- RC_NUMBER_ID
    RC_NUMBER_ID  num_abc123: usable (ACTIVE, smsEnabled)
    usable (exit 0): 3 requests, nothing sent or changed
    next      redcloud-check run   # the suite against the embedded simulator ...
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from redcloud_check.core.exit_codes import ExitCode

if TYPE_CHECKING:
    from redcloud_check.cli.doctor import Given, Step, Written
    from redcloud_check.probe.doctor import DoctorResult
    from redcloud_check.probe.doctor_numbers import NumberChoice, NumberRow

__all__ = ["document", "emit", "exit_code", "text_lines"]

_VERDICTS = {"usable": "usable (ACTIVE, smsEnabled)", "unset": "not set",
             "e164": "a phone number (E.164), not a numberId",
             "unlisted": "not one of the client's numbers", "not_usable": "cannot send SMS"}


def _number(row: NumberRow) -> dict[str, Any]:
    return {"numberId": row.number_id, "e164": row.e164, "status": row.status,
            "smsEnabled": row.sms_enabled, "mmsEnabled": row.mms_enabled,
            "webhookDeliveryOverride": row.delivery_override, "usable": row.usable,
            "why_not": row.why_not}


def _choice(choice: NumberChoice) -> dict[str, Any]:
    return {"given": choice.given or None, "verdict": choice.verdict,
            "number_id": choice.number_id, "suggested": choice.suggested}


def _problem(result: DoctorResult) -> dict[str, Any] | None:
    """The failure, its lead (what every renderer leads with: reporting.diagnosis) and the
    setting its cause names."""
    p = result.problem
    if p is None:
        return None
    from dataclasses import asdict

    from redcloud_check.reporting.diagnosis import one_line

    lead, cause = p.diagnosis.lead, p.diagnosis.cause
    return {"stage": p.stage, "title": p.title, "expected": p.expected, "actual": p.actual,
            "clause": p.clause, "http_status": p.http_status, "request_id": p.request_id,
            "cause": lead.cause, "side": cause.side if cause is not None else None,
            "setting": cause.setting if cause is not None else None, "lead": asdict(lead),
            "note": p.diagnosis.guide.note if lead.source == "guide" else "",
            "diagnosis": one_line(p.diagnosis)}


def exit_code(result: DoctorResult, written: Written | None) -> int:
    """doctor's exit code: a --write-env that failed is a configuration error (3)."""
    return int(ExitCode.CONFIG_ERROR) if written is not None and written.error else \
        result.exit_code


def document(result: DoctorResult, *, given: dict[str, Given] | None = None,
             written: Written | None = None, notes: Sequence[str] = (),
             steps: Sequence[Step] = ()) -> dict[str, Any]:
    """The machine-readable report (--json)."""
    from redcloud_check import __version__

    shown = [{"name": g.name, "value": g.value, "source": g.source, "secret": g.secret}
             for g in (given or {}).values()]
    client = result.client
    env_file = None if written is None else {
        "path": str(written.path), "error": written.error, "not_written": list(written.left_out),
        "created": bool(written.change and written.change.created),
        **{k: list(getattr(written.change, k, ()) or ()) for k in ("written", "unchanged",
                                                                   "placeholders")}}
    return {
        "doctor": "redcloud-check", "version": __version__, "status": result.status,
        "exit_code": exit_code(result, written),
        "target": result.target or None, "embedded": result.embedded,
        "duration_s": result.duration_s, "settings": shown,
        "client": None if client is None else {
            "apiClientId": client.client_id, "apiClientName": client.name,
            "apiClientStatus": client.status},
        "numbers": None if result.numbers is None else [_number(r) for r in result.numbers],
        "rc_number_id": None if result.number is None else _choice(result.number),
        "problem": _problem(result),
        "requests": [{"method": e.method, "path": e.path, "status": e.status,
                      "request_id": e.request_id if e.status else None,
                      "duration_ms": round(e.timings.total * 1000, 1)}
                     for e in result.requests],
        "env_file": env_file, "notes": list(notes),
        "next": [{"command": s.command, "why": s.why} for s in steps],
        "error": result.error}


def _yes(flag: bool | None) -> str:
    return "-" if flag is None else "yes" if flag else "no"


def _numbers(doc: dict[str, Any]) -> list[str]:
    rows = doc["numbers"]
    if rows is None:
        return []
    if not rows:
        return ["numbers   none: no number is assigned to this client"]
    given = (doc["rc_number_id"] or {}).get("number_id")
    table = [("numberId", "E.164", "status", "SMS", "MMS", "delivery override")] + [
        (r["numberId"], r["e164"] or "-", r["status"] or "-", _yes(r["smsEnabled"]),
         _yes(r["mmsEnabled"]), r["webhookDeliveryOverride"] or "-") for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    lines = []
    for i, row in enumerate(table):
        cells = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[5]
        mark = "   <- RC_NUMBER_ID" if i and rows[i - 1]["numberId"] == given else ""
        why = f"   cannot send SMS: {rows[i - 1]['why_not']}" if i and rows[i - 1]["why_not"] \
            else ""
        lines.append(("numbers   " if i == 0 else "          ") + cells + mark + why)
    return lines


def text_lines(doc: dict[str, Any]) -> list[str]:
    """The report for a person, from the document."""
    from redcloud_check.reporting.diagnosis import terminal_lines

    target = doc["target"] or "nothing was requested (configuration error)"
    lines = [f"redcloud-check doctor: {target}" + (" (embedded simulator: no RC_BASE_URL, "
                                                   "started for this check)"
                                                   if doc["embedded"] else "")]
    for i, s in enumerate(doc["settings"]):
        value = ("set" if s["source"] != "unset" else "unset") if s["secret"] else \
            (s["value"] or "unset")
        where = "the embedded simulator" if s["name"] == "RC_BASE_URL" and \
            s["source"] == "unset" else s["source"]
        shown = value if where == "unset" else f"{value} ({where})"
        lines.append(f"{'settings' if i == 0 else '':<10}{s['name']:<18}{shown}")
    client = doc["client"]
    if client is not None:
        lines.append(f"client    {client['apiClientId']}  {client['apiClientName']}  "
                     f"{client['apiClientStatus']}")
    lines += _numbers(doc)
    choice = doc["rc_number_id"]
    if choice is not None:
        said = f"{choice['given'] or '(unset)'}: {_VERDICTS[choice['verdict']]}"
        named, suggested = choice["number_id"], choice["suggested"]
        if named and named != choice["given"]:
            said += f"; its numberId is {named}" + ("" if named == suggested else
                                                     ", which cannot send SMS")
        if suggested:
            said += f"; use RC_NUMBER_ID={suggested}"
        lines.append(f"RC_NUMBER_ID  {said}")
    problem = doc["problem"]
    if problem is not None:
        lines.append(f"{problem['stage']}: {problem['title']}")
        if problem["expected"] is not None:
            lines.append(f"  expected:  {problem['expected']}")
        lines.append(f"  actual:    {problem['actual']}")
        lines += terminal_lines(problem, request_id=problem["request_id"])
    lines += _written(doc["env_file"]) + [f"note      {n}" for n in doc["notes"]]
    asked = ", ".join(f"{r['method']} {r['path']} {r['status'] or 'no answer'}"
                      for r in doc["requests"])
    verdict = doc["status"].replace("_", " ")
    lines.append(f"{verdict} (exit {doc['exit_code']})"
                 + (f" after {_requests(len(doc['requests']))} ({asked}); nothing sent or "
                    "changed" if doc["requests"] else "")
                 + (f": {doc['error']}" if doc["error"] and not problem else ""))
    for i, step in enumerate(doc["next"]):
        lines.append(f"{'next' if i == 0 else '':<10}{step['command']}   # {step['why']}")
    return lines


def _requests(count: int) -> str:
    return f"{count} request" + ("" if count == 1 else "s")


def _written(env_file: dict[str, Any] | None) -> list[str]:
    if env_file is None:
        return []
    if env_file["error"]:
        return [f"env file  not written: {env_file['error']}"]
    done = [*env_file["written"], *(f"{n}= (empty: fill it in)" for n in env_file["placeholders"])]
    said = (f"{'created' if env_file['created'] else 'updated'} {env_file['path']}: "
            + ", ".join(done)) if done else f"{env_file['path']}: nothing to change"
    return [f"env file  {said}", *(f"          left out {n}" for n in env_file["not_written"])]


def emit(args: argparse.Namespace, result: DoctorResult, secrets: Sequence[str],
         **context: Any) -> None:
    """Print the report (redacted: our own words kept, rules.schemas.report_vocabulary)."""
    from redcloud_check.core.redaction import redact
    from redcloud_check.rules.schemas import report_vocabulary

    doc = redact(document(result, **context), [s for s in secrets if s],
                 keep=report_vocabulary())
    if args.json:
        print(json.dumps(doc, separators=(",", ":"), ensure_ascii=False), flush=True)
        if result.status == "config_error":
            print(f"redcloud-check doctor: configuration error: {doc['error']}", file=sys.stderr)
        return
    print("\n".join(text_lines(doc)), flush=True)
