"""The webhook side of one suite run: listener, exposure (tunnel / public URL), override.

The plugin's `rc_webhooks` fixture builds one `WebhookSession(rc)` before the first send
that may be accepted, calls `start()`, and `close()` when the session ends (every exit path;
`close()` is idempotent). `recover_from_journal` is the caller's business at its start.

    start()            listener on listen_host:listen_port + listen_path; the URL the target
                       must post to (direct, RC_PUBLIC_URL or ngrok); in override mode the
                       number's webhookDeliveryOverride pointed at it. An override that did
                       not take effect never raises: it is `override_status` (ok=False) for a
                       stage-5 check to report. A tunnel that cannot open raises TunnelError.
    wait_lifecycle()   returns as soon as every message's lifecycle is complete, or at the
                       deadline (the last accepted send + RC_WEBHOOK_TIMEOUT); event-driven.
                       With RC_DELIVERY_SEMANTICS the listener refuses one event's first
                       delivery (503), and the wait lasts until its retry was accepted too,
                       extended by as long as the retry took (the refusal held back what
                       comes next): `semantics` is what the API did
                       (webhooks.delivery_semantics)
    timeline(id)       rows for the report's SVG
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from redcloud_check.core.client import basic_header
from redcloud_check.core.errors import ConfigError, RedcloudCheckError
from redcloud_check.core.exchange import Exchange
from redcloud_check.core.models import AcceptedMessage
from redcloud_check.core.timefmt import iso_utc
from redcloud_check.core.urls import http_url
from redcloud_check.webhooks import delivery_semantics
from redcloud_check.webhooks.answers import REFUSE_ONE, Answers
from redcloud_check.webhooks.delivery_view import timeline
from redcloud_check.webhooks.forensics import WEBHOOK_KEY
from redcloud_check.webhooks.lifecycle import (
    LifecycleReport,
    ReceiptContext,
    analyze,
    lifecycle_done,
)
from redcloud_check.webhooks.listener import Delivery, WebhookListener
from redcloud_check.webhooks.override import OverrideStatus, RecoveryResult, WebhookOverride
from redcloud_check.webhooks.signature_doctor import consistent_failure, examine
from redcloud_check.webhooks.tunnel import Exposure, Tunnel

if TYPE_CHECKING:  # the run context opens the session (RunContext.open_webhooks)
    from redcloud_check.context import RunContext

# Once every final event is in, how long to wait for an earlier event still missing.
STRAGGLER_GRACE_S = 2.0
# A fast verdict: every delivery so far failed verification for one and the same reason, and
# none verified, once this many arrived or this long after the first (issue: a developer
# fixing a webhook secret should not wait RC_WEBHOOK_TIMEOUT for what the first second settled).
EARLY_DELIVERIES = 3
EARLY_AFTER_S = 2.0


SEND = "/api/core/messages/send"


def _produced(exchange: Exchange, message_id: str) -> bool:
    body = exchange.json_or_none()
    results = body.get("results") if isinstance(body, dict) else None
    return isinstance(results, list) and any(
        isinstance(r, dict) and r.get("messageId") == message_id for r in results)


def sends(rc: RunContext) -> list[tuple[str, Exchange]]:
    """(messageId, the send exchange that produced it) for every accepted message."""
    posts = [e for e in rc.recorder.all() if e.path == SEND and e.status is not None]
    out = []
    for m in rc.accepted:
        found = next((e for e in posts if _produced(e, m.message_id)), None)
        if found is not None:
            out.append((m.message_id, found))
    return out


def cite_exchange(exchange: Exchange) -> str:
    """An exchange as evidence: what, when, the answer, and its requestId."""
    rid = exchange.request_id
    return (f"{exchange.endpoint} answered HTTP {exchange.status} at "
            f"{iso_utc(exchange.started_at)}" + (f", requestId {rid}" if rid else ""))


def api_clock(rc: RunContext) -> tuple[float, str] | None:
    """How far the API's clock is ahead of this machine's, from the Date headers of its
    answers (the median; a Date has whole seconds), and the exchange that shows it."""
    offsets = []
    for e in rc.recorder.all():
        date = e.header("Date") if e.status is not None else ""
        try:
            at = parsedate_to_datetime(date).timestamp() if date else None
        except (TypeError, ValueError):
            at = None
        if at is not None:
            offsets.append((at - (e.started_at + e.timings.total / 2), e))
    if not offsets:
        return None
    offset, exchange = sorted(offsets, key=lambda o: o[0])[len(offsets) // 2]
    return offset, (f"the API's Date header is {round(offset):+d} s from this machine's "
                    f"clock ({cite_exchange(exchange)})")


@dataclass(frozen=True, slots=True)
class EarlyVerdict:
    """Stage 5 gave its verdict before RC_WEBHOOK_TIMEOUT: when, and on what evidence."""

    at: float  # epoch seconds
    first_delivery_at: float
    deliveries: int
    reason: str  # e.g. "3 deliveries, all failing verification the same way"


class WebhookSession:
    def __init__(self, rc: RunContext) -> None:
        self.rc = rc
        settings = rc.settings
        self.listener = WebhookListener(
            settings.webhook_secret, host=settings.listen_host, port=settings.listen_port,
            path=settings.listen_path,
            answers=Answers(REFUSE_ONE) if settings.delivery_semantics else None)
        self.tunnel = Tunnel(settings)
        self.exposure: Exposure | None = None
        self.override: WebhookOverride | None = None
        self.override_status: OverrideStatus | None = None  # None: preconfigured mode
        self.restore_result: RecoveryResult | None = None
        self.early: EarlyVerdict | None = None  # set once stage 5 settled before its timeout
        # RC_DELIVERY_SEMANTICS: what the API did with the refused delivery, as of the end
        # of the first wait (the window); None before it, or with the setting off
        self.semantics: delivery_semantics.DeliverySemantics | None = None
        self._lock = threading.Lock()
        self._started = False
        self._closed = False

    def __repr__(self) -> str:
        return f"<WebhookSession {self.public_url or 'not started'}>"

    @property
    def mode(self) -> str:
        return self.rc.settings.webhook_mode

    @property
    def public_url(self) -> str | None:
        """The full URL the target must post lifecycle events to."""
        return self.exposure.url if self.exposure is not None else None

    def start(self) -> WebhookSession:
        with self._lock:
            if self._started:
                return self
            self._started = True
            try:
                self.listener.start()
            except OSError as error:
                raise ConfigError("RC_LISTEN_PORT", f"the webhook listener cannot bind "
                                  f"{self.listener.host}:{self.rc.settings.listen_port}: "
                                  f"{error.strerror or error}",
                                  "choose a free port, or 0 for any") from None
            self.exposure = self.tunnel.open(self._local_url())
            if self.mode == "override":
                self.override = WebhookOverride(self.rc, self.exposure.url)
                self.override_status = self.override.apply()
        return self

    def _local_url(self) -> str:
        """The listener's URL as a local client reaches it (a wildcard bind -> loopback)."""
        host = self.listener.host
        if host in ("0.0.0.0", "", "::"):
            host = "127.0.0.1"
        return http_url(host, self.listener.port, self.listener.path)

    def close(self) -> None:
        """Restore the override, close the tunnel, stop the listener. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            if self.override is not None:
                try:
                    self.restore_result = self.override.restore()
                except RedcloudCheckError as error:  # e.g. the target went away
                    self.restore_result = RecoveryResult(
                        self.rc.settings.number_id, False,
                        f"{error}; the journal {self.override.journal} is kept, so the next "
                        "run restores it", misrouted=True, url=self.override.public_url)
                problem = self.restore_result.problem if self.restore_result else None
                if problem is not None:
                    self.rc.warn("The webhook override could not be restored", problem,
                                 "DESIGN.md, Safety", stage="webhooks")
        finally:
            try:
                self.tunnel.close()
            finally:
                self.listener.stop()

    def __enter__(self) -> WebhookSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check_handler_errors(self) -> None:
        """Raise HandlerError for what code of ours raised inside the listener this run."""
        self.listener.check_handler_errors()

    # -- results ---------------------------------------------------------------------------

    def deliveries(self) -> list[Delivery]:
        return self.listener.deliveries()

    def signing_keys(self) -> dict[str, str]:
        """Every key this run holds, by label, RC_WEBHOOK_SECRET first: what a failing
        signature is tried against (webhooks.forensics). Only the labels are ever shown."""
        s = self.rc.settings
        keys = {WEBHOOK_KEY: s.webhook_secret, "RC_CLIENT_SECRET": s.client_secret}
        known = {s.webhook_secret, s.client_secret, s.ngrok_authtoken or "",
                 basic_header(s.client_id, s.client_secret).split(" ", 1)[1]}
        tokens = [v for v in self.rc.secrets.values() if v not in known]
        for i, token in enumerate(tokens, 1):
            keys[f"an access token issued in this run (#{i})" if len(tokens) > 1
                 else "the access token issued in this run"] = token
        return keys

    def context(self, deliveries: Sequence[Delivery] | None = None) -> ReceiptContext:
        status = self.override_status
        seen = self.listener.deliveries() if deliveries is None else deliveries
        patch = None if status is None else status.exchange
        override = () if status is None else tuple(
            f"webhookDeliveryOverride: {cite_exchange(e)}" + (
                f' ({e.error_code}: "{e.error_message or "no message"}")' if e.error_code
                else "")
            for e in (status.exchange, status.check) if e is not None)
        return ReceiptContext(public_url=self.public_url, listen_path=self.listener.path,
                              override_ok=None if status is None else status.ok,
                              override_detail="" if status is None else status.detail,
                              forensics=examine(seen, self.signing_keys()),
                              exposure=None if self.exposure is None else self.exposure.kind,
                              override_evidence=override,
                              override_patched=None if patch is None or patch.status is None
                              else 200 <= patch.status < 300,
                              sends=tuple(f"the send of {mid}: {cite_exchange(e)}"
                                          for mid, e in sends(self.rc)[:3]),
                              api_clock=api_clock(self.rc))

    def wait_lifecycle(self, messages: Sequence[AcceptedMessage] | None = None,
                       timeout: float | None = None) -> LifecycleReport:
        """Wait until every message's lifecycle is complete, then analyse what arrived.

        The deadline is the last send's acceptance + `timeout` (RC_WEBHOOK_TIMEOUT), so a
        second call after the deadline returns at once. Wakes on every delivery.
        """
        messages = list(self.rc.accepted if messages is None else messages)
        timeout = self.rc.settings.webhook_timeout if timeout is None else timeout
        if messages and self._started and self.early is None:
            deadline = max(m.accepted_at for m in messages) + timeout
            observing = self.listener.answers is not None

            def remaining() -> float:
                held = (delivery_semantics.delay_caused(self.listener.deliveries())
                        if observing else 0.0)
                return deadline + held - time.time()

            complete = lifecycle_done(messages)
            finals = lifecycle_done(messages, final_only=True)
            keys = self.signing_keys()

            def settled(deliveries: Sequence[Delivery]) -> bool:
                return (finals(deliveries) and (not observing or
                                                delivery_semantics.retry_settled(deliveries))
                        ) or self._settles_early(deliveries, keys)

            while remaining() > 0 and not self.listener.wait_for(settled, self._wake(remaining())):
                pass
            seen = self.listener.deliveries()
            if finals(seen) and not complete(seen):
                self.listener.wait_for(complete, min(STRAGGLER_GRACE_S, remaining()))
            elif not finals(seen) and self._settles_early(seen, keys):
                self.early = EarlyVerdict(time.time(), seen[0].received_at, len(seen),
                                          f"{len(seen)} deliveries, every one failing "
                                          "verification the same way, none verified")
            if observing and self.semantics is None:
                self.semantics = delivery_semantics.observe(
                    self.listener.deliveries(), now=time.time(),
                    window_closed=time.time() >= deadline)
        seen = self.listener.deliveries()
        report = analyze(messages, seen, self.context(seen))
        if self.semantics is None:
            return report
        return replace(report, issues=(*report.issues, delivery_semantics.issue(self.semantics)))

    def delivery_semantics(self) -> dict[str, Any] | None:
        """escalation.json's `webhooks.deliverySemantics` (None: RC_DELIVERY_SEMANTICS off):
        as the wait saw it, or, when no wait ran, what has arrived so far (nothing refused
        means every value null)."""
        if self.listener.answers is None:
            return None
        sem = self.semantics or delivery_semantics.observe(
            self.listener.deliveries(), now=time.time(), window_closed=False)
        return sem.as_dict()

    def _settles_early(self, deliveries: Sequence[Delivery], keys: dict[str, str]) -> bool:
        """Every delivery so far failed verification for one consistent reason, none verified,
        and there are EARLY_DELIVERIES of them or the first is EARLY_AFTER_S old."""
        if not deliveries or not (len(deliveries) >= EARLY_DELIVERIES or
                                  time.time() >= deliveries[0].received_at + EARLY_AFTER_S):
            return False
        if any(d.verified for d in deliveries):  # settled by the lifecycle, not early
            return False
        return consistent_failure(examine(deliveries, keys))

    def _wake(self, remaining: float) -> float:
        """How long to wait for the next delivery: at most until the first delivery is
        EARLY_AFTER_S old (the fast verdict's clock), at most `remaining`."""
        first = self.listener.deliveries()[:1]
        if first:
            due = first[0].received_at + EARLY_AFTER_S - time.time()
            if due > 0:
                return min(remaining, due + 0.01)
        return remaining

    def timeline(self, message_id: str) -> list[dict[str, Any]]:
        """Rows (offset_ms from the send's acceptance, eventType, sequence, verified, note)."""
        message = next((m for m in self.rc.accepted if m.message_id == message_id), None)
        if message is None:
            return []
        return timeline(message, self.listener.deliveries())

