"""Which key and which construction a failing webhook signature was made with.

When deliveries arrive but fail verification, the run already holds everything needed to
find out why, without sending anything more: the raw bodies, the signing headers, and every
key it was given or issued (RC_WEBHOOK_SECRET, RC_CLIENT_SECRET, the access tokens). Each
failing signature is tried against each key, over each message the docs or senders in the
wild sign, in each encoding seen in the wild:

    message    "{timestamp}.{rawBody}" (the docs, 1-quickstart.txt Section 9), the raw body
               only, "{timestamp}{rawBody}" (no '.'), and the timestamp in seconds where the
               header carries milliseconds (or the other way round)
    encoding   hex (any case: the listener compares case-insensitively), "sha256=" + hex,
               base64, base64url

`identify` names the match for one delivery (a `Signing`, or None when nothing the run holds
explains it); `examine` sums up every delivery that reached the webhook path (a
`Forensics`). Keys are labels -> values; only the labels ever leave this module.

`signing_cause` turns a consistent match into the cause stage 5 leads with (wrong-signing-key,
hmac-body-only, signature-variant).

Public surface: `DOCS`, `SIGNED`, `Signing`, `Forensics`, `identify`, `examine`,
`consistent_failure`, `signing_cause`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from redcloud_check.core.models import Cause
from redcloud_check.webhooks.listener import Delivery

__all__ = ["DOCS", "SIGNED", "WEBHOOK_KEY", "Forensics", "Signing", "consistent_failure",
           "examine", "identify", "signing_cause"]

SIGNED = ('1-quickstart.txt, Section 9 — Minimal Webhook Example '
          '(HMAC_SHA256(secret, "${timestamp}.${rawBody}"))')
DOCS = '"{timestamp}.{rawBody}"'
WEBHOOK_KEY = "RC_WEBHOOK_SECRET"
BODY_ONLY = "the raw body only"
NO_DOT = '"{timestamp}{rawBody}" (no \'.\')'
IN_SECONDS = '"{timestamp}.{rawBody}" with the timestamp in seconds (the header has ms)'
IN_MS = '"{timestamp}.{rawBody}" with the timestamp in milliseconds (the header has s)'
HEX = "hex"
# below this a timestamp is seconds since the epoch (the listener's ms-or-s rule)
_MS_THRESHOLD = 10**11


@dataclass(frozen=True, slots=True)
class Signing:
    """How a signature was made: with which key (its label), over what, in what encoding."""

    key: str  # e.g. "RC_WEBHOOK_SECRET", "RC_CLIENT_SECRET", "the access token"
    message: str  # DOCS, BODY_ONLY, NO_DOT, IN_SECONDS, IN_MS
    encoding: str  # "hex", "'sha256=' + hex", "base64", "base64url"

    @property
    def documented(self) -> bool:
        return self.key == WEBHOOK_KEY and self.message == DOCS and self.encoding == HEX

    def describe(self) -> str:
        """e.g. 'HMAC-SHA256 with RC_CLIENT_SECRET over "{timestamp}.{rawBody}", hex'."""
        return f"HMAC-SHA256 with {self.key} over {self.message}, {self.encoding}"


def _messages(timestamp: str, raw: bytes) -> list[tuple[str, bytes]]:
    ts = timestamp.strip()
    out = [(DOCS, ts.encode() + b"." + raw), (BODY_ONLY, raw), (NO_DOT, ts.encode() + raw)]
    if ts.isdigit():
        value = int(ts)
        if value >= _MS_THRESHOLD:
            out.append((IN_SECONDS, str(value // 1000).encode() + b"." + raw))
        else:
            out.append((IN_MS, str(value * 1000).encode() + b"." + raw))
    return out


def _encodings(digest: bytes) -> list[tuple[str, str]]:
    hexed = digest.hex()
    b64 = base64.b64encode(digest).decode("ascii")
    return [(HEX, hexed), ("'sha256=' + hex", "sha256=" + hexed), ("base64", b64),
            ("base64url", base64.urlsafe_b64encode(digest).decode("ascii").rstrip("="))]


def _same(expected: str, given: str, *, fold: bool) -> bool:
    a, b = (expected.lower(), given.lower()) if fold else (expected, given)
    return hmac.compare_digest(a.encode("ascii"), b.encode("ascii", "replace"))


def identify(keys: Mapping[str, str], timestamp: str, raw: bytes,
             signature: str) -> Signing | None:
    """The first (key, message, encoding) whose HMAC-SHA256 equals `signature`; keys are tried
    in the given order (put RC_WEBHOOK_SECRET first), messages with the docs' first."""
    given = signature.strip()
    for label, key in keys.items():
        if not key:
            continue
        secret = key.encode("utf-8")
        for message, data in _messages(timestamp, raw):
            digest = hmac.new(secret, data, hashlib.sha256).digest()
            for encoding, expected in _encodings(digest):
                if _same(expected, given, fold=encoding in (HEX, "'sha256=' + hex")):
                    return Signing(label, message, encoding)
    return None


