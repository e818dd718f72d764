"""A rate limit is not a nonconformance: honour the API's Retry-After within a budget.

On HTTP 429, or 503 with Retry-After, the client waits what the API asks and sends the same
request again (a send keeps its Idempotency-Key: the docs' own retry mechanism). The run
spends at most RC_RETRY_BUDGET seconds of such waits in all; past it, `RateLimited` is
raised, and the stage is inconclusive (exit 2), never failed.

    RateLimits(budget_s, on_wait)     one per run, shared by every request of the run
    RateLimits.delay(exchange)        seconds to wait before sending it again; None: not a
                                      rate limit; RateLimited: the budget is spent
    RateLimits.wait(seconds, ex)      wait them (every request of the run waits out the
                                      same limit: a 429 slows the whole run down, it never
                                      starts a burst of retries), and report the wait
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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
                 on_wait: Callable[[RateLimitWait], None] | None = None) -> None:
        self.budget_s = budget_s
        self.spent_s = 0.0
        self._on_wait = on_wait
        self._lock = threading.Lock()
        self._not_before = 0.0  # monotonic: no request of the run goes out before it
        self.waits: list[RateLimitWait] = []

    def delay(self, exchange: Exchange, rounds: int = 0) -> float | None:
        seconds = retry_after(exchange)
        if seconds is None:
            return None
        with self._lock:
            left = self.budget_s - self.spent_s
        if seconds > left or rounds >= MAX_ROUNDS:
            raise RateLimited(exchange, seconds, self.spent_s, self.budget_s)
        return seconds

    def wait(self, seconds: float, exchange: Exchange) -> None:
        with self._lock:
            self.spent_s += seconds
            self._not_before = max(self._not_before, time.monotonic() + seconds)
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
