#!/usr/bin/env python3
"""A fake ngrok v3 agent for tests: speaks what pyngrok 9 reads, serves on loopback only.

    ngrok start --none --log stdout --config PATH [--authtoken TOKEN] [--region R]
        prints the startup log lines pyngrok waits for ("starting web service" with the API
        addr, "client session established", "tunnel session started") and serves the agent
        API on 127.0.0.1:0:
            GET  /api/endpoints | /api/tunnels               list
            POST /api/endpoints | /api/tunnels               create (v3 upstream.url or v2 addr)
            GET / DELETE /api/endpoints/{name} | /api/tunnels/{name}
        Each tunnel's public_url is http://127.0.0.1:PORT, served by this process, which
        FORWARDS every request (method, path, headers, raw body) to the tunnel's upstream and
        relays the answer, so events truly travel through it.
        An authtoken of "invalid" fails like ngrok's ERR_NGROK_105; no authtoken at all (flag,
        NGROK_AUTHTOKEN, config) fails like ERR_NGROK_4018.
    ngrok version | --version            "ngrok version 3.99.0-fake"
    ngrok config add-authtoken TOKEN     "Authtoken saved to configuration file: ..."

With FAKE_NGROK_RECORD set, every invocation appends one JSON line to that file: its argv, and
its --config file's path and permission bits as found at start (or null).

Standard library only, so any Python 3 runs it. The token is never printed.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
              "te", "trailer", "host"}
_print_lock = threading.Lock()


def log(lvl: str, msg: str, **fields: str) -> None:
    extra = "".join(f" {k}={v}" for k, v in fields.items())
    with _print_lock:
        print(f't={time.strftime("%Y-%m-%dT%H:%M:%S%z")} lvl={lvl} msg="{msg}"{extra}',
              flush=True)


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) \
        else None


class Forwarder(BaseHTTPRequestHandler):
    """The tunnel's public side: forward the raw request upstream, relay the answer."""

    upstream = ""  # set per server class
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        target = urlsplit(self.upstream)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["X-Forwarded-Proto"] = "https"
        headers["X-Forwarded-For"] = self.client_address[0]
        try:
            conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port or 80,
                                              timeout=10)
            conn.request(self.command, self.path, body=body, headers=headers)
            answer = conn.getresponse()
            payload = answer.read()
            status, answer_headers = answer.status, answer.getheaders()
            conn.close()
        except OSError as error:
            payload = f"ngrok fake: upstream {self.upstream} failed: {error}".encode()
            status, answer_headers = 502, [("Content-Type", "text/plain")]
        log("info", "join connections", obj="join", l=self.upstream, r=self.client_address[0])
        self.send_response(status)
        for name, value in answer_headers:
            if name.lower() not in HOP_BY_HOP and name.lower() not in ("content-length", "date",
                                                                       "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Agent:
    def __init__(self) -> None:
        self.tunnels: dict[str, tuple[dict[str, Any], ThreadingHTTPServer]] = {}
        self.lock = threading.Lock()

    def create(self, options: dict[str, Any], kind: str) -> dict[str, Any]:
        upstream = (options.get("upstream") or {}).get("url") or str(options.get("addr", "80"))
        if "://" not in upstream:
            upstream = f"http://localhost:{upstream}"
        handler = type("BoundForwarder", (Forwarder,), {"upstream": upstream})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        name = str(options.get("name") or f"tunnel-{uuid.uuid4()}")
        public = f"http://127.0.0.1:{server.server_address[1]}"
        data = {"name": name, "ID": uuid.uuid4().hex, "uri": f"/api/{kind}/{name}",
                "public_url": public, "url": public, "proto": "http",
                "config": {"addr": upstream, "inspect": False}, "upstream": {"url": upstream},
                "metrics": {}}
        with self.lock:
            self.tunnels[name] = (data, server)
        log("info", "started tunnel", obj="tunnels", name=name, addr=upstream, url=public)
        return data

    def delete(self, name: str) -> bool:
        with self.lock:
            entry = self.tunnels.pop(name, None)
        if entry is None:
            return False
        entry[1].shutdown()
        entry[1].server_close()
        return True


def api_handler(agent: Agent) -> type[BaseHTTPRequestHandler]:
    route = re.compile(r"^/api/(endpoints|tunnels)(?:/([^/?]+))?/?$")

    class Api(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, body: dict[str, Any] | None = None) -> None:
            raw = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _match(self) -> tuple[str, str | None] | None:
            found = route.match(urlsplit(self.path).path)
            return (found.group(1), found.group(2)) if found else None

        def do_GET(self) -> None:
            matched = self._match()
            if matched is None:
                return self._send(404, {"error_code": 404, "msg": "not found"})
            kind, name = matched
            with agent.lock:
                items = {n: d for n, (d, _) in agent.tunnels.items()}
            if name is None:
                return self._send(200, {kind: list(items.values()), "uri": f"/api/{kind}"})
            if name not in items:
                return self._send(404, {"error_code": 100, "msg": "tunnel not found"})
            return self._send(200, items[name])

        def do_POST(self) -> None:
            matched = self._match()
            if matched is None or matched[1] is not None:
                return self._send(404, {"error_code": 404, "msg": "not found"})
            length = int(self.headers.get("Content-Length") or 0)
            try:
                options = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return self._send(400, {"error_code": 102, "msg": "invalid JSON"})
            return self._send(201, agent.create(options, matched[0]))

        def do_DELETE(self) -> None:
            matched = self._match()
            if matched is None or matched[1] is None:
                return self._send(404, {"error_code": 404, "msg": "not found"})
            if not agent.delete(matched[1]):
                return self._send(404, {"error_code": 100, "msg": "tunnel not found"})
            return self._send(204)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Api


def has_authtoken(args: list[str]) -> str | None:
    token = option(args, "--authtoken") or os.environ.get("NGROK_AUTHTOKEN")
    config = option(args, "--config")
    if not token and config and os.path.exists(config):
        with open(config, encoding="utf-8") as handle:
            found = re.search(r"authtoken:\s*(\S+)", handle.read())
        token = found.group(1).strip("'\"") if found else None
    return token


def record(args: list[str]) -> None:
    """Append what this invocation was given to $FAKE_NGROK_RECORD, when set."""
    path = os.environ.get("FAKE_NGROK_RECORD")
    if not path:
        return
    config = option(args, "--config")
    mode = os.stat(config).st_mode & 0o777 if config and os.path.exists(config) else None
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"argv": args, "config": config, "config_mode": mode}) + "\n")


