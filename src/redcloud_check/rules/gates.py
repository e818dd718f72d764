"""The stage gates, stated once: the suite's gate checks and the probe both call these.

Each gate is one function that makes its request(s) through the run context, judges the
answer with `expect` and raises a `CheckFailure` naming its clause; the title and clause of
every gate live here and nowhere else (as schemathesis's `@check` functions serve both its
CLI engine and pytest). Which check is a stage's gate, and what a failed one blocks, is
`rules.stages`' (by check id).

    token_issued(rc)                     stage token:    a bearer token is issued
    whoami(rc) / client_active(rc)       stage whoami:   the client context; the client ACTIVE
    numbers(rc) / number_usable(rc)      stage numbers:  RC_NUMBER_ID listed, ACTIVE, smsEnabled
    send_accepted(rc, ...)               stage send:     202, every recipient QUEUED
    sms_accepted(rc, ...)                                ... and the one recipient alone
    lifecycle_complete(report, ...)      stage webhooks: every accepted message's lifecycle
                                         events arrived (the failure carries the cause)

A run makes the token request and reads the numbers list once: the first check that asks
(the gate) makes it, and every check that looks at it judges that answer (one that got no
HTTP answer is asked again by the next check); `numbers(rc, fresh=True)` reads again, after
a write. Each check of the whoami stage reads whoami itself: an authorized CORE call after
the first is what shows a token the API stops honouring early.

Light on purpose (the probe imports it on its read-only path): the run context and the
lifecycle report are type-only imports here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redcloud_check.core.citation import cite
from redcloud_check.core.errors import CheckFailure
from redcloud_check.core.exchange import Exchange
from redcloud_check.core.models import AcceptedMessage, Cause, Shared, Token
from redcloud_check.rules import expect
from redcloud_check.rules.schemas import errors as schema_errors

if TYPE_CHECKING:
    from redcloud_check.context import RunContext
    from redcloud_check.webhooks.lifecycle import LifecycleReport

__all__ = [
    "BODY_TOKEN",
    "CLIENT_ACTIVE",
    "NUMBERS_LIST",
    "NUMBERS_READ",
    "NUMBER_USABLE",
    "QUICKSTART",
    "SEND",
    "SMS_ACCEPTED",
    "STEP2",
    "STEP3",
    "TOKEN_ANSWER",
    "WHOAMI",
    "body_token",
    "client_active",
    "number_usable",
    "numbers",
    "send_accepted",
    "sms_accepted",
    "token_answer",
    "token_issued",
    "whoami",
]

QUICKSTART = "1-quickstart.txt, Section 4 — Step 1: Get Access Token"
STEP2 = "1-quickstart.txt, Section 5 — Step 2: Verify Your Account"
STEP3 = "1-quickstart.txt, Section 6 — Step 3: Get Your Number"
SEND = "4-sending-messages.txt"
STEP5 = "1-quickstart.txt, Section 8 — Step 5: Receive Delivery Events"

WHOAMI = "3-api-reference-0.2.0.txt, CORE: Return the current API client context"
CLIENT_ACTIVE = STEP2 + " (apiClientStatus should be ACTIVE)"
NUMBERS_LIST = ("3-api-reference-0.2.0.txt, CORE: List active numbers for the authenticated "
                "API client")
NUMBER_USABLE = STEP3 + " (Immediate success check)"
SMS_ACCEPTED = SEND + ", Minimal send example and Success response"
QUEUED = SEND + ", What success means here"


TOKEN_ANSWER = Shared[tuple[Exchange, Token | None]](
    "the run's token request with HTTP Basic credentials")
NUMBERS_READ = Shared[Exchange]("the run's read of GET /api/core/numbers")


def token_answer(rc: RunContext, label: str = "token: HTTP Basic credentials"
                 ) -> tuple[Exchange, Token | None]:
    """The run's token request with HTTP Basic credentials, and the token it issued."""
    return rc.shared(TOKEN_ANSWER, lambda: rc.tokens.acquire(label))


