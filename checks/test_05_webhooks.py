"""Stage 5: webhook receipt and signatures (1-quickstart.txt Sections 8-9; 5-troubleshooting).

The webhook session (listener, tunnel or public URL, and in override mode the number's
webhookDeliveryOverride) was started before the first accepted send. The lifecycle of every
accepted message is awaited once, event-driven, within RC_WEBHOOK_TIMEOUT of the last send;
every check here judges that same recording, one property each.
"""

from __future__ import annotations

from typing import Any

from redcloud_check.context import RunContext
from redcloud_check.core.citation import cite
from redcloud_check.core.models import Cause
from redcloud_check.results.ledger import SkipCode
from redcloud_check.rules import expect, gates
from redcloud_check.rules.gates import STEP5
from redcloud_check.suite.declare import check, skip
from redcloud_check.webhooks.lifecycle import (
    CONSISTENCY,
    PAYLOAD,
    SEQUENCE,
    SIGNED,
    Issue,
    LifecycleReport,
)
from redcloud_check.webhooks.override import CLAUSE as OVERRIDE_CLAUSE
from redcloud_check.webhooks.session import WebhookSession

UPDATE = OVERRIDE_CLAUSE
IDS = PAYLOAD + " (messageId, data.messageId, data.externalReference)"
CLIENT = CONSISTENCY + " (apiClientId)"
MESSAGE = CONSISTENCY + " (direction, data.to, data.sendFrom)"
STATUS = CONSISTENCY + " (data.status)"


def _session(rc: RunContext, webhooks: Any, *, gate: bool = False) -> WebhookSession:
    error = rc.ledger.webhooks_error
    if error is not None:
        if gate:  # the tool could not listen: not a finding about the API
            raise error
        skip(SkipCode.TOOL, f"the webhook listener could not start ({error}); the stage's "
             "gate reports it", short="the webhook listener could not start")
    session: WebhookSession = webhooks
    return session


def _report(rc: RunContext, webhooks: Any, *, gate: bool = False) -> LifecycleReport:
    """The lifecycle report; waits (once) until complete or RC_WEBHOOK_TIMEOUT has passed."""
    session = _session(rc, webhooks, gate=gate)
    if not rc.accepted:
        skip(SkipCode.PREMISE, "no message was accepted in the send stage, so no lifecycle "
             "to follow", short="no message was accepted in the send stage")
    return session.wait_lifecycle(rc.accepted, rc.settings.webhook_timeout)


def _fail_on(report: LifecycleReport, kind: str, *, title: str, expected: str,
             clause: str) -> None:
    __tracebackhide__ = True
    failures: list[Issue] = report.failures(kind)
    if failures:
        shown = "; ".join(i.detail for i in failures[:4])
        more = f" (+{len(failures) - 4} more)" if len(failures) > 4 else ""
        raise expect.fail(title, expected=expected, actual=shown + more, clause=clause,
                          cause=report.cause, received=report.received,
                          verified=report.verified)


@check("RC-WEBHOOKS-01", clause=UPDATE)
def test_webhook_override_takes_effect(rc_sends: RunContext, rc_webhooks: Any) -> None:
    """PATCH /api/core/numbers/{numberId} stores the webhookDeliveryOverride it was sent: read
    back from /api/core/numbers it is the suite's listener URL."""
    session = _session(rc_sends, rc_webhooks)
    status = session.override_status
    if status is None:
        skip(SkipCode.PRECONFIGURED, "RC_WEBHOOK_MODE=preconfigured: the number's webhook "
             "settings are left alone", short="RC_WEBHOOK_MODE=preconfigured")
    if not status.ok:
        patched = status.exchange is not None and status.exchange.status == 200
        stale = patched and status.stored == status.target  # stored, yet answered otherwise
        cited = tuple(cite(e) for e in (status.exchange, status.check) if e is not None)
        raise expect.fail("The number's webhookDeliveryOverride did not take effect",
                          expected=f"webhookDeliveryOverride {status.target} after the PATCH",
                          actual=status.detail, clause=UPDATE,
                          exchange=status.check or status.exchange,
                          cause=Cause("override-answer-stale", "The PATCH stored the value "
                                      f"but answered another: {status.detail}. An integration "
                                      "that trusts the answer is misled.", "Report it to Red "
                                      "Cloud with this bundle; the read-back is what to trust.",
                                      UPDATE, "api", cited) if stale else
                          Cause("override-not-stored", "The PATCH answered 200, yet the "
                                f"number read back does not hold it: {status.detail}. "
                                "Lifecycle events go to the old target, so none can "
                                "reach this run.", "Report it to Red Cloud with this "
                                "bundle; meanwhile use RC_WEBHOOK_MODE=preconfigured.",
                                UPDATE, "api", cited) if patched else None)


@check("RC-WEBHOOKS-02", clause=STEP5)
def test_lifecycle_events_arrive_for_every_accepted_message(rc_sends: RunContext,
                                                            rc_webhooks: Any) -> None:
    """Every accepted message gets signed message.queued and message.sent events, then
    message.delivery or message.failed, within RC_WEBHOOK_TIMEOUT."""
    rc = rc_sends
    report = _report(rc, rc_webhooks, gate=True)
    for issue in report.issues:
        if issue.severity in ("warning", "info"):
            rc.warn(issue.title, issue.detail, issue.clause, stage="webhooks",
                    severity="warning" if issue.severity == "warning" else "info")
    session = _session(rc, rc_webhooks)
    early = session.early
    gates.lifecycle_complete(report, timeout=rc.settings.webhook_timeout,
                             public_url=session.public_url,
                             early=f"{early.at - early.first_delivery_at:.1f} s after the first "
                                   f"delivery: {early.reason}" if early else "")


