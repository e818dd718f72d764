"""Where known secrets stand in a text: the search half of `redaction`.

A secret is found where it stands as a whole value (a JSON or Python-repr string value, a
form or query value, URL userinfo; the whole text when `whole_value`), decoded first, and, if
it is at least `MIN_SCRUB_LENGTH` characters long, anywhere as a substring in any of the forms
it is written in (as is, percent-encoded, JSON-escaped). See `redaction` for why 8.

`secret_index(secrets)` builds the lookup for a set of secrets once (cached: a run asks
for the same few sets thousands of times). `secret_spans` skips a search that cannot find
anything: no written form of a long secret is in the text (one precompiled alternation), or no
value of a kind can decode to a secret (none is written literally and the escapes decoding
would turn into other characters are absent). A skipped search is one that would have found
nothing (tests/test_redaction_equivalence.py).

Recipients' phone numbers (`core.recipients`: the values labelled as recipients) are found
the same way; the index also holds each one's mask (`masks`, by every written form), and the
recipients that are the client's own numbers (`own`): where one stands as the value of an
own-number field (``"e164": "…"``, ``sendFrom``, ``numberId``) it is not a span.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from redcloud_check.core.recipients import (
    LABELS,
    OWN_LABELS,
    OWN_NUMBER_FIELDS,
    masked_numbers,
)

__all__ = ["MIN_SCRUB_LENGTH", "USERINFO", "SecretIndex", "Secrets", "secret_index",
           "secret_spans"]

Secrets = Iterable[str] | Mapping[str, str]
MIN_SCRUB_LENGTH = 8

# Where a value stands whole in text.
_DOUBLE_QUOTED = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_SINGLE_QUOTED = re.compile(r"(?<![\w'])'((?:[^'\\\n]|\\.)*)'(?![\w'])")
_KEY_FOLLOWS = re.compile(r"\s*:")
_PAIR = r"[^\s\"'<>&=?#]+=[^\s\"'<>&#]*"
_FORM_RUN = re.compile(rf"{_PAIR}(?:&{_PAIR})*")
USERINFO = re.compile(
    r"\b[A-Za-z][A-Za-z0-9+.-]*://(?P<user>[^\s/@:\"'<>]*)(?::(?P<password>[^\s/@\"'<>]*))?@")
# What stands right before a value of an own-number field: "e164": " (JSON, a Python repr,
# JSON inside a JSON string).
_OWN_NAMES = "|".join(sorted(OWN_NUMBER_FIELDS))
_OWN_FIELD = re.compile(rf"""\\?["'](?:{_OWN_NAMES})\\?["']\s*:\s*\\?["']\Z""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SecretIndex:
    whole: dict[str, str]  # secret value -> what it is
    scrub: list[tuple[str, str]]  # long secrets' written forms -> what, longest first
    any_scrub: re.Pattern[str] | None  # matches wherever any written form stands
    masks: dict[str, str]  # a recipient's number, each written form -> its mask
    own: frozenset[str]  # written forms of recipients that are the client's own numbers


def _variants(value: str) -> set[str]:
    """The secret as written in text, a form body, a URL or a JSON string."""
    out = {value, quote_plus(value), quote(value, safe="")}
    out.add(json.dumps(value)[1:-1])
    out.add(json.dumps(value, ensure_ascii=False)[1:-1])
    return {v for v in out if v}


def secret_index(secrets: Secrets | SecretIndex) -> SecretIndex:
    if isinstance(secrets, SecretIndex):
        return secrets
    items = secrets.items() if isinstance(secrets, Mapping) else ((s, "secret") for s in secrets)
    return _build_index(tuple(items))


@lru_cache(maxsize=64)
def _build_index(items: tuple[tuple[str, str], ...]) -> SecretIndex:
    """The index of (value, what) pairs; cached: a run asks for the same few sets over and
    over. Never mutated once built."""
    whole: dict[str, str] = {}
    scrub: dict[str, str] = {}
    for value, what in items:
        if not value:
            continue
        whole.setdefault(value, what)
        if len(value) >= MIN_SCRUB_LENGTH:
            for variant in _variants(value):
                scrub.setdefault(variant, what)
    ordered = sorted(scrub.items(), key=lambda kv: len(kv[0]), reverse=True)
    any_scrub = re.compile("|".join(re.escape(v) for v, _ in ordered)) if ordered else None
    numbers = masked_numbers(v for v, what in items if v and what in LABELS)
    masks = {variant: masked for value, masked in numbers.items()
             for variant in _variants(value)}
    own = frozenset(variant for value, what in items if value and what in OWN_LABELS
                    for variant in _variants(value))
    return SecretIndex(whole, ordered, any_scrub, masks, own)


