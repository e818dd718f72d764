"""Failures that code of ours explains. A server of ours that raised while serving (the
embedded simulator, the webhook listener) leaves the checks that depend on it proving
nothing about the API: the tool never reports its own bug as the API's (DESIGN.md).

    our_servers(simulator, rc)   this run's servers, each with the stage whose checks depend
                                 on it (None: every check; the embedded simulator is the
                                 target)
    explain(servers, stage)      raise the HandlerError of the first server a check of
                                 `stage` depends on that has collected errors; else return
    retract(ledger, error, server, secrets)
                                 the failures that `server`'s HandlerError explains,
                                 re-recorded in the ledger as the tool's (their bundles
                                 re-attributed: evidence.attributed_to_tool)
    settle(servers, ledger, secrets, record)
                                 each server's HandlerError to `record`, and the failures
                                 it explains retracted

The suite calls these (`suite.collection`, `suite.run`): a check's failure while a server it
depends on has collected errors becomes that server's HandlerError (the gates, junit.xml,
report.html and the bundle then all show a bug of ours); at session finish, before any
evidence is written, the simulator is stopped and what our servers collected settled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from redcloud_check.core.errors import CollectsHandlerErrors, HandlerError
from redcloud_check.reporting.evidence import attributed_to_tool
from redcloud_check.results.ledger import Outcome, RunLedger

if TYPE_CHECKING:
    from redcloud_check.context import RunContext

__all__ = ["OurServer", "explain", "our_servers", "retract", "settle"]

Record = Callable[[str, HandlerError], None]


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


def retract(ledger: RunLedger, error: HandlerError, server: OurServer,
            secrets: Mapping[str, str]) -> None:
    """Each failure in `ledger` of a check that depends on `server`, re-recorded as the
    tool's error: the HandlerError is its problem, its bundle attributed to the tool."""
    for result in ledger.results():
        if not result.failing or not server.explains(result.stage):
            continue
        evidence = (attributed_to_tool(result.evidence, error, secrets)
                    if result.evidence is not None else None)
        ledger.record(replace(result, outcome=Outcome.ERROR, problem=error,
                              evidence=evidence))


def settle(servers: Sequence[OurServer], ledger: RunLedger, secrets: Mapping[str, str],
           record: Record) -> None:
    """Each server's HandlerError, if it collected errors, to `record(server name, error)`;
    the failures it explains become the tool's in `ledger`."""
    for ours in servers:
        try:
            ours.server.check_handler_errors()
        except HandlerError as error:
            record(ours.server.name, error)
            retract(ledger, error, ours, secrets)
