"""Evidence bundles from real exchanges over loopback, with the reproduce policy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from redcloud_check.core.client import ApiClient, SecretSet, basic_header
from redcloud_check.core.errors import CheckFailure, TargetUnreachable
from redcloud_check.core.exchange import Exchange, Timings
from redcloud_check.core.recorder import Recorder
from redcloud_check.reporting.evidence import (
    CheckInfo,
    build_bundle,
    iso_utc,
    named_secrets,
    payload_shape,
)
from redcloud_check.reporting.reproduce import replay_policy

from .bad_targets import serve
from .leaks import assert_no_secret

CLIENT_ID = "rc_test_client_123"
SECRET = "evidence-secret-9f8e"
TOKEN = "issued-token-7d6c5b"


class Target(BaseHTTPRequestHandler):
    """A tiny target: token issuance, a flaky whoami, a send that needs a key."""

    hits: dict[str, int] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: Any, ctype: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-Id", f"hdr_{self.path.strip('/').replace('/', '_')}")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        n = Target.hits[self.path] = Target.hits.get(self.path, 0) + 1
        if self.path == "/api/core/whoami":
            self._reply(401, {"error": {"code": "UNAUTHORIZED", "message": "bad token",
                                        "details": {}}, "requestId": "req_whoami_1"})
        elif self.path == "/flaky":
            self._reply(502 if n == 1 else 200, b"<html>bad gateway</html>" if n == 1 else {},
                        "text/html" if n == 1 else "application/json")
        else:
            self._reply(404, {"error": {"code": "NOT_FOUND", "message": "", "details": {}},
                              "requestId": "req_404"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        Target.hits[self.path] = Target.hits.get(self.path, 0) + 1
        if self.path == "/api/auth/token":
            self._reply(200, {"access_token": TOKEN, "token_type": "bearer", "expires_in": 3600})
        elif self.headers.get("Idempotency-Key"):
            self._reply(202, {"results": [{"to": "+15551234567", "messageId": "msg_1",
                                           "status": "QUEUED"}], "errors": []})
        else:
            self._reply(400, {"error": {"code": "INVALID_REQUEST", "message": "key required",
                                        "details": {}}, "requestId": "req_send_001"})

    def do_PATCH(self) -> None:
        self._reply(200, {})


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(Target) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[ApiClient]:
    Target.hits = {}
    recorder = Recorder()
    recorder.current_check = "checks/test_x.py::test_x"
    api = ApiClient(base_url, timeout=5, recorder=recorder, secrets=SecretSet([SECRET]))
    yield api
    api.close()


def _secrets(client: ApiClient) -> dict[str, str]:
    return named_secrets(client.secrets.values(), client_id=CLIENT_ID, client_secret=SECRET)


def _check(stage: str = "whoami", name: str = "test_x") -> CheckInfo:
    return CheckInfo(nodeid=f"checks/test_x.py::{name}", name=name, stage=stage, gate=True,
                     clause="1-quickstart.txt, Section 5", statement="The client is ACTIVE.",
                     check_id=f"RC-{stage.upper()}-01")


def _failure(exchange: Exchange) -> CheckFailure:
    return CheckFailure(title="whoami failed", expected="HTTP 200", actual="HTTP 401",
                        clause="1-quickstart.txt, Section 5", exchange=exchange)


def test_a_bundle_shows_the_shared_read_its_check_judged(client: ApiClient) -> None:
    """A check that judged a read another check made (the gate's numbers list, shared by the
    stage) has that read in its bundle's exchanges, before the retry."""
    ex = client.request("GET", "/api/core/whoami", headers={"Authorization": f"Bearer {TOKEN}"},
                        label="numbers: list")
    bundle = build_bundle(_check(), _failure(ex), exchanges=[], secrets=_secrets(client),
                          replay=client.replay, timeout=5)
    assert [e["label"] for e in bundle["exchanges"]] == ["numbers: list",
                                                        "replay of: numbers: list"]
    assert bundle["escalation"]["requestId"] == "req_whoami_1"


