"""One timestamp format for every document: UTC, milliseconds, a `Z`."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone

import pytest

from redcloud_check.core.timefmt import iso_utc


def test_iso_utc_is_utc_with_milliseconds_and_z() -> None:
    assert iso_utc(1767323045.678) == "2026-01-02T03:04:05.678Z"
    assert iso_utc(0) == "1970-01-01T00:00:00.000Z"


def test_iso_utc_reads_back_as_the_same_instant() -> None:
    now = time.time()
    parsed = datetime.strptime(iso_utc(now), "%Y-%m-%dT%H:%M:%S.%f%z")  # any Python 3.7+
    assert parsed.tzinfo == timezone.utc
    assert abs(parsed.timestamp() - now) < 0.001
    assert iso_utc().endswith("Z")


@pytest.mark.skipif(sys.version_info < (3, 11),
                    reason="datetime.fromisoformat reads a 'Z' from Python 3.11 on")
def test_iso_utc_reads_back_with_fromisoformat() -> None:
    now = time.time()
    assert abs(datetime.fromisoformat(iso_utc(now)).timestamp() - now) < 0.001
