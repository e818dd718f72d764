"""W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header every
request of a run carries, so that a provider who traces its API (OpenTelemetry, say) can
find the run's requests in its own traces, as synthetic monitors (Checkly, Grafana) do.

    traceparent: 00-<trace-id>-<parent-id>-01

* version ``00``, the only one the spec defines;
* trace-id: 32 lowercase hex digits (16 random bytes), one per run (the suite, the probe,
  doctor): escalation.json's ``run.traceId``, what a ticket asks the provider to look up;
* parent-id: 16 lowercase hex digits (8 random bytes), a new span id for every request,
  so each request is found on its own (a rate-limited request sent again is a new request:
  a new span id, the same trace id);
* trace-flags ``01``: sampled, asking the provider to record the request.

Neither id is ever all zeros (the spec makes such a header invalid). No ``tracestate`` is
sent: the run carries no vendor state. ``RC_TRACEPARENT=0`` sends no trace context at all.
Webhook deliveries come in from the provider: they are not our requests and carry none.

Public surface: `TRACEPARENT`, `new_trace_id`, `new_span_id`, `traceparent`,
`parse_traceparent`, `with_traceparent`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping

__all__ = ["TRACEPARENT", "new_span_id", "new_trace_id", "parse_traceparent", "traceparent",
           "with_traceparent"]

TRACEPARENT = "traceparent"
VERSION = "00"
SAMPLED = "01"
_HEADER = re.compile(r"00-(?P<trace>[0-9a-f]{32})-(?P<span>[0-9a-f]{16})-(?P<flags>[0-9a-f]{2})")


def _random_hex(nbytes: int) -> str:
    """`nbytes` random bytes as lowercase hex, never all zeros (invalid in trace context)."""
    while True:
        value = secrets.token_hex(nbytes)
        if value.strip("0"):
            return value


def new_trace_id() -> str:
    """A run's trace id: 32 lowercase hex digits, not all zeros."""
    return _random_hex(16)


def new_span_id() -> str:
    """A request's span (parent) id: 16 lowercase hex digits, not all zeros."""
    return _random_hex(8)


def traceparent(trace_id: str, span_id: str | None = None) -> str:
    """The header's value for a request of the trace `trace_id` (a new span id unless
    `span_id` is given)."""
    return f"{VERSION}-{trace_id}-{span_id or new_span_id()}-{SAMPLED}"


def parse_traceparent(value: str) -> tuple[str, str] | None:
    """(trace id, span id) of a valid version-00 traceparent; None for anything else
    (malformed, uppercase, an all-zero id)."""
    match = _HEADER.fullmatch(value)
    if match is None or not match["trace"].strip("0") or not match["span"].strip("0"):
        return None
    return match["trace"], match["span"]


def with_traceparent(headers: Mapping[str, str], trace_id: str) -> dict[str, str]:
    """A copy of `headers` carrying a new span of the trace `trace_id` (a traceparent already
    there, in any case, is replaced: a request sent again is a new span)."""
    out = {k: v for k, v in headers.items() if k.lower() != TRACEPARENT}
    out[TRACEPARENT] = traceparent(trace_id)
    return out