@check("RC-WEBHOOKS-03", clause=SIGNED)
def test_every_webhook_signature_is_valid(rc_sends: RunContext, rc_webhooks: Any) -> None:
    """Every webhook request carries X-RedCloud-Timestamp and an X-RedCloud-Signature equal to
    hex HMAC-SHA256 of "{timestamp}.{rawBody}" under RC_WEBHOOK_SECRET."""
    report = _report(rc_sends, rc_webhooks)
    if report.received == 0:
        skip(SkipCode.PREMISE, "no webhook request reached the listener: no signature to "
             "verify", short="no webhook request reached the listener")
    _fail_on(report, "signature", title="Webhook signatures do not verify",
             expected='X-RedCloud-Signature = hex(HMAC_SHA256(RC_WEBHOOK_SECRET, '
                      '"${timestamp}.${rawBody}")) on every request', clause=SIGNED)


@check("RC-WEBHOOKS-04", clause=PAYLOAD)
def test_every_event_matches_the_event_schema(rc_sends: RunContext, rc_webhooks: Any) -> None:
    """Every verified webhook body of a listed event type is a lifecycle event shaped like the
    documented example: eventType, direction, occurredAt, apiClientId, messageId, sequence,
    data. Event types the docs do not list are recorded and shown, never judged (DESIGN.md:
    unknown event types)."""
    report = _report(rc_sends, rc_webhooks)
    if report.verified == 0:
        skip(SkipCode.PREMISE, "no verified webhook event arrived: no event to validate",
             short="no verified webhook event arrived")
    _fail_on(report, "schema", title="A webhook event does not match the documented payload",
             expected="every event valid against schemas/webhook_event.schema.json",
             clause=PAYLOAD)


@check("RC-WEBHOOKS-05", clause=IDS)
def test_event_ids_match_the_send(rc_sends: RunContext, rc_webhooks: Any) -> None:
    """Every event carries the accepted messageId at the top and in data, and the
    externalReference the send gave. Graded by DESIGN.md (event consistency): the docs show
    both ids by example and say to correlate events by them (4-sending-messages.txt), so an
    event reporting another message than the one it is keyed to fails."""
    report = _report(rc_sends, rc_webhooks)
    if report.verified == 0:
        skip(SkipCode.PREMISE, "no verified webhook event arrived: no ids to compare",
             short="no verified webhook event arrived")
    _fail_on(report, "ids", title="Webhook event ids do not match the send",
             expected="messageId == data.messageId == the send's messageId, and "
                      "data.externalReference == the send's externalReference",
             clause=IDS)


@check("RC-WEBHOOKS-06", clause=SEQUENCE)
def test_sequences_increase_with_the_lifecycle(rc_sends: RunContext, rc_webhooks: Any) -> None:
    """A message's event sequences increase with its lifecycle: message.queued < message.sent
    < message.delivery or message.failed, and no two different events share one (messageId,
    sequence): only an exact redelivery may repeat one (DESIGN.md: webhook sequence, webhook
    duplicates)."""
    report = _report(rc_sends, rc_webhooks)
    if report.verified == 0:
        skip(SkipCode.PREMISE, "no verified webhook event arrived: no sequence to compare",
             short="no verified webhook event arrived")
    _fail_on(report, "sequence", title="Webhook sequences do not follow the lifecycle",
             expected="sequence queued < sent < final for every message, each (messageId, "
                      "sequence) naming one event", clause=SEQUENCE)


def _judged(rc: RunContext, webhooks: Any) -> LifecycleReport:
    report = _report(rc, webhooks)
    if report.verified == 0:
        skip(SkipCode.PREMISE, "no verified webhook event arrived: nothing to compare with "
             "the send", short="no verified webhook event arrived")
    return report


@check("RC-WEBHOOKS-07", clause=CLIENT)
def test_events_name_the_sending_client(rc_sends: RunContext, rc_webhooks: Any) -> None:
    """Every event of an accepted message names the API client that sent it: apiClientId is
    RC_CLIENT_ID. Graded by DESIGN.md (event consistency): the docs show apiClientId by
    example only; an event attributed to another client fails."""
    _fail_on(_judged(rc_sends, rc_webhooks), "client",
             title="Webhook events name another API client",
             expected=f"apiClientId {rc_sends.settings.client_id!r} (RC_CLIENT_ID) on every "
                      "event of the run's messages", clause=CLIENT)


@check("RC-WEBHOOKS-08", clause=MESSAGE)
def test_events_describe_the_sent_message(rc_sends: RunContext, rc_webhooks: Any) -> None:
    """Every event of an accepted message describes that message: direction outbound, data.to
    the accepted recipient, data.sendFrom the sending number's E.164 from /api/core/numbers.
    Graded by DESIGN.md (event consistency), the docs showing these fields by example only:
    another recipient or number, or an inbound direction, fails; the numberId in place of
    the E.164 is a warning."""
    _fail_on(_judged(rc_sends, rc_webhooks), "message",
             title="Webhook events describe another message than the one sent",
             expected="direction outbound, data.to the accepted recipient, data.sendFrom the "
                      "sending number's E.164", clause=MESSAGE)


@check("RC-WEBHOOKS-09", clause=STATUS)
def test_event_status_matches_its_type(rc_sends: RunContext, rc_webhooks: Any) -> None:
    """Every listed event's data.status is the one its eventType implies: queued, sent,
    delivered (the docs' example) or failed. Graded by DESIGN.md (event consistency): a
    status naming another lifecycle state fails; a word the docs never use is a warning."""
    _fail_on(_judged(rc_sends, rc_webhooks), "status",
             title="Webhook event statuses contradict their event types",
             expected="data.status queued / sent / delivered / failed for message.queued / "
                      "message.sent / message.delivery / message.failed", clause=STATUS)
