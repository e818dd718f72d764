"""Every simulator fault changes the behaviour it names: each probe observes one thing,
which differs between the clean simulator and the simulator with that fault on."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from redcloud_check.core.client import basic_header
from redcloud_check.simulator import FAULTS, Entry, Simulator
from redcloud_check.simulator.catalog import STAGES, describe_faults

from .sim_helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    FORM,
    MEDIA,
    NUMBER_E164,
    NUMBER_ID,
    Api,
    Receiver,
    api_fixture,
    assert_switch_shows,
    new_key,
    route_webhooks,
    send_body,
    sim_fixture,
)

sim = sim_fixture()
api = api_fixture()
BODY_CREDENTIALS = {**FORM, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


@pytest.fixture(scope="module")
def receiver(sim: Simulator) -> Iterator[Receiver]:
    with Receiver() as running:
        route_webhooks(sim, running.url)
        yield running


# token

def _token_statuses(api: Api) -> tuple[int, int]:
    basic = api.token_response().status_code
    body = api.http.post("/api/auth/token", data=BODY_CREDENTIALS).status_code
    return basic, body


def _wrong_secret(api: Api) -> Any:
    return api.token_response((CLIENT_ID, "wrong"))


def _grant_statuses(api: Api) -> tuple[int, int]:
    return (api.token_response(data={}).status_code,
            api.token_response(data={"grant_type": "password"}).status_code)


def _token_status_for(client_id: str, secret: str, *, basic: bool = False) -> Callable[[Api], int]:
    def probe(api: Api) -> int:
        if basic:
            return int(api.token_response((client_id, secret)).status_code)
        return int(api.http.post("/api/auth/token", data={
            **FORM, "client_id": client_id, "client_secret": secret}).status_code)
    return probe


def _basic_cut_short_status(api: Api) -> int:
    cut = basic_header(CLIENT_ID, CLIENT_SECRET).split(" ", 1)[1][:-4]
    return int(api.http.post("/api/auth/token", data=FORM,
                             headers={"Authorization": f"Basic {cut}"}).status_code)


# whoami

def _whoami(api: Api) -> dict[str, Any]:
    return dict(api.core("GET", "/api/core/whoami").json())


def _unauthenticated(api: Api) -> Any:
    return api.http.get("/api/core/whoami")


def _status_with(authorization: str | None) -> Callable[[Api], int]:
    def probe(api: Api) -> int:
        headers = {} if authorization is None else {"Authorization": authorization}
        return int(api.http.get("/api/core/whoami", headers=headers).status_code)
    return probe


def _status_with_token(shape: Callable[[str], str]) -> Callable[[Api], int]:
    """The whoami status for an Authorization value made from a freshly issued token."""
    def probe(api: Api) -> int:
        return _status_with(shape(api.token()))(api)
    return probe


# numbers

def _listed(api: Api) -> dict[str, dict[str, Any]]:
    return {n["numberId"]: n for n in api.core("GET", "/api/core/numbers").json()["numbers"]}


def _campaign_patch_status(api: Api) -> Any:
    return api.patch(NUMBER_ID, {"campaignregId": "A1B2C3"}).status_code


def _second_use(api: Api) -> tuple[Any, Any, Any]:
    """(the first CORE call's status with a new token, the second's, its message)."""
    token = api.token()
    first = api.core("GET", "/api/core/whoami", token=token)
    second = api.core("GET", "/api/core/whoami", token=token)
    said = second.json().get("error", {}).get("message") if second.status_code != 200 else None
    return first.status_code, second.status_code, said


def _patch_echo_and_store(api: Api) -> tuple[Any, Any]:
    try:
        echoed = api.patch(NUMBER_ID, {"mmsEnabled": False}).json()["mmsEnabled"]
        return echoed, _listed(api)[NUMBER_ID]["mmsEnabled"]
    finally:
        api.sim.set_faults(())
        api.patch(NUMBER_ID, {"mmsEnabled": True})


def _read_back_campaign(api: Api) -> tuple[Any, Any]:
    """(campaignRegId as a no-op PATCH answered it, as listed after it)."""
    try:
        answered = api.patch(NUMBER_ID, {"campaignregId": "A1B2C3"}).json()["campaignRegId"]
        return answered, _listed(api)[NUMBER_ID]["campaignRegId"]
    finally:
        api.sim.set_faults(())
        api.patch(NUMBER_ID, {"campaignregId": "A1B2C3"})


def _search_nxx(api: Api) -> list[str]:
    body = api.core("POST", "/api/core/numbers/search", json={"npa": "555", "nxx": "201"}).json()
    return sorted({g["nxx"] for g in body["groups"]})


# send

def _replay_statuses(api: Api) -> list[str]:
    key = new_key()
    api.send(key=key)
    return [r["status"] for r in api.send(key=key).json()["results"]]


def _two_sends_share_an_id(api: Api) -> bool:
    ids = [api.send().json()["results"][0]["messageId"] for _ in range(2)]
    return ids[0] == ids[1]


def _send_status(**changes: Any) -> Callable[[Api], int]:
    def probe(api: Api) -> int:
        return int(api.send(send_body(**changes)).status_code)
    return probe


def _reuse_key(changed: bool) -> Callable[[Api], Any]:
    def probe(api: Api) -> Any:
        key = new_key()
        first = api.send(key=key)
        second = api.send(send_body(text="changed") if changed else send_body(), key=key)
        if changed:
            return second.status_code
        return first.json()["results"][0]["messageId"] == second.json()["results"][0][
            "messageId"]
    return probe


# webhooks

def _events(api: Api) -> list[Any]:
    """The received events of one fresh send (the module receiver gets them)."""
    reference = "ref-" + uuid.uuid4().hex
    assert api.send(send_body(externalReference=reference)).status_code == 202
    assert api.sim.wait_deliveries_idle(10)
    assert api.receiver is not None, "the test sets api.receiver"
    return list(api.receiver.events_for(reference))


def _decoded_key_signs(api: Api) -> tuple[str, set[str]]:
    """(how the client's webhook secret is shown, how the events are signed with it: as
    given, or 'whsec_' + base64 and then with the decoded bytes)."""
    shown = api.sim.webhook_secret(CLIENT_ID) or ""
    if not shown.startswith("whsec_"):
        return "as given", {r.signature_kind(shown) for r in _events(api)}
    return "whsec_", {r.signature_kind(base64.b64decode(shown[6:])) for r in _events(api)}


PROBES: dict[str, tuple[Callable[[Api], Any], Any]] = {
    "token-basic-auth-rejected": (_token_statuses, (401, 200)),
    "token-body-credentials-rejected": (_token_statuses, (200, 401)),
    "token-expires-in-string": (lambda a: a.token_response().json()["expires_in"], "3600"),
    "token-type-not-bearer": (lambda a: a.token_response().json()["token_type"], "mac"),
    "token-error-core-wrapper": (lambda a: type(_wrong_secret(a).json()["error"]).__name__,
                                 "dict"),
    "token-wrong-secret-accepted": (lambda a: _wrong_secret(a).status_code, 200),
    "token-grant-type-unchecked": (_grant_statuses, (200, 200)),
    "token-unusable-on-core": (
        lambda a: a.core("GET", "/api/core/whoami", token=a.token()).status_code, 401),
    "token-revoked-early": (_second_use, (200, 401, "Invalid or expired access token")),
    "token-content-type-text": (
        lambda a: a.token_response().headers["content-type"].split(";")[0], "text/plain"),
    "token-secret-prefix-match": (_token_status_for(CLIENT_ID, CLIENT_SECRET + "x"), 200),
    "token-secret-truncated-match": (_basic_cut_short_status, 200),
    "token-secret-case-insensitive": (
        _token_status_for(CLIENT_ID, CLIENT_SECRET.upper()), 200),
    "token-empty-secret-accepted": (_token_status_for(CLIENT_ID, ""), 200),
    "token-basic-colon-split": (
        _token_status_for(CLIENT_ID, CLIENT_SECRET + ":x", basic=True), 200),
    "token-client-id-ignored": (_token_status_for("rc_someone_else", CLIENT_SECRET), 200),
    "token-credentials-either-order": (_token_status_for(CLIENT_SECRET, CLIENT_ID), 200),
    "whoami-missing-capabilities": (lambda a: "capabilities" in _whoami(a), False),
    "whoami-client-inactive": (lambda a: _whoami(a)["apiClientStatus"], "SUSPENDED"),
    "whoami-no-numbers": (lambda a: _whoami(a)["assignedNumbers"],
                          {"total": 0, "smsEnabledCount": 0, "mmsEnabledCount": 0}),
    "whoami-wrong-client-id": (lambda a: _whoami(a)["apiClientId"] == CLIENT_ID, False),
    "core-auth-oauth-body": (lambda a: type(_unauthenticated(a).json()["error"]).__name__,
                             "str"),
    "core-errors-without-request-id": (
        lambda a: ("requestId" in _unauthenticated(a).json(),
                   "x-request-id" in _unauthenticated(a).headers), (False, False)),
    "core-accepts-malformed-token": (_status_with("Bearer not a token!"), 200),
    "core-accepts-missing-token": (_status_with(None), 200),
    "core-token-prefix-checked": (_status_with_token(lambda t: f"Bearer {t[:30]}zzz"), 200),
    "core-scheme-ignored": (_status_with_token(lambda t: f"Basic {t}"), 200),
    "core-accepts-client-secret": (
        lambda a: (_status_with(f"Bearer {CLIENT_SECRET}")(a),
                   _status_with(basic_header(CLIENT_ID, CLIENT_SECRET))(a)), (200, 200)),
    "request-ids-repeat": (
        lambda a: len({_unauthenticated(a).json()["requestId"] for _ in range(3)}), 1),
    "numbers-sms-enabled-string": (lambda a: _listed(a)[NUMBER_ID]["smsEnabled"], "true"),
    "number-not-active": (lambda a: _listed(a)[NUMBER_ID]["status"], "SUSPENDED"),
    "number-missing": (lambda a: NUMBER_ID in _listed(a), False),
    "numbers-id-is-e164": (lambda a: NUMBER_E164 in _listed(a), True),
    "search-wrong-shape": (
        lambda a: type(a.core("POST", "/api/core/numbers/search", json={}).json()).__name__,
        "list"),
    "update-campaignregid-refused": (_campaign_patch_status, 400),
    "update-unowned-allowed": (
        lambda a: a.patch("num_other789", {"smsEnabled": True}).status_code, 200),
    "update-drops-campaignregid": (_read_back_campaign, ("A1B2C3", None)),
    "whoami-count-mismatch": (lambda a: _whoami(a)["assignedNumbers"]["total"], 1),
    "search-ignores-filter": (_search_nxx, ["201", "202", "310"]),
    "send-accepted-200": (_send_status(), 200),
    "send-status-sent": (lambda a: a.send().json()["results"][0]["status"], "SENT"),
    "send-idempotency-optional": (lambda a: a.send(key=None).status_code, 202),
    "send-e164-sendfrom-accepted": (_send_status(sendFrom=NUMBER_E164), 202),
    "send-unowned-number-accepted": (_send_status(sendFrom="num_other789"), 202),
    "send-sms-media-accepted": (_send_status(media=MEDIA), 202),
    "send-mms-without-media-accepted": (_send_status(messageType="MMS"), 202),
    "send-no-content-accepted": (_send_status(text=None), 202),
    "send-empty-to-accepted": (lambda a: (a.send(send_body(to=[])).status_code,
                                          a.send(send_body(to=[])).content),
                               (202, b'{"results":[],"errors":[]}')),
    "send-partial-all-or-nothing": (_send_status(to=[NUMBER_E164, "invalid"]), 400),
    "send-replay-new-message": (_reuse_key(changed=False), False),
    "send-conflict-ignored": (_reuse_key(changed=True), 202),
    "send-replay-current-status": (_replay_statuses, ["SENT"]),
    "message-ids-repeat": (_two_sends_share_an_id, True),
    "webhook-wrong-secret": (lambda a: {r.signature_kind() for r in _events(a)}, {"other"}),
    # signed with the client secret, which then differs from the client's webhook secret
    "webhook-signed-with-client-secret": (
        lambda a: ({r.signature_kind(CLIENT_SECRET) for r in _events(a)},
                   a.sim.webhook_secret(CLIENT_ID) != CLIENT_SECRET), ({"docs"}, True)),
    "webhook-hmac-body-only": (lambda a: {r.signature_kind() for r in _events(a)},
                               {"body-only"}),
    "webhook-missing-signature": (lambda a: {r.signature_kind() for r in _events(a)},
                                  {"missing"}),
    "webhook-signs-pretty-body": (
        lambda a: {r.signature_kind(body=json.dumps(r.event, indent=2).encode())
                   for r in _events(a)}, {"docs"}),
    "webhook-uppercase-signature": (
        lambda a: {(r.signature_kind(), r.headers["x-redcloud-signature"].isupper())
                   for r in _events(a)}, {("docs", True)}),
    "webhook-content-type-text": (
        lambda a: {r.headers["content-type"] for r in _events(a)}, {"text/plain"}),
    "webhook-secret-base64-decoded": (_decoded_key_signs, ("whsec_", {"docs"})),
    "webhook-sequence-regression": (
        lambda a: [(r.event["eventType"], r.event["sequence"]) for r in _events(a)],
        [("message.queued", 2), ("message.sent", 1), ("message.delivery", 3)]),
    "event-sequence-reused-final": (
        lambda a: [(r.event["eventType"], r.event["sequence"]) for r in _events(a)],
        [("message.queued", 1), ("message.sent", 2), ("message.delivery", 2)]),
    "event-wrong-client": (lambda a: {r.event["apiClientId"] for r in _events(a)},
                           {"rc_other_client_789"}),
    "event-wrong-message-in-data": (
        lambda a: {r.event["messageId"] == r.event["data"]["messageId"] for r in _events(a)},
        {False}),
    "event-wrong-recipient": (lambda a: {r.event["data"]["to"] for r in _events(a)},
                              {"+15550009999"}),
    "event-wrong-sender-number": (lambda a: {r.event["data"]["sendFrom"] for r in _events(a)},
                                  {"+15557654321"}),
    "event-direction-inbound": (lambda a: {r.event["direction"] for r in _events(a)},
                                {"inbound"}),
    "event-status-contradicts-type": (
        lambda a: [(r.event["eventType"], r.event["data"]["status"]) for r in _events(a)],
        [("message.queued", "queued"), ("message.sent", "sent"),
         ("message.delivery", "failed")]),
    "webhook-no-final-event": (lambda a: [r.event["eventType"] for r in _events(a)],
                               ["message.queued", "message.sent"]),
    "webhook-wrong-event-type": (lambda a: _events(a)[-1].event["eventType"],
                                 "message.delivered"),
    "webhook-not-delivered": (lambda a: _events(a), []),
    "webhook-malformed-event": (
        lambda a: {"messageId" in r.event or "messageId" in r.event["data"]
                   for r in _events(a)}, {False}),
    "patch-ignored": (_patch_echo_and_store, (False, True)),
    "patch-answers-stale": (_patch_echo_and_store, (True, False)),
}


def test_every_fault_has_a_probe() -> None:
    assert set(PROBES) == set(FAULTS)


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_changes_the_behaviour(api: Api, receiver: Receiver, name: str) -> None:
    assert_switch_shows(api, receiver, name, api.sim.set_faults, PROBES)


# Which stage each fault must fail (the fault matrix holds the suite to it): moving a fault
# to another stage, adding or dropping one, is a deliberate change made here too.
CATALOG_BY_STAGE = {
    "token": ["token-basic-auth-rejected", "token-body-credentials-rejected",
              "token-expires-in-string", "token-type-not-bearer", "token-error-core-wrapper",
              "token-wrong-secret-accepted", "token-grant-type-unchecked",
              "token-unusable-on-core", "token-content-type-text", "token-secret-prefix-match",
              "token-secret-truncated-match", "token-secret-case-insensitive",
              "token-empty-secret-accepted", "token-basic-colon-split", "token-client-id-ignored",
              "token-credentials-either-order"],
    "whoami": ["token-revoked-early", "whoami-missing-capabilities", "whoami-client-inactive",
               "whoami-no-numbers",
               "whoami-wrong-client-id", "core-auth-oauth-body",
               "core-errors-without-request-id", "core-accepts-malformed-token",
               "core-accepts-missing-token", "core-token-prefix-checked", "core-scheme-ignored",
               "core-accepts-client-secret", "request-ids-repeat"],
    "numbers": ["numbers-sms-enabled-string", "number-not-active", "number-missing",
                "numbers-id-is-e164", "search-wrong-shape", "update-campaignregid-refused",
                "update-unowned-allowed", "update-drops-campaignregid", "whoami-count-mismatch",
                "search-ignores-filter"],
    "send": ["send-accepted-200", "send-status-sent", "send-idempotency-optional",
             "send-e164-sendfrom-accepted", "send-unowned-number-accepted",
             "send-sms-media-accepted", "send-mms-without-media-accepted",
             "send-no-content-accepted", "send-empty-to-accepted",
             "send-partial-all-or-nothing", "send-replay-new-message", "send-conflict-ignored",
             "send-replay-current-status", "message-ids-repeat"],
    "webhooks": ["webhook-wrong-secret", "webhook-signed-with-client-secret",
                 "webhook-hmac-body-only", "webhook-missing-signature",
                 "webhook-signs-pretty-body", "webhook-uppercase-signature",
                 "webhook-content-type-text", "webhook-secret-base64-decoded",
                 "webhook-sequence-regression", "event-sequence-reused-final",
                 "event-wrong-client", "event-wrong-message-in-data", "event-wrong-recipient",
                 "event-wrong-sender-number", "event-direction-inbound",
                 "event-status-contradicts-type", "webhook-no-final-event",
                 "webhook-wrong-event-type", "webhook-not-delivered",
                 "webhook-malformed-event", "patch-ignored", "patch-answers-stale"],
}


def test_catalog_is_well_formed() -> None:
    assert tuple(CATALOG_BY_STAGE) == STAGES
    assert {stage: [f.name for f in FAULTS.values() if f.stage == stage]
            for stage in STAGES} == CATALOG_BY_STAGE
    for name, fault in FAULTS.items():
        assert fault == Entry("fault", name, fault.description, stage=fault.stage)
        assert fault.description.strip() == fault.description and "\n" not in fault.description
        assert len(fault.description) >= 20, f"{name}: say what the fault breaks"
    descriptions = [f.description for f in FAULTS.values()]
    assert len(set(descriptions)) == len(descriptions), "two faults described alike"
    # --list-faults: one line per fault, grouped by stage, with its exact description.
    rows = [line.split(None, 2) for line in describe_faults().splitlines()]
    assert rows == [[stage, name, FAULTS[name].description]
                    for stage, names in CATALOG_BY_STAGE.items() for name in names]


def test_unknown_faults_are_refused_naming_the_valid_ones(api: Api) -> None:
    with pytest.raises(ValueError, match=r"no-such-fault.*valid faults: .*patch-ignored"):
        Simulator(faults=["no-such-fault"])
    api.sim.set_faults(["send-status-sent"])
    with pytest.raises(ValueError, match="bogus"):
        api.sim.set_faults(["bogus"])
    assert api.sim.faults == {"send-status-sent"}
