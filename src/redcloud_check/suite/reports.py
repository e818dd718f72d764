"""The suite run's reports, rendered from its ledger: the renderers live in `reporting`; this
module hands them the run's data and puts what they make where pytest shows it.

    evidence(run, info, result)   a failure's escalation bundle (and stage 5's timelines) as
                                  JSON data, plus the report.html extras that show them
    summary(run)                  the run's summary (results.verdict.summarize)
    write_artifacts(run, status)  escalation.json/md, exchanges.har, the history line
    terminal(run, reporter)       the redcloud-check section of the terminal summary
    html_summary(run, ...)        report.html's summary: stages, first failure, warnings ...
    finish(run, config)           junit.xml when pytest wrote none, the documented copies,
                                  pruning (once)

Each renderer's error is the run's internal error (`SuiteRun.guard`): the other reports still
go out, and the run exits 7.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from redcloud_check.core.redaction import redact
from redcloud_check.reporting import html as html_render
from redcloud_check.reporting import run_folder, terminal, webhook_evidence
from redcloud_check.reporting.artifacts import (
    escalation_document,
    run_info,
    write_escalation,
    write_junit,
)
from redcloud_check.reporting.evidence import CheckInfo, build_bundle
from redcloud_check.reporting.ruled_out import facts_from
from redcloud_check.results.ledger import CheckResult
from redcloud_check.results.verdict import summarize
from redcloud_check.rules.schemas import report_vocabulary
from redcloud_check.suite import selection
from redcloud_check.suite.run import SuiteRun

__all__ = ["INTERNAL", "evidence", "finish", "html_summary", "summary",
           "terminal_summary", "write_artifacts"]

INTERNAL = "redcloud-check internal error (a bug in redcloud-check, not the API): "
Extra = dict[str, Any]


def _extra(name: str, content: str) -> Extra:
    return {"name": name, "format_type": "html", "extension": "html",
            "mime_type": "text/html", "content": content}


def evidence(run: SuiteRun, info: CheckInfo,
             result: CheckResult) -> tuple[dict[str, Any] | None, list[Extra]]:
    """The failure's redacted escalation bundle (None when the check did not fail) and the
    report.html extras: the bundle, and each accepted message's lifecycle timeline on a
    stage-5 check's row."""
    rc = run.rc
    stage5 = info.stage == "webhooks"
    with_timelines = stage5 and result.phase == "call"
    # an explained failure is listed under its cause, not as a bundle of its own
    problem = result.problem if result.unproven and result.explained_by is None else None
    if (problem is None or rc is None) and not with_timelines:
        return None, []
    secrets = run.secrets()
    timelines = webhook_evidence.timelines(rc, secrets) if with_timelines else []
    extras: list[Extra] = []
    bundle = None
    if problem is not None and rc is not None:
        accepted = [m.message_id for m in rc.accepted if m.check == info.nodeid or stage5]
        bundle = build_bundle(
            info, problem, exchanges=rc.recorder.for_check(info.nodeid),
            secrets=secrets, accepted_ids=accepted, replay=rc.client.replay,
            timeout=rc.settings.timeout, embedded=rc.settings.embedded,
            related=webhook_evidence.send_exchange(rc) if stage5 else None,
            facts=facts_from(rc.recorder.all(), rc.settings.number_id))
        if timelines:
            bundle["timeline"] = timelines
        extras.append(_extra("bundle", html_render.bundle_html(bundle)))
    extras += [_extra("timeline", html_render.timeline_svg(t["events"], t["messageId"]))
               for t in timelines]
    return bundle, extras


def _facts(run: SuiteRun, what: str) -> list[dict[str, Any]]:
    """The run's drift or latency (reporting.run_facts), computed once the session has
    finished."""
    if run.rc is not None and run.finished and what not in run.facts:
        from redcloud_check.reporting import run_facts

        run.facts[what] = []  # a bug here is shown once; the reports still go out
        run.guard(what, lambda: run.facts.update({what: getattr(run_facts, what)(run.rc)}))
    return run.facts.get(what, [])


def summary(run: SuiteRun) -> dict[str, Any]:
    ledger = run.ledger
    return summarize(ledger.results(), findings=ledger.findings.all(),
                     gates_failed=ledger.failed_gates(), waivers=ledger.waivers.summary(),
                     drift=_facts(run, "drift"), deselected=ledger.deselected(),
                     unreachable=ledger.unreachable, misrouted=ledger.misrouted,
                     interrupted=ledger.interrupted, root_causes=ledger.root_causes())


def bundles(run: SuiteRun) -> list[dict[str, Any]]:
    return [dict(r.evidence) for r in run.ledger.results() if r.evidence is not None]


def _run(run: SuiteRun, exit_status: int | None) -> dict[str, Any]:
    rc, s = run.rc, run.settings
    return run_info(run_id=run.run_id, started_at=rc.started_at if rc else run.started_at,
                    target=s.base_url or (rc.client.base_url if rc else None),
                    embedded=s.embedded, client_id=s.client_id, number_id=s.number_id,
                    exit_status=exit_status, trace_id=rc.trace_id if rc else None)


