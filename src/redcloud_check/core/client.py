"""The HTTP client the checks use: requests.Session, every exchange recorded.

`ApiClient.request` never raises for an HTTP status; a transport failure (refused, DNS,
timeout, TLS, truncated body) is recorded and raised as `TargetUnreachable`. Redirects are
not followed: an API that redirects is reported, and a bearer token never follows a
redirect to another host. With a `trace_id`, every request (each attempt of one sent again
too) carries a W3C `traceparent` of that trace with its own span id (core.trace_context),
recorded with the exchange's request headers.
"""

from __future__ import annotations

import base64
import http.client
import json as jsonlib
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import requests
import urllib3

from redcloud_check.core.errors import TargetUnreachable
from redcloud_check.core.exchange import Exchange, Timings
from redcloud_check.core.rate_limit import RateLimits
from redcloud_check.core.recorder import Recorder
from redcloud_check.core.trace_context import with_traceparent

USER_AGENT = "redcloud-check"


class SecretSet:
    """Every secret the run has seen: configured ones and tokens the target issued."""

    def __init__(self, initial: Iterable[str] = ()) -> None:
        self._values: set[str] = {v for v in initial if v}
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        if value:
            with self._lock:
                self._values.add(value)

    def values(self) -> list[str]:
        with self._lock:
            return sorted(self._values, key=len, reverse=True)


def basic_header(client_id: str, client_secret: str) -> str:
    raw = f"{client_id}:{client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


# requests' and the standard library's transport errors -> our TargetUnreachable kinds, once,
# by type (as httpx's transport maps httpcore's with HTTPCORE_EXC_MAP). requests wraps
# urllib3's errors, which wrap the socket's, so the whole chain is looked at; the first row
# that matches anything in it decides: a ConnectTimeout is a timeout before a connection
# error, a refused connection behind a proxy is refused.
TRANSPORT_ERROR_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (requests.exceptions.Timeout, "timeout"),  # ConnectTimeout, ReadTimeout
    # (not urllib3.exceptions.TimeoutError: urllib3 2 derives NewConnectionError from it)
    (urllib3.exceptions.ReadTimeoutError, "timeout"),  # a read timeout while streaming a body
    (TimeoutError, "timeout"),  # socket.timeout
    (requests.exceptions.SSLError, "tls"),
    (urllib3.exceptions.NameResolutionError, "dns"),
    (socket.gaierror, "dns"),
    (ConnectionRefusedError, "refused"),
    (requests.exceptions.ChunkedEncodingError, "truncated"),
    (requests.exceptions.ContentDecodingError, "truncated"),
    (http.client.IncompleteRead, "truncated"),
    (urllib3.exceptions.IncompleteRead, "truncated"),
    (requests.exceptions.ProxyError, "connection"),
    (requests.exceptions.TooManyRedirects, "connection"),
    (requests.exceptions.InvalidURL, "connection"),
    (requests.exceptions.ConnectionError, "connection"),
)


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and what it wraps: causes, contexts, urllib3's `reason`, requests' args[0]."""
    seen: set[int] = set()
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        nxt = current.__cause__ or current.__context__
        if nxt is None and current.args and isinstance(current.args[-1], BaseException):
            nxt = current.args[-1]
        reason = getattr(current, "reason", None)
        if nxt is None and isinstance(reason, BaseException):
            nxt = reason
        current = nxt
    return chain


def classify_transport_error(exc: BaseException) -> str:
    """refused | dns | timeout | tls | truncated | connection, from the exceptions' types."""
    chain = _chain(exc)
    for error_type, kind in TRANSPORT_ERROR_KINDS:
        if any(isinstance(e, error_type) for e in chain):
            return kind
    return "connection"


class ApiClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        recorder: Recorder,
        secrets: SecretSet,
        session: requests.Session | None = None,
        rate_limits: RateLimits | None = None,
        trace_id: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.trace_id = trace_id  # the run's W3C trace id (None: no traceparent is sent)
        self.rate_limits = rate_limits  # None: a rate-limited answer is returned as it is
        self.timeout = timeout
        self.recorder = recorder
        self.secrets = secrets
        self.session = session or requests.Session()
        self.session.trust_env = False  # no proxies from the environment: loopback stays local
        self.session.headers["User-Agent"] = USER_AGENT

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        raw_body: bytes | None = None,
        label: str = "",
        token_fresh: bool | None = None,
        token_age_s: float | None = None,
        wrong_credential: bool = False,
    ) -> Exchange:
        """Send one request; return the recorded exchange (any status). `wrong_credential`
        marks a request that carries a deliberately wrong credential: never sent again."""
        hdrs = dict(headers or {})
        body: bytes | None = raw_body
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":")).encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
        elif form is not None:
            from urllib.parse import urlencode

            body = urlencode(dict(form)).encode("ascii")
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        hdrs.setdefault("Accept", "application/json")
        url = self.base_url + path
        return self._honouring_rate_limits(method, url, hdrs, body, label, token_fresh,
                                           token_age_s, wrong_credential)

    def replay(self, exchange: Exchange) -> Exchange:
        """Send the same request again (same method, URL, headers, body)."""
        return self._honouring_rate_limits(
            exchange.method, exchange.url, dict(exchange.request_headers),
            exchange.request_body, f"replay of: {exchange.label}".strip(),
            exchange.token_fresh, exchange.token_age_s, exchange.wrong_credential)

    def _honouring_rate_limits(self, method: str, url: str, headers: dict[str, str],
                               body: bytes | None, label: str, token_fresh: bool | None,
                               token_age_s: float | None,
                               wrong_credential: bool) -> Exchange:
        """Send, in one of the run's places for a request in flight; on a rate limit, wait
        what the API asks (no place held) and send the very same request again, within the
        run's budget (core.rate_limit; RateLimited past it)."""
        limits = self.rate_limits
        if limits is None:
            return self._send(method, url, headers, body, label, token_fresh, token_age_s,
                              wrong_credential)
        rounds = 0
        while True:
            with limits.slot():
                exchange = self._send(method, url, headers, body, label, token_fresh,
                                      token_age_s, wrong_credential)
            delay = limits.delay(exchange, rounds)
            if delay is None:
                return exchange
            limits.wait(delay, exchange)
            rounds += 1

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        label: str,
        token_fresh: bool | None,
        token_age_s: float | None,
        wrong_credential: bool = False,
    ) -> Exchange:
        if self.trace_id is not None:  # each attempt is a request of its own: its own span
            headers = with_traceparent(headers, self.trace_id)
        started = time.time()
        t0 = time.perf_counter()
        base = Exchange(
            method=method, url=url, request_headers=headers, request_body=body,
            started_at=started, timings=Timings(total=0.0), label=label,
            token_fresh=token_fresh, token_age_s=token_age_s,
            check=self.recorder.current_check, wrong_credential=wrong_credential,
        )
        try:
            response = self.session.request(
                method, url, headers=headers, data=body, timeout=self.timeout,
                allow_redirects=False,
            )
            first_byte = response.elapsed.total_seconds()
            content = response.content
        except requests.exceptions.RequestException as exc:
            kind = classify_transport_error(exc)
            failed = replace(base, timings=Timings(total=time.perf_counter() - t0),
                             error=f"{type(exc).__name__}: {exc}", error_kind=kind)
            self.recorder.record(failed)
            raise TargetUnreachable(url, kind, str(exc)) from exc
        exchange = replace(
            base,
            timings=Timings(total=time.perf_counter() - t0, first_byte=first_byte),
            status=response.status_code,
            response_headers=dict(response.headers),
            response_body=content,
        )
        self._harvest_tokens(exchange)
        self.recorder.record(exchange)
        return exchange

    def _harvest_tokens(self, exchange: Exchange) -> None:
        body = exchange.json_or_none()
        if isinstance(body, dict):
            token = body.get("access_token")
            if isinstance(token, str):
                self.secrets.add(token)