def _in_own_field(text: str, start: int, end: int) -> bool:
    """`text[start:end]` is the quoted value of an own-number field ("e164": "…")."""
    return text[end:end + 1] in ("\"", "'", "\\") and \
        _OWN_FIELD.search(text, max(0, start - 40), start) is not None


def _may_hold_long(text: str, index: SecretIndex) -> bool:
    """False only when no written form of a long secret stands in `text`."""
    return index.any_scrub is not None and index.any_scrub.search(text) is not None


def _may_hold_whole(text: str, index: SecretIndex, escapes: str) -> bool:
    """False only when no value in `text` can decode to a known secret: none is written
    literally and none of the `escapes` that decoding turns into other characters is there."""
    return bool(index.whole) and (any(c in text for c in escapes)
                                  or any(secret in text for secret in index.whole))


def _decode_quoted(inner: str, quote_char: str) -> str:
    if "\\" not in inner:
        return inner
    try:
        if quote_char == '"':
            return str(json.loads(f'"{inner}"'))
        with warnings.catch_warnings():  # "\:" warns (an error under -W error): decode as
            warnings.simplefilter("ignore")  # Python does by default, whatever the filters
            value = ast.literal_eval(f"'{inner}'")
        return value if isinstance(value, str) else inner
    except (ValueError, SyntaxError):
        return inner


def _quoted_values(text: str) -> Iterable[tuple[int, int, str]]:
    """(start, end, decoded) of each quoted string in `text` that is a value, not a key."""
    double = []
    for m in _DOUBLE_QUOTED.finditer(text):
        double.append((m.start(), m.end()))
        if not _KEY_FOLLOWS.match(text, m.end()):
            yield m.start(1), m.end(1), _decode_quoted(m[1], '"')
    for m in _SINGLE_QUOTED.finditer(text):
        if any(s < m.end() and m.start() < e for s, e in double):
            continue
        if not _KEY_FOLLOWS.match(text, m.end()):
            yield m.start(1), m.end(1), _decode_quoted(m[1], "'")


def _form_values(text: str, whole_text: bool) -> Iterable[tuple[int, int, str]]:
    """(start, end, decoded) of each value in a form body or query string in `text`."""
    for run in _FORM_RUN.finditer(text):
        preceded = run.start() > 0 and text[run.start() - 1] == "?"
        if not ("&" in run[0] or preceded or (whole_text and run[0] == text)):
            continue
        offset = run.start()
        for pair in run[0].split("&"):
            key, _, value = pair.partition("=")
            start = offset + len(key) + 1
            yield start, start + len(value), unquote_plus(value)
            offset += len(pair) + 1


def _userinfo_values(text: str) -> Iterable[tuple[int, int, str]]:
    for m in USERINFO.finditer(text):
        for group in ("user", "password"):
            if m[group]:
                yield m.start(group), m.end(group), unquote(m[group])


def _whole_candidates(text: str, index: SecretIndex,
                      whole_value: bool) -> Iterable[tuple[int, int, str]]:
    """Where a whole value stands in `text`: quoted strings, form values, URL userinfo; a
    kind of value is not looked for where none of its kind can decode to a known secret."""
    if ("\"" in text or "'" in text) and _may_hold_whole(text, index, "\\"):
        yield from _quoted_values(text)
    if "=" in text and _may_hold_whole(text, index, "%+"):
        yield from _form_values(text, whole_value)
    if "@" in text and _may_hold_whole(text, index, "%"):
        yield from _userinfo_values(text)


def secret_spans(text: str, secrets: Secrets | SecretIndex, *,
                 whole_value: bool = False) -> list[tuple[int, int, str]]:
    """Sorted, non-overlapping (start, end, what) of every known secret in `text`: long
    secrets anywhere, any secret where it stands as a whole value (the whole of `text`
    when `whole_value`)."""
    index = secret_index(secrets)
    spans: list[tuple[int, int, str]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or e <= start for s, e, _ in spans)

    if whole_value and text in index.whole:
        return [(0, len(text), index.whole[text])]
    if _may_hold_long(text, index):
        for variant, what in index.scrub:
            start = text.find(variant)
            while start != -1:
                if free(start, start + len(variant)):
                    spans.append((start, start + len(variant), what))
                start = text.find(variant, start + len(variant))
    for start, end, decoded in _whole_candidates(text, index, whole_value):
        found = index.whole.get(decoded)
        if found is not None and end > start and free(start, end):
            spans.append((start, end, found))
    if index.own:  # the client's own number where it stands as one stays
        spans = [(start, end, what) for start, end, what in spans
                 if not (text[start:end] in index.own and _in_own_field(text, start, end))]
    return sorted(spans)
