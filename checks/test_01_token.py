"""Stage 1: token acquisition (1-quickstart.txt Section 4; 3-api-reference Authentication)."""

from __future__ import annotations

from redcloud_check.context import RunContext
from redcloud_check.core.client import basic_header
from redcloud_check.core.errors import CheckFailure
from redcloud_check.core.exchange import Exchange
from redcloud_check.core.tokens import parse_token
from redcloud_check.results.ledger import SkipCode
from redcloud_check.rules import expect, gates
from redcloud_check.rules.credentials import TOKEN_CASES, TokenCase, derived_secrets
from redcloud_check.rules.gates import QUICKSTART
from redcloud_check.rules.stages import STAGES, stage_index
from redcloud_check.suite.declare import cases, check, skip

REF = "3-api-reference-0.2.0.txt, Authentication: Issue a bearer access token"
BODY_CREDENTIALS = QUICKSTART + " (curl using body credentials)"
TOKEN_SHAPE = REF + " (Response samples)"
OAUTH_ERRORS = REF + " (OAuth-style error bodies)"
GRANT_REQUIRED = REF + " (Request Body schema: grant_type required)"
GRANT_VALUE = REF + " (grant_type Value: client_credentials)"
TOKEN_AUTHORIZES = ("1-quickstart.txt, Section 4 (Explanation: the token authorizes every "
                    "Authorization: Bearer call)")
TROUBLE = STAGES[stage_index("token")].clause
NEAR_MISS = TROUBLE + " (Likely causes: invalid credentials)"


def _token_request(rc: RunContext, label: str, *, basic: bool, grant: str | None,
                   secret: str | None = None) -> Exchange:
    form: dict[str, str] = {}
    if grant is not None:
        form["grant_type"] = grant
    headers: dict[str, str] = {}
    client_secret = rc.settings.client_secret if secret is None else secret
    if basic:
        headers["Authorization"] = basic_header(rc.settings.client_id, client_secret)
    else:
        form["client_id"] = rc.settings.client_id
        form["client_secret"] = client_secret
    return rc.client.request("POST", "/api/auth/token", headers=headers, form=form, label=label,
                             wrong_credential=secret is not None)


@check("RC-TOKEN-01", clause=QUICKSTART, ahead=gates.token_issued)
def test_basic_credentials_issue_a_bearer_token(rc: RunContext) -> None:
    """A client_credentials request with HTTP Basic client authentication issues a token."""
    exchange, _ = rc.answer(gates.token_issued)
    cache = exchange.header("Cache-Control")
    if "no-store" not in cache.lower():
        rc.warn("Token response is cacheable",
                f"Cache-Control is {cache or 'absent'!r}; OAuth 2 (RFC 6749 5.1) asks for "
                "no-store on responses that carry tokens. The Red Cloud docs do not state it.",
                "RFC 6749 section 5.1 (not stated in the Red Cloud docs)", stage="token")


@check("RC-TOKEN-02", clause=BODY_CREDENTIALS, ahead=gates.body_token)
def test_body_credentials_issue_a_bearer_token(rc: RunContext) -> None:
    """A client_credentials request with client_id and client_secret in the body issues a token."""
    exchange = rc.answer(gates.body_token)  # shared with the gate's scheme check: asked once
    try:
        expect.json_response(exchange, 200, "token_response", clause=BODY_CREDENTIALS,
                             title="Body credentials did not issue a bearer token")
    except CheckFailure as failure:
        if exchange.status in (400, 401, 403):
            failure.cause = failure.cause or gates.scheme_refused(rc, exchange, basic=False)
        raise


@check("RC-TOKEN-03", clause=TOKEN_SHAPE)
def test_token_response_matches_schema(rc_pair: RunContext) -> None:
    """The token response is JSON with access_token, token_type bearer and a positive integer
    expires_in."""
    rc = rc_pair
    exchange, _ = gates.token_answer(rc)  # the run's token request (the gate's)
    body = expect.json_response(exchange, 200, "token_response", clause=TOKEN_SHAPE,
                                title="Token response does not match the documented shape")
    if body.get("expires_in") != 3600:
        rc.warn("Token lifetime differs from the docs",
                f"expires_in is {body.get('expires_in')!r}; the quickstart says tokens expire "
                "after 3600 seconds. Make sure the integration refreshes on its own schedule.",
                QUICKSTART, stage="token")


def _wrong_secret(rc: RunContext) -> Exchange:
    return _token_request(rc, "token: wrong client_secret", basic=False,
                          grant="client_credentials", secret="rc-check-wrong-secret")


@check("RC-TOKEN-04", clause=OAUTH_ERRORS, ahead=_wrong_secret)
def test_wrong_secret_gives_401_oauth_error(rc_pair: RunContext) -> None:
    """A wrong client_secret is refused with 401 and an OAuth-style error body, not the CORE
    error wrapper."""
    rc = rc_pair
    exchange = rc.answer(_wrong_secret)
    body = expect.oauth_error(exchange, 401, clause=OAUTH_ERRORS,
                              title="A wrong client_secret was not refused with 401")
    if body.get("error") != "invalid_client":
        rc.warn("Unexpected OAuth error code for bad credentials",
                f"error is {body.get('error')!r}; RFC 6749 names invalid_client.",
                "RFC 6749 section 5.2 (not stated in the Red Cloud docs)", stage="token")


