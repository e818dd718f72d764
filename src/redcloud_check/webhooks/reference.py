"""The reference receiver: would the docs' own express listener accept this delivery?

DESIGN.md (reference receiver): the Node.js listener of 1-quickstart.txt Section 9 is the
reference; a delivery it would refuse fails, even where a lenient verifier (ours) accepts it.
`judge` replays, over what a `Delivery` recorded, what that listener does with a request
(express 5, body-parser 2, as bench/express_listener runs it):

    express.json({verify})   parses only when the request has a body (Content-Length or
                             Transfer-Encoding) and its Content-Type's media type is exactly
                             application/json (any case; parameters allowed). Otherwise it
                             skips: req.rawBody stays undefined and the handler signs
                             "{timestamp}." with an empty body.
                             charset must start with "utf-" (else 415); gzip, deflate and br
                             bodies are inflated first (another coding: 415); over 100 kB:
                             413; then verify() keeps buffer.toString("utf8") as rawBody
                             (invalid UTF-8 becomes U+FFFD); then a body that is not JSON,
                             or whose first character is not '{' or '[': 400.
    the handler              req.header() is case-insensitive, and Node joins a repeated
                             header's values with ", "; a missing or empty header: 400; then
                             `signature !== hex(HMAC_SHA256(secret, `${timestamp}.${rawBody}`))`
                             is an exact string comparison: upper-case hex, a prefix or a
                             second value is refused (401). The HTTP parser has already
                             trimmed the whitespace around a header value (ours too).

A `Verdict` says what it would answer and, when it refuses, why in its own terms (`code`).
Pure: the secret comes in and never goes out.

Public surface: `Verdict`, `judge`, `EXPRESS_JSON_LIMIT`, `REFERENCE`.
"""

from __future__ import annotations

import codecs
import gzip
import hmac
import json
import re
import zlib
from dataclasses import dataclass

from redcloud_check.core.signing import sign
from redcloud_check.webhooks.listener import Delivery

__all__ = ["EXPRESS_JSON_LIMIT", "REFERENCE", "Verdict", "judge"]

REFERENCE = ("1-quickstart.txt, Section 9 — Minimal Webhook Example (the Node.js listener); "
             "DESIGN.md: reference receiver")
