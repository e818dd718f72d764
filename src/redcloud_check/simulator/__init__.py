"""The embedded reference simulator of the Red Cloud CORE API.

Public surface: ``Simulator`` (in-process server, see ``server``), ``FAULTS`` /
``VARIANTS`` / ``Entry`` (the fault and variant catalogs), ``DELIVERY_OUTCOMES`` (magic
recipients). ``Simulator`` is imported lazily so the catalogs stay cheap to import.

Module map: app (routes, middleware), auth (token, bearer), numbers, send_rules, messages
(send + idempotency), lifecycle (events, signing), webhooks (delivery, SSRF guard),
state (store), seed (seed.json), catalog (catalog.json: the faults and the conformant
variants), variants and variant_layer (the variants' helpers and their response side, on
held_response: a whole response held for rewriting), names (a run's fault and variant names
checked against the catalog), server (threaded runner; `embedded_simulator`, the one a run
without RC_BASE_URL checks), cli.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redcloud_check.simulator.catalog import FAULTS, VARIANTS, Entry

if TYPE_CHECKING:
    from redcloud_check.simulator.lifecycle import DELIVERY_OUTCOMES
    from redcloud_check.simulator.server import Simulator

__all__ = ["DELIVERY_OUTCOMES", "FAULTS", "VARIANTS", "Entry", "Simulator"]


def __getattr__(name: str) -> Any:
    if name == "Simulator":
        from redcloud_check.simulator.server import Simulator

        return Simulator
    if name == "DELIVERY_OUTCOMES":
        from redcloud_check.simulator.lifecycle import DELIVERY_OUTCOMES

        return DELIVERY_OUTCOMES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
