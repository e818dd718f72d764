"""``Simulator``: the simulator on a uvicorn server in a daemon thread (port 0 by default).

    with Simulator(faults=["send-status-sent"]) as sim:
        requests.post(f"{sim.base_url}/api/auth/token", ...)
        sim.wait_deliveries_idle(5)
        sim.deliveries  # every webhook attempt

Serving is `core.http_server.HTTPServerBase`'s: bound before it serves, ready when
`start()` returns (event-driven), stopped at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

from starlette.types import ASGIApp

from redcloud_check.core.http_server import HTTPServerBase
from redcloud_check.simulator.app import build_app
from redcloud_check.simulator.retention import DAY_S, MAX_ENTRIES, Retention
from redcloud_check.simulator.runtime import Runtime
from redcloud_check.simulator.seed import load_seed
from redcloud_check.simulator.state import DeliveryAttempt, RequestRecord, SimConfig, SimState
from redcloud_check.simulator.webhooks import Deliverer

T = TypeVar("T")


class _Log(Generic[T]):
    """A read-only attribute of the simulator: a copy of the state's log of the same name,
    taken under the state's lock (the server thread appends to it meanwhile)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, sim: None, owner: type) -> _Log[T]: ...
    @overload
    def __get__(self, sim: Simulator, owner: type) -> list[T]: ...

    def __get__(self, sim: Simulator | None, owner: type) -> _Log[T] | list[T]:
        if sim is None:
            return self
        with sim.state.lock:
            return list(getattr(sim.state, self.name))


# A run's embedded simulator paces a message's events 2 ms apart (20 by default): in order,
# without 40 ms of pacing per message.
EMBEDDED_LIFECYCLE_DELAY_MS = 2


