"""OAuth 2 client_credentials token issuance and bearer authentication of CORE routes.

Token endpoint (3-api-reference, Authentication): HTTP Basic or body client_id/client_secret,
form-encoded (a JSON object is accepted leniently). Errors are OAuth-style, never the CORE
wrapper:

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
from redcloud_check.simulator.state import TokenRecord

FORM = "application/x-www-form-urlencoded"
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="redcloud"'}
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="redcloud"'}
_B64TOKEN = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")


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
        return dict(data)
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
    return fields


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    """(client_id, client_secret) from an HTTP Basic header, None when there is none."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise OAuthError(401, "invalid_client", "The Basic credentials are malformed",
                         BASIC_CHALLENGE) from error
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise OAuthError(401, "invalid_client", "The Basic credentials are malformed",
                         BASIC_CHALLENGE)
    return client_id, secret


async def issue_token(request: Request) -> Response:
    """POST /api/auth/token."""
    rt = runtime(request)
    state = rt.state
    fields = await _token_fields(request)
    basic = _basic_credentials(request)
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
        if not client_id or not secret:
            raise _invalid_request("client_id and client_secret are required "
                                   "(HTTP Basic or request body)")
        if state.has("token-body-credentials-rejected"):
            raise OAuthError(401, "invalid_client", "Client authentication failed")
    with state.lock:
        client = state.clients.get(client_id)
    secret_ok = client is not None and (
        state.has("token-wrong-secret-accepted")
        or hmac.compare_digest(client.client_secret.encode(), secret.encode()))
    if client is None or not secret_ok:
        raise OAuthError(401, "invalid_client", "Client authentication failed", challenge)
    if client.status != "ACTIVE":
        raise OAuthError(401, "invalid_client", "The API client is not active", challenge)
    token = "rc_tok_" + secrets.token_urlsafe(32)
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
    with state.lock:
        record = state.tokens.get(token)
    if state.has("token-unusable-on-core"):
        raise _unauthorized("The access token is invalid")
    if record is None and state.has("core-accepts-malformed-token"):
        return state.first_client()
    if scheme.lower() != "bearer" or not _B64TOKEN.match(token):
        raise _unauthorized("Authorization header must be 'Bearer <access_token>'")
    if record is None:
        raise _unauthorized("The access token is invalid")
    if rt.config.clock() >= record.expires_at:
        raise _unauthorized("The access token has expired")
    with state.lock:
        client = state.clients.get(record.client_id)
    if client is None or client.status != "ACTIVE":
        raise _unauthorized("The API client is not active")
    return client
