"""What the run's own evidence rules out: a diagnosis never names a cause the run disproved.

The troubleshooting guide lists likely causes per symptom, written for an integration that
fails. A run knows more: a token was issued for these credentials, a CORE route accepted the
issued token, whoami said the client is ACTIVE, webhook deliveries reached the listener.
`RunFacts` holds those facts (built by `facts_from` from the exchanges recorded so far);
`ruled_out(error, facts)` maps each guide symptom or likely cause they disprove to what
disproves it. The diagnosis pipeline (`reporting.diagnosis`) passes over a ruled-out symptom,
leaves ruled-out causes out of its lead, and when none is left leads with `api-breaks-rule`:
the request was right, the answer breaks the documented rule.

Public surface: `RunFacts`, `facts_from`, `ruled_out`, `API_BREAKS_RULE`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from redcloud_check.core.e164 import is_e164
from redcloud_check.core.exchange import Exchange

__all__ = ["API_BREAKS_RULE", "RunFacts", "facts_from", "ruled_out"]

API_BREAKS_RULE = "api-breaks-rule"
# the suite's own token requests with the configured credentials (rules.gates, checks/)
_OWN_TOKEN_LABELS = ("token: HTTP Basic credentials", "token: body credentials",
                     "token: response shape", "token: refresh for CORE calls")


@dataclass(frozen=True, slots=True)
class RunFacts:
    token_issued: bool = False  # a token was issued for RC_CLIENT_ID / RC_CLIENT_SECRET
    core_accepted: bool = False  # a CORE route answered 2xx to an issued bearer token
    client_active: bool = False  # whoami reported apiClientStatus ACTIVE
    number_usable: bool = False  # the numbers list holds RC_NUMBER_ID, ACTIVE, smsEnabled true
    number_is_id: bool = False  # RC_NUMBER_ID is a numberId, not an E.164 phone number
    key_reused: bool = False  # a send was retried under the same Idempotency-Key


def facts_from(exchanges: Iterable[Exchange], number_id: str = "") -> RunFacts:
    """The facts the recorded exchanges (and RC_NUMBER_ID) establish."""
    issued = accepted = active = usable = False
    keys: list[str] = []
    for e in exchanges:
        if e.path == "/api/core/messages/send":
            keys += [v for k, v in e.request_headers.items() if k.lower() == "idempotency-key"]
        if e.status is None or not 200 <= e.status < 300:
            continue
        body = e.json_or_none()
        if e.label in _OWN_TOKEN_LABELS and isinstance(body, dict) \
                and isinstance(body.get("access_token"), str):
            issued = True
        sent = next((v for k, v in e.request_headers.items() if k.lower() == "authorization"), "")
        if e.path.startswith("/api/core/") and sent.lower().startswith("bearer "):
            accepted = True
            if e.path == "/api/core/whoami" and isinstance(body, dict) \
                    and body.get("apiClientStatus") == "ACTIVE":
                active = True
            if e.path == "/api/core/numbers" and isinstance(body, dict):
                usable = usable or _usable(body.get("numbers"), number_id)
    return RunFacts(issued, accepted, active, usable,
                    bool(number_id) and not is_e164(number_id), len(set(keys)) < len(keys))


def _usable(numbers: object, number_id: str) -> bool:
    return isinstance(numbers, list) and any(
        isinstance(n, dict) and n.get("numberId") == number_id and n.get("status") == "ACTIVE"
        and n.get("smsEnabled") is True for n in numbers)


_BY_FACT = {
    "token_issued": ("a token was issued for RC_CLIENT_ID and RC_CLIENT_SECRET in this run",
                     ("invalid credentials", "inactive API client", "inactive parent account",
                      "malformed token request")),
    "core_accepted": ("a CORE route accepted the issued bearer token in this run",
                      ("missing or malformed Authorization header", "expired token",
                       "invalid token")),
    "client_active": ("whoami reported the client ACTIVE in this run",
                      ("inactive client context", "inactive API client")),
    "number_usable": ("the numbers list holds RC_NUMBER_ID for this client, ACTIVE and "
                      "smsEnabled", ("using a number not owned by the API client",
                                     "sending with a number not enabled for the intended "
                                     "message type")),
    "number_is_id": ("RC_NUMBER_ID is a numberId, not an E.164 number",
                     ("using E.164 in sendFrom",)),
    "key_reused": ("this run retried its send under the same Idempotency-Key, as the docs ask",
                   ("incorrect idempotency strategy",
                    "retrying as a new operation instead of the same operation")),
}


def ruled_out(error: BaseException | None, facts: RunFacts | None = None) -> dict[str, str]:
    """Guide symptoms and likely causes the run's evidence rules out -> what rules them out.
    A stage-5 failure that counted deliveries (details["received"]) rules out "no webhook
    events arrive": deliveries that arrived are never diagnosed as not arriving."""
    out: dict[str, str] = {}
    details = getattr(error, "details", None) or {}
    received = details.get("received")
    if isinstance(received, int) and received > 0:
        out["no webhook events arrive"] = f"{received} webhook deliveries reached the listener"
    for fact, (why, causes) in _BY_FACT.items():
        if facts is not None and getattr(facts, fact):
            for cause in causes:
                out.setdefault(cause, why)
    return out
