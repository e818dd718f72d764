"""The simulator's lifecycle webhooks: signature, order, sequence, outcomes, retries,
routing and the SSRF guard, against a loopback receiver."""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from redcloud_check.core.errors import HandlerError
from redcloud_check.simulator import DELIVERY_OUTCOMES, Simulator
from redcloud_check.simulator.seed import DEFAULT_SEED
from redcloud_check.simulator.webhooks import refusal

from .sim_helpers import (
    CLIENT_ID,
    FAST,
    NUMBER_E164,
    Api,
    Receiver,
    api_fixture,
    api_for,
    assert_schema,
    route_webhooks,
    send_body,
    sim_fixture,
)

sim = sim_fixture()
api = api_fixture()
LIFECYCLE = ["message.queued", "message.sent", "message.delivery"]


@pytest.fixture
def receiver(sim: Simulator) -> Iterator[Receiver]:
    with Receiver() as running:
        route_webhooks(sim, running.url)
        yield running


def _send_and_settle(api: Api, reference: str, to: list[str] | None = None) -> list[str]:
    response = api.send(send_body(externalReference=reference, to=to or [NUMBER_E164]))
    assert response.status_code == 202, response.text
    assert api.sim.wait_deliveries_idle(10)
    return [r["messageId"] for r in response.json()["results"]]


def test_lifecycle_events_are_signed_ordered_and_documented(api: Api,
                                                            receiver: Receiver) -> None:
    [message_id] = _send_and_settle(api, "ref-lifecycle")
    got = receiver.events_for("ref-lifecycle")
    assert [r.event["eventType"] for r in got] == LIFECYCLE
    assert [r.event["sequence"] for r in got] == [1, 2, 3]
    for received in got:
        assert received.signature_kind() == "docs"
        assert received.headers["content-type"] == "application/json"
        assert abs(int(received.headers["x-redcloud-timestamp"]) / 1000 - time.time()) < 60
        assert received.path == "/hooks"
        event = received.event
        assert_schema("webhook_event", event)
        assert event["direction"] == "outbound" and event["apiClientId"] == CLIENT_ID
        assert event["messageId"] == message_id and event["occurredAt"] > 10**12
        assert event["data"] == {
            "messageId": message_id, "externalReference": "ref-lifecycle",
            "sendFrom": NUMBER_E164, "to": NUMBER_E164, "status": event["data"]["status"],
            "error": None}
    assert [r.event["data"]["status"] for r in got] == ["queued", "sent", "delivered"]


@pytest.mark.parametrize("to", sorted(DELIVERY_OUTCOMES))
def test_magic_recipients_fail(api: Api, receiver: Receiver, to: str) -> None:
    _send_and_settle(api, f"ref-{to}", [to])
    final = receiver.events_for(f"ref-{to}")[-1].event
    assert final["eventType"] == "message.failed" and final["sequence"] == 3
    outcome = DELIVERY_OUTCOMES[to]
    assert final["data"]["status"] == "failed"
    assert final["data"]["error"] == {"code": outcome.error_code,
                                      "message": outcome.error_message}
    assert {"+15005550001": "CARRIER_REJECTED", "+15005550002": "UNREACHABLE_HANDSET"}[to] \
        == outcome.error_code


def test_each_message_of_a_multi_recipient_send_is_in_order(api: Api,
                                                            receiver: Receiver) -> None:
    ids = _send_and_settle(api, "ref-multi", ["+15550000001", "+15550000002", "+15005550001"])
    got = receiver.events_for("ref-multi")
    assert len(got) == 9
    for message_id in ids:
        mine = [r.event for r in got if r.event["messageId"] == message_id]
        assert [e["sequence"] for e in mine] == [1, 2, 3]
        assert [e["eventType"] for e in mine][:2] == LIFECYCLE[:2]


def test_a_replay_sends_no_new_webhooks(api: Api, receiver: Receiver) -> None:
    body = send_body(externalReference="ref-replay")
    first = api.send(body, key="idem-replay-webhooks")
    assert api.sim.wait_deliveries_idle(10)
    assert api.send(body, key="idem-replay-webhooks").content == first.content
    assert api.sim.wait_deliveries_idle(10)
    assert len(receiver.events_for("ref-replay")) == 3


