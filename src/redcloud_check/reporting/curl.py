"""A curl command that reproduces a recorded exchange, with no secret in it.

Every known secret is replaced by a shell variable (the names the docs use):

    client secret         "${RC_CLIENT_SECRET}"
    issued access token   "${RC_ACCESS_TOKEN}"
    webhook secret        "${RC_WEBHOOK_SECRET}"
    ngrok authtoken       "${NGROK_AUTHTOKEN}"
    anything else secret  "${RC_SECRET}"
    RC_TO (the recipient) "${RC_TO}" (core.recipients: a person's number is no literal in it)

Any other recipient's number (never one the suite sends to) is shown masked, as the one
redaction masks it (``+1******0001``).

HTTP Basic client authentication becomes ``-u "$RC_CLIENT_ID:$RC_CLIENT_SECRET"``. Literal
text is single-quoted (`shlex.quote`), variables double-quoted, so the command is shell-safe
whatever the body holds. A secret that was percent-encoded in a form body is replaced by the
same variable (curl sends it as given: set the variable to the encoded form if it has
special characters).

Public surface: `to_curl`, `VARIABLES`, `CURL_SKIPPED_HEADERS`.
"""

from __future__ import annotations

import base64
import binascii
import shlex
from collections.abc import Mapping

from redcloud_check.core.config import NGROK_AUTHTOKEN, OPTIONS
from redcloud_check.core.exchange import Exchange
from redcloud_check.core.recipients import RECIPIENT, RECIPIENT_OWN, TO, TO_OWN
from redcloud_check.core.redaction import redact, secret_spans

__all__ = ["CURL_SKIPPED_HEADERS", "VARIABLES", "to_curl"]

# secret label (as in redaction's mapping value -> label) -> shell variable: each setting
# marked secret by its own variable, and the two secrets no setting holds.
VARIABLES: dict[str, str] = {
    **{o.attr: o.env for o in OPTIONS if o.secret},
    "ngrok_authtoken": NGROK_AUTHTOKEN,
    "access_token": "RC_ACCESS_TOKEN",
    "basic_credential": "RC_BASIC_CREDENTIAL",
}
CURL_SKIPPED_HEADERS = frozenset({"content-length", "host", "user-agent", "connection",
                                  "accept-encoding"})
_BODY_LIMIT = 64 * 1024


def _variable(label: str) -> str:
    return "RC_TO" if label in (TO, TO_OWN) else VARIABLES.get(label, "RC_SECRET")


def _word(text: str, secrets: Mapping[str, str], *, whole_value: bool = False) -> str:
    """One shell word: literal parts single-quoted, secrets (found by redaction's
    `secret_spans`: long ones anywhere, any where it stands as a whole value) as
    double-quoted variables."""
    parts: list[str] = []
    last = 0
    for start, end, label in secret_spans(text, secrets, whole_value=whole_value):
        if start > last:
            parts.append(shlex.quote(text[last:start]))
        if label in (RECIPIENT, RECIPIENT_OWN):
            parts.append(shlex.quote(redact(text[start:end], secrets)))
        else:
            parts.append(f'"${{{_variable(label)}}}"')
        last = end
    if last < len(text) or not parts:
        parts.append(shlex.quote(text[last:]))
    return "".join(parts)


def _basic_user(value: str, secrets: Mapping[str, str]) -> str | None:
    """The -u argument for an HTTP Basic header, or None when it is not Basic."""
    scheme, _, credential = value.strip().partition(" ")
    if scheme.lower() != "basic" or not credential:
        return None
    try:
        user, sep, password = base64.b64decode(credential, validate=True).decode(
            "utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not sep:
        return None
    if secrets.get(password) == "client_secret":
        return '"$RC_CLIENT_ID:$RC_CLIENT_SECRET"'
    return _word(user, secrets, whole_value=True) + ":" + _word(password, secrets,
                                                                 whole_value=True)


def to_curl(exchange: Exchange, secrets: Mapping[str, str], *, multiline: bool = True) -> str:
    """A curl command line for `exchange`; `secrets` maps each secret value to its label."""
    has_body = bool(exchange.request_body)
    head = "curl"
    if exchange.method != "GET" or has_body:
        head += " -X " + shlex.quote(exchange.method)
    args: list[str] = [f"{head} {_word(exchange.url, secrets)}"]
    for name, value in exchange.request_headers.items():
        lowered = name.lower()
        if lowered in CURL_SKIPPED_HEADERS:
            continue
        if lowered == "authorization":
            user = _basic_user(value, secrets)
            if user is not None:
                args.append(f"-u {user}")
                continue
        args.append("-H " + _word(f"{name}: ", secrets) + _word(value, secrets, whole_value=True))
    if has_body:
        assert exchange.request_body is not None
        body = exchange.request_body[:_BODY_LIMIT].decode("utf-8", "replace")
        args.append("--data-raw " + _word(body, secrets, whole_value=True))
    separator = " \\\n  " if multiline else " "
    return separator.join(args)
