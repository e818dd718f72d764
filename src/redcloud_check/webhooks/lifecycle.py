"""Lifecycle analysis of recorded webhook deliveries: pure functions, no servers.

For every message the send stage accepted: its verified events ordered by sequence, whether
the lifecycle is complete (``message.queued``, ``message.sent``, then ``message.delivery`` or
``message.failed``; 1-quickstart.txt, Section 8), and every problem as an `Issue` of a
``kind`` (one stage-5 check per kind) and a severity (fail | warning | info). A delivery
fails when our verifier refuses it, and also when the docs' own listener would
(`webhooks.reference`, DESIGN.md: reference receiver). When events are missing or wrong, the
`Cause` that explains it (`webhooks.causes`, with `webhooks.doctor` for signatures) rides on
the report; a failing check carries it, and the diagnosis pipeline leads with it.

Public surface: `analyze`, `lifecycle_done`, `unlisted`, `Issue`, `MessageLifecycle`,
`LifecycleReport`, `ReceiptContext`, and the clauses stage 5 cites (`webhooks.receipt`).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redcloud_check.core.findings import Severity
from redcloud_check.core.models import AcceptedMessage, Cause
from redcloud_check.core.signing import timestamp_seconds
from redcloud_check.rules.gates import STEP5
from redcloud_check.rules.schemas import errors as schema_errors
from redcloud_check.webhooks.causes import find_cause
from redcloud_check.webhooks.delivery_semantics import counted, held_behind
from redcloud_check.webhooks.delivery_view import cite
from redcloud_check.webhooks.event_consistency import TITLES as CONSISTENCY_TITLES
from redcloud_check.webhooks.event_consistency import mismatches
from redcloud_check.webhooks.events import (
    FAILED,
    FINALS,
    QUEUED,
    RANK,
    SENT,
    attributed_to,
    data,
    sequence_key,
    type_label,
    unlisted,
)
from redcloud_check.webhooks.forensics import SIGNED
from redcloud_check.webhooks.listener import DEFAULT_TOLERANCE_S, Delivery
from redcloud_check.webhooks.receipt import (
    CONSISTENCY,
    NO_DELIVERY,
    NO_EVENTS,
    PAYLOAD,
    REUSED,
    SEQUENCE,
    Issue,
    ReceiptContext,
)
from redcloud_check.webhooks.reference import REFERENCE
from redcloud_check.webhooks.signature_doctor import Finding

__all__ = ["CONSISTENCY", "NO_DELIVERY", "NO_EVENTS", "PAYLOAD", "REUSED", "SEQUENCE", "SIGNED",
           "Issue", "LifecycleReport", "MessageLifecycle", "ReceiptContext", "analyze",
           "lifecycle_done", "unlisted"]


@dataclass(frozen=True, slots=True)
class MessageLifecycle:
    message_id: str
    external_reference: str
    events: tuple[dict[str, Any], ...]  # verified, no exact redeliveries, ordered by sequence
    arrival: tuple[str, ...]  # event types in arrival order (unlisted types included)
    missing: tuple[str, ...]  # "message.queued", "message.sent", "a final event"
    # what is missing may be held behind the delivery the run refused on purpose
    # (RC_DELIVERY_SEMANTICS), which the API has not retried: not judged
    held: bool = False

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def final(self) -> dict[str, Any] | None:
        return next((e for e in self.events if e.get("eventType") in FINALS), None)


@dataclass(frozen=True, slots=True)
class LifecycleReport:
    messages: tuple[MessageLifecycle, ...]
    issues: tuple[Issue, ...]
    cause: Cause | None  # why events are missing or wrong (None: nothing failed)
    received: int  # requests that reached the listener
    verified: int

    @property
    def complete(self) -> bool:
        return all(m.complete for m in self.messages)

    def of(self, kind: str, severity: Severity | None = None) -> list[Issue]:
        return [i for i in self.issues
                if i.kind == kind and (severity is None or i.severity == severity)]

    def failures(self, kind: str) -> list[Issue]:
        return self.of(kind, "fail")


def _events_of(message_id: str, deliveries: Sequence[Delivery]) -> list[dict[str, Any]]:
    """Verified, accepted events for `message_id` without exact redeliveries, in arrival
    order (an event refused on purpose counts, once: `delivery_semantics.counted`). A
    different event that reuses a (messageId, sequence) is kept: it is judged by the
    sequence check, never dropped."""
    return [d.event for d in counted(deliveries)
            if d.event is not None and attributed_to(d.event) == message_id]


def _lifecycle(message: AcceptedMessage, deliveries: Sequence[Delivery]) -> MessageLifecycle:
    arrived = _events_of(message.message_id, deliveries)
    types = {e.get("eventType") for e in arrived}
    missing = [t for t in (QUEUED, SENT) if t not in types]
    if not types & set(FINALS):
        missing.append("a final event (message.delivery or message.failed)")
    shown = [type_label(e) for e in arrived]
    return MessageLifecycle(message.message_id, message.external_reference,
                            tuple(sorted(arrived, key=sequence_key)),
                            tuple(shown), tuple(missing),
                            held=bool(missing) and held_behind(message.message_id, deliveries))


def lifecycle_done(messages: Sequence[AcceptedMessage], *, final_only: bool = False
                   ) -> Callable[[Sequence[Delivery]], bool]:
    """A `WebhookListener.wait_for` predicate: every message complete (or has its final)."""
    def done(deliveries: Sequence[Delivery]) -> bool:
        for message in messages:
            lc = _lifecycle(message, deliveries)
            if (lc.final is None) if final_only else (not lc.complete):
                return False
        return True
    return done


def _skew(d: Delivery) -> str:
    """For an unverified delivery whose timestamp is far from its receipt: the warning (as
    the listener words it for a verified one), else ""."""
    try:
        skew = d.received_at - timestamp_seconds(d.timestamp or "")
    except ValueError:
        return ""
    return (f"timestamp outside tolerance ({skew:+.0f} s from receipt, tolerance "
            f"{DEFAULT_TOLERANCE_S:.0f} s), signature unverified"
            if abs(skew) > DEFAULT_TOLERANCE_S else "")


def _whose_clock(ctx: ReceiptContext) -> str:
    """Whose clock a timestamp skew is on: the API's Date header decides."""
    if ctx.api_clock is None:
        return ("whose clock is off is open: no answer of the API carried a Date header to "
                "compare this machine's clock with")
    offset, shown = ctx.api_clock
    if abs(offset) <= 2:
        return f"{shown}: the clocks agree, so the timestamps are off at the sender"
    return (f"{shown}: this machine's clock may be the one that is off; check it (NTP) "
            "before reporting the timestamps")


