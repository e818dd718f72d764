"""Error types, JSON responses and request-body parsing shared by the route handlers.

Two error families, as the docs demand:

    CoreError    the CORE wrapper {"error": {"code", "message", "details"}, "requestId"}
    OAuthError   the token endpoint's OAuth-style {"error", "error_description"}

Handlers raise them; ``app.py`` renders them (applying the faults that change the shape).
The request id is made per request by the middleware and kept in ``scope["state"]``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from redcloud_check.simulator.runtime import Runtime

JSON = "application/json"


class Refusal(Exception):
    """A route refuses the request: the HTTP `status`, a machine-readable `code`, the
    `message` for people, and `headers` to send with the answer."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


class CoreError(Refusal):
    """A CORE route refuses the request (the CORE wrapper's code and message)."""


class OAuthError(Refusal):
    """The token endpoint refuses the request (RFC 6749 section 5.2): `code` is the body's
    `error`, `message` its `error_description`."""


def runtime(request: Request) -> Runtime:
    """The simulator instance serving this request."""
    rt: Runtime = request.app.state.runtime
    return rt


def request_id(request: Request) -> str:
    return str(request.scope.setdefault("state", {}).get("request_id", ""))


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None,
                  media_type: str = JSON) -> Response:
    return JSONResponse(body, status_code=status, headers=headers, media_type=media_type)


def render_core_error(request: Request, error: CoreError) -> Response:
    """The CORE wrapper, unless a fault changes it (OAuth body on 401, no requestId)."""
    state = runtime(request).state
    headers = dict(error.headers)
    if error.status == 401 and state.has("core-auth-oauth-body"):
        return json_response({"error": "invalid_token", "error_description": error.message},
                             error.status, headers)
    body: dict[str, Any] = {"error": {"code": error.code, "message": error.message,
                                      "details": {}}}
    if state.has("core-errors-without-request-id"):
        request.scope.setdefault("state", {})["omit_request_id"] = True
    else:
        body["requestId"] = request_id(request)
    return json_response(body, error.status, headers)


def render_oauth_error(request: Request, error: OAuthError) -> Response:
    """The OAuth-style body, or the CORE wrapper under token-error-core-wrapper."""
    if runtime(request).state.has("token-error-core-wrapper"):
        body: dict[str, Any] = {
            "error": {"code": error.code.upper(), "message": error.message, "details": {}},
            "requestId": request_id(request)}
    else:
        body = {"error": error.code, "error_description": error.message}
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **error.headers}
    return json_response(body, error.status, headers)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_json(raw: bytes) -> Any:
    """Strict JSON (no NaN/Infinity); ValueError for anything else (bad UTF-8, too deep...)."""
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, RecursionError) as error:
        raise ValueError(str(error)) from error


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def is_json_media(value: str) -> bool:
    return value == JSON or (value.startswith("application/") and value.endswith("+json"))


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or CoreError 400 INVALID_REQUEST."""
    if not is_json_media(media_type(request)):
        raise CoreError(400, "INVALID_REQUEST", "Content-Type must be application/json")
    raw = await request.body()
    try:
        body = decode_json(raw)
    except ValueError as error:
        raise CoreError(400, "INVALID_REQUEST", "Request body is not valid JSON") from error
    if not isinstance(body, dict):
        raise CoreError(400, "INVALID_REQUEST", "Request body must be a JSON object")
    return body
