"""A simulator whose API adds fields the docs do not list (conformant: DESIGN.md, unknown
fields), for the drift tests: every JSON object answer gains ``region`` (and whoami's
``assignedNumbers`` a ``tollFreeCount``); every webhook event gains ``attempt`` and
``data.carrier``, signed as usual. Real HTTP on 127.0.0.1, port 0."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest

from redcloud_check.simulator import Simulator
from redcloud_check.simulator import webhooks as sim_webhooks
from redcloud_check.simulator.held_response import HeldResponse, send_whole

EXTRA_RESPONSE = "region"
EXTRA_NESTED = "tollFreeCount"
EXTRA_EVENT, EXTRA_EVENT_DATA = "attempt", "carrier"


def _add_fields(doc: Any) -> Any:
    if isinstance(doc, dict):
        doc[EXTRA_RESPONSE] = "eu-1"
        if isinstance(doc.get("assignedNumbers"), dict):
            doc["assignedNumbers"][EXTRA_NESTED] = 0
    return doc


class _AdditiveFields(HeldResponse):
    """ASGI middleware: JSON object answers gain the extra fields (Content-Length fixed)."""

    async def respond(self, held: Any, scope: Any, start: Any, body: bytes, send: Any) -> None:
        with suppress(ValueError):
            body = json.dumps(_add_fields(json.loads(body))).encode()
        await send_whole(send, start, body)


class DriftingSimulator(Simulator):
    def application(self) -> Any:
        return _AdditiveFields(super().application())


@contextmanager
def drifting_simulator() -> Iterator[Simulator]:
    original = sim_webhooks.event_body

    def event_body(*args: Any, **kwargs: Any) -> bytes:
        event = json.loads(original(*args, **kwargs))
        event[EXTRA_EVENT] = 1
        event["data"][EXTRA_EVENT_DATA] = "carrier-x"
        return json.dumps(event, separators=(",", ":")).encode()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sim_webhooks, "event_body", event_body)
        with DriftingSimulator(lifecycle_delay_ms=1) as sim:
            yield sim
