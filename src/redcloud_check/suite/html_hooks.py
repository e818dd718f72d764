"""pytest-html's hooks for the suite: registered by the plugin when pytest-html is active
(its hook specifications exist only then). Each renders from the run's ledger."""

from __future__ import annotations

from html import escape
from typing import Any

import pytest

from redcloud_check.suite import reports
from redcloud_check.suite.run import SuiteRun

__all__ = ["HtmlHooks"]


class HtmlHooks:
    def __init__(self, run: SuiteRun) -> None:
        self.run = run

    def pytest_html_report_title(self, report: Any) -> None:
        report.title = f"redcloud-check report — run {self.run.run_id}"

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(2, '<th class="sortable" data-column-type="check">Check</th>')
        cells.insert(3, '<th class="sortable" data-column-type="stage">Stage</th>')

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        test_id = report.nodeid + ("" if report.when == "call" else f"::{report.when}")
        if len(cells) > 1:
            cells[1] = f'<td class="col-testId">{escape(test_id)}</td>'
        result = self.run.ledger.get(report.nodeid)
        cells.insert(2, f'<td class="col-check">{escape(result.check_id if result else "—")}'
                        "</td>")
        cells.insert(3, f'<td class="col-stage">{escape(result.stage if result else "—")}</td>')

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str],
                                    postfix: list[str], session: pytest.Session) -> None:
        reports.html_summary(self.run, prefix, postfix)
