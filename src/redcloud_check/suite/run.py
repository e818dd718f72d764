"""One suite run: its settings, folder and ledger from configuration on, its RunContext (and
embedded simulator) from the session's start, and how it starts and stops.

    SuiteRun.configure(given, run_id)  settings, waivers and the run's folder, or ConfigError
    SuiteRun.start_session()           the target (the embedded simulator when no
                                       RC_BASE_URL), the RunContext, redacted log records, a
                                       killed run's webhook override restored
    SuiteRun.guard(where, action)      run code of ours whose error must not stop the run:
                                       an error becomes an internal error of the run (exit 7),
                                       with its traceback, never a finding about the API
    SuiteRun.stop()                    stop the simulator; what our servers collected while
                                       serving is ours (the failures it explains too)

The pytest hooks (`redcloud_check.plugin`) call these; nothing here renders a report.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redcloud_check.context import RunContext
from redcloud_check.core import run_log
from redcloud_check.core.config import Settings, embedded_webhook_secret, load_settings
from redcloud_check.core.waivers import book_for
from redcloud_check.reporting.own_errors import OurServer, our_servers, settle
from redcloud_check.results.ledger import InternalError, RunLedger
from redcloud_check.webhooks.override_journal import recover_at_start

if TYPE_CHECKING:
    from redcloud_check.reporting.run_folder import Completion, RunFolder
    from redcloud_check.simulator.server import Simulator

__all__ = ["SuiteRun"]


@dataclass
class SuiteRun:
    settings: Settings
    folder: RunFolder
    ledger: RunLedger
    rc: RunContext | None = None  # from the session's start
    session: Any = None  # pytest's Session: its exit status is set from the ledger at the end
    simulator: Simulator | None = None
    completion: Completion | None = None  # the reports published, once
    facts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # drift, latency
    finished: bool = False  # the session finished: drift and latency are final
    shown_errors: int = 0  # internal errors already shown
    stopped: bool = False  # the simulator stopped and our servers' errors settled
    started_at: float = field(default_factory=time.time)

    @classmethod
    def configure(cls, given: dict[str, Any], dotenv: Path, run_id: str) -> SuiteRun:
        """The run's settings (ConfigError names a wrong one), its waivers and its folder
        (OSError when the reports dir cannot be made)."""
        from redcloud_check.reporting.run_folder import start_run
        from redcloud_check.webhooks.tunnel import preflight

        settings = load_settings(given, dotenv=dotenv)
        if settings.sim_faults or settings.sim_variants:  # the simulator's own catalogs
            from redcloud_check.simulator.names import check_names

            check_names(settings)
        preflight(settings)
        ledger = RunLedger(waivers=book_for(settings.waivers))
        run = cls(settings, start_run(settings.reports_dir, run_id), ledger)
        run_log.begin("run")  # this run's errors of ours: in its own folder
        run_log.use(run.folder.artifact(run_log.LOG_NAME), run.secrets)
        return run

    @property
    def run_id(self) -> str:
        return self.folder.run_id

    def start_session(self) -> RunContext:
        settings, base_url = self.settings, self.settings.base_url
        if settings.embedded:  # in a thread of this process, for every run
            from redcloud_check.simulator.server import embedded_simulator

            simulator = embedded_simulator(settings.sim_faults, settings.sim_variants)
            self.simulator = simulator
            base_url = simulator.base_url
            settings = embedded_webhook_secret(settings,
                                               simulator.webhook_secret(settings.client_id))
        assert base_url is not None
        self.rc = RunContext.create(settings, base_url, self.run_id, ledger=self.ledger)
        recover_at_start(self.rc)  # an override a killed run left; misrouted until restored
        return self.rc

    def redact_log_records(self) -> Callable[[], None]:
        """Redact every log record of the run, from any logger, as it is created; returns
        the undo."""
        from redcloud_check.core.recipients import recipient_labels
        from redcloud_check.core.redaction import RedactingFilter

        rc = self.rc
        assert rc is not None
        previous = logging.getLogRecordFactory()
        # the run's secrets as they are issued, and RC_TO's mask. A record may be made on
        # any thread, under any lock of the run's, so this takes none but the secret set's
        # own (held by nothing that logs); the recipients seen in exchanges (the recorder's
        # and the listener's locks) are masked in what the run writes: `secrets`
        to = recipient_labels(rc.settings.to, share=rc.settings.share_recipients)
        redacting = RedactingFilter(
            lambda: {**to, **dict.fromkeys(rc.secrets.values(), "secret")})

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            redacting.filter(record)
            return record

        logging.setLogRecordFactory(factory)
        return lambda: logging.setLogRecordFactory(previous)

    def secrets(self) -> dict[str, str]:
        """The one redaction's mapping for everything the run writes or shows: each secret
        value -> what it is, and each number seen as a recipient -> its mask
        (core.recipients; kept in full under RC_SHARE_RECIPIENTS=1)."""
        from redcloud_check.core.recipients import recipient_labels
        from redcloud_check.reporting.evidence import named_secrets

        s = self.settings
        if self.rc is None:
            return recipient_labels(s.to, share=s.share_recipients)
        return {**self.rc.recipient_labels(),
                **named_secrets(self.rc.secrets.values(), client_id=s.client_id,
                                client_secret=s.client_secret, webhook_secret=s.webhook_secret,
                                ngrok_authtoken=s.ngrok_authtoken)}

    def guard(self, where: str, action: Callable[[], Any]) -> None:
        """Run `action`; an exception of ours becomes an internal error of the run (its
        traceback kept, redacted), shown at the end, and the run exits 7."""
        try:
            action()
        # Broad on purpose: `action` is code of ours; whatever it raises is recorded with
        # its traceback as the run's internal error (exit 7), never lost, never the API's.
        except Exception as error:
            self.internal(where, error)

    def internal(self, where: str, error: BaseException) -> None:
        """An error of ours: its traceback to the run's log (core.run_log), one line kept."""
        shown = run_log.internal_error(where, error, self.secrets())
        self.ledger.note_internal(InternalError(where, error, shown))

    def servers(self) -> list[OurServer]:
        """Our servers this run depends on: the embedded simulator, the webhook listener."""
        return our_servers(self.simulator, self.rc)

    def stop(self) -> None:
        """Once: stop the embedded simulator, then settle what our servers collected while
        serving: each is an internal error, and the failures it explains become the tool's
        in the ledger (reporting.own_errors)."""
        if self.stopped:
            return
        self.stopped = True
        servers = self.servers()
        if self.simulator is not None:
            self.guard("simulator", self.simulator.stop)
        self.guard("servers of ours", lambda: settle(servers, self.ledger, self.secrets(),
                                                     self.internal))
