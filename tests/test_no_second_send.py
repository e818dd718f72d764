"""No second real send: a failing send to a remote target is never sent again for the
bundle's "does it reproduce" field; reads and token requests may still be retried once.

The remote targets are real HTTP servers on 127.0.0.1 port 0 that count what they receive.
"""

from __future__ import annotations

import hashlib
import http.client
import json
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from redcloud_check.core.client import ApiClient, SecretSet
from redcloud_check.core.errors import CheckFailure
from redcloud_check.core.exchange import Exchange
from redcloud_check.core.recorder import Recorder
from redcloud_check.reporting.artifacts import validate_escalation
from redcloud_check.reporting.evidence import CheckInfo, build_bundle
from redcloud_check.simulator import Simulator

from .bad_targets import serve
from .suite_runner import run_suite

SEND = "/api/core/messages/send"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


class FailingTarget(BaseHTTPRequestHandler):
    """Every request fails with 503 and a CORE error; hits are counted per (method, path)."""

    hits: Counter[tuple[str, str]] = Counter()

    def log_message(self, *args: Any) -> None:
        pass

    def _fail(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        FailingTarget.hits[(self.command, self.path)] += 1
        body = json.dumps({"error": {"code": "UNAVAILABLE", "message": "down", "details": {}},
                           "requestId": f"req_{sum(FailingTarget.hits.values())}"}).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _fail


@pytest.fixture
def client() -> Iterator[ApiClient]:
    FailingTarget.hits = Counter()
    with serve(FailingTarget) as base_url:
        api = ApiClient(base_url, timeout=5, recorder=Recorder(), secrets=SecretSet([]))
        yield api
        api.close()


def _bundle(client: ApiClient, exchange: Exchange, **kwargs: Any) -> dict[str, Any]:
    failure = CheckFailure(title="failed", expected="success", actual="HTTP 503",
                           clause="4-sending-messages.txt", exchange=exchange)
    return build_bundle(CheckInfo(nodeid="checks/t.py::t", name="t", stage="send"), failure,
                        exchanges=[exchange], secrets={}, replay=client.replay, **kwargs)


@pytest.mark.parametrize("key", ["key-1", None])
def test_a_failing_send_to_a_remote_target_is_never_sent_again(client: ApiClient,
                                                               key: str | None) -> None:
    exchange = client.request("POST", SEND, json={"sendFrom": "num_abc123", "to": ["+1555"]},
                              headers={"Idempotency-Key": key} if key else {})
    repro = _bundle(client, exchange)["escalation"]["reproduces"]
    assert FailingTarget.hits[("POST", SEND)] == 1
    assert repro["retried"] is False and repro["replay"] is None
    assert repro["note"].startswith("not retried: a send")


def test_only_the_embedded_simulator_gets_a_keyed_send_replayed(client: ApiClient) -> None:
    exchange = client.request("POST", SEND, json={"to": ["+1555"]},
                              headers={"Idempotency-Key": "key-2"})
    repro = _bundle(client, exchange, embedded=True)["escalation"]["reproduces"]
    assert repro["retried"] is True and FailingTarget.hits[("POST", SEND)] == 2


@pytest.mark.parametrize(("method", "path"), [("POST", "/api/auth/token"),
                                              ("GET", "/api/core/whoami"),
                                              ("POST", "/api/core/numbers/search")])
def test_reads_and_token_requests_to_a_remote_target_are_retried_once(
        client: ApiClient, method: str, path: str) -> None:
    exchange = client.request(method, path)
    repro = _bundle(client, exchange)["escalation"]["reproduces"]
    assert repro["retried"] is True and repro["consistent"] is True
    assert FailingTarget.hits[(method, path)] == 2


class CountingProxy(BaseHTTPRequestHandler):
    """Forwards every request to `upstream`; records each send's (Idempotency-Key, body)."""

    upstream = ""
    sends: list[tuple[str | None, str]] = []
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.command == "POST" and self.path == SEND:
            digest = hashlib.sha256(body).hexdigest()
            CountingProxy.sends.append((self.headers.get("Idempotency-Key"), digest))
        target = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        conn.request(self.command, self.path, body=body, headers=headers)
        answer = conn.getresponse()
        payload = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP | {"date", "server"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        conn.close()

    do_GET = do_POST = do_PATCH = _forward


@pytest.mark.slow
def test_a_remote_run_never_resends_a_failing_send_to_a_broken_target(tmp_path: Path) -> None:
    # The target answers accepted sends with 200 instead of 202 (so the send checks fail), and
    # its idempotency is broken: a replay of a key would queue one more real message.
    with Simulator(faults=["send-accepted-200", "send-replay-new-message"]) as sim:
        CountingProxy.upstream, CountingProxy.sends = sim.base_url, []
        with serve(CountingProxy) as remote:
            run = run_suite(tmp_path, RC_BASE_URL=remote, RC_CLIENT_ID="rc_test_client_123",
                            RC_CLIENT_SECRET="rc_secret_abc123", RC_NUMBER_ID="num_abc123",
                            RC_TO="+15551234567", RC_WEBHOOK_SECRET="rc_secret_abc123",
                            RC_ALLOW_SEND="1", RC_WEBHOOK_TIMEOUT="5")
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-3000:]
    assert "test_sms_send_is_accepted" in {c.name.rpartition("::")[2] for c in run.failed}
    doc = json.loads((tmp_path / "escalation.json").read_text())
    validate_escalation(doc)
    send_bundles = [b for b in doc["bundles"] if b["escalation"]["endpoint"] == f"POST {SEND}"]
    assert send_bundles, "the failing sends have bundles"
    for bundle in send_bundles:
        assert bundle["escalation"]["reproduces"]["note"].startswith("not retried: a send")
    assert CountingProxy.sends, "the run did send"
    repeated = [pair for pair, n in Counter(CountingProxy.sends).items() if n > 1]
    assert repeated == [], "a send (same key and body) reached the target twice"
