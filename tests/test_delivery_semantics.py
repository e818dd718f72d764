"""Delivery behaviour (RC_DELIVERY_SEMANTICS): the listener refuses one event's first delivery
and stage 5 says whether, how soon and how the API retried it. Over real HTTP against the
simulator (retrying by default, never, or after seconds), then the analysis as pure functions:
what counts as an attempt, and what it says when a retry differs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from redcloud_check.context import RunContext
from redcloud_check.core.config import embedded_webhook_secret, load_settings
from redcloud_check.core.models import AcceptedMessage
from redcloud_check.reporting import webhook_evidence
from redcloud_check.reporting.html import delivery_behaviour_html
from redcloud_check.rules import gates
from redcloud_check.simulator import Simulator
from redcloud_check.webhooks.delivery_semantics import TITLE, describe, observe
from redcloud_check.webhooks.lifecycle import LifecycleReport, analyze
from redcloud_check.webhooks.listener import Delivery

from .webhook_support import accepted_send, event

REPO = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((REPO / "schemas/reports/escalation.schema.json").read_text("utf-8"))
SHAPE = Draft202012Validator({"$defs": SCHEMA["$defs"],
                              **SCHEMA["properties"]["webhooks"]["properties"][
                                  "deliverySemantics"]})


@contextmanager
def observed(tmp_path: Path, variants: tuple[str, ...], timeout: float, semantics: str = "1",
             gap_ms: int = 20
             ) -> Iterator[tuple[LifecycleReport, RunContext, AcceptedMessage, float]]:
    """One accepted send against the simulator with `variants` (its events `gap_ms` apart),
    its lifecycle awaited with RC_DELIVERY_SEMANTICS=`semantics`: (the report, the run, the
    message, when the wait returned)."""
    with Simulator(variants=variants, delivery_backoff_s=0.05, lifecycle_delay_ms=gap_ms) as sim:
        settings = load_settings(environ={"RC_REPORTS_DIR": str(tmp_path),
                                          "RC_DELIVERY_SEMANTICS": semantics})
        settings = embedded_webhook_secret(settings, sim.webhook_secret(settings.client_id))
        rc = RunContext.create(settings, sim.base_url)
        session = rc.open_webhooks()
        try:
            message = accepted_send(rc)
            report = session.wait_lifecycle(timeout=timeout)
            yield report, rc, message, time.time()
        finally:
            session.close()


def _semantics(rc: RunContext) -> dict[str, Any]:
    section = webhook_evidence.section(rc)
    assert section is not None
    semantics: dict[str, Any] = section["deliverySemantics"]
    assert list(SHAPE.iter_errors(semantics)) == []
    assert semantics == webhook_evidence.delivery_semantics(rc)
    return semantics


def _no_failure(report: LifecycleReport, timeout: float) -> None:
    assert [i for i in report.issues if i.severity == "fail"] == []
    gates.lifecycle_complete(report, timeout=timeout)  # the gate passes: nothing raised
    [info] = [i for i in report.issues if i.title == TITLE]
    assert info.severity == "info"


def test_a_retrying_api_is_retried_with_the_same_body_signed_afresh(tmp_path: Path) -> None:
    with observed(tmp_path, (), timeout=10) as (report, rc, message, returned_at):
        sem = _semantics(rc)
        deliveries = rc.webhooks.deliveries() if rc.webhooks else []
    assert sem["retried"] is True and sem["attempts"] == 2, sem
    assert sem["delaysMs"][0] >= 50  # the simulator's first backoff
    assert (sem["sameBody"], sem["sameSequence"], sem["freshSignature"]) == (True, True, True)
    assert sem["refused"] == sem["refused"] | {"messageId": message.message_id,
                                               "eventType": "message.queued", "sequence": 1,
                                               "status": 503}
    _no_failure(report, 10)
    assert report.complete and report.of("duplicate") == []  # the retry is no duplicate
    assert returned_at - message.accepted_at < 5  # settled by the retry, not the timeout
    refused, retry = deliveries[:2]
    assert refused.status_returned == 503 and refused.refused_on_purpose
    assert retry.accepted and retry.raw_body == refused.raw_body
    assert retry.timestamp != refused.timestamp


@pytest.mark.slow
def test_a_never_retrying_api_is_not_retried_and_nothing_is_missing(tmp_path: Path) -> None:
    with observed(tmp_path, ("no-delivery-retry",), timeout=1.5) as (report, rc, message,
                                                                     returned_at):
        sem = _semantics(rc)
    assert (sem["retried"], sem["attempts"], sem["delaysMs"], sem["movedOn"]) == (
        False, 1, [], True)
    assert (sem["sameBody"], sem["sameSequence"], sem["freshSignature"]) == (None, None, None)
    assert returned_at >= message.accepted_at + 1.5  # no retry: the whole window is watched
    assert sem["observedForMs"] >= 1000
    _no_failure(report, 1.5)
    assert report.complete  # the refused message.queued counts as received
    lifecycle = report.messages[0]
    assert [e["eventType"] for e in lifecycle.events] == ["message.queued", "message.sent",
                                                         "message.delivery"]


@pytest.mark.slow
def test_a_slowly_retrying_api_is_not_observed_within_a_short_timeout(tmp_path: Path) -> None:
    with observed(tmp_path, ("slow-delivery-retry",), timeout=1.0) as (report, rc, _, _):
        sem = _semantics(rc)
    assert (sem["retried"], sem["attempts"], sem["movedOn"]) == (None, 1, False), sem
    _no_failure(report, 1.0)
    assert not report.complete  # the later events wait behind the refused one...
    [held] = report.of("incomplete")
    assert held.severity == "info" and "RC_DELIVERY_SEMANTICS" in held.detail  # ...unjudged
    assert describe(sem).startswith("Not observed: message.queued seq 1")


@pytest.mark.slow
def test_a_retry_late_in_the_window_extends_it_for_what_it_held_back(tmp_path: Path) -> None:
    """The retry comes 3 s after the refusal, inside a 3.3 s window; the message's next
    events come 0.5 s apart after it, past the window: the refusal held them back 3 s, so
    the wait lasts 3 s longer, and they are judged (received, no failure)."""
    with observed(tmp_path, ("slow-delivery-retry",), timeout=3.3, gap_ms=500) as (
            report, rc, message, returned_at):
        sem = _semantics(rc)
        final_at = max(d.received_at for d in rc.webhooks.deliveries()) if rc.webhooks else 0
    assert (sem["retried"], sem["attempts"]) == (True, 2) and sem["delaysMs"][0] >= 3000
    assert report.complete, report.issues
    _no_failure(report, 3.3)
    assert final_at > message.accepted_at + 3.3  # the final came after the plain window
    assert returned_at - final_at < 1  # and the wait ended with it, not at the extension


def test_without_the_setting_nothing_is_refused_and_nothing_reported(tmp_path: Path) -> None:
    with observed(tmp_path, (), timeout=10, semantics="0") as (report, rc, _, _):
        section = webhook_evidence.section(rc)
        deliveries = rc.webhooks.deliveries() if rc.webhooks else []
    assert section is not None and "deliverySemantics" not in section
    assert webhook_evidence.delivery_semantics(rc) is None
    assert all(d.status_returned == 200 for d in deliveries)
    assert report.of("delivery") == [] and delivery_behaviour_html(None) == ""


def test_the_behaviour_is_rendered_in_the_ticket_the_terminal_and_html(tmp_path: Path) -> None:
    with observed(tmp_path, (), timeout=10) as (_, rc, _, _):
        section = webhook_evidence.section(rc)
    ticket = "\n".join(webhook_evidence.ticket_lines(section))
    terminal = "\n".join(webhook_evidence.terminal_lines(section))
    assert section is not None
    sentence = describe(section["deliverySemantics"])
    assert f"## {TITLE}\n\n{sentence}" in ticket and "- retried: yes" in ticket
    assert ticket.index(TITLE) < ticket.index("## Webhook evidence")
    assert f"webhook delivery behaviour: {sentence}" in terminal
    html = delivery_behaviour_html(section["deliverySemantics"])
    assert f"<h3>{TITLE}</h3>" in html and "<dt>attempts</dt><dd>2</dd>" in html


# -- the analysis as pure functions ---------------------------------------------------------

T0 = 1_700_000_000.0
QUEUED = event("msg_p", "message.queued", 1)
RAW = json.dumps(QUEUED).encode()


def _delivery(at: float, status: int, *, raw: bytes = RAW, timestamp: str = "1",
              verified: bool = True, scripted: int | None = None) -> Delivery:
    parsed = json.loads(raw) if verified else None
    return Delivery(T0 + at, "POST", "/webhooks/red-cloud", {}, len(raw), verified,
                    "signature ok" if verified else "invalid signature", status,
                    event=parsed, timestamp=timestamp, raw_body=raw, script_delivery=scripted)


REFUSED = _delivery(0, 503, timestamp="1000", scripted=1)


def test_a_retry_with_another_body_and_the_same_timestamp_is_said_so() -> None:
    changed = json.dumps({**QUEUED, "occurredAt": 1}).encode()
    retry = _delivery(0.25, 200, raw=changed, timestamp="1000", scripted=2)
    sem = observe([REFUSED, retry], now=T0 + 1, window_closed=False).as_dict()
    assert (sem["retried"], sem["delaysMs"], sem["sameBody"], sem["sameSequence"],
            sem["freshSignature"]) == (True, [250], False, True, False)
    assert "a different body" in describe(sem) and "not signed afresh" in describe(sem)
    # a retry with another body is no sequence violation: the refusal was not remembered
    message = AcceptedMessage("msg_p", "+15551234567", "order_789", "k", "num_abc123", T0,
                              None)
    report = analyze([message], [REFUSED, retry])
    assert report.of("sequence") == [] and len(report.messages[0].events) == 1


def test_an_unverified_retry_is_an_attempt_and_the_count_stops_at_the_accepted_one() -> None:
    unsigned = _delivery(0.1, 401, timestamp="1100", verified=False)
    accepted = _delivery(0.3, 200, timestamp="1300", scripted=2)
    redelivered = replace(accepted, received_at=T0 + 0.5, duplicate=True)
    sem = observe([REFUSED, unsigned, accepted, redelivered], now=T0 + 1,
                  window_closed=True).as_dict()
    assert (sem["attempts"], sem["delaysMs"], sem["freshSignature"]) == (3, [100, 200], True)


def test_no_refusal_yet_is_all_null() -> None:
    sem = observe([_delivery(0, 200)], now=T0, window_closed=True).as_dict()
    assert sem == {"retried": None, "attempts": 0, "delaysMs": [], "sameBody": None,
                   "sameSequence": None, "freshSignature": None, "movedOn": None,
                   "observedForMs": None, "refused": None}
    assert list(SHAPE.iter_errors(sem)) == []
    assert describe(sem).startswith("Nothing was refused")


def test_no_retry_before_the_window_closes_is_not_yet_false() -> None:
    sent = _delivery(0.1, 200, raw=json.dumps(event("msg_p", "message.sent", 2)).encode())
    assert observe([REFUSED, sent], now=T0 + 1, window_closed=False).retried is None
    assert observe([REFUSED, sent], now=T0 + 1, window_closed=True).retried is False
    assert observe([REFUSED], now=T0 + 1, window_closed=True).retried is None  # held
