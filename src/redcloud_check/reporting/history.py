"""RC_REPORTS_DIR/history.jsonl: one compact JSON line per run and per probe, the last
`HISTORY_LIMIT` kept, and the small inline SVG report.html draws from it.

A line::

    {"time":"2026-11-30T14:57:40.123Z","kind":"run","run_id":"…","exit_code":0,
     "verdict":"passed","stages":{"token":"passed",…},
     "latency_ms":{"GET /api/core/whoami":12.3,…}}

`stages` holds each stage's verdict (the run's words: passed, failed, blocked, waived,
skipped, not_run; the probe's: pass, fail, unreachable, blocked, waived), `latency_ms` the
median per endpoint. Appending rewrites the file atomically (core.files.atomic_write) under
an advisory lock, so a probe and a run finishing together both keep their line; a line that
is not JSON (a file edited by hand) is skipped when read, never fatal.

Public surface: `HISTORY_NAME`, `HISTORY_LIMIT`, `history_entry`, `append_history`,
`read_history`, `history_svg`, `record_run`, `history_html`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from redcloud_check.core.files import atomic_write
from redcloud_check.core.timefmt import iso_utc

__all__ = ["HISTORY_LIMIT", "HISTORY_NAME", "append_history", "history_entry", "history_html",
           "history_svg", "read_history", "record_run"]

HISTORY_NAME = "history.jsonl"
HISTORY_LIMIT = 500  # lines kept (at most about 200 KB): 41 hours of a probe every 5 minutes
SHOWN = 30  # runs drawn in report.html
_COLORS = {"passed": "#1e7e34", "pass": "#1e7e34", "failed": "#c0392b", "fail": "#c0392b",
           "unreachable": "#7b241c", "blocked": "#e0a800", "waived": "#5b8bd0"}
_GREY = "#ced4da"


def history_entry(*, kind: str, time: float, run_id: str | None, exit_code: int | None,
                  verdict: str, stages: Mapping[str, str],
                  latency_ms: Mapping[str, float]) -> dict[str, Any]:
    return {"time": iso_utc(time), "kind": kind, "run_id": run_id, "exit_code": exit_code,
            "verdict": verdict, "stages": dict(stages),
            "latency_ms": {k: round(float(v), 2) for k, v in sorted(latency_ms.items())}}


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An advisory lock on the reports directory itself (no lock file is left behind)."""
    try:
        import fcntl
        fd = os.open(directory, os.O_RDONLY)
    except (ImportError, OSError):  # Windows: the atomic rename still keeps the file whole
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def append_history(reports_dir: Path, entry: Mapping[str, Any],
                   limit: int = HISTORY_LIMIT) -> Path:
    """Add `entry` as the last line; keep the last `limit` lines."""
    path = reports_dir / HISTORY_NAME
    reports_dir.mkdir(parents=True, exist_ok=True)
    line = json.dumps(dict(entry), separators=(",", ":"), ensure_ascii=False)
    with _locked(reports_dir):
        kept = [*_lines(path), line][-limit:]
        atomic_write(path, "\n".join(kept) + "\n")
    return path


def read_history(reports_dir: Path, last: int = SHOWN) -> list[dict[str, Any]]:
    """The last `last` readable entries, oldest first."""
    entries = []
    for line in _lines(reports_dir / HISTORY_NAME):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("stages"), dict):
            entries.append(value)
    return entries[-last:]


def _slowest(entry: Mapping[str, Any]) -> float | None:
    values = [v for v in (entry.get("latency_ms") or {}).values() if isinstance(v, int | float)]
    return max(values) if values else None


def history_svg(entries: Sequence[Mapping[str, Any]], stage_names: Sequence[str]) -> str:
    """The last runs, oldest left: a cell per stage colored by its verdict, and below them the
    slowest endpoint's median latency as a line. Inline SVG, no external asset."""
    if not entries:
        return "<p>No earlier run in history.jsonl.</p>"
    from html import escape  # only report.html draws it: html.entities is ~1 ms of import

    from redcloud_check.reporting.latency import median

    cell, gap, left, top = 14, 3, 70, 16
    width = left + len(entries) * (cell + gap) + 10
    grid_h = len(stage_names) * (cell + gap)
    chart_top, chart_h = top + grid_h + 10, 50
    parts = [f'<text x="0" y="{top + i * (cell + gap) + cell - 3}" font-size="10">'
             f"{escape(name)}</text>" for i, name in enumerate(stage_names)]
    points = []
    highest: float = max((_slowest(e) or 0.0) for e in entries) or 1.0
    for col, entry in enumerate(entries):
        x = left + col * (cell + gap)
        stages = entry.get("stages") or {}
        tip = (f"{entry.get('time')} {entry.get('kind')} {entry.get('verdict')} "
               f"(exit {entry.get('exit_code')})")
        for row, name in enumerate(stage_names):
            verdict = str(stages.get(name, "not_run"))
            y = top + row * (cell + gap)
            parts.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" '
                         f'fill="{_COLORS.get(verdict, _GREY)}"><title>{escape(tip)}: '
                         f"{escape(name)} {escape(verdict)}</title></rect>")
        slowest = _slowest(entry)
        if slowest is not None:
            dot = chart_top + chart_h - chart_h * slowest / highest
            points.append(f"{x + cell / 2:.1f},{dot:.1f}")
            parts.append(f'<circle cx="{x + cell / 2:.1f}" cy="{dot:.1f}" r="2" fill="#4a7fb5">'
                         f"<title>{escape(tip)}: slowest endpoint median {slowest:.1f} ms"
                         "</title></circle>")
    if points:
        parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="#4a7fb5"/>')
    parts.append(f'<text x="0" y="{chart_top + 12}" font-size="10">latency</text>'
                 f'<text x="0" y="{chart_top + 24}" font-size="9">max {highest:.0f} ms</text>')
    middle = median([s for e in entries if (s := _slowest(e)) is not None] or [0.0])
    return (f'<svg class="rc-history" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{chart_top + chart_h + 6}" role="img" aria-label="last '
            f'{len(entries)} runs: verdict per stage and latency">{"".join(parts)}</svg>'
            f"<p><small>{len(entries)} runs and probes, oldest left. Cells: green passed, red "
            "failed, dark red unreachable, amber blocked, blue waived, grey not run. Line: "
            f"the slowest endpoint's median latency (median over these runs {middle:.1f} ms)."
            "</small></p>")


def record_run(reports_dir: Path, *, run_id: str | None, exit_code: int | None,
               summary: Mapping[str, Any], latency: Sequence[Mapping[str, Any]]) -> Path:
    """Append the suite run's line (its summary's verdicts, latency_rows' medians)."""
    import time

    return append_history(reports_dir, history_entry(
        kind="run", time=time.time(), run_id=run_id, exit_code=exit_code,
        verdict=str(summary["verdict"]),
        stages={s["name"]: s["verdict"] for s in summary["stages"]},
        latency_ms={r["endpoint"]: r["median_ms"] for r in latency}))


def history_html(reports_dir: Path) -> str:
    """report.html's History section: the last runs and probes of this reports dir, drawn
    only once there are at least two (one run is not a trend)."""
    from redcloud_check.rules.stages import STAGE_NAMES

    entries = read_history(reports_dir)
    if len(entries) < 2:
        return ""
    return ("<div class=\"rc-history\"><h3>History (history.jsonl)</h3>"
            + history_svg(entries, STAGE_NAMES) + "</div>")