def start(args: list[str]) -> int:
    token = has_authtoken(args)
    if not token:
        log("eror", "failed to reconnect session", obj="tunnels.session",
            err='"authentication failed: Usage of ngrok requires a verified account and '
                'authtoken. ERR_NGROK_4018"')
        return 1
    if token == "invalid":
        log("eror", "failed to reconnect session", obj="tunnels.session",
            err='"authentication failed: The authtoken you specified is not valid. '
                'ERR_NGROK_105"')
        return 1
    agent = Agent()
    api = ThreadingHTTPServer(("127.0.0.1", 0), api_handler(agent))
    api.daemon_threads = True
    threading.Thread(target=api.serve_forever, daemon=True).start()
    log("info", "no configuration paths supplied", obj="config")
    log("info", "starting web service", obj="web", addr=f"127.0.0.1:{api.server_address[1]}",
        allow_hosts="[]")
    log("info", "client session established", obj="tunnels.session")
    log("info", "tunnel session started", obj="tunnels.session")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for name in list(agent.tunnels):
        agent.delete(name)
    api.shutdown()
    return 0


def main(args: list[str]) -> int:
    record(args)
    command = next((a for a in args if not a.startswith("-")), None)
    if command in ("version",) or "--version" in args or "-v" in args:
        print("ngrok version 3.99.0-fake", flush=True)
        return 0
    if command == "config" and "add-authtoken" in args:
        print(f"Authtoken saved to configuration file: {option(args, '--config') or 'ngrok.yml'}",
              flush=True)
        return 0
    if command == "start":
        return start(args)
    print(f"ngrok fake: unsupported command {args!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
