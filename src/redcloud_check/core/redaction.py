"""Redaction: the one function every artifact passes through before it is written.

`redact(value, secrets)` returns a copy of `value` (str, bytes, dict, list, tuple; other
scalars pass unchanged) in which

* every known secret value (client secret, issued tokens, webhook secret, the base64 Basic
  credential, the ngrok authtoken) is masked wherever it appears, also percent- or
  JSON-escaped, as ``[redacted:<what>]``;
* the values of Authorization / Proxy-Authorization / Cookie / Set-Cookie headers are
  masked, keeping the scheme (``Bearer ***``, ``Basic ***``), in header dicts and in text;
* JSON fields named access_token, refresh_token, client_secret, secret, password, token
  (any case) are masked in structures, in JSON text (token responses included) and in form
  bodies (``client_secret=[redacted:client_secret]``).

`secrets` is an iterable of values, or a mapping value -> what it is (the label shown in the
mask). Every non-empty value is masked, however short: secrecy beats readability.
`RedactingFilter` applies the same function to log records.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus

__all__ = [
    "SENSITIVE_FIELDS",
    "SENSITIVE_HEADERS",
    "RedactingFilter",
    "Secrets",
    "mask",
    "redact",
    "redact_headers",
]

T = TypeVar("T")
Secrets = Iterable[str] | Mapping[str, str]

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


def _variants(value: str) -> set[str]:
    """The secret as written in text, a form body, a URL or a JSON string."""
    out = {value, quote_plus(value), quote(value, safe="")}
    out.add(json.dumps(value)[1:-1])
    return {v for v in out if v}


def _index(secrets: Secrets) -> list[tuple[str, str]]:
    pairs: dict[str, str] = {}
    items = secrets.items() if isinstance(secrets, Mapping) else ((s, "secret") for s in secrets)
    for value, what in items:
        if not value:
            continue
        for variant in _variants(value):
            pairs.setdefault(variant, what)
    return sorted(pairs.items(), key=lambda kv: len(kv[0]), reverse=True)


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


def _redact_text(text: str, index: list[tuple[str, str]]) -> str:
    for value, what in index:
        if value in text:
            text = text.replace(value, mask(what))
    text = _JSON_FIELD.sub(
        lambda m: (f"{m['q']}{m['name']}{m['q']}{m['sep']}{m['vq']}"
                   f"{mask(m['name'].lower())}{m['vq']}"), text)
    text = _FORM_FIELD.sub(lambda m: f"{m['name']}={mask(m['name'].lower())}", text)
    text = _HEADER_TEXT.sub(_header_text, text)
    return _COOKIE_TEXT.sub(lambda m: f"{m['name']}{m['sep']}{_mask_cookie(m['value'])}", text)


def _redact(value: Any, index: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        return _redact_text(value, index)
    if isinstance(value, bytes):
        text = value.decode("utf-8", "surrogateescape")
        return _redact_text(text, index).encode("utf-8", "surrogateescape")
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            name = key.lower() if isinstance(key, str) else None
            new_key = _redact(key, index) if isinstance(key, str) else key
            if name in SENSITIVE_HEADERS and isinstance(item, str):
                out[new_key] = (_mask_cookie(item) if "cookie" in name
                                else _mask_header_value(item))
            elif name in SENSITIVE_FIELDS and item is not None and not isinstance(item, bool):
                out[new_key] = mask(name)
            else:
                out[new_key] = _redact(item, index)
        return out
    if isinstance(value, list):
        return [_redact(v, index) for v in value]
    if isinstance(value, tuple):
        return tuple(_redact(v, index) for v in value)
    return value


def redact(value: T, secrets: Secrets) -> T:
    """A redacted copy of `value` (see the module docstring for what is masked)."""
    result: T = _redact(value, _index(secrets))
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
        message = record.getMessage()
        record.msg = redact(message, self._secrets())
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets())
        return True
