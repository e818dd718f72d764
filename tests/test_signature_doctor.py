"""The signature doctor: for deliveries that fail (ours refuses them, or the docs' listener
would), the cause it names, the side it gives, and the evidence and setting behind it. A side
is never given without proof: where none verifies, the side is unknown and the next action
says what would decide it, never "copy the secret again"."""

from __future__ import annotations

import base64
import gzip
import json
import time

import pytest

from redcloud_check.core.models import Cause
from redcloud_check.core.signing import sign, verify
from redcloud_check.core.timefmt import iso_utc
from redcloud_check.webhooks.listener import Delivery
from redcloud_check.webhooks.signature_doctor import examine, signature_cause

SECRET = "test_webhook_secret_9f2c"
CLIENT_SECRET = "rc_secret_abc123"
TOKEN = "tok_issued_in_this_run_0123456789"
KEYS = {"RC_WEBHOOK_SECRET": SECRET, "RC_CLIENT_SECRET": CLIENT_SECRET,
        "the access token issued in this run": TOKEN}
NOW = time.time()
TS = str(int(NOW * 1000))
URL = "https://abc.ngrok.app/webhooks/red-cloud"


def _event(kind: str, seq: int) -> dict[str, object]:
    return {"eventType": kind, "direction": "outbound", "messageId": "msg_1", "sequence": seq,
            "data": {"messageId": "msg_1", "status": kind.split(".")[1]}}


def deliveries(signature: object, *, secret: str = SECRET, content_type: str =
               "application/json", encode: object = None, n: int = 3) -> list[Delivery]:
    """`n` deliveries of msg_1's events as our listener records them; `signature(raw)` makes
    each X-RedCloud-Signature, `encode(raw)` the bytes sent (e.g. gzip)."""
    out = []
    for i, kind in enumerate(("message.queued", "message.sent", "message.delivery")[:n]):
        raw = json.dumps(_event(kind, i + 1), separators=(",", ":")).encode()
        sent = encode(raw) if callable(encode) else raw
        sig = signature(raw) if callable(signature) else str(signature)
        ok = verify(secret, TS, sent, sig)
        headers = {"content-type": content_type, "content-length": str(len(sent)),
                   "x-redcloud-timestamp": TS, "x-redcloud-signature": sig}
        if callable(encode):
            headers["content-encoding"] = "gzip"
        out.append(Delivery(NOW + i, "POST", "/webhooks/red-cloud", headers, len(sent), ok,
                            "signature ok" if ok else "invalid signature", 200 if ok else 401,
                            event=json.loads(raw) if ok else None, timestamp=TS,
                            raw_body=sent))
    return out


def cause_of(ds: list[Delivery], keys: dict[str, str] = KEYS) -> Cause:
    cause = signature_cause(examine(ds, keys), URL)
    assert cause is not None
    shown = cause.detail + cause.next_action + " ".join(cause.evidence)
    for value in keys.values():  # no key, as stored or derived, is ever shown
        assert value not in shown
    assert "again" not in cause.next_action
    assert (cause.setting is not None) == (cause.side == "integration")
    assert cause.evidence and iso_utc(ds[-1].received_at) in cause.evidence[0]
    assert "/webhooks/red-cloud" in cause.evidence[0]
    return cause


def test_deliveries_that_verify_everywhere_have_no_cause() -> None:
    ds = deliveries(lambda raw: sign(SECRET, TS, raw))
    assert signature_cause(examine(ds, KEYS), URL) is None


def test_a_signature_over_the_pretty_printed_body_is_the_apis_and_names_it() -> None:
    cause = cause_of(deliveries(lambda raw: sign(SECRET, TS, json.dumps(
        json.loads(raw), indent=2).encode())))
    assert (cause.id, cause.side) == ("signed-body-differs", "api")
    assert "pretty-printed, 2-space indent (JSON.stringify(body, null, 2))" in cause.detail
    assert "RC_WEBHOOK_SECRET is right" in cause.next_action
    assert "X-RedCloud-Signature = HMAC-SHA256 with RC_WEBHOOK_SECRET" in cause.evidence[0]
    assert cause.evidence[1] == "the docs' listener: 401 Invalid signature"


