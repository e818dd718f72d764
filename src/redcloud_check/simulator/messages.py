"""POST /api/core/messages/send: Idempotency-Key handling, message creation and the start of
each accepted recipient's webhook lifecycle.

Idempotency is per (API client, key): the same key and the same payload (compared as
canonical JSON) replay the stored 202 byte for byte, with no new message and no new
webhook; the same key with a different payload is 409 CONFLICT. Only accepted sends are
stored.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from redcloud_check.simulator.auth import authenticate
from redcloud_check.simulator.responses import JSON, CoreError, json_object, runtime
from redcloud_check.simulator.send_rules import plan_send
from redcloud_check.simulator.state import Message, SimState, StoredSend
from redcloud_check.simulator.variants import new_id

MAX_KEY_LENGTH = 255
INVALID_RECIPIENT = {"code": "INVALID_RECIPIENT",
                     "message": "Recipient must be a valid E.164 phone number", "details": {}}


def fingerprint(body: dict[str, Any]) -> str:
    """The canonical JSON of a payload: equal for payloads that differ only in key order."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _idempotency_key(request: Request, optional: bool) -> str | None:
    key = request.headers.get("idempotency-key")
    if not key:  # absent or empty (a blank value arrives empty: HTTP strips it)
        if optional:
            return None
        raise CoreError(400, "INVALID_REQUEST", "Idempotency-Key header is required")
    if len(key) > MAX_KEY_LENGTH:
        raise CoreError(400, "INVALID_REQUEST",
                        f"Idempotency-Key must be at most {MAX_KEY_LENGTH} characters")
    return key


def _message_id(client_id: str, to: str, per_recipient: bool,
                variants: frozenset[str]) -> str:
    """A fresh messageId (a UUID under uuid-ids); under message-ids-repeat one derived from
    the recipient alone."""
    if per_recipient:
        return "msg_" + hashlib.sha256(f"{client_id}:{to}".encode()).hexdigest()[:20]
    return new_id("msg_", secrets.token_hex(10), variants)


def _replayed(stored: bytes, current_status: bool) -> bytes:
    """The stored response; under send-replay-current-status each result's status is the
    message's later one instead."""
    if not current_status:
        return stored
    body = json.loads(stored)
    for result in body["results"]:
        result["status"] = "SENT"
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


RETRY_AFTER_S = 1


def _rate_limit(state: SimState) -> None:
    """The rate-limit variant: the run's first send attempt is refused with 429 and
    Retry-After, as a conformant API may; the same send again goes through."""
    if not state.variant("rate-limit"):
        return
    with state.lock:
        first, state.rate_limited = not state.rate_limited, True
    if first:
        raise CoreError(429, "RATE_LIMITED", f"Too many requests: retry after "
                        f"{RETRY_AFTER_S} second(s)", {"Retry-After": str(RETRY_AFTER_S)})


async def send_message(request: Request) -> Response:
    """POST /api/core/messages/send."""
    client = authenticate(request)
    rt = runtime(request)
    state = rt.state
    _rate_limit(state)
    key = _idempotency_key(request, state.has("send-idempotency-optional"))
    body = await json_object(request)
    canonical = fingerprint(body)
    if key is not None:
        with state.lock:
            stored = state.sends.get((client.client_id, key))
        if stored is not None:
            if stored.fingerprint != canonical and not state.has("send-conflict-ignored"):
                raise CoreError(409, "CONFLICT", "Idempotency-Key was already used with a "
                                                 "different payload")
            if stored.fingerprint == canonical and not state.has("send-replay-new-message"):
                return Response(_replayed(stored.body, state.has("send-replay-current-status")),
                                stored.status, media_type=JSON)
    plan = plan_send(state, client, body)
    messages = [Message(message_id=_message_id(client.client_id, to,
                                               state.has("message-ids-repeat"),
                                               state.variants),
                        client_id=client.client_id,
                        number_id=plan.number_id, send_from=plan.send_from, to=to,
                        external_reference=plan.external_reference,
                        webhook_url=plan.webhook_url)
                for to in plan.accepted]
    status_text = "SENT" if state.has("send-status-sent") else "QUEUED"
    response = {
        "results": [{"to": m.to, "messageId": m.message_id, "status": status_text}
                    for m in messages],
        "errors": [{"to": to, "error": dict(INVALID_RECIPIENT, details={})}
                   for to in plan.rejected],
    }
    status = 200 if state.has("send-accepted-200") else 202
    raw = json.dumps(response, separators=(",", ":")).encode("utf-8")
    with state.lock:
        if key is not None:
            state.sends[(client.client_id, key)] = StoredSend(canonical, status, raw)
        for message in messages:
            state.messages[message.message_id] = message
    for message in messages:
        rt.deliverer.schedule(message)
    return Response(raw, status, media_type=JSON)
