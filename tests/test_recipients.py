"""Recipients' phone numbers: masked by the one redaction (country code and last digits
kept), the client's own numbers kept where they stand as such, RC_SHARE_RECIPIENTS=1."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redcloud_check.core.client import SecretSet
from redcloud_check.core.exchange import Exchange, Timings
from redcloud_check.core.recipients import (
    RECIPIENT,
    RECIPIENT_OWN,
    TO,
    TO_OWN,
    RecipientBook,
    is_phone_number,
    masked_numbers,
    own_numbers_in,
    recipient_labels,
    recipients_in,
)
from redcloud_check.core.redaction import redact
from redcloud_check.reporting.curl import to_curl
from redcloud_check.reporting.har import har_document

PERSON = "+14155550123"  # RC_TO: a person's mobile
OTHER = "+15550009999"  # a number an event names instead (event-wrong-recipient)
OWN = "+15551234567"  # the client's own number (num_abc123 in the simulator's seed)


@pytest.mark.parametrize(("number", "masked"), [
    ("+14155550123", "+1******0123"),  # NANP: country code 1
    ("+447700900123", "+44******0123"),  # two-digit country code
    ("+353871234567", "+353*****4567"),  # three-digit country code
    ("+79161234567", "+7******4567"),  # 7 is a whole code
    ("+4915112345678", "+49*******5678"),
    ("4155550123", "******0123"),  # no "+": no country code to keep
    ("+3531234567", "+353***4567"),  # short: still 3 hidden at least
    ("+35312345", "+353***45"),
])
def test_a_mask_keeps_the_country_code_and_the_last_digits(number: str, masked: str) -> None:
    assert masked_numbers([number]) == {number: masked}


def test_numbers_that_share_their_last_digits_stay_apart() -> None:
    a, b, c = "+14155550123", "+14155560123", "+14155550999"
    masks = masked_numbers([a, b, c])
    assert masks == {a: "+1*****50123", b: "+1*****60123", c: "+1******0999"}
    assert len(set(masks.values())) == 3


@pytest.mark.parametrize(("value", "phone"), [
    ("+14155550123", True), ("4155550123", True), ("invalid", False), ("+12", False),
    ("+0155550123", False), ("num_abc123", False), ("+1 415 555 0123", False), (14155550123, False),
])
def test_what_counts_as_a_phone_number(value: Any, phone: bool) -> None:
    assert is_phone_number(value) is phone


def test_recipients_are_read_from_every_to_field() -> None:
    send = {"sendFrom": "num_abc123", "to": [PERSON, "invalid"], "messageType": "SMS"}
    answer = {"results": [{"to": PERSON, "messageId": "m1"}],
              "errors": [{"to": "4155550999", "error": {"code": "INVALID_RECIPIENT"}}]}
    event = {"eventType": "message.sent", "data": {"to": OTHER, "sendFrom": OWN}}
    assert recipients_in(send) == {PERSON}
    assert recipients_in(answer) == {PERSON, "4155550999"}
    assert recipients_in(event) == {OTHER}
    assert own_numbers_in({"numbers": [{"numberId": "num_abc123", "e164": OWN}]}) == {OWN}


def test_labels_name_rc_to_and_the_client_s_own_numbers() -> None:
    assert recipient_labels(PERSON, [OTHER]) == {PERSON: TO, OTHER: RECIPIENT}
    assert recipient_labels(OWN, [OTHER, OWN], [OWN, OTHER]) == {OWN: TO_OWN,
                                                                  OTHER: RECIPIENT_OWN}
    assert recipient_labels("", [OTHER]) == {OTHER: RECIPIENT}  # no RC_TO (read-only run)
    assert recipient_labels(PERSON, [OTHER], share=True) == {}


def _exchange(method: str, path: str, request: Any, answer: Any) -> Exchange:
    return Exchange(method=method, url=f"http://127.0.0.1:9{path}",
                    request_headers={"Content-Type": "application/json"},
                    request_body=None if request is None else json.dumps(request).encode(),
                    started_at=0.0, timings=Timings(total=0.01), status=200,
                    response_headers={"Content-Type": "application/json"},
                    response_body=json.dumps(answer).encode())


NUMBERS = _exchange("GET", "/api/core/numbers", None,
                    {"numbers": [{"numberId": "num_abc123", "e164": OWN, "status": "ACTIVE"}]})


def _send(to: str) -> Exchange:
    return _exchange("POST", "/api/core/messages/send",
                     {"sendFrom": "num_abc123", "to": [to], "messageType": "SMS"},
                     {"results": [{"to": to, "messageId": "msg_1", "status": "QUEUED"}],
                      "errors": []})


def test_the_book_reads_exchanges_and_webhook_bodies_as_they_come() -> None:
    book = RecipientBook(PERSON)
    assert book.labels() == {PERSON: TO}
    event = json.dumps({"data": {"to": OTHER, "sendFrom": OWN}}).encode()
    assert book.labels([NUMBERS, _send(PERSON)], [event, b"not json"]) == {
        PERSON: TO, OTHER: RECIPIENT}
    assert RecipientBook(PERSON, share=True).labels([_send(PERSON)], [event]) == {}


def test_a_person_s_number_is_masked_wherever_it_stands() -> None:
    labels = recipient_labels(PERSON, [OTHER])
    doc = {"to": [PERSON], "results": [{"to": PERSON}], "data": {"to": OTHER},
           "text": f'{{"to":["{PERSON}"]}}', "line": f"data.to expected '{PERSON}', seen '{OTHER}'",
           "form": f"to=%2B{PERSON[1:]}&x=1", "sendFrom": PERSON, PERSON: "a key stays"}
    out = redact(doc, labels)
    assert out == {"to": ["+1******0123"], "results": [{"to": "+1******0123"}],
                   "data": {"to": "+1******9999"}, "text": '{"to":["+1******0123"]}',
                   "line": "data.to expected '+1******0123', seen '+1******9999'",
                   "form": "to=+1******0123&x=1",
                   "sendFrom": "+1******0123",  # a person's number in an own field: masked
                   PERSON: "a key stays"}  # keys and structure are never touched


def test_the_client_s_own_number_stays_where_it_stands_as_such() -> None:
    """RC_TO is the client's own number (the simulator's default): masked as a recipient,
    kept as the client's number (e164, sendFrom, numberId), in data and in JSON text."""
    labels = RecipientBook(OWN).labels([NUMBERS, _send(OWN)])
    assert labels == {OWN: TO_OWN}
    doc = {"numbers": [{"e164": OWN}], "sendFrom": OWN, "to": [OWN],
           "body": json.dumps({"e164": OWN, "to": OWN}, indent=2),
           "repr": f"{{'sendFrom': '{OWN}', 'to': '{OWN}'}}", "line": f"sent to {OWN}"}
    assert redact(doc, labels) == {
        "numbers": [{"e164": OWN}], "sendFrom": OWN, "to": ["+1******4567"],
        "body": json.dumps({"e164": OWN, "to": "+1******4567"}, indent=2),
        "repr": f"{{'sendFrom': '{OWN}', 'to': '+1******4567'}}",
        "line": "sent to +1******4567"}


