"""Stage 4: send (4-sending-messages.txt; 3-api-reference Queue an outbound message).

Runs against the embedded simulator, or a remote target with RC_ALLOW_SEND=1. Real
messages go only to RC_TO; the replay and conflict checks reuse the gate's send, so a
full run sends two messages (the gate's and the partial-success one).
"""

from __future__ import annotations

from typing import Any

from redcloud_check.context import RunContext, Shared
from redcloud_check.core.exchange import Exchange
from redcloud_check.results.ledger import SkipCode
from redcloud_check.rules import expect, gates
from redcloud_check.rules.consistency import field_changes, shared_ids
from redcloud_check.rules.gates import SEND, SMS_ACCEPTED
from redcloud_check.suite.declare import check, skip

REF = "3-api-reference-0.2.0.txt, CORE: Queue an outbound message"
RULES = SEND + ", Actual implementation rules"
TROUBLE_400 = "5-troubleshooting.txt, Symptom: send request returns 400 INVALID_REQUEST"
KEY_REQUIRED = REF + " (Idempotency-Key is required)"
NOT_OWNED = "5-troubleshooting.txt, Symptom: send request returns 403 FORBIDDEN"
E164_FROM = SEND + ", Required clarifications: sendFrom"
SMS_MEDIA = RULES + " (SMS cannot include media)"
MMS_MEDIA = RULES + " (MMS must include media)"
NO_CONTENT = RULES + " (at least one of text or media is required)"
NO_RECIPIENT = RULES + " (at least one recipient is required)"
PARTIAL = SEND + ", Partial success example"
REPLAY = SEND + ", Idempotency behavior (same key + same payload)"
CONFLICT = SEND + ", Idempotency behavior (same key + different payload)"
MEDIA = [{"storageKey": "storage_abc123", "mimeType": "image/jpeg", "byteLength": 182340,
          "sourceUrl": "https://example.com/files/catalog.jpg", "fileName": "catalog.jpg"}]
INVALID_RECIPIENT = "invalid"
MESSAGE_IDS = SEND + ", Recommended client handling (correlate future webhook events by messageId)"

FIRST_SEND = Shared[tuple[dict[str, Any], str, Exchange]]("the gate's accepted send")


