"""Stage 5's evidence, once per run: where the webhooks were to go and what came.

`section(rc)` is the "webhooks" object of escalation.json: the webhook URL and how it was
exposed (loopback, public URL, tunnel), the override mode, when the stage-5 verdict came (and
whether early), the send exchanges that produced the messageIds (with their requestIds and
traceparents), what
the signature doctor found (`webhooks.doctor`: how failing signatures were made, what the
docs' listener would answer, every combination tried), and every delivery, identical ones
collapsed with a count (`webhooks.delivery_view`); with RC_DELIVERY_SEMANTICS,
`deliverySemantics`: what the API did with the delivery the listener refused on purpose
(`webhooks.delivery_semantics`), "Delivery behaviour observed" in every renderer.
`send_exchange(rc)` is the send a webhook failure's escalation fields are filled from;
`terminal_lines` and `ticket_lines` render the section. Nothing here sends anything.

Public surface: `section`, `delivery_semantics`, `send_exchange`, `sends`,
`terminal_lines`, `ticket_lines`, `timelines`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from redcloud_check.core.exchange import Exchange
from redcloud_check.core.redaction import redact
from redcloud_check.core.timefmt import iso_utc
from redcloud_check.core.urls import is_loopback_host

if TYPE_CHECKING:
    from redcloud_check.context import RunContext

__all__ = ["delivery_semantics", "section", "send_exchange", "sends", "terminal_lines",
           "ticket_lines", "timelines"]

EXPOSURE = {"public-url": "public URL (RC_PUBLIC_URL)", "ngrok": "tunnel (ngrok)"}


def _exposure(kind: str, url: str) -> str:
    if kind != "direct":
        return EXPOSURE.get(kind, kind)
    loopback = is_loopback_host(urlsplit(url).hostname or "")
    return "loopback" if loopback else "direct (no tunnel)"


def sends(rc: RunContext) -> list[tuple[str, Exchange]]:
    """(messageId, the send exchange that produced it) for every accepted message."""
    from redcloud_check.webhooks.session import sends as produced

    return produced(rc)


def send_exchange(rc: RunContext | None) -> Exchange | None:
    """The send that produced the first accepted messageId (a webhook failure's request)."""
    pairs = sends(rc) if rc is not None else []
    return pairs[0][1] if pairs else None


def _session(rc: RunContext | None) -> Any:
    from redcloud_check.webhooks.session import WebhookSession

    webhooks = getattr(rc, "webhooks", None)
    return webhooks if isinstance(webhooks, WebhookSession) else None


def timelines(rc: RunContext | None, secrets: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each accepted message's lifecycle rows (report.html's SVG, the ticket)."""
    webhooks = getattr(rc, "webhooks", None)
    if rc is None or webhooks is None:
        return []
    return [{"messageId": m.message_id, "events": redact(webhooks.timeline(m.message_id),
                                                         secrets)} for m in rc.accepted]


def delivery_semantics(rc: RunContext | None) -> dict[str, Any] | None:
    """`webhooks.deliverySemantics` (None: RC_DELIVERY_SEMANTICS off, or no session)."""
    session = _session(rc)
    return None if session is None else session.delivery_semantics()


def section(rc: RunContext | None) -> dict[str, Any] | None:
    """The run's webhook evidence (None: no webhook session was started)."""
    from redcloud_check.webhooks.delivery_view import delivery_rows
    from redcloud_check.webhooks.signature_doctor import examine

    session = _session(rc)
    if rc is None or session is None or session.exposure is None:
        return None
    early = session.early
    deliveries = session.deliveries()
    exposure = session.exposure
    semantics = session.delivery_semantics()
    return {
        "url": exposure.url, "exposure": exposure.kind,
        "exposure_detail": _exposure(exposure.kind, exposure.url),
        "listener": session.listener.url, "mode": session.mode,
        "verdict": None if early is None else {
            "early": True, "at": iso_utc(early.at), "at_epoch": round(early.at, 3),
            "first_delivery_at_epoch": round(early.first_delivery_at, 3),
            "after_first_delivery_s": round(early.at - early.first_delivery_at, 3),
            "reason": early.reason},
        "sends": [{"messageId": mid, "requestId": e.request_id,
                   "traceparent": e.traceparent, "endpoint": e.endpoint,
                   "http_status": e.status, "request_timestamp": iso_utc(e.started_at),
                   "label": e.label} for mid, e in sends(rc)],
        "received": len(deliveries), "verified": sum(1 for d in deliveries if d.verified),
        "signatures": examine(deliveries, session.signing_keys()).as_dict(),
        "deliveries": delivery_rows(deliveries, public_url=exposure.url,
                                    keys=session.signing_keys(),
                                    verdict_at=early.at if early else None),
        **({"deliverySemantics": semantics} if semantics is not None else {}),
    }


def _signature_lines(signatures: Mapping[str, Any] | None) -> list[str]:
    """What the signature doctor found, in words (nothing when every delivery passes)."""
    if not signatures or not signatures["failing"]:
        return []
    docs = signatures["docs_listener"]
    lines = [f"{signatures['failing']} failing (the docs' listener would accept "
             f"{docs['accepted']}, refuse {docs['refused']})"]
    for made in signatures["made_with"]:
        lines.append(f"{made['count']} verify with none of the combinations tried"
                     if not made["signing"] else f"{made['count']} made with "
                     f"{made['signing']}" + (" (as the docs sign)" if made["documented"]
                                             else ""))
    tried = signatures["tried"]
    if tried and any(m["signing"] is None for m in signatures["made_with"]):
        lines.append(f"tried on each: {tried['combinations']} combinations = "
                     f"{tried['key_count']} keys x {len(tried['bodies'])} bodies x "
                     f"{len(tried['messages'])} messages x {len(tried['encodings'])} encodings")
        lines += [f"  {what}: {'; '.join(tried[what])}"
                  for what in ("keys", "bodies", "messages", "encodings")]
    return lines


def terminal_lines(webhooks: Mapping[str, Any] | None) -> list[str]:
    """The terminal summary's webhook line(s)."""
    if not webhooks:
        return []
    lines = [f"  webhook deliveries: {webhooks['received']} received, {webhooks['verified']} "
             f"verified ({webhooks['exposure_detail']}, {webhooks['mode']} mode)"]
    lines += [f"  webhook signatures: {line}" if not line.startswith("  ") else f"    {line}"
              for line in _signature_lines(webhooks.get("signatures"))]
    semantics = webhooks.get("deliverySemantics")
    if semantics:
        from redcloud_check.webhooks.delivery_semantics import describe

        lines.append(f"  webhook delivery behaviour: {describe(semantics)}")
    verdict = webhooks.get("verdict")
    if verdict:
        late = sum(r["count"] for r in webhooks["deliveries"] if r["after_verdict"])
        lines.append(f"  webhook verdict: {verdict['after_first_delivery_s']:.1f} s after the "
                     f"first delivery ({verdict['reason']})"
                     + (f"; {late} more arrived after it, shown in the report" if late else ""))
    return lines


def _shown(value: Any) -> str:
    if value is None:
        return "not observed"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def behaviour_rows(semantics: Mapping[str, Any]) -> list[tuple[str, str]]:
    """`webhooks.deliverySemantics` as (name, value) rows, for escalation.md and report.html."""
    refused = semantics["refused"] or {}
    shown = {"retried": semantics["retried"], "attempts": semantics["attempts"],
             "delays (ms)": ", ".join(map(str, semantics["delaysMs"])) or "none",
             "same body": semantics["sameBody"], "same sequence": semantics["sameSequence"],
             "signed afresh (new timestamp)": semantics["freshSignature"],
             "later events after the refusal": semantics["movedOn"],
             "observed for (ms)": semantics["observedForMs"],
             "refused": " ".join(f"{k} {v}" for k, v in refused.items()) or None}
    return [(name, _shown(value)) for name, value in shown.items()]


def behaviour_lines(semantics: Mapping[str, Any] | None) -> list[str]:
    """escalation.md's "Delivery behaviour observed" (RC_DELIVERY_SEMANTICS runs only)."""
    if not semantics:
        return []
    from redcloud_check.webhooks.delivery_semantics import TITLE, describe

    return [f"## {TITLE}", "", describe(semantics), "",
            *(f"- {name}: {value}" for name, value in behaviour_rows(semantics)), ""]


def ticket_lines(webhooks: Mapping[str, Any] | None) -> list[str]:
    """escalation.md's "Webhook evidence" section."""
    if not webhooks:
        return []
    lines = [*behaviour_lines(webhooks.get("deliverySemantics")), "## Webhook evidence", "",
             f"- Webhook URL: {webhooks['url']} ({webhooks['exposure_detail']}; "
             f"{webhooks['mode']} mode; listener {webhooks['listener']})",
             f"- Deliveries: {webhooks['received']} received, {webhooks['verified']} verified"]
    verdict = webhooks.get("verdict")
    if verdict:
        lines.append(f"- Verdict given early, {verdict['after_first_delivery_s']:.1f} s after "
                     f"the first delivery: {verdict['reason']}")
    found = _signature_lines(webhooks.get("signatures"))
    if found:
        lines += ["", "Signatures (the signature doctor):", ""]
        lines += [f"  - {line.strip()}" if line.startswith("  ") else f"- {line}"
                  for line in found]
    lines += ["", "Sends that produced the messageIds:", ""]
    lines += [f"- {s['messageId']}: {s['endpoint']} HTTP {s['http_status']}, requestId "
              f"**{s['requestId'] or '—'}**"
              + (f", traceparent `{s['traceparent']}`" if s.get("traceparent") else "")
              + f" at {s['request_timestamp']}" for s in webhooks["sends"]] or ["- none"]
    lines += ["", "Deliveries (identical ones collapsed):", ""]
    for r in webhooks["deliveries"]:
        what = f"{r['eventType'] or 'unattributed'} seq {r['sequence']} of {r['messageId']}"
        lines.append(f"- {r['count']}x {r['method']} {r['url']} — {what} "
                     f"({'verified' if r['verified'] else 'UNVERIFIED body'}) — {r['verdict']}"
                     + (f" — the docs' listener: {r['docs_listener']}"
                        if r.get("docs_listener") else "")
                     + (" — after the verdict" if r["after_verdict"] else ""))
        headers = ", ".join(f"{k}: {v}" for k, v in r["headers"].items())
        if headers:
            lines.append(f"  - headers (first of {r['count']}): {headers}")
        if r["body"]:
            lines.append(f"  - body: `{r['body'][:400]}`")
    return [*lines, ""]
