"""``python -m redcloud_check.simulator.child SPEC``: the embedded simulator's own process.

Started by ``process.SimulatorProcess.spawn`` (the parent side, and the protocol). It serves
``Simulator(**SimSpec.kwargs())`` on 127.0.0.1, port 0, says so on its private pipe (fd 1 at
start; its own stdout then goes to stderr, so nothing else can reach the pipe), and serves
until its stdin closes (the run is over, or the parent died), or SIGINT / SIGTERM arrives;
then it stops, reports what code of ours raised while serving, and exits. It never prints
a traceback on a signal, nor anything of the pipe's (the webhook secrets) to stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from redcloud_check.core import startup_gc
from redcloud_check.simulator.process import SimSpec


def describe(error: BaseException) -> dict[str, str]:
    """An error as the parent rebuilds it (process.child_error)."""
    return {"type": type(error).__name__, "message": str(error),
            "traceback": "".join(traceback.format_exception(error))}


def _sender(fd: int) -> Callable[[dict[str, Any]], None]:
    """Write one event a line on the pipe `fd`, unbuffered: nothing is left to flush, or
    to fail, at exit."""
    def send(event: dict[str, Any]) -> None:
        data = memoryview((json.dumps(event) + "\n").encode())
        with contextlib.suppress(BrokenPipeError):  # the parent is gone: nobody to tell
            while data:
                data = data[os.write(fd, data):]
    return send


def _import_httpx_without_its_cli() -> None:
    """httpx imports its command-line tool (click, pygments, rich: ~30 ms) unless that
    import fails, which it allows for; this process never runs it. Should an httpx ever
    require it, it is imported as usual."""
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # "not importable"
    try:
        import httpx
    except ImportError:
        del sys.modules["httpx._main"]
        import httpx  # noqa: F401


class Stopping:
    """When to stop, and why: stdin closed (the run is over, or died) or a signal."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reasons: list[str] = []
        self.serving = False  # before this, a closed stdin ends the process at once

    def because(self, reason: str) -> None:
        self.reasons.append(reason)
        self.event.set()

    def watch_stdin(self) -> None:
        """Block on stdin until it closes (a daemon thread, started first thing)."""
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass  # a broken stdin is a closed one
        if not self.serving:  # nobody was answered and nothing is left to report
            os._exit(0)
        self.because("stdin closed")


def serve(spec: SimSpec, send: Callable[[dict[str, Any]], None], stopping: Stopping,
          factory: Callable[..., Any] | None = None) -> int:
    """Serve `spec` until `stopping` says so; `factory` builds the simulator (the Simulator
    class by default; tests pass a subclass)."""
    try:
        if factory is None:
            from redcloud_check.simulator.server import Simulator

            factory = Simulator
        simulator = factory(**spec.kwargs()).start()
    except Exception as error:
        send({"event": "failed", "type": type(error).__name__, "message": str(error)})
        return 1
    startup_gc.resume()  # what start-up built lives as long as the process
    with simulator.state.lock:
        client_ids = list(simulator.state.clients)
    stopping.serving = True
    send({"event": "ready", "base_url": simulator.base_url,
          "webhook_secrets": {cid: simulator.webhook_secret(cid) for cid in client_ids}})
    stopping.event.wait()
    simulator.stop()
    send({"event": "stopped", "reason": stopping.reasons[0],
          "errors": [describe(e) for e in simulator.handler_errors]})
    return 0


def main(argv: list[str], factory: Callable[..., Any] | None = None) -> int:
    stopping = Stopping()
    for sig in (signal.SIGINT, signal.SIGTERM):  # a quiet stop, never a traceback
        signal.signal(sig, lambda signum, _frame: stopping.because(signal.Signals(signum).name))
    threading.Thread(target=stopping.watch_stdin, daemon=True, name="stdin").start()
    channel = os.dup(1)
    os.dup2(2, 1)
    with startup_gc.paused():  # start-up (imports, the seed) makes no garbage
        _import_httpx_without_its_cli()
        return serve(SimSpec.from_json(argv[0]), _sender(channel), stopping, factory)


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stderr.flush()
    os._exit(code)  # nothing left to finalize: the run waits for this exit