def write_artifacts(run: SuiteRun, exit_status: int) -> None:
    """escalation.json and .md, exchanges.har and the run's history line."""
    rc, reports = run.rc, run.folder.path

    def write_escalation_files() -> None:
        secrets = run.secrets()
        doc = escalation_document(_run(run, exit_status), summary(run), bundles(run), secrets,
                                  checks=run.ledger.results(), latency=_facts(run, "latency"),
                                  webhooks=webhook_evidence.section(rc))
        doc.update(selection.replay_fields(run, doc))  # a replay's replayOf and replay
        write_escalation(reports, doc, secrets)
    run.guard("escalation.json", write_escalation_files)
    if rc is None:
        return
    from redcloud_check.reporting import run_facts

    stages = {r.nodeid: r.stage for r in run.ledger.results()}
    run.guard("exchanges.har", lambda: run_facts.write_har(reports, rc, stages, run.secrets()))
    run.guard("history.jsonl", lambda: run_facts.write_history(
        run.folder.reports_dir, rc, exit_status, summary(run), _facts(run, "latency")))


def terminal_summary(run: SuiteRun, reporter: Any, config: pytest.Config) -> None:
    def show() -> None:
        rc, secrets, keep = run.rc, run.secrets(), report_vocabulary()
        hooks = redact(webhook_evidence.section(rc), secrets, keep=keep)
        exposure = (hooks["url"], hooks["exposure"]) if hooks else None
        terminal.show_summary(reporter, redact(summary(run), secrets, keep=keep),
                              len(bundles(run)), rc.settings.secret_settings() if rc else [],
                              exposure, webhook_evidence.terminal_lines(hooks)
                              + _privacy_lines(run))
    run.guard("terminal summary", show)
    for line in finish(run, config).lines():
        reporter.write_line(line)
    show_internal_errors(run, reporter.write_line)


def _privacy_lines(run: SuiteRun) -> list[str]:
    """The run's trace id (what the provider can look up) and, with RC_SHARE_RECIPIENTS=1,
    that the reports hold recipients' numbers in full."""
    lines = []
    if run.rc is not None and run.rc.trace_id is not None:
        lines.append(f"  trace: {run.rc.trace_id} (a W3C traceparent on every request: the "
                     "provider can look it up)")
    if run.settings.share_recipients:
        lines.append("  recipients: full phone numbers in the reports (RC_SHARE_RECIPIENTS=1)")
    return lines


def show_internal_errors(run: SuiteRun, write: Callable[[str], Any]) -> None:
    """Each internal error once (the terminal summary, or stderr after it)."""
    for error in run.ledger.internal_errors()[run.shown_errors:]:
        write(INTERNAL + redact(error.line(), run.secrets()))
    run.shown_errors = len(run.ledger.internal_errors())


def html_summary(run: SuiteRun, prefix: list[str], postfix: list[str]) -> None:
    def add() -> None:
        from redcloud_check.reporting.drift_view import drift_html
        from redcloud_check.reporting.history import history_html
        from redcloud_check.reporting.latency import chart_rows
        from redcloud_check.reporting.root_cause_view import banner_html, html_block
        from redcloud_check.reporting.waiver_view import waivers_html

        secrets, keep = run.secrets(), report_vocabulary()
        data = redact(summary(run), secrets, keep=keep)
        prefix.append(html_render.STYLE + banner_html(data) + html_block(data["rootCauses"])
                      + html_render.stage_summary_html(data)
                      + html_render.first_failure_html(bundles(run)[:1])
                      + waivers_html(data["waivers"])
                      + html_render.warnings_html(data["warnings"])
                      + html_render.delivery_behaviour_html(redact(
                          webhook_evidence.delivery_semantics(run.rc), secrets, keep=keep))
                      + drift_html(data["drift"]["undocumented"]))
        stage_of = {r.nodeid: r.stage for r in run.ledger.results()}
        rows = chart_rows(run.rc.recorder.all(), stage_of.get) if run.rc is not None else []
        postfix.append(history_html(run.folder.reports_dir)
                       + "<h3>Latency per exchange (total time, ms), by stage</h3>"
                       + html_render.latency_svg(redact(rows, secrets, keep=keep)))
    run.guard("report summary", add)


def scrub_metadata(run: SuiteRun, config: pytest.Config) -> None:
    """report.html's Environment table: the run's target and ids, never a secret."""
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:  # pytest-metadata (pytest-html's) not installed: no table to scrub
        return
    from redcloud_check.reporting.environment import environment_table

    meta = config.stash.get(metadata_key, None)
    if meta is not None:
        table = environment_table(meta, run.rc, run.secrets())
        meta.clear()
        meta.update(table)


def _expected(run: SuiteRun, config: pytest.Config) -> list[Path]:
    option, html = config.option, config.pluginmanager.hasplugin("html")
    return run_folder.expected(run.folder.path, getattr(option, "xmlpath", None),
                               getattr(option, "htmlpath", None) if html else None)


def finish(run: SuiteRun, config: pytest.Config) -> run_folder.Completion:
    """Once: the junit.xml fallback, then `run_folder.complete` (missing artifacts, the
    copies at the documented paths, pruning)."""
    if run.completion is not None:
        return run.completion
    run.completion = run_folder.Completion()
    xmlpath = getattr(config.option, "xmlpath", None)
    if xmlpath and not Path(xmlpath).exists():
        run.guard("junit.xml", lambda: write_junit(Path(xmlpath), run.ledger.results(),
                                                   secrets=run.secrets()))

    def complete() -> None:
        run.completion = run_folder.complete(run.folder, _expected(run, config),
                                             run.settings.keep_runs,
                                             protect=selection.protected(config))
    run.guard("publishing the reports", complete)
    return run.completion