def test_non_2xx_answers_are_retried_with_backoff(api: Api, receiver: Receiver) -> None:
    receiver.fail_first = 2
    [message_id] = _send_and_settle(api, "ref-retry")
    attempts = [d for d in api.sim.deliveries if d.message_id == message_id]
    assert [(d.event_type, d.attempt, d.status) for d in attempts] == [
        ("message.queued", 1, 500), ("message.queued", 2, 500), ("message.queued", 3, 200),
        ("message.sent", 1, 200), ("message.delivery", 1, 200)]
    got = receiver.events_for("ref-retry")
    assert [r.event["eventType"] for r in got] == [LIFECYCLE[0]] * 3 + LIFECYCLE[1:]
    assert got[0].body == got[2].body  # the same event, redelivered
    assert api.sim.handler_errors == []  # the receiver's answers: no bug of ours


def test_connection_errors_are_retried_then_given_up(api: Api) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    route_webhooks(api.sim, f"http://127.0.0.1:{port}/closed")
    [message_id] = _send_and_settle(api, "ref-closed")
    attempts = [d for d in api.sim.deliveries if d.message_id == message_id]
    assert len(attempts) == 3 * FAST["delivery_attempts"]
    assert all(d.status is None and d.error and "connection" in d.error for d in attempts)
    assert api.sim.handler_errors == []  # an unreachable receiver is no bug of ours


