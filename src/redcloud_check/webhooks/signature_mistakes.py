"""What a failing webhook signature looks like it was computed over: the common construction
mistakes (the raw body only, no '.' separator, a 'sha256=' prefix), recognised by the
listener for its verdict. Public surface: `SignatureMistake`, `signature_mistake`.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import Enum

from redcloud_check.core.signing import verify

__all__ = ["SignatureMistake", "signature_mistake"]


class SignatureMistake(Enum):
    """The common construction mistake a failing signature matches (the value: in words)."""

    BODY_ONLY = "HMAC over the raw body only (the '{timestamp}.' prefix is missing)"
    NO_DOT = "HMAC over timestamp+body without the '.' separator"
    SHA256_PREFIX = "a correct HMAC behind a 'sha256=' prefix the docs do not use"


def signature_mistake(secret: str, timestamp: str, raw_body: bytes,
                      signature: str) -> SignatureMistake | None:
    """For a signature that failed: the common construction mistake it matches, if any."""
    key = secret.encode("utf-8")
    given = signature.strip().lower()
    body_only = hmac.new(key, raw_body, hashlib.sha256).hexdigest()
    no_dot = hmac.new(key, timestamp.encode("utf-8") + raw_body, hashlib.sha256).hexdigest()
    if hmac.compare_digest(body_only.encode(), given.encode("ascii", "replace")):
        return SignatureMistake.BODY_ONLY
    if hmac.compare_digest(no_dot.encode(), given.encode("ascii", "replace")):
        return SignatureMistake.NO_DOT
    if given.startswith("sha256=") and verify(secret, timestamp, raw_body, given[7:]):
        return SignatureMistake.SHA256_PREFIX
    return None
