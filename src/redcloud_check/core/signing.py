"""Webhook signing as the docs define it (1-quickstart.txt, Section 9).

    X-RedCloud-Timestamp: <timestamp>
    X-RedCloud-Signature: hex(HMAC_SHA256(secret, "<timestamp>.<rawBody>"))

Shared by the simulator (which signs) and the listener (which verifies).
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-RedCloud-Timestamp"
SIGNATURE_HEADER = "X-RedCloud-Signature"

# A timestamp above this is taken as milliseconds since the epoch (10**11 s is year 5138).
_MS_THRESHOLD = 10**11


def sign(secret: str | bytes, timestamp: str, raw_body: bytes) -> str:
    """The hex signature of `raw_body` sent at `timestamp` (a text secret is used as its
    UTF-8 bytes, as the docs' listener uses it)."""
    message = timestamp.encode("utf-8") + b"." + raw_body
    key = secret if isinstance(secret, bytes) else secret.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, raw_body: bytes, signature: str) -> bool:
    """True when `signature` is the docs' signature; constant-time compare."""
    expected = sign(secret, timestamp, raw_body)
    given = signature.strip().lower().encode("ascii", "replace")
    return hmac.compare_digest(expected.encode("ascii"), given)


def now_ms() -> str:
    """A timestamp header value for now, in milliseconds (DESIGN: webhook timestamp)."""
    return str(int(time.time() * 1000))


def timestamp_seconds(value: str | int | float) -> float:
    """Seconds since the epoch from a ms-or-s timestamp, decided by magnitude.

    Raises ValueError for anything that is not a finite non-negative number.
    """
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")) or number < 0:
        raise ValueError(f"not a timestamp: {value!r}")
    return number / 1000.0 if number >= _MS_THRESHOLD else number
