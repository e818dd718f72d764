"""The ledger: one typed result per check, stable ids everywhere they are shown, the exit code
computed from it, and one makereport hook in src."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html import unescape
from pathlib import Path

import pytest

from redcloud_check.core.errors import CheckFailure, ConfigError, TargetUnreachable
from redcloud_check.core.exit_codes import ExitCode
from redcloud_check.core.waivers import Waiver, WaiverBook
from redcloud_check.results.catalog import CheckSpec, stage_of
from redcloud_check.results.ledger import InternalError, Outcome, RunLedger, Skip, SkipCode
from redcloud_check.results.verdict import exit_code
from redcloud_check.suite.declare import CheckSkipped
from redcloud_check.suite.recording import PhaseReport, failure_text, result_of

from .results_builder import result
from .suite_runner import REPO, run_suite

CHECK_ID = re.compile(r"^RC-(TOKEN|WHOAMI|NUMBERS|SEND|WEBHOOKS)-\d{2}$")
SPEC = CheckSpec("RC-SEND-03", "An E.164 sendFrom is rejected.", "4-sending-messages.txt")
FAILURE = CheckFailure(title="not rejected", expected="400", actual="202", clause="c")


def _phase(phase: str, *, passed: bool = False, failed: bool = False, skipped: bool = False,
           waived: bool = False, problem: BaseException | None = None) -> PhaseReport:
    return PhaseReport(phase, passed, failed, skipped, waived, problem)


def _waiver(expires: str = "2099-12-31") -> Waiver:
    from datetime import date

    return Waiver("RC-SEND-03", "SUP-1", date.fromisoformat(expires), 1, 1, "w.toml")


def test_a_phase_becomes_one_typed_result() -> None:
    def of(report: PhaseReport, **kw: object) -> object:
        return result_of(SPEC, "n::t", "t", report, previous=None, waiver=None, book=None,
                         **kw)  # type: ignore[arg-type]

    assert of(_phase("setup", passed=True)) is None  # nothing decided yet
    passed = of(_phase("call", passed=True))
    assert passed.outcome is Outcome.PASSED and passed.check_id == "RC-SEND-03"
    failed = of(_phase("call", failed=True, problem=FAILURE))
    assert failed.outcome is Outcome.FAILED and failed.failure is FAILURE and failed.failing
    unreachable = of(_phase("call", failed=True,
                            problem=TargetUnreachable("http://x", "refused", "no")))
    assert unreachable.outcome is Outcome.FAILED and unreachable.unreachable is not None
    bug = of(_phase("call", failed=True, problem=KeyError("x")))
    assert bug.outcome is Outcome.ERROR and bug.failing
    tool = of(_phase("setup", failed=True, problem=ConfigError("RC_TO", "bad")))
    assert tool.outcome is Outcome.ERROR
    blocked = of(_phase("setup", skipped=True, problem=CheckSkipped(
        Skip(SkipCode.BLOCKED, "blocked by numbers: fix that first"), "numbers")))
    assert (blocked.outcome, blocked.blocked_by, blocked.skip.code) == (
        Outcome.BLOCKED, "numbers", SkipCode.BLOCKED)
    premise = of(_phase("call", skipped=True, problem=CheckSkipped(
        Skip(SkipCode.PREMISE, "no message was accepted", "no message"))))
    assert premise.outcome is Outcome.SKIPPED and premise.skip.label == "no message"
    foreign = of(_phase("call", skipped=True, problem=pytest.skip.Exception("theirs")))
    assert foreign.skip == Skip(SkipCode.OTHER, "theirs")


def test_waivers_settle_into_the_result() -> None:
    book = WaiverBook()
    active, expired = _waiver(), _waiver("2000-01-01")
    waived = result_of(SPEC, "n::t", "t", _phase("call", skipped=True, waived=True,
                                                 problem=FAILURE),
                       previous=None, waiver=active, book=book)
    assert waived.outcome is Outcome.WAIVED and waived.waiver_use == "waived"
    lapsed = result_of(SPEC, "n::t", "t", _phase("call", failed=True, problem=FAILURE),
                       previous=None, waiver=expired, book=book)
    assert lapsed.outcome is Outcome.FAILED and lapsed.waiver_use == "expired"
    stale = result_of(SPEC, "n::t", "t", _phase("call", passed=True), previous=None,
                      waiver=active, book=book)
    assert stale.outcome is Outcome.PASSED and stale.waiver_use == "stale"


def test_a_teardown_error_replaces_the_result() -> None:
    passed = result_of(SPEC, "n::t", "t", _phase("call", passed=True), previous=None,
                       waiver=None, book=None)
    after = result_of(SPEC, "n::t", "t", _phase("teardown", failed=True,
                                                problem=RuntimeError("x")),
                      previous=passed, waiver=None, book=None)
    assert after.outcome is Outcome.ERROR and after.phase == "teardown"
    assert result_of(SPEC, "n::t", "t", _phase("teardown", passed=True), previous=passed,
                     waiver=None, book=None) is None


def test_the_failure_text_names_the_check_by_id() -> None:
    failed = result("send", "failed", "not rejected")
    text = failure_text(failed, ["  cause:     x"])
    assert text is not None
    assert f"  check:    {failed.check_id} ({failed.nodeid})" in str(text)
    assert text.reprcrash.message == f"{failed.check_id} not rejected"
    assert str(text).endswith("  cause:     x")


def test_gates_block_from_the_ledger() -> None:
    ledger = RunLedger()
    ledger.record(result("token", "passed"))
    ledger.record(result("whoami", "failed", "inactive"))
    ledger.record(result("numbers", "failed", "not a gate", gate=False, n=5))
    assert ledger.failed_gates() == {"whoami": "inactive"}
    assert ledger.blocked_by("numbers") == "whoami" and ledger.blocked_by("whoami") is None


@pytest.mark.parametrize(("recorded", "status", "expected"), [
    ([result("token", "passed")], 0, ExitCode.OK),
    ([result("token", "failed", "x")], 1, ExitCode.CHECK_FAILED),
    ([result("token", "passed")], 1, ExitCode.OK),  # the ledger decides, not pytest's count
    ([result("token", "failed", "x")], 2, ExitCode.INTERRUPTED_OR_DEGRADED),
    ([], 5, ExitCode.NO_CHECKS),
    ([result("token", "passed")], 4, ExitCode.CONFIG_ERROR),
])
def test_the_exit_code_comes_from_the_ledger(recorded: list, status: int,
                                             expected: ExitCode) -> None:
    ledger = RunLedger()
    for r in recorded:
        ledger.record(r)
    assert exit_code(ledger, pytest_status=status) == expected


def test_errors_of_ours_and_missing_evidence_win() -> None:
    ledger = RunLedger()
    ledger.record(result("token", "failed", "x"))
    ledger.note_internal(InternalError("renderer", KeyError("y")))
    assert exit_code(ledger, pytest_status=1) == ExitCode.INTERNAL_ERROR
    assert exit_code(ledger, pytest_status=1, missing_artifacts=1) == \
        ExitCode.EVIDENCE_INCOMPLETE
    misrouted = RunLedger()
    misrouted.note_misrouted("num_1 -> http://127.0.0.1:9/gone")
    assert exit_code(misrouted, pytest_status=0) == ExitCode.CHECK_FAILED


def test_exactly_one_makereport_hook_in_src() -> None:
    src = REPO / "src" / "redcloud_check"
    found = [p for p in src.rglob("*.py")
             if "def pytest_runtest_makereport" in p.read_text("utf-8")]
    assert [p.relative_to(src).as_posix() for p in found] == ["plugin.py"]


def _junit_ids(path: Path) -> list[str]:
    ids = []
    for case in ET.parse(path).getroot().iter("testcase"):
        props = [p.get("value") for p in case.iter("property") if p.get("name") == "check_id"]
        assert len(props) == 1, case.get("name")
        ids.append(props[0])
    return ids


@pytest.mark.slow
def test_every_check_carries_its_id_in_every_artifact(tmp_path: Path) -> None:
    run = run_suite(tmp_path, RC_SIM_FAULTS="send-e164-sendfrom-accepted", RC_WEBHOOK_TIMEOUT="5")
    assert run.returncode == 1, run.stdout[-3000:]
    ids = _junit_ids(tmp_path / "junit.xml")
    assert len(ids) == 58 and len(set(ids)) == len(ids)
    assert all(CHECK_ID.match(i) for i in ids), ids
    doc = json.loads((tmp_path / "escalation.json").read_text())
    assert [c["checkId"] for c in doc["checks"]] == ids  # in run order, one each
    (bundle,) = doc["bundles"]
    assert bundle["checkId"] == bundle["check"]["checkId"] == "RC-SEND-03"
    assert "check:    RC-SEND-03 (checks/test_04_send.py::test_e164_send_from_is_rejected)" \
        in run.stdout
    assert "RC-SEND-03" in (tmp_path / "escalation.md").read_text()
    page = unescape((tmp_path / "report.html").read_text())  # pytest-html's rows are JSON
    assert 'col-check\\">RC-SEND-03<' in page and 'data-check-id=\\"RC-SEND-03' in page
    assert stage_of(bundle["checkId"]) == bundle["check"]["stage"]


@pytest.mark.slow
def test_a_waiver_naming_an_id_waives_that_check(tmp_path: Path) -> None:
    waivers = tmp_path / "w.toml"
    waivers.write_text('[[waiver]]\ncheck = "RC-SEND-03"\nreason = "SUP-9"\n'
                       'expires = 2099-12-31\n')
    run = run_suite(tmp_path / "reports", RC_SIM_FAULTS="send-e164-sendfrom-accepted",
                    RC_WAIVERS=str(waivers), RC_WEBHOOK_TIMEOUT="5")
    assert run.returncode == 0, run.stdout[-3000:]
    doc = json.loads((tmp_path / "reports" / "escalation.json").read_text())
    waived = [c for c in doc["checks"] if c["outcome"] == "waived"]
    assert [c["checkId"] for c in waived] == ["RC-SEND-03"]
    assert doc["summary"]["waivers"]["waived"][0]["check"] == "RC-SEND-03"
