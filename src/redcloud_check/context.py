"""The state of one suite run (or probe), shared by the stages through the `rc` fixture.

Plain objects, testable without pytest. The plugin builds one `RunContext` per session and
keeps it in `config.stash`; the probe builds its own. It holds the run's services (settings,
the recording client, the token provider, the webhook session once opened) and its
`RunLedger` (`results.ledger`): the checks' results and every fact the run establishes as it
goes, each written in one place. State that checks share within a run (the first send, the
no-op update) lives here too, under typed keys (`Shared`), never in module globals.

A check asks for the answers to its requests with `answer(make, ...)`: the run's lookahead
(`core.lookahead`, with RC_CONCURRENCY > 1) may have sent them ahead of the check, on its
behalf; otherwise they are made then.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from redcloud_check.core.client import ApiClient, SecretSet, basic_header
from redcloud_check.core.config import Settings
from redcloud_check.core.exchange import Exchange
from redcloud_check.core.findings import Advisory, Finding, FindingLog
from redcloud_check.core.ids import new_run_id
from redcloud_check.core.lookahead import Lookahead
from redcloud_check.core.models import AcceptedMessage, Shared, SharedValues
from redcloud_check.core.rate_limit import RateLimits, RateLimitWait
from redcloud_check.core.recipients import RecipientBook
from redcloud_check.core.recorder import Recorder
from redcloud_check.core.tokens import TokenProvider
from redcloud_check.core.trace_context import new_trace_id
from redcloud_check.core.waivers import WaiverBook
from redcloud_check.results.ledger import RunLedger

if TYPE_CHECKING:  # the session holds a RunContext: a type-only import, no cycle at run time
    from redcloud_check.webhooks.session import WebhookSession

T = TypeVar("T")


RATE_LIMITS = "DESIGN.md, rate limits (429, or 503 with Retry-After, is conformant behaviour)"


def rate_limit_warning(wait: RateLimitWait, recorder: Recorder) -> Finding:
    """The warning a rate limit leaves: the status, the API's Retry-After and the wait."""
    ex = wait.exchange
    return Finding("warning", f"Rate-limited: HTTP {wait.status} with Retry-After "
                   f"{wait.retry_after or '(none)'}",
                   f"{ex.endpoint} answered HTTP {wait.status} (Retry-After "
                   f"{wait.retry_after or 'absent'}); the run waited {wait.waited_s:g} s and "
                   "sent the same request again (a send with the same Idempotency-Key). Not "
                   "a failure: a rate limit is conformant.", RATE_LIMITS,
                   check=recorder.current_check)


