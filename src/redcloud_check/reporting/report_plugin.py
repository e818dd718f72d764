"""The reporting plugin: hooks only. The logic lives in evidence, artifacts and html_render.

The core plugin registers it in suite mode, once the settings are valid, where
`get_context()` returns the run's RunContext, or None before the session starts:

    config.pluginmanager.register(ReportPlugin(config, get_context), "redcloud_check.report")

What it does:
* every failed check gets an escalation bundle (evidence.build_bundle), shown inline in
  report.html as an extra and collected for escalation.json / escalation.md;
* webhook-stage rows get a lifecycle timeline SVG for each accepted message;
* report.html's summary gets per-stage verdicts, warnings and a latency chart; its
  environment table shows the target, ids and versions and never a secret;
* every report's longrepr and captured sections are redacted before any reporter sees them
  (terminal, junit.xml, report.html);
* junit.xml exists after every run (a fallback is written if pytest's junitxml wrote none).

The plugin never breaks a run: its own errors, and those our servers (the webhook listener,
the embedded simulator) raised while serving (`check_handler_errors`), are shown at the end
as bugs in redcloud-check (tracebacks in the run's log: core.run_log), never as findings
about the API: the failures our servers' errors explain are the tool's (reporting.own_errors).
"""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import Callable, Generator
from html import escape
from pathlib import Path
from typing import Any

import pytest

from redcloud_check.context import RunContext
from redcloud_check.core import run_log
from redcloud_check.core.config import KEEP_RUNS_DEFAULT
from redcloud_check.core.exit_codes import from_pytest, settle
from redcloud_check.core.ids import new_run_id
from redcloud_check.core.redaction import redact
from redcloud_check.plugin import BLOCKED_BY
from redcloud_check.reporting import html as html_render
from redcloud_check.reporting import own_errors, run_folder, terminal, webhook_evidence
from redcloud_check.reporting.artifacts import (
    CheckOutcome,
    escalation_document,
    run_info,
    summarize,
    write_escalation,
    write_junit,
)
from redcloud_check.reporting.drift_view import drift_html
from redcloud_check.reporting.environment import environment_table
from redcloud_check.reporting.evidence import CheckInfo, build_bundle, named_secrets
from redcloud_check.reporting.history import history_html
from redcloud_check.reporting.latency import chart_rows
from redcloud_check.reporting.ruled_out import facts_from
from redcloud_check.reporting.run_folder import RunFolder
from redcloud_check.reporting.waiver_view import waivers_html
from redcloud_check.rules.schemas import report_vocabulary


