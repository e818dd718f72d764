"""The scheduled production health probe: token, whoami, numbers (+ one canary send).

    run_probe(settings, canary=False, warn_latency_ms=None) -> ProbeResult

The read-only path makes three requests: POST /api/auth/token (HTTP Basic), GET
/api/core/whoami (the client is ACTIVE), GET /api/core/numbers (RC_NUMBER_ID is listed,
ACTIVE and smsEnabled). `canary=True` adds one send to RC_TO and waits for its lifecycle
through the webhook session (which installs and restores the number's webhook override).
The probe never runs negative or mutating checks. It stops at the first failed stage; the
later stages are reported "blocked by <stage>". With no RC_BASE_URL it probes the embedded
simulator, started in-process. Before the stages, every probe (read-only too) restores a
webhook override that a killed run left behind (its journal in RC_REPORTS_DIR): restoring
our own change is the safe write. While a number is left misrouted the probe is unhealthy,
its `error` naming the number and the URL.

Plain module: no pytest, no checks; the assertions are `redcloud_check.rules.expect`'s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from redcloud_check.core.config import Settings
from redcloud_check.core.errors import ConfigError, RedcloudCheckError
from redcloud_check.core.exit_codes import PROBE_EXIT_CODES
from redcloud_check.core.stage_names import CANARY, NUMBERS, STAGE_NAMES, WHOAMI
from redcloud_check.core.urls import without_userinfo
from redcloud_check.core.waivers import WaiverBook
from redcloud_check.probe.stages import (
    Alongside,
    StageResult,
    Verdict,
    alongside,
    attempt,
    judge,
    record,
)
from redcloud_check.rules.stages import blocked_reason

if TYPE_CHECKING:
    from redcloud_check.context import RunContext

__all__ = ["ProbeResult", "StageResult", "Status", "Verdict", "config_error_result", "probe",
           "run_probe", "tool_error_result"]

Status = Literal["healthy", "degraded", "unhealthy", "config_error", "tool_error",
                 "unreachable"]

READ_ONLY_STAGES = tuple(name for name in STAGE_NAMES if name not in CANARY)
# Once the token is issued, whoami and numbers are independent requests: asked together
# (RC_CONCURRENCY > 1), each judged, and blocking, as one stage after the other would.
TOGETHER = {WHOAMI: (NUMBERS,)}


@dataclass(frozen=True, slots=True)
class ProbeResult:
    status: Status
    started_at: float  # epoch seconds
    duration_s: float  # the stages' wall time (simulator start-up excluded)
    target: str  # base URL without credentials
    embedded: bool
    stages: tuple[StageResult, ...] = ()
    canary: bool = False
    warn_latency_ms: float | None = None
    error: str | None = None  # config/tool error, unreachable, misrouted override: what, why
    waivers: dict[str, Any] | None = None  # RC_WAIVERS: waived, expired, stale
    latency_ms: dict[str, float] | None = None  # median per endpoint (history.jsonl)
    override_recovery: str | None = None  # what became of a killed run's override journal
    trace_id: str | None = None  # the W3C trace every request carried (RC_TRACEPARENT=0: None)
    # the numbers it saw as recipients: the redaction's entries (core.recipients), never shown
    recipients: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def exit_code(self) -> int:
        return int(PROBE_EXIT_CODES[self.status])

    @property
    def passed(self) -> bool:
        """Every stage passed (healthy, or degraded: passed but slow)."""
        return self.status in ("healthy", "degraded")

    @property
    def finished_at(self) -> float:
        return self.started_at + self.duration_s


def config_error_result(message: str, *, target: str = "", canary: bool = False) -> ProbeResult:
    return ProbeResult(status="config_error", started_at=time.time(), duration_s=0.0,
                       target=target, embedded=not target, canary=canary, error=message)


def tool_error_result(error: RedcloudCheckError, *, stage: str | None = None, target: str = "",
                      canary: bool = False, embedded: bool = False,
                      started_at: float | None = None,
                      stages: tuple[StageResult, ...] = ()) -> ProbeResult:
    """The probe could not do its job (exit 3): a setting, or the webhook tunnel. Never an
    API verdict: the stages that ran are kept as they were. (A bug in redcloud-check is the
    command's internal error, exit 7.)"""
    started = time.time() if started_at is None else started_at
    where = f"the {stage} stage" if stage else "the probe"
    status: Status = "config_error" if isinstance(error, ConfigError) else "tool_error"
    message = str(error) if isinstance(error, ConfigError) else \
        f"redcloud-check could not run {where}: {type(error).__name__}: {error}"
    return ProbeResult(status=status, started_at=started,
                       duration_s=round(max(0.0, time.time() - started), 6), target=target,
                       embedded=embedded, stages=stages, canary=canary, error=message)


def _grade(stages: list[StageResult], duration: float,
           warn_ms: float | None) -> tuple[Status, list[StageResult]]:
    if any(s.verdict == "unreachable" for s in stages):
        return "unreachable", stages
    if any(s.verdict not in ("pass", "waived") for s in stages):
        return "unhealthy", stages
    if warn_ms is None:
        return "healthy", stages
    limit = warn_ms / 1000.0
    graded = [replace(s, slow=True) if s.latency is not None and s.latency.total > limit else s
              for s in stages]
    slow = duration > limit or any(s.slow for s in graded)
    return ("degraded" if slow else "healthy"), graded


def probe(rc: RunContext, *, canary: bool = False, warn_latency_ms: float | None = None,
          embedded: bool = False) -> ProbeResult:
    """Run the stages against `rc`'s target; stop at the first failure."""
    from redcloud_check.reporting.latency import endpoint_latency, medians

    names = READ_ONLY_STAGES + (CANARY if canary else ())
    started = time.time()
    t0 = time.perf_counter()
    stages: list[StageResult] = []
    ahead: dict[str, Alongside] = {}
    for name in names:
        blocker = rc.ledger.blocked_by(name)
        try:
            if blocker is None and name in TOGETHER and rc.settings.concurrency > 1:
                ahead.update({s: alongside(rc, s) for s in TOGETHER[name]})  # meanwhile
            done = ahead.pop(name).result() if name in ahead else None
            if blocker is not None:
                if done is not None:  # sent alongside a stage that failed: evidence still
                    rc.recorder.commit(done.made)
                stages.append(record(rc, StageResult(stage=name, verdict="blocked",
                                                     blocked_by=blocker,
                                                     title=blocked_reason(blocker))))
                continue
            stages.append(judge(rc, done if done is not None else attempt(rc, name)))
        except RedcloudCheckError as tool:  # the tool could not do the stage: not the API's
            for rest in ahead.values():
                _settled(rc, rest)
            return tool_error_result(tool, stage=name, target=without_userinfo(rc.client.base_url),
                                     canary=canary, embedded=embedded, started_at=started,
                                     stages=tuple(stages))
    duration = time.perf_counter() - t0
    status, graded = _grade(stages, duration, warn_latency_ms)
    unreachable = next((f"{s.stage}: {s.title}: {s.detail}" for s in graded
                        if s.verdict == "unreachable"), None)
    return ProbeResult(status=status, started_at=started, duration_s=round(duration, 6),
                       target=without_userinfo(rc.client.base_url), embedded=embedded,
                       stages=tuple(graded), canary=canary, warn_latency_ms=warn_latency_ms,
                       error=unreachable, waivers=rc.waivers.summary(),
                       latency_ms=medians(endpoint_latency(rc.recorder.all())))


def _settled(rc: RunContext, pending: Alongside) -> None:
    """A stage sent alongside one that stopped the probe: what it sent is evidence too (a
    tool error of its own committed its requests as it was raised; the probe reports the
    first tool error it met)."""
    with suppress(RedcloudCheckError):
        rc.recorder.commit(pending.result().made)


@contextmanager
def open_target(settings: Settings) -> Iterator[tuple[str, Any]]:
    """(base URL, the embedded simulator or None): RC_BASE_URL, or the simulator in-process."""
    if settings.base_url is not None:
        yield settings.base_url, None
        return
    from redcloud_check.simulator import Simulator

    with Simulator(faults=settings.sim_faults, variants=settings.sim_variants) as sim:
        yield sim.base_url, sim


def run_probe(settings: Settings, *, canary: bool = False,
              warn_latency_ms: float | None = None,
              waivers: WaiverBook | None = None) -> ProbeResult:
    """Probe the configured target (or the embedded simulator). Never raises for what the
    target does; the webhook session, when --canary started one, is always closed. Raises
    HandlerError when the embedded simulator or the canary's listener, code of ours, raised
    while serving: the stages' verdicts are then no finding about the API."""
    from redcloud_check.context import RunContext
    from redcloud_check.results.ledger import RunLedger
    from redcloud_check.webhooks.override_journal import recover_at_start, still_misrouted

    with open_target(settings) as (base_url, sim):
        ledger = RunLedger(waivers=waivers) if waivers is not None else None
        rc = RunContext.create(replace(settings, delivery_semantics=False), base_url,
                               ledger=ledger)
        try:
            recovery = recover_at_start(rc)  # an override a killed run left behind
            result = probe(rc, canary=canary, warn_latency_ms=warn_latency_ms,
                           embedded=sim is not None)
            result = replace(result, trace_id=rc.trace_id, recipients=rc.recipient_labels())
        finally:
            if rc.webhooks is not None:
                rc.webhooks.close()
            rc.client.close()
    for server in (sim, rc.webhooks):  # a bug of ours while serving is never a verdict on
        if server is not None:  # the API: HandlerError, exit 7 (cli.ended_by)
            server.check_handler_errors()
    misrouted = still_misrouted(rc)  # production webhooks go nowhere: unhealthy
    if misrouted:
        result = replace(result, status="unhealthy" if result.passed else result.status,
                         error="; ".join(p for p in (result.error, misrouted) if p))
    if recovery is not None:
        result = replace(result, override_recovery=recovery.detail)
    return result
