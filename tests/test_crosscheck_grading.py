"""Where the docs are silent, a disagreement between answers is a warning, never a failure.

The target here is the simulator behind a middleware that deviates only where the docs say
nothing: it refuses the scheme spelled "bearer", whoami counts one number more than the list
holds, a search for an NPA-NXX finds none of the numbers a broader search returned, and every
response carries one shared request-id header (each CORE error body keeps its own requestId).
A whole run against it passes, and says what it saw. Real HTTP on 127.0.0.1, port 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.datastructures import MutableHeaders

from redcloud_check.simulator import Simulator
from redcloud_check.simulator.held_response import HeldResponse, send_whole

from .suite_runner import run_suite

CANONICAL = {"RC_CLIENT_ID": "rc_test_client_123", "RC_CLIENT_SECRET": "rc_secret_abc123",
             "RC_NUMBER_ID": "num_abc123"}
SHARED_HEADER_ID = "req_shared_by_every_response"
WARNINGS = ("The token is refused under the scheme spelled 'bearer'",
            "whoami counts more numbers than the numbers list holds",
            "A number the search returned is missing from a narrower search",
            "Two responses carry the same request-id header")


async def _body(receive: Any) -> bytes:
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


class _SilentDeviations(HeldResponse):
    """ASGI middleware: the deviations above, Content-Length kept right."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        auth = dict(scope["headers"]).get(b"authorization", b"")
        if auth.startswith(b"bearer "):
            start = {"type": "http.response.start", "status": 401,
                     "headers": [(b"content-type", b"application/json")]}
            body = {"error": {"code": "UNAUTHORIZED", "details": {},
                              "message": "use the scheme Bearer"},
                    "requestId": "req_lowercase_refused"}
            await self.respond(False, scope, start, json.dumps(body).encode(), send)
            return
        raw = await _body(receive)
        narrow = scope["path"] == "/api/core/numbers/search" and b'"nxx"' in raw
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        await self.relay(narrow, scope, replay, send)

    async def respond(self, narrow: bool, scope: Any, start: Any, body: bytes,
                      send: Any) -> None:
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("assignedNumbers"), dict):
            doc["assignedNumbers"]["total"] += 1
        if narrow and isinstance(doc, dict):
            doc.update(groups=[], providerResultCount=0)
        if doc is not None:
            body = json.dumps(doc).encode()
        MutableHeaders(scope=start)["x-request-id"] = SHARED_HEADER_ID
        await send_whole(send, start, body)


class _SilentDeviationsSimulator(Simulator):
    def application(self) -> Any:
        return _SilentDeviations(super().application())


@pytest.fixture
def target() -> Iterator[Simulator]:
    with _SilentDeviationsSimulator() as simulator:
        yield simulator


@pytest.mark.slow
def test_silent_deviations_warn_and_never_fail(tmp_path: Path, target: Simulator) -> None:
    run = run_suite(tmp_path, RC_BASE_URL=target.base_url, **CANONICAL)
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.failed == []
    titles = [w["title"] for w in json.loads((tmp_path / "escalation.json").read_text())[
        "summary"]["warnings"]]
    for title in WARNINGS:
        assert title in titles, f"{title!r} not among the warnings {titles}"
        assert title in run.stdout
