"""The pytest plugin: hooks and fixtures only. The logic lives in plain modules:
`suite.run` (the run), `suite.recording` (a phase -> its CheckResult), `suite.reports` (the
reports, from the ledger), `results` (the ledger, the verdict and the exit code).

Registered through the `pytest11` entry point (and the repo's one-line conftest.py). It is
inert unless the ini option `rc_suite = true` is set, as the suite's pytest.ini does, so
it never disturbs other test runs in the same environment.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from redcloud_check.context import RunContext
from redcloud_check.core import startup_gc
from redcloud_check.core.config import OPTIONS
from redcloud_check.core.errors import ConfigError
from redcloud_check.core.exit_codes import ExitCode
from redcloud_check.core.ids import new_run_id
from redcloud_check.results.ledger import Outcome, SkipCode
from redcloud_check.rules.stages import STAGE_NAMES, STAGES, blocked_reason, stage_index
from redcloud_check.suite import declare, selection
from redcloud_check.suite.declare import skip
from redcloud_check.suite.stash import SPEC, SUITE

if TYPE_CHECKING:  # the simulator and the webhook stack load only when a run needs them
    from redcloud_check.simulator.server import Simulator
    from redcloud_check.suite.run import SuiteRun
    from redcloud_check.webhooks.session import WebhookSession


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("redcloud", "redcloud-check (each option overrides its env var)")
    for opt in OPTIONS:
        group.addoption(opt.flag, dest=f"rc_{opt.attr}", default=None,
                        help=f"{opt.help} [env {opt.env}]")
    selection.add_options(group)  # --rc-checks, --rc-replay-of
    parser.addini("rc_suite", type="bool", default=False,
                  help="this rootdir holds the redcloud-check conformance suite")


def suite_mode(config: pytest.Config) -> bool:
    return bool(config.getini("rc_suite"))


def get_run(config: pytest.Config) -> SuiteRun | None:
    return config.stash.get(SUITE, None)


def get_context(config: pytest.Config) -> RunContext | None:
    run = get_run(config)
    return run.rc if run is not None else None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    """No test path given: run the suite's checks, from whatever directory. pytest's own
    parser has already told option values from paths (`--rc-reports-dir DIR` is never a
    test path), so only its verdict is used here."""
    if not suite_mode(early_config) or early_config.known_args_namespace.file_or_dir:
        return
    paths = [p for p in (early_config.rootpath / t for t in early_config.getini("testpaths"))
             if p.exists()]
    found = [str(p) for p in paths] or [str(early_config.rootpath)]
    early_config.known_args_namespace.file_or_dir = found
    args.extend(found)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{declare.MARKER}(spec): a check's declaration "
                            "(redcloud_check.suite.declare.check): id, clause, grade")
    if not suite_mode(config):
        return
    from redcloud_check.suite.run import SuiteRun

    given = {o.attr: config.getoption(f"rc_{o.attr}") for o in OPTIONS}
    dotenv, run_id = Path.cwd() / ".env", new_run_id()
    try:
        run = SuiteRun.configure(given, dotenv, run_id)
    except ConfigError as error:
        from redcloud_check.suite.misconfigured import write_misconfigured

        written = write_misconfigured(given, dotenv, run_id, error)
        _config_exit(f"{error}\nNothing was sent. Fix that setting and run again." + written)
    except OSError as error:
        _config_exit(f"RC_REPORTS_DIR: cannot create {given.get('reports_dir') or 'reports'} "
                     f"({error.strerror}). Nothing was sent.")
    config.stash[SUITE] = run
    option = config.option
    if not getattr(option, "htmlpath", None):
        option.htmlpath = str(run.folder.artifact("report.html"))
    if hasattr(option, "self_contained_html"):
        option.self_contained_html = True
    if not getattr(option, "xmlpath", None):
        option.xmlpath = str(run.folder.artifact("junit.xml"))
    if config.pluginmanager.hasplugin("html"):
        from redcloud_check.suite.html_hooks import HtmlHooks

        config.pluginmanager.register(HtmlHooks(run), "redcloud_check.html")


def _config_exit(message: str) -> NoReturn:
    """End the run before any request with the configuration-error exit code (3)."""
    pytest.exit(f"redcloud-check configuration error: {message}",
                returncode=ExitCode.CONFIG_ERROR)


def pytest_sessionstart(session: pytest.Session) -> None:
    run = get_run(session.config)
    if run is None:
        return startup_gc.resume()
    from redcloud_check.suite.reports import scrub_metadata

    run.session = session
    rc = run.start_session()
    session.config.add_cleanup(run.redact_log_records())
    run.guard("environment table", lambda: scrub_metadata(run, session.config))
    from redcloud_check.suite import lookahead

    lookahead.start_early(rc, session.config)  # the token request, while pytest collects
    # What start-up built lives until exit: frozen, out of sight of the collections during
    # the checks and pytest's gc.collect() at exit (about 0.1 s of a run); collector on.
    startup_gc.resume(freeze_anyway=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = get_run(config)
    if run is None:
        return
    from redcloud_check.suite.collection import declare_items

    declare_items(items, run.ledger.waivers)
    selection.select(config, items, run)  # --rc-checks, --rc-replay-of
    items.sort(key=lambda item: stage_index(item.stash[SPEC].stage))  # stable: file order


def pytest_collection_finish(session: pytest.Session) -> None:
    """The run's checks are known: the requests that may go ahead of them start."""
    run = get_run(session.config)
    if run is not None and run.rc is not None:
        from redcloud_check.suite import lookahead

        lookahead.start(run.rc, session.items, session.config)


