"""The scheduled production health probe: token, whoami, numbers (+ one canary send).

    run_probe(settings, canary=False, warn_latency_ms=None) -> ProbeResult

The read-only path makes three requests: POST /api/auth/token (HTTP Basic), GET
/api/core/whoami (the client is ACTIVE), GET /api/core/numbers (RC_NUMBER_ID is listed,
ACTIVE and smsEnabled). `canary=True` adds one send to RC_TO and waits for its lifecycle
through the webhook session (which installs and restores the number's webhook override).
The probe never runs negative or mutating checks. It stops at the first failed stage; the
later stages are reported "blocked by <stage>". With no RC_BASE_URL it probes the embedded
simulator, started in-process.

Plain module: no pytest, no checks; the assertions are `redcloud_check.rules.expect`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from redcloud_check.core.config import Settings
from redcloud_check.core.errors import CheckFailure, RedcloudCheckError, TargetUnreachable
from redcloud_check.core.exchange import Exchange, Timings
from redcloud_check.core.urls import bracket_host
from redcloud_check.core.waivers import WaiverBook
from redcloud_check.rules import expect, gates  # jsonschema: ~50 ms of import
from redcloud_check.rules.stages import GateBoard

if TYPE_CHECKING:
    from redcloud_check.context import RunContext

Status = Literal["healthy", "degraded", "unhealthy", "config_error", "unreachable"]
Verdict = Literal["pass", "fail", "unreachable", "blocked", "waived"]

EXIT_CODES: dict[str, int] = {
    "healthy": 0, "unhealthy": 1, "degraded": 2, "config_error": 3, "unreachable": 4,
}
READ_ONLY_STAGES = ("token", "whoami", "numbers")
CANARY_STAGES = ("send", "webhooks")

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
    title: str | None = None  # on failure: what went wrong
    detail: str | None = None  # on failure: expected / actual
    clause: str | None = None  # on failure: the doc clause
    diagnosis: str | None = None  # on failure: likely cause and next action
    blocked_by: str | None = None
    slow: bool = False  # slower than --warn-latency-ms
    waiver: str | None = None  # waived (the reason), expired or stale: what a waiver made of it


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
    error: str | None = None  # config_error / unreachable: what and why
    waivers: dict[str, Any] | None = None  # RC_WAIVERS: waived, expired, stale
    latency_ms: dict[str, float] | None = None  # median per endpoint (history.jsonl)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

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


def public_target(base_url: str) -> str:
    """The URL without any user:password part."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    netloc = bracket_host(host) + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


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
    from redcloud_check.webhooks.override import recover_from_journal
    from redcloud_check.webhooks.session import WebhookSession

    recover_from_journal(rc)  # an override a killed canary run left behind
    rc.webhooks = WebhookSession(rc)
    rc.webhooks.start()
    status = rc.webhooks.override_status
    if status is not None and not status.ok:
        raise expect.fail("The webhook override did not take effect; no canary was sent",
                          expected=f"webhookDeliveryOverride {status.target!r}",
                          actual=status.detail, clause=WEBHOOKS, exchange=status.exchange)


def _webhooks(rc: RunContext) -> None:
    session = rc.webhooks
    if session is None:  # started by the send stage, which must pass first
        raise RuntimeError("the webhook session was not started")
    report = session.wait_lifecycle(list(rc.accepted), rc.settings.webhook_timeout)
    if report.complete:
        return
    missing = "; ".join(f"{m.message_id}: missing {', '.join(m.missing)}"
                        for m in report.messages if m.missing)
    why = report.diagnosis
    raise expect.fail("The canary's lifecycle was not confirmed",
                      expected="message.queued, message.sent and a final event within "
                               f"{rc.settings.webhook_timeout:g} s (RC_WEBHOOK_TIMEOUT)",
                      actual=f"{missing} ({report.received} requests reached the listener, "
                             f"{report.verified} verified)", clause=WEBHOOKS,
                      diagnosis=None if why is None else
                      f"{why.detail} -> {why.next_action} ({why.clause})")


STAGE_FUNCTIONS: dict[str, Callable[[RunContext], None]] = {
    "token": _token, "whoami": _whoami, "numbers": _numbers,
    "send": _send, "webhooks": _webhooks,
}


# -- diagnosis -------------------------------------------------------------------------------

def diagnose(stage: str, *, status: int | None, error_kind: str | None = None,
             exchange: Exchange | None = None, url: str = "", timeout: float | None = None,
             ) -> str:
    """Likely causes and next action: `redcloud_check.reporting.diagnosis` (data-driven, from the
    troubleshooting guide) when it is installed, else a short built-in pointer to the guide."""
    body = exchange.json_or_none() if exchange is not None and exchange.response_body else None
    where = exchange.url if exchange is not None else url
    try:
        from redcloud_check.reporting.diagnosis import Observation
        from redcloud_check.reporting.diagnosis import diagnose as lookup
    except ImportError:  # a trimmed install: point at the guide
        if error_kind is not None:
            return f"no HTTP answer ({error_kind}): check RC_BASE_URL, the network and RC_TIMEOUT"
        return f"see 5-troubleshooting.txt, the {stage} step of the fastest debugging order"
    found = lookup(Observation(
        failure="unreachable" if error_kind else "check", stage=stage, status=status,
        kind=error_kind, error_code=_error_code(body),
        body_json=None if exchange is None or not exchange.response_body else body is not None,
        url=public_target(where) if where else "",
        endpoint=exchange.endpoint if exchange is not None else "",
        timeout=f"{timeout:g} s" if timeout is not None else ""))
    causes = "; ".join(found.likely_causes)
    return (f"{causes + ' -> ' if causes else ''}{found.next_action} ({found.section})"
            + (f". {found.note}" if found.note else ""))