def token_issued(rc: RunContext, label: str = "token: HTTP Basic credentials"
                 ) -> tuple[Exchange, Token]:
    """A client_credentials request with HTTP Basic client authentication issues a token."""
    __tracebackhide__ = True
    exchange, token = token_answer(rc, label)
    try:
        expect.json_response(exchange, 200, "token_response", clause=QUICKSTART,
                             title="HTTP Basic credentials did not issue a bearer token")
    except CheckFailure as failure:
        if exchange.status in (400, 401, 403):
            failure.cause = failure.cause or scheme_refused(rc, exchange, basic=True)
        raise
    if token is None:
        raise expect.fail("No access_token in the token response", expected="access_token",
                          actual="no access_token string in the body",
                          clause=QUICKSTART, exchange=exchange)
    return exchange, token


BODY_TOKEN = Shared[Exchange]("the run's token request with body credentials")


def body_token(rc: RunContext) -> Exchange:
    """The run's one token request with client_id and client_secret in the body: the body
    credentials check and the scheme check below share it, so a refused pair costs two token
    requests at most (HTTP Basic and body), never more."""
    def ask() -> Exchange:
        form = {"grant_type": "client_credentials", "client_id": rc.settings.client_id,
                "client_secret": rc.settings.client_secret}
        return rc.client.request("POST", "/api/auth/token", form=form,
                                 label="token: body credentials")
    return rc.shared(BODY_TOKEN, ask)


def scheme_refused(rc: RunContext, refused: Exchange, *, basic: bool) -> Cause | None:
    """When one way of sending the client credentials was refused: whether the other way,
    with the same client_id and secret, issues a token. Then the credentials are ruled out
    and the scheme is the cause (the API's side: the same pair worked). The other way is
    taken from the run's exchanges, or asked once (`body_token`)."""
    from redcloud_check.core.tokens import parse_token

    other = "body credentials" if basic else "HTTP Basic credentials"
    worked = next((e for e in rc.recorder.all() if e.label == f"token: {other}"
                   and parse_token(e) is not None), None)
    if worked is None and basic:
        probe = body_token(rc)
        worked = probe if parse_token(probe) is not None else None
    if worked is None:
        return None
    refused_way = "HTTP Basic" if basic else "client_id/client_secret in the body"
    evidence = (cite(worked, "HTTP 200: a token issued for the same client_id and secret"),
                cite(refused))
    return Cause(
        "basic-auth-refused" if basic else "body-credentials-refused",
        f"{refused_way} was refused (HTTP {refused.status} {refused.error_code or ''}) while "
        f"the same client_id and secret as {other} issued a token: the credentials are "
        f"valid; the token endpoint does not accept {refused_way}.".replace("  ", " "),
        f"Report it to Red Cloud with this bundle; meanwhile an integration can send "
        f"{other}. Do not rotate the secret: it is right.",
        "3-api-reference-0.2.0.txt, Authentication: Issue a bearer access token (This "
        "endpoint supports: HTTP Basic client authentication; request-body client_id and "
        "client_secret)", "api", evidence)


def whoami(rc: RunContext, label: str = "whoami") -> tuple[Exchange, dict[str, Any]]:
    """GET /api/core/whoami answers 200 with the documented client context."""
    __tracebackhide__ = True
    exchange = rc.core("GET", "/api/core/whoami", label=label)
    body: dict[str, Any] = expect.json_response(
        exchange, 200, "whoami", clause=WHOAMI,
        title="GET /api/core/whoami did not return the client context")
    return exchange, body