def test_a_bug_of_ours_in_a_delivery_is_collected_not_only_logged(
        api: Api, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    from redcloud_check.simulator import webhooks

    def broken(*_: object, **__: object) -> bytes:
        raise KeyError("a bug in the delivery")

    monkeypatch.setattr(webhooks, "event_body", broken)
    [message_id] = _send_and_settle(api, "ref-bug")  # the send itself was accepted
    try:
        assert [type(e) for e in api.sim.handler_errors] == [KeyError]
        with pytest.raises(HandlerError, match="KeyError: 'a bug in the delivery'"):
            api.sim.check_handler_errors()
    finally:
        api.sim.clear_handler_errors()
    assert [d for d in api.sim.deliveries if d.message_id == message_id] == [], \
        "no attempt was made: nothing says the receiver failed"
    assert receiver.events_for("ref-bug") == []


def test_a_route_that_raises_answers_500_and_is_collected(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from redcloud_check.simulator import numbers

    def broken(*_: object) -> None:
        raise ZeroDivisionError("a bug in a route")

    monkeypatch.setattr(numbers, "runtime", broken)
    try:
        response = api.core("GET", "/api/core/whoami")
        assert response.status_code == 500 and response.json()["error"]["code"] == \
            "INTERNAL_ERROR"
        assert [type(e) for e in api.sim.handler_errors] == [ZeroDivisionError]
    finally:
        api.sim.clear_handler_errors()


def test_wait_deliveries_idle_waits_for_a_held_delivery(api: Api, receiver: Receiver) -> None:
    receiver.gate.clear()
    assert api.send(send_body(externalReference="ref-held")).status_code == 202
    assert receiver.wait_for(lambda got: False, 0.05) is False  # nothing answered yet
    assert api.sim.wait_deliveries_idle(0.1) is False
    receiver.gate.set()
    assert api.sim.wait_deliveries_idle(10) is True
    assert len(receiver.events_for("ref-held")) == 3


def test_non_loopback_targets_are_refused_never_attempted(api: Api) -> None:
    route_webhooks(api.sim, "http://example.com/hooks")
    [message_id] = _send_and_settle(api, "ref-ssrf")
    attempts = [d for d in api.sim.deliveries if d.message_id == message_id]
    assert [d.event_type for d in attempts] == LIFECYCLE
    for attempt in attempts:
        assert attempt.attempt == 0 and attempt.status is None and attempt.error is None
        assert attempt.refused and "example.com" in attempt.refused


@pytest.mark.parametrize(("url", "allowed"), [
    ("http://127.0.0.1:8/x", True), ("http://127.9.9.9/x", True), ("http://localhost/x", True),
    ("http://[::1]:9/x", True), ("http://[::ffff:127.0.0.1]/x", True),
    ("https://example.com/x", False), ("http://10.0.0.1/x", False),
    ("http://169.254.169.254/latest", False), ("http://localhost.evil.com/x", False),
    ("http://127.0.0.1.nip.io/x", False), ("ftp://127.0.0.1/x", False), (None, False),
    ("http://[::1/x", False),
])
def test_ssrf_guard(url: str | None, allowed: bool) -> None:
    assert (refusal(url, frozenset()) is None) is allowed


def test_allow_list_admits_a_named_host() -> None:
    assert refusal("https://hooks.example.com/x", frozenset({"hooks.example.com"})) is None
    assert refusal("https://other.example.com/x", frozenset({"hooks.example.com"})) is not None


def test_override_is_taken_at_send_time(api: Api) -> None:
    with Receiver() as first, Receiver() as second:
        route_webhooks(api.sim, first.url)
        assert api.send(send_body(externalReference="ref-send-time")).status_code == 202
        assert api.patch("num_abc123", {"webhookDeliveryOverride": second.url}).status_code \
            == 200
        assert api.sim.wait_deliveries_idle(10)
        assert len(first.events_for("ref-send-time")) == 3
        assert second.received == []


def test_without_override_events_go_to_the_client_webhook() -> None:
    with Receiver() as client_hook, Receiver() as override:
        seed = json.loads(DEFAULT_SEED.read_text())
        seed = copy.deepcopy(seed)
        seed["clients"][0]["deliveryWebhookUrl"] = client_hook.url
        seed["numbers"][0]["webhookDeliveryOverride"] = override.url
        with Simulator(seed=seed, **FAST) as own, api_for(own) as api:
            _send_and_settle(api, "ref-client-hook",)
            api.send(send_body(sendFrom="num_smsonly456", externalReference="ref-smsonly"))
            assert own.wait_deliveries_idle(10)
        assert len(override.events_for("ref-client-hook")) == 3
        assert client_hook.events_for("ref-client-hook") == []
        assert len(client_hook.events_for("ref-smsonly")) == 3
        assert override.events_for("ref-smsonly") == []


# A fresh interpreter that serves a send and its lifecycle with stdlib on the other side,
# then prints the modules it imported after the simulator started serving.
_FIRST_DELIVERY = """
import base64, json, sys, threading, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from redcloud_check.simulator import Simulator

class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass

def post(url, body, headers):
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())

hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=hook.serve_forever, daemon=True).start()
with Simulator(lifecycle_delay_ms=1) as sim:
    with sim.state.lock:
        sim.state.numbers["num_abc123"].webhook_delivery_override = (
            f"http://127.0.0.1:{hook.server_address[1]}/hooks")
    before = set(sys.modules)
    basic = base64.b64encode(b"rc_test_client_123:rc_secret_abc123").decode()
    token = post(sim.base_url + "/api/auth/token", b"grant_type=client_credentials",
                 {"Authorization": "Basic " + basic,
                  "Content-Type": "application/x-www-form-urlencoded"})["access_token"]
    send = {"sendFrom": "num_abc123", "to": ["+15551234567"], "messageType": "SMS",
            "text": "Hello", "externalReference": "order_789"}
    post(sim.base_url + "/api/core/messages/send", json.dumps(send).encode(),
         {"Authorization": "Bearer " + token, "Content-Type": "application/json",
          "Idempotency-Key": "idem_first_delivery"})
    assert sim.wait_deliveries_idle(10)
    print(json.dumps({"statuses": [d.status for d in sim.deliveries],
                      "imported": sorted(set(sys.modules) - before)}))
hook.shutdown()
"""


def test_the_first_delivery_imports_nothing_on_the_serving_loop() -> None:
    """The delivery stack (httpx's transport, anyio's socket layer) is loaded before the
    simulator serves: imported by the first delivery, it held the event loop that answers
    the API, and the request arriving meanwhile waited 30-50 ms for it."""
    proc = subprocess.run([sys.executable, "-c", _FIRST_DELIVERY], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout)
    assert outcome["statuses"] == [200, 200, 200]
    delivery_stack = ("httpx", "httpcore", "h11", "anyio", "certifi", "ssl")
    assert [m for m in outcome["imported"] if m.split(".")[0] in delivery_stack] == []
