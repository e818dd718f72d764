"""The probe's outputs, one way for a single probe and for each target of a fleet: the
document (probe.json; schemas/reports/probe.schema.json), its redacted JSON line, what
stdout shows (the JSON line, or the lines for a person at a terminal: cli.probe_text), and
the metrics (`--prom-file`, `--pushgateway`).

Only the standard library is imported at module level: `redcloud-check --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from redcloud_check.core.secret_index import Secrets
    from redcloud_check.probe.metrics import GaugeFamily
    from redcloud_check.probe.runner import ProbeResult

__all__ = ["document", "emit", "json_line", "wants_json", "write_metrics"]


def document(result: ProbeResult) -> dict[str, Any]:
    """The machine-readable summary (probe.json and the stdout line)."""
    from redcloud_check import __version__
    from redcloud_check.core.timefmt import iso_utc

    stages = []
    for s in result.stages:
        latency = None if s.latency is None else {
            "connect": s.latency.connect, "tls": s.latency.tls,
            "first_byte": s.latency.first_byte, "total": s.latency.total}
        stages.append({"stage": s.stage, "checkId": s.check_id, "verdict": s.verdict,
                       "latency_s": latency,
                       "http_status": s.http_status, "request_id": s.request_id,
                       "traceparent": s.traceparent,
                       "title": s.title, "detail": s.detail, "clause": s.clause,
                       "cause": s.cause, "diagnosis": s.diagnosis,
                       "blocked_by": s.blocked_by, "slow": s.slow, "waiver": s.waiver})
    return {"probe": "redcloud-check", "version": __version__, "status": result.status,
            "exit_code": result.exit_code, "started_at": iso_utc(result.started_at),
            "finished_at": iso_utc(result.finished_at), "duration_s": result.duration_s,
            "target": result.target or None, "embedded": result.embedded,
            "canary": result.canary, "warn_latency_ms": result.warn_latency_ms,
            "error": result.error, "override_recovery": result.override_recovery,
            "trace_id": result.trace_id, "stages": stages, "waivers": result.waivers}


def json_line(doc: dict[str, Any], secrets: Secrets) -> str:
    """`doc` redacted (our own words kept: rules.schemas.report_vocabulary), as one line."""
    from redcloud_check.core.redaction import redact
    from redcloud_check.rules.schemas import report_vocabulary

    return json.dumps(redact(doc, secrets, keep=report_vocabulary()), separators=(",", ":"),
                      ensure_ascii=False)


def wants_json(args: argparse.Namespace) -> bool:
    """JSON when asked (--json) or when stdout is not a terminal (pipes, cron, CI)."""
    return bool(args.json) or not sys.stdout.isatty()


def emit(args: argparse.Namespace, result: ProbeResult, line: str, secrets: Secrets,
         name: str | None = None) -> None:
    """The JSON line when asked (--json) or when stdout is not a terminal (pipes, cron, CI
    keep their contract); a person at a terminal gets the human lines (cli.probe_text):
    a line per stage, or for a fleet's target (`name`) one line."""
    if wants_json(args):
        print(line, flush=True)
        return
    from redcloud_check.cli import probe_text
    from redcloud_check.core.redaction import redact

    lines = ([probe_text.target_line(name, result)] if name is not None
             else probe_text.text_lines(result))
    print(redact("\n".join(lines), secrets), flush=True)


def write_metrics(args: argparse.Namespace, write_file: Callable[[Path], None],
                  families: Callable[[], list[GaugeFamily]]) -> list[str]:
    """Write (`--prom-file`) / push (`--pushgateway`) the metrics; the problems, one line
    each (never raises)."""
    if args.prom_file is None and args.pushgateway is None:
        return []
    from redcloud_check.probe import metrics

    problems = []
    if args.prom_file is not None:
        try:
            write_file(args.prom_file)
        except OSError as error:
            problems.append(f"--prom-file {args.prom_file}: {error}")
    if args.pushgateway is not None:
        try:
            metrics.push_families(args.pushgateway, families(),
                                  instance=args.instance or socket.gethostname(),
                                  timeout=args.timeout or 10.0)
        except (OSError, ValueError) as error:
            problems.append(f"--pushgateway: {type(error).__name__}: {error}")
    return problems


def given_reports_dir(args: argparse.Namespace) -> Path:
    """The reports dir before the settings are loaded: --reports-dir, RC_REPORTS_DIR or
    `reports` (what a configuration error's probe.json and the probe's log use)."""
    return Path(args.reports_dir or os.environ.get("RC_REPORTS_DIR") or "reports")