def test_a_secret_keeps_its_own_mask_beside_the_numbers() -> None:
    secrets = {**recipient_labels(PERSON), "s3cr3t-value-123": "client_secret"}
    assert redact(f"{PERSON} s3cr3t-value-123", secrets) == \
        "+1******0123 [redacted:client_secret]"


def test_the_curl_repro_sends_to_rc_to_and_masks_anyone_else() -> None:
    labels = recipient_labels(PERSON, [OTHER])
    send = _exchange("POST", "/api/core/messages/send",
                     {"sendFrom": "num_abc123", "to": [PERSON, OTHER]}, {})
    curl = to_curl(send, labels)
    assert '"${RC_TO}"' in curl and "+1******9999" in curl
    assert PERSON not in curl and OTHER not in curl


def test_the_har_masks_bodies_and_keeps_the_numbers_list() -> None:
    labels = RecipientBook(OWN).labels([NUMBERS, _send(OWN)])
    doc = har_document([NUMBERS, _send(OWN)], secrets=labels)
    numbers, send = doc["log"]["entries"]
    assert json.loads(numbers["response"]["content"]["text"])["numbers"][0]["e164"] == OWN
    assert json.loads(send["request"]["postData"]["text"])["to"] == ["+1******4567"]
    assert OWN not in send["response"]["content"]["text"]


def test_the_run_context_reads_its_own_exchanges() -> None:
    from redcloud_check.context import RunContext
    from redcloud_check.core.config import load_settings

    settings = load_settings(environ={"RC_TO": PERSON})
    rc = RunContext.create(settings, "http://127.0.0.1:9")
    rc.recorder.record(_send(OTHER))
    assert rc.recipient_labels() == {PERSON: TO, OTHER: RECIPIENT}
    shared = RunContext.create(load_settings(environ={"RC_TO": PERSON,
                                                      "RC_SHARE_RECIPIENTS": "1"}),
                               "http://127.0.0.1:9")
    assert shared.recipient_labels() == {}
    assert isinstance(rc.secrets, SecretSet) and PERSON not in rc.secrets.values()


PHONES = st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)


def test_short_numbers_that_differ_only_where_hidden_still_mask_apart() -> None:
    """Hypothesis found it: +1000000 and +1002000 hide 3 of their 6 digits and end alike."""
    masks = masked_numbers(["+1000000", "+1002000", "+2000000"])
    assert masks == {"+1000000": "+1***000", "+1002000": "+1***000#2", "+2000000": "+20***00"}


@given(st.lists(PHONES, min_size=1, max_size=6, unique=True))
def test_any_numbers_are_masked_everywhere_and_stay_apart(numbers: list[str]) -> None:
    to, *others = numbers
    labels = recipient_labels(to, others)
    masks = masked_numbers(numbers)
    assert len(set(masks.values())) == len(numbers)  # distinct numbers, distinct masks
    for number, masked in masks.items():
        front = _split_front(number)
        assert masked.startswith(front) and masked.count("*") >= 3
        assert len(masked.split("#")[0]) == len(number)
    doc = {"to": numbers, "text": json.dumps({"to": numbers, "data": {"to": to}}),
           "line": " and ".join(numbers), "form": "&".join(f"to={quote(n)}" for n in numbers),
           "nested": [{"to": n, "sendFrom": n} for n in numbers]}
    out = redact(doc, labels)
    assert set(out) == set(doc) and len(out["nested"]) == len(numbers)  # structure kept
    written = json.dumps(out)
    assert not [n for n in numbers if n[1:] in written or quote(n) in written]


def _split_front(number: str) -> str:
    """The country code, by the ITU's rule restated: 1 and 7, the two-digit codes, else 3."""
    two = {"20", "27", *(f"3{d}" for d in "0123469"), *(f"4{d}" for d in "013456789"),
           *(f"5{d}" for d in "12345678"), *(f"6{d}" for d in "0123456"),
           *(f"8{d}" for d in "1246"), *(f"9{d}" for d in "0123458")}
    digits = number[1:]
    return "+" + (digits[:1] if digits[0] in "17" else digits[:2] if digits[:2] in two
                  else digits[:3])
