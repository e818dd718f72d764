"""The lifecycle event vocabulary (1-quickstart.txt, Sections 8-9): the listed event types,
their order, the status each implies, and how an event is read. Pure data and functions.
"""

from __future__ import annotations

from typing import Any

QUEUED, SENT, DELIVERY, FAILED = ("message.queued", "message.sent", "message.delivery",
                                  "message.failed")
FINALS = (DELIVERY, FAILED)
LISTED = (QUEUED, SENT, DELIVERY, FAILED)  # the docs list events "such as" these
RANK = {QUEUED: 0, SENT: 1, DELIVERY: 2, FAILED: 2}
# data.status each listed type implies: "delivered" is the docs' example (Section 9); the
# others follow the event names (DESIGN.md: event consistency).
IMPLIED_STATUS = {QUEUED: "queued", SENT: "sent", DELIVERY: "delivered", FAILED: "failed"}


def data(event: dict[str, Any]) -> dict[str, Any]:
    """The event's data object ({} when it has none)."""
    value = event.get("data")
    return value if isinstance(value, dict) else {}


def attributed_to(event: dict[str, Any]) -> str | None:
    """The message an event is keyed to: its messageId, else data.messageId."""
    for value in (event.get("messageId"), data(event).get("messageId")):
        if isinstance(value, str) and value:
            return value
    return None


def unlisted(event: dict[str, Any]) -> bool:
    """An event whose type the docs do not list: recorded and shown, never judged (DESIGN.md:
    unknown event types). A missing or non-string eventType is not unlisted but malformed."""
    kind = event.get("eventType")
    return isinstance(kind, str) and kind not in LISTED


def type_label(event: dict[str, Any]) -> str:
    """The event type as shown: an unlisted one says so."""
    return str(event.get("eventType")) + (" (not a listed type)" if unlisted(event) else "")


def sequence_key(event: dict[str, Any]) -> float:
    """The sequence for ordering; an event without an integer sequence sorts last."""
    seq = event.get("sequence")
    return float(seq) if isinstance(seq, int) and not isinstance(seq, bool) else float("inf")
