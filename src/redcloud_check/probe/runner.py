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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from redcloud_check.core.config import Settings
from redcloud_check.core.errors import (
    CheckFailure,
    ConfigError,
    RedcloudCheckError,
    TargetUnreachable,
)
from redcloud_check.core.exchange import Exchange, Timings
from redcloud_check.core.exit_codes import PROBE_EXIT_CODES
from redcloud_check.core.stage_names import CANARY, STAGE_NAMES
from redcloud_check.core.urls import without_userinfo
from redcloud_check.core.waivers import WaiverBook
from redcloud_check.results.catalog import spec_of_id
from redcloud_check.results.ledger import CheckResult, Outcome, Skip, SkipCode
from redcloud_check.rules import expect, gates  # jsonschema: ~50 ms of import
from redcloud_check.rules.stages import STAGES, blocked_reason, stage_index

if TYPE_CHECKING:
    from redcloud_check.context import RunContext

Status = Literal["healthy", "degraded", "unhealthy", "config_error", "tool_error",
                 "unreachable"]
Verdict = Literal["pass", "fail", "unreachable", "blocked", "waived"]

READ_ONLY_STAGES = tuple(name for name in STAGE_NAMES if name not in CANARY)

WEBHOOKS = "5-troubleshooting.txt, Symptom: send request returns 202 but no delivery happens"


@dataclass(frozen=True, slots=True)
class StageResult:
    stage: str
    verdict: Verdict
    # seconds, summed over the stage's requests (the lifecycle stage: its wait); connect and
    # tls are None (requests hides them); first_byte is requests' `elapsed`
    latency: Timings | None = None
    http_status: int | None = None
    request_id: str | None = None  # on failure: from the CORE error wrapper or a header
    traceparent: str | None = None  # on failure: the W3C traceparent that request carried
    title: str | None = None  # on failure: what went wrong
    detail: str | None = None  # on failure: expected / actual
    clause: str | None = None  # on failure: the doc clause
    cause: str | None = None  # on failure: the diagnosis's cause id (what it leads with)
    diagnosis: str | None = None  # on failure: the cause and the next action, in words
    blocked_by: str | None = None
    slow: bool = False  # slower than --warn-latency-ms
    waiver: str | None = None  # waived (the reason), expired or stale: what a waiver made of it
    check_id: str | None = None  # the stage's gate check (the probe runs its gates only)


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


# -- the stages ------------------------------------------------------------------------------

def _token(rc: RunContext) -> None:
    gates.token_issued(rc, "probe: token (HTTP Basic)")


def _whoami(rc: RunContext) -> None:
    gates.client_active(rc, "probe: whoami")


def _numbers(rc: RunContext) -> None:
    gates.number_usable(rc, "probe: numbers")


def _send(rc: RunContext) -> None:
    key = rc.idempotency_key("probe-canary")
    reference = f"rccheck-probe-{rc.run_id}"[:100]
    payload = {"sendFrom": rc.settings.number_id, "to": [rc.settings.to], "messageType": "SMS",
               "text": f"redcloud-check probe canary {rc.run_id}", "externalReference": reference}
    exchange = rc.core("POST", "/api/core/messages/send", json=payload,
                       headers={"Idempotency-Key": key}, label="probe: canary send")
    gates.sms_accepted(rc, exchange, payload, key)


def _start_webhooks(rc: RunContext) -> None:
    """Listener, exposure and (override mode) the number's webhook override, before the send:
    a canary whose events cannot reach us is not sent."""
    from redcloud_check.webhooks.override import SAFETY

    if rc.ledger.misrouted:  # a second override would take the dead listener for the original
        raise expect.fail("A webhook override is left misrouted; no canary was sent",
                          expected="the override a killed run left restored first",
                          actual=rc.ledger.misrouted, clause=SAFETY)
    status = rc.open_webhooks().override_status
    if status is not None and not status.ok:
        raise expect.fail("The webhook override did not take effect; no canary was sent",
                          expected=f"webhookDeliveryOverride {status.target!r}",
                          actual=status.detail, clause=WEBHOOKS, exchange=status.exchange)


def _webhooks(rc: RunContext) -> None:
    session = rc.webhooks
    if session is None:  # started by the send stage, which must pass first
        raise RuntimeError("the webhook session was not started")
    report = session.wait_lifecycle(list(rc.accepted), rc.settings.webhook_timeout)
    gates.lifecycle_complete(report, timeout=rc.settings.webhook_timeout,
                             public_url=session.public_url)


STAGE_FUNCTIONS: dict[str, Callable[[RunContext], None]] = {
    "token": _token, "whoami": _whoami, "numbers": _numbers,
    "send": _send, "webhooks": _webhooks,
}


# -- running ---------------------------------------------------------------------------------

def _latency(wall: float, exchanges: list[Exchange]) -> Timings:
    """HTTP time of the stage's requests (its wall time when it made none: the lifecycle
    wait); schema validation and imports are not latency of the target."""
    total = sum(e.timings.total for e in exchanges) if exchanges else wall
    firsts = [e.timings.first_byte for e in exchanges]
    first = sum(f for f in firsts if f is not None) if firsts and None not in firsts else None
    return Timings(total=round(total, 6), first_byte=None if first is None else round(first, 6))


