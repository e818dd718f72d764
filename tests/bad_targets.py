"""Misbehaving HTTP targets on loopback port 0, for the suite's robustness tests.

Each mode answers every request the same broken way. These are test doubles, so the
standard library's http.server is enough here.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("html-502", "not-json-200", "truncated", "redirect", "hang")


class _Handler(BaseHTTPRequestHandler):
    mode = "html-502"
    release: threading.Event

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.mode == "hang":
            self.release.wait(30)
            return
        if self.mode == "redirect":
            self.send_response(307)
            self.send_header("Location", "http://127.0.0.1:9/moved" + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.mode == "truncated":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "400")
            self.end_headers()
            self.wfile.write(b'{"access_token": "tok_partial", "tok')
            self.wfile.flush()
            self.close_connection = True
            return
        status, ctype, body = {
            "html-502": (502, "text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
            "not-json-200": (200, "text/plain", b"OK"),
        }[self.mode]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = _answer


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on 127.0.0.1:0 in a thread; yields the base URL, stops on exit (at
    once: the serving loop looks for a stop every 20 ms, not socketserver's 0.5 s)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def bad_target(mode: str) -> Iterator[str]:
    """A server on 127.0.0.1:0 that misbehaves in `mode`; yields its base URL."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
    release = threading.Event()
    handler = type("Handler", (_Handler,), {"mode": mode, "release": release})
    with serve(handler) as url:
        try:
            yield url
        finally:
            release.set()


def closed_port_url() -> str:
    """A loopback URL on which nothing listens (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


NO_DNS_SITECUSTOMIZE = '''
import socket

_real = socket.getaddrinfo


def _no_dns(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith(".invalid"):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return _real(host, *args, **kwargs)


socket.getaddrinfo = _no_dns
'''


@contextmanager
def full_backlog() -> Iterator[str]:
    """A loopback listener that never accepts, its queue already full: a new connection's
    SYN is dropped, so connecting times out (a connect timeout without leaving the host)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    address = server.getsockname()
    fillers: list[socket.socket] = []
    try:
        while len(fillers) < 16:  # fill the accept queue until a connect no longer completes
            filler = socket.socket()
            filler.settimeout(0.2)
            fillers.append(filler)
            try:
                filler.connect(address)
            except (TimeoutError, OSError):
                break
        yield f"http://{address[0]}:{address[1]}"
    finally:
        for filler in fillers:
            filler.close()
        server.close()
