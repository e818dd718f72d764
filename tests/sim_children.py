"""Simulator children that misbehave, for tests/test_simulator_process.py.

    python tests/sim_children.py MODE SPEC

MODE: "raising" (serves; each request to /boom adds an error of ours to handler_errors, as
the webhook listener collects a subscriber's), "port=N" (asks for a port that is taken),
"abort" (dies before it listens), "silent" (never answers; exits when its stdin closes),
"broken-delivery" (serves, with the bug of tests/plugins/break_delivery.py planted in its
webhook delivery).
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from redcloud_check.simulator import child
from redcloud_check.simulator.server import Simulator


class RaisingSimulator(Simulator):
    def application(self) -> ASGIApp:
        app = super().application()

        async def boom(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"] == "/boom":
                self.handler_errors.append(ZeroDivisionError("boom in the child"))
            await app(scope, receive, send)
        return boom


def main(mode: str, spec: str) -> int:
    factory: Any = Simulator
    if mode == "raising":
        factory = RaisingSimulator
    elif mode.startswith("port="):
        factory = functools.partial(Simulator, port=int(mode.removeprefix("port=")))
    elif mode == "abort":
        os.abort()
    elif mode == "silent":
        sys.stdin.buffer.read()
        return 0
    elif mode == "broken-delivery":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo: tests.*
        from tests.plugins.break_delivery import plant

        plant()
    return child.main([spec], factory)


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
