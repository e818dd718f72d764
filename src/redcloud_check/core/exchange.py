"""One recorded HTTP exchange between the suite and the target.

The client records every request it makes as an `Exchange`. Exchanges hold the raw,
unredacted material; every artifact passes them through `redcloud_check.core.redaction`
before anything is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-requestid", "x-correlation-id")


@dataclass(frozen=True, slots=True)
class Timings:
    """Seconds. `connect`/`tls`/`first_byte` are None where the HTTP stack hides them."""

    total: float
    connect: float | None = None
    tls: float | None = None
    first_byte: float | None = None


@dataclass(frozen=True, slots=True)
class Exchange:
    """A request and its response (or the transport error that replaced the response)."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes | None
    started_at: float  # epoch seconds, UTC
    timings: Timings
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""
    error: str | None = None  # transport error (refused, timeout, ...) when status is None
    error_kind: str | None = None  # refused | dns | timeout | tls | connection | redirect
    token_fresh: bool | None = None  # the bearer token was acquired within this run, unexpired
    token_age_s: float | None = None  # seconds since that token was issued
    check: str | None = None  # nodeid of the check that made the request
    label: str = ""  # what the suite meant by it, e.g. "send: missing Idempotency-Key"
    wrong_credential: bool = False  # carries a deliberately wrong credential (never resent)
    # its place in the run's log (1, 2, ...: the run's order, set when recorded); 0 before
    sequence: int = field(default=0, compare=False)

    @property
    def path(self) -> str:
        from urllib.parse import urlsplit

        return urlsplit(self.url).path

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def traceparent(self) -> str | None:
        """The W3C traceparent the request carried (core.trace_context), if any."""
        return next((v for k, v in self.request_headers.items() if k.lower() == "traceparent"),
                    None)

    def header(self, name: str, default: str = "") -> str:
        """A response header, looked up case-insensitively."""
        wanted = name.lower()
        for key, value in self.response_headers.items():
            if key.lower() == wanted:
                return value
        return default

    @property
    def content_type(self) -> str:
        return self.header("Content-Type")

    def json(self) -> Any:
        """The decoded JSON body; raises ValueError when the body is not JSON."""
        return json.loads(self.response_body.decode("utf-8"))

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except (ValueError, UnicodeDecodeError):
            return None

    def request_json(self) -> Any:
        if not self.request_body:
            return None
        try:
            return json.loads(self.request_body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None

    @property
    def error_code(self) -> str | None:
        """error.code of the CORE error wrapper, or the OAuth `error` string."""
        body = self.json_or_none()
        if not isinstance(body, dict):
            return None
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get("code"), str):
            return str(err["code"])
        return err if isinstance(err, str) else None

    @property
    def error_message(self) -> str | None:
        """The API's own words for an error: error.message of the CORE error wrapper, or the
        OAuth `error_description`."""
        body = self.json_or_none()
        if not isinstance(body, dict):
            return None
        err = body.get("error")
        text = err.get("message") if isinstance(err, dict) else body.get("error_description")
        return text if isinstance(text, str) and text else None

    @property
    def request_id(self) -> str | None:
        """requestId from the CORE error wrapper, else from a request-id response header."""
        body = self.json_or_none()
        if isinstance(body, dict):
            rid = body.get("requestId")
            if isinstance(rid, str) and rid:
                return rid
        lowered = {k.lower(): v for k, v in self.response_headers.items()}
        for name in REQUEST_ID_HEADERS:
            if lowered.get(name):
                return lowered[name]
        return None
