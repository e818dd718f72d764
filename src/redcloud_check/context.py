"""The state of one suite run (or probe), shared by the stages through the `rc` fixture.

Plain objects, testable without pytest. The plugin builds one `RunContext` per session and
keeps it in `config.stash[RUN_CONTEXT]`; the probe builds its own. The records it holds are
`redcloud_check.core.models`'.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redcloud_check.core.client import ApiClient, SecretSet, basic_header
from redcloud_check.core.config import Settings
from redcloud_check.core.exchange import Exchange
from redcloud_check.core.findings import Advisory, Finding, FindingLog
from redcloud_check.core.ids import new_run_id
from redcloud_check.core.models import AcceptedMessage
from redcloud_check.core.recorder import Recorder
from redcloud_check.core.tokens import TokenProvider
from redcloud_check.core.waivers import WaiverBook
from redcloud_check.rules.stages import GateBoard

if TYPE_CHECKING:  # the session holds a RunContext: a type-only import, no cycle at run time
    from redcloud_check.webhooks.session import WebhookSession


@dataclass
class RunContext:
    settings: Settings
    client: ApiClient  # records every exchange (client.recorder), redacts (client.secrets)
    tokens: TokenProvider
    run_id: str = field(default_factory=new_run_id)
    findings: FindingLog = field(default_factory=FindingLog)
    gates: GateBoard = field(default_factory=GateBoard)
    accepted: list[AcceptedMessage] = field(default_factory=list)
    number: dict[str, Any] | None = None  # the RC_NUMBER_ID entry from /api/core/numbers
    webhooks: WebhookSession | None = None  # once stage 4 needs it
    webhooks_error: Exception | None = None  # why the webhook session could not start
    unreachable: str | None = None  # set once the target gave no HTTP answer
    waivers: WaiverBook = field(default_factory=WaiverBook)  # RC_WAIVERS, and their uses
    # set while a number's webhook override points at a listener of ours that is gone
    # (RecoveryResult.problem: names the number and the URL); the run is then unhealthy
    misrouted: str | None = None
    started_at: float = field(default_factory=time.time)

    @classmethod
    def create(cls, settings: Settings, base_url: str, run_id: str | None = None) -> RunContext:
        secrets = SecretSet(settings.secrets())
        secrets.add(basic_header(settings.client_id, settings.client_secret).split(" ", 1)[1])
        client = ApiClient(base_url, timeout=settings.timeout, recorder=Recorder(),
                           secrets=secrets)
        context = cls(settings=settings, client=client, tokens=TokenProvider(client, settings))
        if run_id is not None:
            context.run_id = run_id  # the run's folder under the reports dir is named by it
        return context

    @property
    def recorder(self) -> Recorder:
        return self.client.recorder

    @property
    def secrets(self) -> SecretSet:
        return self.client.secrets

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
