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

`keep` names strings that are our own vocabulary (stage names, verdicts, the schema's
enums): a value equal to one of them is never changed, so a secret like "passed" cannot
corrupt a verdict. The mask says what the secret was, never what it is:
``[redacted:<what>]``. `secrets` is an iterable of values, or a mapping value -> what.

`secret_spans` finds where known secrets stand in a text (the curl reproduction puts shell
variables there); `RedactingFilter` applies `redact` to log records.
"""

from __future__ import annotations

import ast
import json
import logging
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus, unquote, unquote_plus

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
Secrets = Iterable[str] | Mapping[str, str]
MIN_SCRUB_LENGTH = 8

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
# Where a value stands whole in text.
_DOUBLE_QUOTED = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_SINGLE_QUOTED = re.compile(r"(?<![\w'])'((?:[^'\\\n]|\\.)*)'(?![\w'])")
_KEY_FOLLOWS = re.compile(r"\s*:")
_PAIR = r"[^\s\"'<>&=?#]+=[^\s\"'<>&#]*"
_FORM_RUN = re.compile(rf"{_PAIR}(?:&{_PAIR})*")
_USERINFO = re.compile(
    r"\b[A-Za-z][A-Za-z0-9+.-]*://(?P<user>[^\s/@:\"'<>]*)(?::(?P<password>[^\s/@\"'<>]*))?@")


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


@dataclass(frozen=True, slots=True)
class _Index:
    whole: dict[str, str]  # secret value -> what it is
    scrub: list[tuple[str, str]]  # long secrets' written forms -> what, longest first


def _variants(value: str) -> set[str]:
    """The secret as written in text, a form body, a URL or a JSON string."""
    out = {value, quote_plus(value), quote(value, safe="")}
    out.add(json.dumps(value)[1:-1])
    out.add(json.dumps(value, ensure_ascii=False)[1:-1])
    return {v for v in out if v}


def _index(secrets: Secrets | _Index) -> _Index:
    if isinstance(secrets, _Index):
        return secrets
    whole: dict[str, str] = {}
    scrub: dict[str, str] = {}
    items = secrets.items() if isinstance(secrets, Mapping) else ((s, "secret") for s in secrets)
    for value, what in items:
        if not value:
            continue
        whole.setdefault(value, what)
        if len(value) >= MIN_SCRUB_LENGTH:
            for variant in _variants(value):
                scrub.setdefault(variant, what)
    return _Index(whole, sorted(scrub.items(), key=lambda kv: len(kv[0]), reverse=True))


def _decode_quoted(inner: str, quote_char: str) -> str:
    if "\\" not in inner:
        return inner
    try:
        if quote_char == '"':
            return str(json.loads(f'"{inner}"'))
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
    for m in _USERINFO.finditer(text):
        for group in ("user", "password"):
            if m[group]:
                yield m.start(group), m.end(group), unquote(m[group])


def secret_spans(text: str, secrets: Secrets | _Index, *,
                 whole_value: bool = False) -> list[tuple[int, int, str]]:
    """Sorted, non-overlapping (start, end, what) of every known secret in `text`: long
    secrets anywhere, any secret where it stands as a whole value (the whole of `text`
    when `whole_value`)."""
    index = _index(secrets)
    spans: list[tuple[int, int, str]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or e <= start for s, e, _ in spans)

    if whole_value and text in index.whole:
        return [(0, len(text), index.whole[text])]
    for variant, what in index.scrub:
        start = text.find(variant)
        while start != -1:
            if free(start, start + len(variant)):
                spans.append((start, start + len(variant), what))
            start = text.find(variant, start + len(variant))
    candidates = [*_quoted_values(text), *_form_values(text, whole_value),
                  *_userinfo_values(text)]
    for start, end, decoded in candidates:
        found = index.whole.get(decoded)
        if found is not None and end > start and free(start, end):
            spans.append((start, end, found))
    return sorted(spans)


def _replace(text: str, spans: list[tuple[int, int, str]],
             render: Callable[[str], str] = mask) -> str:
    parts, last = [], 0
    for start, end, what in spans:
        parts += [text[last:start], render(what)]
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


def _redact_text(text: str, index: _Index, whole_value: bool = False) -> str:
    text = _replace(text, secret_spans(text, index, whole_value=whole_value))
    text = _JSON_FIELD.sub(
        lambda m: (f"{m['q']}{m['name']}{m['q']}{m['sep']}{m['vq']}"
                   f"{mask(m['name'].lower())}{m['vq']}"), text)
    text = _FORM_FIELD.sub(lambda m: f"{m['name']}={mask(m['name'].lower())}", text)
    text = _USERINFO.sub(_url_password, text)
    text = _HEADER_TEXT.sub(_header_text, text)
    return _COOKIE_TEXT.sub(lambda m: f"{m['name']}{m['sep']}{_mask_cookie(m['value'])}", text)


def _redact(value: Any, index: _Index, keep: Collection[str]) -> Any:
    if isinstance(value, str):
        return value if value in keep else _redact_text(value, index, whole_value=True)
    if isinstance(value, bytes):
        text = value.decode("utf-8", "surrogateescape")
        return _redact_text(text, index, whole_value=True).encode("utf-8", "surrogateescape")
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():  # keys are never changed
            name = key.lower() if isinstance(key, str) else None
            if name in SENSITIVE_HEADERS and isinstance(item, str):
                out[key] = _mask_cookie(item) if "cookie" in name else _mask_header_value(item)
            elif name in SENSITIVE_FIELDS and item is not None and not isinstance(item, bool):
                out[key] = mask(name)
            else:
                out[key] = _redact(item, index, keep)
        return out
    if isinstance(value, list):
        return [_redact(v, index, keep) for v in value]
    if isinstance(value, tuple):
        return tuple(_redact(v, index, keep) for v in value)
    return value


def redact(value: T, secrets: Secrets, *, keep: Collection[str] = frozenset()) -> T:
    """A redacted copy of `value` (see the module docstring for what is masked); strings in
    `keep` (our own vocabulary) are never changed."""
    result: T = _redact(value, _index(secrets), keep)
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
        index = _index(self._secrets())
        record.msg = _redact_text(record.getMessage(), index)
        record.args = None
        if record.exc_text:
            record.exc_text = _redact_text(record.exc_text, index)
        return True