def _reference_issues(findings: Sequence[Finding]) -> list[Issue]:
    """Deliveries our verifier accepted and the docs' own listener would refuse (DESIGN.md:
    reference receiver): they fail, each kind of refusal once."""
    refused: dict[str, list[Finding]] = {}
    for f in findings:
        if f.delivery.verified and f.verdict.refused:
            refused.setdefault(f.verdict.reason, []).append(f)
    return [Issue("signature", "fail", "The docs' listener would refuse these deliveries",
                  f"{cite([f.delivery for f in group])}: the docs' listener answers {reason}, "
                  "although redcloud-check's verifier accepted them", REFERENCE)
            for reason, group in refused.items()]


def _delivery_issues(deliveries: Sequence[Delivery], ctx: ReceiptContext) -> list[Issue]:
    issues: list[Issue] = []
    at_path = [d for d in deliveries if d.status_returned not in (404, 405)]
    unsigned = Counter(d.reason for d in at_path if not d.verified)
    for reason, count in unsigned.items():
        issues.append(Issue("signature", "fail", "Webhook request failed signature verification",
                            f"{count} request(s): {reason}", SIGNED))
    if ctx.forensics is not None:
        issues += _reference_issues(ctx.forensics.findings)
    stale = Counter(w for d in at_path if d.verified for w in d.warnings)
    stale.update(d.reason for d in at_path if d.verified and d.status_returned == 401)
    stale.update(_skew(d) for d in at_path if not d.verified and _skew(d))
    for warning, count in stale.items():
        issues.append(Issue("timestamp", "warning", "Webhook timestamp far from receipt time",
                            f"{count} delivery(ies): {warning}; the docs name no tolerance "
                            f"(receivers with one, e.g. 5 minutes, refuse them); "
                            f"{_whose_clock(ctx)}", SIGNED))
    for d in at_path:
        if d.verified and d.event is None and d.status_returned == 400:
            issues.append(Issue("schema", "fail", "A signed webhook body is not a JSON object",
                                f"{d.body_size} bytes received at {d.path}", PAYLOAD))
    dupes = sum(1 for d in deliveries if d.duplicate)
    if dupes:
        issues.append(Issue("duplicate", "info", "Duplicate webhook deliveries",
                            f"{dupes} exact redelivery(ies) of an already received event "
                            "(same messageId, sequence, eventType and body), answered 200 and "
                            "counted once; delivery is at least once", STEP5 + "; DESIGN.md: "
                            "webhook duplicates"))
    others = Counter(str(d.event.get("eventType")) for d in counted(deliveries)
                     if d.event is not None and unlisted(d.event))
    if others:
        shown = ", ".join(f"{kind} x{count}" for kind, count in sorted(others.items()))
        issues.append(Issue("unlisted", "info", "Event types the docs do not list",
                            f"{shown}: recorded and shown, not judged (the docs list events "
                            "\"such as\" message.queued, message.sent, message.delivery and "
                            "message.failed)", STEP5 + "; DESIGN.md: unknown event types"))
    return issues


