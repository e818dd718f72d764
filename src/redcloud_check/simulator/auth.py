"""OAuth 2 client_credentials token issuance and bearer authentication of CORE routes.

Token endpoint (3-api-reference, Authentication): HTTP Basic or body client_id/client_secret,
form-encoded (a JSON object is accepted leniently). A parameter sent without a value is
treated as omitted (RFC 6749, Section 3.1), so HTTP Basic plus an empty `client_secret=` is
Basic alone. Errors are OAuth-style, never the CORE wrapper:

    invalid_request         400  malformed body, missing grant_type or credentials,
                                 credentials given twice (Basic and body)
    unsupported_grant_type  400  grant_type other than client_credentials
    invalid_client          401  unknown client, wrong secret, inactive client
                                 (+ WWW-Authenticate: Basic realm="redcloud" when Basic was used)

CORE routes take ``Authorization: Bearer <token>``; a missing, malformed, unknown or expired
token is a 401 UNAUTHORIZED in the CORE wrapper.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from redcloud_check.simulator.responses import (
    CoreError,
    OAuthError,
    decode_json,
    is_json_media,
    json_response,
    media_type,
    runtime,
)
from redcloud_check.simulator.seed import Client
from redcloud_check.simulator.state import SimState, TokenRecord
from redcloud_check.simulator.variants import new_id

FORM = "application/x-www-form-urlencoded"
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="redcloud"'}
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="redcloud"'}
_B64TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
CHECKED_CHARS = 24  # what core-token-prefix-checked compares of a bearer token


def _invalid_request(description: str) -> OAuthError:
    return OAuthError(400, "invalid_request", description)


async def _token_fields(request: Request) -> dict[str, str]:
    """The form (or lenient JSON) fields of a token request."""
    raw = await request.body()
    kind = media_type(request)
    if not raw.strip():
        return {}
    if is_json_media(kind):
        try:
            data = decode_json(raw)
        except ValueError as error:
            raise _invalid_request("The request body is not valid JSON") from error
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise _invalid_request("A JSON token request must be an object of strings")
        return _present(data)
    if kind not in (FORM, ""):
        raise _invalid_request(f"The request body must be {FORM}")
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True,
                          max_num_fields=50)
    except (UnicodeDecodeError, ValueError) as error:
        raise _invalid_request("The request body is not valid form encoding") from error
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            raise _invalid_request(f"The parameter {key} is repeated")
        fields[key] = value
    return _present(fields)


def _present(fields: dict[str, str]) -> dict[str, str]:
    """Drop empty parameters. RFC 6749, Section 3.1: "Parameters sent without a value MUST be
    treated as if they were omitted from the request."
    """
    return {key: value for key, value in fields.items() if value != ""}


def _decode_basic(value: str) -> tuple[str, str] | None:
    """(user, password) of an HTTP Basic credential, split at the first colon (RFC 7617);
    None when it is not base64 of UTF-8 text with a colon."""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def _basic_credentials(request: Request, split_every_colon: bool = False
                       ) -> tuple[str, str] | None:
    """(client_id, client_secret) from an HTTP Basic header, None when there is none; the
    secret ends at a second colon only under the token-basic-colon-split fault."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    pair = _decode_basic(value)
    if pair is None:
        raise OAuthError(401, "invalid_client", "The Basic credentials are malformed",
                         BASIC_CHALLENGE)
    client_id, secret = pair
    return client_id, secret.split(":")[0] if split_every_colon else secret


def _secret_matches(state: SimState, stored: str, given: str) -> bool:
    """The secret comparison: constant-time and exact, unless a fault loosens it."""
    if state.has("token-wrong-secret-accepted"):
        return True
    if state.has("token-empty-secret-accepted") and given == "":
        return True
    if state.has("token-secret-prefix-match"):
        given = given[:len(stored)]
    if state.has("token-secret-truncated-match") and given and stored.startswith(given):
        return True
    if state.has("token-secret-case-insensitive"):
        stored, given = stored.casefold(), given.casefold()
    return hmac.compare_digest(stored.encode(), given.encode())


def _client_for(state: SimState, client_id: str, secret: str) -> Client | None:
    """The client whose credentials these are, or None."""
    with state.lock:
        clients = list(state.clients.values())
    pairs = [(client_id, secret)]
    if state.has("token-credentials-either-order"):
        pairs.append((secret, client_id))
    for cid, given in pairs:
        for client in clients:
            named = client.client_id == cid or state.has("token-client-id-ignored")
            if named and _secret_matches(state, client.client_secret, given):
                return client
    return None


