"""Signature forensics: which key and construction a failing webhook signature was made with."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from redcloud_check.core.signing import sign
from redcloud_check.webhooks.forensics import (
    AS_STORED,
    BODY_ONLY,
    DOCS,
    HEX,
    HEX_CASE,
    IN_SECONDS,
    NO_DOT,
    NOT_TEXT,
    RAW,
    Signing,
    identify,
    space,
    try_signature,
)

KEYS = {"RC_WEBHOOK_SECRET": "rc_whsec_abc", "RC_CLIENT_SECRET": "rc_secret_abc",
        "the access token issued in this run": "tok_123"}
BODY = b'{"eventType":"message.queued","messageId":"msg_1","sequence":1}'
TS = "1767225600123"


def _mac(key: str, message: bytes) -> bytes:
    return hmac.new(key.encode(), message, hashlib.sha256).digest()


@pytest.mark.parametrize(("signature", "expected"), [
    (sign("rc_secret_abc", TS, BODY), Signing("RC_CLIENT_SECRET", DOCS, "hex")),
    (sign("tok_123", TS, BODY), Signing("the access token issued in this run", DOCS, "hex")),
    (_mac("rc_whsec_abc", BODY).hex(), Signing("RC_WEBHOOK_SECRET", BODY_ONLY, "hex")),
    (_mac("rc_whsec_abc", TS.encode() + BODY).hex(), Signing("RC_WEBHOOK_SECRET", NO_DOT, "hex")),
    ("sha256=" + sign("rc_whsec_abc", TS, BODY),
     Signing("RC_WEBHOOK_SECRET", DOCS, "'sha256=' + hex")),
    (base64.b64encode(_mac("rc_whsec_abc", TS.encode() + b"." + BODY)).decode(),
     Signing("RC_WEBHOOK_SECRET", DOCS, "base64")),
    (sign("rc_whsec_abc", TS[:-3], BODY), Signing("RC_WEBHOOK_SECRET", IN_SECONDS, "hex")),
    (sign("rc_secret_abc", TS, BODY).upper(), Signing("RC_CLIENT_SECRET", DOCS, HEX_CASE)),
])
def test_identify_names_the_key_and_the_construction(signature: str,
                                                     expected: Signing) -> None:
    assert identify(KEYS, TS, BODY, signature) == expected


def test_a_key_the_run_does_not_hold_is_not_identified() -> None:
    assert identify(KEYS, TS, BODY, sign("rc_whsec_somebody_else", TS, BODY)) is None


def test_only_labels_are_shown() -> None:
    found = identify(KEYS, TS, BODY, sign("rc_secret_abc", TS, BODY))
    assert found is not None
    assert "rc_secret_abc" not in repr(found) + found.describe()
    assert found.describe() == 'HMAC-SHA256 with RC_CLIENT_SECRET over "{timestamp}.{rawBody}", hex'


# -- the pitfalls the webhook ecosystem documents ------------------------------------------

EVENT = {"eventType": "message.queued", "messageId": "msg_1", "sequence": 1,
         "data": {"note": "café", "to": "+15551234567"}}
COMPACT = json.dumps(EVENT, separators=(",", ":"), ensure_ascii=False).encode()
WEBHOOK = "rc_whsec_abc"


def _webhook(body: bytes, key: str | bytes = WEBHOOK) -> str:
    return sign(key, TS, body)


@pytest.mark.parametrize(("signed", "body"), [
    (json.dumps(EVENT, indent=2, ensure_ascii=False),
     "pretty-printed, 2-space indent (JSON.stringify(body, null, 2))"),
    (json.dumps(EVENT, indent=4, ensure_ascii=False), "pretty-printed, 4-space indent"),
    (json.dumps(EVENT, ensure_ascii=False), "with a space after ',' and ':'"),
    (json.dumps(EVENT, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
     "with keys sorted, compact (canonical JSON)"),
    (json.dumps(EVENT, separators=(",", ":")), "compact, non-ASCII escaped as \\uXXXX"),
    (json.dumps(EVENT), "as Python's json.dumps(body) writes it (', ' and ': ', non-ASCII "
                        "escaped)"),
    (COMPACT.decode() + "\n", "the raw body with a trailing newline added"),
])
def test_a_body_signed_in_another_serialization_is_named(signed: str, body: str) -> None:
    found = identify(KEYS, TS, COMPACT, _webhook(signed.encode()))
    assert found == Signing("RC_WEBHOOK_SECRET", DOCS, HEX, AS_STORED, body)
    assert not found.documented


def test_the_bytes_sent_are_tried_first_and_are_the_documented_signing() -> None:
    found = identify(KEYS, TS, COMPACT, _webhook(COMPACT))
    assert found is not None and found.documented and found.body == RAW


@pytest.mark.parametrize(("stored", "key", "form"), [
    ("whsec_" + base64.b64encode(b"\x01\x02" * 12).decode(), b"\x01\x02" * 12,
     "without its 'whsec_' prefix, base64-decoded" + NOT_TEXT),
    ("whsec_" + base64.b64encode(b"Str0ngWebhookSecret!").decode(), b"Str0ngWebhookSecret!",
     "without its 'whsec_' prefix, base64-decoded"),
    ("whsec_Plain1Secret", b"Plain1Secret", "without its 'whsec_' prefix"),
    (base64.b64encode(b"rc_whsec_Real1Value").decode(), b"rc_whsec_Real1Value",
     "base64-decoded"),
    ("rc_whsec_abc\n", b"rc_whsec_abc", "without its surrounding whitespace"),
])
def test_the_webhook_secret_in_another_form_is_named(stored: str, key: bytes,
                                                     form: str) -> None:
    keys = {**KEYS, "RC_WEBHOOK_SECRET": stored}
    assert identify(keys, TS, COMPACT, _webhook(COMPACT, key)) == Signing(
        "RC_WEBHOOK_SECRET", DOCS, HEX, form)


@pytest.mark.parametrize(("header", "encoding"), [
    (f"t={TS},v1={sign(WEBHOOK, TS, COMPACT)}", "'v1=' + hex in 't=...,v1=...' (Stripe)"),
    ("v1,bogus v1," + base64.b64encode(_mac(WEBHOOK, TS.encode() + b"." + COMPACT)).decode(),
     "'v1,' + base64 (Standard Webhooks)"),
    (base64.urlsafe_b64encode(_mac(WEBHOOK, TS.encode() + b"." + COMPACT)).decode()
     .rstrip("="), "base64url"),
])
def test_signature_header_formats_of_other_providers_are_read(header: str,
                                                              encoding: str) -> None:
    found = identify(KEYS, TS, COMPACT, header)
    assert found == Signing("RC_WEBHOOK_SECRET", DOCS, encoding)


def test_what_was_tried_is_listed_and_bounded() -> None:
    found, tried = try_signature(KEYS, TS, COMPACT, sign("nobody's", TS, COMPACT))
    assert found is None
    # a word-like secret is not taken for base64; a '..whsec_' prefix is tried without
    assert tried.keys == ("RC_WEBHOOK_SECRET", "RC_WEBHOOK_SECRET without its 'rc_whsec_' "
                          "prefix", "RC_CLIENT_SECRET", "the access token issued in this run")
    assert tried.bodies[0] == RAW and len(tried.bodies) == len(set(tried.bodies))
    assert tried.messages[0] == DOCS and IN_SECONDS in tried.messages
    assert tried.combinations == len(tried.keys) * len(tried.bodies) * len(tried.messages) \
        * len(tried.encodings) <= 2000
    assert tried.describe().startswith(f"{tried.combinations} combinations: 4 keys (")
    assert space(KEYS, TS, COMPACT) == tried


def test_the_search_is_fast_deterministic_and_shows_no_secret() -> None:
    started = time.perf_counter()
    for n in range(20):  # distinct signatures: nothing comes from the cache
        assert identify(KEYS, TS, COMPACT, sign(f"other-{n}", TS, COMPACT)) is None
    per_delivery = (time.perf_counter() - started) / 20
    assert per_delivery < 0.05, f"{per_delivery * 1000:.1f} ms per failing delivery"
    keys = {**KEYS, "RC_WEBHOOK_SECRET": "whsec_" + base64.b64encode(b"k" * 24).decode()}
    first, tried = try_signature(keys, TS, COMPACT, _webhook(COMPACT, b"k" * 24))
    assert (first, tried) == try_signature(dict(keys), TS, COMPACT, _webhook(COMPACT, b"k" * 24))
    shown = repr(first) + repr(tried) + tried.describe() + (first.describe() if first else "")
    for value in (*keys.values(), "a2tr", base64.b64encode(b"k" * 24).decode()):
        assert value not in shown
