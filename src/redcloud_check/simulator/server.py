"""``Simulator``: the simulator on a uvicorn server in a daemon thread (port 0 by default).

    with Simulator(faults=["send-status-sent"]) as sim:
        requests.post(f"{sim.base_url}/api/auth/token", ...)
        sim.wait_deliveries_idle(5)
        sim.deliveries  # every webhook attempt

Readiness is event-driven: the server sets a threading.Event once its socket is bound.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from redcloud_check.core.http_server import PromptServer
from redcloud_check.core.urls import http_url
from redcloud_check.simulator.app import build_app
from redcloud_check.simulator.runtime import Runtime
from redcloud_check.simulator.seed import load_seed
from redcloud_check.simulator.state import DeliveryAttempt, RequestRecord, SimConfig, SimState
from redcloud_check.simulator.webhooks import Deliverer


class _Server(PromptServer):
    """A uvicorn server that reports when it is listening (or has given up)."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event,
                 on_ready: Callable[[int], None] | None = None) -> None:
        super().__init__(config)
        self.ready = ready
        self.on_ready = on_ready

    async def startup(self, sockets: Any = None) -> None:
        try:
            await super().startup(sockets=sockets)
            if self.started and self.on_ready is not None:
                self.on_ready(self.bound_port())
        finally:
            self.ready.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Ctrl-C / SIGTERM stop the server gracefully and the process exits normally
        (uvicorn would re-raise the signal after shutdown). Main thread only."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    def bound_port(self) -> int:
        for server in getattr(self, "servers", []):
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        raise RuntimeError("the simulator server has no listening socket")


def build_server(rt: Runtime, host: str, port: int, ready: threading.Event,
                 on_ready: Callable[[int], None] | None = None) -> _Server:
    """A uvicorn server for `rt`; `on_ready(port)` runs once it listens."""
    config = uvicorn.Config(build_app(rt), host=host, port=port, log_level="warning",
                            access_log=False, lifespan="on", ws="none", loop="asyncio",
                            timeout_graceful_shutdown=2)
    return _Server(config, ready, on_ready)


class Simulator:
    """The Red Cloud CORE API simulator, in-process.

    Keyword arguments: host/port (127.0.0.1, 0 = any free port); faults (names from
    ``faults.FAULTS``); token_ttl (s); latency_ms (added to every response); seed (path,
    dict or None for the shipped seed.json); allow_webhook_hosts (non-loopback hosts that
    may receive webhooks); lifecycle_delay_ms (between a message's events);
    delivery_attempts, delivery_backoff_s, delivery_timeout_s (webhook retries); clock
    (seconds, for token expiry; e.g. ``state.Clock``).
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, faults: Iterable[str] = (),
                 token_ttl: int = 3600, latency_ms: int = 0,
                 seed: str | Path | dict[str, Any] | None = None,
                 allow_webhook_hosts: Iterable[str] = (), lifecycle_delay_ms: int = 20,
                 delivery_attempts: int = 5, delivery_backoff_s: float = 0.1,
                 delivery_timeout_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.host = host
        self.config = SimConfig(
            token_ttl=token_ttl, latency_ms=latency_ms, lifecycle_delay_ms=lifecycle_delay_ms,
            delivery_attempts=delivery_attempts, delivery_backoff_s=delivery_backoff_s,
            delivery_timeout_s=delivery_timeout_s,
            allow_webhook_hosts=frozenset(h.lower() for h in allow_webhook_hosts), clock=clock)
        self.state = SimState(load_seed(seed), faults)
        self.runtime = Runtime(self.state, self.config, Deliverer(self.state, self.config))
        self._requested_port = port
        self._ready = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # lifecycle

    def start(self) -> Simulator:
        """Bind, serve in a daemon thread and return once listening."""
        if self._thread is not None:
            return self
        self._ready.clear()
        server = build_server(self.runtime, self.host, self._requested_port, self._ready)
        thread = threading.Thread(target=self._serve, args=(server,),
                                  name="redcloud-simulator", daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        self._ready.wait()
        if not server.started:
            thread.join(5)
            self._server = self._thread = None
            raise RuntimeError(f"the simulator could not listen on {self.host}:"
                               f"{self._requested_port}")
        self.port = server.bound_port()
        return self

    def _serve(self, server: _Server) -> None:
        try:
            # The webhook client's stack, loaded before the API serves: imported on the first
            # delivery instead, it held the GIL mid-run and stalled the next API answers.
            import httpx  # noqa: F401

            server.run()
        except SystemExit:  # uvicorn exits when it cannot bind; start() reports it
            pass
        finally:
            self._ready.set()  # never leave start() waiting (e.g. the port is taken)

    def stop(self) -> None:
        """Stop serving; pending webhook deliveries are cancelled."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.request_exit()
        thread.join(10)
        self._server = self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # inspection

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("the simulator is not running")
        return http_url(self.host, self.port)

    @property
    def faults(self) -> frozenset[str]:
        return self.state.faults

    def reset(self, faults: Iterable[str] = ()) -> None:
        """Back to the seed (numbers, tokens, messages, logs cleared) with only `faults`."""
        self.state.reset(faults)

    def set_faults(self, names: Iterable[str]) -> None:
        """Replace the active faults (ValueError for an unknown name)."""
        self.state.set_faults(names)

    @property
    def issued_tokens(self) -> list[str]:
        with self.state.lock:
            return list(self.state.issued_tokens)

    @property
    def deliveries(self) -> list[DeliveryAttempt]:
        with self.state.lock:
            return list(self.state.deliveries)

    @property
    def requests(self) -> list[RequestRecord]:
        with self.state.lock:
            return list(self.state.requests)

    def wait_deliveries_idle(self, timeout: float | None = 10.0) -> bool:
        """Block until no webhook lifecycle is pending; False if `timeout` ran out."""
        return self.state.wait_idle(timeout)
