"""Signature forensics: which key and construction a failing webhook signature was made with."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from redcloud_check.core.signing import sign
from redcloud_check.webhooks.forensics import (
    BODY_ONLY,
    DOCS,
    IN_SECONDS,
    NO_DOT,
    Signing,
    identify,
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
    (sign("rc_secret_abc", TS, BODY).upper(), Signing("RC_CLIENT_SECRET", DOCS, "hex")),
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
