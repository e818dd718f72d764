"""The simulator's token endpoint: Basic and body credentials, OAuth-style errors, expiry."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from redcloud_check.simulator import Simulator
from redcloud_check.simulator.state import Clock

from .sim_helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    FORM,
    INACTIVE_CLIENT,
    Api,
    api_fixture,
    api_for,
    assert_core_error,
    assert_oauth_error,
    assert_schema,
    sim_fixture,
)

BODY_CREDENTIALS = {**FORM, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
CHALLENGE = 'Basic realm="redcloud"'

sim = sim_fixture()
api = api_fixture()


def _token_post(api: Api, **kwargs: Any) -> httpx.Response:
    return api.http.post("/api/auth/token", **kwargs)


def test_basic_credentials_issue_a_bearer_token(api: Api) -> None:
    response = api.token_response()
    assert response.status_code == 200, response.text
    body = response.json()
    assert_schema("token_response", body)
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["access_token"].startswith("rc_tok_")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-request-id"].startswith("req_")


def test_body_credentials_issue_a_token(api: Api) -> None:
    response = _token_post(api, data=BODY_CREDENTIALS)
    assert response.status_code == 200, response.text
    assert_schema("token_response", response.json())


def test_a_json_body_is_accepted_leniently(api: Api) -> None:
    response = _token_post(api, json=BODY_CREDENTIALS)
    assert response.status_code == 200, response.text


def test_every_token_is_new_and_recorded(api: Api, sim: Simulator) -> None:
    tokens = {api.token() for _ in range(5)}
    assert len(tokens) == 5
    assert tokens <= set(sim.issued_tokens)


def test_issued_token_authorizes_core_calls(api: Api) -> None:
    response = api.core("GET", "/api/core/whoami", token=api.token())
    assert response.status_code == 200


@pytest.mark.parametrize("basic", [True, False], ids=["basic", "body"])
def test_wrong_secret_is_invalid_client(api: Api, basic: bool) -> None:
    if basic:
        response = api.token_response((CLIENT_ID, "wrong"))
    else:
        response = _token_post(api, data={**BODY_CREDENTIALS, "client_secret": "wrong"})
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers.get("www-authenticate") == (CHALLENGE if basic else None)


@pytest.mark.parametrize("client", [("rc_nobody", "x"), INACTIVE_CLIENT],
                         ids=["unknown", "inactive"])
def test_unknown_and_inactive_clients_are_refused(api: Api, client: tuple[str, str]) -> None:
    response = api.token_response(client)
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"] == CHALLENGE


def test_missing_grant_type_is_invalid_request(api: Api) -> None:
    assert_oauth_error(api.token_response(data={}), 400, "invalid_request")


def test_unsupported_grant_type(api: Api) -> None:
    response = api.token_response(data={"grant_type": "password"})
    assert_oauth_error(response, 400, "unsupported_grant_type")


@pytest.mark.parametrize("kwargs", [
    {"data": FORM},
    {"data": {**FORM, "client_id": CLIENT_ID}},
    {"content": b"grant_type=client_credentials&grant_type=x",
     "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    {"content": b"<xml/>", "headers": {"Content-Type": "text/xml"}},
    {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
    {"content": b"[1, 2]", "headers": {"Content-Type": "application/json"}},
    {"content": b"\xff\xfe=\x00", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
], ids=["no-credentials", "no-secret", "repeated-param", "xml", "bad-json", "json-array",
        "bad-utf8"])
def test_malformed_requests_are_invalid_request(api: Api, kwargs: dict[str, Any]) -> None:
    assert_oauth_error(_token_post(api, **kwargs), 400, "invalid_request")


def test_basic_and_body_credentials_together_are_refused(api: Api) -> None:
    response = api.token_response(data=BODY_CREDENTIALS)
    assert_oauth_error(response, 400, "invalid_request")


@pytest.mark.parametrize("empty", [{"client_secret": ""}, {"client_id": "", "client_secret": ""}],
                         ids=["empty-secret", "empty-both"])
def test_empty_body_parameters_count_as_omitted_next_to_basic(api: Api,
                                                               empty: dict[str, str]) -> None:
    # RFC 6749, Section 3.1: "Parameters sent without a value MUST be treated as if they were
    # omitted from the request": Basic plus an empty client_secret= is Basic alone.
    response = api.token_response(data={**FORM, **empty})
    assert response.status_code == 200, response.text
    assert_schema("token_response", response.json())


def test_an_empty_grant_type_is_a_missing_one(api: Api) -> None:
    response = api.token_response(data={"grant_type": ""})
    assert_oauth_error(response, 400, "invalid_request")


def test_malformed_basic_header_is_invalid_client(api: Api) -> None:
    response = _token_post(api, data=FORM, headers={"Authorization": "Basic !!!"})
    assert_oauth_error(response, 401, "invalid_client")
    encoded = base64.b64encode(b"no-colon").decode()
    response = _token_post(api, data=FORM, headers={"Authorization": f"Basic {encoded}"})
    assert_oauth_error(response, 401, "invalid_client")


def test_get_on_the_token_route_is_405_oauth_style(api: Api) -> None:
    response = api.http.get("/api/auth/token")
    assert_oauth_error(response, 405, "invalid_request")
    assert response.headers["allow"] == "POST"


def test_token_expires_after_its_ttl() -> None:
    clock = Clock()
    with Simulator(token_ttl=60, clock=clock) as sim, api_for(sim) as api:
        response = api.token_response()
        assert response.json()["expires_in"] == 60
        token = response.json()["access_token"]
        clock.advance(59.5)
        assert api.core("GET", "/api/core/whoami", token=token).status_code == 200
        clock.advance(0.5)
        expired = api.core("GET", "/api/core/whoami", token=token)
        body = assert_core_error(expired, 401, "UNAUTHORIZED")
        assert "expired" in body["error"]["message"]
        assert api.core("GET", "/api/core/whoami", token=api.token()).status_code == 200
