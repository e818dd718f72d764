"""escalation.md: the escalation document as ticket text, ready to paste.

Rendered from the (already redacted) escalation.json document, never from logs: what
failed, the escalation fields of 5-troubleshooting.txt per bundle, the diagnosis (its lead
first, as every renderer does) and the curl repro. Public surface: `ticket_markdown`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from redcloud_check.reporting.diagnosis import guide_rows, lead_of
from redcloud_check.reporting.replay import ticket_lines as replay_lines
from redcloud_check.reporting.root_cause_view import ticket_lines as root_cause_lines
from redcloud_check.reporting.webhook_evidence import ticket_lines

__all__ = ["ticket_markdown"]


def _cell(value: Any) -> str:
    text = "—" if value in (None, "") else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _fence(text: str, lang: str = "") -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{lang}\n{text}\n{fence}"


def _yes_no(value: Any) -> str:
    return {True: "yes", False: "no", None: "unknown"}.get(value, str(value))


def _token(esc: Mapping[str, Any]) -> str:
    fresh = _yes_no(esc.get("token_fresh"))
    age = esc.get("token_age_s")
    return f"{fresh} (token age {age:g} s)" if isinstance(age, int | float) else fresh


def _collapsed(events: list[Mapping[str, Any]]) -> list[str]:
    """Timeline rows as lines; a row repeated back to back is one line with a count."""
    lines: list[str] = []
    previous, count = None, 0
    for e in [*events, None]:
        key = None if e is None else (e.get("eventType"), e.get("sequence"), e.get("verified"),
                                      e.get("note"))
        if key == previous and e is not None:
            count += 1
            continue
        if previous is not None:
            lines[-1] += f" (x{count})" if count > 1 else ""
        if e is not None:
            lines.append(f"- {e.get('offset_ms', 0):+.0f} ms {e.get('eventType') or 'unattributed'}"
                         f" (sequence {e.get('sequence')}, "
                         f"{'verified' if e.get('verified') else 'UNVERIFIED'})"
                         + (f" — {e['note']}" if e.get("note") else ""))
        previous, count = key, 1
    return lines


# a bundle's kind in words that accuse no side (the side is its root cause's, with proof)
_KIND_WORDS = {"nonconformance": "an expectation of the docs not met",
               "unreachable": "no HTTP answer", "config_error": "a configuration error",
               "suite_error": "an error of redcloud-check's own"}


def _bundle(i: int, b: Mapping[str, Any], shown: set[str]) -> list[str]:
    check, esc, diag = b["check"], b["escalation"], b["diagnosis"]
    stage = f"stage {check['stage']}" if check.get("stage") else "no stage"
    gate = ", the stage's gate" if check.get("gate") else ""
    ident = f"{b['checkId']} " if b.get("checkId") else ""
    lines = [f"### {i}. {ident}{b['title']}", "",
             f"- Check: {ident}`{check['nodeid']}` ({stage}{gate}; "
             f"{_KIND_WORDS.get(b['kind'], b['kind'])})"]
    if check.get("statement"):
        lines.append(f"- Rule: {check['statement']}")
    clause = b.get("failure_clause") or check.get("clause")
    if clause:
        lines.append(f"- Doc clause: {clause}")
    lines += [f"- Expected: {b['expected']}", f"- Actual: {b['actual']}", "",
              "Escalation fields (5-troubleshooting.txt, What to capture before escalation):", "",
              f"- requestId: **{_cell(esc.get('requestId'))}**",
              f"- traceparent (W3C trace context): {_cell(esc.get('traceparent'))}",
              f"- Endpoint called: {_cell(esc.get('endpoint'))} ({_cell(esc.get('url'))})",
              f"- HTTP status: {_cell(esc.get('http_status'))}"
              + (f" {esc['error_code']}" if esc.get("error_code") else ""),
              f"- The API said: {_cell(esc.get('api_said'))}",
              f"- Request timestamp (UTC): {_cell(esc.get('request_timestamp'))}",
              f"- Token freshly acquired: {_token(esc)}",
              f"- Reproduces consistently: {esc['reproduces']['note']}",
              f"- messageId: {_cell(esc.get('messageId'))}",
              f"- Request headers sent: {', '.join(esc.get('request_header_names') or []) or '—'}",
              "- Request payload shape (no values):", ""]
    shape = esc.get("payload_shape")
    lead = lead_of(diag)
    lines += [_fence(json.dumps(shape, indent=2) if shape is not None else "(no body)", "json"),
              "", f"Diagnosis — cause `{lead['cause']}`:", "",
              f"- {'Found' if lead['source'] == 'finding' else 'Likely'}: {lead['summary']}",
              f"- Next: {lead['next_action']} ({lead['reference']})", "",
              f"Guide — {diag['symptom']} ({diag['section']}):", ""]
    lines += [f"- {label}: {text}" for label, text in guide_rows(diag)]
    for timeline in b.get("timeline") or []:
        if timeline["messageId"] in shown:
            continue  # each message's lifecycle once per ticket
        shown.add(timeline["messageId"])
        lines += ["", f"Lifecycle events received for {timeline['messageId']}:", ""]
        lines += _collapsed(timeline["events"]) or ["- none"]
    if b.get("curl"):
        to = ", RC_TO" if "${RC_TO}" in b["curl"] else ""
        lines += ["", f"Reproduce (set RC_CLIENT_ID, RC_CLIENT_SECRET, RC_ACCESS_TOKEN{to} "
                  "first):", "", _fence(b["curl"], "sh")]
    return [*lines, ""]


def ticket_markdown(doc: Mapping[str, Any]) -> str:
    """The ticket text for an escalation.json document."""
    run, summary = doc["run"], doc["summary"]
    target = run.get("target") or "unknown"
    if run.get("embedded"):
        target = f"embedded simulator at {target}"
    versions = ", ".join(f"{k} {v}" for k, v in run["versions"].items())
    verdict = summary.get("headline") or summary["verdict"]
    lines = [*replay_lines(doc),  # a replay opens with its verdict: "Re-run of <id>: ..."
             f"# redcloud-check: {verdict} (run {run['run_id']})", "",
             f"- Target: {target}", f"- Client id: {_cell(run.get('client_id'))}",
             f"- Number id: {_cell(run.get('number_id'))}",
             f"- Started / finished (UTC): {run['started_at']} / {run['finished_at']}",
             f"- Versions: {versions}", f"- Exit status: {_cell(run.get('exit_status'))}"]
    if run.get("traceId"):
        lines.append(f"- Trace: `{run['traceId']}` (every request of the run carried a W3C "
                     f"traceparent: ask Red Cloud to look up trace {run['traceId']})")
    lines.append("")
    lines += root_cause_lines(summary.get("rootCauses") or [])
    config = summary.get("config_error")
    if config:
        diag = config["diagnosis"]
        lines += ["## Configuration error", "",
                  f"- Setting: `{config['setting']}`", f"- Problem: {config['message']}",
                  f"- Best next action: {diag['next_action']}", "- Nothing was sent.", ""]
    if summary.get("unreachable"):
        lines += [f"**Target unreachable:** {summary['unreachable']}", ""]
    if summary.get("misrouted"):
        lines += [f"**Webhooks misrouted:** {summary['misrouted']}", ""]
    c = summary["counts"]
    lines += ["## Stages", "",
              f"{c['passed']} passed, {c['failed']} failed, {c['blocked']} blocked, "
              f"{c['skipped']} skipped of {c['total']} checks.", "",
              "| stage | verdict | note |", "| --- | --- | --- |"]
    for s in summary["stages"]:
        note = s.get("reason") or (f"gate failed: {s['gate_failed']}" if s.get("gate_failed")
                                   else "")
        lines.append(f"| {_cell(s['title'])} | {s['verdict']} | {_cell(note)} |")
    lines.append("")
    if summary["warnings"]:
        lines += ["## Warnings (not failures: the docs do not state these)", ""]
        lines += [f"- **{w['title']}** — {w['detail']} ({w['clause']})"
                  for w in summary["warnings"]]
        lines.append("")
    waived = (summary.get("waivers") or {}).get("waived") or []
    if waived:
        lines += ["## Waived (known deviations, accepted until their date)", ""]
        lines += [f"- `{w['nodeid']}`: {w['reason']} (until {w['expires']}; {w['waiver']})"
                  for w in waived]
        lines.append("")
    drift = (summary.get("drift") or {}).get("undocumented") or []
    if drift:
        lines += [f"Drift: {len(drift)} undocumented field(s) seen (not failures), e.g. "
                  + ", ".join(f"`{u['path']}` in {u['endpoint']}" for u in drift[:3]), ""]
    lines += ticket_lines(doc.get("webhooks"))
    if doc["bundles"]:
        lines += ["## Failures", ""]
        shown: set[str] = set()
        for i, bundle in enumerate(doc["bundles"], 1):
            lines += _bundle(i, bundle, shown)
    return "\n".join(lines).rstrip() + "\n"