def test_upper_case_hex_passes_our_verifier_but_fails_as_the_docs_listener_refuses() -> None:
    ds = deliveries(lambda raw: sign(SECRET, TS, raw).upper())
    assert all(d.verified for d in ds)
    cause = cause_of(ds)
    assert (cause.id, cause.side) == ("signature-variant", "api")
    assert "upper or mixed case" in cause.detail and "!==" in cause.detail


def test_a_body_the_docs_listener_never_reads_is_refused_with_its_reason() -> None:
    ds = deliveries(lambda raw: sign(SECRET, TS, raw), content_type="text/plain")
    assert all(d.verified for d in ds)
    cause = cause_of(ds)
    assert (cause.id, cause.side) == ("docs-listener-refuses", "api")
    assert "Content-Type: text/plain" in cause.detail and "express.json()" in cause.detail
    assert "signed as the docs say" in cause.detail


@pytest.mark.parametrize(("stored", "key", "store"), [
    ("whsec_Plain1Secret0123", "Plain1Secret0123", "without the 'whsec_' prefix"),
    (base64.b64encode(SECRET.encode()).decode(), SECRET, "base64-decoded"),
    (SECRET + "\n", SECRET, "without the whitespace around it"),
])
def test_a_secret_stored_in_another_form_is_the_integrations_setting(
        stored: str, key: str, store: str) -> None:
    cause = cause_of(deliveries(lambda raw: sign(key, TS, raw), secret=stored),
                     {**KEYS, "RC_WEBHOOK_SECRET": stored})
    assert (cause.id, cause.side, cause.setting) == ("webhook-secret-form", "integration",
                                                     "RC_WEBHOOK_SECRET")
    assert f"Store RC_WEBHOOK_SECRET {store}" in cause.next_action


def test_a_decoded_key_no_text_can_hold_is_the_apis() -> None:
    raw_key = bytes(range(200, 224))
    stored = "whsec_" + base64.b64encode(raw_key).decode()
    cause = cause_of(deliveries(lambda raw: sign(raw_key, TS, raw), secret=stored),
                     {**KEYS, "RC_WEBHOOK_SECRET": stored})
    assert (cause.id, cause.side) == ("webhook-secret-form", "api")
    assert "no value of RC_WEBHOOK_SECRET" in cause.detail


def test_the_client_secret_verifying_leaves_the_side_open_and_says_what_decides() -> None:
    cause = cause_of(deliveries(lambda raw: sign(CLIENT_SECRET, TS, raw)))
    assert (cause.id, cause.side) == ("wrong-signing-key", "unknown")
    assert cause.decide.startswith("the webhook signing secret Red Cloud shows")
    assert "is not at fault" not in cause.detail + cause.next_action


def test_a_token_issued_in_the_run_verifying_is_the_apis() -> None:
    cause = cause_of(deliveries(lambda raw: sign(TOKEN, TS, raw)))
    assert (cause.id, cause.side) == ("wrong-signing-key", "api")


def test_nothing_verifying_lists_every_combination_tried_and_stays_unknown() -> None:
    cause = cause_of(deliveries(lambda raw: sign("a secret nobody gave us", TS, raw)))
    assert (cause.id, cause.side) == ("signature-unexplained", "unknown")
    tried = {e.split(":")[0]: e for e in cause.evidence if e.startswith("tried on each")}
    assert set(tried) == {"tried on each delivery, keys", "tried on each delivery, bodies",
                          "tried on each delivery, messages",
                          "tried on each delivery, encodings"}
    assert "RC_CLIENT_SECRET" in tried["tried on each delivery, keys"]
    assert "none of the" in cause.detail and "combinations tried on each verifies" in cause.detail


def test_what_our_listener_refuses_and_the_docs_listener_accepts_is_ours() -> None:
    ds = deliveries(lambda raw: sign(SECRET, TS, raw), encode=lambda raw: gzip.compress(raw))
    assert not any(d.verified for d in ds)
    cause = cause_of(ds)
    assert (cause.id, cause.side) == ("listener-stricter", "tool")
    assert "gzip" in cause.detail


def test_a_partial_failure_names_the_failing_deliveries_only() -> None:
    good = deliveries(lambda raw: sign(SECRET, TS, raw), n=2)
    bad = deliveries(lambda raw: sign(SECRET, TS, raw).upper(), n=3)[2:]
    cause = cause_of(good + bad)
    assert (cause.id, cause.side) == ("signature-variant", "api")
    assert cause.detail.startswith("1 of the 3 deliveries' signatures")
    assert cause.evidence[0].startswith("1 POST")