def test_bundle_has_every_escalation_field(client: ApiClient) -> None:
    token = client.request("POST", "/api/auth/token",
                           headers={"Authorization": basic_header(CLIENT_ID, SECRET)},
                           form={"grant_type": "client_credentials"})
    ex = client.request("GET", "/api/core/whoami", headers={"Authorization": f"Bearer {TOKEN}"},
                        token_fresh=True, token_age_s=0.25)
    bundle = build_bundle(_check(), _failure(ex), exchanges=[token, ex],
                          secrets=_secrets(client), replay=client.replay, timeout=5)
    esc = bundle["escalation"]
    assert bundle["checkId"] == "RC-WHOAMI-01"
    assert bundle["check"] == {"checkId": "RC-WHOAMI-01",
                               "nodeid": "checks/test_x.py::test_x", "name": "test_x",
                               "stage": "whoami", "gate": True,
                               "clause": "1-quickstart.txt, Section 5",
                               "statement": "The client is ACTIVE."}
    assert bundle["kind"] == "nonconformance" and bundle["title"] == "whoami failed"
    assert esc["endpoint"] == "GET /api/core/whoami" and esc["http_status"] == 401
    assert esc["requestId"] == "req_whoami_1" and esc["error_code"] == "UNAUTHORIZED"
    assert esc["request_timestamp"] == iso_utc(ex.started_at)
    assert esc["request_timestamp"].endswith("Z") and len(esc["request_timestamp"]) == 24
    assert esc["token_fresh"] is True and esc["token_age_s"] == 0.25
    assert esc["request_header_names"] == ["Accept", "Authorization"]
    assert esc["reproduces"]["retried"] is True and esc["reproduces"]["consistent"] is True
    assert "reproduced" in esc["reproduces"]["note"]
    assert Target.hits["/api/core/whoami"] == 2  # exactly one retry
    assert len(bundle["exchanges"]) == 3 and bundle["exchanges"][-1]["label"].startswith("replay")
    assert bundle["diagnosis"]["id"] == "whoami-401"
    assert bundle["curl"].startswith("curl http://127.0.0.1")
    text = json.dumps(bundle)
    assert_no_secret(text, [SECRET, TOKEN, basic_header(CLIENT_ID, SECRET).split()[1]])
    assert bundle["exchanges"][0]["response_body"].count("[redacted:access_token]") == 1
    assert bundle["exchanges"][1]["request_headers"]["Authorization"] == "Bearer ***"


def test_send_without_idempotency_key_is_not_retried(client: ApiClient) -> None:
    ex = client.request("POST", "/api/core/messages/send",
                        json={"sendFrom": "num_abc123", "to": ["+15551234567"],
                              "media": [{"byteLength": 1, "fileName": "a"}], "urgent": True,
                              "ratio": 0.5, "ref": None})
    bundle = build_bundle(_check("send", "test_send"), _failure(ex), exchanges=[ex],
                          secrets=_secrets(client), replay=client.replay, embedded=True)
    esc = bundle["escalation"]
    assert esc["reproduces"]["retried"] is False
    assert esc["reproduces"]["note"] == ("not retried: a send without Idempotency-Key could "
                                         "create a duplicate message")
    assert Target.hits["/api/core/messages/send"] == 1
    assert esc["payload_shape"] == {"sendFrom": "string", "to": ["string"],
                                    "media": [{"byteLength": "integer", "fileName": "string"}],
                                    "urgent": "boolean", "ratio": "number", "ref": "null"}
    assert esc["requestId"] == "req_send_001"
    assert bundle["diagnosis"]["id"] == "send-400-invalid-request"


def test_keyed_send_to_the_embedded_simulator_is_retried_and_message_id_kept(
        client: ApiClient) -> None:
    ex = client.request("POST", "/api/core/messages/send", json={"to": ["+15551234567"]},
                        headers={"Idempotency-Key": "k1"})
    bundle = build_bundle(_check("send", "test_partial"), _failure(ex), exchanges=[ex],
                          secrets={}, replay=client.replay, accepted_ids=["msg_1", "msg_2"],
                          embedded=True)
    esc = bundle["escalation"]
    assert esc["reproduces"]["retried"] is True and Target.hits["/api/core/messages/send"] == 2
    assert esc["messageId"] == "msg_1" and esc["messageIds"] == ["msg_1", "msg_2"]
    assert esc["requestId"] == "hdr_api_core_messages_send"  # from the response header


def test_inconsistent_outcome_is_reported(client: ApiClient) -> None:
    ex = client.request("GET", "/flaky")
    bundle = build_bundle(_check("token", "test_basic"), _failure(ex), exchanges=[ex],
                          secrets={}, replay=client.replay)
    repro = bundle["escalation"]["reproduces"]
    assert repro["consistent"] is False and repro["replay"]["status"] == 200
    assert repro["note"].startswith("did not reproduce: HTTP 502, then HTTP 200")
    assert bundle["diagnosis"]["id"] == "gateway-5xx-non-json"
    assert "gateway error" in bundle["diagnosis"]["note"]


