"""HTTPServerBase: binds port 0, is serving when start() returns, stops at once, and never
swallows an error of ours."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from redcloud_check.core.errors import HandlerError
from redcloud_check.core.http_server import HTTPServerBase, PromptServer


class Hello(HTTPServerBase):
    name = "hello server"

    def application(self) -> ASGIApp:
        async def hello(_request: Request) -> PlainTextResponse:
            return PlainTextResponse("hello")

        return Starlette(routes=[Route("/", hello)])


class Held(HTTPServerBase):
    """Answers once `release` is set; `entered` says a request is being handled."""

    name = "held server"

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def application(self) -> ASGIApp:
        async def held(_request: Request) -> PlainTextResponse:
            self.entered.set()
            await asyncio.to_thread(self.release.wait, 10)
            return PlainTextResponse("done")

        return Starlette(routes=[Route("/", held)])


def _server_thread(server: HTTPServerBase) -> threading.Thread:
    return next(t for t in threading.enumerate() if t.name == f"{server.name}:{server.port}")


class BrokenStartup(HTTPServerBase):
    name = "broken server"

    def application(self) -> ASGIApp:
        @contextlib.asynccontextmanager
        async def lifespan(_app: Starlette) -> AsyncIterator[None]:
            raise ValueError("no database")
            yield

        return Starlette(lifespan=lifespan)


def test_serves_on_a_free_port_as_soon_as_started_and_stops_at_once() -> None:
    server = Hello()
    with pytest.raises(RuntimeError, match="hello server is not started"):
        _ = server.port
    with server:
        assert server.port > 0 and server.is_running()
        assert httpx.get(server.url_for("/"), trust_env=False).text == "hello"
        started = time.perf_counter()
    stopped_in = time.perf_counter() - started
    assert not server.is_running()
    assert stopped_in < 1.0, f"stop took {stopped_in:.2f} s"  # uvicorn alone polls 0.1 s steps
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url_for("/"), trust_env=False, timeout=2)
    server.stop()  # idempotent
    with server:  # and it starts again
        assert httpx.get(server.url_for("/"), trust_env=False).text == "hello"


def test_a_taken_port_raises_oserror_before_serving() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            Hello(port=taken.getsockname()[1]).start()


def test_a_failed_startup_is_raised_by_start() -> None:
    with pytest.raises(RuntimeError, match="broken server did not start"):
        BrokenStartup().start(timeout=10)


def test_handler_errors_are_raised_at_the_end_never_swallowed() -> None:
    server = Hello()
    server.check_handler_errors()  # none: nothing raised
    server.handler_errors.append(KeyError("bug"))
    with pytest.raises(HandlerError, match=r"1 error\(s\) in the hello server") as raised:
        server.check_handler_errors()
    assert raised.value.errors == tuple(server.handler_errors)
    server.clear_handler_errors()
    server.check_handler_errors()


def test_stop_ends_as_an_idle_keep_alive_connection_closes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The drain wakes when the connection leaves uvicorn's set, not on a period: with the
    period made longer than the graceful deadline (2 s), the server thread still ends
    within stop()'s 1 s join."""
    monkeypatch.setattr(PromptServer, "FORCE_EXIT_CHECK_S", 3600.0)
    server = Hello().start()
    thread = _server_thread(server)
    with httpx.Client(trust_env=False) as client:  # keeps its connection open
        assert client.get(server.url_for("/")).text == "hello"
        server.stop(timeout=1.0)
        assert not thread.is_alive()


def test_stop_lets_a_request_in_flight_finish() -> None:
    server = Held().start()
    answers: list[httpx.Response] = []
    request = threading.Thread(target=lambda: answers.append(
        httpx.get(server.url_for("/"), trust_env=False, timeout=10)))
    request.start()
    assert server.entered.wait(10)
    thread = _server_thread(server)
    stopping = threading.Thread(target=server.stop)
    stopping.start()
    server.release.set()
    request.join(10)
    stopping.join(10)
    assert [(a.status_code, a.text) for a in answers] == [(200, "done")]
    assert not thread.is_alive()


def test_serving_tries_no_websocket_library_nor_uvloop() -> None:
    """Neither server speaks WebSocket or needs uvloop: uvicorn's "auto" choices would try
    importing websockets, wsproto and uvloop on the server thread while start() waits."""
    code = ("import sys; from starlette.applications import Starlette; "
            "from redcloud_check.core.http_server import HTTPServerBase\n"
            "class S(HTTPServerBase):\n"
            "    def application(self): return Starlette()\n"
            "with S(): pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('uvicorn.protocols.websockets', "
            "'uvicorn.loops.auto', 'websockets', 'wsproto', 'uvloop'))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
