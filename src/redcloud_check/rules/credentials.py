"""Credentials that are not exactly the right pair, chosen as a security tester would.

Each case is data: a plain statement of what is sent, the bug that accepting it reveals,
and how to build it from the run's real credentials. The checks send one request per
case and expect a refusal; `derived_secrets` lists every value a case derives from a
secret (a truncated secret is still almost all of it), for the run to redact.

    TOKEN_CASES    near misses at POST /api/auth/token (each one request)
    BEARER_CASES   Authorization values for a CORE route that carry no issued token
    tampered(...)  an issued token with one character changed, away from its ends

The bound. A run names RC_CLIENT_ID with a wrong secret at most `MAX_WRONG_SECRETS`
times (the `names_client` cases, plus stage 1's wrong-secret check), refuses at most
`MAX_REFUSED_TOKEN_REQUESTS` token requests in all, and sends at most
`MAX_REFUSED_CORE_REQUESTS` CORE requests without a valid issued token, so that an
account with a lockout policy is not locked by a run. A test counts what the simulator
saw against these numbers, and docs/configuration.md states them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field

from redcloud_check.core.client import basic_header

__all__ = ["BEARER_CASES", "MAX_REFUSED_CORE_REQUESTS", "MAX_REFUSED_TOKEN_REQUESTS",
           "MAX_WRONG_SECRETS", "TOKEN_CASES", "BearerCase", "TokenAttempt", "TokenCase",
           "derived_secrets", "tampered"]

# Stage 1 and 2 also refuse credentials outside these tables: a wrong secret, a missing
# and an unsupported grant_type (token); no token, "Bearer" alone, an unknown token (CORE).
OTHER_WRONG_SECRETS = 1
OTHER_REFUSED_TOKEN_REQUESTS = 3
OTHER_REFUSED_CORE_REQUESTS = 3


@dataclass(frozen=True, slots=True)
class TokenAttempt:
    """One token request's client authentication: an Authorization header or body fields."""

    authorization: str | None = None
    form: dict[str, str] = field(default_factory=dict)
    derived: tuple[str, ...] = ()  # values derived from a secret: redact them


@dataclass(frozen=True, slots=True)
class TokenCase:
    check_id: str  # the case's stable id (each case is a check of its own)
    name: str
    statement: str  # what is sent, in plain words
    reveals: str  # the bug that issuing a token for it shows
    names_client: bool  # RC_CLIENT_ID with a wrong secret: counts toward a lockout
    build: Callable[[str, str], TokenAttempt | None]  # (client_id, secret); None: n/a


def _body(client_id: str, secret: str, *derived: str) -> TokenAttempt:
    return TokenAttempt(form={"client_id": client_id, "client_secret": secret},
                        derived=derived)


def _case_changed(client_id: str, secret: str) -> TokenAttempt | None:
    swapped = secret.swapcase()
    return None if swapped == secret else _body(client_id, swapped, swapped)


def _basic_cut(client_id: str, secret: str) -> TokenAttempt:
    encoded = basic_header(client_id, secret).split(" ", 1)[1][:-4]
    prefix = base64.b64decode(encoded).decode("utf-8", "replace") if encoded else ""
    return TokenAttempt(authorization=f"Basic {encoded}",
                        derived=(encoded, prefix.partition(":")[2]))


def _basic_extra_colon(client_id: str, secret: str) -> TokenAttempt:
    header = basic_header(client_id, f"{secret}:x")
    return TokenAttempt(authorization=header, derived=(header.split(" ", 1)[1],))


TOKEN_CASES: tuple[TokenCase, ...] = (
    TokenCase("RC-TOKEN-05", "secret-trailing-char",
              "RC_CLIENT_ID with RC_CLIENT_SECRET plus one trailing character (body)",
              "the secret is compared only as far as the stored one goes (a prefix match)",
              True, lambda cid, s: _body(cid, s + "x", s + "x")),
    TokenCase("RC-TOKEN-06", "secret-case-changed",
              "RC_CLIENT_ID with RC_CLIENT_SECRET in swapped letter case (body)",
              "the secret is compared case-insensitively (a case-insensitive collation)",
              True, _case_changed),
    TokenCase("RC-TOKEN-07", "secret-empty", "RC_CLIENT_ID with an empty client_secret (body)",
              "a client_id alone is enough: an empty secret is not checked",
              True, lambda cid, s: _body(cid, "")),
    TokenCase("RC-TOKEN-08", "basic-base64-cut-short",
              "HTTP Basic with the right pair's base64 cut short by its last 4 characters "
              "(it decodes to the secret minus its last 1-3 characters)",
              "the given secret is compared only as far as it goes (a truncated match)",
              True, _basic_cut),
    TokenCase("RC-TOKEN-09", "basic-extra-colon",
              "HTTP Basic of 'RC_CLIENT_ID:RC_CLIENT_SECRET:x' (the secret is everything "
              "after the first colon, RFC 7617)",
              "Basic credentials are split at every colon, dropping what follows the secret",
              True, _basic_extra_colon),
    TokenCase("RC-TOKEN-10", "client-id-altered",
              "RC_CLIENT_ID plus one trailing character (another, unknown client) with the "
              "right RC_CLIENT_SECRET (body)",
              "the client is found by its secret alone, or its id matched as a prefix",
              False, lambda cid, s: _body(cid + "x", s)),
    TokenCase("RC-TOKEN-11", "credentials-swapped",
              "client_id and client_secret swapped: the secret as the id and the id as the "
              "secret (body)",
              "id and secret are accepted in either order",
              False, lambda cid, s: _body(s, cid)),
)