EXPRESS_JSON_LIMIT = 100 * 1024  # body-parser's default `limit`, "100kb"
# media type token syntax (RFC 9110), as type-is checks it before comparing
_MEDIA_TYPE = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+/[!#$%&'*+.^_`|~0-9a-z-]+")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the docs' listener would answer, and why.

    `code`: "accepted", or the refusal: "no-json-body" (express.json() skipped the body:
    Content-Type not application/json, or no body at all), "charset", "content-encoding",
    "too-large", "invalid-json", "missing-headers", "repeated-header", "signature-case",
    "not-utf8", "signature". `status` is None where the model cannot tell (a body coding
    Python cannot inflate): such a delivery is never judged by it."""

    status: int | None
    code: str
    reason: str  # in the listener's own terms, for a person

    @property
    def accepted(self) -> bool:
        return self.status == 200

    @property
    def refused(self) -> bool:
        return self.status is not None and self.status != 200


ACCEPTED = Verdict(200, "accepted", "200 {ok: true}")


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip(" \t").lower()


def _charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip(" \t").lower() == "charset":
            return value.strip(" \t").strip('"').lower() or None
    return None


def _inflate(coding: str, raw: bytes) -> bytes | None:
    """The body as body-parser inflates it; None: Python cannot inflate this coding."""
    if coding == "gzip":
        return gzip.decompress(raw)
    if coding == "deflate":
        return zlib.decompress(raw)
    return None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")  # JSON.parse refuses NaN and Infinity


def _parses(body: bytes, charset: str) -> bool:
    """body-parser's strict JSON parse of the body decoded with `charset` (BOM stripped)."""
    try:
        text = codecs.decode(body, charset, "replace")
    except LookupError:
        return False
    text = text.removeprefix("\ufeff")
    if not text:
        return True  # an empty body is {}
    first = text.lstrip(" \t\n\r")[:1]
    if first not in ("{", "["):
        return False
    try:
        json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        return True  # deeper than Python parses; JSON.parse goes further
    except ValueError:
        return False
    return True


def _express_json(d: Delivery) -> tuple[Verdict | None, bytes | None]:
    """(a refusal before the handler, or None; the body bytes the verify hook was given,
    inflated, or None when express.json() skipped the body)."""
    headers = d.headers
    if d.status_returned == 413:  # over our own limit, and so over express.json()'s
        return Verdict(413, "too-large", f"413: the body is over express.json()'s "
                       f"{EXPRESS_JSON_LIMIT // 1024} kB limit"), None
    length = headers.get("content-length", "")
    if "transfer-encoding" not in headers and not length.strip().isdigit():
        return None, None
    content_type = headers.get("content-type", "")
    media = _media_type(content_type)
    if media != "application/json" or not _MEDIA_TYPE.fullmatch(media):
        return None, None
    charset = _charset(content_type) or "utf-8"
    if not charset.startswith("utf-") or charset.replace("-", "") not in (
            "utf8", "utf16", "utf16le", "utf16be", "utf32", "utf32le", "utf32be", "utf7"):
        return Verdict(415, "charset", f'415: unsupported charset "{charset.upper()}" '
                       "(express.json() reads utf-* only)"), None
    coding = headers.get("content-encoding", "identity").strip().lower() or "identity"
    body = d.raw_body
    if coding != "identity":
        if coding not in ("gzip", "deflate", "br", "zstd"):
            return Verdict(415, "content-encoding", f'415: unsupported content encoding '
                           f'"{coding}"'), None
        try:
            inflated = _inflate(coding, body)
        except (OSError, EOFError, zlib.error):
            return Verdict(400, "content-encoding", f"400: the body is not valid {coding}"), None
        if inflated is None:
            return Verdict(None, "content-encoding", f"a {coding} body: not judged here"), None
        body = inflated
    if len(body) > EXPRESS_JSON_LIMIT:
        return Verdict(413, "too-large", f"413: the body ({len(body)} bytes) is over "
                       f"express.json()'s {EXPRESS_JSON_LIMIT // 1024} kB limit"), None
    if not _parses(body, charset):
        return Verdict(400, "invalid-json", "400 from express.json(), before the handler: "
                       "the body is not JSON starting with '{' or '['"), body
    return None, body


def judge(d: Delivery, secret: str) -> Verdict:
    """What the docs' listener, given `secret` as RC_WEBHOOK_SECRET, answers to `d` (a POST
    that reached the webhook path)."""
    refused, body = _express_json(d)
    if refused is not None:
        return refused
    timestamp = d.headers.get("x-redcloud-timestamp", "")
    signature = d.headers.get("x-redcloud-signature", "")
    if not timestamp or not signature:
        return Verdict(400, "missing-headers", "400 Missing signing headers")
    raw_body = "" if body is None else body.decode("utf-8", "replace")
    # the listener's expectedSignature: `update` encodes the body string as UTF-8
    expected = sign(secret, timestamp, raw_body.encode("utf-8"))
    if hmac.compare_digest(signature.encode("latin-1", "replace"), expected.encode()):
        return ACCEPTED
    if body is None:
        shown = d.headers.get("content-type") or "none"
        return Verdict(401, "no-json-body", "401 Invalid signature: express.json() parses "
                       f"only application/json (this Content-Type: {shown}), so req.rawBody "
                       "stays undefined and the listener signs \"{timestamp}.\" with an "
                       "empty body")
    if ", " in signature or ", " in timestamp:
        first = sign(secret, timestamp.split(", ")[0], raw_body.encode("utf-8"))
        if first in signature.split(", "):
            return Verdict(401, "repeated-header", "401 Invalid signature: a signing header "
                           "arrived more than once, and Node joins its values with \", \"")
    if signature.lower() == expected:
        return Verdict(401, "signature-case", "401 Invalid signature: the signature is hex "
                       "in upper or mixed case, and the listener compares it with !== "
                       "against the lower-case hex digest")
    if raw_body.encode("utf-8") != body and signature.lower() == sign(secret, timestamp, body):
        return Verdict(401, "not-utf8", "401 Invalid signature: the body is not valid "
                       "UTF-8, so buffer.toString(\"utf8\") changes it before it is signed")
    return Verdict(401, "signature", "401 Invalid signature")
