"""Latency per endpoint: the median (and count, max) of each documented operation's answered
exchanges, in milliseconds. escalation.json, history.jsonl and `redcloud-check diff` read
the same figures. `chart_rows`: each exchange's time, by stage, for report.html's chart."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from redcloud_check.core.exchange import Exchange
from redcloud_check.rules.drift import endpoint_template

__all__ = ["chart_rows", "endpoint_latency", "median", "medians"]


def median(values: Sequence[float]) -> float:
    """The median, as `statistics.median` computes it (the mean of the middle two for an
    even count), without that module's ~3 ms of import on every probe."""
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def endpoint_latency(exchanges: Iterable[Exchange]) -> list[dict[str, Any]]:
    """[{endpoint, count, median_ms, max_ms}] sorted by endpoint; unanswered requests are
    left out (their time is a timeout, not the API's latency)."""
    times: dict[str, list[float]] = defaultdict(list)
    for ex in exchanges:
        if ex.status is not None:
            times[endpoint_template(ex.method, ex.path)].append(ex.timings.total * 1000)
    return [{"endpoint": endpoint, "count": len(ms),
             "median_ms": round(median(ms), 2), "max_ms": round(max(ms), 2)}
            for endpoint, ms in sorted(times.items())]


def medians(rows: Iterable[dict[str, Any]]) -> dict[str, float]:
    """endpoint -> median_ms, from `endpoint_latency` rows."""
    return {r["endpoint"]: float(r["median_ms"]) for r in rows}


def chart_rows(exchanges: Iterable[Exchange], stage_of: Callable[[str], str | None]
               ) -> list[tuple[str, str, float]]:
    """(stage, label, total ms) per exchange, in stage order; `stage_of(nodeid)` names the
    stage of the check that made it ("session" when none did)."""
    from redcloud_check.rules.stages import STAGE_NAMES

    order = {name: i for i, name in enumerate(STAGE_NAMES)}
    rows = []
    for ex in exchanges:
        stage = stage_of(ex.check or "") or "session"
        result = ex.status if ex.status is not None else ex.error_kind
        rows.append((stage, f"{ex.endpoint} → {result} ({ex.label})",
                     round(ex.timings.total * 1000, 1)))
    rows.sort(key=lambda r: order.get(r[0], len(order)))
    return rows
