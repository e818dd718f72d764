"""The embedded reference simulator of the Red Cloud CORE API.

Public surface: ``Simulator`` (in-process server, see ``server``), ``FAULTS`` / ``Fault``
(the fault catalog), ``DELIVERY_OUTCOMES`` (magic recipients). ``Simulator`` is imported
lazily so ``redcloud_check.simulator.faults`` stays cheap to import.

Module map: app (routes, middleware), auth (token, bearer), numbers, send_rules, messages
(send + idempotency), lifecycle (events, signing), webhooks (delivery, SSRF guard),
state (store), seed (seed.json), faults, variants (conformant variations), variant_layer
(their response side), server (threaded runner; `embedded_simulator`, the one a run
without RC_BASE_URL checks), cli.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redcloud_check.simulator.faults import FAULTS, Fault

if TYPE_CHECKING:
    from redcloud_check.simulator.lifecycle import DELIVERY_OUTCOMES
    from redcloud_check.simulator.server import Simulator

__all__ = ["DELIVERY_OUTCOMES", "FAULTS", "Fault", "Simulator"]


def __getattr__(name: str) -> Any:
    if name == "Simulator":
        from redcloud_check.simulator.server import Simulator

        return Simulator
    if name == "DELIVERY_OUTCOMES":
        from redcloud_check.simulator.lifecycle import DELIVERY_OUTCOMES

        return DELIVERY_OUTCOMES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
