"""Plant a bug in the embedded simulator's webhook delivery: building an event's body raises
KeyError('planted'), as a bug of ours there would. No lifecycle event can then reach the
listener; the run must say that redcloud-check broke, never that the API sent nothing."""

from __future__ import annotations

from typing import Any

import pytest

PLANTED = "planted in the simulator's delivery"


def broken(*_: Any, **__: Any) -> bytes:
    raise KeyError(PLANTED)


def plant() -> None:
    from redcloud_check.simulator import webhooks

    webhooks.event_body = broken  # type: ignore[assignment]


def pytest_configure(config: pytest.Config) -> None:
    plant()