def _error_code(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else error
    return code if isinstance(code, str) else None


# -- running ---------------------------------------------------------------------------------

def _latency(wall: float, exchanges: list[Exchange]) -> Timings:
    """HTTP time of the stage's requests (its wall time when it made none: the lifecycle
    wait); schema validation and imports are not latency of the target."""
    total = sum(e.timings.total for e in exchanges) if exchanges else wall
    firsts = [e.timings.first_byte for e in exchanges]
    first = sum(f for f in firsts if f is not None) if firsts and None not in firsts else None
    return Timings(total=round(total, 6), first_byte=None if first is None else round(first, 6))


def _failed(stage: str, latency: Timings, *, verdict: Verdict, exchange: Exchange | None,
            title: str, detail: str, clause: str | None, diagnosis: str | None = None,
            **context: Any) -> StageResult:
    status = exchange.status if exchange is not None else None
    return StageResult(
        stage=stage, verdict=verdict, latency=latency, http_status=status,
        request_id=exchange.request_id if exchange is not None and status else None,
        title=title, detail=detail, clause=clause,
        diagnosis=diagnosis or diagnose(stage, status=status, exchange=exchange, **context))


def run_stage(rc: RunContext, stage: str) -> StageResult:
    """Run one stage; a CheckFailure, an unreachable target or a tool error is its verdict.
    The send stage first starts the webhook session (not timed unless it fails)."""
    before, t0 = len(rc.recorder.all()), time.perf_counter()
    failed: dict[str, Any] | None = None
    nonconformance = False  # a waiver may accept this failure
    try:
        if stage == "send":
            _start_webhooks(rc)
            before, t0 = len(rc.recorder.all()), time.perf_counter()
        STAGE_FUNCTIONS[stage](rc)
    except CheckFailure as failure:
        nonconformance = True
        made = rc.recorder.all()[before:]
        failed = {"verdict": "fail", "exchange": failure.exchange or (made[-1] if made else None),
                  "title": failure.title, "clause": failure.clause,
                  "detail": f"expected {failure.expected}; actual {failure.actual}",
                  "diagnosis": failure.details.get("diagnosis")}
    except TargetUnreachable as error:
        failed = {"verdict": "unreachable", "exchange": None, "clause": None,
                  "title": f"No HTTP answer ({error.kind})", "detail": error.detail,
                  "error_kind": error.kind, "url": error.url, "timeout": rc.settings.timeout}
    except (RedcloudCheckError, ImportError) as error:
        failed = {"verdict": "fail", "exchange": None, "clause": None,
                  "title": f"The probe could not run the {stage} stage",
                  "detail": f"{type(error).__name__}: {error}"}
    made = rc.recorder.all()[before:]
    latency = _latency(time.perf_counter() - t0, made)
    from redcloud_check.probe.waivers import settle

    if failed is not None:
        return settle(rc.waivers, _failed(stage, latency, **failed),
                      nonconformance=nonconformance)
    return settle(rc.waivers, StageResult(stage=stage, verdict="pass", latency=latency,
                                          http_status=made[-1].status if made else None),
                  nonconformance=False)


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

    names = READ_ONLY_STAGES + (CANARY_STAGES if canary else ())
    started = time.time()
    t0 = time.perf_counter()
    stages: list[StageResult] = []
    for name in names:
        blocker = rc.gates.blocked_by(name)
        if blocker is not None:
            stages.append(StageResult(stage=name, verdict="blocked", blocked_by=blocker,
                                      title=GateBoard.skip_reason(blocker)))
            continue
        result = run_stage(rc, name)
        stages.append(result)
        if result.verdict not in ("pass", "waived"):
            rc.gates.fail(name, result.title or result.verdict)
    duration = time.perf_counter() - t0
    status, graded = _grade(stages, duration, warn_latency_ms)
    error = next((f"{s.stage}: {s.title}: {s.detail}" for s in graded
                  if s.verdict == "unreachable"), None)
    return ProbeResult(status=status, started_at=started, duration_s=round(duration, 6),
                       target=public_target(rc.client.base_url), embedded=embedded,
                       stages=tuple(graded), canary=canary, warn_latency_ms=warn_latency_ms,
                       error=error, waivers=rc.waivers.summary(),
                       latency_ms=medians(endpoint_latency(rc.recorder.all())))


@contextmanager
def _target(settings: Settings) -> Iterator[tuple[str, Any]]:
    """(base URL, the embedded simulator or None) for the run."""
    if settings.base_url is not None:
        yield settings.base_url, None
        return
    from redcloud_check.simulator import Simulator

    with Simulator(faults=settings.sim_faults) as sim:
        yield sim.base_url, sim


def run_probe(settings: Settings, *, canary: bool = False,
              warn_latency_ms: float | None = None,
              waivers: WaiverBook | None = None) -> ProbeResult:
    """Probe the configured target (or the embedded simulator). Never raises for what the
    target does; the webhook session, when --canary started one, is always closed."""
    from redcloud_check.context import RunContext

    with _target(settings) as (base_url, sim):
        rc = RunContext.create(settings, base_url)
        if waivers is not None:
            rc.waivers = waivers
        try:
            result = probe(rc, canary=canary, warn_latency_ms=warn_latency_ms,
                           embedded=sim is not None)
        finally:
            if rc.webhooks is not None:
                rc.webhooks.close()
            rc.client.close()
    restore = getattr(rc.webhooks, "restore_result", None)
    if restore is not None and not restore.restored:  # production webhooks may be misrouted
        result = replace(result, status="unhealthy" if result.passed else result.status,
                         error=f"the webhook override of {restore.number_id} was not restored: "
                               f"{restore.detail}")
    return result
