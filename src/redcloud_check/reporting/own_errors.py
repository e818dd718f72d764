"""Failures that code of ours explains. A server of ours that raised while serving (the
embedded simulator, the webhook listener) leaves the checks that depend on it proving
nothing about the API: the tool never reports its own bug as the API's (DESIGN.md).

    our_servers(simulator, rc)   this run's servers, each with the stage whose checks depend
                                 on it (None: every check; the embedded simulator is the
                                 target)
    explain(servers, stage)      raise the HandlerError of the first server a check of
                                 `stage` depends on that has collected errors; else return
    retract(bundles, error, server, secrets)
                                 the bundles that `server`'s HandlerError explains,
                                 re-attributed to the tool (evidence.attributed_to_tool)
    settle(servers, bundles, secrets, record)
                                 at the end: each server's HandlerError to `record`, and the
                                 bundles it explains retracted

The report plugin calls `explain` when a check fails (the failure becomes the server's
HandlerError, so the gate board, junit.xml, report.html and the bundle all show a bug of
ours), and at the end of the session stops the simulator and calls `settle`: the errors of
the simulator's own process (simulator.process) come back only when it stops.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redcloud_check.core.errors import CollectsHandlerErrors, HandlerError
from redcloud_check.reporting.evidence import attributed_to_tool

if TYPE_CHECKING:
    from redcloud_check.context import RunContext

__all__ = ["OurServer", "explain", "our_servers", "retract", "settle"]


@dataclass(frozen=True, slots=True)
class OurServer:
    server: CollectsHandlerErrors
    stage: str | None  # the stage whose checks depend on it; None: every check

    def explains(self, stage: str | None) -> bool:
        return self.stage is None or self.stage == stage


def our_servers(simulator: CollectsHandlerErrors | None,
                rc: RunContext | None) -> list[OurServer]:
    """The embedded simulator (every check depends on it) and the webhook listener (the
    webhooks stage's checks judge what it received), those this run has."""
    from redcloud_check.webhooks.session import WebhookSession

    servers = [OurServer(simulator, None)] if simulator is not None else []
    if rc is not None and isinstance(rc.webhooks, WebhookSession):
        servers.append(OurServer(rc.webhooks.listener, "webhooks"))
    return servers


def explain(servers: Sequence[OurServer], stage: str | None) -> None:
    """Raise HandlerError (from its first error) for the first server that a check of
    `stage` depends on and that has collected errors so far."""
    for ours in servers:
        if ours.explains(stage):
            ours.server.check_handler_errors()


def retract(bundles: Sequence[Mapping[str, Any]], error: HandlerError, server: OurServer,
            secrets: Mapping[str, str]) -> list[dict[str, Any]]:
    """`bundles`, those of checks that depend on `server` attributed to the tool."""
    return [attributed_to_tool(b, error, secrets) if server.explains(b["check"].get("stage"))
            else dict(b) for b in bundles]


def settle(servers: Sequence[OurServer], bundles: Sequence[Mapping[str, Any]],
           secrets: Mapping[str, str],
           record: Callable[[str, HandlerError], None]) -> list[dict[str, Any]]:
    """Each server's HandlerError, if it collected errors, to `record(server name, error)`;
    returns `bundles`, those the errors explain attributed to the tool."""
    settled = [dict(b) for b in bundles]
    for ours in servers:
        try:
            ours.server.check_handler_errors()
        except HandlerError as error:
            record(ours.server.name, error)
            settled = retract(settled, error, ours, secrets)
    return settled
