"""Helpers for the webhook tests: build lifecycle events and post them signed, as Red Cloud
does (1-quickstart.txt, Section 9)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from redcloud_check.core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, now_ms, sign

SECRET = "test_webhook_secret_9f2c"  # a test value; never a real secret
LIFECYCLE = ("message.queued", "message.sent", "message.delivery")
SIM_E164 = "+15551234567"  # the seeded num_abc123's E.164 (and the docs' example number)


def event(message_id: str, event_type: str, sequence: int, *,
          external_reference: str = "order_789", **data: Any) -> dict[str, Any]:
    status = {"message.queued": "queued", "message.sent": "sent",
              "message.delivery": "delivered", "message.failed": "failed"}.get(event_type, "?")
    body: dict[str, Any] = {
        "eventType": event_type, "direction": "outbound", "occurredAt": int(time.time() * 1000),
        "apiClientId": "rc_test_client_123", "messageId": message_id, "sequence": sequence,
        "data": {"messageId": message_id, "externalReference": external_reference,
                 "sendFrom": "+15551234567", "to": "+15551234567", "status": status,
                 "error": None},
    }
    body["data"].update(data)
    return body


def signed_headers(raw: bytes, secret: str = SECRET, timestamp: str | None = None
                   ) -> dict[str, str]:
    ts = now_ms() if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(secret, ts, raw),
            "Content-Type": "application/json"}


def post_signed(url: str, payload: dict[str, Any] | bytes, *, secret: str = SECRET,
                timestamp: str | None = None, client: httpx.Client | None = None
                ) -> httpx.Response:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = signed_headers(raw, secret, timestamp)
    if client is not None:
        return client.post(url, content=raw, headers=headers)
    return httpx.post(url, content=raw, headers=headers, timeout=10)


def post_lifecycle(url: str, message_id: str, *, final: str = "message.delivery",
                   secret: str = SECRET, external_reference: str = "order_789") -> None:
    for seq, kind in enumerate((*LIFECYCLE[:2], final), start=1):
        response = post_signed(url, event(message_id, kind, seq,
                                          external_reference=external_reference),
                               secret=secret)
        assert response.status_code == 200, response.text


def accepted_send(rc: Any, name: str = "webhook-test", to: str | None = None) -> Any:
    """POST one SMS through `rc` (a RunContext) and record it as accepted; returns it."""
    from redcloud_check.core.models import AcceptedMessage

    key = rc.idempotency_key(name)
    payload = {"sendFrom": rc.settings.number_id, "to": [to or rc.settings.to],
               "messageType": "SMS", "text": "webhook test", "externalReference": f"ref-{name}"}
    exchange = rc.core("POST", "/api/core/messages/send", json=payload,
                       headers={"Idempotency-Key": key}, label=f"send: {name}")
    assert exchange.status == 202, exchange.response_body
    result = exchange.json()["results"][0]
    message = AcceptedMessage(result["messageId"], result["to"], payload["externalReference"],
                              key, payload["sendFrom"], exchange.started_at, None,
                              api_client_id=rc.settings.client_id,
                              send_from_e164=rc.e164_of(payload["sendFrom"]) or SIM_E164)
    rc.accepted.append(message)
    return message
