"""Every lifecycle event against its cause: one case per row of event_consistency.py's table, and
the stage-5 checks over real HTTP against the simulator's event faults."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from redcloud_check.context import AcceptedMessage
from redcloud_check.webhooks.event_consistency import EventMismatch, mismatches

from .suite_runner import run_suite
from .webhook_support import event

MSG = AcceptedMessage("msg_1", "+15551234567", "order_789", "idem", "num_abc123", time.time(),
                      None, api_client_id="rc_test_client_123", send_from_e164="+15551234567")


def seen(kind: str = "message.delivery", **changes: Any) -> list[EventMismatch]:
    payload = event("msg_1", kind, 3)
    for key, value in changes.items():
        if key.startswith("data_"):
            payload["data"][key[5:]] = value
        else:
            payload[key] = value
    return mismatches(payload, MSG)


def test_an_event_that_agrees_with_its_send_has_no_mismatch() -> None:
    for kind in ("message.queued", "message.sent", "message.delivery"):
        assert seen(kind) == []
    assert seen("message.failed", data_error={"code": "CARRIER_REJECTED"}) == []
    assert seen(direction="OUTBOUND") == []  # case is not a difference of meaning
    assert seen(occurredAt=int(time.time())) == []  # seconds, decided by magnitude
    assert seen(occurredAt=int((MSG.accepted_at - 60) * 1000)) == []  # within clock skew


@pytest.mark.parametrize(("changes", "kind", "field", "expected", "got"), [
    ({"apiClientId": "rc_other_client_789"}, "client", "apiClientId", "rc_test_client_123",
     "rc_other_client_789"),
    ({"direction": "inbound"}, "message", "direction", "outbound", "inbound"),
    ({"data_to": "+15550009999"}, "message", "data.to", "+15551234567", "+15550009999"),
    ({"data_sendFrom": "+15557654321"}, "message", "data.sendFrom", "+15551234567",
     "+15557654321"),
    ({"data_status": "failed"}, "status", "data.status", "delivered", "failed"),
])
def test_a_misleading_field_fails_naming_field_expected_and_seen(
        changes: dict[str, Any], kind: str, field: str, expected: str, got: str) -> None:
    (found,) = seen(**changes)
    m = found.mismatch
    assert (found.kind, found.severity, m.field, m.expected, m.actual) == (
        kind, "fail", field, expected, got)
    assert found.describe().startswith(f"{field} expected {expected!r}, seen {got!r}")


@pytest.mark.parametrize(("event_type", "changes", "field"), [
    ("message.delivery", {"data_sendFrom": "num_abc123"}, "data.sendFrom"),
    ("message.sent", {"data_status": "dispatched"}, "data.status"),
    ("message.delivery", {"data_error": {"code": "X"}}, "data.error"),
    ("message.queued", {"occurredAt": int((time.time() - 3600) * 1000)}, "occurredAt"),
    ("message.queued", {"occurredAt": int(time.time() - 3600)}, "occurredAt"),
])
def test_a_harmless_difference_of_form_is_a_warning(event_type: str, changes: dict[str, Any],
                                                    field: str) -> None:
    (found,) = seen(event_type, **changes)
    assert (found.severity, found.mismatch.field) == ("warning", field)


def test_a_field_whose_truth_the_run_lacks_is_not_judged() -> None:
    unknown = AcceptedMessage("msg_1", "+15551234567", "order_789", "idem", "num_abc123",
                              time.time(), None)
    payload = event("msg_1", "message.sent", 2, sendFrom="+19999999999")
    payload["apiClientId"] = "someone_else"
    assert mismatches(payload, unknown) == []
    assert mismatches(event("msg_1", "message.carrier_update", 3), MSG) == []


# -- the checks over real HTTP, against the simulator's event faults ----------------------

CHECK_FOR_FAULT = {
    "event-wrong-client": ("test_events_name_the_sending_client", "apiClientId"),
    "event-wrong-message-in-data": ("test_event_ids_match_the_send", "data.messageId"),
    "event-wrong-recipient": ("test_events_describe_the_sent_message", "data.to"),
    "event-wrong-sender-number": ("test_events_describe_the_sent_message", "data.sendFrom"),
    "event-direction-inbound": ("test_events_describe_the_sent_message", "direction"),
    "event-status-contradicts-type": ("test_event_status_matches_its_type", "data.status"),
}


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(CHECK_FOR_FAULT))
def test_each_event_fault_fails_its_check_naming_the_field(tmp_path: Path, fault: str) -> None:
    check, field = CHECK_FOR_FAULT[fault]
    run = run_suite(tmp_path, RC_SIM_FAULTS=fault, RC_WEBHOOK_TIMEOUT="5")
    assert run.returncode == 1
    assert [c.name.rsplit("::", 1)[1] for c in run.failed] == [check], run.stdout[-2000:]
    bundle = json.loads((tmp_path / "escalation.json").read_text("utf-8"))
    text = json.dumps(bundle)
    assert f"{field} expected " in text and ", seen " in text