@dataclass
class RunContext:
    settings: Settings
    client: ApiClient  # records every exchange (client.recorder), redacts (client.secrets)
    tokens: TokenProvider
    ledger: RunLedger = field(default_factory=RunLedger)
    run_id: str = field(default_factory=new_run_id)
    started_at: float = field(default_factory=time.time)
    webhooks: WebhookSession | None = None  # set by open_webhooks(), once stage 4 needs it
    lookahead: Lookahead | None = None  # set by the plugin when requests may go ahead
    _shared: SharedValues = field(default_factory=SharedValues)
    recipients: RecipientBook = field(init=False)  # the numbers to mask (core.recipients)

    def __post_init__(self) -> None:
        self.recipients = RecipientBook(self.settings.to, share=self.settings.share_recipients)

    @classmethod
    def create(cls, settings: Settings, base_url: str, run_id: str | None = None,
               ledger: RunLedger | None = None) -> RunContext:
        secrets = SecretSet(settings.secrets())
        secrets.add(basic_header(settings.client_id, settings.client_secret).split(" ", 1)[1])
        ledger = ledger if ledger is not None else RunLedger()
        recorder = Recorder()
        limits = RateLimits(settings.retry_budget,
                            lambda wait: ledger.findings.add(rate_limit_warning(wait, recorder)),
                            concurrency=settings.concurrency)
        client = ApiClient(base_url, timeout=settings.timeout, recorder=recorder,
                           secrets=secrets, rate_limits=limits,
                           trace_id=new_trace_id() if settings.traceparent else None)
        context = cls(settings=settings, client=client, tokens=TokenProvider(client, settings),
                      ledger=ledger)
        if run_id is not None:
            context.run_id = run_id  # the run's folder under the reports dir is named by it
        return context

    @property
    def recorder(self) -> Recorder:
        return self.client.recorder

    @property
    def secrets(self) -> SecretSet:
        return self.client.secrets

    @property
    def trace_id(self) -> str | None:
        """The run's W3C trace id, which every request's traceparent carries (None with
        RC_TRACEPARENT=0)."""
        return self.client.trace_id

    def recipient_labels(self) -> dict[str, str]:
        """The redaction's entries for the recipients' numbers the run saw so far (RC_TO,
        its exchanges' and webhook deliveries' `to` fields): masked in every shareable
        artifact unless RC_SHARE_RECIPIENTS=1 (core.recipients)."""
        bodies = [d.raw_body for d in self.webhooks.deliveries()] if self.webhooks else []
        return self.recipients.labels(self.recorder.all(), bodies)

    @property
    def findings(self) -> FindingLog:
        return self.ledger.findings

    @property
    def accepted(self) -> list[AcceptedMessage]:
        return self.ledger.accepted

    @property
    def waivers(self) -> WaiverBook:
        return self.ledger.waivers

    @property
    def number(self) -> dict[str, Any] | None:
        """The RC_NUMBER_ID entry /api/core/numbers gave, once the numbers gate read it."""
        return self.ledger.number

    def shared(self, key: Shared[T], make: Callable[[], T]) -> T:
        """The run's value for `key`, made by `make` the first time it is asked for (by one
        thread: another asking meanwhile waits for it; a `make` that raised is tried again
        by the next one asking)."""
        return self._shared.get(key, make)

    def answer(self, make: Callable[..., T], *args: Any) -> T:
        """What the running check's requests got; `make(rc, *args)` makes them (and may judge
        what must hold before its next request, never warn). Sent ahead of the check when
        the run's lookahead did so, else made now."""
        if self.lookahead is None:
            return make(self, *args)
        answer: T = self.lookahead.answer(self.recorder.current_check or "", (make, *args),
                                          partial(make, self, *args))
        return answer

    def open_webhooks(self) -> WebhookSession:
        """Start the run's webhook session (listener, exposure, override), once. A failure
        to start is recorded in the ledger (`webhooks_error`) and raised."""
        from redcloud_check.core.errors import RedcloudCheckError
        from redcloud_check.webhooks.session import WebhookSession

        if self.webhooks is None:
            self.webhooks = WebhookSession(self)
            try:
                self.webhooks.start()
            except RedcloudCheckError as error:
                self.ledger.note_webhooks_error(error)
                raise
        return self.webhooks

    def start_webhooks(self) -> WebhookSession | None:
        """The run's webhook session, opened once, before the first send that may be
        accepted; one that could not start is in the ledger (`webhooks_error`) for the
        stage-5 gate to report, not raised."""
        from redcloud_check.core.errors import RedcloudCheckError

        with contextlib.suppress(RedcloudCheckError):
            self.open_webhooks()
        return self.webhooks

    def core(self, method: str, path: str, *, label: str, json: Any = None,
             headers: dict[str, str] | None = None, bearer: str | None = None,
             wrong_credential: bool = False) -> Exchange:
        """A CORE call with the run's bearer token (or `bearer` when given; mark a
        deliberately wrong one with `wrong_credential`, so it is never sent again)."""
        hdrs = dict(headers or {})
        fresh: bool | None = None
        age: float | None = None
        if bearer is None:
            token = self.tokens.current()
            if token is not None:
                hdrs.setdefault("Authorization", f"Bearer {token.value}")
                fresh, age = token.fresh(), round(token.age(), 3)
        else:
            hdrs["Authorization"] = bearer
        return self.client.request(method, path, headers=hdrs, json=json, label=label,
                                   token_fresh=fresh, token_age_s=age,
                                   wrong_credential=wrong_credential)

    def e164_of(self, number_id: str) -> str | None:
        """The E.164 /api/core/numbers gave for `number_id`, when the run has read it."""
        number = self.number or {}
        e164 = number.get("e164")
        return e164 if number.get("numberId") == number_id and isinstance(e164, str) else None

    def idempotency_key(self, check_name: str) -> str:
        """Unique per run, stable per check: a retried check never duplicates a message."""
        return f"rccheck-{self.run_id}-{check_name}"[:120]

    def warn(self, title: str, detail: str, clause: str, *, stage: str | None = None,
             severity: Advisory = "warning") -> None:
        self.findings.add(Finding(severity, title, detail, clause,
                                  check=self.recorder.current_check, stage=stage))
