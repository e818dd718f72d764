"""Scripted answers (webhooks.answers): each event's n-th delivery gets the n-th code, the last
one repeating; a script for one event leaves every other event alone; over real HTTP the
listener answers with them and records what it did."""

from __future__ import annotations

import httpx
import pytest

from redcloud_check.webhooks.answers import REFUSE_ONE, Answers, AnswerScript, parse_codes
from redcloud_check.webhooks.listener import WebhookListener

from .webhook_support import SECRET, event, post_signed


@pytest.mark.parametrize(("text", "codes"), [
    ("503,200", (503, 200)), (" 500 , 429 ,200 ", (500, 429, 200)), ("204", (204,)),
])
def test_codes_are_parsed(text: str, codes: tuple[int, ...]) -> None:
    assert parse_codes(text) == codes


@pytest.mark.parametrize(("text", "says"), [
    ("", "comma-separated"), ("503,", "comma-separated"), ("abc", "'abc' is not"),
    ("99", "'99' is not"), ("600", "'600' is not"), ("-1", "'-1' is not"),
    ("5e2", "'5e2' is not"),
])
def test_a_bad_code_list_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_codes(text)


def test_a_script_holds_only_http_statuses() -> None:
    with pytest.raises(ValueError):
        AnswerScript(())
    with pytest.raises(ValueError):
        AnswerScript((503, 700))


def test_each_event_has_its_own_count_and_the_last_code_repeats() -> None:
    answers = Answers(AnswerScript((503, 500, 200)))
    queued, sent = event("msg_a", "message.queued", 1), event("msg_a", "message.sent", 2)
    got = [answers.answer(queued, b"q") for _ in range(4)]
    assert got == [(503, 1), (500, 2), (200, 3), (200, 4)]
    assert answers.answer(sent, b"s") == (503, 1)  # another event starts at the first code


def test_an_event_without_identity_is_counted_by_its_body() -> None:
    answers = Answers(AnswerScript((503, 200)))
    anonymous = {"eventType": "message.queued"}
    assert answers.answer(anonymous, b"one") == (503, 1)
    assert answers.answer(anonymous, b"one") == (200, 2)
    assert answers.answer(anonymous, b"two") == (503, 1)  # other bytes: another event


def test_refuse_one_scripts_the_first_identified_event_only() -> None:
    answers = Answers(REFUSE_ONE)
    assert answers.answer({"eventType": "message.queued"}, b"x") is None  # no identity
    first = event("msg_b", "message.queued", 1)
    assert answers.answer(first, b"1") == (503, 1)
    assert answers.answer(event("msg_b", "message.sent", 2), b"2") is None
    assert answers.answer(first, b"1") == (200, 2)


def test_the_listener_answers_as_scripted_and_a_refusal_is_never_a_duplicate() -> None:
    with WebhookListener(SECRET, answers=Answers(AnswerScript((503, 204)))) as listener:
        payload = event("msg_c", "message.queued", 1)
        with httpx.Client(timeout=10) as client:
            first = post_signed(listener.url, payload, client=client)
            second = post_signed(listener.url, payload, client=client)
            third = post_signed(listener.url, payload, client=client)
            forged = post_signed(listener.url, payload, secret="not-the-secret", client=client)
    assert (first.status_code, second.status_code, third.status_code) == (503, 204, 204)
    assert first.json() == {"error": "refused on purpose (delivery 1 of this event, as "
                                     "scripted)"}
    assert second.content == b""  # 204: no body
    assert forged.status_code == 401  # an unverified request is never scripted
    refused, accepted, again, unsigned = listener.deliveries()
    assert refused.refused_on_purpose and refused.verified and refused.event == payload
    assert (refused.script_delivery, accepted.script_delivery, again.script_delivery) == (1, 2, 3)
    assert not accepted.duplicate and accepted.reason == "signature ok"  # the first accepted
    assert again.duplicate  # an exact redelivery of an accepted event
    assert unsigned.script_delivery is None and not unsigned.refused_on_purpose
