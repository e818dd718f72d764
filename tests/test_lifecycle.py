"""Lifecycle analysis as pure functions over recorded deliveries: every diagnosis branch,
every issue kind, the timeline rows."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from redcloud_check.context import RunContext
from redcloud_check.core.config import embedded_webhook_secret, load_settings
from redcloud_check.core.models import AcceptedMessage
from redcloud_check.core.signing import sign
from redcloud_check.simulator import Simulator
from redcloud_check.webhooks.delivery_view import timeline
from redcloud_check.webhooks.lifecycle import (
    LifecycleReport,
    ReceiptContext,
    analyze,
    lifecycle_done,
)
from redcloud_check.webhooks.listener import Delivery
from redcloud_check.webhooks.session import WebhookSession
from redcloud_check.webhooks.signature_doctor import examine

from .webhook_support import accepted_send, event

NOW = time.time()
MSG = AcceptedMessage("msg_1", "+15551234567", "order_789", "idem", "num_abc123", NOW, None,
                      api_client_id="rc_test_client_123", send_from_e164="+15551234567")
SECRET = "test_webhook_secret_9f2c"
KEYS = {"RC_WEBHOOK_SECRET": SECRET, "RC_CLIENT_SECRET": "rc_secret_abc123"}
CTX = ReceiptContext(public_url="https://abc.ngrok.app/webhooks/red-cloud", override_ok=True,
                     override_detail="webhookDeliveryOverride set and verified")


def ok(payload: dict[str, Any], *, at: float = 0.1, duplicate: bool = False,
       warnings: tuple[str, ...] = ()) -> Delivery:
    return Delivery(NOW + at, "POST", "/webhooks/red-cloud", {}, 300, True,
                    "duplicate" if duplicate else "signature ok", 200, event=payload,
                    duplicate=duplicate, warnings=warnings)


def rejected(reason: str, status: int = 401, *, path: str = "/webhooks/red-cloud") -> Delivery:
    return Delivery(NOW + 0.1, "POST", path, {}, 300, False, reason, status)


def lifecycle(final: str = "message.delivery", final_data: dict[str, Any] | None = None,
              **kw: Any) -> list[Delivery]:
    """queued, sent, `final` for msg_1; `kw` changes every event, `final_data` the final."""
    kinds = ("message.queued", "message.sent", final)
    return [ok(event("msg_1", k, i + 1, **{**kw, **(final_data or {})} if k == final else kw),
               at=0.1 * (i + 1)) for i, k in enumerate(kinds)]


def test_a_complete_clean_lifecycle_has_no_failures_and_no_diagnosis() -> None:
    report = analyze([MSG], lifecycle(), CTX)
    assert report.complete and report.cause is None
    assert [i for i in report.issues if i.severity == "fail"] == []
    (lc,) = report.messages
    assert [e["sequence"] for e in lc.events] == [1, 2, 3]
    assert lc.final is not None and lc.final["eventType"] == "message.delivery"


def test_a_failed_final_is_complete_but_a_warning_with_its_error() -> None:
    deliveries = lifecycle("message.failed", final_data={
        "error": {"code": "CARRIER_REJECTED", "message": "rejected"}})
    report = analyze([MSG], deliveries, CTX)
    assert report.complete and report.cause is None
    (warning,) = report.of("failed-final")
    assert warning.severity == "warning" and "CARRIER_REJECTED" in warning.detail


def test_nothing_received_names_the_url_and_the_override() -> None:
    report = analyze([MSG], [], CTX)
    assert not report.complete
    assert report.cause is not None and report.cause.id == "no-requests"
    assert "https://abc.ngrok.app/webhooks/red-cloud" in report.cause.detail
    assert "set and verified" in report.cause.detail
    assert "no webhook events arrive" in report.cause.clause


def test_nothing_received_after_an_ignored_override_blames_the_override() -> None:
    ctx = ReceiptContext(public_url="http://127.0.0.1:9/webhooks/red-cloud", override_ok=False,
                         override_detail="stored value unchanged after PATCH")
    cause = analyze([MSG], [], ctx).cause
    assert cause is not None and cause.id == "override-ignored"
    assert "stored value unchanged" in cause.detail


def test_requests_at_another_path_are_a_wrong_path() -> None:
    report = analyze([MSG], [rejected("not the webhook path", 404, path="/hooks")], CTX)
    assert report.cause is not None and report.cause.id == "wrong-path"
    assert "/hooks" in report.cause.detail


def test_missing_headers_are_named() -> None:
    deliveries = [rejected("missing signing headers: X-RedCloud-Signature", 400)] * 3
    report = analyze([MSG], deliveries, CTX)
    assert report.cause is not None and report.cause.id == "missing-headers"
    (issue,) = report.failures("signature")
    assert issue.detail.startswith("3 request(s)")


def _signed(signature: Callable[[bytes, str], str], n: int = 3) -> list[Delivery]:
    """`n` failing deliveries of msg_1's events, signed by `signature(raw, timestamp)`."""
    out = []
    for i, kind in enumerate(("message.queued", "message.sent", "message.delivery")[:n]):
        raw = json.dumps(event("msg_1", kind, i + 1), separators=(",", ":")).encode()
        ts = str(int((NOW + i) * 1000))
        out.append(Delivery(NOW + 0.1 * (i + 1), "POST", "/webhooks/red-cloud",
                            {"x-redcloud-timestamp": ts, "x-redcloud-signature":
                             signature(raw, ts), "content-type": "application/json",
                             "content-length": str(len(raw))},
                            len(raw), False, "invalid signature", 401, timestamp=ts,
                            raw_body=raw))
    return out


