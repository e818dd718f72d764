"""The one loopback HTTP server runner: an ASGI app on uvicorn in a daemon thread.

`HTTPServerBase` is what pytest-httpserver's class of the same name is to its servers: the
webhook listener and the simulator subclass it and supply only `application()`. It

* binds before serving (port 0 = any free port; the bound one is `port`), so a port that is
  taken raises OSError from `start()` at once;
* returns from `start()` once uvicorn has finished its start-up (event-driven, no polling);
* stops at once: `PromptServer` wakes uvicorn's main loop instead of waiting for its 0.1 s
  poll, and its drain wakes as each connection closes and each request task ends, instead
  of uvicorn's fixed 0.1 s grace sleep or a poll period (an idle keep-alive connection, as
  the simulator's webhook client keeps to the listener, used to cost a 5 ms poll);
* never swallows an error of ours: `handler_errors` collects what code of ours raised while
  serving (a subscriber, a crashed server loop), and `check_handler_errors()` raises it at
  the end of the run as the tool's own error (`HandlerError`), never a finding about the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import uvicorn
from starlette.types import ASGIApp

from redcloud_check.core.errors import CollectsHandlerErrors
from redcloud_check.core.urls import http_url

__all__ = ["HTTPServerBase", "PromptServer"]

S = TypeVar("S", bound="HTTPServerBase")


class WatchedSet(set[Any]):
    """A set that calls `on_leave` whenever a member leaves it: uvicorn's sets of open
    connections and running request tasks, which its protocols discard on the event loop
    (on connection_lost, and as a task's done callback)."""

    def __init__(self) -> None:
        super().__init__()
        self.on_leave: Callable[[], None] | None = None

    def discard(self, item: Any) -> None:
        super().discard(item)
        if self.on_leave is not None:
            self.on_leave()

    def remove(self, item: Any) -> None:
        super().remove(item)
        if self.on_leave is not None:
            self.on_leave()


class PromptServer(uvicorn.Server):
    """uvicorn's Server that says when its start-up is over and stops without polling."""

    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    FORCE_EXIT_CHECK_S = 0.1  # a force_exit set without a wake is seen this late at most

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()  # set once start-up succeeded or gave up
        self._connections = self.server_state.connections = WatchedSet()
        self._tasks = self.server_state.tasks = WatchedSet()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self.should_exit:  # asked to stop before the loop was running
            return
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            # Wake at the next tick (the Date header is per second) or at once on exit.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown steps, with a drain that wakes as connections and tasks end."""
        left = asyncio.Event()
        self._connections.on_leave = self._tasks.on_leave = left.set
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        deadline = time.monotonic() + (self.config.timeout_graceful_shutdown or 0)
        while ((self.server_state.connections or self.server_state.tasks)
               and not self.force_exit and (remaining := deadline - time.monotonic()) > 0):
            left.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(left.wait(), min(remaining, self.FORCE_EXIT_CHECK_S))
        for task in self.server_state.tasks:  # past the graceful timeout
            task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()

    def request_exit(self) -> None:
        """Stop serving (thread-safe); returns at once, the server thread winds down."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(wake.set)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); OSError when it cannot bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections; with proto 0
    # it does not, and Nagle delays every response body by ~40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class HTTPServerBase(CollectsHandlerErrors):
    """Serves `application()` on host:port in a daemon thread; start() / stop(), idempotent.

    Subclasses supply `application()`, and may add uvicorn options (`uvicorn_options`) and
    work to do on the server thread before it serves (`before_serving`).
    """

    name = "HTTP server"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._server: PromptServer | None = None
        self._thread: threading.Thread | None = None
        self._startup_error: BaseException | None = None
        self.handler_errors: list[BaseException] = []

    # -- what a subclass supplies ----------------------------------------------------------

    def application(self) -> ASGIApp:
        raise NotImplementedError

    def uvicorn_options(self) -> dict[str, Any]:
        """uvicorn options beyond the base's. Neither server speaks WebSocket, and both run on
        asyncio: uvicorn's "auto" would otherwise try importing websockets, wsproto and
        uvloop on the server thread while start() waits (websockets, where installed, is
        tens of ms), and run on uvloop where it happens to be installed. Every app is ASGI 3
        (uvicorn's guess takes a bound method for ASGI 2)."""
        return {"ws": "none", "loop": "asyncio", "interface": "asgi3"}

    def before_serving(self) -> None:
        """Runs on the server thread before uvicorn starts."""

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"the {self.name} is not started")
        return self._port

    def url_for(self, path: str = "") -> str:
        return http_url(self.host, self.port, path)

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self: S, timeout: float = 10.0) -> S:
        """Bind (OSError if it cannot) and serve; returns once serving. No-op if running."""
        if self._thread is not None:
            return self
        sock = bind(self.host, self._requested_port)
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(self.application(), log_level="warning", access_log=False,
                                lifespan="on", timeout_graceful_shutdown=2,
                                **self.uvicorn_options())
        server = PromptServer(config)
        self._startup_error = None
        self._server = server
        self._thread = threading.Thread(target=self._serve, args=(server, sock), daemon=True,
                                        name=f"{self.name}:{self._port}")
        self._thread.start()
        if not server.ready.wait(timeout) or not server.started:
            error = self._startup_error
            self.stop()
            raise RuntimeError(f"the {self.name} did not start: "
                               f"{error!r}" if error else f"the {self.name} did not start")
        return self

    def _serve(self, server: PromptServer, sock: socket.socket) -> None:
        try:
            self.before_serving()
            server.run(sockets=[sock])
        except BaseException as error:  # the server thread must not die silently
            if server.started:
                self.handler_errors.append(error)  # reported by check_handler_errors()
            else:
                self._startup_error = error  # reported by start()
        finally:
            sock.close()
            server.ready.set()  # never leave start() waiting

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread (up to `timeout`); no-op if not running."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.request_exit()
        if thread is not threading.current_thread():
            thread.join(timeout)
        self._server = self._thread = None

    def run_until_signal(self) -> None:
        """Serve until SIGINT or SIGTERM (call from the main thread), then stop."""
        stopping = threading.Event()
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in handled}
        try:
            stopping.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop()

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
