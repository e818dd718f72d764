"""reports/exchanges.har: every exchange of the run as an HTTP Archive (HAR 1.2).

HAR is the common currency of HTTP evidence (browsers' DevTools, Charles, Fiddler, Postman
open it). The document is built from the recorder's exchanges as JSON data, then passed
through the one redaction (`redaction.redact`, with the headers masked as a header mapping
first, exactly as escalation.json's exchanges are) before it is written.

Layout: one page per stage (``pageref`` = the stage name, "session" for requests made outside
a check), one entry per exchange, in the run's order (the checks' order, whatever order
concurrent answers came in). Beside the spec's fields each entry carries the custom
fields ``_requestId`` (the API's requestId, from the CORE wrapper or X-Request-Id), ``_check``
(the check's node id), ``_label`` (what the suite meant by the request) and, for a request
that got no HTTP answer, ``_error`` / ``_errorKind`` with ``response.status`` 0 (as browsers
record a failed request). Timings are milliseconds; a phase the HTTP stack hides is -1
(connect, ssl) or folded into ``wait``.

Public surface: `har_document`, `write_run_har`, `HAR_NAME`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from redcloud_check.core.exchange import Exchange
from redcloud_check.core.files import atomic_write
from redcloud_check.core.redaction import Secrets, redact, redact_headers
from redcloud_check.core.timefmt import iso_utc
from redcloud_check.rules.schemas import report_vocabulary

__all__ = ["HAR_NAME", "har_document", "write_run_har"]

HAR_NAME = "exchanges.har"
HAR_VERSION = "1.2"  # the HAR format's version: the document says it, redaction keeps it
_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
            400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 409: "Conflict", 415: "Unsupported Media Type",
            422: "Unprocessable Entity", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout"}


def _ms(seconds: float | None) -> float:
    return -1 if seconds is None else round(seconds * 1000, 3)


def _header_list(headers: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in redact_headers(headers).items()]


def _lookup(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def _text(body: bytes | None) -> str:
    return (body or b"").decode("utf-8", "replace")


def _timings(ex: Exchange) -> dict[str, float]:
    """HAR timings: send + wait + receive (+ connect when known) add up to the total."""
    t = ex.timings
    total = max(t.total, 0.0)
    connect = t.connect if t.connect is not None else None
    spent = connect or 0.0
    wait = (t.first_byte - spent) if t.first_byte is not None else total - spent
    wait = min(max(wait, 0.0), total - spent)
    receive = max(total - spent - wait, 0.0)
    return {"blocked": -1, "dns": -1, "connect": _ms(connect), "ssl": _ms(t.tls), "send": 0,
            "wait": _ms(wait), "receive": _ms(receive)}


def _request(ex: Exchange) -> dict[str, Any]:
    parts = urlsplit(ex.url)
    request: dict[str, Any] = {
        "method": ex.method, "url": ex.url, "httpVersion": "HTTP/1.1", "cookies": [],
        "headers": _header_list(ex.request_headers),
        "queryString": [{"name": k, "value": v}
                        for k, v in parse_qsl(parts.query, keep_blank_values=True)],
        "headersSize": -1, "bodySize": len(ex.request_body or b""),
    }
    if ex.request_body:
        request["postData"] = {"mimeType": _lookup(ex.request_headers, "content-type"),
                               "text": _text(ex.request_body)}
    return request


def _response(ex: Exchange) -> dict[str, Any]:
    status = ex.status or 0
    return {
        "status": status, "statusText": _REASONS.get(status, ""), "httpVersion": "HTTP/1.1",
        "cookies": [], "headers": _header_list(ex.response_headers),
        "content": {"size": len(ex.response_body), "mimeType": ex.content_type,
                    "text": _text(ex.response_body)},
        "redirectURL": ex.header("Location"), "headersSize": -1,
        "bodySize": len(ex.response_body) if ex.status is not None else -1,
    }


def _entry(ex: Exchange, page: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "pageref": page, "startedDateTime": iso_utc(ex.started_at),
        "time": _ms(max(ex.timings.total, 0.0)), "request": _request(ex),
        "response": _response(ex), "cache": {}, "timings": _timings(ex),
        "_requestId": ex.request_id, "_check": ex.check, "_label": ex.label,
    }
    if ex.error is not None:
        entry["_error"] = ex.error
        entry["_errorKind"] = ex.error_kind
    return entry


def har_document(exchanges: Sequence[Exchange], *, secrets: Secrets,
                 stage_of: Callable[[str | None], str | None] = lambda _: None,
                 creator_version: str = "") -> dict[str, Any]:
    """The redacted HAR 1.2 document; `stage_of(nodeid)` names each check's stage."""
    pages: dict[str, dict[str, Any]] = {}
    entries = []
    # The run's order (the recorder's `sequence`), whatever order concurrent answers came in;
    # exchanges never recorded (sequence 0) by their start.
    for ex in sorted(exchanges, key=lambda e: (e.sequence, e.started_at)):
        page = stage_of(ex.check) or "session"
        if page not in pages:
            pages[page] = {"startedDateTime": iso_utc(ex.started_at), "id": page,
                           "title": f"redcloud-check stage: {page}", "pageTimings": {}}
        entries.append(_entry(ex, page))
    doc = {"log": {"version": HAR_VERSION,
                   "creator": {"name": "redcloud-check", "version": creator_version},
                   "pages": list(pages.values()), "entries": entries}}
    return redact(doc, secrets, keep=report_vocabulary() | {HAR_VERSION})


def write_run_har(reports_dir: Path, exchanges: Sequence[Exchange],
                  stages: Mapping[str, str | None], secrets: Secrets) -> Path:
    """Write the run's exchanges.har; `stages` maps each check's node id to its stage. The
    document is redacted once, by `har_document` (a second pass would cost ~20 ms a run)."""
    from redcloud_check import __version__

    doc = har_document(exchanges, secrets=secrets, stage_of=lambda n: stages.get(n or ""),
                       creator_version=__version__)
    path = reports_dir / HAR_NAME
    atomic_write(path, json.dumps(doc, indent=1, ensure_ascii=False), durable=False)
    return path
