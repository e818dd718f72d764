"""An ASGI layer that holds each HTTP response until its body is complete, then answers in
its place: the one way the simulator rewrites whole responses (the conformant variants'
response side, `variant_layer`) and the tests' deviating simulators rewrite theirs.

A subclass says per request what it needs (`hold`: None lets the response pass untouched)
and answers from the route's start message and whole body (`respond`), usually through
`send_whole`, which puts a Content-Length that fits the body.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HeldResponse", "send_whole"]


async def send_whole(send: Send, start: Message, body: bytes) -> None:
    """`start` (its Content-Length set to the body's) and then `body`, in one message."""
    MutableHeaders(scope=start)["content-length"] = str(len(body))
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


class HeldResponse:
    """Middleware: every HTTP response held whole, then `respond` (see the module)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def hold(self, scope: Scope) -> Any:
        """What `respond` needs to answer this HTTP request; None: pass it through."""
        return True

    async def respond(self, held: Any, scope: Scope, start: Message, body: bytes,
                      send: Send) -> None:
        """Answer with the route's `start` message and whole `body` (`held`: from `hold`)."""
        await send_whole(send, start, body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        held = self.hold(scope) if scope["type"] == "http" else None
        if held is None:
            await self.app(scope, receive, send)
        else:
            await self.relay(held, scope, receive, send)

    async def relay(self, held: Any, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app on this HTTP request, its response held for `respond(held, ...)`."""
        start: Message = {}
        chunks: list[bytes] = []

        async def gather(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self.respond(held, scope, start, b"".join(chunks), send)
            else:
                await send(message)

        await self.app(scope, receive, gather)
