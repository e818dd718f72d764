"""Which key, which bytes and which construction a failing webhook signature was made with.

When deliveries arrive but fail verification, the run already holds everything needed to
find out why, without sending anything more: the raw bodies, the signing headers, and every
key it was given or issued (RC_WEBHOOK_SECRET, RC_CLIENT_SECRET, the access tokens). Each
failing signature is tried over a bounded, fixed space: the pitfalls the webhook ecosystem
documents (Stripe, Standard Webhooks, GitHub) and the ones seen in the wild.

    key        every key the run holds; RC_WEBHOOK_SECRET also as stored without surrounding
               whitespace, without a 'whsec_' prefix, and base64-decoded (Standard Webhooks
               keeps its secret as 'whsec_' + base64)
    body       the raw body as received (the docs' rawBody), and, when it is JSON, that JSON
               re-serialized: compact, 2- or 4-space indent, Python's default separators,
               keys sorted, non-ASCII escaped; a trailing newline added or removed
    message    "{timestamp}.{body}" (1-quickstart.txt Section 9), the body only (GitHub),
               "{timestamp}{body}" (no '.'), the timestamp in seconds where the header has
               milliseconds (or the other way round)
    encoding   hex as the docs' listener compares it (lowercase, `!==`), hex in another case,
               'sha256=' + hex (GitHub), base64, base64url, 'v1=' + hex inside 't=...,v1=...'
               (Stripe), 'v1,' + base64 (Standard Webhooks)

`identify` names the one combination that reproduces a signature (a `Signing`) or None;
`space` says what was tried (a `Space`: each dimension listed, and the count of
combinations). Keys come in as labels -> values and only labels leave this module; no key,
derived key or digest is ever returned.

Public surface: `DOCS`, `SIGNED`, `WEBHOOK_KEY`, `AS_STORED`, `RAW`, `HEX`, `Signing`,
`Space`, `identify`, `space`, `try_signature`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import prod
from typing import Any

__all__ = ["AS_STORED", "BODY_ONLY", "DOCS", "HEX", "HEX_CASE", "IN_MS", "IN_SECONDS",
           "NOT_TEXT", "NO_DOT", "RAW", "SIGNED", "WEBHOOK_KEY", "Signing", "Space", "identify",
           "key_forms", "keys_shown", "space", "try_signature"]

SIGNED = ('1-quickstart.txt, Section 9 — Minimal Webhook Example '
          '(HMAC_SHA256(secret, "${timestamp}.${rawBody}"))')
WEBHOOK_KEY = "RC_WEBHOOK_SECRET"
# messages
DOCS = '"{timestamp}.{rawBody}"'
BODY_ONLY = "the raw body only"
NO_DOT = '"{timestamp}{rawBody}" (no \'.\')'
IN_SECONDS = '"{timestamp}.{rawBody}" with the timestamp in seconds (the header has ms)'
IN_MS = '"{timestamp}.{rawBody}" with the timestamp in milliseconds (the header has s)'
# key forms, bodies, encodings: the documented one first
AS_STORED = "as stored"
RAW = "the raw body as received"
HEX = "hex"
HEX_CASE = "hex in upper or mixed case"
SHA256_PREFIX = "'sha256=' + hex"
ENCODINGS = (HEX, HEX_CASE, SHA256_PREFIX, "base64", "base64url",
             "'v1=' + hex in 't=...,v1=...' (Stripe)", "'v1,' + base64 (Standard Webhooks)")
# the body re-serialized: (label, json.dumps keyword arguments); "raw" in a label is the
# non-ASCII characters unescaped, as JSON.stringify writes them
_COMPACT = {"separators": (",", ":"), "ensure_ascii": False}
SERIALIZATIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("compact (JSON.stringify(body))", _COMPACT),
    ("pretty-printed, 2-space indent (JSON.stringify(body, null, 2))",
     {"indent": 2, "ensure_ascii": False}),
    ("pretty-printed, 4-space indent", {"indent": 4, "ensure_ascii": False}),
    ("with a space after ',' and ':'", {"ensure_ascii": False}),
    ("with keys sorted, compact (canonical JSON)", {**_COMPACT, "sort_keys": True}),
    ("with keys sorted and a space after ',' and ':'", {"sort_keys": True, "ensure_ascii": False}),
    ("with keys sorted, 2-space indent", {"indent": 2, "sort_keys": True, "ensure_ascii": False}),
    ("compact, non-ASCII escaped as \\uXXXX", {"separators": (",", ":")}),
    ("as Python's json.dumps(body) writes it (', ' and ': ', non-ASCII escaped)", {}),
    ("pretty-printed, 2-space indent, non-ASCII escaped", {"indent": 2}),
)
TRAILING_NEWLINE = "the raw body with a trailing newline added"
NO_TRAILING_NEWLINE = "the raw body without its trailing newline"
# below this a timestamp is seconds since the epoch (the listener's ms-or-s rule)
_MS_THRESHOLD = 10**11
_WHSEC = re.compile(r"^[A-Za-z]{0,8}_?whsec_")


@dataclass(frozen=True, slots=True)
class Signing:
    """How a signature was made: with which key (its label) in which form, over which bytes
    of the body, in which message, in what encoding."""

    key: str  # e.g. "RC_WEBHOOK_SECRET", "RC_CLIENT_SECRET", "the access token"
    message: str  # DOCS, BODY_ONLY, NO_DOT, IN_SECONDS, IN_MS
    encoding: str  # one of ENCODINGS
    key_form: str = AS_STORED  # e.g. "without its 'whsec_' prefix, base64-decoded"
    body: str = RAW  # or how the body was re-serialized

    @property
    def documented(self) -> bool:
        """Exactly what the docs' listener computes and compares."""
        return (self.key == WEBHOOK_KEY and self.key_form == AS_STORED and self.body == RAW
                and self.message == DOCS and self.encoding == HEX)

    @property
    def key_shown(self) -> str:
        return self.key if self.key_form == AS_STORED else f"{self.key} {self.key_form}"

    def describe(self) -> str:
        """e.g. 'HMAC-SHA256 with RC_CLIENT_SECRET over "{timestamp}.{rawBody}", hex'."""
        over = self.message if self.body == RAW else (
            f"{self.message} with, in place of rawBody, the body {self.body}"
            if self.body in _SERIALIZED else f"{self.message} with {self.body}")
        return f"HMAC-SHA256 with {self.key_shown} over {over}, {self.encoding}"


