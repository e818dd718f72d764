"""Garbage in never gets a 500: hypothesis fuzzes bodies and headers against the token,
send, search and update routes; every answer is a JSON error in the route's own family."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .sim_helpers import Api, api_fixture, sim_fixture

sim = sim_fixture()
api = api_fixture()

# Header values as a client can send them: printable ASCII without edge whitespace.
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126),
                      max_size=40).map(str.strip)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=12)
SEND_LIKE = st.fixed_dictionaries({}, optional={
    "sendFrom": st.sampled_from(["num_abc123", "num_other789", "+15551234567", ""]) | JSON_VALUES,
    "to": st.lists(st.sampled_from(["+15551234567", "bad", ""]) | JSON_VALUES, max_size=3)
    | JSON_VALUES,
    "messageType": st.sampled_from(["SMS", "MMS", "sms"]) | JSON_VALUES,
    "text": JSON_VALUES, "media": JSON_VALUES, "externalReference": JSON_VALUES,
})
BODIES = (st.binary(max_size=200)
          | JSON_VALUES.map(lambda v: json.dumps(v).encode())
          | SEND_LIKE.map(lambda v: json.dumps(v).encode()))
CONTENT_TYPES = st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                                 "text/plain", "", "application/json; charset=latin-1",
                                 "multipart/form-data; boundary=x"])
ROUTES = st.sampled_from([("POST", "/api/auth/token"), ("POST", "/api/core/messages/send"),
                          ("POST", "/api/core/numbers/search"),
                          ("PATCH", "/api/core/numbers/num_abc123"),
                          ("PATCH", "/api/core/numbers/%00%ff"), ("GET", "/api/core/whoami")])
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _assert_sane(route: tuple[str, str], response: Any) -> None:
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    if response.status_code >= 400:
        if route[1] == "/api/auth/token":
            assert isinstance(body["error"], str)
        else:
            assert isinstance(body["error"]["code"], str) and body["requestId"].startswith("req_")


@pytest.mark.slow
@FUZZ
@given(route=ROUTES, body=BODIES, content_type=CONTENT_TYPES,
       key=st.none() | HEADER_TEXT, authorized=st.booleans())
def test_garbage_bodies_never_break_the_simulator(api: Api, route: tuple[str, str],
                                                  body: bytes, content_type: str,
                                                  key: str | None, authorized: bool) -> None:
    headers = {"Content-Type": content_type}
    if key is not None:
        headers["Idempotency-Key"] = key
    if authorized and route[1] != "/api/auth/token":
        headers.update(api.bearer())
    response = api.http.request(route[0], route[1], content=body, headers=headers)
    _assert_sane(route, response)


@FUZZ
@given(route=ROUTES, authorization=HEADER_TEXT, scheme=st.sampled_from(["Bearer ", "Basic ", ""]))
def test_garbage_authorization_never_breaks_the_simulator(api: Api, route: tuple[str, str],
                                                          authorization: str,
                                                          scheme: str) -> None:
    response = api.http.request(route[0], route[1], json={"grant_type": "client_credentials"},
                                headers={"Authorization": (scheme + authorization).strip()})
    _assert_sane(route, response)
    if route[1] != "/api/auth/token":
        assert response.status_code == 401
