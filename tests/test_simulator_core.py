"""The simulator's CORE routes: bearer auth, whoami, numbers, search, update, error wrapper."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from redcloud_check.simulator import Simulator

from .sim_helpers import (
    CLIENT_ID,
    NUMBER_ID,
    OTHER_CLIENT,
    Api,
    api_fixture,
    api_for,
    assert_core_error,
    assert_schema,
    sim_fixture,
)

ABC123 = {"numberId": "num_abc123", "e164": "+15551234567", "status": "ACTIVE",
          "campaignRegId": "A1B2C3", "smsEnabled": True, "mmsEnabled": True,
          "webhookInboundOverride": "https://example.com/webhooks/inbound",
          "webhookDeliveryOverride": "https://example.com/webhooks/delivery"}
SMSONLY = {"numberId": "num_smsonly456", "e164": "+15551230456", "status": "ACTIVE",
           "campaignRegId": None, "smsEnabled": True, "mmsEnabled": False,
           "webhookInboundOverride": None, "webhookDeliveryOverride": None}

sim = sim_fixture()
api = api_fixture()


@pytest.fixture
def fresh() -> Iterator[Api]:
    """An Api on a simulator of its own, for tests that change numbers."""
    with Simulator() as own, api_for(own) as client:
        yield client


# bearer authentication

@pytest.mark.parametrize("authorization", [
    None, "", "Basic cmNfdGVzdDp4", "Bearer", "Bearer a b", "Bearer ä", "Token rc_tok_x",
    "Bearer rc_tok_unknown",
], ids=["missing", "empty", "basic", "no-token", "two-parts", "non-ascii", "other-scheme",
        "unknown"])
def test_core_routes_refuse_bad_authorization(api: Api, authorization: str | None) -> None:
    headers = {} if authorization is None else {b"Authorization": authorization.encode()}
    for path in ("/api/core/whoami", "/api/core/numbers"):
        response = api.http.get(path, headers=headers)
        assert_core_error(response, 401, "UNAUTHORIZED")


def test_send_refuses_a_missing_token_before_any_rule(api: Api) -> None:
    response = api.http.post("/api/core/messages/send", json={})
    assert_core_error(response, 401, "UNAUTHORIZED")


# whoami and numbers

def test_whoami_reports_the_client_context(api: Api) -> None:
    response = api.core("GET", "/api/core/whoami")
    assert response.status_code == 200
    body = response.json()
    assert_schema("whoami", body)
    assert body == {
        "apiClientId": CLIENT_ID, "apiClientName": "Red Cloud Test Client",
        "apiClientStatus": "ACTIVE",
        "capabilities": ["numbers:read", "numbers:search", "numbers:update"],
        "assignedNumbers": {"total": 2, "smsEnabledCount": 2, "mmsEnabledCount": 1},
        "inboundWebhookConfigured": True, "deliveryWebhookConfigured": True}


def test_numbers_lists_only_the_clients_numbers(api: Api) -> None:
    response = api.core("GET", "/api/core/numbers")
    assert response.status_code == 200
    assert_schema("numbers_list", response.json())
    assert response.json() == {"numbers": [ABC123, SMSONLY]}
    other = api.core("GET", "/api/core/numbers", token=api.token(OTHER_CLIENT)).json()
    assert [n["numberId"] for n in other["numbers"]] == ["num_other789"]


# search

def test_search_returns_matching_groups(api: Api) -> None:
    response = api.core("POST", "/api/core/numbers/search",
                        json={"npa": "555", "city": "austin", "state": "TX"})
    assert response.status_code == 200
    body = response.json()
    assert_schema("search_response", body)
    assert [(g["npa"], g["nxx"], g["city"]) for g in body["groups"]] == [
        ("555", "201", "Austin"), ("555", "202", "Austin")]
    assert body["providerResultCount"] == 5 and body["requestedQuantity"] == 250
    for group in body["groups"]:
        assert len(group["numbers"]) == group["count"]
        assert all(n.startswith(f"+1{group['npa']}{group['nxx']}") for n in group["numbers"])


def test_search_is_deterministic_and_can_be_empty(api: Api) -> None:
    first = api.core("POST", "/api/core/numbers/search", json={}).json()
    assert first == api.core("POST", "/api/core/numbers/search", json={}).json()
    assert first["providerResultCount"] == 16
    none = api.core("POST", "/api/core/numbers/search", json={"zipCode": "00000"}).json()
    assert none == {"groups": [], "providerResultCount": 0, "requestedQuantity": 250}


@pytest.mark.parametrize("body", [{"npa": 555}, {"areaCode": "555"}, {"city": None}])
def test_search_rejects_bad_filters(api: Api, body: dict[str, Any]) -> None:
    response = api.core("POST", "/api/core/numbers/search", json=body)
    assert_core_error(response, 400, "INVALID_REQUEST")


# update

def test_update_changes_the_number_and_echoes_campaignregid(fresh: Api) -> None:
    change = {"campaignregId": "Z9Y8X7", "smsEnabled": False, "mmsEnabled": False,
              "webhookInboundOverride": None,
              "webhookDeliveryOverride": "http://127.0.0.1:9/hook"}
    response = fresh.patch(NUMBER_ID, change)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_schema("number", body)
    assert body == {**ABC123, "campaignRegId": "Z9Y8X7", "smsEnabled": False,
                    "mmsEnabled": False, "webhookInboundOverride": None,
                    "webhookDeliveryOverride": "http://127.0.0.1:9/hook"}
    assert fresh.number() == body
    stored = fresh.sim.state.numbers[NUMBER_ID]
    assert stored.webhook_delivery_override == "http://127.0.0.1:9/hook"
    assert stored.campaign_reg_id == "Z9Y8X7"


def test_update_with_an_empty_body_changes_nothing(fresh: Api) -> None:
    response = fresh.patch(NUMBER_ID, {})
    assert response.status_code == 200 and response.json() == ABC123


@pytest.mark.parametrize("body", [
    {"campaignRegId": "X"}, {"unknown": 1}, {"smsEnabled": "true"}, {"mmsEnabled": 1},
    {"campaignregId": 7}, {"webhookInboundOverride": 5}, {"webhookDeliveryOverride": []},
], ids=["response-spelling", "unknown", "string-bool", "int-bool", "int-campaign", "int-url",
        "list-url"])
def test_update_rejects_unknown_fields_and_wrong_types(fresh: Api, body: dict[str, Any]) -> None:
    assert_core_error(fresh.patch(NUMBER_ID, body), 400, "INVALID_REQUEST")
    assert fresh.number() == ABC123


@pytest.mark.parametrize("value", ["/relative", "ftp://example.com/x", "http://exa mple.com/"])
def test_a_webhook_override_is_any_string_as_the_docs_type_it(fresh: Api, value: str) -> None:
    # 3-api-reference types it "string or null" and states no URL rule (docs/simulator.md, Contract
    # notes): stored as given; a value that is no loopback URL is never delivered to.
    response = fresh.patch(NUMBER_ID, {"webhookDeliveryOverride": value})
    assert response.status_code == 200, response.text
    assert fresh.number()["webhookDeliveryOverride"] == value


@pytest.mark.parametrize("number_id", ["num_other789", "num_does_not_exist"])
def test_update_of_a_number_not_owned_is_forbidden(fresh: Api, number_id: str) -> None:
    assert_core_error(fresh.patch(number_id, {"smsEnabled": False}), 403, "FORBIDDEN")
    assert fresh.sim.state.numbers["num_other789"].sms_enabled is True


# the error wrapper and routing

def test_unknown_route_is_404_wrapper(api: Api) -> None:
    for method, path in [("GET", "/"), ("GET", "/api/core/nothing"), ("POST", "/api/v2/x")]:
        assert_core_error(api.http.request(method, path), 404, "NOT_FOUND")


def test_wrong_method_is_405_wrapper_with_allow(api: Api) -> None:
    response = api.core("DELETE", "/api/core/whoami")
    assert_core_error(response, 405, "METHOD_NOT_ALLOWED")
    assert sorted(response.headers["allow"].split(", ")) == ["GET", "HEAD"]
    assert_core_error(api.core("GET", "/api/core/messages/send"), 405, "METHOD_NOT_ALLOWED")


@pytest.mark.parametrize(("content", "content_type"), [
    (b"{bad json", "application/json"), (b'{"npa": "555"}', "text/plain"),
    (b"[]", "application/json"), (b"", "application/json"), (b'{"a": NaN}', "application/json"),
    (b"\xff\xfe", "application/json"), (b"[" * 100_000, "application/json"),
])
def test_malformed_json_is_400(api: Api, content: bytes, content_type: str) -> None:
    response = api.core("POST", "/api/core/numbers/search", content=content,
                        headers={"Content-Type": content_type})
    assert_core_error(response, 400, "INVALID_REQUEST")


def test_request_ids_are_unique_and_on_every_response(api: Api) -> None:
    ids = [api.http.get("/api/core/whoami").json()["requestId"] for _ in range(25)]
    ok = [api.core("GET", "/api/core/whoami").headers["x-request-id"] for _ in range(5)]
    assert len(set(ids + ok)) == 30


def test_every_request_is_logged(api: Api, sim: Simulator) -> None:
    api.bearer()  # the token request comes first
    before = len(sim.requests)
    api.http.get("/api/core/numbers")
    api.core("GET", "/api/core/numbers")
    assert sim.requests[before:] == [("GET", "/api/core/numbers", 401),
                                          ("GET", "/api/core/numbers", 200)]
