"""Every conformant variant changes what it names, over real HTTP: each probe observes one
thing that differs between the plain simulator and the simulator with that variant on. (The
variant matrix test then holds the suite to zero failures against each.)"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from redcloud_check.core.signing import TIMESTAMP_HEADER
from redcloud_check.simulator import Simulator
from redcloud_check.simulator.catalog import VARIANTS, describe_variants
from redcloud_check.simulator.variants import (
    ADDITIVE,
    EXTRA_NUMBERS,
    SLOW_RESPONSE_S,
    SLOW_RETRY_S,
)

from .sim_helpers import (
    NUMBER_ID,
    WEBHOOK_SECRET,
    Api,
    Received,
    Receiver,
    api_fixture,
    assert_switch_shows,
    route_webhooks,
    send_body,
    sim_fixture,
)

sim = sim_fixture()
api = api_fixture()


@pytest.fixture(scope="module")
def receiver(sim: Simulator) -> Iterator[Receiver]:
    with Receiver() as running:
        route_webhooks(sim, running.url)
        yield running


@pytest.fixture(autouse=True)
def _plain_after(sim: Simulator) -> Iterator[None]:
    yield
    sim.set_variants(())


def _events(api: Api) -> list[Received]:
    reference = "ref-" + uuid.uuid4().hex
    assert api.send(send_body(externalReference=reference)).status_code == 202
    assert api.sim.wait_deliveries_idle(10)
    assert api.receiver is not None
    return api.receiver.events_for(reference)


def _kinds(api: Api) -> list[tuple[str, int]]:
    return [(r.event["eventType"], r.event["sequence"]) for r in _events(api)]


def _redelivered(api: Api) -> Any:
    got = _events(api)
    pairs = list(zip(got[::2], got[1::2], strict=False))
    return ([a.event["eventType"] for a, _ in pairs],
            all(a.body == b.body and b.signature_kind() == "docs" for a, b in pairs),
            len(got))


def _whoami(api: Api, **headers: str) -> Any:
    return api.core("GET", "/api/core/whoami", headers=headers)


def _additive(api: Api) -> Any:
    whoami = _whoami(api).json()
    event = _events(api)[-1].event
    return (whoami.get("simRevision"), whoami["assignedNumbers"].get("simRevision"),
            event.get("simRevision"), event["data"].get("simLinks"))


def _gzip(api: Api) -> Any:
    compressed = _whoami(api)
    plain = _whoami(api, **{"Accept-Encoding": "identity"})
    return (compressed.headers.get("content-encoding"), compressed.json()["apiClientId"],
            plain.headers.get("content-encoding"))


def _chunked(api: Api) -> Any:
    response = api.send()
    return (response.headers.get("transfer-encoding"), "content-length" in response.headers,
            response.json()["results"][0]["status"])


def _charset(api: Api) -> Any:
    event = _events(api)[0]
    return (_whoami(api).headers["content-type"], event.headers["content-type"])


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _uuid_ids(api: Api) -> Any:
    sent = api.send()
    refused = api.http.get("/api/core/whoami").json()
    return (_is_uuid(sent.json()["results"][0]["messageId"]),
            _is_uuid(sent.headers["x-request-id"]), _is_uuid(refused["requestId"]),
            _is_uuid(api.token()))


def _seconds(api: Api) -> Any:
    got = _events(api)
    return ({len(r.headers[TIMESTAMP_HEADER.lower()]) for r in got},
            {len(str(r.event["occurredAt"])) for r in got},
            {r.signature_kind(WEBHOOK_SECRET) for r in got})


def _slow(api: Api) -> Any:
    started = time.perf_counter()
    _whoami(api)
    return time.perf_counter() - started >= SLOW_RESPONSE_S


def _connection_close(api: Api) -> Any:
    """The header, and whether the server closes the socket after one answer."""
    host, port = api.sim.host, api.sim.port
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"GET /api/core/whoami HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        sock.settimeout(1.0)
        try:
            while chunk := sock.recv(65536):
                data += chunk
            closed = True
        except TimeoutError:
            closed = False
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    return b"connection: close" in head, closed


def _many_numbers(api: Api) -> Any:
    numbers = api.core("GET", "/api/core/numbers").json()["numbers"]
    ids = [n["numberId"] for n in numbers]
    statuses = {n["status"] for n in numbers}
    return (len(numbers), _whoami(api).json()["assignedNumbers"]["total"],
            ids.index(NUMBER_ID) > 0, "SUSPENDED" in statuses)


def _rate_limited(api: Api) -> Any:
    first, second = api.send(), api.send()
    return (first.status_code, first.headers.get("retry-after"),
            (first.json().get("error") or {}).get("code"), second.status_code)


def _refused_first(api: Api) -> list[Received]:
    """The events of one send whose first delivery the receiver answers 500."""
    assert api.receiver is not None
    api.receiver.fail_first = 1
    return _events(api)


def _not_retried(api: Api) -> Any:
    """Each event's deliveries, in order: a refused one retried shows twice."""
    return [(r.event["eventType"], r.event["sequence"]) for r in _refused_first(api)]


