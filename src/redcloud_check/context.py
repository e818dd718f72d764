"""The state of one suite run, shared by the stages through the `rc` fixture.

Plain objects, testable without pytest. The plugin builds one `RunContext` per session and
keeps it in `config.stash[RUN_CONTEXT]`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from redcloud_check.core.client import ApiClient, SecretSet, basic_header
from redcloud_check.core.config import Settings
from redcloud_check.core.exchange import Exchange
from redcloud_check.core.findings import Advisory, Finding, FindingLog
from redcloud_check.core.ids import new_run_id
from redcloud_check.core.recorder import Recorder
from redcloud_check.core.waivers import WaiverBook
from redcloud_check.rules.stages import GateBoard


@dataclass(frozen=True, slots=True)
class AcceptedMessage:
    """A recipient the target accepted in the send stage; stage 5 follows its lifecycle."""

    message_id: str
    to: str
    external_reference: str
    idempotency_key: str
    number_id: str
    accepted_at: float
    check: str | None


@dataclass(slots=True)
class Token:
    value: str
    issued_at: float  # time.monotonic()
    expires_in: float

    def age(self) -> float:
        return time.monotonic() - self.issued_at

    def fresh(self) -> bool:
        return self.age() < self.expires_in


class TokenProvider:
    """Acquires the run's bearer token once (HTTP Basic), and again when it expires."""

    def __init__(self, client: ApiClient, settings: Settings) -> None:
        self._client = client
        self._settings = settings
        self._token: Token | None = None
        self._lock = threading.Lock()

    def acquire(
        self, label: str = "token: HTTP Basic credentials"
    ) -> tuple[Exchange, Token | None]:
        """Request a new token; returns the exchange and the token if one was issued."""
        exchange = self._client.request(
            "POST", "/api/auth/token",
            headers={"Authorization": basic_header(self._settings.client_id,
                                                   self._settings.client_secret)},
            form={"grant_type": "client_credentials"}, label=label,
        )
        token = parse_token(exchange)
        if token is not None:
            with self._lock:
                self._token = token
        return exchange, token

    def current(self) -> Token | None:
        with self._lock:
            if self._token is not None and self._token.fresh():
                return self._token
        _, token = self.acquire("token: refresh for CORE calls")
        return token


def parse_token(exchange: Exchange) -> Token | None:
    if exchange.status != 200:
        return None
    body = exchange.json_or_none()
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        return None
    expires = body.get("expires_in")
    ttl = float(expires) if isinstance(expires, int | float) and expires > 0 else 3600.0
    return Token(body["access_token"], time.monotonic(), ttl)


@dataclass
class RunContext:
    settings: Settings
    client: ApiClient
    recorder: Recorder
    secrets: SecretSet
    tokens: TokenProvider
    run_id: str = field(default_factory=new_run_id)
    findings: FindingLog = field(default_factory=FindingLog)
    gates: GateBoard = field(default_factory=GateBoard)
    accepted: list[AcceptedMessage] = field(default_factory=list)
    number: dict[str, Any] | None = None  # the RC_NUMBER_ID entry from /api/core/numbers
    simulator: Any = None  # the embedded Simulator when the run targets it
    webhooks: Any = None  # the WebhookSession once stage 4 needs it
    webhooks_error: Exception | None = None  # why the webhook session could not start
    unreachable: str | None = None  # set once the target gave no HTTP answer
    waivers: WaiverBook = field(default_factory=WaiverBook)  # RC_WAIVERS, and their uses
    started_at: float = field(default_factory=time.time)

    @classmethod
    def create(cls, settings: Settings, base_url: str, run_id: str | None = None) -> RunContext:
        recorder = Recorder()
        secrets = SecretSet(settings.secrets())
        secrets.add(basic_header(settings.client_id, settings.client_secret).split(" ", 1)[1])
        client = ApiClient(base_url, timeout=settings.timeout, recorder=recorder,
                           secrets=secrets)
        context = cls(settings=settings, client=client, recorder=recorder, secrets=secrets,
                      tokens=TokenProvider(client, settings))
        if run_id is not None:
            context.run_id = run_id  # the run's folder under the reports dir is named by it
        return context

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

    def idempotency_key(self, check_name: str) -> str:
        """Unique per run, stable per check: a retried check never duplicates a message."""
        return f"rccheck-{self.run_id}-{check_name}"[:120]

    def warn(self, title: str, detail: str, clause: str, *, stage: str | None = None,
             severity: Advisory = "warning") -> None:
        self.findings.add(Finding(severity, title, detail, clause,
                                  check=self.recorder.current_check, stage=stage))
