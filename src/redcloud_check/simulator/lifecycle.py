"""Lifecycle webhook events of an accepted message: which events, in what order, with what
payload and signature (1-quickstart.txt Sections 8 and 9).

Every accepted recipient gets ``message.queued`` (sequence 1), ``message.sent`` (2), then a
final event (3) chosen by the recipient. Magic recipients, in the spirit of test numbers:

    +15005550001        message.failed    data.error.code CARRIER_REJECTED
    +15005550002        message.failed    data.error.code UNREACHABLE_HANDSET
    any other E.164     message.delivery  data.status "delivered"

Signed per ``redcloud_check.core.signing``: ``X-RedCloud-Timestamp`` (ms) and
``X-RedCloud-Signature = hex(HMAC_SHA256(webhook_secret, "<timestamp>.<rawBody>"))``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, replace
from typing import Any

from redcloud_check.core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, now_ms, sign
from redcloud_check.simulator.state import Client, Message
from redcloud_check.simulator.variants import UNLISTED_EVENT_TYPE, with_additive_fields

WRONG_SECRET = "rc_whsec_not_the_client_secret"  # used under webhook-wrong-secret
CLIENT_KEY_FAULT = "webhook-signed-with-client-secret"
DECODED_KEY_FAULT = "webhook-secret-base64-decoded"
WHSEC = "whsec_"


def webhook_secret(client: Client, faults: frozenset[str]) -> str:
    """The client's webhook signing secret. The docs' examples use one value for the client
    secret and the webhook secret; under webhook-signed-with-client-secret the client gets a
    signing secret of its own, so that signing with the wrong one shows. Under
    webhook-secret-base64-decoded it is shown the Standard Webhooks way: 'whsec_' + the
    base64 of 24 random-looking bytes (derived from the client secret: stable per client)."""
    if CLIENT_KEY_FAULT in faults and client.webhook_secret == client.client_secret:
        return "rc_whsec_" + client.client_secret.removeprefix("rc_secret_")
    if DECODED_KEY_FAULT in faults:
        key = hashlib.sha256(b"whsec:" + client.client_secret.encode()).digest()[:24]
        return WHSEC + base64.b64encode(key).decode("ascii")
    return client.webhook_secret


def signing_key(client: Client, faults: frozenset[str]) -> str | bytes:
    """The key the simulator signs the client's webhooks with (the wrong one under a fault)."""
    if CLIENT_KEY_FAULT in faults:
        return client.client_secret
    if DECODED_KEY_FAULT in faults:  # the shown secret, decoded: not what the docs sign with
        return base64.b64decode(webhook_secret(client, faults).removeprefix(WHSEC))
    return webhook_secret(client, faults)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The final lifecycle event for a recipient."""

    event_type: str
    status: str
    error_code: str | None = None
    error_message: str | None = None

    def error(self) -> dict[str, str] | None:
        if self.error_code is None:
            return None
        return {"code": self.error_code, "message": self.error_message or ""}


DELIVERED = Outcome("message.delivery", "delivered")
DELIVERY_OUTCOMES: dict[str, Outcome] = {
    "+15005550001": Outcome("message.failed", "failed", "CARRIER_REJECTED",
                            "The carrier rejected the message"),
    "+15005550002": Outcome("message.failed", "failed", "UNREACHABLE_HANDSET",
                            "The handset could not be reached"),
}


def outcome_for(to: str) -> Outcome:
    """The final outcome a recipient gets: a magic number's, else delivered."""
    return DELIVERY_OUTCOMES.get(to, DELIVERED)


@dataclass(frozen=True, slots=True)
class Step:
    """One lifecycle event still to be sent."""

    event_type: str
    status: str
    sequence: int
    error: dict[str, str] | None = None


