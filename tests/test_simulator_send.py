"""The simulator's send route: every documented rule, partial success, idempotency."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .sim_helpers import (
    MEDIA,
    NUMBER_E164,
    OTHER_CLIENT,
    Api,
    api_fixture,
    assert_core_error,
    assert_schema,
    new_key,
    send_body,
    sim_fixture,
)

sim = sim_fixture()
api = api_fixture()


def _messages(api: Api) -> int:
    with api.sim.state.lock:
        return len(api.sim.state.messages)


def test_a_valid_sms_is_queued(api: Api) -> None:
    response = api.send()
    assert response.status_code == 202, response.text
    body = response.json()
    assert_schema("send_response", body)
    assert body["errors"] == []
    [result] = body["results"]
    assert result["to"] == NUMBER_E164 and result["status"] == "QUEUED"
    assert result["messageId"].startswith("msg_")
    assert result["messageId"] in api.sim.state.messages


def test_a_valid_mms_is_queued(api: Api) -> None:
    response = api.send(send_body(messageType="MMS", media=MEDIA, text="Catalog preview"))
    assert response.status_code == 202, response.text


def test_mms_with_media_only_is_queued(api: Api) -> None:
    response = api.send(send_body(messageType="MMS", media=MEDIA, text=None))
    assert response.status_code == 202, response.text


def test_missing_idempotency_key_is_rejected(api: Api) -> None:
    before = _messages(api)
    body = assert_core_error(api.send(key=None), 400, "INVALID_REQUEST")
    assert body["error"]["message"] == "Idempotency-Key header is required"
    assert _messages(api) == before


def test_e164_send_from_is_rejected(api: Api) -> None:
    body = assert_core_error(api.send(send_body(sendFrom=NUMBER_E164)), 400, "INVALID_REQUEST")
    assert "numberId" in body["error"]["message"]


@pytest.mark.parametrize("send_from", ["num_other789", "num_unknown", "+15557654321x"])
def test_a_number_not_owned_is_forbidden(api: Api, send_from: str) -> None:
    assert_core_error(api.send(send_body(sendFrom=send_from)), 403, "FORBIDDEN")


def test_a_number_not_enabled_for_mms_is_rejected(api: Api) -> None:
    response = api.send(send_body(sendFrom="num_smsonly456", messageType="MMS", media=MEDIA))
    body = assert_core_error(response, 400, "INVALID_REQUEST")
    assert "not enabled for MMS" in body["error"]["message"]
    assert api.send(send_body(sendFrom="num_smsonly456")).status_code == 202


def test_a_number_not_active_is_rejected(api: Api) -> None:
    number = api.sim.state.numbers["num_smsonly456"]
    with api.sim.state.lock:
        number.status = "SUSPENDED"
    try:
        response = api.send(send_body(sendFrom="num_smsonly456"))
        assert "not ACTIVE" in assert_core_error(response, 400, "INVALID_REQUEST")["error"][
            "message"]
    finally:
        with api.sim.state.lock:
            number.status = "ACTIVE"


@pytest.mark.parametrize(("changes", "words"), [
    ({"media": MEDIA}, "SMS requests cannot include media"),
    ({"media": []}, "SMS requests cannot include media"),
    ({"messageType": "MMS"}, "MMS requests must include media"),
    ({"messageType": "MMS", "media": []}, "MMS requests must include media"),
    ({"text": None}, "At least one of text or media"),
    ({"text": ""}, "At least one of text or media"),
    ({"to": []}, "at least one recipient"),
    ({"to": None}, "to is required"),
    ({"to": "+15551234567"}, "to must be an array"),
    ({"to": [15551234567]}, "to must be an array"),
    ({"messageType": "RCS"}, "messageType must be SMS or MMS"),
    ({"messageType": None}, "messageType is required"),
    ({"sendFrom": None}, "sendFrom is required"),
    ({"externalReference": None}, "externalReference is required"),
    ({"externalReference": 789}, "externalReference must be"),
    ({"text": 5}, "text must be a string"),
    ({"media": {"storageKey": "x"}}, "media must be an array"),
    ({"messageType": "MMS", "media": [{"caption": "x"}]}, "Unknown field: media[0].caption"),
    ({"messageType": "MMS", "media": [{"fileName": 5}]}, "media[0].fileName must be a string"),
    ({"messageType": "MMS", "media": [{"byteLength": -1}]}, "byteLength must be a non-negative"),
    ({"messageType": "MMS", "media": [{"byteLength": True}]}, "byteLength must be a non-negat"),
    ({"messageType": "MMS", "media": [{"byteLength": 1.5}]}, "byteLength must be a non-negat"),
    ({"sendFrom": ""}, "sendFrom must be a Red Cloud numberId"),
    ({"to": ["+15551234567\n"]}, "No valid recipient"),
    ({"to": ["+\u0661\u0662\u0663\u0664"]}, "No valid recipient"),
    ({"priority": "high"}, "Unknown field: priority"),
], ids=lambda v: json.dumps(v) if isinstance(v, dict) else None)
def test_rule_violations_are_400(api: Api, changes: dict[str, Any], words: str) -> None:
    before = _messages(api)
    body = assert_core_error(api.send(send_body(**changes)), 400, "INVALID_REQUEST")
    assert words.lower() in body["error"]["message"].lower()
    assert _messages(api) == before


def test_partial_success_splits_recipients(api: Api) -> None:
    to = [NUMBER_E164, "invalid", "+15005550001", "15551234567", "+0123"]
    response = api.send(send_body(to=to))
    assert response.status_code == 202, response.text
    body = response.json()
    assert_schema("send_response", body)
    assert [r["to"] for r in body["results"]] == [NUMBER_E164, "+15005550001"]
    assert len({r["messageId"] for r in body["results"]}) == 2
    assert body["errors"] == [
        {"to": bad, "error": {"code": "INVALID_RECIPIENT",
                              "message": "Recipient must be a valid E.164 phone number",
                              "details": {}}}
        for bad in ("invalid", "15551234567", "+0123")]


@pytest.mark.parametrize("changes", [
    {"externalReference": ""},  # the docs state no length: any string correlates
    {"messageType": "MMS", "media": [{}]},  # MessageMediaInput fields are all optional
    {"messageType": "MMS", "media": [{"byteLength": 2.0, "fileName": "a.jpg"}]},
    {"messageType": "MMS", "text": "", "media": MEDIA},  # media alone is content enough
], ids=["empty-reference", "empty-media-item", "integral-float-size", "mms-empty-text"])
def test_sends_the_spec_allows_are_accepted(api: Api, changes: dict[str, Any]) -> None:
    response = api.send(send_body(**changes))
    assert response.status_code == 202, response.text
    assert_schema("send_request", send_body(**changes))


def test_every_recipient_invalid_is_400(api: Api) -> None:
    assert_core_error(api.send(send_body(to=["invalid", "555"])), 400, "INVALID_REQUEST")


def test_same_key_and_payload_replays_byte_for_byte(api: Api) -> None:
    key = new_key()
    first = api.send(key=key)
    count = _messages(api)
    reordered = dict(reversed(list(send_body().items())))
    replay = api.send(reordered, key=key)
    assert replay.status_code == 202
    assert replay.content == first.content
    assert replay.headers["x-request-id"] != first.headers["x-request-id"]
    assert _messages(api) == count


def test_same_key_with_a_changed_payload_conflicts(api: Api) -> None:
    key = new_key()
    assert api.send(key=key).status_code == 202
    response = api.send(send_body(text="changed"), key=key)
    assert_core_error(response, 409, "CONFLICT")


def test_a_rejected_send_does_not_use_up_its_key(api: Api) -> None:
    key = new_key()
    assert api.send(send_body(media=MEDIA), key=key).status_code == 400
    assert api.send(key=key).status_code == 202


def test_idempotency_keys_are_per_client(api: Api) -> None:
    key = new_key()
    assert api.send(key=key).status_code == 202
    other = api.send(send_body(sendFrom="num_other789"), key=key,
                     token=api.token(OTHER_CLIENT))
    assert other.status_code == 202, other.text


def test_an_overlong_idempotency_key_is_rejected(api: Api) -> None:
    assert_core_error(api.send(key="k" * 256), 400, "INVALID_REQUEST")


def test_a_send_with_a_wrong_content_type_is_400(api: Api) -> None:
    response = api.core("POST", "/api/core/messages/send", content=json.dumps(send_body()),
                        headers={"Idempotency-Key": new_key(), "Content-Type": "text/plain"})
    assert_core_error(response, 400, "INVALID_REQUEST")
