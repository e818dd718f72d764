"""The vocabulary of stage 5's analysis, shared by the lifecycle analysis (`lifecycle`) and
its causes (`causes`): the clauses it cites, an `Issue`, and the `ReceiptContext` (what the
run knows about where the target should have posted, and what it did to get it there).

Public surface: `Issue`, `ReceiptContext`, the clauses `PAYLOAD`, `NO_EVENTS`,
`NO_DELIVERY`, `SEQUENCE`, `CONSISTENCY`, and `REUSED` (the sequence-reuse issue's title).
"""

from __future__ import annotations

from dataclasses import dataclass

from redcloud_check.core.findings import Severity
from redcloud_check.rules.gates import STEP5
from redcloud_check.webhooks.signature_doctor import Forensics

__all__ = ["CONSISTENCY", "NO_DELIVERY", "NO_EVENTS", "PAYLOAD", "REUSED", "SEQUENCE", "Issue",
           "ReceiptContext"]

PAYLOAD = "1-quickstart.txt, Section 9 — Minimal Webhook Example (event payload)"
NO_EVENTS = "5-troubleshooting.txt, Symptom: no webhook events arrive"
NO_DELIVERY = "5-troubleshooting.txt, Symptom: send request returns 202 but no delivery happens"
SEQUENCE = STEP5 + " (queued, sent, then delivery or failed); DESIGN.md: webhook sequence"
CONSISTENCY = PAYLOAD + "; DESIGN.md: event consistency"
REUSED = "Two different events share one (messageId, sequence)"


@dataclass(frozen=True, slots=True)
class Issue:
    kind: str  # signature | timestamp | schema | ids | sequence | incomplete | order | unlisted
    #            | client | message | status (event_consistency.py) | ...
    severity: Severity
    title: str
    detail: str
    clause: str
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReceiptContext:
    """What the diagnosis names: where the target should have posted, how that URL reaches
    the listener, the override, and what the failing signatures were made with."""

    public_url: str | None = None
    listen_path: str = "/webhooks/red-cloud"
    override_ok: bool | None = None  # None: no override attempted (preconfigured mode)
    override_detail: str = ""
    forensics: Forensics | None = None  # what the failing signatures were made with
    exposure: str | None = None  # direct | public-url | ngrok (webhooks.tunnel)
    # the override's PATCH and read-back as evidence, e.g. "PATCH /api/core/numbers/num_1
    # answered HTTP 200 at ..., requestId req_1"; and whether the PATCH answered 2xx
    override_evidence: tuple[str, ...] = ()
    override_patched: bool | None = None
    # the sends that produced the messages, e.g. "POST /api/core/messages/send answered 202
    # at ..., requestId req_1 (msg_1)": what support looks the delivery log up by
    sends: tuple[str, ...] = ()
    # the API's clock against this machine's, from its Date headers: (seconds the API is
    # ahead, the exchange that shows it); None when no answer carried a Date
    api_clock: tuple[float, str] | None = None
