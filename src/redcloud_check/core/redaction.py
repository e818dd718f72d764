"""Redaction: the one function every artifact passes through before it is written.

It works on values, never on keys or on the structure of a document:

* in structured data (dicts, lists, tuples) keys are never changed; the value of a sensitive
  header (Authorization, Proxy-Authorization, Cookie, Set-Cookie: the scheme is kept,
  ``Bearer ***``) or of a sensitive field (access_token, refresh_token, client_secret,
  secret, password, token, any case) is masked whole; a string value equal to a known secret
  is masked whole; any other string is redacted as text;
* in text (a log line, an error message, a request body, HTML, the terminal) a known secret
  is masked wherever it stands as a whole value: a JSON string value (``"…"`` not followed
  by ``:``, which makes it a key), a quoted Python-repr value, a form or query value
  (``a=1&b=…``, ``?b=…``), URL userinfo; sensitive field names and Authorization / Cookie
  headers written as text are masked too, whatever their value;
* a secret of at least `MIN_SCRUB_LENGTH` characters is also scrubbed out of free text as a
  substring, also percent- or JSON-escaped.

Why 8 (`MIN_SCRUB_LENGTH`): below 8 characters a value is too likely to be a word or a piece
of ordinary output ("b", "test", "true", "label", "status", "pytest" are all in our own
reports and JSON keys), and masking it inside text would corrupt the evidence without
protecting anything. 8 is the shortest secret NIST SP 800-63B accepts at all; a real client
secret, token or webhook secret is much longer and random, so at 8 and above a match in
free text is the secret and not a coincidence. A shorter secret is still masked wherever it
stands as a whole value (above), and the run warns that it is short (`short_secret_note`).

Recipients' phone numbers (`core.recipients`) go through the same search with a different
mask: the number's own, ``+1******0001`` (country code and last digits kept), not
``[redacted:<what>]``. A recipient that is one of the client's own numbers stays where it
stands as such (the value of an ``e164``, ``sendFrom`` or ``numberId`` field).

`keep` names strings that are our own vocabulary (stage names, verdicts, the schema's
enums): a value equal to one of them is never changed, so a secret like "passed" cannot
corrupt a verdict. The mask says what the secret was, never what it is:
``[redacted:<what>]``. `secrets` is an iterable of values, or a mapping value -> what.

`secret_spans` (from `secret_index`, the search half) finds where known secrets stand in a
text (the curl reproduction puts shell variables there); `RedactingFilter` applies `redact`
to log records.

Cost: a run redacts a few thousand strings, nearly all of which hold nothing to mask. The
index of a set of secrets is built once (`secret_index`, cached); a rewrite of named fields
and headers is skipped where a cheap test shows it cannot match (`_may_match`: what every
match must contain); within one `redact` call an equal string is redacted once. A skipped
scan is one that would have found nothing: the output is the same as running every scan
(tests/test_redaction_equivalence.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from redcloud_check.core.recipients import OWN_NUMBER_FIELDS
from redcloud_check.core.secret_index import (
    MIN_SCRUB_LENGTH,
    USERINFO,
    SecretIndex,
    Secrets,
    secret_index,
    secret_spans,
)

__all__ = [
    "MIN_SCRUB_LENGTH",
    "SENSITIVE_FIELDS",
    "SENSITIVE_HEADERS",
    "RedactingFilter",
    "Secrets",
    "mask",
    "redact",
    "redact_headers",
    "secret_spans",
    "short_secret_note",
]

T = TypeVar("T")

SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
SENSITIVE_FIELDS = frozenset(
    {"access_token", "refresh_token", "client_secret", "secret", "password", "token"}
)
_FIELDS = "|".join(sorted(SENSITIVE_FIELDS, key=len, reverse=True))
# A value that is already a placeholder or a shell variable is left alone.
_NOT_PLACEHOLDER = r"(?!\[redacted|\$|\*\*\*)"
_PLACEHOLDERS = ("[redacted", "$", "***")

# "access_token": "..."  /  'token': '...'  (JSON text, Python reprs)
_JSON_FIELD = re.compile(
    rf"""(?P<q>["'])(?P<name>{_FIELDS})(?P=q)(?P<sep>\s*:\s*)(?P<vq>["']){_NOT_PLACEHOLDER}"""
    r"""(?P<value>(?:(?!(?P=vq))[^\\]|\\.)*)(?P=vq)""",
    re.IGNORECASE,
)
# client_secret=...  (form bodies, query strings)
_FORM_FIELD = re.compile(
    rf"(?<![A-Za-z0-9_])(?P<name>{_FIELDS})={_NOT_PLACEHOLDER}(?P<value>[^&\s\"'<>]+)",
    re.IGNORECASE,
)
# Authorization: Bearer xyz  /  "Authorization": "Basic xyz"  (headers written as text)
_HEADER_TEXT = re.compile(
    r"""(?P<name>proxy-authorization|authorization)(?P<sep>["']?\s*[:=]\s*["']?)"""
    r"""(?P<first>[^\s"'\\,;]+)(?:(?P<ws>[ \t]+)(?P<second>[^\s"'\\,;]+))?""",
    re.IGNORECASE,
)
_SCHEMES = frozenset({"bearer", "basic", "digest", "token", "negotiate", "bot", "hmac"})
_COOKIE_TEXT = re.compile(
    r"""(?P<name>set-cookie|cookie)(?P<sep>["']?\s*:\s*["']?)(?P<value>[^"'\r\n]+)""",
    re.IGNORECASE,
)


def mask(what: str) -> str:
    """The placeholder that replaces a secret: says what it was, never what it is."""
    return f"[redacted:{what}]"


def short_secret_note(setting: str, value: str | None) -> str | None:
    """The warning for a secret too short to be scrubbed from free text, naming the
    setting; None when `value` is empty or long enough."""
    if not value or len(value) >= MIN_SCRUB_LENGTH:
        return None
    return (f"{setting} is shorter than {MIN_SCRUB_LENGTH} characters: it is redacted wherever "
            "it stands as a whole value (headers, form fields, JSON strings, URLs), but not "
            "inside free text, where it cannot be told from ordinary words; use a longer "
            "secret")


def _replace(text: str, spans: list[tuple[int, int, str]], masks: Mapping[str, str]) -> str:
    """`text` with each span masked: a recipient's number by its own mask (`masks`, by
    written form), anything else by `mask(what)`."""
    parts, last = [], 0
    for start, end, what in spans:
        written = text[start:end]
        parts += [text[last:start], masks.get(written) or mask(what)]
        last = end
    return "".join([*parts, text[last:]])


def _mask_header_value(value: str) -> str:
    scheme, sep, rest = value.strip().partition(" ")
    if sep and rest and re.fullmatch(r"[A-Za-z][\w.-]*", scheme):
        return f"{scheme} ***"
    return "***"


def _mask_cookie(value: str) -> str:
    return re.sub(r"=([^;]*)", "=***", value)


def _header_text(m: re.Match[str]) -> str:
    first, second = m["first"], m["second"]
    head = f"{m['name']}{m['sep']}"
    if second is not None:
        if second.startswith(_PLACEHOLDERS):
            return m.group(0)
        return f"{head}{first}{m['ws']}***"
    if first.lower() in _SCHEMES or first.startswith(_PLACEHOLDERS):
        return m.group(0)  # nothing visible to mask (the value follows in other quotes)
    return f"{head}***"


def _url_password(m: re.Match[str]) -> str:
    if m["password"] is None or m["password"].startswith(_PLACEHOLDERS):
        return m.group(0)
    return (m.group(0)[:m.start("password") - m.start()] + mask("password")
            + m.group(0)[m.end("password") - m.start():])


def _field_value(m: re.Match[str]) -> str:
    return f"{m['q']}{m['name']}{m['q']}{m['sep']}{m['vq']}{mask(m['name'].lower())}{m['vq']}"


def _form_value(m: re.Match[str]) -> str:
    return f"{m['name']}={mask(m['name'].lower())}"


def _cookie_text(m: re.Match[str]) -> str:
    return f"{m['name']}{m['sep']}{_mask_cookie(m['value'])}"


# The rewrites of text, in order, each with what any match of it must contain: one of some
# characters, a substring, and one of some words as re.IGNORECASE matches them (the field
# words are in every name of SENSITIVE_FIELDS). A rewrite is skipped where that is absent.
_FIELD_WORDS = ("token", "secret", "password")
_REWRITES: tuple[tuple[str, str, tuple[str, ...], re.Pattern[str],
                       Callable[[re.Match[str]], str]], ...] = (
    ("\"'", "", _FIELD_WORDS, _JSON_FIELD, _field_value),
    ("=", "", _FIELD_WORDS, _FORM_FIELD, _form_value),
    ("@", "://", (), USERINFO, _url_password),
    (":=", "", ("authorization",), _HEADER_TEXT, _header_text),
    (":", "", ("cookie",), _COOKIE_TEXT, _cookie_text),
)


def _folded(text: str) -> str | None:
    """`text` lowercased, to look for words as re.IGNORECASE matches them; None for
    non-ASCII text, where IGNORECASE also matches a few non-ASCII letters (U+212A for k,
    U+017F for s, U+0131 for i): any word may be there."""
    return text.lower() if text.isascii() else None


def _may_match(text: str, folded: str | None, chars: str, substring: str,
               words: tuple[str, ...]) -> bool:
    """False only when a match needing one of `chars`, `substring` and one of `words`
    cannot stand in `text` (`folded`: `_folded(text)`)."""
    for char in chars:
        if char in text:
            break
    else:
        return False
    if substring not in text:
        return False
    return folded is None or not words or any(word in folded for word in words)


def _redact_text(text: str, index: SecretIndex, whole_value: bool = False) -> str:
    spans = secret_spans(text, index, whole_value=whole_value)
    if spans:
        text = _replace(text, spans, index.masks)
    folded = _folded(text)
    for chars, substring, words, pattern, render in _REWRITES:
        if _may_match(text, folded, chars, substring, words):
            rewritten = pattern.sub(render, text)
            if rewritten != text:
                text, folded = rewritten, _folded(rewritten)
    return text


def _redact(value: Any, index: SecretIndex, keep: Collection[str], seen: dict[Any, Any]) -> Any:
    """`seen`: the plain strings (and bytes) already redacted in this call -> their result."""
    kind = type(value)
    if kind is str or kind is bytes:
        done = seen.get(value)
        if done is None:
            done = seen[value] = _redact_leaf(value, index, keep)
        return done
    if value is None or kind is int or kind is float or kind is bool:
        return value
    if isinstance(value, (str, bytes)):  # a subclass (an enum, say) keeps its own type
        return _redact_leaf(value, index, keep)
    if kind is dict or isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():  # keys are never changed
            name = key.lower() if isinstance(key, str) else None
            if name in SENSITIVE_HEADERS and isinstance(item, str):
                out[key] = _mask_cookie(item) if "cookie" in name else _mask_header_value(item)
            elif name in SENSITIVE_FIELDS and item is not None and not isinstance(item, bool):
                out[key] = mask(name)
            elif name in OWN_NUMBER_FIELDS and type(item) is str and item in index.own:
                out[key] = item  # the client's own number, where it stands as such
            else:
                out[key] = _redact(item, index, keep, seen)
        return out
    if kind is list or isinstance(value, list):
        return [_redact(v, index, keep, seen) for v in value]
    if isinstance(value, tuple):
        return tuple(_redact(v, index, keep, seen) for v in value)
    return value


def _redact_leaf(value: str | bytes, index: SecretIndex, keep: Collection[str]) -> str | bytes:
    if isinstance(value, str):
        return value if value in keep else _redact_text(value, index, whole_value=True)
    text = value.decode("utf-8", "surrogateescape")
    return _redact_text(text, index, whole_value=True).encode("utf-8", "surrogateescape")


def redact(value: T, secrets: Secrets, *, keep: Collection[str] = frozenset()) -> T:
    """A redacted copy of `value` (see the module docstring for what is masked); strings in
    `keep` (our own vocabulary) are never changed."""
    result: T = _redact(value, secret_index(secrets), keep, {})
    return result


def redact_headers(headers: Mapping[str, str], secrets: Secrets = ()) -> dict[str, str]:
    """Header dict with sensitive header values masked (scheme kept) and secrets masked."""
    return dict(redact(dict(headers), secrets))


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's message with the current secrets.

    `secrets` is called per record, so tokens issued during the run are masked too.
    """

    def __init__(self, secrets: Callable[[], Secrets]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        index = secret_index(self._secrets())
        record.msg = _redact_text(record.getMessage(), index)
        record.args = None
        if record.exc_text:
            record.exc_text = _redact_text(record.exc_text, index)
        return True
