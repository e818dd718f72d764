"""Stage 2: client context (1-quickstart.txt Section 5; 5-troubleshooting /whoami fails)."""

from __future__ import annotations

from redcloud_check.context import RunContext
from redcloud_check.core.exchange import Exchange
from redcloud_check.results.ledger import SkipCode
from redcloud_check.rules import expect, gates
from redcloud_check.rules.consistency import body_request_id, header_request_id, shared_ids
from redcloud_check.rules.credentials import BEARER_CASES, BearerCase, derived_secrets
from redcloud_check.rules.gates import CLIENT_ACTIVE, STEP2, WHOAMI
from redcloud_check.rules.stages import STAGES, stage_index
from redcloud_check.suite.declare import cases, check, skip

AUTH = "DESIGN.md contract: CORE auth failure is 401 with the CORE error wrapper and a requestId"
TROUBLE = STAGES[stage_index("whoami")].clause
ASSIGNED = STEP2 + " (assignedNumbers.total should be greater than 0)"
OWN_CLIENT = ("5-troubleshooting.txt, Symptom: send request returns 403 FORBIDDEN (the token "
              "belongs to the client you think it does)")
NO_TOKEN = f"{AUTH}; {TROUBLE} (missing or malformed Authorization header)"
MALFORMED_TOKEN = f"{AUTH}; {TROUBLE} (bearer token format)"
INVALID_TOKEN = f"{AUTH}; {TROUBLE} (invalid token)"
ESCALATION = "5-troubleshooting.txt, What to capture before escalation"
NOT_ISSUED = TROUBLE + " (invalid token; missing or malformed Authorization header)"
REQUEST_IDS = ESCALATION + " (requestId from the CORE error wrapper)"


@check("RC-WHOAMI-01", clause=CLIENT_ACTIVE, ahead=gates.client_active)
def test_api_client_is_active(rc: RunContext) -> None:
    """The authenticated API client's apiClientStatus is ACTIVE."""
    rc.answer(gates.client_active)


@check("RC-WHOAMI-02", clause=WHOAMI + " (Response samples)", ahead=gates.whoami)
def test_whoami_matches_schema(rc: RunContext) -> None:
    """GET /api/core/whoami returns JSON matching the documented client context shape."""
    _, body = rc.answer(gates.whoami)
    if not body.get("deliveryWebhookConfigured"):
        rc.warn("No delivery webhook configured for the client",
                "deliveryWebhookConfigured is false: lifecycle events reach only numbers with a "
                "webhookDeliveryOverride.", STEP2 + " (webhook flags)", stage="whoami")


@check("RC-WHOAMI-03", clause=ASSIGNED, ahead=gates.whoami)
def test_client_has_assigned_numbers(rc: RunContext) -> None:
    """The client has at least one assigned number (assignedNumbers.total > 0)."""
    exchange, body = rc.answer(gates.whoami)
    total = body["assignedNumbers"]["total"]
    if not total > 0:
        raise expect.fail("The API client has no assigned numbers",
                          expected="assignedNumbers.total > 0",
                          actual=f"assignedNumbers.total = {total}", clause=ASSIGNED,
                          exchange=exchange)


@check("RC-WHOAMI-04", clause=OWN_CLIENT, ahead=gates.whoami)
def test_client_id_matches_credentials(rc: RunContext) -> None:
    """whoami names the API client whose credentials issued the token (RC_CLIENT_ID)."""
    exchange, body = rc.answer(gates.whoami)
    if body["apiClientId"] != rc.settings.client_id:
        raise expect.fail("The token belongs to another API client",
                          expected=f"apiClientId {rc.settings.client_id!r} (RC_CLIENT_ID)",
                          actual=f"apiClientId {body['apiClientId']!r}",
                          clause=OWN_CLIENT,
                          exchange=exchange)


def _no_authorization(rc: RunContext) -> Exchange:
    return rc.client.request("GET", "/api/core/whoami", label="whoami: no Authorization",
                             wrong_credential=True)


@check("RC-WHOAMI-05", clause=NO_TOKEN, ahead=_no_authorization)
def test_missing_token_gives_401_core_error(rc: RunContext) -> None:
    """A CORE call without an Authorization header gets 401 with the CORE error wrapper and a
    requestId."""
    exchange = rc.answer(_no_authorization)
    expect.core_error(exchange, 401, None, clause=NO_TOKEN,
                      title="A CORE call without a token was not refused with 401")


def _malformed(rc: RunContext) -> Exchange:
    return rc.core("GET", "/api/core/whoami", label="whoami: malformed Authorization",
                   bearer="Bearer", wrong_credential=True)