@dataclass(frozen=True, slots=True)
class BearerCase:
    check_id: str  # the case's stable id (each case is a check of its own)
    name: str
    statement: str
    reveals: str
    build: Callable[[str, str, str], str]  # (issued token, client_id, secret) -> header


def tampered(token: str) -> str:
    """`token` with the character nearest its middle that is a letter or digit changed to
    another of its kind. Never the last character: in a base64url signature that one may
    carry only padding bits, and a changed padding bit can still verify."""
    if not token:
        return "x"
    middle = len(token) // 2
    order = sorted(range(len(token) - 1 or 1), key=lambda i: abs(i - middle))
    index = next((i for i in order if token[i].isascii() and token[i].isalnum()), middle)
    char = token[index]
    if char.isdigit():
        new = str((int(char) + 1) % 10)
    elif char.isalpha():
        base = "a" if char.islower() else "A"
        new = chr((ord(char) - ord(base) + 1) % 26 + ord(base))
    else:
        new = "A" if char != "A" else "B"
    return token[:index] + new + token[index + 1:]


def on_the_wire(value: str) -> str:
    """`value` as an HTTP header carries it: header fields are bytes, and a client sends a
    non-Latin-1 secret as its UTF-8 bytes; http.client writes a str header as Latin-1, so
    those bytes are spelled here as the Latin-1 characters they are."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8").decode("latin-1")
    return value


BEARER_CASES: tuple[BearerCase, ...] = (
    BearerCase("RC-WHOAMI-08", "token-char-changed", "the issued token with one character changed",
               "the token is not verified in full (an unchecked signature or a prefix "
               "lookup)", lambda tok, cid, s: f"Bearer {tampered(tok)}"),
    BearerCase("RC-WHOAMI-09", "token-truncated", "the issued token without its last character",
               "a token is matched as a prefix of an issued one",
               lambda tok, cid, s: f"Bearer {tok[:-1]}"),
    BearerCase("RC-WHOAMI-10", "token-extended", "the issued token plus one trailing character",
               "an issued token is matched as a prefix of the given one",
               lambda tok, cid, s: f"Bearer {tok}x"),
    BearerCase("RC-WHOAMI-11", "token-under-basic-scheme",
               "the issued token under the Basic scheme",
               "the Authorization scheme is ignored (the routes take BearerAuth only)",
               lambda tok, cid, s: f"Basic {tok}"),
    BearerCase("RC-WHOAMI-12", "client-secret-as-bearer", "RC_CLIENT_SECRET as the bearer token",
               "the client secret works as an access token, bypassing token expiry",
               lambda tok, cid, s: f"Bearer {on_the_wire(s)}"),
    BearerCase("RC-WHOAMI-13", "client-credentials-as-basic",
               "HTTP Basic with RC_CLIENT_ID and RC_CLIENT_SECRET instead of a token",
               "CORE routes accept client credentials, bypassing the token",
               lambda tok, cid, s: basic_header(cid, s)),
)

MAX_WRONG_SECRETS = sum(c.names_client for c in TOKEN_CASES) + OTHER_WRONG_SECRETS
MAX_REFUSED_TOKEN_REQUESTS = len(TOKEN_CASES) + OTHER_REFUSED_TOKEN_REQUESTS
MAX_REFUSED_CORE_REQUESTS = len(BEARER_CASES) + OTHER_REFUSED_CORE_REQUESTS


def derived_secrets(attempt: TokenAttempt | str) -> tuple[str, ...]:
    """The values in an attempt derived from a secret, for the run's redaction."""
    if isinstance(attempt, str):
        _, _, value = attempt.partition(" ")
        return (value,) if value else ()
    return tuple(v for v in (*attempt.derived, attempt.authorization or "") if v)
