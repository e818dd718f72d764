"""The Starlette application: routes, the request-id/log middleware, error rendering.

Every response carries ``X-Request-Id``; every CORE error body carries the same id as
``requestId``. Unknown routes are 404 NOT_FOUND, wrong methods 405 METHOD_NOT_ALLOWED (CORE
wrapper; OAuth-style on the token route), and an unexpected exception is a 500
INTERNAL_ERROR in the wrapper, never a bare traceback; the exception, a bug of ours, is
collected in the runtime's `handler_errors` (the simulator's `check_handler_errors()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from redcloud_check.simulator.auth import issue_token
from redcloud_check.simulator.messages import send_message
from redcloud_check.simulator.numbers import list_numbers, search_numbers, update_number, whoami
from redcloud_check.simulator.responses import (
    CoreError,
    OAuthError,
    json_response,
    render_core_error,
    render_oauth_error,
)
from redcloud_check.simulator.runtime import Runtime
from redcloud_check.simulator.state import RequestRecord
from redcloud_check.simulator.variant_layer import VariantLayer
from redcloud_check.simulator.variants import new_id

log = logging.getLogger("redcloud_check.simulator")
TOKEN_PATH = "/api/auth/token"


def new_request_id(variants: frozenset[str] = frozenset()) -> str:
    return new_id("req_", secrets.token_hex(12), variants)


IN_FLIGHT_LIMIT = 2  # rate-limit-in-flight: CORE requests served at once
IN_FLIGHT_RETRY_AFTER_S = 1


class RequestContext:
    """Outermost ASGI layer: request id, latency, the request log and its one-line log; the
    rate-limit-in-flight variant's count of CORE requests in flight."""

    def __init__(self, app: ASGIApp, rt: Runtime) -> None:
        self.app = app
        self.rt = rt
        self._repeated: str | None = None  # the one id under the request-ids-repeat fault
        self._in_flight = 0  # CORE requests being served (one event loop: no lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id(self.rt.state.variants)
        if self.rt.state.has("request-ids-repeat"):
            self._repeated = self._repeated or request_id
            request_id = self._repeated
        context = scope.setdefault("state", {})
        context["request_id"] = request_id
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                if not context.get("omit_request_id"):
                    MutableHeaders(scope=message)["X-Request-Id"] = request_id
                status = int(message["status"])
                self.rt.state.log_request(RequestRecord(scope["method"], scope["path"], status))
                log.info("%s %s %d %.1fms", scope["method"], scope["path"], status,
                         (time.perf_counter() - started) * 1000)
            await send(message)

        limited = (self.rt.state.variants and "rate-limit-in-flight" in self.rt.state.variants
                   and str(scope["path"]).startswith("/api/core/"))
        refused = limited and self._in_flight >= IN_FLIGHT_LIMIT
        if limited and not refused:
            self._in_flight += 1
        try:
            if self.rt.config.latency_ms > 0:
                await asyncio.sleep(self.rt.config.latency_ms / 1000)
            if refused:
                await _too_many_in_flight(request_id)(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            if limited and not refused:
                self._in_flight -= 1


def _too_many_in_flight(request_id: str) -> Response:
    """The rate-limit-in-flight variant's answer: 429 in the CORE wrapper, Retry-After."""
    return json_response({"error": {"code": "RATE_LIMITED", "message": "Too many requests in "
                                    f"flight: at most {IN_FLIGHT_LIMIT} at once; retry after "
                                    f"{IN_FLIGHT_RETRY_AFTER_S} second(s)", "details": {}},
                          "requestId": request_id}, 429,
                         {"Retry-After": str(IN_FLIGHT_RETRY_AFTER_S)})


async def _core_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CoreError)
    return render_core_error(request, exc)


async def _oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return render_oauth_error(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing errors (404, 405) in the route's own error style."""
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    method = request.method
    if exc.status_code == 405:
        message = f"Method {method} is not allowed on {request.url.path}"
        if request.url.path == TOKEN_PATH:
            return render_oauth_error(request, OAuthError(405, "invalid_request", message,
                                                          headers))
        return render_core_error(request, CoreError(405, "METHOD_NOT_ALLOWED", message,
                                                    headers))
    if exc.status_code == 404:
        return render_core_error(request, CoreError(
            404, "NOT_FOUND", f"No route {method} {request.url.path}"))
    return render_core_error(request, CoreError(exc.status_code, "INVALID_REQUEST",
                                                str(exc.detail), headers))


async def _server_error(request: Request, exc: Exception) -> Response:
    """A route raised: a bug of ours, collected for the simulator's check_handler_errors()
    (the run then ends as an internal error, its 500 never taken for the API's)."""
    runtime: Runtime = request.app.state.runtime
    runtime.handler_errors.append(exc)
    log.error("internal error on %s %s: %s", request.method, request.url.path,
              type(exc).__name__)
    return render_core_error(request, CoreError(500, "INTERNAL_ERROR",
                                                "The simulator failed unexpectedly"))


ROUTES = [
    Route(TOKEN_PATH, issue_token, methods=["POST"]),
    Route("/api/core/whoami", whoami, methods=["GET"]),
    Route("/api/core/numbers", list_numbers, methods=["GET"]),
    Route("/api/core/numbers/search", search_numbers, methods=["POST"]),
    Route("/api/core/numbers/{numberId}", update_number, methods=["PATCH"]),
    Route("/api/core/messages/send", send_message, methods=["POST"]),
]


def build_app(rt: Runtime) -> ASGIApp:
    """The simulator's ASGI app serving `rt`."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await rt.deliverer.aclose()

    app = Starlette(routes=ROUTES, lifespan=lifespan, exception_handlers={
        CoreError: _core_error, OAuthError: _oauth_error, HTTPException: _http_error,
        Exception: _server_error})
    app.state.runtime = rt
    return RequestContext(VariantLayer(app, rt), rt)
