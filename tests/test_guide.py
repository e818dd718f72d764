"""The guide as data: covers every symptom of the guide, quotes it faithfully, specific wins."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from redcloud_check.reporting.guide import WEIGHTS, Observation, candidates, entries, lookup

GUIDE = (Path(__file__).parent / "data" / "5-troubleshooting.txt").read_text("utf-8")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def _guide_symptoms() -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"^Symptom:\s*(.+)$", GUIDE, re.M)]


def test_the_guide_copy_has_the_symptoms_we_expect() -> None:
    assert len(_guide_symptoms()) == 8


@pytest.mark.parametrize("symptom", _guide_symptoms())
def test_every_guide_symptom_has_an_entry(symptom: str) -> None:
    sections = {e.section for e in entries()}
    assert f"5-troubleshooting.txt, Symptom: {symptom}" in sections
    assert any(e.symptom == symptom for e in entries())


@pytest.mark.parametrize("entry", [e for e in entries() if "Symptom:" in e.section],
                         ids=lambda e: e.id)
def test_guide_entries_quote_the_guide(entry) -> None:  # type: ignore[no-untyped-def]
    heading = entry.section.split("Symptom:", 1)[1].strip()
    start = GUIDE.index(f"Symptom: {heading}")
    end = GUIDE.find("Symptom:", start + 1)
    block = _squash(GUIDE[start:end if end > 0 else len(GUIDE)])
    for quote in (*entry.check, *entry.likely_causes, entry.next_action):
        assert _squash(quote) in block, f"{entry.id}: {quote!r} is not in its guide section"


def test_entries_have_unique_ids_known_fields_and_one_fallback() -> None:
    ids = [e.id for e in entries()]
    assert len(ids) == len(set(ids))
    assert all(set(e.match) <= set(WEIGHTS) for e in entries())
    assert [e.id for e in entries() if not e.match] == ["fallback"]


@pytest.mark.parametrize(
    ("obs", "expected"),
    [
        (Observation(stage="token", status=401, check="test_basic_credentials"),
         "token-request-fails"),
        (Observation(stage="whoami", status=200, check="test_api_client_is_active"),
         "whoami-fails"),
        (Observation(stage="whoami", status=401, check="test_invalid_token"), "whoami-401"),
        (Observation(stage="numbers", check="test_configured_number_is_usable"),
         "numbers-ok-sends-fail"),
        (Observation(stage="send", status=400, error_code="INVALID_REQUEST", body_json=True,
                     check="test_sms_send_is_accepted"), "send-400-invalid-request"),
        (Observation(stage="send", status=403, error_code="FORBIDDEN", body_json=True,
                     check="test_sms_send_is_accepted"), "send-403-forbidden-code"),
        (Observation(stage="send", status=202, body_json=True,
                     check="RC-SEND-05"), "send-rejection-rules"),
        (Observation(stage="send", status=200, check="RC-SEND-12"),
         "duplicate-messages"),
        (Observation(stage="webhooks", check="RC-WEBHOOKS-02"),
         "accepted-but-no-delivery"),
        (Observation(stage="webhooks", check="test_events_arrive"), "no-webhook-events"),
        (Observation(failure="unreachable", stage="token", kind="refused"),
         "unreachable-refused"),
        (Observation(failure="unreachable", kind="dns"), "unreachable-dns"),
        (Observation(failure="unreachable", kind="timeout"), "unreachable-timeout"),
        (Observation(failure="unreachable", kind="tls"), "unreachable-tls"),
        (Observation(failure="unreachable", kind="truncated"), "unreachable-truncated"),
        (Observation(failure="unreachable", kind="weird"), "unreachable-other"),
        (Observation(stage="token", status=502, body_json=False, check="test_basic"),
         "gateway-5xx-non-json"),
        (Observation(stage="token", status=200, body_json=False, check="test_basic"),
         "gateway-non-json"),
        (Observation(stage="send", status=500, body_json=True, check="test_e164_send_from"),
         "gateway-5xx"),
        (Observation(failure="tool", stage="send"), "tool-error"),
        (Observation(failure="config", setting="RC_TO"), "config-error"),
        (Observation(), "fallback"),
    ],
)
def test_most_specific_entry_wins(obs: Observation, expected: str) -> None:
    assert lookup(obs).id == expected


def test_specific_beats_generic_by_score_and_generic_still_applies() -> None:
    obs = Observation(stage="send", status=403, error_code="FORBIDDEN", body_json=True)
    ranked = [e.id for _, e in candidates(obs)]
    assert ranked.index("send-403-forbidden-code") < ranked.index("send-403-forbidden") \
        < ranked.index("send-fails-generic") < ranked.index("fallback")


def test_placeholders_are_filled() -> None:
    d = lookup(Observation(failure="unreachable", kind="refused",
                             url="http://127.0.0.1:9"))
    assert d.note == "target unreachable: connection refused at http://127.0.0.1:9"
    t = lookup(Observation(failure="unreachable", kind="timeout", timeout="0.5 s"))
    assert t.note.endswith("within RC_TIMEOUT (0.5 s)") and "{" not in t.note
    c = lookup(Observation(failure="config", setting="RC_TO", error="RC_TO: bad"))
    assert c.likely_causes == ("RC_TO is missing or malformed",)
    assert lookup(Observation(stage="webhooks", check="RC-WEBHOOKS-03")).note.count("${") == 2