def _examined(deliveries: list[Delivery]) -> ReceiptContext:
    return replace(CTX, forensics=examine(deliveries, KEYS))


def test_body_only_hmac_is_told_apart_from_a_wrong_secret() -> None:
    deliveries = _signed(lambda raw, _: hmac.new(SECRET.encode(), raw, hashlib.sha256)
                         .hexdigest())
    cause = analyze([MSG], deliveries, _examined(deliveries)).cause
    assert cause is not None and (cause.id, cause.side) == ("hmac-body-only", "api")


def test_no_combination_verifying_is_unknown_with_what_would_decide_it() -> None:
    deliveries = _signed(lambda raw, ts: sign("somebody_elses_secret", ts, raw))
    report = analyze([MSG], deliveries, _examined(deliveries))
    cause = report.cause
    assert cause is not None and (cause.id, cause.side) == ("signature-unexplained", "unknown")
    assert re.search(r"none of the \d+ combinations tried on each verifies", cause.detail)
    assert cause.decide.startswith("whether RC_WEBHOOK_SECRET is, character for character")
    assert "again" not in cause.next_action  # no advice to re-copy a secret nothing points at
    assert any(e.startswith("tried on each delivery, bodies:") for e in cause.evidence)
    assert report.failures("signature") and report.failures("incomplete")


def test_without_the_doctor_a_failing_signature_is_still_unexplained_not_blamed() -> None:
    cause = analyze([MSG], [rejected("invalid signature")] * 3, CTX).cause
    assert cause is not None and (cause.id, cause.side) == ("signature-unexplained", "unknown")


@pytest.mark.parametrize(("clock", "whose"), [
    ((0.4, "the API's Date header is +0 s from this machine's clock (GET /x)"),
     "the clocks agree, so the timestamps are off at the sender"),
    ((-240.0, "the API's Date header is -240 s from this machine's clock (GET /x)"),
     "this machine's clock may be the one that is off"),
    (None, "whose clock is off is open"),
])
def test_a_timestamp_far_from_the_clock_is_a_warning_saying_whose_clock(
        clock: tuple[float, str] | None, whose: str) -> None:
    stale = "timestamp outside tolerance (+600 s from receipt, tolerance 300 s)"
    verified = [ok(e, at=0.1 * i, warnings=(stale,)) for i, e in enumerate(
        d.event for d in lifecycle() if d.event is not None)]
    old = str(int((NOW - 600) * 1000))
    unverified = [replace(d, timestamp=old, headers={**d.headers, "x-redcloud-timestamp": old})
                  for d in _signed(lambda raw, ts: sign("not ours", ts, raw), n=1)]
    report = analyze([MSG], verified + unverified, replace(CTX, api_clock=clock))
    assert report.complete and not report.failures("timestamp")
    warnings = report.of("timestamp", "warning")
    assert [w.detail.split(":")[0] for w in warnings] == ["3 delivery(ies)", "1 delivery(ies)"]
    assert "signature unverified" in warnings[1].detail
    assert all(whose in w.detail and "the docs name no tolerance" in w.detail
               for w in warnings)


def test_events_without_message_ids_are_malformed() -> None:
    deliveries = []
    for payload in (e for e in (d.event for d in lifecycle()) if e):
        del payload["messageId"], payload["data"]["messageId"]
        deliveries.append(ok(payload))
    report = analyze([MSG], deliveries, CTX)
    assert report.cause is not None and report.cause.id == "malformed"
    assert report.failures("schema") and report.failures("ids")
    assert not report.complete


