"""Helpers for the simulator's tests: an HTTP client bound to a simulator, a loopback
webhook receiver, canonical payloads and schema assertions.

Everything runs over real HTTP on 127.0.0.1 with port 0; waits are event-driven.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from redcloud_check.core import signing
from redcloud_check.rules import schemas
from redcloud_check.simulator import Simulator

CLIENT_ID = "rc_test_client_123"
CLIENT_SECRET = "rc_secret_abc123"
WEBHOOK_SECRET = "rc_secret_abc123"
NUMBER_ID = "num_abc123"
NUMBER_E164 = "+15551234567"
OTHER_CLIENT = ("rc_other_client_789", "rc_secret_other789")
INACTIVE_CLIENT = ("rc_inactive_client", "rc_secret_inactive")
FORM = {"grant_type": "client_credentials"}
MEDIA = [{"storageKey": "storage_abc123", "mimeType": "image/jpeg", "byteLength": 182340,
          "sourceUrl": "https://example.com/files/catalog.jpg", "fileName": "catalog.jpg"}]

# Fast webhooks for tests: tiny lifecycle delay and backoff.
FAST: dict[str, Any] = {"lifecycle_delay_ms": 1, "delivery_backoff_s": 0.01, "delivery_attempts": 3}


def assert_schema(name: str, instance: Any) -> None:
    """`instance` is valid against the project schema `name`."""
    problems = schemas.errors(name, instance)
    assert problems == [], f"{name}: " + "; ".join(str(p) for p in problems)


def send_body(**changes: Any) -> dict[str, Any]:
    """The docs' minimal SMS send, with `changes` applied (a None value drops the field)."""
    body: dict[str, Any] = {"sendFrom": NUMBER_ID, "to": [NUMBER_E164], "messageType": "SMS",
                            "text": "Hello from Red Cloud", "externalReference": "order_789"}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def new_key() -> str:
    return "idem_" + uuid.uuid4().hex


class Api:
    """An httpx client for one simulator, with token and send shortcuts."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.http = httpx.Client(base_url=sim.base_url, timeout=10, trust_env=False)
        self._token: str | None = None
        self.receiver: Receiver | None = None  # a webhook receiver a test attaches

    def close(self) -> None:
        self.http.close()

    def token_response(self, client: tuple[str, str] = (CLIENT_ID, CLIENT_SECRET),
                       **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("data", FORM)
        return self.http.post("/api/auth/token", auth=client, **kwargs)

    def token(self, client: tuple[str, str] = (CLIENT_ID, CLIENT_SECRET)) -> str:
        response = self.token_response(client)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def bearer(self, token: str | None = None) -> dict[str, str]:
        if token is None:
            if self._token is None:
                self._token = self.token()
            token = self._token
        return {"Authorization": f"Bearer {token}"}

    def core(self, method: str, path: str, *, token: str | None = None,
             headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, headers={**self.bearer(token), **(headers or {})},
                                 **kwargs)

    def send(self, body: dict[str, Any] | None = None, *, key: str | None = "",
             token: str | None = None) -> httpx.Response:
        """POST send; key "" means a fresh key, None means no Idempotency-Key header."""
        headers = {} if key is None else {"Idempotency-Key": key or new_key()}
        return self.core("POST", "/api/core/messages/send", token=token, headers=headers,
                         json=send_body() if body is None else body)

    def patch(self, number_id: str, body: dict[str, Any]) -> httpx.Response:
        return self.core("PATCH", f"/api/core/numbers/{number_id}", json=body)

    def number(self, number_id: str = NUMBER_ID) -> dict[str, Any]:
        numbers = self.core("GET", "/api/core/numbers").json()["numbers"]
        return dict(next(n for n in numbers if n["numberId"] == number_id))


@contextmanager
def api_for(sim: Simulator) -> Iterator[Api]:
    """An Api for `sim`; its faults are cleared on exit."""
    api = Api(sim)
    try:
        yield api
    finally:
        sim.set_faults(())
        api.close()


def sim_fixture(**kwargs: Any) -> Any:
    """A module-scoped `sim` fixture: ``sim = sim_fixture()`` in a test module."""

    @pytest.fixture(scope="module")
    def sim() -> Iterator[Simulator]:
        with Simulator(**{**FAST, **kwargs}) as running:
            yield running

    return sim


def api_fixture() -> Any:
    """A function-scoped `api` fixture on the module's `sim`; faults are cleared after."""

    @pytest.fixture
    def api(sim: Simulator) -> Iterator[Api]:
        with api_for(sim) as client:
            yield client

    return api