async def issue_token(request: Request) -> Response:
    """POST /api/auth/token."""
    rt = runtime(request)
    state = rt.state
    fields = await _token_fields(request)
    basic = _basic_credentials(request, state.has("token-basic-colon-split"))
    in_body = "client_id" in fields or "client_secret" in fields
    grant = fields.get("grant_type")
    if not state.has("token-grant-type-unchecked"):
        if grant is None or grant == "":
            raise _invalid_request("grant_type is required")
        if grant != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type",
                             "Only grant_type=client_credentials is supported")
    if basic is not None and in_body:
        raise _invalid_request("Use either HTTP Basic or body credentials, not both")
    challenge = BASIC_CHALLENGE if basic is not None else {}
    if basic is not None:
        client_id, secret = basic
        if state.has("token-basic-auth-rejected"):
            raise OAuthError(401, "invalid_client", "Client authentication failed", challenge)
    else:
        client_id, secret = fields.get("client_id", ""), fields.get("client_secret", "")
        if not client_id or not (secret or state.has("token-empty-secret-accepted")):
            state.log_refused_credential(client_id)
            raise _invalid_request("client_id and client_secret are required "
                                   "(HTTP Basic or request body)")
        if state.has("token-body-credentials-rejected"):
            raise OAuthError(401, "invalid_client", "Client authentication failed")
    client = _client_for(state, client_id, secret)
    if client is None:
        state.log_refused_credential(client_id)
        raise OAuthError(401, "invalid_client", "Client authentication failed", challenge)
    if client.status != "ACTIVE":
        raise OAuthError(401, "invalid_client", "The API client is not active", challenge)
    token = new_id("rc_tok_", secrets.token_urlsafe(32), state.variants)
    ttl = rt.config.token_ttl
    with state.lock:
        state.tokens[token] = TokenRecord(client.client_id, rt.config.clock() + ttl)
        state.issued_tokens.append(token)
    body = {"access_token": token,
            "token_type": "mac" if state.has("token-type-not-bearer") else "bearer",
            "expires_in": str(ttl) if state.has("token-expires-in-string") else ttl}
    kind = "text/plain" if state.has("token-content-type-text") else "application/json"
    return json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
                         media_type=kind)


def _unauthorized(message: str) -> CoreError:
    return CoreError(401, "UNAUTHORIZED", message, BEARER_CHALLENGE)


def _record_for(state: SimState, token: str) -> TokenRecord | None:
    """The issued token `token` is; under core-token-prefix-checked, any issued token that
    shares its first CHECKED_CHARS characters (as if the rest were an unchecked signature)."""
    with state.lock:
        record = state.tokens.get(token)
        if record is None and state.has("core-token-prefix-checked") and \
                len(token) >= CHECKED_CHARS:
            issued = next((t for t in state.tokens
                           if t[:CHECKED_CHARS] == token[:CHECKED_CHARS]), None)
            record = None if issued is None else state.tokens.get(issued)
    return record


def _client_credentials(state: SimState, scheme: str, value: str) -> Client | None:
    """Under core-accepts-client-secret: the client whose secret is the bearer token, or
    whose HTTP Basic client credentials these are."""
    with state.lock:
        clients = list(state.clients.values())
    if scheme.lower() == "bearer":
        return next((c for c in clients if c.client_secret == value), None)
    pair = _decode_basic(value) if scheme.lower() == "basic" else None
    if pair is not None:
        return next((c for c in clients if (c.client_id, c.client_secret) == pair), None)
    return None


def authenticate(request: Request) -> Client:
    """The client behind the request's bearer token, or CoreError 401."""
    rt = runtime(request)
    state = rt.state
    header = request.headers.get("authorization")
    if header is None or not header.strip():
        if state.has("core-accepts-missing-token"):
            return state.first_client()
        raise _unauthorized("Authorization header is missing")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if state.has("core-accepts-client-secret"):
        direct = _client_credentials(state, scheme, token)
        if direct is not None:
            return direct
    record = _record_for(state, token)
    if state.has("token-unusable-on-core"):
        raise _unauthorized("The access token is invalid")
    if record is None and state.has("core-accepts-malformed-token"):
        return state.first_client()
    scheme_ok = scheme.lower() == "bearer" or state.has("core-scheme-ignored")
    if not scheme_ok or not _B64TOKEN.match(token):
        raise _unauthorized("Authorization header must be 'Bearer <access_token>'")
    if record is None:
        raise _unauthorized("The access token is invalid")
    if rt.config.clock() >= record.expires_at:
        raise _unauthorized("The access token has expired")
    if state.has("token-revoked-early"):
        with state.lock:
            state.token_uses[token] = uses = state.token_uses.get(token, 0) + 1
        if uses > 1:  # honoured once, then refused long before its expires_in
            raise _unauthorized("Invalid or expired access token")
    with state.lock:
        client = state.clients.get(record.client_id)
    if client is None or client.status != "ACTIVE":
        raise _unauthorized("The API client is not active")
    return client
