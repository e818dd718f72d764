"""The reference receiver: `webhooks.reference.judge` answers what the docs' express listener
(1-quickstart.txt Section 9) answers. Each case is one raw request; the model's answer is
pinned, and, where node and the bench's express listener are installed, every case is also
sent to the real listener and to ours, and the model, judging what ours recorded, must give
the real listener's status (a differential test: the reference is the docs' code itself)."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import http.client
import json
import shutil
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from redcloud_check.core.signing import sign
from redcloud_check.webhooks.listener import Delivery, WebhookListener
from redcloud_check.webhooks.reference import EXPRESS_JSON_LIMIT, judge

from .suite_runner import REPO

SECRET = "test_webhook_secret_9f2c"
TS = "1775002218105"
EVENT = {"eventType": "message.queued", "messageId": "msg_1", "sequence": 1,
         "data": {"to": "+15551234567", "note": "café"}}
BODY = json.dumps(EVENT, separators=(",", ":"), ensure_ascii=False).encode()
JSON = ("Content-Type", "application/json")


def _sig(body: bytes = BODY, ts: str = TS) -> str:
    return sign(SECRET, ts, body)


@dataclass(frozen=True)
class Case:
    name: str
    headers: tuple[tuple[str, str], ...]  # in order, repeats allowed
    body: bytes
    status: int  # what the docs' listener answers
    code: str


def _case(name: str, status: int, code: str, *, body: bytes = BODY,
          headers: tuple[tuple[str, str], ...] | None = None) -> Case:
    given = headers if headers is not None else (
        JSON, ("X-RedCloud-Timestamp", TS), ("X-RedCloud-Signature", _sig(body)))
    return Case(name, given, body, status, code)


BIG = json.dumps({"pad": "x" * (EXPRESS_JSON_LIMIT + 10)}).encode()
ZIPPED = gzip.compress(BODY, mtime=0)
LATIN = BODY.replace("café".encode(), b"caf\xe9")  # not UTF-8: buffer.toString changes it
BOM = b"\xef\xbb\xbf" + BODY
PRETTY = json.dumps(EVENT, indent=2, ensure_ascii=False).encode()
CASES = [
    _case("as the docs sign", 200, "accepted"),
    _case("charset parameter", 200, "accepted", headers=(
        ("Content-Type", "application/json; charset=utf-8"),
        ("X-RedCloud-Timestamp", TS), ("X-RedCloud-Signature", _sig()))),
    _case("media type in capitals", 200, "accepted", headers=(
        ("Content-Type", "Application/JSON"), ("X-RedCloud-Timestamp", TS),
        ("X-RedCloud-Signature", _sig()))),
    _case("header names in any case", 200, "accepted", headers=(
        JSON, ("x-redcloud-timestamp", TS), ("X-REDCLOUD-SIGNATURE", _sig()))),
    _case("upper-case hex", 401, "signature-case", headers=(
        JSON, ("X-RedCloud-Timestamp", TS), ("X-RedCloud-Signature", _sig().upper()))),
    _case("'sha256=' prefix", 401, "signature", headers=(
        JSON, ("X-RedCloud-Timestamp", TS), ("X-RedCloud-Signature", "sha256=" + _sig()))),
    _case("text/plain", 401, "no-json-body", headers=(
        ("Content-Type", "text/plain"), ("X-RedCloud-Timestamp", TS),
        ("X-RedCloud-Signature", _sig()))),
    _case("no Content-Type", 401, "no-json-body", headers=(
        ("X-RedCloud-Timestamp", TS), ("X-RedCloud-Signature", _sig()))),
    _case("a +json media type", 401, "no-json-body", headers=(
        ("Content-Type", "application/cloudevents+json"), ("X-RedCloud-Timestamp", TS),
        ("X-RedCloud-Signature", _sig()))),
    _case("latin1 charset", 415, "charset", headers=(
        ("Content-Type", "application/json; charset=latin1"), ("X-RedCloud-Timestamp", TS),
        ("X-RedCloud-Signature", _sig()))),
    _case("signature header twice", 401, "repeated-header", headers=(
        JSON, ("X-RedCloud-Timestamp", TS), ("X-RedCloud-Signature", _sig()),
        ("X-RedCloud-Signature", "0" * 64))),
    _case("no signature", 400, "missing-headers", headers=(JSON, ("X-RedCloud-Timestamp", TS))),
    _case("not JSON", 400, "invalid-json", body=b"hello"),
    _case("NaN is not JSON", 400, "invalid-json", body=b'{"a":NaN}'),
    _case("a JSON array", 200, "accepted", body=b"[1,2]"),
    _case("a byte order mark", 200, "accepted", body=BOM),
    _case("not UTF-8", 401, "not-utf8", body=LATIN),
    _case("over 100 kB", 413, "too-large", body=BIG),
    _case("gzip, signed over the inflated body", 200, "accepted", body=ZIPPED, headers=(
        JSON, ("Content-Encoding", "gzip"), ("X-RedCloud-Timestamp", TS),
        ("X-RedCloud-Signature", _sig()))),
    _case("whitespace around the signature (the HTTP parser trims it)", 200, "accepted",
          headers=(JSON, ("X-RedCloud-Timestamp", TS), ("X-RedCloud-Signature",
                                                      f"  {_sig()}\t"))),
    _case("timestamp header twice", 401, "repeated-header", headers=(
        JSON, ("X-RedCloud-Timestamp", TS), ("X-RedCloud-Timestamp", TS),
        ("X-RedCloud-Signature", _sig()))),
    _case("deflate", 200, "accepted", body=zlib.compress(BODY), headers=(
        JSON, ("Content-Encoding", "deflate"), ("X-RedCloud-Timestamp", TS),
        ("X-RedCloud-Signature", _sig()))),
    _case("signed over the body pretty-printed", 401, "signature", headers=(
        JSON, ("X-RedCloud-Timestamp", TS), ("X-RedCloud-Signature", _sig(PRETTY)))),
]


def _post(url: str, case: Case) -> int:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        conn.putrequest("POST", parts.path, skip_accept_encoding=True)
        for name, value in case.headers:
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(case.body)))
        conn.endheaders(case.body)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.fixture(scope="module")
def ours() -> Iterator[WebhookListener]:
    with WebhookListener(SECRET) as listener:
        yield listener


def _recorded(listener: WebhookListener, case: Case) -> Delivery:
    before = len(listener.deliveries())
    _post(listener.url, case)
    return listener.deliveries()[before]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_model_answers_as_the_docs_listener(ours: WebhookListener, case: Case) -> None:
    verdict = judge(_recorded(ours, case), SECRET)
    assert (verdict.status, verdict.code) == (case.status, case.code), verdict.reason


def test_a_repeated_header_is_recorded_as_node_presents_it(ours: WebhookListener) -> None:
    case = next(c for c in CASES if c.name == "signature header twice")
    delivery = _recorded(ours, case)
    assert delivery.verified  # ours reads the first value
    assert delivery.headers["x-redcloud-signature"] == f"{_sig()}, {'0' * 64}"


def test_an_undecodable_coding_is_not_judged() -> None:
    delivery = Delivery(0.0, "POST", "/webhooks/red-cloud", {
        "content-type": "application/json", "content-encoding": "br", "content-length": "9",
        "x-redcloud-timestamp": TS, "x-redcloud-signature": _sig()}, 9, False, "", 401,
        timestamp=TS, raw_body=b"\x0b\x02\x80{}\x03")
    verdict = judge(delivery, SECRET)
    assert verdict.status is None and not verdict.refused and not verdict.accepted


def test_the_secret_is_used_as_its_utf8_bytes() -> None:
    secret = "clé_secrète"
    mac = hmac.new(secret.encode(), f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest()
    delivery = Delivery(0.0, "POST", "/webhooks/red-cloud", {
        "content-type": "application/json", "content-length": str(len(BODY)),
        "x-redcloud-timestamp": TS, "x-redcloud-signature": mac}, len(BODY), True, "", 200,
        timestamp=TS, raw_body=BODY)
    assert judge(delivery, secret).accepted


# -- the differential test against the docs' listener itself ---------------------------------

EXPRESS = REPO / "bench" / "express_listener"


@pytest.fixture(scope="module")
def express() -> Iterator[str]:
    if shutil.which("node") is None or not (EXPRESS / "node_modules" / "express").is_dir():
        pytest.skip("the docs' express listener is not installed (node, and npm ci in "
                    "bench/express_listener)")
    sys.path.insert(0, str(REPO / "bench"))
    import _servers

    with _servers.express(SECRET) as served:
        yield served.url


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_docs_listener_itself_agrees(express: str, ours: WebhookListener,
                                         case: Case) -> None:
    assert _post(express, case) == case.status
    assert judge(_recorded(ours, case), SECRET).status == case.status


def test_header_values_lose_the_whitespace_around_them_whatever_the_server() -> None:
    """Node's parser trims a value's surrounding spaces and tabs; not every uvicorn release
    does (0.54 keeps a trailing tab), so the request model trims them itself."""
    from redcloud_check.core.asgi_request import AsgiRequest

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    request = AsgiRequest({"method": "POST", "path": "/", "headers": [
        (b"X-RedCloud-Signature", b"  abc\t"), (b"Accept", b"\t*/* ")]}, receive)
    assert request.header_items == [("X-RedCloud-Signature", "abc"), ("Accept", "*/*")]
    assert request.header("x-redcloud-signature") == "abc"
