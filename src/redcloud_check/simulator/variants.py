"""The variant catalog: named conformant variations a correct suite must pass unchanged.

Real APIs differ from their docs in harmless ways: events redelivered or reordered, event
types and fields the docs do not list, compressed or chunked bodies, other id shapes,
second-resolution timestamps, slow answers, closed connections, big accounts. A variant is
switched on like a fault (``Simulator(variants=[...])``, ``Simulator.set_variants``,
``redcloud-check simulate --variant NAME``, ``RC_SIM_VARIANTS`` for the suite's embedded
simulator); the variant matrix test holds the suite to zero failures against each. Every
variant conforms to the docs as DESIGN.md's contract decisions read them.

This module is data plus the pure helpers the simulator applies; importing it stays cheap.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from redcloud_check.simulator.faults import validate_names
from redcloud_check.simulator.seed import Number


@dataclass(frozen=True, slots=True)
class Variant:
    """One named conformant variation, and the DESIGN.md decision or docs clause it rests on."""

    name: str
    description: str
    basis: str


_CATALOG: tuple[Variant, ...] = (
    Variant("redeliver-every-event", "every lifecycle event is delivered twice, re-signed "
            "(at-least-once delivery)", "DESIGN.md: webhook duplicates"),
    Variant("reordered-delivery", "a message's events are delivered final event first, "
            "message.queued last", "DESIGN.md: webhook duplicates (order by sequence)"),
    Variant("unlisted-event-type", 'an extra "message.carrier_update" event, a type the docs '
            "do not list, between message.sent and the final event",
            'DESIGN.md: unknown event types (the docs list events "such as ...")'),
    Variant("additive-fields", "every JSON response and every event carries fields the docs "
            "do not list, in every object", "DESIGN.md: unknown fields"),
    Variant("gzip-responses", "responses are gzip-encoded (Content-Encoding: gzip) when the "
            "request accepts it", "RFC 9110 content coding; the docs are silent"),
    Variant("chunked-responses", "responses are sent chunked (Transfer-Encoding: chunked, no "
            "Content-Length)", "RFC 9112 chunked transfer coding; the docs are silent"),
    Variant("json-charset", 'JSON responses and events say "application/json; charset=utf-8"',
            "RFC 8259 / RFC 9110 media type parameters; the docs are silent"),
    Variant("uuid-ids", "messageIds, requestIds and access tokens are UUIDs",
            "the docs' ids are examples (msg_abc123), not a format"),
    Variant("second-timestamps", "X-RedCloud-Timestamp and occurredAt are in seconds, not "
            "milliseconds", "DESIGN.md: webhook timestamp (accept seconds too)"),
    Variant("slow-responses", "every response leaves 150 ms after it is computed (events can "
            "arrive before the send's 202), and events are 150 ms apart",
            "the docs promise no latency; events are asynchronous (1-quickstart.txt, Section 8)"),
    Variant("connection-close", "every response says Connection: close and the connection "
            "is closed", "RFC 9112 persistence; the docs are silent"),
    Variant("many-numbers", "the client owns 300 more numbers, listed before num_abc123, "
            "some SUSPENDED or not SMS-enabled", "the docs bound no account size"),
)

VARIANTS: dict[str, Variant] = {variant.name: variant for variant in _CATALOG}

SLOW_RESPONSE_S = 0.15
SLOW_EVENT_GAP_MS = 150
EXTRA_NUMBERS = 300
UNLISTED_EVENT_TYPE = "message.carrier_update"
# The additive fields: one set on every JSON object of a response or an event.
ADDITIVE = {"simRevision": 7, "simLinks": {"docs": "https://example.com/not-documented"}}


def validate_variants(names: Iterable[str]) -> frozenset[str]:
    """The given variant names as a set; ValueError naming the valid ones for an unknown name."""
    return validate_names(names, VARIANTS, "variant")


def describe_variants() -> str:
    """The catalog as text, one variant per line (for --list-variants)."""
    width = max(len(name) for name in VARIANTS)
    return "\n".join(f"{v.name:<{width}}  {v.description} [{v.basis}]" for v in _CATALOG)


def new_id(prefix: str, random_part: str, variants: frozenset[str]) -> str:
    """An id as the simulator makes it (`prefix` + `random_part`), or a UUID under uuid-ids."""
    return str(uuid.uuid4()) if "uuid-ids" in variants else prefix + random_part


def with_additive_fields(value: Any) -> Any:
    """`value` with `ADDITIVE` added to every JSON object in it (the added ones excepted)."""
    if isinstance(value, dict):
        out = {k: with_additive_fields(v) for k, v in value.items()}
        for key, extra in ADDITIVE.items():
            out.setdefault(key, extra)
        return out
    if isinstance(value, list):
        return [with_additive_fields(v) for v in value]
    return value


def extra_numbers(owner: str) -> list[Number]:
    """The many-numbers variant's numbers for `owner`: ids, numbers and states vary."""
    statuses = ("ACTIVE", "ACTIVE", "ACTIVE", "SUSPENDED", "ACTIVE", "PENDING")
    return [Number(number_id=f"num_bulk{i:04d}", owner=owner, e164=f"+1555300{i:04d}",
                   status=statuses[i % len(statuses)],
                   campaign_reg_id=None if i % 4 else f"C{i:05d}", sms_enabled=i % 5 != 0,
                   mms_enabled=i % 3 == 0, webhook_inbound_override=None,
                   webhook_delivery_override=None if i % 2 else f"https://example.com/h/{i}")
            for i in range(EXTRA_NUMBERS)]
