"""Every verified lifecycle event against its cause: the send the run made (DESIGN.md: event
consistency).

The run knows the truth behind each event of an accepted message: the API client whose
credentials sent it, the recipient results[] accepted, the sending number (its numberId,
and its E.164 from /api/core/numbers), that the message is outbound, and the status each
listed event type implies. `mismatches(event, message)` compares every such field of one
event with that truth; a field whose truth the run lacks is not judged.

    field          truth                                   kind     grade
    apiClientId    RC_CLIENT_ID (whose credentials sent)   client   fail
    direction      "outbound" (any case)                   message  fail
    data.to        the accepted recipient                  message  fail
    data.sendFrom  the sending number's E.164              message  fail; its numberId instead:
                                                                    warning
    data.status    the status the eventType implies        status   fail when it names another
                   (queued, sent, delivered, failed)                lifecycle state; warning for
                                                                    a word the docs never use
    data.error     null on message.delivery                status   warning
    occurredAt     not before the send started (ms or s,   message  warning past 300 s of
                   by magnitude)                                    slack (clock skew is
                                                                    possible; the docs name
                                                                    no tolerance)

messageId, data.messageId and data.externalReference are judged by the ids check
(lifecycle.py). Each finding is an `EventMismatch`: a `rules.consistency.Mismatch` (field,
expected, actual) with the check it belongs to and its grade.

Grading: the docs show these fields only by example (1-quickstart.txt, Section 9);
DESIGN.md's contract table decides that each must match what the run knows, so
a mismatch that would mislead an integration (another client, recipient or number, an
inbound direction, a status contradicting the event) fails, and a harmless difference of
form is a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redcloud_check.core.findings import Severity
from redcloud_check.core.models import AcceptedMessage
from redcloud_check.core.signing import timestamp_seconds
from redcloud_check.core.timefmt import iso_utc
from redcloud_check.rules.consistency import Mismatch
from redcloud_check.webhooks.events import DELIVERY, IMPLIED_STATUS, data

OCCURRED_SLACK_S = 300.0  # as the listener's timestamp tolerance: clocks may differ
TITLES = {
    "client": "A webhook event is attributed to another API client",
    "message": "A webhook event does not describe the message that was sent",
    "status": "A webhook event's status contradicts its event type",
}


@dataclass(frozen=True, slots=True)
class EventMismatch:
    """One field of one event that disagrees with the run's truth, and how it is graded."""

    kind: str  # client | message | status: the stage-5 check that reports it
    severity: Severity  # fail | warning
    mismatch: Mismatch  # field, expected (the truth), actual (what the event says)
    note: str = ""

    def describe(self) -> str:
        """e.g. "data.to expected '+15551234567', seen '+15550009999' (the recipient ...)"."""
        m = self.mismatch
        expected = m.expected if isinstance(m.expected, Truth) else repr(m.expected)
        note = f" ({self.note})" if self.note else ""
        return f"{m.field} expected {expected}, seen {m.actual!r}{note}"


class Truth(str):
    """An expected value that is a description (e.g. "not before 2026-..."), shown as is."""

    __slots__ = ()


def _found(kind: str, severity: Severity, field: str, expected: Any, actual: Any,
           note: str = "") -> EventMismatch:
    return EventMismatch(kind, severity, Mismatch(field, expected, actual), note)


def _client(event: dict[str, Any], message: AcceptedMessage) -> list[EventMismatch]:
    seen = event.get("apiClientId")
    if message.api_client_id is None or seen == message.api_client_id:
        return []
    return [_found("client", "fail", "apiClientId", message.api_client_id, seen,
                   "the client whose credentials sent the message")]


def _message(event: dict[str, Any], message: AcceptedMessage) -> list[EventMismatch]:
    found: list[EventMismatch] = []
    direction = event.get("direction")
    if not (isinstance(direction, str) and direction.lower() == "outbound"):
        found.append(_found("message", "fail", "direction", "outbound", direction,
                            "the run sent this message"))
    fields = data(event)
    if fields.get("to") != message.to:
        found.append(_found("message", "fail", "data.to", message.to, fields.get("to"),
                            "the recipient the send accepted"))
    send_from = fields.get("sendFrom")
    e164 = message.send_from_e164
    if e164 is not None and send_from != e164:
        if send_from == message.number_id:
            found.append(_found("message", "warning", "data.sendFrom", e164, send_from,
                                "the numberId, not its E.164 as the docs' example shows"))
        else:
            found.append(_found("message", "fail", "data.sendFrom", e164, send_from,
                                f"the E.164 of {message.number_id} from /api/core/numbers"))
    return found


def _occurred(event: dict[str, Any], message: AcceptedMessage) -> list[EventMismatch]:
    value = event.get("occurredAt")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return []  # the schema check's
    try:
        early = message.accepted_at - timestamp_seconds(value)
    except ValueError:
        return []
    if early <= OCCURRED_SLACK_S:
        return []
    return [_found("message", "warning", "occurredAt",
                   Truth(f"not before the send ({iso_utc(message.accepted_at)})"), value,
                   f"{early:.0f} s earlier: clock skew, or another message's event; the docs "
                   "name no tolerance")]


def _status(event: dict[str, Any], message: AcceptedMessage) -> list[EventMismatch]:
    kind = event.get("eventType")
    implied = IMPLIED_STATUS.get(kind) if isinstance(kind, str) else None
    if implied is None:
        return []
    fields = data(event)
    found: list[EventMismatch] = []
    status = fields.get("status")
    said = status.lower() if isinstance(status, str) else None
    if said != implied:
        others = set(IMPLIED_STATUS.values()) - {implied}
        contradicts = said in others
        found.append(_found(
            "status", "fail" if contradicts else "warning", "data.status", implied, status,
            f"{kind} implies {implied}" + (
                "" if contradicts else "; the docs do not list this status")))
    if kind == DELIVERY and fields.get("error") is not None:
        found.append(_found("status", "warning", "data.error", None, fields.get("error"),
                            "a delivered message with an error; the docs' example shows null"))
    return found


def mismatches(event: dict[str, Any], message: AcceptedMessage) -> list[EventMismatch]:
    """Every field of `event` (a listed event type keyed to `message`) that disagrees with
    what the run knows about `message`."""
    return [*_client(event, message), *_message(event, message), *_occurred(event, message),
            *_status(event, message)]
