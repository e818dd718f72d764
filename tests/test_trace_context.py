"""W3C trace context: the ids, the header, and what reaches a server over loopback (the
client, a rate-limited request sent again, the probe, RC_TRACEPARENT=0)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from redcloud_check.core import trace_context
from redcloud_check.core.client import ApiClient, SecretSet
from redcloud_check.core.config import load_settings
from redcloud_check.core.rate_limit import RateLimits
from redcloud_check.core.recorder import Recorder
from redcloud_check.core.trace_context import (
    new_span_id,
    new_trace_id,
    parse_traceparent,
    traceparent,
    with_traceparent,
)
from redcloud_check.probe.runner import run_probe
from redcloud_check.simulator import Simulator

from .bad_targets import serve
from .recording_proxy import recording_proxy
from .remote_env import REMOTE

# The spec's grammar, restated here (the test must not trust the code): version 00, 32 and
# 16 lowercase hex digits, flags; neither id all zeros.
W3C = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01")


def valid(value: str | None) -> tuple[str, str]:
    assert value is not None, "no traceparent"
    match = W3C.fullmatch(value)
    assert match is not None, value
    assert set(match[1]) != {"0"} and set(match[2]) != {"0"}, value
    return match[1], match[2]


def test_ids_follow_the_spec() -> None:
    traces = {new_trace_id() for _ in range(200)}
    spans = {new_span_id() for _ in range(200)}
    assert len(traces) == 200 and len(spans) == 200
    for trace, span in zip(traces, spans, strict=True):
        assert valid(traceparent(trace, span)) == (trace, span)


def test_an_all_zero_id_is_never_made(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter(["0" * 32, "0" * 32, "4bf92f3577b34da6a3ce929d0e0e4736"])
    monkeypatch.setattr(trace_context.secrets, "token_hex", lambda n: next(draws))
    assert new_trace_id() == "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize("value", [
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
])
def test_a_valid_header_parses(value: str) -> None:
    assert parse_traceparent(value) == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")


@pytest.mark.parametrize("value", [
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero span id
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # uppercase
    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # unknown version
    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
    "",
])
def test_an_invalid_header_does_not_parse(value: str) -> None:
    assert parse_traceparent(value) is None


def test_a_header_already_there_is_replaced_whatever_its_case() -> None:
    trace = new_trace_id()
    out = with_traceparent({"TraceParent": "00-old", "Accept": "application/json"}, trace)
    assert set(out) == {"Accept", "traceparent"}
    assert valid(out["traceparent"])[0] == trace


# -- on the wire ---------------------------------------------------------------------------

class _Recording(BaseHTTPRequestHandler):
    """Answers 200 {} (429 with Retry-After 0 first, when told to), recording each request's
    headers as received."""

    received: list[dict[str, str]]
    limited: list[bool]  # [True]: the next request gets a 429
    lock: threading.Lock

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with self.lock:
            self.received.append(dict(self.headers.items()))
            limited, self.limited[0] = self.limited[0], False
        body = b"{}"
        self.send_response(429 if limited else 200)
        if limited:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


@contextmanager
def recording_server(*, limited: bool = False) -> Iterator[tuple[str, list[dict[str, str]]]]:
    received: list[dict[str, str]] = []
    handler = type("Handler", (_Recording,), {"received": received, "limited": [limited],
                                              "lock": threading.Lock()})
    with serve(handler) as url:
        yield url, received


def _trace_of(headers: dict[str, str]) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == "traceparent"), None)


def test_every_request_carries_the_runs_trace_and_its_own_span() -> None:
    trace = new_trace_id()
    with recording_server() as (url, received):
        client = ApiClient(url, timeout=5, recorder=Recorder(), secrets=SecretSet(),
                           trace_id=trace)
        made = [client.request("GET", "/api/core/whoami"),
                client.request("POST", "/api/core/messages/send", json={"to": ["x"]})]
        made.append(client.replay(made[1]))
    sent = [valid(_trace_of(h)) for h in received]
    assert [t for t, _ in sent] == [trace] * 3
    assert len({s for _, s in sent}) == 3  # a replay is a new request: a new span
    assert [e.traceparent for e in made] == [_trace_of(h) for h in received]  # as recorded


def test_a_rate_limited_request_sent_again_is_a_new_span_of_the_same_trace() -> None:
    trace = new_trace_id()
    with recording_server(limited=True) as (url, received):
        recorder = Recorder()
        client = ApiClient(url, timeout=5, recorder=recorder, secrets=SecretSet(),
                           trace_id=trace, rate_limits=RateLimits(5))
        answer = client.request("GET", "/api/core/whoami")
    assert answer.status == 200 and [e.status for e in recorder.all()] == [429, 200]
    sent = [valid(_trace_of(h)) for h in received]
    assert sent[0][0] == sent[1][0] == trace and sent[0][1] != sent[1][1]
    assert [e.traceparent for e in recorder.all()] == [_trace_of(h) for h in received]


def test_no_trace_id_sends_no_traceparent() -> None:
    with recording_server() as (url, received):
        client = ApiClient(url, timeout=5, recorder=Recorder(), secrets=SecretSet())
        exchange = client.request("GET", "/api/core/whoami")
    assert _trace_of(received[0]) is None and exchange.traceparent is None


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


def _probe(url: str, **env: str) -> Any:
    return run_probe(load_settings(environ={"RC_BASE_URL": url, **REMOTE, **env}))


def test_the_probe_sends_one_trace_and_probe_json_names_it(sim: Simulator) -> None:
    with recording_proxy(sim.base_url) as (url, received):
        result = _probe(url)
    assert result.status == "healthy" and len(received) == 3  # token, whoami, numbers
    sent = [valid(_trace_of(h)) for h in received]
    assert {t for t, _ in sent} == {result.trace_id}
    assert len({s for _, s in sent}) == 3


def test_rc_traceparent_0_sends_none(sim: Simulator) -> None:
    with recording_proxy(sim.base_url) as (url, received):
        result = _probe(url, RC_TRACEPARENT="0")
    assert result.status == "healthy" and len(received) == 3
    assert [_trace_of(h) for h in received] == [None] * 3
    assert result.trace_id is None