class ReportPlugin:
    def __init__(self, config: pytest.Config, get_context: Callable[[], RunContext | None],
                 folder: RunFolder | None = None) -> None:
        self.config = config
        self._get_context = get_context
        self.folder = folder  # this run's own folder under the reports dir
        self.session: pytest.Session | None = None
        self.completion: run_folder.Completion | None = None  # set once, at the end
        self.deselected: dict[str, int] = {}  # stage -> checks deselected (-k, -m)
        self._shown_errors = 0
        self.interrupted = False  # set at session finish: Ctrl-C or SIGTERM ended the run
        self.bundles: list[dict[str, Any]] = []
        self.meta: dict[str, CheckInfo] = {}
        self.outcomes: dict[str, CheckOutcome] = {}
        self.blocked: dict[str, str] = {}  # nodeid -> the stage whose gate blocked it
        self.internal_errors: list[str] = []
        self.finished = False  # the session finished: drift and latency are final
        self._fact_cache: dict[str, list[dict[str, Any]]] = {}
        self.started_at = time.time()
        self._fallback_run_id = new_run_id(self.started_at)
        run_log.begin("run")  # this run's log: in its folder (a plugin made by hand: temp)
        run_log.use(folder.artifact(run_log.LOG_NAME) if folder else None, self.secrets)
        config.pluginmanager.register(own_errors.OwnErrors(self))  # our servers' errors

    # --- helpers ------------------------------------------------------------------------

    def context(self) -> RunContext | None:
        return self._get_context()

    def secrets(self) -> dict[str, str]:
        rc = self.context()
        if rc is None:
            return {}
        s = rc.settings
        return named_secrets(rc.secrets.values(), client_id=s.client_id,
                             client_secret=s.client_secret, webhook_secret=s.webhook_secret,
                             ngrok_authtoken=s.ngrok_authtoken)

    def reports_dir(self) -> Path:
        """Where this run writes: its own folder (the documented paths get copies)."""
        if self.folder is not None:
            return self.folder.path
        rc = self.context()
        if rc is not None:
            return Path(rc.settings.reports_dir)
        html = getattr(self.config.option, "htmlpath", None)
        return Path(html).parent if html else Path("reports")

    def top_dir(self) -> Path:
        """The reports dir itself: what spans runs (history.jsonl) lives there."""
        return self.folder.reports_dir if self.folder is not None else self.reports_dir()

    def _guard(self, where: str, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as exc:  # a bug of ours costs no other report: logged, shown, exit 7
            self.record_internal_error(where, exc)

    def record_internal_error(self, where: str, error: BaseException) -> None:
        self.internal_errors.append(f"{where}: "
                                    f"{run_log.internal_error(where, error, self.secrets())}")

    def _check_info(self, item: pytest.Item) -> CheckInfo:
        if item.nodeid not in self.meta:
            stage = item.get_closest_marker("rc_stage")
            clause = item.get_closest_marker("rc_clause")
            doc = getattr(getattr(item, "obj", None), "__doc__", None)
            self.meta[item.nodeid] = CheckInfo(
                nodeid=item.nodeid, name=item.name,
                stage=str(stage.args[0]) if stage and stage.args else None,
                gate=item.get_closest_marker("rc_gate") is not None,
                clause=str(clause.args[0]) if clause and clause.args else None,
                statement=inspect.cleandoc(doc) if doc else None)
        return self.meta[item.nodeid]

    def summary(self) -> dict[str, Any]:
        rc = self.context()
        state = {key: getattr(rc, key, None) for key in ("unreachable", "misrouted")}
        return summarize(list(self.outcomes.values()), interrupted=self.interrupted,
                         findings=rc.findings.all() if rc is not None else (),
                         gates_failed=rc.gates.failed() if rc is not None else None,
                         waivers=rc.waivers.summary() if rc is not None else None,
                         drift=self._facts("drift"), deselected=self.deselected, **state)

    def _facts(self, what: str) -> list[dict[str, Any]]:
        """run_facts.drift / latency of the run, computed once the session has finished."""
        rc = self.context()
        if rc is not None and self.finished and what not in self._fact_cache:
            from redcloud_check.reporting import run_facts

            self._fact_cache[what] = []  # a bug here is shown once; the reports still go out
            self._guard(what, lambda: self._fact_cache.update({what: getattr(run_facts, what)(rc)}))
        return self._fact_cache.get(what, [])

    def _run(self, exit_status: int | None) -> dict[str, Any]:
        rc = self.context()
        if rc is None:
            return run_info(run_id=self._fallback_run_id, started_at=self.started_at,
                            target=None, embedded=None, client_id=None, number_id=None,
                            exit_status=exit_status)
        s = rc.settings
        return run_info(run_id=rc.run_id, started_at=rc.started_at,
                        target=s.base_url or rc.client.base_url, embedded=s.embedded,
                        client_id=s.client_id, number_id=s.number_id, exit_status=exit_status)

    # --- per check ----------------------------------------------------------------------

    def _evidence(self, item: pytest.Item, call: pytest.CallInfo[None],
                  report: pytest.TestReport) -> None:
        rc = self.context()
        secrets = self.secrets()
        info = self._check_info(item)
        extras: list[dict[str, Any]] = []
        stage5 = info.stage == "webhooks"
        timelines = webhook_evidence.timelines(rc, secrets) if stage5 and call.when == "call" \
            else []
        if report.failed and call.excinfo is not None:
            accepted = [m.message_id for m in rc.accepted
                        if m.check == item.nodeid or info.stage == "webhooks"] if rc else []
            bundle = build_bundle(
                info, call.excinfo.value,
                exchanges=rc.recorder.for_check(item.nodeid) if rc is not None else [],
                secrets=secrets, accepted_ids=accepted,
                replay=rc.client.replay if rc is not None else None,
                timeout=rc.settings.timeout if rc is not None else None,
                embedded=rc.settings.embedded if rc is not None else False,
                related=webhook_evidence.send_exchange(rc) if stage5 else None,
                facts=facts_from(rc.recorder.all(), rc.settings.number_id) if rc else None)
            if timelines:
                bundle["timeline"] = timelines
            self.bundles.append(bundle)
            extras.append({"name": "bundle", "format_type": "html", "extension": "html",
                           "mime_type": "text/html", "content": html_render.bundle_html(bundle)})
            if bundle["escalation"]["requestId"]:
                item.user_properties.append(("rc_request_id", bundle["escalation"]["requestId"]))
            item.user_properties.append(("rc_diagnosis", bundle["diagnosis"]["id"]))
            if isinstance(report.longrepr, str):
                report.longrepr += terminal.diagnosis_lines(bundle)
        for timeline in timelines:
            extras.append({"name": "timeline", "format_type": "html", "extension": "html",
                           "mime_type": "text/html",
                           "content": html_render.timeline_svg(timeline["events"],
                                                               timeline["messageId"])})
        if extras:
            report.extras = [*getattr(report, "extras", []), *extras]  # type: ignore[attr-defined]

    def _redact_report(self, report: pytest.TestReport) -> None:
        secrets = self.secrets()
        longrepr = report.longrepr
        if isinstance(longrepr, tuple) and len(longrepr) == 3:
            report.longrepr = (longrepr[0], longrepr[1], redact(str(longrepr[2]), secrets))
        elif longrepr is not None:
            text = str(longrepr)
            clean = redact(text, secrets)
            if clean != text:
                report.longrepr = clean
        report.sections = [(h, redact(c, secrets)) for h, c in report.sections]

    # --- hooks --------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionstart(self, session: pytest.Session) -> Generator[None, None, None]:
        self.session = session
        yield
        self._guard("environment table", self._scrub_metadata)

    def pytest_html_report_title(self, report: Any) -> None:
        rc = self.context()
        report.title = "redcloud-check report" + (f" — run {rc.run_id}" if rc else "")

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        # tryfirst: this wrapper is outside the core plugin's, so it sees the final longrepr.
        report = yield
        blocker = item.stash.get(BLOCKED_BY, None)
        if blocker is not None:
            self.blocked[item.nodeid] = blocker
        self._guard(f"evidence for {item.nodeid}", lambda: self._evidence(item, call, report))
        self._guard("redaction", lambda: self._redact_report(report))
        return report

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        for stage in filter(None, (self._check_info(item).stage for item in items)):
            self.deselected[stage] = self.deselected.get(stage, 0) + 1

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._guard("outcomes", lambda: self._record(report))

    def _record(self, report: pytest.TestReport) -> None:
        info = self.meta.get(report.nodeid) or CheckInfo(report.nodeid,
                                                         report.nodeid.rpartition("::")[2])
        previous = self.outcomes.get(report.nodeid)
        reason = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        elif report.failed:
            reason = str(report.longrepr or "").splitlines()[0] if report.longrepr else ""
        outcome: str
        if report.when == "setup" or previous is None:
            outcome = "error" if report.failed and report.when != "call" else report.outcome
        elif report.failed:
            outcome = "failed" if report.when == "call" else "error"
        elif report.when == "call":
            outcome = report.outcome
        else:
            return
        if report.skipped and hasattr(report, "wasxfail"):  # failed under a valid waiver
            outcome, reason = "waived", str(report.wasxfail)
        self.outcomes[report.nodeid] = CheckOutcome(
            info.nodeid, info.name, info.stage, info.gate, outcome, reason,
            blocked_by=self.blocked.get(report.nodeid) if outcome == "skipped" else None)

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(2, '<th class="sortable" data-column-type="stage">Stage</th>')

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        test_id = report.nodeid + ("" if report.when == "call" else f"::{report.when}")
        if len(cells) > 1:
            cells[1] = f'<td class="col-testId">{escape(test_id)}</td>'
        info = self.meta.get(report.nodeid)
        stage = info.stage if info is not None and info.stage else "—"
        cells.insert(2, f'<td class="col-stage">{escape(stage)}</td>')

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str],
                                    postfix: list[str], session: pytest.Session) -> None:
        def add() -> None:
            data = redact(self.summary(), self.secrets(), keep=report_vocabulary())
            prefix.append(html_render.STYLE + html_render.stage_summary_html(data)
                          + html_render.first_failure_html(self.bundles[:1])
                          + waivers_html(data["waivers"])
                          + html_render.warnings_html(data["warnings"])
                          + drift_html(data["drift"]["undocumented"]))
            postfix.append(history_html(self.top_dir())
                           + "<h3>Latency per exchange (total time, ms), by stage</h3>"
                           + html_render.latency_svg(redact(self._latency_rows(),
                                                            self.secrets(),
                                                            keep=report_vocabulary())))
        self._guard("report summary", add)

    def _latency_rows(self) -> list[tuple[str, str, float]]:
        rc = self.context()
        return [] if rc is None else chart_rows(rc.recorder.all(), lambda nodeid: (
            info.stage if (info := self.meta.get(nodeid)) is not None else None))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        self.finished = True

        def write() -> None:
            secrets = self.secrets()
            doc = escalation_document(self._run(int(exitstatus)), self.summary(),
                                      self.bundles, secrets,
                                      checks=list(self.outcomes.values()),
                                      latency=self._facts("latency"),
                                      webhooks=webhook_evidence.section(self.context()))
            write_escalation(self.reports_dir(), doc, secrets)
        self._guard("escalation.json", write)
        rc, reports = self.context(), self.reports_dir()
        if rc is not None:
            from redcloud_check.reporting import run_facts

            stages = {nodeid: info.stage for nodeid, info in self.meta.items()}
            self._guard("exchanges.har", lambda: run_facts.write_har(
                reports, rc, stages, self.secrets()))
            self._guard("history.jsonl", lambda: run_facts.write_history(
                self.top_dir(), rc, int(exitstatus), self.summary(), self._facts("latency")))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        def show() -> None:
            rc, secrets, keep = self.context(), self.secrets(), report_vocabulary()
            hooks = redact(webhook_evidence.section(rc), secrets, keep=keep)
            exposure = (hooks["url"], hooks["exposure"]) if hooks else None
            terminal.show_summary(terminalreporter, redact(self.summary(), secrets, keep=keep),
                                  len(self.bundles), rc.settings.secret_settings() if rc else [],
                                  exposure, webhook_evidence.terminal_lines(hooks))
        self._guard("terminal summary", show)
        for line in self._finish_evidence().lines():
            terminalreporter.write_line(line)
        self._show_internal_errors(terminalreporter.write_line)

    def _show_internal_errors(self, write: Callable[[str], Any]) -> None:
        for error in self.internal_errors[self._shown_errors:]:
            write(f"redcloud-check internal error (a bug in redcloud-check, not the API): "
                  f"{error}")
        self._shown_errors = len(self.internal_errors)

    def expected_artifacts(self) -> list[Path]:
        option, html = self.config.option, self.config.pluginmanager.hasplugin("html")
        return run_folder.expected(self.reports_dir(), getattr(option, "xmlpath", None),
                                   getattr(option, "htmlpath", None) if html else None)

    def _finish_evidence(self) -> run_folder.Completion:
        """Once: the junit.xml fallback, then `run_folder.complete` (missing artifacts,
        the copies at the documented paths, pruning)."""
        if self.completion is not None:
            return self.completion
        self.completion = run_folder.Completion()
        xmlpath = getattr(self.config.option, "xmlpath", None)
        if xmlpath and not Path(xmlpath).exists():
            self._guard("junit.xml", lambda: write_junit(
                Path(xmlpath), list(self.outcomes.values()), secrets=self.secrets()))

        def finish() -> None:
            rc = self.context()
            keep = rc.settings.keep_runs if rc is not None else KEEP_RUNS_DEFAULT
            self.completion = run_folder.complete(self.folder, self.expected_artifacts(), keep)
        self._guard("publishing the reports", finish)
        return self.completion

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.completion is None:  # no terminal summary (e.g. -p no:terminal)
            for line in self._finish_evidence().lines():
                print(line, file=sys.stderr)
        self._show_internal_errors(lambda line: print(line, file=sys.stderr))
        if self.session is not None:
            missing = len(self.completion.missing) if self.completion is not None else 0
            self.session.exitstatus = settle(from_pytest(self.session.exitstatus),
                                             internal_errors=len(self.internal_errors),
                                             missing_artifacts=missing)

    def _scrub_metadata(self) -> None:
        try:
            from pytest_metadata.plugin import metadata_key
        except ImportError:
            return
        meta = self.config.stash.get(metadata_key, None)
        if meta is not None:
            table = environment_table(meta, self.context(), self.secrets())
            meta.clear()
            meta.update(table)
