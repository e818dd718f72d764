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
                                 each server's HandlerError to `record`, and the bundles it
                                 explains retracted

`OwnErrors` holds the hooks, registered by the report plugin: a check's failure while a
server it depends on has collected errors becomes that server's HandlerError (the gate
board, junit.xml, report.html and the bundle then all show a bug of ours); at session finish,
before the report plugin writes the evidence, it stops the simulator and settles: the errors
of the simulator's own process (simulator.process) come back only when it stops.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from redcloud_check.core.errors import (
    CheckFailure,
    CollectsHandlerErrors,
    HandlerError,
    TargetUnreachable,
)
from redcloud_check.reporting.evidence import attributed_to_tool

if TYPE_CHECKING:
    from redcloud_check.context import RunContext
    from redcloud_check.reporting.report_plugin import ReportPlugin

__all__ = ["OurServer", "OwnErrors", "explain", "our_servers", "retract", "settle"]

Bundle = dict[str, Any]
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


def retract(bundles: Sequence[Mapping[str, Any]], error: HandlerError, server: OurServer,
            secrets: Mapping[str, str]) -> list[Bundle]:
    """`bundles`, those of checks that depend on `server` attributed to the tool."""
    return [attributed_to_tool(b, error, secrets) if server.explains(b["check"].get("stage"))
            else dict(b) for b in bundles]


def settle(servers: Sequence[OurServer], bundles: Sequence[Mapping[str, Any]],
           secrets: Mapping[str, str], record: Record) -> list[Bundle]:
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


class OwnErrors:
    """The hooks, registered by the report plugin (`report`): a failure that a server of
    ours explains is its HandlerError; before the report plugin writes the evidence, the
    simulator is stopped (its own process reports its errors only then) and what each server
    collected is settled into the report's internal errors and bundles."""

    def __init__(self, report: ReportPlugin) -> None:
        self.report = report
        self._settled = False

    def servers(self) -> list[OurServer]:
        from redcloud_check.plugin import SIMULATOR

        return our_servers(self.report.config.stash.get(SIMULATOR, None),
                           self.report.context())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        """The check's failure, while a server of ours it depends on has collected errors,
        becomes that server's HandlerError (the failure its context)."""
        from redcloud_check.plugin import item_stage

        try:
            return (yield)
        except (CheckFailure, TargetUnreachable):
            explain(self.servers(), item_stage(item))
            raise

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionfinish(self) -> Generator[None, None, None]:
        self.report._guard("servers of ours", self.settle)  # before any evidence is written
        return (yield)

    @pytest.hookimpl(tryfirst=True)
    def pytest_unconfigure(self) -> None:
        self.report._guard("servers of ours", self.settle)  # a session that never began

    def settle(self) -> None:
        """Once: stop the embedded simulator, then `settle` what our servers collected."""
        from redcloud_check.plugin import SIMULATOR

        if self._settled:
            return
        self._settled = True
        if (simulator := self.report.config.stash.get(SIMULATOR, None)) is not None:
            simulator.stop()
        report = self.report
        report.bundles = settle(self.servers(), report.bundles, report.secrets(),
                                report.record_internal_error)
