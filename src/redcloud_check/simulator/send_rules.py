"""The documented send rules (4-sending-messages.txt, 3-api-reference "Queue an outbound
message", 5-troubleshooting.txt), as one pure function from a request body to a SendPlan.

Whole-request rejections (CoreError): unknown or mistyped fields (media items included: only
the MessageMediaInput fields, strings and a non-negative integer byteLength), an empty
sendFrom, a missing sendFrom, messageType, to or externalReference (which may be empty) ->
400; an E.164 sendFrom -> 400; a numberId the client does not own or that does not exist ->
403 FORBIDDEN; a number not ACTIVE or not enabled for the message type -> 400; SMS with
media, MMS without media, neither text nor media (an empty text is none), empty to[] -> 400;
every recipient invalid -> 400. Otherwise invalid recipients are listed apart
(partial success). Each ``send-*`` fault switches off exactly one of these rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redcloud_check.core.e164 import is_e164
from redcloud_check.simulator.responses import CoreError
from redcloud_check.simulator.seed import Client, Number
from redcloud_check.simulator.state import SimState

FIELDS = ("sendFrom", "to", "messageType", "text", "media", "externalReference")
MEDIA_STRINGS = ("storageKey", "mimeType", "sourceUrl", "fileName")  # + byteLength
PLACEHOLDER_E164 = "+15550000000"  # sendFrom of an unknown number accepted under a fault


@dataclass(frozen=True, slots=True)
class SendPlan:
    """A send that passed the whole-request rules."""

    number_id: str
    send_from: str  # the number's E.164
    webhook_url: str | None
    external_reference: str
    accepted: tuple[str, ...]
    rejected: tuple[str, ...]


def _bad(message: str) -> CoreError:
    return CoreError(400, "INVALID_REQUEST", message)


def _check_shape(body: dict[str, Any]) -> None:
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise _bad(f"Unknown field: {unknown[0]}")
    for key in ("sendFrom", "externalReference", "messageType"):
        if key not in body:
            raise _bad(f"{key} is required")
        if not isinstance(body[key], str):
            raise _bad(f"{key} must be a string")
    if not body["sendFrom"]:
        raise _bad("sendFrom must be a Red Cloud numberId, not empty")
    if body["messageType"] not in ("SMS", "MMS"):
        raise _bad("messageType must be SMS or MMS")
    if "to" not in body:
        raise _bad("to is required: at least one recipient")
    if not isinstance(body["to"], list) or not all(isinstance(t, str) for t in body["to"]):
        raise _bad("to must be an array of E.164 phone numbers")
    if "text" in body and not isinstance(body["text"], str):
        raise _bad("text must be a string")
    media = body.get("media")
    if "media" in body and (not isinstance(media, list)
                            or not all(isinstance(m, dict) for m in media)):
        raise _bad("media must be an array of media objects")
    for index, item in enumerate(media if isinstance(media, list) else []):
        _check_media_item(index, item)


def _check_media_item(index: int, item: dict[str, Any]) -> None:
    """One MessageMediaInput (4-sending-messages.txt, MMS example): its fields only."""
    unknown = sorted(set(item) - {*MEDIA_STRINGS, "byteLength"})
    if unknown:
        raise _bad(f"Unknown field: media[{index}].{unknown[0]}")
    for key in MEDIA_STRINGS:
        if key in item and not isinstance(item[key], str):
            raise _bad(f"media[{index}].{key} must be a string")
    size = item.get("byteLength", 0)
    whole = (isinstance(size, int) and not isinstance(size, bool)) or (
        isinstance(size, float) and size.is_integer())  # JSON Schema: 1.0 is an integer
    if not whole or size < 0:
        raise _bad(f"media[{index}].byteLength must be a non-negative integer")


def _resolve_number(state: SimState, client: Client, send_from: str) -> Number | None:
    """The sending number; None only when a fault lets an unknown number through."""
    with state.lock:
        number = state.numbers.get(send_from)
        if is_e164(send_from):
            if not state.has("send-e164-sendfrom-accepted"):
                raise _bad("sendFrom must be a Red Cloud numberId (such as num_abc123), "
                           "not an E.164 phone number")
            number = next((n for n in state.numbers.values()
                           if n.e164 == send_from and n.owner == client.client_id), None)
        owned = number is not None and number.owner == client.client_id
    if not owned and not state.has("send-unowned-number-accepted"):
        raise CoreError(403, "FORBIDDEN",
                        f"sendFrom {send_from} is not a number owned by this API client")
    return number


def _check_number(number: Number, message_type: str) -> None:
    if number.status != "ACTIVE":
        raise _bad(f"Number {number.number_id} is not ACTIVE (status {number.status})")
    enabled = number.sms_enabled if message_type == "SMS" else number.mms_enabled
    if not enabled:
        raise _bad(f"Number {number.number_id} is not enabled for {message_type}")


def _check_content(state: SimState, body: dict[str, Any]) -> None:
    has_media = bool(body.get("media"))
    if body["messageType"] == "SMS" and "media" in body \
            and not state.has("send-sms-media-accepted"):
        raise _bad("SMS requests cannot include media")
    if body["messageType"] == "MMS" and not has_media \
            and not state.has("send-mms-without-media-accepted"):
        raise _bad("MMS requests must include media")
    if not body.get("text") and not has_media and not state.has("send-no-content-accepted"):
        raise _bad("At least one of text or media is required")


def _split_recipients(state: SimState, to: list[str]) -> tuple[tuple[str, ...], ...]:
    if not to and not state.has("send-empty-to-accepted"):
        raise _bad("to must contain at least one recipient")
    accepted = tuple(t for t in to if is_e164(t))
    rejected = tuple(t for t in to if not is_e164(t))
    if rejected and state.has("send-partial-all-or-nothing"):
        raise _bad(f"Invalid recipient: {rejected[0]}")
    if to and not accepted:
        raise _bad("No valid recipient: every to[] entry must be an E.164 phone number")
    return accepted, rejected


def plan_send(state: SimState, client: Client, body: dict[str, Any]) -> SendPlan:
    """The SendPlan for `body`, or CoreError for the first rule it breaks."""
    _check_shape(body)
    send_from = body["sendFrom"]
    number = _resolve_number(state, client, send_from)
    if number is not None:
        _check_number(number, body["messageType"])
    _check_content(state, body)
    accepted, rejected = _split_recipients(state, body["to"])
    override = number.webhook_delivery_override if number is not None else None
    return SendPlan(
        number_id=number.number_id if number is not None else send_from,
        send_from=number.e164 if number is not None else
        (send_from if is_e164(send_from) else PLACEHOLDER_E164),
        webhook_url=override or client.delivery_webhook_url,
        external_reference=body["externalReference"],
        accepted=accepted, rejected=rejected)