def _event_issues(deliveries: Sequence[Delivery], expected: dict[str, AcceptedMessage]
                  ) -> list[Issue]:
    issues: list[Issue] = []
    stray: set[str] = set()
    for d in counted(deliveries):
        event = d.event
        if event is None or unlisted(event):
            continue
        mid = attributed_to(event)
        label = f"{event.get('eventType')!s} seq {event.get('sequence')!s}"
        violations = schema_errors("webhook_event", event)
        if violations:
            shown = "; ".join(f"{v.path or '/'}: {v.message}" for v in violations[:4])
            issues.append(Issue("schema", "fail", "A webhook event breaks the event schema",
                                f"{label} of {mid or '(no messageId)'}: {shown}", PAYLOAD, mid))
        fields = data(event)
        top, inner = event.get("messageId"), fields.get("messageId")
        if not isinstance(top, str) or not top or top != inner:
            issues.append(Issue("ids", "fail", "messageId and data.messageId do not match",
                                f"{label}: data.messageId expected {top!r} (the messageId "
                                f"the event is keyed to), seen {inner!r}", PAYLOAD, mid))
        if mid is None:
            continue
        if mid not in expected:
            stray.add(mid)
            continue
        sent_ref = expected[mid].external_reference
        if fields.get("externalReference") != sent_ref:
            issues.append(Issue("ids", "fail", "externalReference does not match the send",
                                f"{label} of {mid}: data.externalReference expected "
                                f"{sent_ref!r} (the send's), seen "
                                f"{fields.get('externalReference')!r}", PAYLOAD, mid))
        for m in mismatches(event, expected[mid]):
            issues.append(Issue(m.kind, m.severity, CONSISTENCY_TITLES[m.kind],
                                f"{label} of {mid}: {m.describe()}", CONSISTENCY, mid))
    if stray:
        issues.append(Issue("unexpected", "info",
                            "Events for messages no check counted as accepted",
                            ", ".join(sorted(stray)[:5]) + " (e.g. an invalid send the target "
                            "accepted, or traffic from another sender to this listener)",
                            STEP5))
    return issues