@pytest.mark.parametrize(
    ("method", "path", "headers", "embedded", "safe", "why"),
    [
        ("GET", "/api/core/numbers", {}, False, True, "GET is read-only"),
        ("HEAD", "/x", {}, False, True, "HEAD is read-only"),
        ("POST", "/api/auth/token", {}, False, True, "a token request"),
        ("POST", "/api/core/numbers/search", {}, False, True, "search"),
        ("POST", "/api/core/messages/send", {"idempotency-key": "k"}, True, True,
         "Idempotency-Key"),
        ("POST", "/api/core/messages/send", {}, True, False, "could create a duplicate message"),
        ("POST", "/api/core/messages/send", {"idempotency-key": "k"}, False, False, "a send"),
        ("POST", "/api/core/messages/send", {}, False, False, "a send"),
        ("PATCH", "/api/core/numbers/num_abc123", {}, False, False,
         "PATCH changes number settings"),
        ("DELETE", "/x", {}, False, False, "may change state"),
    ],
)
def test_replay_policy(method: str, path: str, headers: dict[str, str], embedded: bool,
                       safe: bool, why: str) -> None:
    ex = Exchange(method=method, url=f"http://h{path}", request_headers=headers,
                  request_body=None, started_at=0, timings=Timings(total=0))
    got_safe, got_why = replay_policy(ex, embedded=embedded)
    assert got_safe is safe and why in got_why


def test_unreachable_target_bundle(client: ApiClient) -> None:
    dead = ApiClient("http://127.0.0.1:9", timeout=2, recorder=client.recorder,
                     secrets=client.secrets)
    with pytest.raises(TargetUnreachable) as info:
        dead.request("GET", "/api/core/whoami")
    exchanges = client.recorder.all()
    bundle = build_bundle(_check("token", "test_basic"), info.value, exchanges=exchanges,
                          secrets={}, replay=dead.replay)
    assert bundle["kind"] == "unreachable"
    assert bundle["escalation"]["http_status"] is None
    assert bundle["escalation"]["reproduces"]["consistent"] is True
    assert bundle["diagnosis"]["id"] == "unreachable-refused"
    assert bundle["diagnosis"]["note"].startswith("target unreachable: connection refused at")


def test_timeout_is_not_retried() -> None:
    ex = Exchange(method="GET", url="http://h/x", request_headers={}, request_body=None,
                  started_at=0, timings=Timings(total=5), error="timed out",
                  error_kind="timeout")
    error = TargetUnreachable("http://h/x", "timeout", "read timed out")
    bundle = build_bundle(_check("token", "t"), error, exchanges=[ex], secrets={},
                          replay=lambda e: pytest.fail("must not replay"), timeout=0.5)
    assert "RC_TIMEOUT" in bundle["escalation"]["reproduces"]["note"]
    assert bundle["diagnosis"]["note"].endswith("within RC_TIMEOUT (0.5 s)")


def test_suite_bug_is_not_blamed_on_the_api() -> None:
    bundle = build_bundle(_check("send", "t"), KeyError("results"), exchanges=[], secrets={})
    assert bundle["kind"] == "suite_error"
    assert "a bug in the suite, not the API" in bundle["title"]
    assert bundle["diagnosis"]["id"] == "tool-error"
    assert bundle["escalation"]["endpoint"] is None and bundle["curl"] is None


def test_payload_shape_of_a_form_keeps_no_value() -> None:
    ex = Exchange(method="POST", url="http://h/api/auth/token", request_headers={},
                  request_body=f"grant_type=client_credentials&client_secret={SECRET}".encode(),
                  started_at=0, timings=Timings(total=0))
    assert payload_shape(ex) == {"grant_type": "string", "client_secret": "string"}


def test_named_secrets_labels() -> None:
    named = named_secrets(["tok", SECRET], client_id="id", client_secret=SECRET,
                          webhook_secret="wh", ngrok_authtoken="ng")
    assert named["tok"] == "access_token" and named[SECRET] == "client_secret"
    assert named["wh"] == "webhook_secret" and named["ng"] == "ngrok_authtoken"
    assert "basic_credential" in named.values()
