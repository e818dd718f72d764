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


def _rejection(rc: RunContext, check: str, *, title: str, key: bool = True,
               **changes: Any) -> Exchange:
    """One send whose payload the docs reject (`title`: the failure if it is not)."""
    payload = _payload(rc, check, **changes)
    return _send(rc, payload, key=rc.idempotency_key(check) if key else None,
                 label=f"send: {title}")


NO_KEY = "A send without Idempotency-Key was not rejected"
E164_SENT = "A send with an E.164 sendFrom was not rejected"
UNOWNED = "A send from a number the client does not own was not forbidden"
SMS_WITH_MEDIA = "An SMS send with media was not rejected"
MMS_WITHOUT_MEDIA = "An MMS send without media was not rejected"
EMPTY_TO = "A send with an empty to[] was not rejected"


def _no_key(rc: RunContext) -> Exchange:
    return _rejection(rc, "no-idempotency-key", key=False, title=NO_KEY)


def _e164_from(rc: RunContext) -> Exchange:
    e164 = (rc.number or {}).get("e164") or rc.settings.to
    return _rejection(rc, "e164-send-from", sendFrom=e164, title=E164_SENT)


def _unowned_from(rc: RunContext) -> Exchange:
    return _rejection(rc, "unowned-number", sendFrom=f"num_rccheck_not_owned_{rc.run_id[-6:]}",
                      title=UNOWNED)


def _sms_with_media(rc: RunContext) -> Exchange:
    return _rejection(rc, "sms-with-media", media=MEDIA, title=SMS_WITH_MEDIA)


def _mms_without_media(rc: RunContext) -> Exchange:
    return _rejection(rc, "mms-without-media", messageType="MMS", title=MMS_WITHOUT_MEDIA)


def _no_content(rc: RunContext) -> Exchange:
    payload = _payload(rc, "no-content")
    del payload["text"]
    return _send(rc, payload, key=rc.idempotency_key("no-content"),
                 label="send: neither text nor media")


def _empty_to(rc: RunContext) -> Exchange:
    return _rejection(rc, "empty-to", to=[], title=EMPTY_TO)


def first_send(rc: RunContext) -> tuple[dict[str, Any], str, Exchange]:
    """The gate's accepted send (payload, key, exchange); made now if the gate did not."""
    def send() -> tuple[dict[str, Any], str, Exchange]:
        payload = _payload(rc, "sms-accepted")
        key = rc.idempotency_key("sms-accepted")
        return payload, key, _send(rc, payload, key=key, label="send: SMS accepted")
    return rc.shared(FIRST_SEND, send)


def _listening_then_send(rc: RunContext) -> tuple[dict[str, Any], str, Exchange]:
    """The webhook session (listener, exposure, the number's override), then the send."""
    rc.start_webhooks()
    return first_send(rc)


@check("RC-SEND-01", clause=SMS_ACCEPTED, ahead=_listening_then_send, main_thread=True,
       after=("RC-NUMBERS-07", "RC-NUMBERS-08"))
def test_sms_send_is_accepted(rc_sends: RunContext, rc_webhooks: Any) -> None:
    """A valid SMS send is accepted: 202, results[].status QUEUED with a messageId, and an
    empty errors[]."""
    # Its requests may go as soon as the numbers gate passed and the no-op update of the
    # number was read back: the override comes after every write and read-back of the
    # number's settings, the send after the override.
    payload, key, exchange = rc_sends.answer(_listening_then_send)
    gates.sms_accepted(rc_sends, exchange, payload, key)


@check("RC-SEND-02", clause=KEY_REQUIRED, ahead=_no_key)
def test_missing_idempotency_key_is_rejected(rc_sends: RunContext) -> None:
    """A send without Idempotency-Key is rejected with 400 INVALID_REQUEST and a requestId."""
    expect.core_error(rc_sends.answer(_no_key), 400, "INVALID_REQUEST", clause=KEY_REQUIRED,
                      title=NO_KEY)


@check("RC-SEND-03", clause=E164_FROM, ahead=_e164_from)
def test_e164_send_from_is_rejected(rc_sends: RunContext) -> None:
    """A send whose sendFrom is the number's E.164 phone number, not its numberId, is
    rejected (400 INVALID_REQUEST or 403 FORBIDDEN)."""
    expect.core_error(rc_sends.answer(_e164_from), {400, 403}, None, clause=E164_FROM,
                      title=E164_SENT)


