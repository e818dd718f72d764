"""The simulator's configuration and its thread-safe in-memory store.

Handlers run on the server's event loop thread while tests read the store from theirs, so
every access goes through ``SimState.lock`` and readers get copies. What accumulates under
load (messages, idempotency records, tokens, the logs) is bounded by ``Retention``.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from redcloud_check.simulator.catalog import validate_faults, validate_variants
from redcloud_check.simulator.retention import DEFAULT, Retained, Retention
from redcloud_check.simulator.seed import Client, InventoryGroup, Number, Seed
from redcloud_check.simulator.variants import extra_numbers


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Tunables of one simulator instance (see ``Simulator`` for their meaning)."""

    token_ttl: int = 3600
    latency_ms: int = 0
    lifecycle_delay_ms: int = 20
    delivery_attempts: int = 5
    delivery_backoff_s: float = 0.1
    delivery_timeout_s: float = 5.0
    allow_webhook_hosts: frozenset[str] = frozenset()
    clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True, slots=True)
class TokenRecord:
    client_id: str
    expires_at: float  # on SimConfig.clock


@dataclass(frozen=True, slots=True)
class StoredSend:
    """An accepted send kept for idempotent replay: its payload fingerprint and bytes."""

    fingerprint: str
    status: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Message:
    """One accepted recipient of a send: what its lifecycle webhooks report."""

    message_id: str
    client_id: str
    number_id: str
    send_from: str  # the number's E.164
    to: str
    external_reference: str
    webhook_url: str | None  # decided at send time


class RequestRecord(NamedTuple):
    """One request the simulator answered (a tuple, so ``("GET", path, 200) in log`` works)."""

    method: str
    path: str
    status: int


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One webhook delivery attempt. ``attempt`` is 0 when it was refused (never sent)."""

    url: str
    event_type: str
    message_id: str
    sequence: int
    attempt: int
    status: int | None = None  # HTTP status of the receiver's answer
    error: str | None = None  # timeout / connection error
    refused: str | None = None  # why the SSRF guard refused it

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class SimState:
    """Clients, numbers, tokens, idempotency records, messages and the logs."""

    def __init__(self, seed: Seed, faults: Iterable[str] = (),
                 retention: Retention = DEFAULT,
                 clock: Callable[[], float] = time.monotonic,
                 variants: Iterable[str] = ()) -> None:
        self.lock = threading.RLock()
        self._seed = seed
        self.retention = retention
        self._clock = clock
        self._pending = 0
        self._idle = threading.Condition(self.lock)
        self._logged = threading.Condition(self.lock)  # a request or delivery was logged
        self.reset(faults, variants)

    def reset(self, faults: Iterable[str] = (), variants: Iterable[str] = ()) -> None:
        """Back to the seed: numbers as seeded, no tokens, messages, logs; only `faults` and
        `variants`."""
        seed = copy.deepcopy(self._seed)  # the seed itself is never mutated
        keep, clock = self.retention, self._clock
        chosen = validate_variants(variants)
        with self.lock:
            self.clients: dict[str, Client] = {c.client_id: c for c in seed.clients}
            self.numbers: dict[str, Number] = {n.number_id: n for n in seed.numbers}
            self.inventory: tuple[InventoryGroup, ...] = seed.inventory
            # an expired token stays known (401 "expired", not "invalid") until pushed out
            self.tokens: Retained[str, TokenRecord] = Retained(keep.max_tokens, None, clock)
            self.issued_tokens: deque[str] = deque(maxlen=keep.max_tokens)
            self.sends: Retained[tuple[str, str], StoredSend] = Retained(
                keep.max_idempotency_keys, keep.idempotency_ttl_s, clock)
            self.messages: Retained[str, Message] = Retained(
                keep.max_messages, keep.message_ttl_s, clock)
            self.requests: deque[RequestRecord] = deque(maxlen=keep.max_log_entries)
            # client_id of each refused token request
            self.refused_credentials: deque[str] = deque(maxlen=keep.max_log_entries)
            self.deliveries: deque[DeliveryAttempt] = deque(maxlen=keep.max_log_entries)
            self.rate_limited = False  # the rate-limit variant refused the first send once
            self.token_uses: dict[str, int] = {}  # CORE calls per token (token-revoked-early)
            self.faults: frozenset[str] = validate_faults(faults)
            self.variants: frozenset[str] = frozenset()
            self.set_variants(chosen)

    def has(self, fault: str) -> bool:
        return fault in self.faults

    def set_faults(self, names: Iterable[str]) -> None:
        faults = validate_faults(names)
        with self.lock:
            self.faults = faults

    def variant(self, name: str) -> bool:
        return name in self.variants

    def set_variants(self, names: Iterable[str]) -> None:
        """Replace the active variants; many-numbers adds (or takes back) its numbers, listed
        before the seeded ones."""
        variants = validate_variants(names)
        with self.lock:
            bulk = {n.number_id: self.numbers.get(n.number_id, n)
                    for n in extra_numbers(next(iter(self.clients)))}
            kept = {k: v for k, v in self.numbers.items() if k not in bulk}
            self.numbers = {**bulk, **kept} if "many-numbers" in variants else kept
            self.variants = variants

    def first_client(self) -> Client:
        """The first seeded client: who a request without credentials is, under some faults."""
        with self.lock:
            return next(iter(self.clients.values()))

    def numbers_of(self, client_id: str) -> list[Number]:
        with self.lock:
            return [n for n in self.numbers.values() if n.owner == client_id]

    def log_request(self, record: RequestRecord) -> None:
        with self.lock:
            self.requests.append(record)
            self._logged.notify_all()

    def log_refused_credential(self, client_id: str) -> None:
        """A token request naming `client_id` was refused for its credentials."""
        with self.lock:
            self.refused_credentials.append(client_id)

    def log_delivery(self, attempt: DeliveryAttempt) -> None:
        with self.lock:
            self.deliveries.append(attempt)
            self._logged.notify_all()

    def wait_logged(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        """True once `predicate()` holds, re-checked as each request or delivery is logged;
        False if `timeout` ran out first."""
        with self.lock:
            return self._logged.wait_for(predicate, timeout)

    # pending lifecycle deliveries, for wait_deliveries_idle

    def delivery_started(self) -> None:
        with self.lock:
            self._pending += 1

    def delivery_finished(self) -> None:
        with self.lock:
            self._pending -= 1
            if self._pending <= 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float | None) -> bool:
        """True once no lifecycle delivery is pending; False if `timeout` ran out first."""
        with self.lock:
            return self._idle.wait_for(lambda: self._pending <= 0, timeout)


@dataclass(slots=True)
class Clock:
    """A settable clock for tests: ``Simulator(clock=clock)`` then ``clock.advance(3601)``."""

    now: float = field(default=1_000_000.0)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
