"""escalation.json validates against its schema; escalation.md; junit fallbacks."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from redcloud_check.core.errors import CheckFailure, ConfigError
from redcloud_check.core.exchange import Exchange, Timings
from redcloud_check.core.findings import Finding
from redcloud_check.reporting.artifacts import (
    EscalationSchemaError,
    escalation_document,
    run_info,
    validate_escalation,
    write_escalation,
    write_junit,
    write_misconfigured,
)
from redcloud_check.reporting.evidence import CheckInfo, build_bundle
from redcloud_check.results.verdict import summarize

from .leaks import assert_no_secret
from .results_builder import SENDS_DISABLED, result

TOKEN = "artifact-token-5e4d3c"
SECRET = "artifact-secret-1a2b"


def _bundle() -> dict:
    ex = Exchange(method="POST", url="http://127.0.0.1:1/api/core/messages/send",
                  request_headers={"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "k"},
                  request_body=b'{"sendFrom": "+15551234567", "to": ["+15551234567"]}',
                  started_at=time.time(), timings=Timings(total=0.02), status=403,
                  response_headers={"Content-Type": "application/json"},
                  response_body=json.dumps({"error": {"code": "FORBIDDEN", "message": "no",
                                                      "details": {}},
                                            "requestId": "req_forbidden_9"}).encode(),
                  token_fresh=True, token_age_s=1.5)
    failure = CheckFailure(title="E.164 sendFrom was not rejected", expected="400 or 403",
                           actual="403", clause="4-sending-messages.txt", exchange=ex)
    check = CheckInfo(nodeid="checks/test_04_send.py::test_x", name="test_x", stage="send",
                      statement="sendFrom must be a numberId.")
    return build_bundle(check, failure, exchanges=[ex], secrets={TOKEN: "access_token"})


OUTCOMES = [
    result("token", "passed"),
    result("whoami", "passed"),
    result("numbers", "failed", "number not ACTIVE"),
    result("send", "blocked", "blocked by numbers: fix that first", blocked_by="numbers"),
]


def _doc(bundles: list[dict] | None = None) -> dict:
    run = run_info(run_id="r1", started_at=time.time(), target="http://127.0.0.1:1",
                   embedded=True, client_id="rc_test_client_123", number_id="num_abc123",
                   exit_status=1)
    warn = Finding("warning", "Token response is cacheable", "Cache-Control absent", "RFC 6749",
                   check="c/t1.py::a", stage="token")
    summary = summarize(OUTCOMES, findings=[warn], gates_failed={"numbers": "not ACTIVE"})
    return escalation_document(run, summary, bundles if bundles is not None else [_bundle()],
                               {TOKEN: "access_token"})


def test_summary_verdicts_per_stage() -> None:
    summary = _doc()["summary"]
    verdicts = {s["name"]: (s["verdict"], s["blocked_by"]) for s in summary["stages"]}
    assert verdicts == {"token": ("passed", None), "whoami": ("passed", None),
                        "numbers": ("failed", None), "send": ("blocked", "numbers"),
                        "webhooks": ("blocked", "numbers")}
    assert summary["verdict"] == "failed"
    assert summary["counts"] == {"passed": 2, "failed": 1, "skipped": 0, "blocked": 1,
                                 "waived": 0, "inconclusive": 0, "total": 4}
    assert {"stage": "send", "blocked_by": "numbers",
            "reason": "blocked by numbers: fix that first"} in summary["blocked"]
    assert summary["warnings"][0]["title"] == "Token response is cacheable"


def test_skipped_stage_is_not_blocked() -> None:
    summary = summarize([result("send", "skipped", gate=False, skip=SENDS_DISABLED)])
    send = next(s for s in summary["stages"] if s["name"] == "send")
    assert send["verdict"] == "skipped" and send["blocked_by"] is None
    assert summary["verdict"] == "not_run"  # nothing ran: never "passed"
    assert next(s for s in summary["stages"] if s["name"] == "token")["verdict"] == "not_run"


def _outcomes(stage: str, *outcomes: str, gate: bool = True) -> list:
    return [result(stage, o, gate=gate and i == 0, n=None if gate and i == 0 else 50 + i,
                   skip=SENDS_DISABLED if o == "skipped" else None)
            for i, o in enumerate(outcomes)]


def test_passed_alone_only_when_every_check_of_every_stage_ran() -> None:
    ran = [o for s in ("token", "whoami", "numbers", "send", "webhooks")
           for o in _outcomes(s, "passed", "passed")]
    assert summarize(ran)["verdict"] == "passed" and summarize(ran)["headline"] == "passed"
    no_sends = [*ran[:6], *_outcomes("send", "skipped", "skipped"),
                *_outcomes("webhooks", "skipped")]
    summary = summarize(no_sends)
    assert summary["verdict"] == "partial"
    assert summary["headline"] == ("partial — passed: token, whoami, numbers; not run: send, "
                                   "webhooks (sending is disabled for a remote target)")


def test_a_stage_whose_gate_did_not_run_is_never_passed() -> None:
    # `-k webhooks`: one webhook check passed, the gate (the lifecycle) never ran
    checks = _outcomes("webhooks", "skipped", "passed")
    summary = summarize(checks, deselected={"token": 7, "whoami": 9, "numbers": 6, "send": 11})
    stages = {s["name"]: s for s in summary["stages"]}
    assert stages["webhooks"]["verdict"] == "skipped"
    assert stages["token"]["verdict"] == "not_run"
    assert stages["token"]["reason"].startswith("deselected") and \
        stages["token"]["counts"]["deselected"] == 7
    assert summary["verdict"] == "partial" and "passed:" not in summary["headline"]
    assert "token, whoami, numbers, send (deselected)" in summary["headline"]


def test_some_checks_not_run_in_a_passed_stage_are_named() -> None:
    checks = [o for s in ("token", "whoami", "numbers", "send", "webhooks")
              for o in _outcomes(s, "passed")]
    summary = summarize(checks, deselected={"numbers": 2})
    numbers = next(s for s in summary["stages"] if s["name"] == "numbers")
    assert numbers["verdict"] == "passed" and numbers["reason"].startswith("2 of 3 checks not run")
    assert summary["verdict"] == "partial"
    assert "some checks not run: numbers (2 of 3 checks not run: deselected)" in \
        summary["headline"]


def test_document_validates_and_carries_the_request_id(tmp_path: Path) -> None:
    doc = _doc()
    validate_escalation(doc)
    write_escalation(tmp_path, doc, {TOKEN: "access_token"})
    written = json.loads((tmp_path / "escalation.json").read_text())
    validate_escalation(written)
    assert written["bundles"][0]["escalation"]["requestId"] == "req_forbidden_9"
    md = (tmp_path / "escalation.md").read_text()
    assert "requestId: **req_forbidden_9**" in md
    assert "Endpoint called: POST /api/core/messages/send" in md
    assert "curl -X POST" in md and "Best next action:" in md
    assert "| Send (POST /api/core/messages/send) | blocked | blocked by numbers" in md
    for path in tmp_path.iterdir():
        assert_no_secret(path.read_bytes(), [TOKEN], str(path.name))


def test_an_invalid_document_is_a_bug_that_raises() -> None:
    doc = _doc()
    doc["bundles"][0]["escalation"].pop("requestId")
    with pytest.raises(EscalationSchemaError, match="requestId"):
        validate_escalation(doc)
    with pytest.raises(EscalationSchemaError):
        validate_escalation({**doc, "schemaVersion": "0"})


def test_an_invalid_document_is_never_written(tmp_path: Path) -> None:
    doc = _doc()
    doc["bundles"][0]["escalation"].pop("requestId")
    with pytest.raises(EscalationSchemaError, match="requestId"):
        write_escalation(tmp_path, doc, {TOKEN: "access_token"})
    assert list(tmp_path.iterdir()) == []


def test_write_misconfigured_writes_all_its_files(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RC_CLIENT_SECRET", SECRET)
    error = ConfigError("RC_TO", f"is required (saw {SECRET})", "e.g. +15551234567")
    write_misconfigured(tmp_path / "reports", error)
    reports = tmp_path / "reports"
    assert sorted(p.name for p in reports.iterdir()) == ["escalation.json", "escalation.md",
                                                          "history.jsonl", "junit.xml"]
    root = ET.parse(reports / "junit.xml").getroot()
    cases = list(root.iter("testcase"))
    assert [c.get("name") for c in cases] == ["configuration"]
    err = cases[0].find("error")
    assert err is not None and "RC_TO" in (err.get("message") or "")
    doc = json.loads((reports / "escalation.json").read_text())
    validate_escalation(doc)
    assert doc["summary"]["verdict"] == "misconfigured"
    assert doc["summary"]["config_error"]["setting"] == "RC_TO"
    assert doc["summary"]["config_error"]["diagnosis"]["id"] == "config-error"
    assert doc["run"]["exit_status"] == 3 and doc["bundles"] == []
    assert "Setting: `RC_TO`" in (reports / "escalation.md").read_text()
    for path in reports.iterdir():
        assert_no_secret(path.read_bytes(), [SECRET], path.name)


def test_junit_fallback_lists_outcomes(tmp_path: Path) -> None:
    write_junit(tmp_path / "junit.xml", OUTCOMES)
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    props = [(p.get("name"), p.get("value")) for p in suite.iter("property")]
    assert [v for k, v in props if k == "rc_stage"] == ["token", "whoami", "numbers", "send"]
    assert [v for k, v in props if k == "check_id"] == [
        "RC-TOKEN-01", "RC-WHOAMI-01", "RC-NUMBERS-01", "RC-SEND-01"]
