"""The pytest plugin: options, the run context, stage gates, fixtures. Hooks only.

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
from redcloud_check.core.config import OPTIONS, Settings, embedded_webhook_secret, load_settings
from redcloud_check.core.errors import (
    CheckFailure,
    ConfigError,
    RedcloudCheckError,
    TargetUnreachable,
)
from redcloud_check.core.exit_codes import ExitCode
from redcloud_check.core.findings import Finding
from redcloud_check.core.ids import new_run_id
from redcloud_check.core.waivers import WAIVED_PREFIX, Waiver, WaiverBook, book_for, waived_reason
from redcloud_check.rules.stages import STAGE_NAMES, GateBoard, stage_index
from redcloud_check.webhooks.override import recover_at_start, still_misrouted

if TYPE_CHECKING:  # the simulator and the webhook stack load only when a run needs them
    from redcloud_check.simulator.server import Simulator
    from redcloud_check.webhooks.session import WebhookSession

RUN_CONTEXT = pytest.StashKey[RunContext]()
SETTINGS = pytest.StashKey[Settings]()
SIMULATOR: pytest.StashKey[Simulator] = pytest.StashKey()
WAIVERS = pytest.StashKey[WaiverBook]()
WAIVER = pytest.StashKey[Waiver]()  # the waiver naming an item
RUN_FOLDER = pytest.StashKey[Any]()  # reporting.run_folder.RunFolder: where this run writes
# On an item skipped because an earlier gate failed: that stage ("target": unreachable).
BLOCKED_BY = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("redcloud", "redcloud-check (each option overrides its env var)")
    for opt in OPTIONS:
        group.addoption(opt.flag, dest=f"rc_{opt.attr}", default=None,
                        help=f"{opt.help} [env {opt.env}]")
    parser.addini("rc_suite", type="bool", default=False,
                  help="this rootdir holds the redcloud-check conformance suite")


def suite_mode(config: pytest.Config) -> bool:
    return bool(config.getini("rc_suite"))


def get_context(config: pytest.Config) -> RunContext | None:
    return config.stash.get(RUN_CONTEXT, None)


MARKERS = (
    "rc_stage(name): the troubleshooting stage a check belongs to",
    "rc_gate: the stage's gate check; its failure blocks every later stage",
    "rc_clause(text): the doc clause a check enforces (file and section)",
)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    """No test path given: run the suite's checks, from whatever directory. pytest's own
    parser has already told option values from paths (`--rc-reports-dir DIR` is never a
    test path), so only its verdict is used here."""
    if not suite_mode(early_config) or early_config.known_args_namespace.file_or_dir:
        return
    paths = _suite_paths(early_config)
    early_config.known_args_namespace.file_or_dir = paths
    args.extend(paths)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    if not suite_mode(config):
        return
    given = {o.attr: config.getoption(f"rc_{o.attr}") for o in OPTIONS}
    dotenv = Path.cwd() / ".env"
    run_id = new_run_id()
    try:
        settings = load_settings(given, dotenv=dotenv)
        from redcloud_check.webhooks.tunnel import preflight

        preflight(settings)
        waivers = book_for(settings.waivers)
    except ConfigError as error:
        written = _write_misconfigured(given, dotenv, run_id, error)
        _config_exit(f"{error}\nNothing was sent. Fix that setting and run again." + written)
    from redcloud_check.reporting.run_folder import start_run

    try:
        folder = start_run(settings.reports_dir, run_id)
    except OSError as error:
        _config_exit(f"RC_REPORTS_DIR: cannot create {settings.reports_dir} "
                     f"({error.strerror}). Nothing was sent.")
    config.stash[SETTINGS] = settings
    config.stash[WAIVERS] = waivers
    config.stash[RUN_FOLDER] = folder
    option = config.option
    if not getattr(option, "htmlpath", None):
        option.htmlpath = str(folder.artifact("report.html"))
    if hasattr(option, "self_contained_html"):
        option.self_contained_html = True
    if not getattr(option, "xmlpath", None):
        option.xmlpath = str(folder.artifact("junit.xml"))
    from redcloud_check.reporting.report_plugin import ReportPlugin

    config.pluginmanager.register(ReportPlugin(config, lambda: get_context(config), folder),
                                  "redcloud_check.report")


def _suite_paths(config: pytest.Config) -> list[str]:
    """The ini file's testpaths under the rootdir; the rootdir itself when they are absent
    (an installed wheel keeps the checks next to its pytest.ini)."""
    paths = [config.rootpath / p for p in config.getini("testpaths")]
    return [str(p) for p in paths if p.exists()] or [str(config.rootpath)]


def _config_exit(message: str) -> NoReturn:
    """End the run before any request with the configuration-error exit code (3)."""
    pytest.exit(f"redcloud-check configuration error: {message}",
                returncode=ExitCode.CONFIG_ERROR)


def _write_misconfigured(given: dict[str, Any], dotenv: Path, run_id: str,
                         error: ConfigError) -> str:
    """Write the configuration-error evidence in this run's folder and publish it; returns
    the lines naming what was written (empty when the reports dir is not writable)."""
    from redcloud_check.core.config import given_value
    from redcloud_check.reporting import run_folder
    from redcloud_check.reporting.artifacts import write_misconfigured
    from redcloud_check.reporting.run_folder import listing, publish, start_run

    reports = Path(given_value("reports_dir", given, dotenv=dotenv) or "reports")
    try:
        folder = start_run(reports, run_id)
        write_misconfigured(folder.path, error, run_id=run_id,
                            target=given_value("base_url", given, dotenv=dotenv),
                            history_dir=reports)
        written = publish(folder, [n for n in run_folder.DOCUMENTED
                                  if folder.artifact(n).is_file()])
    except OSError:
        return ""
    return "".join(f"\n{line}" for line in listing(folder, written))


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    settings = config.stash.get(SETTINGS, None)
    if settings is None:
        return startup_gc.resume()
    base_url = settings.base_url
    if settings.embedded:  # in a thread of this process, for every run
        from redcloud_check.simulator.server import embedded_simulator

        simulator = embedded_simulator(settings.sim_faults, settings.sim_variants)
        config.stash[SIMULATOR] = simulator
        base_url = simulator.base_url
        settings = embedded_webhook_secret(settings, simulator.webhook_secret(settings.client_id))
    assert base_url is not None
    folder = config.stash.get(RUN_FOLDER, None)
    rc = RunContext.create(settings, base_url, folder.run_id if folder is not None else None)
    rc.waivers = config.stash[WAIVERS]
    config.stash[RUN_CONTEXT] = rc
    _redact_log_records(config, rc)
    recover_at_start(rc)  # an override a killed run left; rc.misrouted until restored
    # What start-up built lives until exit: frozen, out of sight of the collections during
    # the checks and pytest's gc.collect() at exit (about 0.1 s of a run); collector on.
    startup_gc.resume(freeze_anyway=True)


def _redact_log_records(config: pytest.Config, rc: RunContext) -> None:
    """Every log record of the run, from any logger, is redacted as it is created."""
    import logging

    from redcloud_check.core.redaction import RedactingFilter

    previous = logging.getLogRecordFactory()
    redacting = RedactingFilter(rc.secrets.values)

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redacting.filter(record)
        return record

    logging.setLogRecordFactory(factory)
    config.add_cleanup(lambda: logging.setLogRecordFactory(previous))


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    """After the checks and the webhook teardown: a number left misrouted fails the run."""
    result = yield
    rc = get_context(session.config)
    if rc is not None and still_misrouted(rc):
        raise session.Failed(f"unhealthy: {rc.misrouted}")
    return result


def pytest_sessionfinish(session: pytest.Session) -> None:
    rc = get_context(session.config)
    if rc is not None:
        rc.client.close()


@pytest.hookimpl(tryfirst=True)  # stopped before the report plugin counts its errors
def pytest_unconfigure(config: pytest.Config) -> None:
    simulator = config.stash.get(SIMULATOR, None)
    if simulator is not None:
        simulator.stop()


def item_stage(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("rc_stage")
    return str(marker.args[0]) if marker and marker.args else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.stash.get(SETTINGS, None) is None:
        return

    def key(item: pytest.Item) -> int:
        stage = item_stage(item)
        # stage_index raises for an unknown stage name: a bug in the suite fails loudly.
        return len(STAGE_NAMES) if stage is None else stage_index(stage)

    items.sort(key=key)  # stable: the order within a stage is the file's order
    book = config.stash[WAIVERS]
    for item in items:
        waiver = book.find(item.nodeid, item.name)
        if waiver is None:
            continue
        item.stash[WAIVER] = waiver
        if book.active(waiver):  # pytest's xfail, for the API's failures only (not ours)
            item.add_marker(pytest.mark.xfail(reason=waived_reason(waiver),
                                              raises=CheckFailure, strict=False))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    rc = get_context(item.config)
    if rc is None:
        return
    rc.recorder.current_check = item.nodeid
    stage = item_stage(item)
    if stage is None:
        return
    if ("rc_stage", stage) not in item.user_properties:
        item.user_properties.append(("rc_stage", stage))  # junit.xml names the stage
        if item.get_closest_marker("rc_gate") is not None:
            item.user_properties.append(("rc_gate", "true"))
    if rc.unreachable:
        item.stash[BLOCKED_BY] = "target"
        pytest.skip(f"blocked: the target is unreachable ({rc.unreachable})")
    blocker = rc.gates.blocked_by(stage)
    if blocker is not None:
        item.stash[BLOCKED_BY] = blocker
        pytest.skip(GateBoard.skip_reason(blocker))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    rc = get_context(item.config)
    waiver = item.stash.get(WAIVER, None)
    if rc is not None and waiver is not None and call.when == "call":
        _settle_waiver(rc, item, report, waiver)
    if rc is None or call.when == "teardown" or not report.failed or call.excinfo is None:
        return report
    error = call.excinfo.value
    if isinstance(error, TargetUnreachable):
        rc.unreachable = f"{error.kind} at {error.url}"
        report.longrepr = f"Target unreachable ({error.kind}): {error.detail}"
    elif isinstance(error, CheckFailure):
        report.longrepr = f"{error.message}\n  check:    {item.nodeid}"
    elif isinstance(error, RedcloudCheckError):  # the tool could not do the check
        report.longrepr = (f"{type(error).__name__}: {error}\n"
                           f"  (redcloud-check could not run this check; not a finding "
                           f"about the API)\n  check:    {item.nodeid}")
    if waiver is not None and not rc.waivers.active(waiver) and isinstance(report.longrepr, str):
        report.longrepr += f"\n  waiver:   {WaiverBook.expired_message(waiver)}"
    stage = item_stage(item)
    if stage is not None and item.get_closest_marker("rc_gate") is not None:
        title = error.title if isinstance(error, CheckFailure) else type(error).__name__
        rc.gates.fail(stage, title)
    return report


def _settle_waiver(rc: RunContext, item: pytest.Item, report: pytest.TestReport,
                   waiver: Waiver) -> None:
    """Record what became of the item's waiver: waived, expired (the failure stands) or
    stale (the check passed: a warning)."""
    book = rc.waivers
    if report.skipped and hasattr(report, "wasxfail"):
        book.record("waived", waiver, item.nodeid)
        item.user_properties.append(("rc_waived", report.wasxfail))
    elif report.failed and not book.active(waiver):
        book.record("expired", waiver, item.nodeid)
    elif report.passed:
        if hasattr(report, "wasxfail"):
            del report.wasxfail  # a plain pass, not XPASS; the stale warning says the rest
        book.record("stale", waiver, item.nodeid)
        rc.findings.add(Finding("warning", f"Waiver is stale: {waiver.check} passed",
                                WaiverBook.stale_message(waiver, not book.active(waiver)),
                                "README, Waivers", check=item.nodeid, stage=item_stage(item)))


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport,
                             config: pytest.Config) -> tuple[str, str, str] | None:
    """A waived failure is counted and shown as waived, not as pytest's xfailed."""
    if report.when == "call" and str(getattr(report, "wasxfail", "")).startswith(WAIVED_PREFIX):
        return "waived", "w", "WAIVED"
    return None


