"""Outbound lifecycle webhook delivery: ordered per message, retried, SSRF-guarded, logged.

Each accepted message runs as one asyncio task on the server's loop: its events go out one
after the other (``lifecycle_delay_ms`` apart), so a message's events arrive in order. A
non-2xx answer, a timeout or a connection error is retried with exponential backoff
(``delivery_backoff_s * 2**(attempt - 1)``: 0.1 s, 0.2 s, 0.4 s ... by default) up to
``delivery_attempts`` times (5 by default): at-least-once. A retry carries the same body
bytes, signed afresh (a new X-RedCloud-Timestamp); the message's later events wait for it.
Every attempt is recorded as a ``DeliveryAttempt``. Two conformant variants change the
policy: ``no-delivery-retry`` tries each event once, ``slow-delivery-retry`` waits
``SLOW_RETRY_S * 2**(attempt - 1)`` (seconds) between attempts.

SSRF guard: events go only to loopback hosts (127.0.0.0/8, ::1, localhost) or hosts named
in ``allow_webhook_hosts``. Anything else is recorded as refused (``attempt`` 0, with the
reason) and never sent. Redirects are not followed. A refused message's events are all
recorded when it is accepted, with one log line: no task waits to refuse them one by one
(the seed's https://example.com URLs would otherwise keep a task per message under load).

Errors are told apart by type: what the receiver does (an HTTP answer, a timeout, a refused
or broken connection: httpx's errors) is a recorded attempt; anything else that ends a
lifecycle is a bug of ours, collected in `handler_errors` (the simulator's own, raised by
its `check_handler_errors()` at the end of the run: exit 7, never "the events did not
arrive" blamed on the API).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from redcloud_check.core.urls import is_loopback_host, without_userinfo
from redcloud_check.simulator.lifecycle import (
    Step,
    event_body,
    lifecycle,
    signed_headers,
    signing_key,
)
from redcloud_check.simulator.state import DeliveryAttempt, Message, SimConfig, SimState
from redcloud_check.simulator.variants import SLOW_EVENT_GAP_MS, SLOW_RETRY_S

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("redcloud_check.simulator")


@functools.lru_cache(maxsize=256)  # a simulator sees few distinct webhook URLs
def refusal(url: str | None, allowed: frozenset[str]) -> str | None:
    """Why the SSRF guard refuses to deliver to `url`, or None when it may."""
    if not url:
        return "no delivery webhook URL is configured"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return "the webhook URL is malformed"
    if parts.scheme not in ("http", "https") or not host:
        return "the webhook URL is not an absolute http(s) URL"
    if host in allowed or is_loopback_host(host):
        return None
    return f"host {host} is not loopback and not in allow_webhook_hosts"


class Deliverer:
    """Runs the lifecycle of every accepted message on the server's event loop."""

    def __init__(self, state: SimState, config: SimConfig,
                 handler_errors: list[BaseException] | None = None) -> None:
        self.state = state
        self.config = config
        # where a lifecycle's bug goes: the simulator's own list (core.errors)
        self.handler_errors = [] if handler_errors is None else handler_errors
        self._clients: dict[bool, httpx.AsyncClient] = {}  # keyed by "is https"
        self._tasks: set[asyncio.Task[None]] = set()

    @staticmethod
    def load_stack() -> None:
        """Import what the first delivery needs; call before the server serves.

        httpx imports httpcore (and h11) only when its first client is built, and anyio loads
        its asyncio backend and socket streams only on the first connection. Left to the
        first delivery, that is 30-50 ms of imports on the event loop that also answers the
        API: the request that arrives meanwhile waits for them.
        """
        import anyio.streams.tls  # noqa: F401  (the streams httpcore's backend wraps)
        import httpcore  # noqa: F401
        import httpx  # noqa: F401
        from anyio import connect_tcp  # noqa: F401  (anyio's socket layer, loaded lazily)

        importlib.import_module("anyio._backends._asyncio")  # as anyio loads it on first use

    def schedule(self, message: Message) -> None:
        """Start the message's lifecycle; call from the server's event loop."""
        refused = refusal(message.webhook_url, self.config.allow_webhook_hosts)
        if refused is not None:
            self._refuse(message, refused)
            return
        self.state.delivery_started()
        task = asyncio.get_running_loop().create_task(self._run(message))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        """A lifecycle ended: what ended it, unless it ran to its end or was cancelled at
        shutdown, is a bug of ours (what the receiver did is recorded in `_post`)."""
        self._tasks.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is not None:
            self.handler_errors.append(error)
            log.error("webhook lifecycle ended by an error of ours: %s",
                      type(error).__name__)

    async def _run(self, message: Message) -> None:
        try:
            variants = self.state.variants
            steps = lifecycle(message.to, self.state.faults, variants)
            gap_ms = (SLOW_EVENT_GAP_MS if "slow-responses" in variants
                      else self.config.lifecycle_delay_ms)
            for index, step in enumerate(steps):
                if index:
                    await asyncio.sleep(gap_ms / 1000)
                await self._deliver(message, step,
                                    copies=2 if "redeliver-every-event" in variants else 1)
        finally:
            self.state.delivery_finished()

    def _refuse(self, message: Message, refused: str) -> None:
        """Record every event of the message as refused by the SSRF guard (never sent)."""
        url = message.webhook_url or ""
        steps = lifecycle(message.to, self.state.faults, self.state.variants)
        for step in steps:
            self.state.log_delivery(DeliveryAttempt(url, step.event_type, message.message_id,
                                                    step.sequence, 0, refused=refused))
        if steps:
            log.info("webhook %s: %d event(s) -> %s refused: %s", message.message_id,
                     len(steps), without_userinfo(url) if url else "(none)", refused)

    def _record(self, message: Message, step: Step, attempt: int, *,
                status: int | None = None, error: str | None = None,
                refused: str | None = None) -> None:
        url = message.webhook_url or ""
        self.state.log_delivery(DeliveryAttempt(url, step.event_type, message.message_id,
                                                step.sequence, attempt, status, error, refused))
        outcome = (refused and f"refused: {refused}") or error or f"HTTP {status}"
        log.info("webhook %s %s seq %d -> %s attempt %d: %s", step.event_type,
                 message.message_id, step.sequence, without_userinfo(url) if url else "(none)",
                 attempt, outcome)

    async def _http(self, url: str) -> httpx.AsyncClient:
        """The delivery client for `url`, built on first use.

        Plain-http targets (loopback listeners, the usual case) get a client without TLS,
        which is cheap to build. The verifying client loads the CA bundle (~35 ms), so it
        is built in a worker thread: that must not stall the API's event loop.
        """
        tls = url.lower().startswith("https:")
        if tls not in self._clients:
            client = (await asyncio.to_thread(self._new_client, True) if tls
                      else self._new_client(False))
            if tls in self._clients:  # another first delivery won the race
                await client.aclose()
            else:
                self._clients[tls] = client
        return self._clients[tls]

    def _new_client(self, tls: bool) -> httpx.AsyncClient:
        import httpx  # imported on first delivery: keeps simulator startup fast

        return httpx.AsyncClient(timeout=self.config.delivery_timeout_s, verify=tls,
                                 follow_redirects=False, trust_env=False)

    async def _deliver(self, message: Message, step: Step, copies: int = 1) -> None:
        """Deliver one event (retried until a 2xx); `copies` > 1 delivers the same body again,
        freshly signed, after each success: an at-least-once redelivery."""
        if message.webhook_url is None:  # refusal() refuses it: schedule() never gets here
            return
        http = await self._http(message.webhook_url)
        faults, variants = self.state.faults, self.state.variants
        with self.state.lock:
            client = self.state.clients.get(message.client_id)
        secret = signing_key(client, faults) if client is not None else ""
        body = event_body(message, step, faults, variants)
        for _ in range(copies):
            await self._post(message, step, http, body,
                             lambda: signed_headers(secret, body, faults, variants))

    async def _post(self, message: Message, step: Step, http: httpx.AsyncClient, body: bytes,
                    headers: Callable[[], dict[str, str]]) -> None:
        """POST `body` until a 2xx answer or `delivery_attempts` tries, each recorded."""
        import httpx  # already loaded by _http(): cheap

        assert message.webhook_url is not None
        variants = self.state.variants
        attempts = 1 if "no-delivery-retry" in variants else max(1, self.config.delivery_attempts)
        backoff = (SLOW_RETRY_S if "slow-delivery-retry" in variants
                   else self.config.delivery_backoff_s)
        for attempt in range(1, attempts + 1):
            try:
                response = await http.post(message.webhook_url, content=body,
                                           headers=headers())
            except httpx.TimeoutException:
                self._record(message, step, attempt, error="timeout")
            except httpx.HTTPError as error:
                self._record(message, step, attempt,
                             error=f"connection error ({type(error).__name__})")
            else:
                self._record(message, step, attempt, status=response.status_code)
                if 200 <= response.status_code < 300:
                    return
            if attempt < attempts:
                await asyncio.sleep(backoff * 2 ** (attempt - 1))

    async def aclose(self) -> None:
        """Cancel pending lifecycles and close the HTTP client (server shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