def lifecycle(to: str, faults: frozenset[str], variants: frozenset[str] = frozenset()
              ) -> tuple[Step, ...]:
    """The events of one message, in delivery order (reordered-delivery: reversed)."""
    if "webhook-not-delivered" in faults:
        return ()
    outcome = outcome_for(to)
    final_type = outcome.event_type
    if final_type == "message.delivery" and "webhook-wrong-event-type" in faults:
        final_type = "message.delivered"
    regress = "webhook-sequence-regression" in faults
    final_sequence = 2 if "event-sequence-reused-final" in faults else 3
    steps = [Step("message.queued", "queued", 2 if regress else 1),
             Step("message.sent", "sent", 1 if regress else 2),
             Step(final_type, outcome.status, final_sequence, outcome.error())]
    if "unlisted-event-type" in variants:
        steps.insert(2, Step(UNLISTED_EVENT_TYPE, "carrier_accepted", 3))
        steps[-1] = replace(steps[-1], sequence=steps[-1].sequence + 1)
    if "webhook-no-final-event" in faults:
        steps.pop()
    if "reordered-delivery" in variants:
        steps.reverse()
    return tuple(steps)


OTHER_CLIENT = "rc_other_client_789"  # a seeded client; events under event-wrong-client
OTHER_NUMBER = "+15557654321"  # num_other789's E.164; data.sendFrom under the sender fault
OPPOSITE = {"delivered": "failed", "failed": "delivered"}


def _mislead(event: dict[str, Any], message: Message, faults: frozenset[str]) -> None:
    """The event-* faults: one field of the event disagrees with the send (in place)."""
    data = event["data"]
    if "event-wrong-client" in faults:
        event["apiClientId"] = (OTHER_CLIENT if message.client_id != OTHER_CLIENT
                                else "rc_test_client_123")
    if "event-wrong-message-in-data" in faults:
        data["messageId"] = "msg_" + hashlib.sha256(message.message_id.encode()).hexdigest()[:20]
    if "event-wrong-recipient" in faults:
        data["to"] = "+15550009999" if message.to != "+15550009999" else "+15550009998"
    if "event-wrong-sender-number" in faults:
        data["sendFrom"] = OTHER_NUMBER if message.send_from != OTHER_NUMBER else "+15551230456"
    if "event-direction-inbound" in faults:
        event["direction"] = "inbound"
    if "event-status-contradicts-type" in faults and data["status"] in OPPOSITE:
        data["status"] = OPPOSITE[data["status"]]


def event_body(message: Message, step: Step, faults: frozenset[str],
               variants: frozenset[str] = frozenset()) -> bytes:
    """The raw JSON body of one event, shaped like the docs' example."""
    seconds = "second-timestamps" in variants
    event: dict[str, Any] = {
        "eventType": step.event_type,
        "direction": "outbound",
        "occurredAt": int(time.time()) if seconds else int(time.time() * 1000),
        "apiClientId": message.client_id,
        "messageId": message.message_id,
        "sequence": step.sequence,
        "data": {
            "messageId": message.message_id,
            "externalReference": message.external_reference,
            "sendFrom": message.send_from,
            "to": message.to,
            "status": step.status,
            "error": step.error,
        },
    }
    _mislead(event, message, faults)
    if "webhook-malformed-event" in faults:
        del event["messageId"], event["data"]["messageId"]
    if "additive-fields" in variants:
        event = with_additive_fields(event)
    return json.dumps(event, separators=(",", ":")).encode("utf-8")


def signed_headers(secret: str | bytes, body: bytes, faults: frozenset[str],
                   variants: frozenset[str] = frozenset()) -> dict[str, str]:
    """Content-Type and the signing headers for one delivery attempt."""
    timestamp = str(int(time.time())) if "second-timestamps" in variants else now_ms()
    content_type = "text/plain" if "webhook-content-type-text" in faults else (
        "application/json" + ("; charset=utf-8" if "json-charset" in variants else ""))
    headers = {"Content-Type": content_type, TIMESTAMP_HEADER: timestamp}
    if "webhook-missing-signature" in faults:
        return headers
    key = secret.encode() if isinstance(secret, str) else secret
    if "webhook-signs-pretty-body" in faults:  # signs JSON.stringify(event, null, 2)
        body = json.dumps(json.loads(body), indent=2, ensure_ascii=False).encode("utf-8")
    if "webhook-hmac-body-only" in faults:
        signature = hmac.new(key, body, hashlib.sha256).hexdigest()
    else:
        signature = sign(WRONG_SECRET if "webhook-wrong-secret" in faults else key,
                         timestamp, body)
    headers[SIGNATURE_HEADER] = (signature.upper() if "webhook-uppercase-signature" in faults
                                 else signature)
    return headers
