"""The probe's lines for a person at a terminal: one per stage, then the verdict.

    token    pass     12 ms  HTTP 200
    whoami   FAIL      3 ms  HTTP 200  The API client is not active: expected ...; actual ...
                                       [1-quickstart.txt, Section 5] -> <diagnosis> (request req_1)
    numbers  blocked                   blocked by whoami: fix that first
    unhealthy (exit 1) in 25 ms: http://127.0.0.1:8080

Rendered from the same ProbeResult as probe.json (never parsed back); a fleet prints one
line per target instead (`target_line`), then its verdict (`fleet_line`). Stdout that is
not a terminal, or `--json`, gets the JSON line instead (cli.probe_output.emit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redcloud_check.probe.runner import ProbeResult, StageResult

__all__ = ["fleet_line", "stage_line", "summary_line", "target_line", "text_lines"]

_SHOWN = {"fail": "FAIL", "unreachable": "UNREACHABLE"}


def _ms(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds * 1000:.0f} ms"


def stage_line(stage: StageResult) -> str:
    """One line: stage, verdict, latency, HTTP status, and what went wrong and what to do."""
    latency = _ms(stage.latency.total if stage.latency is not None else None)
    status = f"HTTP {stage.http_status}" if stage.http_status is not None else ""
    head = (f"{stage.stage:<9}{_SHOWN.get(stage.verdict, stage.verdict):<12}{latency:>8}  "
            f"{status:<10}")
    notes = []
    if stage.title:
        notes.append(stage.title + (f": {stage.detail}" if stage.detail else ""))
    if stage.clause:
        notes.append(f"[{stage.clause}]")
    if stage.diagnosis:
        notes.append(f"-> {stage.diagnosis}")
    if stage.request_id:
        notes.append(f"(request {stage.request_id})")
    if stage.waiver:
        notes.append(f"waiver: {stage.waiver}")
    if stage.slow:
        notes.append("slow: over --warn-latency-ms")
    return (head + " ".join(notes)).rstrip()


def summary_line(result: ProbeResult) -> str:
    where = result.target or ("embedded simulator" if result.embedded else "")
    line = f"{result.status} (exit {result.exit_code}) in {_ms(result.duration_s) or '0 ms'}"
    line += f": {where}" if where else ""
    if result.error:
        line += f" - {result.error}"
    return line


def text_lines(result: ProbeResult) -> list[str]:
    """A single probe: a line per stage, then the verdict (and, when it did not pass, the
    trace the provider can look its requests up by)."""
    trace = [f"trace: {result.trace_id} (every request carried a W3C traceparent: ask the "
             "provider to look it up)"] if result.trace_id and not result.passed else []
    return [*(stage_line(s) for s in result.stages), summary_line(result), *trace]


def target_line(name: str, result: ProbeResult) -> str:
    """A fleet's target: name, verdict, and the first stage that did not pass."""
    failed = next((s for s in result.stages if s.verdict not in ("pass", "waived")), None)
    why = ""
    if failed is not None:
        why = f"  {failed.stage}: {failed.title}" + (f": {failed.detail}" if failed.detail
                                                    else "")
    elif result.error:
        why = f"  {result.error}"
    return (f"{name:<16} {result.status:<12}{_ms(result.duration_s):>8}  "
            f"{result.target}{why}").rstrip()


def fleet_line(status: str, code: int, counts: dict[str, int], duration_s: float) -> str:
    """A fleet's last line on a terminal: its worst status, exit code and counts."""
    shown = ", ".join(f"{n} {s}" for s, n in counts.items())
    return f"fleet {status} (exit {code}) in {_ms(duration_s)}: {shown}"