def _payload(rc: RunContext, check: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sendFrom": rc.settings.number_id,
        "to": [rc.settings.to],
        "messageType": "SMS",
        "text": f"redcloud-check conformance run {rc.run_id}",
        "externalReference": f"rccheck-{rc.run_id}-{check}"[:100],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def _send(rc: RunContext, payload: dict[str, Any], *, key: str | None, label: str) -> Exchange:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return rc.core("POST", "/api/core/messages/send", json=payload, headers=headers,
                   label=label)


def _rejected(rc: RunContext, check: str, *, title: str, clause: str,
              status: int | set[int] = 400, code: str | None = "INVALID_REQUEST",
              key: bool = True, **changes: Any) -> None:
    payload = _payload(rc, check, **changes)
    exchange = _send(rc, payload, key=rc.idempotency_key(check) if key else None,
                     label=f"send: {title}")
    expect.core_error(exchange, status, code, clause=clause, title=title)


def first_send(rc: RunContext) -> tuple[dict[str, Any], str, Exchange]:
    """The gate's accepted send (payload, key, exchange); made now if the gate did not."""
    def send() -> tuple[dict[str, Any], str, Exchange]:
        payload = _payload(rc, "sms-accepted")
        key = rc.idempotency_key("sms-accepted")
        return payload, key, _send(rc, payload, key=key, label="send: SMS accepted")
    return rc.shared(FIRST_SEND, send)


@check("RC-SEND-01", clause=SMS_ACCEPTED)
def test_sms_send_is_accepted(rc_sends: RunContext, rc_webhooks: Any) -> None:
    """A valid SMS send is accepted: 202, results[].status QUEUED with a messageId, and an
    empty errors[]."""
    payload, key, exchange = first_send(rc_sends)
    gates.sms_accepted(rc_sends, exchange, payload, key)


@check("RC-SEND-02", clause=KEY_REQUIRED)
def test_missing_idempotency_key_is_rejected(rc_sends: RunContext) -> None:
    """A send without Idempotency-Key is rejected with 400 INVALID_REQUEST and a requestId."""
    _rejected(rc_sends, "no-idempotency-key", key=False, clause=KEY_REQUIRED,
              title="A send without Idempotency-Key was not rejected")


@check("RC-SEND-03", clause=E164_FROM)
def test_e164_send_from_is_rejected(rc_sends: RunContext) -> None:
    """A send whose sendFrom is the number's E.164 phone number, not its numberId, is
    rejected (400 INVALID_REQUEST or 403 FORBIDDEN)."""
    rc = rc_sends
    e164 = (rc.number or {}).get("e164") or rc.settings.to
    _rejected(rc, "e164-send-from", sendFrom=e164, status={400, 403}, code=None,
              clause=E164_FROM,
              title="A send with an E.164 sendFrom was not rejected")


@check("RC-SEND-04", clause=NOT_OWNED)
def test_unowned_number_is_forbidden(rc_sends: RunContext) -> None:
    """A send from a numberId the client does not own is rejected with 403 FORBIDDEN."""
    rc = rc_sends
    _rejected(rc, "unowned-number", sendFrom=f"num_rccheck_not_owned_{rc.run_id[-6:]}",
              status=403, code="FORBIDDEN",
              clause=NOT_OWNED,
              title="A send from a number the client does not own was not forbidden")


@check("RC-SEND-05", clause=SMS_MEDIA)
def test_sms_with_media_is_rejected(rc_sends: RunContext) -> None:
    """An SMS send that carries media is rejected with 400 INVALID_REQUEST."""
    _rejected(rc_sends, "sms-with-media", media=MEDIA, clause=SMS_MEDIA,
              title="An SMS send with media was not rejected")


@check("RC-SEND-06", clause=MMS_MEDIA)
def test_mms_without_media_is_rejected(rc_sends: RunContext) -> None:
    """An MMS send without media is rejected with 400 INVALID_REQUEST."""
    _rejected(rc_sends, "mms-without-media", messageType="MMS",
              clause=MMS_MEDIA,
              title="An MMS send without media was not rejected")


@check("RC-SEND-07", clause=NO_CONTENT)
def test_send_without_text_or_media_is_rejected(rc_sends: RunContext) -> None:
    """A send with neither text nor media is rejected with 400 INVALID_REQUEST."""
    rc = rc_sends
    payload = _payload(rc, "no-content")
    del payload["text"]
    exchange = _send(rc, payload, key=rc.idempotency_key("no-content"),
                     label="send: neither text nor media")
    expect.core_error(exchange, 400, "INVALID_REQUEST", clause=NO_CONTENT,
                      title="A send with neither text nor media was not rejected")


@check("RC-SEND-08", clause=NO_RECIPIENT)
def test_empty_recipient_list_is_rejected(rc_sends: RunContext) -> None:
    """A send with an empty to[] is rejected with 400 INVALID_REQUEST."""
    _rejected(rc_sends, "empty-to", to=[], clause=NO_RECIPIENT,
              title="A send with an empty to[] was not rejected")


@check("RC-SEND-09", clause=PARTIAL)
def test_partial_success_splits_results_and_errors(rc_sends: RunContext,
                                                   rc_webhooks: Any) -> None:
    """A send to one valid and one invalid recipient is accepted with 202: the valid one in
    results[], the invalid one in errors[] with INVALID_RECIPIENT."""
    rc = rc_sends
    payload = _payload(rc, "partial", to=[rc.settings.to, INVALID_RECIPIENT])
    key = rc.idempotency_key("partial")
    exchange = _send(rc, payload, key=key, label="send: partial success")
    body = gates.send_accepted(rc, exchange, payload, key,
                               clause=PARTIAL,
                               title="A send with one invalid recipient was not partially "
                                     "accepted")
    accepted = [r["to"] for r in body["results"]]
    rejected = {e["to"]: e["error"]["code"] for e in body["errors"]}
    if accepted != [rc.settings.to] or rejected.get(INVALID_RECIPIENT) != "INVALID_RECIPIENT":
        raise expect.fail("Partial success did not split the recipients",
                          expected=f"results [{rc.settings.to}], errors [{INVALID_RECIPIENT}: "
                                   "INVALID_RECIPIENT]",
                          actual=f"results {accepted}, errors {rejected}",
                          clause=PARTIAL, exchange=exchange)


@check("RC-SEND-10", clause=REPLAY)
def test_same_key_same_payload_replays_stored_response(rc_sends: RunContext,
                                                       rc_webhooks: Any) -> None:
    """Repeating a send with the same Idempotency-Key and payload returns the stored 202:
    the same messageIds (no new message) and the same results and errors as stored.

    Graded fail: the docs say the same key and payload "returns the stored 202 response
    again", so the replay restates the first answer, statuses included."""
    rc = rc_sends
    payload, key, original = first_send(rc)
    clause = REPLAY
    first = expect.json_response(original, 202, "send_response", clause=clause,
                                 title="The original send was not accepted")
    replay = _send(rc, payload, key=key, label="send: idempotent replay")
    again = expect.json_response(replay, 202, "send_response", clause=clause,
                                 title="A replay with the same key and payload was not 202")
    ids = [r["messageId"] for r in first["results"]]
    replayed = [r["messageId"] for r in again["results"]]
    if ids != replayed:
        raise expect.fail("A replay created new messages",
                          expected=f"the stored response again (messageIds {ids})",
                          actual=f"messageIds {replayed}", clause=clause, exchange=replay)
    differs = [m for part in ("results", "errors")
               for m in field_changes({part: first[part]}, {part: again[part]}, (part,))]
    if differs:
        raise expect.fail("A replay did not return the stored response",
                          expected=f"{differs[0].field} {differs[0].expected!r} (as stored)",
                          actual=f"{differs[0].field} {differs[0].actual!r}", clause=clause,
                          exchange=replay)


@check("RC-SEND-11", clause=MESSAGE_IDS)
def test_message_ids_are_unique_across_sends(rc_sends: RunContext, rc_webhooks: Any) -> None:
    """Every recipient accepted by a distinct send has its own messageId: no two accepted
    messages of the run share one (an idempotent replay repeats its send's ids, and is
    one send).

    Graded fail: the docs make messageId the key that correlates webhook events to the
    accepted recipient, which a shared value cannot do."""
    rc = rc_sends
    first_send(rc)
    sends = {(m.idempotency_key, m.to) for m in rc.accepted}
    if len(sends) < 2:
        skip(SkipCode.PREMISE, "needs two accepted sends: run the whole send stage",
             short="needs two accepted sends")
    shared = shared_ids((m.message_id, (m.idempotency_key, m.to)) for m in rc.accepted)
    if shared:
        ident, owners = next(iter(shared.items()))
        later = next((e for e in reversed(rc.recorder.all())
                      if e.request_headers.get("Idempotency-Key") == owners[-1][0]
                      and ident in e.response_body.decode("utf-8", "replace")), None)
        raise expect.fail("Two accepted messages share one messageId",
                          expected="a distinct messageId for every accepted recipient of "
                                   "every send",
                          actual=f"messageId {ident!r} for {len(owners)} sends/recipients",
                          clause=MESSAGE_IDS, exchange=later,
                          shared=[f"{key} -> {to}" for key, to in owners])


@check("RC-SEND-12", clause=CONFLICT)
def test_same_key_changed_payload_conflicts(rc_sends: RunContext, rc_webhooks: Any) -> None:
    """Reusing an Idempotency-Key with a changed payload is refused with 409 CONFLICT."""
    rc = rc_sends
    payload, key, _ = first_send(rc)
    changed = dict(payload, text=payload.get("text", "") + " (changed)")
    exchange = _send(rc, changed, key=key, label="send: same key, changed payload")
    expect.core_error(exchange, 409, "CONFLICT", clause=CONFLICT,
                      title="A changed payload under a used Idempotency-Key did not conflict")
