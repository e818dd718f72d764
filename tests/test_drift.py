"""Drift: fields the documented schemas do not describe are reported as undocumented, with
their JSON path and endpoint; information, never a failure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from redcloud_check.reporting.artifacts import validate_escalation
from redcloud_check.rules import schemas
from redcloud_check.rules.drift import (
    endpoint_template,
    find_drift,
    response_schema,
    undocumented_fields,
)

from .drifting_simulator import drifting_simulator
from .suite_runner import SuiteRun, clean_env, run_suite

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



# -- over real HTTP: a simulator whose API adds undocumented fields ---------------------------

SENDING = {"RC_CLIENT_ID": "rc_test_client_123", "RC_CLIENT_SECRET": "rc_secret_abc123",
           "RC_NUMBER_ID": "num_abc123", "RC_TO": "+15551234567",
           "RC_WEBHOOK_SECRET": "rc_secret_abc123", "RC_ALLOW_SEND": "1"}


@pytest.fixture(scope="module")
def drifted(tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    with drifting_simulator() as sim:
        run = run_suite(tmp_path_factory.mktemp("drifted"), RC_BASE_URL=sim.base_url,
                        **SENDING)
    assert run.returncode == 0, run.stdout[-3000:]  # information, never a failure
    assert run.failed == [] and not run.by_outcome("skipped")
    return run


@pytest.mark.slow
def test_a_run_reports_undocumented_fields_in_every_report(drifted: SuiteRun) -> None:
    doc = json.loads((drifted.reports / "escalation.json").read_text(encoding="utf-8"))
    validate_escalation(doc)
    found = {(u["endpoint"], u["status"], u["path"])
             for u in doc["summary"]["drift"]["undocumented"]}
    assert {("GET /api/core/whoami", 200, "$.region"),
            ("GET /api/core/whoami", 200, "$.assignedNumbers.tollFreeCount"),
            ("GET /api/core/whoami", 401, "$.region"),
            ("POST /api/core/messages/send", 202, "$.region"),
            ("webhook message.queued", None, "$.attempt"),
            ("webhook message.queued", None, "$.data.carrier"),
            ("webhook message.sent", None, "$.data.carrier")} <= found
    assert all(path.endswith(("region", "tollFreeCount", "attempt", "carrier"))
               for _, _, path in found)  # nothing documented is reported
    assert doc["summary"]["verdict"] == "passed"
    line = next(x for x in drifted.stdout.splitlines()
                if x.strip().startswith("undocumented in GET /api/core/whoami 200: "))
    assert "$.region" in line and "$.assignedNumbers.tollFreeCount" in line
    html = (drifted.reports / "report.html").read_text(encoding="utf-8")
    assert "Drift: undocumented fields" in html and "$.assignedNumbers.tollFreeCount" in html
    ticket = (drifted.reports / "escalation.md").read_text(encoding="utf-8")
    assert "undocumented field(s) seen (not failures)" in ticket


@pytest.mark.slow
def test_diff_shows_the_fields_that_appeared(drifted: SuiteRun, tmp_path: Path) -> None:
    clean = run_suite(tmp_path / "clean")
    assert "drift: none" in clean.stdout
    proc = subprocess.run([sys.executable, "-m", "redcloud_check.cli", "diff",
                           str(clean.reports / "escalation.json"),
                           str(drifted.reports / "escalation.json")],
                          capture_output=True, text=True, env=clean_env(), timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "  + $.assignedNumbers.tollFreeCount in GET /api/core/whoami 200" in proc.stdout
    assert "  + $.data.carrier in webhook message.delivery" in proc.stdout
    assert "undocumented fields disappeared (0)" in proc.stdout