def assert_switch_shows(api: Api, receiver: Receiver, name: str,
                       switch: Callable[[Iterable[str]], None],
                       probes: Mapping[str, tuple[Callable[[Api], Any], Any]]) -> None:
    """Switched on by `switch` (set_faults or set_variants), `name` makes its probe observe
    what `probes` expects, which the simulator without it does not show. Off again after."""
    api.receiver = receiver
    probe, expected = probes[name]
    plain = probe(api)
    switch([name])
    try:
        observed = probe(api)
    finally:
        switch(())
    assert observed == expected, f"{name}: observed {observed!r}"
    assert plain != expected, f"{name}: the simulator without it already shows {plain!r}"


def assert_core_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A CORE wrapper error with `status` and `code` whose requestId matches X-Request-Id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert_schema("core_error", body)
    assert body["error"]["code"] == code, body
    assert body["requestId"].startswith("req_")
    assert response.headers["x-request-id"] == body["requestId"]
    return dict(body)


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """An OAuth-style token error (never the CORE wrapper)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert_schema("oauth_error", body)
    assert body["error"] == error, body
    assert isinstance(body.get("error_description"), str)
    assert "requestId" not in body
    return dict(body)


@dataclass(frozen=True, slots=True)
class Received:
    """One webhook POST as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return dict(json.loads(self.body))

    def signature_kind(self, secret: str | bytes = WEBHOOK_SECRET, *,
                       body: bytes | None = None) -> str:
        """docs | body-only | missing | other: how the signature was computed (over `body`,
        by default the body received; hex compared in any case)."""
        timestamp = self.headers.get(signing.TIMESTAMP_HEADER.lower(), "")
        signature = self.headers.get(signing.SIGNATURE_HEADER.lower())
        if signature is None:
            return "missing"
        signed = self.body if body is None else body
        if signing.sign(secret, timestamp, signed) == signature.lower():
            return "docs"
        key = secret.encode() if isinstance(secret, str) else secret
        body_only = hmac.new(key, signed, hashlib.sha256).hexdigest()
        return "body-only" if hmac.compare_digest(body_only, signature) else "other"


class Receiver:
    """A loopback webhook endpoint (http.server in a thread) recording every POST.

    ``fail_first`` answers that many requests with 500 before answering 200; ``gate``, when
    cleared, holds every request until it is set.
    """

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[Received] = []
        self.fail_first = fail_first
        self.gate = threading.Event()
        self.gate.set()
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.gate.wait(10)
                with receiver._changed:
                    receiver.received.append(Received(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    failing = receiver.fail_first > 0
                    receiver.fail_first -= 1 if failing else 0
                    receiver._changed.notify_all()
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                        daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 10) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.received), timeout)

    def events_for(self, external_reference: str) -> list[Received]:
        """The received events whose data.externalReference is `external_reference`."""
        with self._changed:
            got = list(self.received)
        return [r for r in got
                if r.event.get("data", {}).get("externalReference") == external_reference]


def route_webhooks(sim: Simulator, url: str, number_id: str = NUMBER_ID) -> None:
    """Point the number's delivery override at `url` directly in the simulator's store."""
    with sim.state.lock:
        sim.state.numbers[number_id].webhook_delivery_override = url
