"""How long the simulator keeps what it accumulates, so that it runs for hours under load.

Real APIs expire idempotency keys (24 hours is the usual promise) and do not keep every
message forever; the simulator does the same, bounded by age and by count, whichever comes
first. The request and webhook-delivery logs keep their newest entries only.

    Retention()  defaults: 10,000 messages and 10,000 idempotency records, each for at most
                 24 hours; the newest 10,000 entries of each log; 10,000 tokens.

``Retained`` is the store: a mapping that forgets its oldest entries. Each insert does O(1)
amortised work (entries are kept in insertion order, so the expired ones are at the front);
nothing ever scans the whole store.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

DAY_S = 86_400.0
MAX_ENTRIES = 10_000  # the default bound of every store and log


@dataclass(frozen=True, slots=True)
class Retention:
    """Bounds on the simulator's state (counts, and ages in seconds; None = no age bound)."""

    max_messages: int = MAX_ENTRIES
    message_ttl_s: float | None = DAY_S
    max_idempotency_keys: int = MAX_ENTRIES
    idempotency_ttl_s: float | None = DAY_S
    max_log_entries: int = MAX_ENTRIES  # the request log and the webhook-delivery log, each
    max_tokens: int = MAX_ENTRIES

    def __post_init__(self) -> None:
        for name in ("max_messages", "max_idempotency_keys", "max_log_entries", "max_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("message_ttl_s", "idempotency_ttl_s"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive")


DEFAULT = Retention()


class Retained(Generic[K, V]):
    """A mapping that keeps at most `max_entries`, each for at most `ttl_s` seconds (on
    `clock`) after it was last stored. Not thread-safe: the caller holds its lock."""

    def __init__(self, max_entries: int, ttl_s: float | None,
                 clock: Callable[[], float]) -> None:
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._max = max_entries
        self._ttl = ttl_s
        self._clock = clock

    def __setitem__(self, key: K, value: V) -> None:
        now = self._clock()
        self._items.pop(key, None)
        self._items[key] = (now, value)
        self._forget(now)

    def get(self, key: K, default: V | None = None) -> V | None:
        entry = self._items.get(key)
        if entry is None or self._expired(entry[0], self._clock()):
            return default
        return entry[1]

    def __contains__(self, key: object) -> bool:
        entry = self._items.get(key)  # type: ignore[arg-type]
        return entry is not None and not self._expired(entry[0], self._clock())

    def __len__(self) -> int:
        self._forget(self._clock())
        return len(self._items)

    def __iter__(self) -> Iterator[K]:
        self._forget(self._clock())
        return iter(list(self._items))

    def values(self) -> list[V]:
        self._forget(self._clock())
        return [value for _, value in self._items.values()]

    def _expired(self, stored_at: float, now: float) -> bool:
        return self._ttl is not None and now - stored_at >= self._ttl

    def _forget(self, now: float) -> None:
        items = self._items
        while len(items) > self._max:
            items.popitem(last=False)
        while items:
            stored_at, _ = next(iter(items.values()))
            if not self._expired(stored_at, now):
                break
            items.popitem(last=False)