_SERIALIZED = frozenset(label for label, _ in SERIALIZATIONS)


@dataclass(frozen=True, slots=True)
class Space:
    """What the search tries for one signature: each dimension's labels."""

    keys: tuple[str, ...]  # key labels with their forms
    bodies: tuple[str, ...]
    messages: tuple[str, ...]
    encodings: tuple[str, ...] = ENCODINGS

    @property
    def combinations(self) -> int:
        return prod(len(d) for d in (self.keys, self.bodies, self.messages, self.encodings))

    def keys_shown(self) -> tuple[str, ...]:
        return keys_shown(self.keys)

    def describe(self) -> str:
        """'N combinations: K keys (...) x B bodies (...) x M messages (...) x E encodings'."""
        parts = (("key", "keys", self.keys_shown()), ("body", "bodies", self.bodies),
                 ("message", "messages", self.messages),
                 ("encoding", "encodings", self.encodings))
        counts = (len(self.keys), len(self.bodies), len(self.messages), len(self.encodings))
        shown = " x ".join(f"{n} {one if n == 1 else many} ({'; '.join(items)})"
                           for n, (one, many, items) in zip(counts, parts, strict=True))
        return f"{self.combinations} combinations: {shown}"


def keys_shown(labels: Sequence[str]) -> tuple[str, ...]:
    """Key labels for a person: the access tokens issued in the run counted as one entry."""
    named = tuple(k for k in labels if "access token" not in k)
    tokens = len(labels) - len(named)
    if not tokens:
        return named
    return (*named, "the access token issued in this run" if tokens == 1 else
            f"the {tokens} access tokens issued in this run")


def _b64(text: str) -> bytes | None:
    """`text` base64- (or base64url-) decoded, None when it is not base64."""
    if not re.fullmatch(r"[A-Za-z0-9+/_-]+={0,2}", text) or len(text) < 8:
        return None
    padded = text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4)
    try:
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return None


def _b64_key(text: str, *, marked: bool = False) -> bytes | None:
    """A secret base64-decoded, when it looks like base64: 16 or more characters, after a
    'whsec_' marker (`marked`) or mixing upper case, lower case and digits (random bytes
    encoded, not a word like 'rc_secret_abc123')."""
    mixed = marked or all(re.search(p, text) for p in ("[A-Z]", "[a-z]", "[0-9]"))
    return _b64(text) if len(text) >= 16 and mixed else None


NOT_TEXT = " (bytes, not text)"


