"""The log of every HTTP exchange the suite makes, attributed to the check that made it.

The check is the thread's: the plugin names the running check in the main thread
(`current_check`); a request sent ahead of its check on another thread (`core.lookahead`) is
made `on_behalf_of` that check. Each exchange gets its place in the run's log (`sequence`)
when it is recorded; held exchanges (`SharedLog.holding`) are recorded when their check
takes them, so the log is in the run's order.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from redcloud_check.core.exchange import Exchange
from redcloud_check.core.shared_log import SharedLog

_MAIN = object()  # this thread acts for no check of its own: the main thread's check


class Recorder(SharedLog[Exchange]):
    def __init__(self) -> None:
        super().__init__()
        self._main_check: str | None = None
        self._acting = threading.local()  # .check: the check this thread acts for

    @property
    def current_check(self) -> str | None:
        """The node id of the check this thread's requests belong to."""
        check = getattr(self._acting, "check", _MAIN)
        return self._main_check if check is _MAIN else check  # type: ignore[return-value]

    @current_check.setter
    def current_check(self, nodeid: str | None) -> None:
        """The running check (the plugin sets it around each check)."""
        self._main_check = nodeid

    @contextmanager
    def on_behalf_of(self, nodeid: str | None) -> Iterator[None]:
        """In this thread, requests and findings belong to `nodeid`."""
        previous = getattr(self._acting, "check", _MAIN)
        self._acting.check = nodeid
        try:
            yield
        finally:
            self._acting.check = previous

    def record(self, exchange: Exchange) -> None:
        self.add(exchange)

    def _stamped(self, item: Exchange, place: int) -> Exchange:
        return replace(item, sequence=place)

    def for_check(self, check: str) -> list[Exchange]:
        return [e for e in self.all() if e.check == check]
