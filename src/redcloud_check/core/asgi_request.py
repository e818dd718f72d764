"""The two pieces of ASGI a plain app needs (the webhook listener is one): one HTTP request as
it reads it, and the answers to uvicorn's lifespan messages.

    AsgiRequest      method, path, headers, each value without the whitespace around
                     it (`header`: case-insensitive, a name's first value, as HTTP
                     frameworks answer; `header_items`: all of them, in
                     order) and the body's messages (`receive`)
    ClientDisconnect the sender closed the connection before its body was read
    lifespan         answers start-up and shutdown: a plain app has nothing to do then

Public surface: `AsgiRequest`, `ClientDisconnect`, `lifespan`.
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

__all__ = ["AsgiRequest", "ClientDisconnect", "lifespan"]


class ClientDisconnect(Exception):
    """The sender closed the connection before its body was read."""


class AsgiRequest:
    """One ASGI HTTP request: method, path, headers and the body's messages."""

    __slots__ = ("_first", "header_items", "method", "path", "receive")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        # a field value excludes the whitespace around it (RFC 9110 5.5), as Node's parser
        # gives it; not every uvicorn release trims a trailing tab, so it is trimmed here
        self.header_items = [(k.decode("latin-1"), v.decode("latin-1").strip(" \t"))
                             for k, v in scope["headers"]]
        self._first: dict[str, str] = {}
        for name, value in self.header_items:
            self._first.setdefault(name.lower(), value)
        self.receive = receive

    def header(self, name: str) -> str | None:
        return self._first.get(name.lower())


async def lifespan(receive: Receive, send: Send) -> None:
    """Answer uvicorn's start-up and shutdown messages."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