@check("RC-WHOAMI-06", clause=MALFORMED_TOKEN, ahead=_malformed)
def test_malformed_token_gives_401_core_error(rc: RunContext) -> None:
    """A malformed Authorization header (not a Bearer token) gets 401 with the CORE error
    wrapper."""
    exchange = rc.answer(_malformed)
    expect.core_error(exchange, 401, None, clause=MALFORMED_TOKEN,
                      title="A malformed Authorization header was not refused with 401")


def _invalid_token(rc: RunContext) -> Exchange:
    return rc.core("GET", "/api/core/whoami", label="whoami: invalid token",
                   bearer="Bearer rc_check_invalid_token_0000000000", wrong_credential=True)


@check("RC-WHOAMI-07", clause=INVALID_TOKEN, ahead=_invalid_token)
def test_invalid_token_gives_401_core_error(rc: RunContext) -> None:
    """An unknown bearer token gets 401 with the CORE error wrapper and a requestId."""
    exchange = rc.answer(_invalid_token)
    expect.core_error(exchange, 401, None, clause=INVALID_TOKEN,
                      title="An invalid bearer token was not refused with 401")


def _not_issued(rc: RunContext, case: BearerCase) -> Exchange:
    """The case's one CORE request (a skip when no token was issued to derive it from)."""
    token = rc.tokens.current()
    if token is None:
        skip(SkipCode.PREMISE, "no token was issued; stage 1 reports why",
             short="no token was issued")
    header = case.build(token.value, rc.settings.client_id, rc.settings.client_secret)
    for value in derived_secrets(header):
        rc.secrets.add(value)
    return rc.core("GET", "/api/core/whoami", label=f"whoami: {case.name}", bearer=header,
                   wrong_credential=True)


@cases("case", BEARER_CASES, clause=NOT_ISSUED, ahead=_not_issued)
def test_core_refuses_what_is_not_an_issued_token(rc: RunContext, case: BearerCase) -> None:
    """A CORE call without an issued bearer token gets 401 with the CORE error wrapper.

    Authorization that is not 'Bearer <an issued token>' is refused: one request per case
    (the issued token with one character changed, cut short, extended, or under the Basic
    scheme; the client secret as a bearer token; HTTP Basic client credentials).

    Graded fail: the reference authorizes CORE routes with BearerAuth (the token issued by
    the token endpoint), and the guide lists an invalid token and a malformed Authorization
    header as what makes /whoami fail."""
    exchange = rc.answer(_not_issued, case)
    expect.refused(exchange, sent=case.statement, reveals=case.reveals, clause=NOT_ISSUED,
                   title="A CORE route accepted a credential that is not an issued token")
    expect.core_error(exchange, 401, None, clause=NOT_ISSUED,
                      title="A credential that is not an issued token was not refused "
                            "with 401")


@check("RC-WHOAMI-14", clause=REQUEST_IDS)
def test_request_ids_identify_one_request(rc: RunContext) -> None:
    """Every CORE error the run has received carries its own requestId: no two requests
    share one.

    Graded fail for the CORE wrapper's requestId: the guide makes it the value support
    uses to find the one request being escalated, which a shared value cannot do. A
    request-id response header shared by two requests is a warning: the docs do not
    mention the header. Looks at every exchange of the run so far; when fewer than two
    CORE errors were received, two requests without Authorization are made to compare."""
    errors = [e for e in rc.recorder.all() if body_request_id(e)]
    if len(errors) < 2:
        errors = [rc.client.request("GET", "/api/core/whoami", wrong_credential=True,
                                    label=f"whoami: no Authorization, for a requestId ({n})")
                  for n in (1, 2)]
        for exchange in errors:
            expect.core_error(exchange, 401, None, clause=REQUEST_IDS,
                              title="A CORE call without a token was not refused with 401")
    exchanges = rc.recorder.all()
    shared = shared_ids((rid, n) for n, e in enumerate(exchanges)
                        if (rid := body_request_id(e)))
    if shared:
        rid, owners = next(iter(shared.items()))
        first = next(e for e in exchanges if body_request_id(e) == rid)
        raise expect.fail("Two requests were answered with the same requestId",
                          expected="a distinct requestId for every request",
                          actual=f"{len(owners)} requests share requestId {rid!r}"
                                 + (f" (+{len(shared) - 1} more shared ids)"
                                    if len(shared) > 1 else ""),
                          clause=REQUEST_IDS, exchange=first, shared=len(shared))
    headers = shared_ids((rid, n) for n, e in enumerate(exchanges)
                         if (rid := header_request_id(e)))
    if headers:
        rid, owners = next(iter(headers.items()))
        rc.warn("Two responses carry the same request-id header",
                f"{len(owners)} requests were answered with the request-id header {rid!r}; "
                "the docs do not document the header, but support cannot tell the requests "
                "apart by it.", ESCALATION, stage="whoami")