def test_a_wrong_final_event_type_is_unlisted_and_the_lifecycle_incomplete() -> None:
    report = analyze([MSG], lifecycle("message.delivered"), CTX)
    assert report.cause is not None and report.cause.id == "incomplete"
    assert report.failures("schema") == []  # an unlisted type is never a schema failure
    assert "message.delivered (not a listed type)" in report.failures("incomplete")[0].detail
    (shown,) = report.of("unlisted")
    assert shown.severity == "info" and "message.delivered x1" in shown.detail


def test_an_unlisted_event_type_is_shown_and_disturbs_nothing() -> None:
    q, s, d = lifecycle()
    extra = ok(event("msg_1", "message.carrier_update", 3, status="whatever"), at=0.25)
    final = ok(event("msg_1", "message.delivery", 4), at=0.3)
    report = analyze([MSG], [q, s, extra, final], CTX)
    assert report.complete and report.cause is None, report.issues
    assert [i for i in report.issues if i.severity == "fail"] == []
    assert [i.kind for i in report.issues] == ["unlisted"]
    assert report.messages[0].arrival[2] == "message.carrier_update (not a listed type)"
    del d


def test_an_unlisted_event_sharing_a_sequence_is_not_a_sequence_violation() -> None:
    q, s, d = lifecycle()
    extra = ok(event("msg_1", "message.read", 3), at=0.35)
    report = analyze([MSG], [q, s, d, extra], CTX)
    assert report.cause is None and report.failures("sequence") == []


def test_a_final_event_reusing_an_earlier_sequence_is_kept_and_a_sequence_violation() -> None:
    q, s, _ = lifecycle()
    final = ok(event("msg_1", "message.delivery", 2), at=0.3)
    report = analyze([MSG], [q, s, final], CTX)
    assert report.complete  # the final event is not dropped as a "duplicate"
    assert report.cause is not None and report.cause.id == "sequence-reused"
    (reuse,) = report.failures("sequence")
    assert reuse.title == "Two different events share one (messageId, sequence)"
    assert "sequence 2 is used by message.sent and message.delivery" in reuse.detail
    assert "inspect the delivery logs" not in report.cause.next_action


def test_two_different_bodies_of_one_event_type_under_one_sequence_are_a_violation() -> None:
    q, s, d = lifecycle()
    changed = ok(event("msg_1", "message.sent", 2, to="+15550000000"), at=0.25)
    report = analyze([MSG], [q, s, changed, d], CTX)
    assert "sequence 2 is used by message.sent and message.sent" in \
        report.failures("sequence")[0].detail


def test_a_missing_final_event_is_incomplete_naming_what_is_missing() -> None:
    report = analyze([MSG], lifecycle()[:2], CTX)
    assert report.cause is not None and report.cause.id == "incomplete"
    assert "message.delivery or message.failed" in report.cause.detail


def test_only_the_first_event_arriving_is_no_proof_against_the_api() -> None:
    """message.queued alone: the rest may still be on its way, so the side stays unknown;
    message.sent missing while the final arrived is a step the API skipped."""
    q, _, d = lifecycle()
    first_only = analyze([MSG], [q], CTX).cause
    assert first_only is not None and first_only.id == "incomplete"
    assert first_only.side == "unknown" and "an earlier one never came" not in \
        first_only.next_action
    skipped = analyze([MSG], [q, d], CTX).cause
    assert skipped is not None and skipped.side == "api"
    assert "an earlier one never came" in skipped.next_action


def test_a_sequence_regression_fails_the_sequence_check() -> None:
    deliveries = [ok(event("msg_1", "message.queued", 2)), ok(event("msg_1", "message.sent", 1)),
                  ok(event("msg_1", "message.delivery", 3))]
    report = analyze([MSG], deliveries, CTX)
    assert report.complete
    assert report.cause is not None and report.cause.id == "sequence"
    assert "message.queued 2, message.sent 1" in report.failures("sequence")[0].detail


def test_a_wrong_external_reference_fails_the_ids_check() -> None:
    report = analyze([MSG], lifecycle(external_reference="someone_else"), CTX)
    assert report.cause is not None and report.cause.id == "ids"
    assert "someone_else" in report.failures("ids")[0].detail


def test_out_of_order_arrival_and_duplicates_are_info_only() -> None:
    q, s, d = lifecycle()
    report = analyze([MSG], [s, q, ok(q.event or {}, duplicate=True), d], CTX)
    assert report.complete and report.cause is None
    assert {i.kind for i in report.issues} == {"order", "duplicate"}
    assert all(i.severity == "info" for i in report.issues)