@dataclass(frozen=True, slots=True)
class Forensics:
    """What every delivery at the webhook path was signed with."""

    at_path: int  # POSTs that reached the webhook path
    verified: int
    unsigned: int  # without X-RedCloud-Timestamp / X-RedCloud-Signature
    signings: tuple[tuple[Signing | None, int], ...]  # failing signed deliveries, by match
    keys_tried: tuple[str, ...]

    @property
    def failed(self) -> int:
        return sum(n for _, n in self.signings)

    def keys_shown(self) -> str:
        """The keys tried, in words: 'RC_WEBHOOK_SECRET, RC_CLIENT_SECRET and the 4 access
        tokens issued in this run'."""
        named = [k for k in self.keys_tried if "access token" not in k]
        tokens = len(self.keys_tried) - len(named)
        if tokens:
            named.append("the access token issued in this run" if tokens == 1 else
                         f"the {tokens} access tokens issued in this run")
        if not named:
            return "no key"
        return ", ".join(named[:-1]) + (" and " if len(named) > 1 else "") + named[-1]


def _signed(d: Delivery) -> bool:
    return bool(d.timestamp) and bool(d.headers.get("x-redcloud-signature"))


def examine(deliveries: Sequence[Delivery], keys: Mapping[str, str]) -> Forensics:
    """Try every failing signature against `keys` (label -> value)."""
    at_path = [d for d in deliveries if d.status_returned not in (404, 405)]
    tally: Counter[Signing | None] = Counter()
    unsigned = 0
    for d in at_path:
        if d.verified:
            continue
        if not _signed(d):
            unsigned += 1
            continue
        if d.status_returned == 413:
            continue
        tally[identify(keys, d.timestamp or "", d.raw_body,
                       d.headers.get("x-redcloud-signature", ""))] += 1
    return Forensics(len(at_path), sum(1 for d in at_path if d.verified), unsigned,
                     tuple(tally.most_common()), tuple(label for label, v in keys.items() if v))


def consistent_failure(f: Forensics) -> bool:
    """Every delivery so far failed, for one and the same reason, and none verified."""
    if f.verified or not f.at_path:
        return False
    if f.unsigned:
        return f.unsigned == f.at_path
    return len(f.signings) == 1 and f.failed == f.at_path


def signing_cause(f: Forensics | None) -> Cause | None:
    """The cause when every failing signature was made one and the same recognised way."""
    if f is None or f.verified or len(f.signings) != 1 or f.unsigned:
        return None
    signing, count = f.signings[0]
    if signing is None:
        return None
    how = signing.describe()
    if signing.key != WEBHOOK_KEY:
        return Cause(
            "wrong-signing-key", f"All {count} deliveries arrived, and their signatures verify "
            f"with {signing.key}, not {WEBHOOK_KEY} ({how}): the API signs webhooks with the "
            "wrong key.", f"Report it to Red Cloud with this bundle; {WEBHOOK_KEY} is not at "
            "fault, and nothing needs to be sent again to show it.", SIGNED)
    if signing.message == BODY_ONLY and signing.encoding == HEX:
        return Cause(
            "hmac-body-only", f"All {count} signature(s) are an HMAC of the raw body only; the "
            "docs sign \"{timestamp}.{rawBody}\".",
            "The sender must include the timestamp and '.' before the body.", SIGNED)
    return Cause(
        "signature-variant", f"All {count} signatures are made with {WEBHOOK_KEY}, but as {how}; "
        "the docs sign hex(HMAC_SHA256(secret, \"{timestamp}.{rawBody}\")).",
        "Report it to Red Cloud with this bundle: the key is right, the construction is not "
        "the documented one.", SIGNED)