def pytest_deselected(items: list[pytest.Item]) -> None:
    run = get_run(items[0].config) if items else None
    if run is not None:
        run.ledger.deselect(spec for item in items
                            if (spec := declare.spec_of(item)) is not None)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    rc = get_context(item.config)
    spec = item.stash.get(SPEC, None)
    if rc is None or spec is None:
        return
    rc.recorder.current_check = item.nodeid
    if ("check_id", spec.id) not in item.user_properties:  # junit.xml's properties
        item.user_properties += [("check_id", spec.id), ("rc_stage", spec.stage)]
        if spec.gate:
            item.user_properties.append(("rc_gate", "true"))
    if rc.ledger.unreachable:
        skip(SkipCode.UNREACHABLE, f"blocked: the target is unreachable "
             f"({rc.ledger.unreachable})", short="blocked", blocked_by="target")
    blocker = rc.ledger.blocked_by(spec.stage)
    if blocker is not None:
        skip(SkipCode.BLOCKED, blocked_reason(blocker), blocked_by=blocker)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """The one place a check's result is made: recorded in the ledger, then rendered."""
    report = yield
    run = get_run(item.config)
    if run is not None and run.rc is not None and SPEC in item.stash:
        from redcloud_check.suite.collection import settle_report

        run.guard(f"evidence for {item.nodeid}", lambda: settle_report(run, item, call,
                                                                         report))
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport,
                             config: pytest.Config) -> tuple[str, str, str] | None:
    """A waived failure is counted and shown as waived, not as pytest's xfailed."""
    run = get_run(config)
    result = run.ledger.get(report.nodeid) if run is not None and report.when == "call" \
        else None
    if result is not None and result.outcome is Outcome.WAIVED:
        return "waived", "w", "WAIVED"
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Ctrl-C or SIGTERM (the override's handler raises KeyboardInterrupt wherever the run
    is): drop the traceback entries without a line number (an interrupt can land on an
    instruction that has none), on which pytest's rendering of it would crash."""
    excinfo.traceback = excinfo.traceback.filter(
        lambda entry: entry._rawentry.tb_lineno is not None)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    rc = get_context(item.config)
    if rc is not None:
        rc.recorder.current_check = None
        if rc.lookahead is not None:  # requests that come after this check may go now
            result = rc.ledger.get(item.nodeid)
            rc.lookahead.done(item.nodeid, result is not None
                              and result.outcome is Outcome.PASSED)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = get_run(session.config)
    if run is None or run.rc is None:
        return
    from redcloud_check.suite import reports
    from redcloud_check.webhooks.override_journal import still_misrouted

    run.ledger.interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    run.finished = True
    if run.rc.lookahead is not None:  # what went ahead and no check took is evidence too
        run.rc.lookahead.close(run.rc.settings.timeout + 1.0)
    if run.rc.webhooks is not None:  # opened ahead of a send check that never ran
        run.guard("webhook session", run.rc.webhooks.close)
    run.stop()  # before any evidence is written: our servers' errors are settled first
    run.guard("webhook override", lambda: still_misrouted(run.rc))  # type: ignore[arg-type]
    reports.write_artifacts(run, int(exitstatus))
    run.rc.client.close()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    run = get_run(config)
    if run is not None:
        from redcloud_check.suite import reports

        reports.terminal_summary(run, terminalreporter, config)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    run = get_run(config)
    if run is None:
        return
    import sys

    from redcloud_check.results.verdict import exit_code
    from redcloud_check.suite import reports

    run.stop()
    if run.completion is None:  # no terminal summary (e.g. -p no:terminal)
        for line in reports.finish(run, config).lines():
            print(line, file=sys.stderr)
    reports.show_internal_errors(run, lambda line: print(line, file=sys.stderr))
    session = run.session
    if session is not None:
        missing = len(run.completion.missing) if run.completion is not None else 0
        session.exitstatus = exit_code(run.ledger, pytest_status=session.exitstatus,
                                       missing_artifacts=missing)


