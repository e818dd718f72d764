"""The log of every HTTP exchange the suite makes, attributed to the check that made it."""

from __future__ import annotations

import threading

from redcloud_check.core.exchange import Exchange


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self.current_check: str | None = None

    def record(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)

    def all(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    def for_check(self, check: str) -> list[Exchange]:
        return [e for e in self.all() if e.check == check]