def pytest_runtest_teardown(item: pytest.Item) -> None:
    rc = get_context(item.config)
    if rc is not None:
        rc.recorder.current_check = None


@pytest.fixture(scope="session")
def rc(request: pytest.FixtureRequest) -> RunContext:
    """The run context: settings, the recording client, the token, findings, gates."""
    context = get_context(request.config)
    if context is None:
        pytest.skip("not a redcloud-check suite run (rc_suite is not set in the ini file)")
    return context


@pytest.fixture(scope="session")
def rc_sends(rc: RunContext) -> RunContext:
    """The run context, when real sends are allowed (embedded simulator or RC_ALLOW_SEND=1)."""
    if not rc.settings.sends_allowed:
        pytest.skip("sending is disabled for a remote target: set RC_ALLOW_SEND=1 to allow "
                    "real sends (4-sending-messages.txt)")
    return rc


@pytest.fixture(scope="session")
def rc_webhooks(rc_sends: RunContext) -> Iterator[WebhookSession]:
    """The webhook session (listener, tunnel, override); a failure to start is kept in
    `rc.webhooks_error` for the stage-5 gate to report.

    Requested by every send that may be accepted, so the override is in place before the
    first accepted send; restored when the session ends, on every exit path.
    """
    from redcloud_check.webhooks.session import WebhookSession

    session = WebhookSession(rc_sends)
    rc_sends.webhooks = session
    try:
        session.start()
    except RedcloudCheckError as error:
        rc_sends.webhooks_error = error
    try:
        yield session
    finally:
        session.close()


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
