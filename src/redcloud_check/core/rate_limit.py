"""A rate limit is not a nonconformance: honour the API's Retry-After within a budget.

On HTTP 429, or 503 with Retry-After, the client waits what the API asks and sends the same
request again (a send keeps its Idempotency-Key: the docs' own retry mechanism). The run
spends at most RC_RETRY_BUDGET seconds of such waits in all; past it, `RateLimited` is
raised, and the stage is inconclusive (exit 2), never failed.

    RateLimits(budget_s, on_wait, concurrency)
                                      one per run, shared by every request of the run
    RateLimits.slot()                 one of the run's places for a request in flight
                                      (RC_CONCURRENCY of them), taken once any pause a rate
                                      limit imposed is over
    RateLimits.delay(exchange)        seconds to wait before sending it again; None: not a
                                      rate limit; RateLimited: the budget is spent
    RateLimits.wait(seconds, ex)      wait them, and report the wait

A rate limit slows the whole run down and never starts a burst of retries: every request of
the run waits out the same pause, and from the first rate limit on one request at a time is
in flight, however many RC_CONCURRENCY allows. The budget counts the run's pause, not the
sum of the requests' waits: four requests refused together and waiting the same second
spend one second of it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from redcloud_check.core.errors import RateLimited
from redcloud_check.core.exchange import Exchange

__all__ = ["RateLimitWait", "RateLimits", "retry_after"]

MAX_ROUNDS = 5  # the same request rate-limited this many times in a row: the budget's end


@dataclass(frozen=True, slots=True)
class RateLimitWait:
    """One wait the run made on the API's word."""

    status: int
    retry_after: str  # as the API said it
    waited_s: float
    exchange: Exchange  # the rate-limited answer


def retry_after(exchange: Exchange) -> float | None:
    """Seconds the API asks to wait (Retry-After: seconds, or an HTTP date); None when the
    answer is not a rate limit (429, or 503 with Retry-After)."""
    value = exchange.header("Retry-After").strip()
    if exchange.status != 429 and not (exchange.status == 503 and value):
        return None
    if not value:
        return 1.0  # a 429 without Retry-After: the smallest honest pause
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return 1.0
    return max(0.0, when - time.time())


class RateLimits:
    def __init__(self, budget_s: float,
                 on_wait: Callable[[RateLimitWait], None] | None = None,
                 concurrency: int = 1) -> None:
        self.budget_s = budget_s
        self.spent_s = 0.0
        self.concurrency = max(1, concurrency)  # requests in flight at most; 1 once limited
        self._on_wait = on_wait
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self._in_flight = 0
        self._tickets = 0
        self._waiting: list[tuple[int, int]] = []  # (rank, ticket) of each request waiting
        self._local = threading.local()  # .rank: this thread's requests' rank
        self._not_before = 0.0  # monotonic: no request of the run goes out before it
        self.waits: list[RateLimitWait] = []

    @property
    def queued(self) -> int:
        """Requests waiting for a place in flight now."""
        with self._lock:
            return len(self._waiting)

    @contextmanager
    def ranked(self, rank: int) -> Iterator[None]:
        """This thread's requests wait for a place with `rank` (0 first; a request outside
        it ranks 0: the main thread waits for it)."""
        previous = getattr(self._local, "rank", 0)
        self._local.rank = rank
        try:
            yield
        finally:
            self._local.rank = previous

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one place for a request in flight, for as long as it takes (or for a chain of
        requests: a thread that holds a place already makes them in it). A freed place goes
        to the waiting request of the lowest rank, the first come among equals: a worker
        asking again at once never overtakes the run's critical path."""
        if getattr(self._local, "holding", False):
            yield
            return
        with self._freed:
            me = (getattr(self._local, "rank", 0), self._tickets)
            self._tickets += 1
            self._waiting.append(me)
            while self._in_flight >= self.concurrency or min(self._waiting) != me:
                self._freed.wait()
            self._waiting.remove(me)
            self._in_flight += 1
        self._local.holding = True
        try:
            self.pace()
            yield
        finally:
            self._local.holding = False
            with self._freed:
                self._in_flight -= 1
                self._freed.notify_all()

    def delay(self, exchange: Exchange, rounds: int = 0) -> float | None:
        seconds = retry_after(exchange)
        if seconds is None:
            return None
        with self._lock:
            added = self._added(seconds)
            left = self.budget_s - self.spent_s
        if added > left or rounds >= MAX_ROUNDS:
            raise RateLimited(exchange, seconds, self.spent_s, self.budget_s)
        return seconds

    def _added(self, seconds: float) -> float:
        """What a wait of `seconds` from now adds to the run's pause (a pause already under
        way counts once). Called under the lock."""
        now = time.monotonic()
        return max(0.0, now + seconds - max(self._not_before, now))

    def wait(self, seconds: float, exchange: Exchange) -> None:
        with self._lock:
            self.spent_s += self._added(seconds)
            self._not_before = max(self._not_before, time.monotonic() + seconds)
            self.concurrency = 1  # the API asked the run to slow down: one at a time now
        self.pace()
        record = RateLimitWait(int(exchange.status or 0), exchange.header("Retry-After"),
                               round(seconds, 3), exchange)
        with self._lock:
            self.waits.append(record)
        if self._on_wait is not None:
            self._on_wait(record)

    def pace(self) -> None:
        """Before any request: wait out a rate limit another request of the run met."""
        with self._lock:
            pause = self._not_before - time.monotonic()
        if pause > 0:
            time.sleep(pause)  # the API asked for this time: there is no event to await
