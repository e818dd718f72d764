"""A list that several threads append to and read snapshots of: the recorded exchanges and
the run's findings (webhook threads add to both while the checks read them)."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

__all__ = ["SharedLog"]

T = TypeVar("T")


class SharedLog(Generic[T]):
    """Append-only and thread-safe; `all()` is a snapshot, safe to iterate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[T] = []

    def add(self, item: T) -> None:
        with self._lock:
            self._items.append(item)

    def all(self) -> list[T]:
        with self._lock:
            return list(self._items)
