"""One timestamp format for every document: UTC, milliseconds, a `Z`."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from redcloud_check.core.timefmt import iso_utc


def test_iso_utc_is_utc_with_milliseconds_and_z() -> None:
    assert iso_utc(1767323045.678) == "2026-01-02T03:04:05.678Z"
    assert iso_utc(0) == "1970-01-01T00:00:00.000Z"


def test_iso_utc_reads_back_as_the_same_instant() -> None:
    now = time.time()
    parsed = datetime.fromisoformat(iso_utc(now))
    assert parsed.tzinfo == timezone.utc
    assert abs(parsed.timestamp() - now) < 0.001
    assert iso_utc().endswith("Z")
