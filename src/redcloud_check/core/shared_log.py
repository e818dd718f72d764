"""A list that several threads append to and read snapshots of: the recorded exchanges and
the run's findings (webhook threads add to both while the checks read them).

A thread may hold what it adds instead (`holding()`): a request sent ahead of the check that
judges it keeps its exchanges and findings aside, and the check commits them (`commit`) when
it takes its answer, so the log stays in the run's order whatever order answers come in.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

__all__ = ["SharedLog"]

T = TypeVar("T")


class SharedLog(Generic[T]):
    """Append-only and thread-safe; `all()` is a snapshot, safe to iterate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[T] = []
        self._held = threading.local()  # .items: what this thread holds back, if it does

    def add(self, item: T) -> None:
        held: list[T] | None = getattr(self._held, "items", None)
        if held is not None:
            held.append(item)
            return
        self.commit((item,))

    def commit(self, items: Iterable[T]) -> None:
        """Append `items` (what a thread held) in their order."""
        with self._lock:
            for item in items:
                self._items.append(self._stamped(item, len(self._items) + 1))

    def _stamped(self, item: T, place: int) -> T:
        """The item as kept at `place` (1, 2, ...) of the log: a subclass may stamp it."""
        return item

    @contextmanager
    def holding(self) -> Iterator[list[T]]:
        """In this thread, hold what is added in the yielded list instead of logging it."""
        previous = getattr(self._held, "items", None)
        items: list[T] = []
        self._held.items = items
        try:
            yield items
        finally:
            self._held.items = previous

    def all(self) -> list[T]:
        with self._lock:
            return list(self._items)
