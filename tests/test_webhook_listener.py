"""The webhook listener over real loopback HTTP: every rejection row, dedupe, event-driven
waiting, and a property test that nothing unverified is ever accepted."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redcloud_check.core.errors import HandlerError, RedcloudCheckError
from redcloud_check.core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from redcloud_check.webhooks.listener import MAX_BODY, WebhookListener

from .webhook_support import SECRET, event, post_signed, signed_headers


@pytest.fixture
def listener() -> Iterator[WebhookListener]:
    with WebhookListener(SECRET) as started:
        yield started
    started.check_handler_errors()  # no bug of ours hid behind any answer


@pytest.fixture(scope="module")
def shared_listener() -> Iterator[WebhookListener]:
    with WebhookListener(SECRET) as started:
        yield started
    started.check_handler_errors()


def test_a_signed_event_is_accepted_verified_and_recorded(listener: WebhookListener) -> None:
    response = post_signed(listener.url, event("msg_1", "message.queued", 1))
    assert response.status_code == 200
    (delivery,) = listener.deliveries()
    assert delivery.verified and delivery.accepted and delivery.reason == "signature ok"
    assert delivery.event is not None and delivery.message_id == "msg_1"
    assert delivery.sequence == 1 and delivery.event_type == "message.queued"
    assert delivery.skew_s is not None and abs(delivery.skew_s) < 60
    assert SECRET not in repr(delivery) and SECRET not in repr(listener)


def test_a_seconds_timestamp_is_accepted_too(listener: WebhookListener) -> None:
    response = post_signed(listener.url, event("msg_s", "message.queued", 1),
                           timestamp=str(int(time.time())))
    assert response.status_code == 200
    assert listener.deliveries()[0].warnings == ()


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [
        ("no timestamp", 400, "missing signing headers: X-RedCloud-Timestamp"),
        ("no signature", 400, "missing signing headers: X-RedCloud-Signature"),
        ("wrong secret", 401, "invalid signature"),
        ("tampered body", 401, "invalid signature"),
        ("oversized body", 413, f"body over {MAX_BODY} bytes"),
        ("not json", 400, "body is not a JSON object"),
        ("json array", 400, "body is not a JSON object"),
    ],
)
def test_each_rejection_has_its_status_and_reason(listener: WebhookListener, case: str,
                                                  status: int, reason: str) -> None:
    raw = json.dumps(event("msg_r", "message.queued", 1)).encode()
    headers = signed_headers(raw)
    if case == "no timestamp":
        del headers[TIMESTAMP_HEADER]
    elif case == "no signature":
        del headers[SIGNATURE_HEADER]
    elif case == "wrong secret":
        headers = signed_headers(raw, secret="another-secret")
    elif case == "tampered body":
        raw = raw.replace(b"msg_r", b"msg_x")
    elif case == "oversized body":
        raw = b"{" + b" " * MAX_BODY + b"}"
        headers = signed_headers(raw)
    elif case == "not json":
        raw = b"definitely not json"
        headers = signed_headers(raw)
    elif case == "json array":
        raw = b"[1, 2]"
        headers = signed_headers(raw)
    response = httpx.post(listener.url, content=raw, headers=headers)
    assert response.status_code == status
    (delivery,) = listener.deliveries()
    assert delivery.status_returned == status and delivery.reason == reason
    assert delivery.event is None and not delivery.accepted
    assert delivery.verified is (case in ("not json", "json array"))


def test_an_oversized_chunked_body_stops_being_read_at_the_limit(
        listener: WebhookListener) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(64):  # 4 MiB offered, the listener stops after 1 MiB
            yield b"x" * 65536

    response = httpx.post(listener.url, content=chunks(),
                          headers={TIMESTAMP_HEADER: "1", SIGNATURE_HEADER: "00"})
    assert response.status_code == 413
    assert listener.deliveries()[0].body_size == MAX_BODY + 1


def test_a_stale_timestamp_is_a_warning_by_default(listener: WebhookListener) -> None:
    stale = str(int((time.time() - 3600) * 1000))
    response = post_signed(listener.url, event("msg_t", "message.queued", 1), timestamp=stale)
    assert response.status_code == 200
    (delivery,) = listener.deliveries()
    assert delivery.verified and delivery.accepted
    assert delivery.warnings and "timestamp outside tolerance" in delivery.warnings[0]


def test_a_stale_timestamp_is_rejected_in_strict_mode() -> None:
    with WebhookListener(SECRET, strict=True) as strict:
        stale = str(int((time.time() - 3600) * 1000))
        response = post_signed(strict.url, event("msg_t", "message.queued", 1), timestamp=stale)
        assert response.status_code == 401
        assert "timestamp outside tolerance" in strict.deliveries()[0].reason
        fresh = post_signed(strict.url, event("msg_t", "message.queued", 1))
        assert fresh.status_code == 200


def test_a_body_only_hmac_is_named_as_such(listener: WebhookListener) -> None:
    import hashlib
    import hmac

    raw = json.dumps(event("msg_b", "message.queued", 1)).encode()
    body_only = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    response = httpx.post(listener.url, content=raw,
                          headers={TIMESTAMP_HEADER: "1775002218105", SIGNATURE_HEADER: body_only})
    assert response.status_code == 401
    delivery = listener.deliveries()[0]
    assert delivery.signature_hint is not None and "raw body only" in delivery.signature_hint


def test_wrong_path_and_method_are_recorded_not_accepted(listener: WebhookListener) -> None:
    base = listener.url.rsplit("/webhooks/red-cloud", 1)[0]
    assert httpx.post(base + "/elsewhere", content=b"{}").status_code == 404
    assert httpx.get(listener.url).status_code == 405
    assert [d.status_returned for d in listener.deliveries()] == [404, 405]


def test_every_method_is_recorded_with_its_answer_as_json(listener: WebhookListener) -> None:
    """Any method, even one no framework route lists, is answered 405 as JSON and recorded."""
    answers = [httpx.request(method, listener.url) for method in ("TRACE", "PROPFIND", "HEAD")]
    assert [a.status_code for a in answers] == [405, 405, 405]
    assert answers[0].json() == {"error": "method TRACE (webhooks are POSTs)"}
    assert answers[0].headers["content-type"] == "application/json"
    assert [d.method for d in listener.deliveries()] == ["TRACE", "PROPFIND", "HEAD"]


def test_a_repeated_signing_header_is_judged_by_its_first_value(
        listener: WebhookListener) -> None:
    raw = json.dumps(event("msg_h", "message.queued", 1)).encode()
    good = signed_headers(raw)
    headers = [(k, v) for k, v in good.items()] + [(SIGNATURE_HEADER, "0" * 64)]
    assert httpx.post(listener.url, content=raw, headers=headers).status_code == 200
    swapped = [(SIGNATURE_HEADER, "0" * 64)] + [(k, v) for k, v in good.items()]
    assert httpx.post(listener.url, content=raw, headers=swapped).status_code == 401


def test_a_duplicate_is_answered_200_recorded_and_flagged(listener: WebhookListener) -> None:
    payload = event("msg_d", "message.sent", 2)
    assert post_signed(listener.url, payload).status_code == 200
    assert post_signed(listener.url, payload).status_code == 200
    first, second = listener.deliveries()
    assert not first.duplicate and second.duplicate
    assert second.reason == "duplicate (exact redelivery)"


def test_a_redelivery_reserialized_is_still_a_duplicate(listener: WebhookListener) -> None:
    payload = event("msg_r", "message.sent", 2)
    assert post_signed(listener.url, json.dumps(payload).encode()).status_code == 200
    spaced = json.dumps(dict(reversed(list(payload.items()))), indent=2).encode()
    assert post_signed(listener.url, spaced).status_code == 200
    assert [d.duplicate for d in listener.deliveries()] == [False, True]


def test_a_different_event_under_a_used_sequence_is_kept_and_flagged(
        listener: WebhookListener) -> None:
    sent = event("msg_s", "message.sent", 2)
    final = event("msg_s", "message.delivery", 2)
    for payload in (sent, final, final, sent):
        assert post_signed(listener.url, payload).status_code == 200
    got = listener.deliveries()
    assert [(d.event_type, d.duplicate, d.sequence_reused) for d in got] == [
        ("message.sent", False, False), ("message.delivery", False, True),
        ("message.delivery", True, False), ("message.sent", True, False)]
    assert "already used this (messageId, sequence)" in got[1].reason


def test_wait_for_returns_as_soon_as_the_predicate_holds(listener: WebhookListener) -> None:
    posted = threading.Event()

    def later() -> None:
        posted.wait(5)
        post_signed(listener.url, event("msg_w", "message.queued", 1))

    thread = threading.Thread(target=later)
    thread.start()
    started = time.monotonic()
    posted.set()
    assert listener.wait_for(lambda ds: any(d.message_id == "msg_w" for d in ds), timeout=10)
    assert time.monotonic() - started < 5
    thread.join()
    started = time.monotonic()
    assert not listener.wait_for(lambda ds: len(ds) > 5, timeout=0.2)
    assert 0.15 < time.monotonic() - started < 2


def test_subscribers_get_the_raw_body_only_when_verified(listener: WebhookListener) -> None:
    seen: list[tuple[bool, bytes]] = []
    listener.subscribe(lambda d, raw: seen.append((d.verified, raw)))
    listener.subscribe(lambda d, raw: 1 / 0)  # a broken subscriber does not break the listener
    raw = json.dumps(event("msg_sub", "message.queued", 1)).encode()
    assert post_signed(listener.url, raw).status_code == 200
    assert httpx.post(listener.url, content=raw,
                      headers=signed_headers(raw, "forged")).status_code == 401
    assert seen == [(True, raw), (False, b"")]
    # ... but its error is never swallowed: it is raised as the tool's own at the end.
    assert [type(e) for e in listener.handler_errors] == [ZeroDivisionError] * 2
    with pytest.raises(HandlerError, match=r"2 error\(s\) in the webhook listener while "
                       r"serving: ZeroDivisionError: division by zero") as raised:
        listener.check_handler_errors()
    assert isinstance(raised.value, RedcloudCheckError)
    assert isinstance(raised.value.__cause__, ZeroDivisionError)
    listener.clear_handler_errors()


def test_the_listener_answers_a_burst_quickly(listener: WebhookListener) -> None:
    with httpx.Client() as client:
        started = time.perf_counter()
        for seq in range(200):
            post_signed(listener.url, event("msg_burst", "message.queued", seq), client=client)
        elapsed = time.perf_counter() - started
    assert len(listener.deliveries()) == 200
    assert elapsed < 3, f"200 deliveries took {elapsed:.2f} s (Nagle back?)"


header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                      max_size=80).map(str.strip)


@pytest.mark.slow
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=2048),
                      st.builds(lambda e: json.dumps(e).encode(),
                                st.dictionaries(st.text(max_size=10),
                                                st.one_of(st.integers(), st.text(max_size=10),
                                                          st.none()), max_size=6))),
       timestamp=st.one_of(st.none(), header_text),
       signature=st.one_of(st.none(), header_text, st.just("sign-correctly")),
       tamper=st.booleans(),
       extra=st.dictionaries(st.from_regex(r"X-[A-Za-z]{1,12}", fullmatch=True), header_text,
                             max_size=3))
def test_no_unverified_event_is_ever_accepted(shared_listener: WebhookListener, body: bytes,
                                              timestamp: str | None, signature: str | None,
                                              tamper: bool, extra: dict[str, str]) -> None:
    headers = dict(extra)
    if timestamp is not None:
        headers[TIMESTAMP_HEADER] = timestamp
    if signature == "sign-correctly":
        signature = sign(SECRET, timestamp or "", body)
        if tamper:
            body += b" "
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    before = len(shared_listener.deliveries())
    response = httpx.post(shared_listener.url, content=body, headers=headers)
    assert response.status_code < 500
    delivery = shared_listener.deliveries()[before]
    assert delivery.status_returned == response.status_code
    genuine = bool(timestamp) and bool(signature) and verify(SECRET, timestamp or "", body,
                                                             signature or "")
    assert delivery.verified is genuine
    if response.status_code < 300:
        assert genuine and isinstance(delivery.event, dict)
    if not genuine:
        assert delivery.event is None and response.status_code in (400, 401)
