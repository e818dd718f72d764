"""Redaction's skips change nothing: with every skip turned off (each scan run on every
text, as the redaction did before it had them) the output is the same, on generated texts
and documents that hold secrets in every form the module handles: as is, percent-encoded
(form and URL style, and every byte), JSON-escaped (ASCII or not, and every character as
\\uXXXX), Python repr, as JSON and form values, URL userinfo, Authorization and Cookie
headers written as text, sensitive field names in any case (also the non-ASCII letters
re.IGNORECASE folds to ASCII ones), in str, bytes and nested structures.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any
from unittest import mock
from urllib.parse import quote, quote_plus, urlencode

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from redcloud_check.core import redaction, secret_index
from redcloud_check.core.redaction import RedactingFilter, redact, secret_spans


@contextlib.contextmanager
def every_scan() -> Iterator[None]:
    """The redaction without its skips: every scan runs on every text."""
    with mock.patch.object(redaction, "_may_match", lambda *_: True), \
            mock.patch.object(secret_index, "_may_hold_long", lambda text, index: True), \
            mock.patch.object(secret_index, "_may_hold_whole",
                              lambda text, index, escapes: True):
        yield


TRICKY = [*"\"'\\%+&=:@/?#; ,\n\t", "é", "☃", "日本", "\u212a", "\u017f", "\u0131", "\u0130",
          "%2B", "\\u00e9", "[redacted", "***", "$"]
WORDS = ["token", "secret", "password", "Bearer", "Basic", "redacted", "passed", "b", "a b",
         "authorization", "cookie", "client_secret", "rc_tok_", "x" * 9]
FIELDS = ["access_token", "Access_Token", "REFRESH_TOKEN", "client_secret", "Secret",
          "password", "token", "to\u212aen", "\u017fecret", "pa\u017f\u017fword", "note", "id"]
# Mostly ASCII: on non-ASCII text the field and header scans always run.
ASCII = st.text(st.characters(max_codepoint=127), max_size=6)
SECRET = st.one_of(
    st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(TRICKY), ASCII, ASCII,
                       st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)),
             min_size=1, max_size=6).map("".join).filter(bool),
    # shorter than MIN_SCRUB_LENGTH: found only where it stands whole, decoded
    st.text("ab +%=&\"'\\:@é", min_size=1, max_size=7),
)
SECRETS = st.one_of(
    st.lists(SECRET, min_size=0, max_size=4),
    st.dictionaries(SECRET, st.sampled_from(["client_secret", "access_token", "secret"]),
                    max_size=4),
)


def _escaped_json(secret: str) -> str:
    return "".join(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else c for c in secret)


def _every_byte(secret: str) -> str:
    return "".join(f"%{b:02X}" for b in secret.encode("utf-8", "surrogatepass"))


def written(secret: str, field: str) -> list[str]:
    """`secret` as the texts we redact write it."""
    return [
        secret, quote_plus(secret), quote(secret, safe=""), json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1], repr(secret), json.dumps(secret),
        f'"{_escaped_json(secret)}"', json.dumps({field: secret}),
        json.dumps({field: secret}, ensure_ascii=False), repr({field: secret}),
        urlencode({field: secret, "a": "1"}), f"https://h/p?x=1&{field}={_every_byte(secret)}",
        f"https://{quote(secret, safe='')}:{quote(secret, safe='')}@h/",
        f"{field}={secret}", f"x=1&{field}={quote_plus(secret)}", f"Authorization: Bearer {secret}",
        f'"Proxy-Authorization": "Basic {secret}"', f"authorization={secret}",
        f"Cookie: a={secret}; b=2", f"set-cookie: {secret}",
    ]


@st.composite
def texts(draw: st.DrawFn) -> tuple[str, Any]:
    """A text holding known secrets and other values (a sensitive field's value need not be
    a known secret) in the forms above, and the secrets."""
    secrets = draw(SECRETS)
    field = draw(st.sampled_from(FIELDS))
    pieces = []
    for _ in range(draw(st.integers(1, 3))):
        value = draw(st.sampled_from(list(secrets)) if secrets and draw(st.booleans())
                     else SECRET)
        pieces.append(draw(st.sampled_from(written(value, field))))
        pieces.append(draw(st.sampled_from(["", " ", "&", "\n", "=", ":", '"', "?", "x"])))
        pieces.append(draw(ASCII))
    return "".join(pieces), secrets


def _both(action: Any) -> tuple[Any, Any]:
    fast = action()
    with every_scan():
        full = action()
    return fast, full


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(case=texts())
@example(case=('{"password": "abc"}', ["zzz"]))  # a named field is masked, whatever its value
@example(case=("note=a+b&x=1", ["a b"]))  # a short secret in a form value, spaces as '+'
@example(case=('{"to\u212aen": "abc"}', []))  # re.IGNORECASE: the Kelvin sign is a k
def test_texts_redact_as_with_every_scan(case: tuple[str, Any]) -> None:
    text, secrets = case
    for action in (lambda: redact(text, secrets),
                   lambda: redact(text.encode("utf-8", "surrogatepass"), secrets),
                   lambda: secret_spans(text, secrets),
                   lambda: secret_spans(text, secrets, whole_value=True),
                   lambda: _filtered(text, secrets)):
        fast, full = _both(action)
        assert fast == full


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(items=st.lists(texts(), min_size=1, max_size=4),
       keys=st.lists(st.sampled_from([*FIELDS, "Authorization", "cookie", "Set-Cookie", "x"]),
                     min_size=4, max_size=4),
       keep=st.booleans())
def test_documents_redact_as_with_every_scan(items: list[tuple[str, Any]], keys: list[str],
                                             keep: bool) -> None:
    secrets = items[0][1]
    strings = [text for text, _ in items]
    doc = {"list": strings, "again": list(strings), "tuple": tuple(strings),
           "bytes": [s.encode("utf-8", "surrogatepass") for s in strings],
           **{key: strings[i % len(strings)] for i, key in enumerate(keys)},
           "n": 1, "none": None, "flag": True, "nested": {keys[0]: {"x": strings}}}
    vocabulary = frozenset(strings[:1]) if keep else frozenset()
    fast, full = _both(lambda: redact(doc, secrets, keep=vocabulary))
    assert fast == full
    # each string of a document is redacted as it is on its own (equal ones once, reused)
    assert fast["list"] == [redact(s, secrets, keep=vocabulary) for s in strings]
    assert fast["again"] == fast["list"]


def _filtered(text: str, secrets: Any) -> tuple[Any, Any]:
    record = logging.LogRecord("rc", logging.INFO, __file__, 1, "%s", (text,), None)
    record.exc_text = text
    RedactingFilter(lambda: secrets).filter(record)
    return record.msg, record.exc_text
