"""What a run prints in the terminal, rendered from the (redacted) summary and bundles.

`summary_lines` is the redcloud-check section of the terminal summary; `diagnosis_lines`
is what a failure shows after expected/actual: the requestId, what was found, what to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from redcloud_check.core.redaction import short_secret_note
from redcloud_check.reporting.diagnosis import terminal_lines
from redcloud_check.reporting.drift_view import drift_lines
from redcloud_check.reporting.root_cause_view import terminal_lines as root_cause_lines
from redcloud_check.reporting.waiver_view import waiver_lines

__all__ = ["diagnosis_lines", "show_summary", "summary_lines"]


def show_summary(terminalreporter: Any, data: Mapping[str, Any], bundles: int,
                 secret_settings: Sequence[tuple[str, str]],
                 exposure: tuple[str, str] | None = None, extra: Sequence[str] = ()) -> None:
    """Write the redcloud-check section of the terminal summary; a secret setting too short
    to be scrubbed from free text gets a warning naming it; `exposure`, when the run
    received webhooks, is (the URL the target was given, how it reaches the listener);
    `extra` lines come last (what the deliveries were, and an early stage-5 verdict)."""
    notes = [note for env, value in secret_settings if (note := short_secret_note(env, value))]
    headline, lines = summary_lines(data, bundles, notes)
    if exposure is not None:
        at = next(i for i, line in enumerate(lines) if line.startswith(
            f"  {data['stages'][-1]['name']:<9} "))
        lines.insert(at + 1, f"  webhooks: {exposure[0]} ({exposure[1]})")
    lines += extra
    terminalreporter.write_sep("=", headline)
    for line in lines:
        terminalreporter.write_line(line)


def summary_lines(data: Mapping[str, Any], bundles: int,
                  notes: Sequence[str] = ()) -> tuple[str, list[str]]:
    """(the headline, the lines under it): a misrouted webhook override, per-stage verdicts,
    warnings, bundle count, and `notes` about the run's own settings."""
    lines = root_cause_lines(data.get("rootCauses") or [])
    lines += [f"  unhealthy: {data['misrouted']}"] if data.get("misrouted") else []
    for s in data["stages"]:
        note = s["reason"] or (f"gate failed: {s['gate_failed']}" if s["gate_failed"] else "")
        lines.append(f"  {s['name']:<9} {s['verdict']:<8} {note}".rstrip())
    lines += [f"  {line}" for line in waiver_lines(data["waivers"])]
    lines += [f"  {w.get('severity') or 'warning'}: {w['title']} ({w['clause']})"
              for w in data["warnings"]]  # "info" for what is observed, never graded
    if not any(w.get("severity", "warning") == "warning" for w in data["warnings"]):
        lines.append("  warnings: none (what the docs do not state is graded here, "
                     "never failed)")
    lines += [f"  {line}" for line in drift_lines(data["drift"]["undocumented"])]
    lines.append(f"  escalation: {bundles} bundles")
    lines += [f"  warning: {note}" for note in notes]
    return f"redcloud-check: {data.get('headline') or data['verdict']}", lines


def diagnosis_lines(bundle: Mapping[str, Any]) -> str:
    """The lines a failure shows in the terminal after expected/actual: the requestId, then
    the diagnosis's lead (`diagnosis.terminal_lines`) and what to do next."""
    return "\n" + "\n".join(terminal_lines(bundle["diagnosis"],
                                           request_id=bundle["escalation"].get("requestId")))
