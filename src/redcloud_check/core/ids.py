"""Identifiers redcloud-check makes: the run id, written once for the suite and the probe."""

from __future__ import annotations

import secrets
import time

__all__ = ["new_run_id"]


def new_run_id(now: float | None = None) -> str:
    """A run id: the UTC start second and 6 random hex digits, e.g. 20260102T030405Z-1a2b3c.

    Sorts by time, and two runs in the same second still differ."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{secrets.token_hex(3)}"