def client_active(rc: RunContext, label: str = "whoami") -> tuple[Exchange, dict[str, Any]]:
    """The authenticated API client's apiClientStatus is ACTIVE."""
    __tracebackhide__ = True
    exchange, body = whoami(rc, label)
    status = body["apiClientStatus"]
    if status != "ACTIVE":
        raise expect.fail("The API client is not active", expected="apiClientStatus ACTIVE",
                          actual=f"apiClientStatus {status!r}",
                          clause=CLIENT_ACTIVE, exchange=exchange, cause=Cause(
                              "client-not-active", f"The API client RC_CLIENT_ID is {status}, "
                              "not ACTIVE: its token is issued, but the docs expect an ACTIVE "
                              "client before sending.", "Have the client activated in the Red "
                              "Cloud console, or use an ACTIVE client's credentials.",
                              CLIENT_ACTIVE, "integration",
                              (cite(exchange, f"HTTP 200: apiClientStatus {status!r}"),),
                              "RC_CLIENT_ID"))
    return exchange, body


def numbers(rc: RunContext, label: str = "numbers: list", *, fresh: bool = False
            ) -> tuple[Exchange, list[dict[str, Any]]]:
    """GET /api/core/numbers answers 200 with the documented number list (the run's read of
    it; `fresh`: read it again now)."""
    __tracebackhide__ = True
    def read() -> Exchange:
        return rc.core("GET", "/api/core/numbers", label=label)
    exchange = read() if fresh else rc.shared(NUMBERS_READ, read)
    body = expect.json_response(exchange, 200, "numbers_list", clause=NUMBERS_LIST,
                                title="GET /api/core/numbers did not return the number list")
    return exchange, list(body["numbers"])


def number_usable(rc: RunContext, label: str = "numbers: list") -> dict[str, Any]:
    """RC_NUMBER_ID is among the client's numbers, ACTIVE and smsEnabled (kept in the
    ledger: rc.number)."""
    __tracebackhide__ = True
    exchange, listed = numbers(rc, label)
    found = expect.usable_number(exchange, listed, rc.settings.number_id,
                                 clause=NUMBER_USABLE)
    rc.ledger.note_number(found)
    return found


def send_accepted(rc: RunContext, exchange: Exchange, payload: dict[str, Any], key: str,
                  *, title: str, clause: str) -> dict[str, Any]:
    """The send was accepted: 202, the send_response shape, every result QUEUED with a
    messageId. Each accepted recipient of `payload` is recorded in rc.accepted."""
    __tracebackhide__ = True
    _accepted_with_another_status(exchange, clause)
    body = expect.json_response(exchange, 202, "send_response", clause=clause, title=title)
    for result in body["results"]:
        if result["status"] != "QUEUED":
            raise expect.fail("An accepted recipient is not QUEUED",
                              expected="results[].status QUEUED",
                              actual=f"status {result['status']!r} for {result['to']}",
                              clause=QUEUED, exchange=exchange, cause=Cause(
                                  "accepted-not-queued", f"The send was accepted (HTTP "
                                  f"{exchange.status}, messageId {result.get('messageId')}), "
                                  f"but the recipient's status is {result['status']!r}, not "
                                  "QUEUED: the request and the sendFrom number are fine; the "
                                  "answer reports a later lifecycle state at acceptance.",
                                  "Report it to Red Cloud with this bundle; nothing to change "
                                  "in the request.", QUEUED, "api", (cite(exchange, (
                                      f"HTTP {exchange.status}: status {result['status']!r} "
                                      "for an accepted recipient")),)))
        if result["to"] in payload["to"]:
            rc.accepted.append(AcceptedMessage(
                message_id=result["messageId"], to=result["to"],
                external_reference=payload["externalReference"], idempotency_key=key,
                number_id=payload["sendFrom"], accepted_at=exchange.started_at,
                check=rc.recorder.current_check, api_client_id=rc.settings.client_id,
                send_from_e164=rc.e164_of(payload["sendFrom"])))
    return dict(body)