def _failed(rc: RunContext, stage: str, latency: Timings, error: CheckFailure | TargetUnreachable,
            made: list[Exchange]) -> StageResult:
    """The stage's verdict on a failure, diagnosed by the one pipeline."""
    from redcloud_check.reporting.diagnosis import diagnose, one_line
    from redcloud_check.reporting.ruled_out import facts_from

    if isinstance(error, CheckFailure):
        exchange = error.exchange or (made[-1] if made else None)
        verdict: Verdict = "fail"
        title, clause = error.title, error.clause
        detail = f"expected {error.expected}; actual {error.actual}"
    else:
        exchange, verdict, clause = None, "unreachable", None
        title, detail = f"No HTTP answer ({error.kind})", error.detail
    diagnosis = diagnose(error, stage=stage, exchange=exchange, timeout=rc.settings.timeout,
                         facts=facts_from(rc.recorder.all(), rc.settings.number_id))
    status = exchange.status if exchange is not None else None
    return StageResult(
        stage=stage, verdict=verdict, latency=latency, http_status=status,
        request_id=exchange.request_id if exchange is not None and status else None,
        traceparent=exchange.traceparent if exchange is not None else None,
        title=title, detail=detail, clause=clause, cause=diagnosis.lead.cause,
        diagnosis=one_line(diagnosis))


_OUTCOMES: dict[str, Outcome] = {"pass": Outcome.PASSED, "fail": Outcome.FAILED,
                                 "unreachable": Outcome.FAILED, "waived": Outcome.WAIVED,
                                 "blocked": Outcome.BLOCKED}


def _record(rc: RunContext, result: StageResult,
            problem: BaseException | None = None) -> StageResult:
    """The stage's gate result into the run's ledger (which blocks the later stages)."""
    spec = spec_of_id(STAGES[stage_index(result.stage)].gate_id)
    skip = Skip(SkipCode.BLOCKED, result.title or "") if result.verdict == "blocked" else None
    rc.ledger.record(CheckResult(spec, f"probe::{result.stage}", result.stage,
                                 _OUTCOMES[result.verdict], problem=problem, skip=skip,
                                 blocked_by=result.blocked_by))
    return replace(result, check_id=spec.id)


def run_stage(rc: RunContext, stage: str) -> StageResult:
    """Run one stage; a CheckFailure or an unreachable target is its verdict, recorded in
    the run's ledger. The tool's own errors (RedcloudCheckError, a bug) are not a verdict on
    the API: they propagate. The send stage first starts the webhook session (not timed
    unless it fails)."""
    before, t0 = len(rc.recorder.all()), time.perf_counter()
    failure: CheckFailure | TargetUnreachable | None = None
    try:
        if stage == "send":
            _start_webhooks(rc)
            before, t0 = len(rc.recorder.all()), time.perf_counter()
        STAGE_FUNCTIONS[stage](rc)
    except (CheckFailure, TargetUnreachable) as error:
        failure = error
    made = rc.recorder.all()[before:]
    latency = _latency(time.perf_counter() - t0, made)
    from redcloud_check.probe.waivers import settle

    if failure is not None:  # a waiver may accept the API's failure, never an unreachable one
        return _record(rc, settle(rc.waivers, _failed(rc, stage, latency, failure, made),
                                  nonconformance=isinstance(failure, CheckFailure)), failure)
    return _record(rc, settle(rc.waivers, StageResult(
        stage=stage, verdict="pass", latency=latency,
        http_status=made[-1].status if made else None), nonconformance=False))


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
    for name in names:
        blocker = rc.ledger.blocked_by(name)
        if blocker is not None:
            stages.append(_record(rc, StageResult(stage=name, verdict="blocked",
                                                  blocked_by=blocker,
                                                  title=blocked_reason(blocker))))
            continue
        try:
            result = run_stage(rc, name)
        except RedcloudCheckError as tool:  # the tool could not do the stage: not the API's
            return tool_error_result(tool, stage=name, target=without_userinfo(rc.client.base_url),
                                     canary=canary, embedded=embedded, started_at=started,
                                     stages=tuple(stages))
        stages.append(result)
    duration = time.perf_counter() - t0
    status, graded = _grade(stages, duration, warn_latency_ms)
    unreachable = next((f"{s.stage}: {s.title}: {s.detail}" for s in graded
                        if s.verdict == "unreachable"), None)
    return ProbeResult(status=status, started_at=started, duration_s=round(duration, 6),
                       target=without_userinfo(rc.client.base_url), embedded=embedded,
                       stages=tuple(graded), canary=canary, warn_latency_ms=warn_latency_ms,
                       error=unreachable, waivers=rc.waivers.summary(),
                       latency_ms=medians(endpoint_latency(rc.recorder.all())))


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
        rc = RunContext.create(replace(settings, delivery_semantics=False), base_url, ledger=ledger)
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
