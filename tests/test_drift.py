"""Drift: fields the documented schemas do not describe are reported as undocumented, with
their JSON path and endpoint; information, never a failure."""

from __future__ import annotations

from typing import Any

from redcloud_check.rules import schemas
from redcloud_check.rules.drift import (
    endpoint_template,
    find_drift,
    response_schema,
    undocumented_fields,
)

WHOAMI = {"apiClientId": "c", "apiClientName": "n", "apiClientStatus": "ACTIVE",
          "capabilities": ["sms"], "inboundWebhookConfigured": False,
          "deliveryWebhookConfigured": True,
          "assignedNumbers": {"total": 1, "smsEnabledCount": 1, "mmsEnabledCount": 0}}
EVENT: dict[str, Any] = {
    "eventType": "message.sent", "direction": "outbound", "occurredAt": 1, "apiClientId": "c",
    "messageId": "m", "sequence": 2,
    "data": {"messageId": "m", "externalReference": "o", "sendFrom": "num_abc123",
             "to": "+15551234567", "status": "sent", "error": None}}


def test_a_documented_body_has_no_undocumented_field() -> None:
    assert undocumented_fields(WHOAMI, schemas.load("whoami"), "whoami") == []
    assert find_drift([("GET", "/api/core/whoami", 200, WHOAMI)], [EVENT]) == []


def test_added_fields_are_named_by_json_path_and_endpoint() -> None:
    body = {**WHOAMI, "region": "eu", "assignedNumbers": {**WHOAMI["assignedNumbers"],
                                                          "tollFree": 0}}
    event = {**EVENT, "data": {**EVENT["data"], "carrier": "x"}, "attempt": 1}
    found = [u.as_dict() for u in find_drift([("GET", "/api/core/whoami", 200, body),
                                              ("GET", "/api/core/whoami", 200, body)],
                                             [event])]
    assert [(u["endpoint"], u["path"], u["count"]) for u in found] == [
        ("GET /api/core/whoami", "$.assignedNumbers.tollFree", 2),
        ("GET /api/core/whoami", "$.region", 2),
        ("webhook message.sent", "$.attempt", 1),
        ("webhook message.sent", "$.data.carrier", 1)]
    assert found[0]["status"] == 200 and found[0]["schema"] == "whoami"


def test_refs_and_array_items_are_followed() -> None:
    body = {"results": [{"to": "+1", "messageId": "m", "status": "QUEUED", "segments": 1}],
            "errors": [{"to": "x", "error": {"code": "INVALID_RECIPIENT", "message": "m",
                                             "details": {"anything": 1}, "hint": "h"}}]}
    paths = [u.path for u in find_drift([("POST", "/api/core/messages/send", 202, body)], [])]
    assert paths == ["$.errors[*].error.hint", "$.results[*].segments"]


def test_an_object_the_docs_leave_open_is_not_walked() -> None:
    # PATCH's 200 is documented as {} and the search groups are collapsed in the docs
    assert find_drift([("PATCH", "/api/core/numbers/num_abc123", 200, {"numberId": "n"}),
                       ("POST", "/api/core/numbers/search", 200,
                        {"groups": [{"npa": "555"}], "providerResultCount": 1,
                         "requestedQuantity": 250})], []) == []


def test_error_responses_are_held_to_their_documented_schema() -> None:
    body = {"error": {"code": "UNAUTHORIZED", "message": "m", "details": {}},
            "requestId": "req_1", "traceId": "t"}
    found = find_drift([("GET", "/api/core/whoami", 401, body)], [])
    assert [(u.path, u.status, u.schema) for u in found] == [("$.traceId", 401, "core_error")]


def test_endpoints_are_named_by_their_documented_template() -> None:
    assert endpoint_template("patch", "/api/core/numbers/num_x") == (
        "PATCH /api/core/numbers/{numberId}")
    assert endpoint_template("GET", "/elsewhere") == "GET /elsewhere"
    assert response_schema("GET", "/api/core/whoami", 200) == ("GET /api/core/whoami", "whoami")
    assert response_schema("GET", "/api/core/whoami", 418) is None

