"""The response side of the conformant variants, as one ASGI layer around the routes.

Off (no response variant active) it passes every message straight through. On, it holds a
response until its body is complete, then rewrites it once, the same way every time (so an
idempotent replay stays byte-for-byte equal on the wire):

    additive-fields    every JSON object of the body gets ``variants.ADDITIVE``
    json-charset       Content-Type application/json; charset=utf-8
    gzip-responses     Content-Encoding: gzip, when the request's Accept-Encoding allows it
    connection-close   Connection: close (uvicorn then closes the connection)
    slow-responses     the response leaves ``SLOW_RESPONSE_S`` after it was computed
    chunked-responses  no Content-Length; the body goes out in three chunks
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Scope, Send

from redcloud_check.simulator.held_response import HeldResponse, send_whole
from redcloud_check.simulator.runtime import Runtime
from redcloud_check.simulator.variants import SLOW_RESPONSE_S, with_additive_fields

RESPONSE_VARIANTS = frozenset({"additive-fields", "json-charset", "gzip-responses",
                               "connection-close", "slow-responses", "chunked-responses"})


def _is_json(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                           and media.endswith("+json"))


def _accepts_gzip(scope: Scope) -> bool:
    accepted = Headers(scope=scope).get("accept-encoding", "")
    return any(part.split(";")[0].strip().lower() in ("gzip", "*")
               for part in accepted.split(","))


def rewrite(body: bytes, headers: MutableHeaders, variants: frozenset[str],
            accepts_gzip: bool) -> bytes:
    """The body as sent under `variants`; `headers` are changed in place."""
    content_type = headers.get("content-type", "")
    if _is_json(content_type):
        if "additive-fields" in variants and body:
            with contextlib.suppress(ValueError):  # not JSON after all: sent as it is
                body = json.dumps(with_additive_fields(json.loads(body)),
                                  separators=(",", ":")).encode("utf-8")
        if "json-charset" in variants and "charset" not in content_type.lower():
            headers["content-type"] = content_type.split(";")[0].strip() + "; charset=utf-8"
    if "gzip-responses" in variants and body and accepts_gzip:
        body = gzip.compress(body, mtime=0)
        headers["content-encoding"] = "gzip"
        headers["vary"] = "Accept-Encoding"
    if "connection-close" in variants:
        headers["connection"] = "close"
    return body


class VariantLayer(HeldResponse):
    def __init__(self, app: ASGIApp, rt: Runtime) -> None:
        super().__init__(app)
        self.rt = rt

    def hold(self, scope: Scope) -> frozenset[str] | None:
        """The response variants active for this request; None when there is none."""
        return self.rt.state.variants & RESPONSE_VARIANTS or None

    async def respond(self, variants: frozenset[str], scope: Scope, start: Message,
                      body: bytes, send: Send) -> None:
        headers = MutableHeaders(scope=start)
        body = rewrite(body, headers, variants, _accepts_gzip(scope))
        if "slow-responses" in variants:
            await asyncio.sleep(SLOW_RESPONSE_S)
        if "chunked-responses" in variants and body:
            del headers["content-length"]
            await send(start)
            third = max(1, len(body) // 3)
            pieces = [body[:third], body[third:2 * third], body[2 * third:]]
            for index, piece in enumerate(pieces):
                await send({"type": "http.response.body", "body": piece,
                            "more_body": index < len(pieces) - 1})
            return
        await send_whole(send, start, body)
