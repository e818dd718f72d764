"""A reverse proxy on 127.0.0.1:0 in front of a target (a simulator the test started),
recording the headers of every request as it arrived: what the client really sent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

import requests

from .bad_targets import serve

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length",
                         "content-encoding", "host"})


class _Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    target: str
    received: list[dict[str, str]]
    lock: threading.Lock

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = dict(self.headers.items())
        with self.lock:
            self.received.append(headers)
        answer = requests.request(
            self.command, self.target + self.path, data=body, timeout=10,
            headers={k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP},
            allow_redirects=False)
        self.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward


@contextmanager
def recording_proxy(target: str) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """(the proxy's base URL, the headers of each request it received, in order)."""
    received: list[dict[str, str]] = []
    handler = type("Proxy", (_Proxy,), {"target": target.rstrip("/"), "received": received,
                                        "lock": threading.Lock()})
    with serve(handler) as url:
        yield url, received


def header(headers: dict[str, str], name: str) -> str | None:
    """A header of a received request, looked up case-insensitively."""
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)
