"""Every request that reached the webhook listener, as rows support can act on.

One row per group of identical deliveries (same URL, message, event, body, status and
verdict: a sender's retries of one event), with a count: what was received (the signing
headers, the body, attributed to the messageId it names even when its signature failed,
and then marked unverified) and the verdict (what the listener answered, and for a failing
signature what it was made with: `webhooks.forensics`), and what the docs' own listener
answers to it (`webhooks.reference`). Pure: no servers, no secrets (keys
come in by label and only labels go out).

`timeline` is one message's rows for report.html's SVG and the ticket.

`cite` is a group of deliveries as a cause's evidence (how many, where, when, what their bodies
claim).

Public surface: `cite`, `claimed`, `claimed_message_id`, `delivery_rows`, `timeline`,
`SHOWN_HEADERS`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from redcloud_check.core.models import AcceptedMessage
from redcloud_check.core.timefmt import iso_utc
from redcloud_check.webhooks.events import unlisted
from redcloud_check.webhooks.forensics import WEBHOOK_KEY, identify
from redcloud_check.webhooks.listener import Delivery
from redcloud_check.webhooks.reference import judge

__all__ = ["SHOWN_HEADERS", "cite", "claimed", "claimed_message_id", "delivery_rows",
           "timeline"]

SHOWN_HEADERS = ("x-redcloud-timestamp", "x-redcloud-signature", "content-type",
                 "content-length", "user-agent")
BODY_SHOWN = 2048


def claimed(d: Delivery) -> dict[str, Any] | None:
    """The event a delivery carries: verified, or as its unverified body claims it."""
    if d.event is not None:
        return d.event
    try:
        value = json.loads(d.raw_body.decode("utf-8")) if d.raw_body else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def claimed_message_id(d: Delivery) -> str | None:
    event = claimed(d)
    if event is None:
        return None
    data = event.get("data")
    for value in (event.get("messageId"), data.get("messageId") if isinstance(data, dict)
                  else None):
        if isinstance(value, str) and value:
            return value
    return None


def cite(deliveries: Sequence[Delivery]) -> str:
    """The deliveries as evidence: how many, where, when, and what their bodies claim."""
    times = sorted(d.received_at for d in deliveries)
    paths = ", ".join(sorted({d.path for d in deliveries}))
    when = iso_utc(times[0]) + (f" to {iso_utc(times[-1])}" if len(times) > 1 else "")
    events = []
    for d in deliveries:
        event = claimed(d) or {}
        label = f"{event.get('eventType')} seq {event.get('sequence')} of {event.get('messageId')}"
        if event and label not in events:
            events.append(label)
    shown = "; ".join(events[:4]) + (f"; +{len(events) - 4} more" if len(events) > 4 else "")
    claim = "" if not shown else (f" ({shown})" if all(d.verified for d in deliveries)
                                  else f" (as their bodies claim: {shown})")
    return f"{len(deliveries)} POST {paths} at {when}{claim}"


def _body(raw: bytes) -> str | None:
    if not raw:
        return None
    text = raw[:BODY_SHOWN].decode("utf-8", "replace")
    return text + (f"... ({len(raw) - BODY_SHOWN} more bytes)" if len(raw) > BODY_SHOWN else "")


def _verdict(d: Delivery, keys: Mapping[str, str]) -> str:
    verdict = f"HTTP {d.status_returned}: {d.reason}"
    signature = d.headers.get("x-redcloud-signature")
    if d.timestamp and signature and d.raw_body and (
            not d.verified or signature != signature.lower()):
        found = identify(keys, d.timestamp, d.raw_body, signature.split(", ")[0])
        verdict += (f"; the signature is {found.describe()}" if found is not None else
                    "; no combination tried verifies it")
    return verdict


def _docs_listener(d: Delivery, keys: Mapping[str, str]) -> str | None:
    """What the docs' listener answers to it (webhooks.reference); None off the path."""
    if d.method != "POST" or d.status_returned in (404, 405):
        return None
    return judge(d, keys.get(WEBHOOK_KEY, "")).reason


def delivery_rows(deliveries: Sequence[Delivery], *, public_url: str | None,
                  keys: Mapping[str, str], verdict_at: float | None = None
                  ) -> list[dict[str, Any]]:
    """Identical deliveries collapsed into one row each, in order of first arrival."""
    base = ""
    if public_url:
        parts = urlsplit(public_url)
        base = f"{parts.scheme}://{parts.netloc}"
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for d in deliveries:
        event = claimed(d)
        verdict = _verdict(d, keys)
        key = (d.method, d.path, claimed_message_id(d), d.status_returned, d.verified,
               hashlib.sha256(d.raw_body).hexdigest(), verdict.split("; the signature")[0])
        late = verdict_at is not None and d.received_at > verdict_at
        row = rows.get(key)
        if row is not None:
            row["count"] += 1
            row["last_at"] = iso_utc(d.received_at)
            row["after_verdict"] = row["after_verdict"] or late
            continue
        rows[key] = {
            "count": 1, "first_at": iso_utc(d.received_at), "last_at": iso_utc(d.received_at),
            "received_at": round(d.received_at, 3),
            "method": d.method, "url": base + d.path if base else d.path,
            "messageId": claimed_message_id(d),
            "eventType": event.get("eventType") if event is not None else None,
            "sequence": event.get("sequence") if event is not None else None,
            "verified": d.verified,
            "headers": {h: d.headers[h] for h in SHOWN_HEADERS if h in d.headers},
            "body": _body(d.raw_body), "body_verified": d.verified,
            "status_returned": d.status_returned, "verdict": verdict,
            "docs_listener": _docs_listener(d, keys), "after_verdict": late,
        }
    return list(rows.values())


def timeline(message: AcceptedMessage, deliveries: Sequence[Delivery]) -> list[dict[str, Any]]:
    """Rows for the report's SVG: the message's events, and every unverified request since the
    send that names this message (or none), marked unverified."""
    rows: list[dict[str, Any]] = []
    for d in deliveries:
        if d.received_at < message.accepted_at - 1:
            continue
        if d.event is not None and claimed_message_id(d) == message.message_id:
            notes = (["duplicate"] if d.duplicate else []) + (
                ["reuses an earlier event's sequence"] if d.sequence_reused else []) + (
                ["not a listed event type"] if unlisted(d.event) else []) + list(d.warnings)
            if not d.accepted:
                notes.append(d.reason)
            rows.append({"eventType": d.event_type, "sequence": d.sequence, "verified": True,
                         "note": "; ".join(notes)})
        elif not d.verified:
            # attributed to the message its body names, marked unverified; a body naming
            # another message belongs to that message's timeline
            event, claimed_id = claimed(d), claimed_message_id(d)
            if claimed_id is not None and claimed_id != message.message_id:
                continue
            rows.append({"eventType": event.get("eventType") if event else None,
                         "sequence": event.get("sequence") if event else None,
                         "verified": False,
                         "note": f"HTTP {d.status_returned}: {d.reason}"
                                 + ("; body unverified" if event else "")})
        else:
            continue
        rows[-1]["offset_ms"] = round((d.received_at - message.accepted_at) * 1000, 1)
    return rows
