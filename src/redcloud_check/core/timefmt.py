"""The one timestamp format of every document redcloud-check writes (escalation.json,
probe.json, the override journal): UTC ISO 8601 with milliseconds and a `Z`."""

from __future__ import annotations

import time
from datetime import datetime, timezone

__all__ = ["iso_utc"]


def iso_utc(epoch: float | None = None) -> str:
    """UTC ISO 8601 with millisecond precision, e.g. 2026-01-02T03:04:05.678Z (now: None).

    `datetime.fromisoformat` (Python 3.11+) and JSON Schema's date-time format read it."""
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
