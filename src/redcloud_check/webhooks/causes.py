"""Why stage 5 failed: the one `Cause` its failing checks carry, with its side and evidence.

`find_cause` reads the lifecycle analysis's failing issues, the deliveries and the
`ReceiptContext`, and answers with the first of these that explains them (DESIGN.md,
Attribution: "api" only where the run proves the integration is not at fault, "integration"
naming the setting, else "unknown" saying what would decide it):

    no-requests        nothing reached the listener                                unknown
    override-ignored   ... and the number's webhookDeliveryOverride never pointed  unknown;
                       at the listener (override-not-stored when the PATCH said    api when the
                       2xx: the override check's root cause)                       PATCH said 2xx
    wrong-path         requests arrived, none at the listener's path               api (override)
                                                                                   / integration
    missing-headers    requests arrived without the signing headers                api / unknown
                                                                                   behind a proxy
    (signatures)       every cause of `webhooks.doctor`: deliveries that do not verify, or that
                       the docs' own listener would refuse
    sequence-reused, malformed, sequence, ids, client, message, status
                       verified events (signed with the integration's own secret,   api
                       so the API's) that break the docs or contradict the send
    incomplete         verified events arrived for the message, an earlier one is  api
                       missing; only the final is missing (it may come later)      unknown

Public surface: `find_cause`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from redcloud_check.core.models import Cause
from redcloud_check.webhooks.delivery_view import cite
from redcloud_check.webhooks.forensics import SIGNED
from redcloud_check.webhooks.listener import Delivery
from redcloud_check.webhooks.receipt import NO_EVENTS, REUSED, SEQUENCE, Issue, ReceiptContext
from redcloud_check.webhooks.signature_doctor import signature_cause

if TYPE_CHECKING:
    from redcloud_check.webhooks.lifecycle import MessageLifecycle

__all__ = ["find_cause"]

REPORT = "Report it to Red Cloud with this bundle"
# (cause id, issue kind, next action) for verified events that break a rule, in this order
_EVENT_CAUSES = (
    ("malformed", "schema", "Compare the events with the documented payload."),
    ("sequence", "sequence", "Sequences must increase queued < sent < final, and each "
                             "(messageId, sequence) must name one event."),
    ("ids", "ids", "Events must carry the messageId and externalReference of the send."),
    ("client", "client", "Events must name the API client that sent the message; report the "
                         "misattribution to Red Cloud."),
    ("message", "message", "Events must describe the message that was sent: outbound, its "
                           "recipient, its sending number."),
    ("status", "status", "Each event's data.status must agree with its eventType."),
)


def _verified_at(deliveries: Sequence[Delivery], message_ids: set[str | None]) -> list[Delivery]:
    return [d for d in deliveries if d.verified and d.event is not None
            and (not message_ids - {None} or d.message_id in message_ids)]


def _events_cause(cause: str, failed: Sequence[Issue], action: str,
                  deliveries: Sequence[Delivery]) -> Cause:
    """A rule broken by verified events: they are signed with the integration's own
    RC_WEBHOOK_SECRET, so the API sent them as they are."""
    shown = _verified_at(deliveries, {i.message_id for i in failed})
    evidence = ((cite(shown) + ", each verified with RC_WEBHOOK_SECRET",) if shown else ()) \
        + tuple(i.detail for i in failed[:3])
    return Cause(cause, "; ".join(i.detail for i in failed)[:600], action, failed[0].clause,
                 side="api", evidence=evidence)


def _nothing_arrived(ctx: ReceiptContext) -> Cause:
    url = ctx.public_url or "(no public URL)"
    if ctx.override_ok is False:
        patched = bool(ctx.override_patched)
        return Cause(  # patched: the override check's own root cause (one, not two)
            "override-not-stored" if patched else "override-ignored",
            "No request reached the listener, and the number's "
            f"webhookDeliveryOverride does not point at {url}: {ctx.override_detail}",
            (f"{REPORT}: the PATCH was acknowledged but not stored; meanwhile use "
             "RC_WEBHOOK_MODE=preconfigured." if patched else
             "Check that PATCH /api/core/numbers/{numberId} stores webhookDeliveryOverride "
             "(its answer is quoted in the evidence), or use RC_WEBHOOK_MODE=preconfigured."),
            NO_EVENTS, side="api" if patched else "unknown",
            evidence=ctx.override_evidence + ctx.sends,
            decide="" if patched else "whether the PATCH was refused for a reason of the "
            "request (its answer is quoted in the evidence) or the API's")
    override = ("set and verified" if ctx.override_ok else
                "not used (preconfigured mode)" if ctx.override_ok is None else "")
    return Cause(
        "no-requests", f"No request reached the listener. The target should have posted to "
        f"{url} (override {override}).",
        "Check that the URL is publicly reachable from the target (RC_TUNNEL / RC_PUBLIC_URL) "
        "and that delivery webhooks are enabled for this client or number.", NO_EVENTS,
        side="unknown", evidence=ctx.sends + ctx.override_evidence,
        decide="Red Cloud's delivery log for the messageIds in the evidence (attempted, and "
        "where to), or a POST to the URL from outside this machine")


def _before_signatures(deliveries: Sequence[Delivery], ctx: ReceiptContext) -> Cause | None:
    """Requests arrived, but at another path or unsigned."""
    at_path = [d for d in deliveries if d.status_returned not in (404, 405)]
    if not at_path:
        paths = ", ".join(sorted({d.path for d in deliveries})[:3])
        if ctx.override_ok:
            return Cause(
                "wrong-path", f"Requests reached the listener at {paths}, not "
                f"{ctx.listen_path}, although the number's webhookDeliveryOverride holds the "
                f"full URL {ctx.public_url} (read back after the PATCH).",
                f"{REPORT}: the API posts to another path than the URL it stores.", NO_EVENTS,
                side="api", evidence=(cite(deliveries), *ctx.override_evidence))
        return Cause(
            "wrong-path", f"Requests reached the listener at {paths}, not {ctx.listen_path}.",
            "Point the webhook configuration at the full URL including the path, or set "
            f"RC_LISTEN_PATH to {paths.split(', ')[0]}.", NO_EVENTS, side="integration",
            evidence=(cite(deliveries),), setting="RC_LISTEN_PATH")
    if all(d.reason.startswith("missing signing headers") for d in at_path):
        proxy = ctx.exposure == "public-url"
        return Cause(
            "missing-headers", f"{len(at_path)} request(s) arrived without "
            "X-RedCloud-Timestamp / X-RedCloud-Signature.",
            ("RC_PUBLIC_URL is a proxy of yours, which may drop headers." if proxy else
             f"{REPORT}: the sender must sign every webhook (both headers); nothing stands "
             "between it and the listener that could drop them."), SIGNED,
            side="unknown" if proxy else "api", evidence=(cite(at_path),),
            decide="post a signed request through RC_PUBLIC_URL and see whether the headers "
            "reach the listener (redcloud-check listen shows every request)" if proxy else "")
    return None


_STEP = {"message.queued": 0, "message.sent": 1, "message.delivery": 2, "message.failed": 2}


def _skipped(message: MessageLifecycle) -> bool:
    """A step of the lifecycle is missing although a later one arrived (queued missing,
    sent seen; or sent missing, the final seen): the API skipped it. Only the first
    steps having arrived proves nothing: the rest may still be on its way."""
    last = max((_STEP.get(t, -1) for t in message.arrival), default=-1)
    return any(_STEP.get(m, 2) < last for m in message.missing)


def _incomplete(failed: Sequence[Issue], lifecycles: Sequence[MessageLifecycle],
                deliveries: Sequence[Delivery]) -> Cause:
    detail = "; ".join(i.detail for i in failed)[:600]
    gaps = [m for m in lifecycles if m.missing]
    earlier = [m for m in gaps if _skipped(m)]
    shown = _verified_at(deliveries, {m.message_id for m in gaps})
    evidence = ((cite(shown) + ", each verified with RC_WEBHOOK_SECRET: the URL and the "
                 "secret work",) if shown else ()) + tuple(i.detail for i in failed[:3])
    if earlier and shown:
        return Cause("incomplete", detail, f"{REPORT}: later lifecycle events arrived and "
                     "verified, an earlier one never came.", failed[0].clause, side="api",
                     evidence=evidence)
    return Cause(
        "incomplete", detail, "Inspect webhook receipts; look for the missing events in the "
        "target's delivery logs.", failed[0].clause, side="unknown", evidence=evidence,
        decide="whether the final event comes later than RC_WEBHOOK_TIMEOUT (a carrier's "
        "receipt can take minutes): rerun with a longer one, or ask Red Cloud for the "
        "message's delivery log")


def find_cause(report_issues: Sequence[Issue], deliveries: Sequence[Delivery],
               ctx: ReceiptContext, lifecycles: Sequence[MessageLifecycle] = ()
               ) -> Cause | None:
    """Which of the causes in the module docstring explains the failing issues, if any."""
    fails = {i.kind for i in report_issues if i.severity == "fail"}
    if not fails:
        return None
    verified = any(d.verified for d in deliveries if d.status_returned not in (404, 405))
    if "incomplete" in fails and not verified:
        if not deliveries:
            return _nothing_arrived(ctx)
        cause = _before_signatures(deliveries, ctx)
        if cause is not None:
            return cause
    if "signature" in fails or ("incomplete" in fails and not verified):
        cause = signature_cause(ctx.forensics, ctx.public_url or "(no public URL)")
        if cause is not None:
            return cause
        if not verified:  # the doctor did not examine them (no forensics given)
            return Cause(
                "signature-unexplained", f"{len(deliveries)} deliveries arrived and none "
                "verifies with RC_WEBHOOK_SECRET.", "Compare RC_WEBHOOK_SECRET with the webhook "
                "signing secret Red Cloud shows for this client.", SIGNED,
                side="unknown", evidence=(cite(deliveries),),
                decide="whether RC_WEBHOOK_SECRET is the webhook signing secret Red Cloud "
                "shows for this client")
    reused = [i for i in report_issues if i.kind == "sequence" and i.title == REUSED]
    if reused and "schema" not in fails:
        return Cause(
            "sequence-reused", "A sequence violation, not a duplicate: "
            + "; ".join(i.detail for i in reused)[:600] + ". Both events were recorded; "
            "none was dropped as a redelivery.",
            f"{REPORT}: each (messageId, sequence) must name one event, and sequences must "
            "increase queued < sent < final.", SEQUENCE, side="api",
            evidence=_events_cause("", reused, "", deliveries).evidence)
    if "schema" in fails:
        return _events_cause("malformed", [i for i in report_issues if i.kind == "schema"
                                           and i.severity == "fail"],
                             _EVENT_CAUSES[0][2], deliveries)
    if "incomplete" in fails:
        return _incomplete([i for i in report_issues if i.kind == "incomplete"
                            and i.severity == "fail"], lifecycles, deliveries)
    for cause_id, kind, action in _EVENT_CAUSES[1:]:
        if kind in fails:
            return _events_cause(cause_id, [i for i in report_issues if i.kind == kind
                                         and i.severity == "fail"], action, deliveries)
    first = next(i for i in report_issues if i.severity == "fail")
    return Cause(first.kind, first.detail, "See the failing check.", first.clause,
                 evidence=(f"first failing issue: {first.title}",))
