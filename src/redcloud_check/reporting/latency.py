"""Latency per endpoint: the median (and count, max) of each documented operation's answered
exchanges, in milliseconds. escalation.json, history.jsonl and `redcloud-check diff` read
the same figures."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from redcloud_check.core.exchange import Exchange
from redcloud_check.rules.drift import endpoint_template

__all__ = ["endpoint_latency", "medians"]


def endpoint_latency(exchanges: Iterable[Exchange]) -> list[dict[str, Any]]:
    """[{endpoint, count, median_ms, max_ms}] sorted by endpoint; unanswered requests are
    left out (their time is a timeout, not the API's latency)."""
    times: dict[str, list[float]] = defaultdict(list)
    for ex in exchanges:
        if ex.status is not None:
            times[endpoint_template(ex.method, ex.path)].append(ex.timings.total * 1000)
    return [{"endpoint": endpoint, "count": len(ms),
             "median_ms": round(statistics.median(ms), 2), "max_ms": round(max(ms), 2)}
            for endpoint, ms in sorted(times.items())]


def medians(rows: Iterable[dict[str, Any]]) -> dict[str, float]:
    """endpoint -> median_ms, from `endpoint_latency` rows."""
    return {r["endpoint"]: float(r["median_ms"]) for r in rows}