def _sequence_reuse(mid: str, events: Sequence[dict[str, Any]]) -> list[Issue]:
    """Two different events under one (messageId, sequence): a sequence violation (only an
    exact redelivery is a duplicate, and those never reach here)."""
    by_sequence: dict[int, list[str]] = {}
    for e in events:
        seq = e.get("sequence")
        if isinstance(seq, int) and not isinstance(seq, bool):
            by_sequence.setdefault(seq, []).append(str(e.get("eventType")))
    return [Issue("sequence", "fail", REUSED,
                  f"{mid}: sequence {seq} is used by {' and '.join(kinds)} (not an exact "
                  "redelivery: the bodies differ)", SEQUENCE, mid)
            for seq, kinds in sorted(by_sequence.items()) if len(kinds) > 1]


def _lifecycle_issues(lc: MessageLifecycle) -> list[Issue]:
    issues: list[Issue] = []
    mid = lc.message_id
    if lc.missing:
        held = ("; not judged: they may be held behind the delivery this run refused on "
                "purpose (RC_DELIVERY_SEMANTICS), which the API did not retry in time"
                if lc.held else "")
        issues.append(Issue("incomplete", "info" if lc.held else "fail",
                            "The message lifecycle is incomplete",
                            f"{mid}: missing {', '.join(lc.missing)}; received "
                            f"{', '.join(lc.arrival) or 'no verified event'}{held}", STEP5,
                            mid))
    listed = [e for e in lc.events if e.get("eventType") in RANK]
    issues += _sequence_reuse(mid, listed)
    ranked = sorted(listed, key=lambda e: (RANK[e["eventType"]], sequence_key(e)))
    pairs = [f"{e['eventType']} {e.get('sequence')}" for e in ranked]
    keys = [sequence_key(e) for e in ranked]
    # Equal sequences are the reuse issue above; here: a later lifecycle step numbered lower.
    if any(b < a for a, b in itertools.pairwise(keys)):
        issues.append(Issue("sequence", "fail",
                            "Sequences do not increase with the lifecycle order",
                            f"{mid}: {', '.join(pairs)}", SEQUENCE, mid))
    repeated = [t for t, n in Counter(e.get("eventType") for e in listed).items() if n > 1]
    if repeated:
        issues.append(Issue("order", "info", "An event type arrived more than once",
                            f"{mid}: {', '.join(map(str, repeated))}", STEP5, mid))
    by_sequence = [type_label(e) for e in lc.events]
    if list(lc.arrival) != by_sequence:
        issues.append(Issue("order", "info", "Events arrived out of sequence order",
                            f"{mid}: arrival {', '.join(lc.arrival)}", STEP5, mid))
    final = lc.final
    if final is not None and final.get("eventType") == FAILED:
        issues.append(Issue("failed-final", "warning", "The message failed downstream",
                            f"{mid}: message.failed with error {data(final).get('error')!r}",
                            NO_DELIVERY, mid))
    return issues


def analyze(messages: Sequence[AcceptedMessage], deliveries: Sequence[Delivery],
            context: ReceiptContext | None = None) -> LifecycleReport:
    """Judge every recorded delivery against the lifecycles of `messages`."""
    ctx = context or ReceiptContext()
    lifecycles = [_lifecycle(m, deliveries) for m in messages]
    issues = _delivery_issues(deliveries, ctx)
    issues += _event_issues(deliveries, {m.message_id: m for m in messages})
    for lc in lifecycles:
        issues += _lifecycle_issues(lc)
    return LifecycleReport(tuple(lifecycles), tuple(issues),
                           find_cause(issues, deliveries, ctx, lifecycles),
                           received=len(deliveries),
                           verified=sum(1 for d in deliveries if d.verified))