def test_a_stale_timestamp_is_a_warning() -> None:
    deliveries = lifecycle()
    deliveries[0] = ok(deliveries[0].event or {}, warnings=("timestamp outside tolerance",))
    report = analyze([MSG], deliveries, CTX)
    assert report.cause is None
    assert [i.severity for i in report.of("timestamp")] == ["warning"]


def test_a_signed_non_json_body_is_a_schema_failure() -> None:
    bad = Delivery(NOW, "POST", "/webhooks/red-cloud", {}, 5, True, "body is not a JSON object",
                   400)
    report = analyze([MSG], [bad, *lifecycle()], CTX)
    assert report.complete and report.failures("schema")


def test_events_for_other_messages_are_info() -> None:
    report = analyze([MSG], [*lifecycle(), ok(event("msg_other", "message.queued", 1))], CTX)
    assert report.cause is None
    assert report.of("unexpected")[0].severity == "info"


@pytest.mark.parametrize("final_only", [True, False])
def test_lifecycle_done_predicate(final_only: bool) -> None:
    done = lifecycle_done([MSG], final_only=final_only)
    q, s, d = lifecycle()
    assert not done([q, s])
    assert done([q, s, d])
    assert done([d]) is final_only


def test_timeline_rows_have_offsets_and_mark_unverified_requests() -> None:
    q, s, d = lifecycle()
    rows = timeline(MSG, [q, rejected("invalid signature"), s, ok(s.event or {}, duplicate=True),
                          d])
    assert [r["eventType"] for r in rows] == ["message.queued", None, "message.sent",
                                              "message.sent", "message.delivery"]
    assert [r["verified"] for r in rows] == [True, False, True, True, True]
    assert rows[3]["note"] == "duplicate" and "invalid signature" in rows[1]["note"]
    assert rows[0]["offset_ms"] == pytest.approx(100, abs=1)
    assert set(rows[0]) == {"offset_ms", "eventType", "sequence", "verified", "note"}


# -- against the simulator: the whole webhook session, one fault at a time ----------------

# (cause id, side) per fault: the side only where the run proves it (DESIGN.md, Attribution)
FAULT_DIAGNOSIS = {
    "webhook-wrong-secret": ("signature-unexplained", "unknown"),
    "webhook-hmac-body-only": ("hmac-body-only", "api"),
    "webhook-signs-pretty-body": ("signed-body-differs", "api"),
    "webhook-uppercase-signature": ("signature-variant", "api"),
    "webhook-content-type-text": ("docs-listener-refuses", "api"),
    "webhook-secret-base64-decoded": ("webhook-secret-form", "api"),
    "webhook-missing-signature": ("missing-headers", "api"),
    "webhook-sequence-regression": ("sequence", "api"),
    "event-sequence-reused-final": ("sequence-reused", "api"),
    # the docs' example uses one value for both secrets: which one is the webhook's is open
    "webhook-signed-with-client-secret": ("wrong-signing-key", "unknown"),
    "event-wrong-client": ("client", "api"),
    "event-wrong-message-in-data": ("ids", "api"),
    "event-wrong-recipient": ("message", "api"),
    "event-wrong-sender-number": ("message", "api"),
    "event-direction-inbound": ("message", "api"),
    "event-status-contradicts-type": ("status", "api"),
    # only the final is missing: it may come after RC_WEBHOOK_TIMEOUT
    "webhook-no-final-event": ("incomplete", "unknown"),
    "webhook-wrong-event-type": ("incomplete", "unknown"),
    "webhook-not-delivered": ("no-requests", "unknown"),
    "webhook-malformed-event": ("malformed", "api"),
    "patch-ignored": ("override-not-stored", "api"),
}


def simulated_run(tmp_path: Path, faults: tuple[str, ...], timeout: float,
                  to: str | None = None, **environ: str
                  ) -> tuple[LifecycleReport, WebhookSession, float]:
    with Simulator(faults=faults, delivery_attempts=2, delivery_backoff_s=0.05) as sim:
        settings = load_settings(environ={"RC_REPORTS_DIR": str(tmp_path), **environ})
        settings = embedded_webhook_secret(settings, sim.webhook_secret(settings.client_id))
        rc = RunContext.create(settings, sim.base_url)
        with WebhookSession(rc) as session:
            accepted_send(rc, to=to)
            report = session.wait_lifecycle(timeout=timeout)
            returned_at = time.time()
        assert sim.state.numbers["num_abc123"].webhook_delivery_override == \
            "https://example.com/webhooks/delivery"  # restored
    return report, session, returned_at


