"""What the conformant variants (``catalog.json``, ``catalog.VARIANTS``) need: their constants
and the pure helpers the simulator applies.

Real APIs differ from their docs in harmless ways: events redelivered or reordered, event
types and fields the docs do not list, compressed or chunked bodies, other id shapes,
second-resolution timestamps, slow answers, closed connections, big accounts, a refused
delivery never retried or retried only after seconds. A variant is
switched on like a fault (``Simulator(variants=[...])``, ``Simulator.set_variants``,
``redcloud-check simulate --variant NAME``, ``RC_SIM_VARIANTS`` for the suite's embedded
simulator); the variant matrix test holds the suite to zero failures against each. Every
variant conforms to the docs as DESIGN.md's contract decisions read them.

Importing this module stays cheap.
"""

from __future__ import annotations

import uuid
from typing import Any

from redcloud_check.simulator.seed import Number

SLOW_RESPONSE_S = 0.15
SLOW_EVENT_GAP_MS = 150
SLOW_RETRY_S = 3.0  # slow-delivery-retry: the first retry of a refused delivery, then doubling
EXTRA_NUMBERS = 300
UNLISTED_EVENT_TYPE = "message.carrier_update"
# The additive fields: one set on every JSON object of a response or an event.
ADDITIVE = {"simRevision": 7, "simLinks": {"docs": "https://example.com/not-documented"}}


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