@pytest.fixture(scope="session")
def rc(request: pytest.FixtureRequest) -> RunContext:
    """The run context: settings, the recording client, the token, the ledger."""
    context = get_context(request.config)
    if context is None:
        skip(SkipCode.OTHER, "not a redcloud-check suite run (rc_suite is not set in the ini "
             "file)")
    return context


@pytest.fixture
def rc_pair(rc: RunContext) -> RunContext:
    """The run context, for a check that sends the configured RC_CLIENT_ID / RC_CLIENT_SECRET
    (or a near miss of them): blocked once the token gate saw the pair refused and no token
    was issued for it. A refused pair is never sent again, so that a wrong secret costs two
    token requests at most and an account with a lockout policy stays safe."""
    gate = rc.ledger.by_id(STAGES[0].gate_id)
    if gate is not None and gate.failing and not rc.tokens.issued():
        skip(SkipCode.BLOCKED, "blocked by token: RC_CLIENT_ID / RC_CLIENT_SECRET were "
             "refused; a refused pair is never sent again (an account with a lockout policy "
             "stays safe)", short="blocked by token", blocked_by="token")
    return rc


@pytest.fixture(scope="session")
def rc_sends(rc: RunContext) -> RunContext:
    """The run context, when real sends are allowed (embedded simulator or RC_ALLOW_SEND=1)."""
    if not rc.settings.sends_allowed:
        skip(SkipCode.SENDS_DISABLED, "sending is disabled for a remote target: set "
             "RC_ALLOW_SEND=1 to allow real sends (4-sending-messages.txt)",
             short="sending is disabled for a remote target")
    return rc


@pytest.fixture(scope="session")
def rc_webhooks(rc_sends: RunContext) -> Iterator[WebhookSession | None]:
    """The webhook session (listener, tunnel, override), opened before the first accepted
    send; a failure to start is in the ledger for the stage-5 gate to report. Restored and
    closed when the session ends, on every exit path."""
    rc_sends.start_webhooks()  # may be open already: the send gate's request went ahead
    try:
        yield rc_sends.webhooks
    finally:
        if rc_sends.webhooks is not None:
            rc_sends.webhooks.close()


# --- the reference simulator, for integrators' own tests (pytest-httpserver style) ---------


@pytest.fixture(scope="session")
def redcloud_simulator_session() -> Iterator[Simulator]:
    """The Red Cloud reference simulator on 127.0.0.1:<free port>, for the whole session."""
    from redcloud_check.simulator import Simulator

    with Simulator() as simulator:
        yield simulator


@pytest.fixture
def redcloud_simulator(redcloud_simulator_session: Simulator) -> Simulator:
    """The session's simulator, reset to its seed with no faults: cheap, one per test.

    `redcloud_simulator.base_url` is the API host; `set_faults([...])` breaks documented
    rules; `requests`, `deliveries` and `state` show what it saw.
    """
    redcloud_simulator_session.reset()
    return redcloud_simulator_session


__all__ = ["STAGE_NAMES", "get_context", "get_run", "suite_mode"]