def _retried_after(api: Api) -> Any:
    """Whether the refused delivery's retry came SLOW_RETRY_S or more after it (by their
    X-RedCloud-Timestamp, ms), with the same body."""
    first, retry = _refused_first(api)[:2]
    waited = (int(retry.headers[TIMESTAMP_HEADER.lower()])
              - int(first.headers[TIMESTAMP_HEADER.lower()])) / 1000
    return waited >= SLOW_RETRY_S, retry.body == first.body


def _in_flight_limited(api: Api) -> Any:
    """Two searches held in flight (the server asked for their bodies: 100 Continue, not
    yet sent), then a whoami: refused?"""
    host, port = api.sim.base_url.removeprefix("http://").rsplit(":", 1)
    held = []
    try:
        for _ in range(2):
            sock = socket.create_connection((host, int(port)), timeout=5)
            held.append(sock)
            sock.sendall(b"POST /api/core/numbers/search HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 2\r\n"
                         b"Expect: 100-continue\r\nAuthorization: "
                         + api.bearer()["Authorization"].encode() + b"\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue")  # it is in flight
        third = _whoami(api)
    finally:
        for sock in held:
            sock.sendall(b"{}")
            sock.recv(65536)
            sock.close()
    return (third.status_code, third.headers.get("retry-after"),
            (third.json().get("error") or {}).get("code"), _whoami(api).status_code)


PROBES: dict[str, tuple[Any, Any]] = {
    "redeliver-every-event": (_redelivered, (["message.queued", "message.sent",
                                              "message.delivery"], True, 6)),
    "reordered-delivery": (_kinds, [("message.delivery", 3), ("message.sent", 2),
                                    ("message.queued", 1)]),
    "unlisted-event-type": (_kinds, [("message.queued", 1), ("message.sent", 2),
                                     ("message.carrier_update", 3), ("message.delivery", 4)]),
    "additive-fields": (_additive, (ADDITIVE["simRevision"], ADDITIVE["simRevision"],
                                    ADDITIVE["simRevision"], ADDITIVE["simLinks"])),
    "gzip-responses": (_gzip, ("gzip", "rc_test_client_123", None)),
    "chunked-responses": (_chunked, ("chunked", False, "QUEUED")),
    "json-charset": (_charset, ("application/json; charset=utf-8",
                                "application/json; charset=utf-8")),
    "uuid-ids": (_uuid_ids, (True, True, True, True)),
    "second-timestamps": (_seconds, ({10}, {10}, {"docs"})),
    "slow-responses": (_slow, True),
    "connection-close": (_connection_close, (True, True)),
    "many-numbers": (_many_numbers, (EXTRA_NUMBERS + 2, EXTRA_NUMBERS + 2, True, True)),
    "rate-limit": (_rate_limited, (429, "1", "RATE_LIMITED", 202)),
    "no-delivery-retry": (_not_retried, [("message.queued", 1), ("message.sent", 2),
                                         ("message.delivery", 3)]),
    "slow-delivery-retry": (_retried_after, (True, True)),


    "rate-limit-in-flight": (_in_flight_limited, (429, "1", "RATE_LIMITED", 200)),
}


def test_every_variant_has_a_probe() -> None:
    assert set(PROBES) == set(VARIANTS)


# these two wait out a retry's delay, a kept-alive socket's timeout
@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.slow) if n in ("connection-close", "slow-delivery-retry")
    else n for n in sorted(VARIANTS)])
def test_variant_changes_what_it_names(api: Api, receiver: Receiver, name: str) -> None:
    assert_switch_shows(api, receiver, name, api.sim.set_variants, PROBES)


def test_an_idempotent_replay_is_byte_for_byte_under_every_body_variant(api: Api) -> None:
    api.sim.set_variants(["additive-fields", "gzip-responses", "chunked-responses",
                          "json-charset"])
    first = api.send(key="idem_replay_variant")
    again = api.send(key="idem_replay_variant")
    assert first.status_code == again.status_code == 202
    assert first.content == again.content and first.json()["results"][0]["simRevision"] == 7


def test_many_numbers_comes_and_goes_and_survives_a_patch(api: Api) -> None:
    api.sim.set_variants(["many-numbers"])
    assert api.patch("num_bulk0001", {"smsEnabled": False}).status_code == 200
    api.sim.set_variants(["many-numbers", "uuid-ids"])
    assert api.number("num_bulk0001")["smsEnabled"] is False  # kept, not re-seeded
    api.sim.set_variants(())
    assert len(api.core("GET", "/api/core/numbers").json()["numbers"]) == 2
    api.sim.reset(variants=["many-numbers"])
    api._token = None  # a reset forgets the issued tokens
    assert api.sim.variants == {"many-numbers"}
    assert api.number("num_bulk0001")["smsEnabled"] is True


def test_catalog_is_well_formed_and_unknown_names_are_refused(api: Api) -> None:
    listing = describe_variants()
    for name, variant in VARIANTS.items():
        assert variant.name == name and name in listing
        assert variant.description and variant.basis and "\n" not in variant.description
    with pytest.raises(ValueError, match=r"bogus.*valid variants: .*uuid-ids"):
        Simulator(variants=["bogus"])
    with pytest.raises(ValueError, match="bogus"):
        api.sim.set_variants(["bogus"])