def _first_of_each(pairs: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """(label, bytes) pairs without the later ones that repeat an earlier one's bytes."""
    out: dict[bytes, str] = {}
    for label, value in pairs:
        out.setdefault(value, label)
    return [(label, value) for value, label in out.items()]


def _decoded(label: str, key: bytes) -> tuple[str, bytes]:
    """A base64-decoded form, its label saying when it is not text (a key no text value of
    the setting can hold)."""
    try:
        text = key.decode("utf-8").isprintable()
    except UnicodeDecodeError:
        text = False
    return label + ("" if text else NOT_TEXT), key


def key_forms(value: str) -> list[tuple[str, bytes]]:
    """RC_WEBHOOK_SECRET's forms: as stored, then each transformation that changes it."""
    forms = [(AS_STORED, value.encode("utf-8"))]
    trimmed = value.strip()
    if trimmed != value:
        forms.append(("without its surrounding whitespace", trimmed.encode("utf-8")))
    prefix = _WHSEC.match(trimmed)
    if prefix and len(trimmed) > prefix.end():
        bare = trimmed[prefix.end():]
        named = f"without its '{prefix.group(0)}' prefix"
        forms.append((named, bare.encode("utf-8")))
        decoded = _b64_key(bare, marked=True)
        if decoded:
            forms.append(_decoded(named + ", base64-decoded", decoded))
    decoded = None if prefix else _b64_key(trimmed)
    if decoded:
        forms.append(_decoded("base64-decoded", decoded))
    return _first_of_each(forms)


def _bodies(raw: bytes) -> list[tuple[str, bytes]]:
    out = [(RAW, raw)]
    try:
        value = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        value = None
    if isinstance(value, (dict, list)):
        out += [(label, json.dumps(value, **kwargs).encode("utf-8"))
                for label, kwargs in SERIALIZATIONS]
    if raw.endswith(b"\n"):
        out.append((NO_TRAILING_NEWLINE, raw.rstrip(b"\r\n")))
    elif raw:
        out.append((TRAILING_NEWLINE, raw + b"\n"))
    return _first_of_each(out)


def _messages(timestamp: str, body: bytes) -> list[tuple[str, bytes]]:
    ts = timestamp.strip()
    out = [(DOCS, ts.encode("utf-8") + b"." + body), (BODY_ONLY, body),
           (NO_DOT, ts.encode("utf-8") + body)]
    if ts.isdigit():
        value = int(ts)
        if value >= _MS_THRESHOLD:
            out.append((IN_SECONDS, str(value // 1000).encode() + b"." + body))
        else:
            out.append((IN_MS, str(value * 1000).encode() + b"." + body))
    return out


def _digests(header: str) -> dict[bytes, str]:
    """Every digest the signature header can be read as -> the encoding it is read in."""
    out: dict[bytes, str] = {}

    def add(text: str, encoding: str, *, hexed: bool) -> None:
        try:
            digest = bytes.fromhex(text) if hexed else _b64(text)
        except ValueError:
            return
        if digest is not None and len(digest) == 32:
            out.setdefault(digest, encoding)

    given = header.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", given):
        add(given, HEX if given == given.lower() else HEX_CASE, hexed=True)
    if given.lower().startswith("sha256="):
        add(given[7:], SHA256_PREFIX, hexed=True)
    if re.fullmatch(r"[A-Za-z0-9+/]{43}=?", given):
        add(given, "base64", hexed=False)
    if re.fullmatch(r"[A-Za-z0-9_-]{43}=?", given):
        add(given, "base64url", hexed=False)
    for part in given.split(","):
        if part.strip().startswith("v1="):
            add(part.strip()[3:], ENCODINGS[5], hexed=True)
    for part in given.split():
        if part.startswith("v1,"):
            add(part[3:], ENCODINGS[6], hexed=False)
    return out


def _candidates(keys: Mapping[str, str]) -> list[tuple[str, str, bytes]]:
    """(key label, key form, key bytes) in search order: RC_WEBHOOK_SECRET's forms first."""
    out = []
    for label, value in keys.items():
        if not value:
            continue
        forms = key_forms(value) if label == WEBHOOK_KEY else [(AS_STORED, value.encode())]
        out += [(label, form, key) for form, key in forms]
    return out


def try_signature(keys: Mapping[str, str], timestamp: str, raw: bytes,
                  signature: str) -> tuple[Signing | None, Space]:
    """The first combination whose HMAC-SHA256 is `signature`, and what was tried."""
    return _search(tuple(keys.items()), timestamp, raw, signature)


@functools.lru_cache(maxsize=512)  # a delivery is examined at every wake of the verdict loop
def _search(keys: tuple[tuple[str, str], ...], timestamp: str, raw: bytes,
            signature: str) -> tuple[Signing | None, Space]:
    candidates = _candidates(dict(keys))
    bodies = _bodies(raw)
    messages = [label for label, _ in _messages(timestamp, b"")]
    tried = Space(tuple(label if form == AS_STORED else f"{label} {form}"
                        for label, form, _ in candidates),
                  tuple(label for label, _ in bodies), tuple(messages))
    wanted = _digests(signature)
    if not wanted:
        return None, tried
    for label, form, key in candidates:
        for body_label, body in bodies:
            for message, data in _messages(timestamp, body):
                encoding = wanted.get(hmac.new(key, data, hashlib.sha256).digest())
                if encoding is not None:
                    return Signing(label, message, encoding, form, body_label), tried
    return None, tried


def identify(keys: Mapping[str, str], timestamp: str, raw: bytes,
             signature: str) -> Signing | None:
    """The combination that reproduces `signature` (keys in the given order: put
    RC_WEBHOOK_SECRET first), or None when nothing tried does."""
    return try_signature(keys, timestamp, raw, signature)[0]


def space(keys: Mapping[str, str], timestamp: str, raw: bytes) -> Space:
    """What `identify` tries for a delivery with this timestamp and body."""
    return try_signature(keys, timestamp, raw, "")[1]