def _near_miss(rc: RunContext, case: TokenCase) -> Exchange:
    """The case's one token request (a skip when the case does not apply)."""
    attempt = case.build(rc.settings.client_id, rc.settings.client_secret)
    if attempt is None:
        skip(SkipCode.NOT_APPLICABLE, f"not applicable to these credentials: {case.statement}",
             short="not applicable to these credentials")
    for value in derived_secrets(attempt):
        rc.secrets.add(value)
    headers = {"Authorization": attempt.authorization} if attempt.authorization else {}
    return rc.client.request("POST", "/api/auth/token", headers=headers,
                             form={"grant_type": "client_credentials", **attempt.form},
                             label=f"token: near-miss credential ({case.name})",
                             wrong_credential=True)


@cases("case", TOKEN_CASES, clause=NEAR_MISS, ahead=_near_miss)
def test_token_refuses_a_near_miss_credential(rc_pair: RunContext, case: TokenCase) -> None:
    """A near-miss credential is refused with 400 or 401 and an OAuth-style body.

    A credential that is not exactly the right pair issues no token: one request per case
    (a secret with a trailing character, in swapped case, empty, cut short in HTTP Basic,
    with an extra colon in HTTP Basic; another client_id with the right secret; id and
    secret swapped).

    Graded fail: the reference requires the client's client_id and client_secret and the
    guide names invalid credentials as what makes a token request fail; a near miss is an
    invalid credential. 400 (invalid_request) and 401 (invalid_client) both refuse. The
    cases are bounded (rules/credentials.py) so a run never locks the account."""
    exchange = rc_pair.answer(_near_miss, case)
    expect.refused(exchange, sent=case.statement, reveals=case.reveals, clause=NEAR_MISS,
                   title="A token was issued for a credential that is not the right pair")
    expect.oauth_error(exchange, (400, 401), clause=NEAR_MISS,
                       title="A near-miss credential was not refused with 400 or 401")


def _no_grant(rc: RunContext) -> Exchange:
    return _token_request(rc, "token: missing grant_type", basic=True, grant=None)


@check("RC-TOKEN-12", clause=GRANT_REQUIRED, ahead=_no_grant)
def test_missing_grant_type_gives_400_oauth_error(rc_pair: RunContext) -> None:
    """A token request without grant_type is refused with 400 and an OAuth-style body."""
    exchange = rc_pair.answer(_no_grant)
    expect.oauth_error(exchange, 400, clause=GRANT_REQUIRED,
                       title="A token request without grant_type was not refused with 400")


def _password_grant(rc: RunContext) -> Exchange:
    return _token_request(rc, "token: unsupported grant_type", basic=True, grant="password")


@check("RC-TOKEN-13", clause=GRANT_VALUE, ahead=_password_grant)
def test_unsupported_grant_type_gives_400_oauth_error(rc_pair: RunContext) -> None:
    """A grant_type other than client_credentials is refused with 400 and an OAuth-style body."""
    rc = rc_pair
    exchange = rc.answer(_password_grant)
    body = expect.oauth_error(exchange, 400, clause=GRANT_VALUE,
                              title="An unsupported grant_type was not refused with 400")
    if body.get("error") != "unsupported_grant_type":
        rc.warn("Unexpected OAuth error code for an unsupported grant",
                f"error is {body.get('error')!r}; RFC 6749 names unsupported_grant_type.",
                "RFC 6749 section 5.2 (not stated in the Red Cloud docs)", stage="token")


def _fresh_token_on_core(rc: RunContext) -> tuple[Exchange, Exchange | None]:
    """A fresh token, then whoami with it (it must authorize), then whoami with its scheme
    spelled 'bearer': that answer, and when it is a refusal, the control (whoami with
    'Bearer' again)."""
    exchange = _token_request(rc, "token: fresh token for a CORE call", basic=True,
                              grant="client_credentials")
    token = parse_token(exchange)
    if token is None:
        raise expect.fail("No token was issued", expected="HTTP 200 with an access_token",
                          actual=f"HTTP {exchange.status}", clause=TOKEN_AUTHORIZES,
                          exchange=exchange)
    whoami = rc.core("GET", "/api/core/whoami", label="whoami with the fresh token",
                     bearer=f"Bearer {token.value}")
    expect.status(whoami, 200, clause=TOKEN_AUTHORIZES,
                  title="A freshly issued token was refused by a CORE route")
    lower = rc.core("GET", "/api/core/whoami", label="whoami with the scheme spelled 'bearer'",
                    bearer=f"bearer {token.value}")
    if lower.status == 200:
        return lower, None
    # Only a difference is evidence: the same token under 'Bearer' again, right after. If
    # that is refused too, the token itself stopped working (not the scheme's spelling).
    return lower, rc.core("GET", "/api/core/whoami", label="whoami with 'Bearer' again "
                          "(control)", bearer=f"Bearer {token.value}")


@check("RC-TOKEN-14", clause=TOKEN_AUTHORIZES, ahead=_fresh_token_on_core)
def test_issued_token_works_on_a_core_route(rc_pair: RunContext) -> None:
    """A token just issued authorizes a CORE call (GET /api/core/whoami)."""
    rc = rc_pair
    lower, control = rc.answer(_fresh_token_on_core)
    if control is not None and control.status == 200:
        rc.warn("The token is refused under the scheme spelled 'bearer'",
                f"GET /api/core/whoami answered HTTP {lower.status} to 'Authorization: bearer "
                "<token>'. The token response names token_type 'bearer', and auth schemes "
                "are case-insensitive (RFC 7235 2.1); the docs only show 'Bearer'.",
                "RFC 7235 section 2.1 (not stated in the Red Cloud docs)", stage="token")
