"""The suite's items: each one's declaration and waiver at collection, and each phase's
report settled into the ledger (the work of the plugin's one `pytest_runtest_makereport`).

    declare_items(items, book)         every item's CheckSpec into its stash (an undeclared
                                       check or a reused id is a bug in the suite: raised);
                                       its waiver, and pytest's xfail for an active one
    settle_report(run, item, call, r)  the phase's CheckResult, recorded in the ledger, its
                                       evidence built, then rendered onto the report
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from redcloud_check.core.errors import CheckFailure, HandlerError, TargetUnreachable
from redcloud_check.core.findings import Finding
from redcloud_check.core.redaction import redact
from redcloud_check.core.waivers import WaiverBook, waived_reason
from redcloud_check.reporting.diagnosis import terminal_lines
from redcloud_check.reporting.evidence import CheckInfo
from redcloud_check.reporting.own_errors import explain
from redcloud_check.results.ledger import CheckResult
from redcloud_check.suite import declare, reports
from redcloud_check.suite.recording import PhaseReport, failure_text, result_of
from redcloud_check.suite.root_causes import attribute_failure, explained_line, found
from redcloud_check.suite.run import SuiteRun
from redcloud_check.suite.stash import SPEC, WAIVER

__all__ = ["declare_items", "settle_report"]


def declare_items(items: list[pytest.Item], book: WaiverBook) -> None:
    seen: dict[str, str] = {}
    for item in items:
        spec = declare.spec_of(item)
        if spec is None:
            raise RuntimeError(f"{item.nodeid} is not declared as a check "
                               "(redcloud_check.suite.declare.check): a bug in the suite")
        if spec.id in seen:
            raise RuntimeError(f"check id {spec.id} is declared twice: {seen[spec.id]} and "
                               f"{item.nodeid} (a bug in the suite)")
        seen[spec.id] = item.nodeid
        item.stash[SPEC] = spec
        waiver = book.find(item.nodeid, item.name, spec.id)
        if waiver is None:
            continue
        item.stash[WAIVER] = waiver
        if book.active(waiver):  # pytest's xfail, for the API's failures only (not ours)
            item.add_marker(pytest.mark.xfail(reason=waived_reason(waiver),
                                              raises=CheckFailure, strict=False))


def _phase(run: SuiteRun, item: pytest.Item, call: pytest.CallInfo[None],
           report: pytest.TestReport) -> PhaseReport:
    waived = bool(report.skipped and hasattr(report, "wasxfail") and WAIVER in item.stash)
    problem = call.excinfo.value if call.excinfo is not None else None
    if report.failed and isinstance(problem, CheckFailure | TargetUnreachable):
        try:  # a server of ours the check depends on raised while serving: our bug
            explain(run.servers(), item.stash[SPEC].stage)
        except HandlerError as ours:
            problem = ours
    return PhaseReport(report.when, report.passed, report.failed, report.skipped, waived,
                       problem, report.duration)


def _settle_waiver(run: SuiteRun, item: pytest.Item, report: pytest.TestReport,
                   result: CheckResult) -> None:
    """Record what became of the item's waiver: waived, expired (the failure stands) or
    stale (the check passed: a warning)."""
    waiver, use, book = result.waiver, result.waiver_use, run.ledger.waivers
    if waiver is None or use is None or report.when != "call":
        return
    book.record(use, waiver, item.nodeid)
    if use == "waived":
        item.user_properties.append(("rc_waived", str(report.wasxfail)))
    elif use == "stale":
        if hasattr(report, "wasxfail"):
            del report.wasxfail  # a plain pass, not XPASS; the stale warning says the rest
        run.ledger.findings.add(Finding(
            "warning", f"Waiver is stale: {waiver.check} passed",
            WaiverBook.stale_message(waiver, not book.active(waiver)), "docs/waivers.md",
            check=item.nodeid, stage=result.stage))


def _redact(report: pytest.TestReport, secrets: dict[str, str]) -> None:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        report.longrepr = (longrepr[0], longrepr[1], redact(str(longrepr[2]), secrets))
    elif longrepr is not None and not hasattr(longrepr, "reprcrash"):
        text = str(longrepr)
        clean = redact(text, secrets)
        if clean != text:
            report.longrepr = clean
    report.sections = [(h, redact(c, secrets)) for h, c in report.sections]


def settle_report(run: SuiteRun, item: pytest.Item, call: pytest.CallInfo[None],
                  report: pytest.TestReport) -> None:
    ledger, spec = run.ledger, item.stash[SPEC]
    result = result_of(spec, item.nodeid, item.name, _phase(run, item, call, report),
                       previous=ledger.get(item.nodeid), waiver=item.stash.get(WAIVER, None),
                       book=ledger.waivers)
    if result is not None:
        result, attribution = attribute_failure(run, result)
        bundle, extras = reports.evidence(run, CheckInfo.of(spec, item.nodeid, item.name),
                                          result)
        result = replace(result, evidence=bundle)
        ledger.record(result)
        if attribution is not None:
            found(run, result, attribution)
        _settle_waiver(run, item, report, result)
    secrets = run.secrets()  # after the evidence: a token its reproduction issued is in it
    if result is not None:
        _render(run, report, item, result, bundle, extras, secrets)
    _redact(report, secrets)


def _render(run: SuiteRun, report: pytest.TestReport, item: pytest.Item, result: CheckResult,
            bundle: dict[str, Any] | None, extras: list[dict[str, Any]],
            secrets: Mapping[str, str]) -> None:
    """The result onto pytest's report: the failure's text with its diagnosis (or the root
    cause that explains it), report.html's extras, junit.xml's properties."""
    lines: list[str] = []
    root = next((r for r in run.ledger.root_causes() if r.cause.id == result.explained_by
                 and result.check_id in r.checks), None) if result.explained_by else None
    if root is not None:
        lines = [explained_line(root)]
        item.user_properties.append(("rc_root_cause", root.cause.id))
    if bundle is not None:
        request_id = bundle["escalation"].get("requestId")
        lines = terminal_lines(bundle["diagnosis"], request_id=request_id)
        if request_id:
            item.user_properties.append(("rc_request_id", request_id))
        item.user_properties.append(("rc_diagnosis", bundle["diagnosis"]["id"]))
    note = (WaiverBook.expired_message(result.waiver)
            if result.waiver is not None and result.waiver_use == "expired" else None)
    text = failure_text(result, lines, note) if result.unproven else None
    if text is not None:
        text.text = redact(text.text, secrets)
        text.reprcrash = type(text.reprcrash)(redact(text.reprcrash.message, secrets))
        report.longrepr = text  # type: ignore[assignment]
    if extras:
        report.extras = [*getattr(report, "extras", []), *extras]  # type: ignore[attr-defined]