def _accepted_with_another_status(exchange: Exchange, clause: str) -> None:
    """A 2xx other than 202 whose body is a valid send response: the send WAS accepted, with
    the wrong status code (never diagnosed as a rejected send)."""
    __tracebackhide__ = True
    if exchange.status is None or exchange.status == 202 or not 200 <= exchange.status < 300:
        return
    body = exchange.json_or_none()
    if body is None or schema_errors("send_response", body):
        return
    ids = [r.get("messageId") for r in body.get("results", []) if isinstance(r, dict)]
    raise expect.fail(
        f"A valid send was accepted with HTTP {exchange.status}, not 202",
        expected="HTTP 202", actual=f"HTTP {exchange.status} with a valid send response "
        f"(messageIds {', '.join(map(str, ids)) or 'none'})", clause=clause, exchange=exchange,
        cause=Cause("accepted-wrong-status", f"The send was accepted: HTTP {exchange.status} "
                    f"with results and messageIds ({', '.join(map(str, ids))}). Only the "
                    "status code is wrong; the sendFrom number and the payload are fine.",
                    "Report it to Red Cloud with this bundle; an integration that checks for "
                    "202 would treat this accepted message as failed and might send it again.",
                    clause, "api", (cite(exchange, f"HTTP {exchange.status} with messageIds "
                                                   f"{', '.join(map(str, ids))}"),)))


def sms_accepted(rc: RunContext, exchange: Exchange, payload: dict[str, Any],
                 key: str) -> dict[str, Any]:
    """A valid SMS send to RC_TO is accepted: 202, results[].status QUEUED with a messageId,
    and an empty errors[]."""
    __tracebackhide__ = True
    body = send_accepted(rc, exchange, payload, key, clause=SMS_ACCEPTED,
                         title="A valid SMS send was not accepted")
    if len(body["results"]) != 1 or body["errors"]:
        raise expect.fail("A single valid recipient was not accepted alone",
                          expected=f"one result for {rc.settings.to} and errors []",
                          actual=f"{len(body['results'])} results, {len(body['errors'])} errors",
                          clause=SMS_ACCEPTED, exchange=exchange)
    return body


def lifecycle_complete(report: LifecycleReport, *, timeout: float,
                       public_url: str | None = None, early: str = "") -> None:
    """Every accepted message gets signed message.queued and message.sent events, then
    message.delivery or message.failed, within RC_WEBHOOK_TIMEOUT. The failure carries the
    cause the lifecycle analysis found (no requests, a secret mismatch, ...). `early`: why the
    verdict came before RC_WEBHOOK_TIMEOUT, if it did."""
    __tracebackhide__ = True
    incomplete = report.failures("incomplete")
    if not incomplete:
        return
    expected = (f"message.queued, message.sent and message.delivery or message.failed for "
                f"each of {len(report.messages)} accepted message(s) within {timeout:g} s")
    if report.received and not report.verified:
        # Deliveries arrived: never reported as "did not arrive" (the cause says why none
        # could be accepted).
        ids = ", ".join(m.message_id for m in report.messages[:3])
        more = f" (+{len(report.messages) - 3} more)" if len(report.messages) > 3 else ""
        title = "Webhook deliveries arrived, but none verified"
        actual = (f"{report.received} request(s) reached the listener, 0 verified, so no "
                  f"lifecycle event could be accepted for {ids}{more}"
                  + (f"; verdict given early ({early}), not after {timeout:g} s" if early
                     else ""))
    else:
        more = f" (+{len(incomplete) - 3} more)" if len(incomplete) > 3 else ""
        title = ("Lifecycle events did not arrive within RC_WEBHOOK_TIMEOUT"
                 if not report.received else
                 "Webhook events arrived, but none names an accepted message"
                 if not any(m.events for m in report.messages) else
                 "Some lifecycle events did not arrive within RC_WEBHOOK_TIMEOUT")
        actual = ("; ".join(i.detail for i in incomplete[:3]) + more
                  + f" ({report.received} requests reached the listener, "
                    f"{report.verified} verified)")
    raise expect.fail(title, expected=expected, actual=actual, clause=STEP5,
                      cause=report.cause, public_url=public_url, received=report.received,
                      verified=report.verified)