def test_the_clean_simulator_completes_and_the_verdict_is_immediate(tmp_path: Path) -> None:
    report, session, returned_at = simulated_run(tmp_path, (), timeout=10)
    assert report.complete and report.cause is None, report.issues
    clock = session.context().api_clock  # the simulator's Date headers: the same clock
    assert clock is not None and abs(clock[0]) <= 1.5 and "requestId req_" in clock[1]
    assert [i for i in report.issues if i.severity == "fail"] == []
    assert session.override_status is not None and session.override_status.ok
    latency = returned_at - max(d.received_at for d in session.deliveries())
    assert latency < 0.5, f"verdict {latency * 1000:.0f} ms after the final event"
    rows = session.timeline(report.messages[0].message_id)
    assert [r["eventType"] for r in rows] == ["message.queued", "message.sent",
                                              "message.delivery"]
    assert all(r["verified"] and r["offset_ms"] >= 0 for r in rows)


def test_a_failed_delivery_is_complete_with_a_warning(tmp_path: Path) -> None:
    report, _, _ = simulated_run(tmp_path, (), timeout=10, to="+15005550001")
    assert report.complete and report.cause is None
    assert "CARRIER_REJECTED" in report.of("failed-final")[0].detail


# the faults whose lifecycle never completes: the run waits its whole timeout out
WAITED_OUT = {"patch-ignored", "webhook-malformed-event", "webhook-no-final-event",
              "webhook-not-delivered", "webhook-wrong-event-type"}


@pytest.mark.parametrize("fault", [
    pytest.param(f, marks=pytest.mark.slow) if f in WAITED_OUT else f
    for f in sorted(FAULT_DIAGNOSIS)])
def test_each_webhook_fault_gets_its_diagnosis(tmp_path: Path, fault: str) -> None:
    report, _, _ = simulated_run(tmp_path, (fault,), timeout=1.0)
    cause = report.cause
    assert cause is not None, report.issues
    assert (cause.id, cause.side) == FAULT_DIAGNOSIS[fault], cause
    assert cause.evidence, cause  # a side is never given without the facts behind it
    assert (cause.setting is not None) == (cause.side == "integration"), cause
    assert "rc_secret_abc123" not in repr(report)  # the webhook secret is never shown


@pytest.mark.parametrize(("stored", "how"), [
    (base64.b64encode(b"rc_secret_abc123").decode(), "Store RC_WEBHOOK_SECRET base64-decoded"),
    ("rc_secret_abc123\n", "Store RC_WEBHOOK_SECRET without the whitespace around it"),
])
def test_a_secret_stored_in_another_form_is_the_integrations_setting(
        tmp_path: Path, stored: str, how: str) -> None:
    """The clean simulator, RC_WEBHOOK_SECRET stored wrong: the setting is named, with how to
    store it; the API is not blamed."""
    report, _, _ = simulated_run(tmp_path, (), timeout=1.0, RC_WEBHOOK_SECRET=stored)
    cause = report.cause
    assert cause is not None, report.issues
    assert (cause.id, cause.side, cause.setting) == ("webhook-secret-form", "integration",
                                                     "RC_WEBHOOK_SECRET")
    assert cause.next_action.startswith(how)
    assert stored.strip() not in repr(report)


def test_a_target_gone_at_close_keeps_the_journal_and_warns(tmp_path: Path) -> None:
    with Simulator() as sim:
        rc = RunContext.create(load_settings(environ={"RC_REPORTS_DIR": str(tmp_path)}),
                               sim.base_url)
        session = WebhookSession(rc).start()
        assert session.override is not None and session.override.active
    session.close()  # the simulator is gone: the restore PATCH cannot be sent
    assert session.restore_result is not None and not session.restore_result.restored
    assert (tmp_path / ".webhook-override-journal.json").exists()
    assert [f.title for f in rc.findings.warnings()] == [
        "The webhook override could not be restored"]
    session.override._disarm()  # this test's journal and atexit hook, not a real run's


def test_a_final_reusing_a_sequence_over_http_is_kept_and_named(tmp_path: Path) -> None:
    report, session, _ = simulated_run(tmp_path, ("event-sequence-reused-final",),
                                       timeout=5.0)
    assert report.complete, report.issues  # not swallowed as a "duplicate"
    assert report.failures("incomplete") == []
    assert "sequence 2 is used by message.sent and message.delivery" in \
        report.failures("sequence")[0].detail
    flagged = [d for d in session.deliveries() if d.sequence_reused]
    assert [d.event_type for d in flagged] == ["message.delivery"]
    assert not any(d.duplicate for d in session.deliveries())
