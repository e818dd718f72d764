"""The log of every HTTP exchange the suite makes, attributed to the check that made it."""

from __future__ import annotations

from redcloud_check.core.exchange import Exchange
from redcloud_check.core.shared_log import SharedLog


class Recorder(SharedLog[Exchange]):
    def __init__(self) -> None:
        super().__init__()
        self.current_check: str | None = None

    def record(self, exchange: Exchange) -> None:
        self.add(exchange)

    def for_check(self, check: str) -> list[Exchange]:
        return [e for e in self.all() if e.check == check]