class Simulator(HTTPServerBase):
    """The Red Cloud CORE API simulator, in-process.

    Keyword arguments: host/port (127.0.0.1, 0 = any free port); faults (names from
    ``catalog.FAULTS``); variants (conformant variations, names from ``catalog.VARIANTS``);
    token_ttl (s); latency_ms (added to every response); seed (path,
    dict or None for the shipped seed.json); allow_webhook_hosts (non-loopback hosts that
    may receive webhooks); lifecycle_delay_ms (between a message's events);
    delivery_attempts, delivery_backoff_s, delivery_timeout_s (webhook retries); clock
    (seconds, for token expiry and retention; e.g. ``state.Clock``).

    Retention (``retention.Retention``), so that it runs for hours under load: at most
    max_messages messages (default 10,000), each kept message_ttl_s (default 86,400 s);
    at most max_idempotency_keys idempotency records (default 10,000), each replayable
    for idempotency_ttl_s (default 86,400 s; after that the key is new again, as real
    APIs expire keys); the newest max_log_entries (default 10,000) of ``requests`` and of
    ``deliveries``. None for a ttl means no age bound.
    """

    name = "simulator"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, faults: Iterable[str] = (),
                 variants: Iterable[str] = (),
                 token_ttl: int = 3600, latency_ms: int = 0,
                 seed: str | Path | dict[str, Any] | None = None,
                 allow_webhook_hosts: Iterable[str] = (), lifecycle_delay_ms: int = 20,
                 delivery_attempts: int = 5, delivery_backoff_s: float = 0.1,
                 delivery_timeout_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic,
                 max_messages: int = MAX_ENTRIES, message_ttl_s: float | None = DAY_S,
                 max_idempotency_keys: int = MAX_ENTRIES,
                 idempotency_ttl_s: float | None = DAY_S,
                 max_log_entries: int = MAX_ENTRIES) -> None:
        super().__init__(host=host, port=port)
        self.config = SimConfig(
            token_ttl=token_ttl, latency_ms=latency_ms, lifecycle_delay_ms=lifecycle_delay_ms,
            delivery_attempts=delivery_attempts, delivery_backoff_s=delivery_backoff_s,
            delivery_timeout_s=delivery_timeout_s,
            allow_webhook_hosts=frozenset(h.lower() for h in allow_webhook_hosts), clock=clock)
        retention = Retention(max_messages=max_messages, message_ttl_s=message_ttl_s,
                              max_idempotency_keys=max_idempotency_keys,
                              idempotency_ttl_s=idempotency_ttl_s,
                              max_log_entries=max_log_entries)
        self.state = SimState(load_seed(seed), faults, retention, clock, variants)
        self.runtime = Runtime(self.state, self.config,
                               Deliverer(self.state, self.config, self.handler_errors),
                               self.handler_errors)

    # serving: stop() (pending webhook deliveries are cancelled), run_until_signal() and the
    # context manager come from HTTPServerBase

    def application(self) -> ASGIApp:
        return build_app(self.runtime)

    def before_serving(self) -> None:
        # The webhook client's stack, loaded before the API serves: imported on the first
        # delivery instead, it held the event loop (and the GIL) mid-run and stalled the
        # next API answers.
        Deliverer.load_stack()

    def start(self, timeout: float = 10.0) -> Simulator:
        """Bind, serve in a daemon thread and return once listening."""
        try:
            return super().start(timeout)
        except OSError as error:
            raise RuntimeError(f"the simulator could not listen on {self.host}:"
                               f"{self._requested_port} ({error.strerror or error})") from error

    # inspection

    @property
    def port(self) -> int:
        """The bound port; 0 before the first start."""
        return self._port or 0

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("the simulator is not running")
        return self.url_for()

    @property
    def faults(self) -> frozenset[str]:
        return self.state.faults

    @property
    def variants(self) -> frozenset[str]:
        return self.state.variants

    def reset(self, faults: Iterable[str] = (), variants: Iterable[str] = ()) -> None:
        """Back to the seed (numbers, tokens, messages, logs cleared) with only `faults` and
        `variants`."""
        self.state.reset(faults, variants)

    def set_faults(self, names: Iterable[str]) -> None:
        """Replace the active faults (ValueError for an unknown name)."""
        self.state.set_faults(names)

    def set_variants(self, names: Iterable[str]) -> None:
        """Replace the active conformant variants (ValueError for an unknown name)."""
        self.state.set_variants(names)

    def webhook_secret(self, client_id: str) -> str | None:
        """The webhook signing secret the client has now (None: no such client)."""
        from redcloud_check.simulator.lifecycle import webhook_secret

        with self.state.lock:
            client = self.state.clients.get(client_id)
        return None if client is None else webhook_secret(client, self.state.faults)

    issued_tokens: _Log[str] = _Log()
    deliveries: _Log[DeliveryAttempt] = _Log()  # every webhook attempt
    requests: _Log[RequestRecord] = _Log()
    # the client_id each refused token request named ("" when none), in order: what an
    # account lockout policy would count
    refused_credentials: _Log[str] = _Log()

    def wait_until(self, predicate: Callable[[Simulator], bool],
                   timeout: float | None = 10.0) -> bool:
        """Block until `predicate(self)` holds, checked again whenever a request or a webhook
        delivery is logged (an event, not a poll); False if `timeout` ran out first."""
        return self.state.wait_logged(lambda: predicate(self), timeout)

    def wait_deliveries_idle(self, timeout: float | None = 10.0) -> bool:
        """Block until no webhook lifecycle is pending; False if `timeout` ran out."""
        return self.state.wait_idle(timeout)


def embedded_simulator(faults: Iterable[str], variants: Iterable[str]) -> Simulator:
    """The simulator a run without RC_BASE_URL checks (RC_SIM_FAULTS, RC_SIM_VARIANTS),
    serving in a thread of the run's process, whatever the machine's load: measured, a
    process of its own saved a run 45-65 ms only while a core stood idle, cost it 90-110
    ms with one core busy, and always cost about 70 ms more CPU (docs/performance.md)."""
    return Simulator(faults=faults, variants=variants,
                     lifecycle_delay_ms=EMBEDDED_LIFECYCLE_DELAY_MS).start()
