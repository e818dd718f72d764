"""The probe's stages: what each one requests, and how its outcome becomes its verdict.

    attempt(rc, stage) -> Attempt      run the stage; what its requests recorded is held
    alongside(rc, stage) -> Alongside  the same on another thread (whoami and numbers go
                                       together once the token is issued)
    judge(rc, attempt) -> StageResult  what it recorded committed (in stage order), its
                                       latency, its verdict diagnosed, recorded in the ledger

A CheckFailure or an unreachable target is the stage's verdict. The tool's own errors
(RedcloudCheckError, a bug) are not a verdict on the API: they propagate, from `attempt`
or from `Alongside.result`, after what the stage recorded is committed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from redcloud_check.core.errors import CheckFailure, TargetUnreachable
from redcloud_check.core.exchange import Exchange, Timings
from redcloud_check.results.catalog import spec_of_id
from redcloud_check.results.ledger import CheckResult, Outcome, Skip, SkipCode
from redcloud_check.rules import expect, gates  # jsonschema: ~50 ms of import
from redcloud_check.rules.stages import STAGES, stage_index

if TYPE_CHECKING:
    from redcloud_check.context import RunContext

__all__ = ["Alongside", "Attempt", "StageResult", "Verdict", "alongside", "attempt", "judge",
           "record"]

Verdict = Literal["pass", "fail", "unreachable", "blocked", "waived"]

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


def record(rc: RunContext, result: StageResult,
            problem: BaseException | None = None) -> StageResult:
    """The stage's gate result into the run's ledger (which blocks the later stages)."""
    spec = spec_of_id(STAGES[stage_index(result.stage)].gate_id)
    skip = Skip(SkipCode.BLOCKED, result.title or "") if result.verdict == "blocked" else None
    rc.ledger.record(CheckResult(spec, f"probe::{result.stage}", result.stage,
                                 _OUTCOMES[result.verdict], problem=problem, skip=skip,
                                 blocked_by=result.blocked_by))
    return replace(result, check_id=spec.id)


@dataclass(slots=True)
class Attempt:
    """A stage run: what its requests recorded (held until judged), its wall time, and the
    failure that is its verdict, if any."""

    stage: str
    made: list[Exchange] = field(default_factory=list)
    wall: float = 0.0
    failure: CheckFailure | TargetUnreachable | None = None


def attempt(rc: RunContext, stage: str) -> Attempt:
    """Run `stage`. The send stage first starts the webhook session (not timed unless it
    fails: its requests are then the stage's)."""
    done = Attempt(stage)
    t0 = time.perf_counter()
    with rc.recorder.holding() as made:
        try:
            if stage == "send":
                _start_webhooks(rc)
                rc.recorder.commit(made)
                made.clear()
                t0 = time.perf_counter()
            STAGE_FUNCTIONS[stage](rc)
        except (CheckFailure, TargetUnreachable) as error:
            done.failure = error
        except BaseException:
            rc.recorder.commit(made)  # what was sent is evidence, whatever stopped the stage
            raise
    done.made, done.wall = list(made), time.perf_counter() - t0
    return done


class Alongside:
    """`attempt(rc, stage)` on a thread of its own; `result()` waits for it."""

    def __init__(self, rc: RunContext, stage: str) -> None:
        self._outcome: Attempt | BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(rc, stage),
                                        name=f"rc-probe-{stage}", daemon=True)
        self._thread.start()

    def _run(self, rc: RunContext, stage: str) -> None:
        try:
            self._outcome = attempt(rc, stage)
        # Broad on purpose: the tool's own error in this thread is raised again by result()
        # on the probe's thread, never lost.
        except BaseException as error:
            self._outcome = error

    def result(self) -> Attempt:
        self._thread.join()
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        assert self._outcome is not None
        return self._outcome


def alongside(rc: RunContext, stage: str) -> Alongside:
    return Alongside(rc, stage)


def judge(rc: RunContext, done: Attempt) -> StageResult:
    """The attempt's verdict: its requests committed to the run's log, then a failure
    diagnosed with what the run established so far (as one stage after the other would)."""
    from redcloud_check.probe.waivers import settle

    rc.recorder.commit(done.made)
    latency = _latency(done.wall, done.made)
    if done.failure is not None:  # a waiver may accept the API's failure, never an unreachable
        return record(rc, settle(rc.waivers, _failed(rc, done.stage, latency, done.failure,
                                                     done.made),
                                 nonconformance=isinstance(done.failure, CheckFailure)),
                      done.failure)
    return record(rc, settle(rc.waivers, StageResult(
        stage=done.stage, verdict="pass", latency=latency,
        http_status=done.made[-1].status if done.made else None), nonconformance=False))