@check("RC-SEND-04", clause=NOT_OWNED, ahead=_unowned_from)
def test_unowned_number_is_forbidden(rc_sends: RunContext) -> None:
    """A send from a numberId the client does not own is rejected with 403 FORBIDDEN."""
    expect.core_error(rc_sends.answer(_unowned_from), 403, "FORBIDDEN", clause=NOT_OWNED,
                      title=UNOWNED)


@check("RC-SEND-05", clause=SMS_MEDIA, ahead=_sms_with_media)
def test_sms_with_media_is_rejected(rc_sends: RunContext) -> None:
    """An SMS send that carries media is rejected with 400 INVALID_REQUEST."""
    expect.core_error(rc_sends.answer(_sms_with_media), 400, "INVALID_REQUEST",
                      clause=SMS_MEDIA, title=SMS_WITH_MEDIA)


@check("RC-SEND-06", clause=MMS_MEDIA, ahead=_mms_without_media)
def test_mms_without_media_is_rejected(rc_sends: RunContext) -> None:
    """An MMS send without media is rejected with 400 INVALID_REQUEST."""
    expect.core_error(rc_sends.answer(_mms_without_media), 400, "INVALID_REQUEST",
                      clause=MMS_MEDIA, title=MMS_WITHOUT_MEDIA)


@check("RC-SEND-07", clause=NO_CONTENT, ahead=_no_content)
def test_send_without_text_or_media_is_rejected(rc_sends: RunContext) -> None:
    """A send with neither text nor media is rejected with 400 INVALID_REQUEST."""
    expect.core_error(rc_sends.answer(_no_content), 400, "INVALID_REQUEST", clause=NO_CONTENT,
                      title="A send with neither text nor media was not rejected")


@check("RC-SEND-08", clause=NO_RECIPIENT, ahead=_empty_to)
def test_empty_recipient_list_is_rejected(rc_sends: RunContext) -> None:
    """A send with an empty to[] is rejected with 400 INVALID_REQUEST."""
    expect.core_error(rc_sends.answer(_empty_to), 400, "INVALID_REQUEST", clause=NO_RECIPIENT,
                      title=EMPTY_TO)


def _partial(rc: RunContext) -> tuple[dict[str, Any], str, Exchange]:
    payload = _payload(rc, "partial", to=[rc.settings.to, INVALID_RECIPIENT])
    key = rc.idempotency_key("partial")
    return payload, key, _send(rc, payload, key=key, label="send: partial success")


@check("RC-SEND-09", clause=PARTIAL, ahead=_partial)
def test_partial_success_splits_results_and_errors(rc_sends: RunContext,
                                                   rc_webhooks: Any) -> None:
    """A send to one valid and one invalid recipient is accepted with 202: the valid one in
    results[], the invalid one in errors[] with INVALID_RECIPIENT."""
    rc = rc_sends
    payload, key, exchange = rc.answer(_partial)
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


def _replay(rc: RunContext) -> tuple[Any, Exchange]:
    """The gate's send (accepted: its answer) sent again, same key and payload."""
    payload, key, original = first_send(rc)
    first = expect.json_response(original, 202, "send_response", clause=REPLAY,
                                 title="The original send was not accepted")
    return first, _send(rc, payload, key=key, label="send: idempotent replay")


@check("RC-SEND-10", clause=REPLAY, ahead=_replay)
def test_same_key_same_payload_replays_stored_response(rc_sends: RunContext,
                                                       rc_webhooks: Any) -> None:
    """Repeating a send with the same Idempotency-Key and payload returns the stored 202:
    the same messageIds (no new message) and the same results and errors as stored.

    Graded fail: the docs say the same key and payload "returns the stored 202 response
    again", so the replay restates the first answer, statuses included."""
    clause = REPLAY
    first, replay = rc_sends.answer(_replay)
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


def _changed_payload(rc: RunContext) -> Exchange:
    payload, key, _ = first_send(rc)
    changed = dict(payload, text=payload.get("text", "") + " (changed)")
    return _send(rc, changed, key=key, label="send: same key, changed payload")


@check("RC-SEND-12", clause=CONFLICT, ahead=_changed_payload, after=("RC-SEND-10",))
def test_same_key_changed_payload_conflicts(rc_sends: RunContext, rc_webhooks: Any) -> None:
    """Reusing an Idempotency-Key with a changed payload is refused with 409 CONFLICT."""
    # After the replay (RC-SEND-10): an API that took the changed payload might no longer
    # replay the stored one.
    exchange = rc_sends.answer(_changed_payload)
    expect.core_error(exchange, 409, "CONFLICT", clause=CONFLICT,
                      title="A changed payload under a used Idempotency-Key did not conflict")
