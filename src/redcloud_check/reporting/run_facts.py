"""Facts of a whole run that reports compare across runs: the drift (undocumented fields of
every response and webhook event the run saw) and the latency per endpoint. Read from the
RunContext at the end of the run; plain data out. Also the end-of-run artifacts written from
the run as a whole: exchanges.har and the history.jsonl line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from redcloud_check.reporting.latency import endpoint_latency

__all__ = ["drift", "latency", "write_har", "write_history"]


def drift(rc: Any) -> list[dict[str, Any]]:
    """Undocumented fields (rules.drift) of the run's JSON responses and webhook events."""
    from redcloud_check.rules.drift import find_drift

    responses = []
    for ex in rc.recorder.all():
        body = ex.json_or_none() if ex.status is not None and ex.response_body else None
        if body is not None:
            responses.append((ex.method, ex.path, ex.status, body))
    events = ([d.event for d in rc.webhooks.deliveries() if d.event is not None]
              if rc.webhooks is not None else [])
    return [u.as_dict() for u in find_drift(responses, events)]


def latency(rc: Any) -> list[dict[str, Any]]:
    return endpoint_latency(rc.recorder.all())


def write_har(reports_dir: Path, rc: Any, stages: Mapping[str, str | None],
              secrets: Mapping[str, str]) -> None:
    from redcloud_check.reporting.har import write_run_har

    write_run_har(reports_dir, rc.recorder.all(), stages, secrets)


def write_history(reports_dir: Path, rc: Any, exit_code: int, summary: Mapping[str, Any],
                  latency_rows: Sequence[Mapping[str, Any]]) -> None:
    from redcloud_check.reporting.history import record_run

    record_run(reports_dir, run_id=rc.run_id, exit_code=exit_code, summary=summary,
               latency=latency_rows)
