"""`redcloud-check doctor`: first contact in at most three requests; nothing sent or changed.

    run_doctor(settings) -> (DoctorResult, secrets to redact)

The requests are the stage gates' (`rules.gates`): POST /api/auth/token with HTTP Basic
(`token_issued`; when it is refused, the gate asks once with body credentials,
`scheme_refused`: the second and last refused token request, never replayed), GET
/api/core/whoami (`client_active`: the client's id, name and status) and GET /api/core/numbers
(`numbers`: every assigned number; what RC_NUMBER_ID names is `doctor_numbers`'). It stops at
the first failure, except an inactive client's: its numbers are still listed (RC_NUMBER_ID
is judged, the numberId to use named), and the client stays the problem it leads with. No
PATCH, no send, no journal recovery; the token is never refreshed
(`TokenProvider(refresh=False)`); redirects are not followed (the client's), so no request
leaves the configured target. With no RC_BASE_URL it asks the embedded simulator, started
in-process (`runner.open_target`).

A failure is a `Problem`: the check's failure and its diagnosis by the one pipeline
(`reporting.diagnosis`). Where doctor knows the setting at fault it attaches a `Cause`
naming it (credentials refused both ways: RC_CLIENT_SECRET; no API at RC_BASE_URL; an
inactive client: RC_CLIENT_ID; RC_NUMBER_ID), unless the gate established its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from redcloud_check.core.config import Settings
from redcloud_check.core.errors import CheckFailure, TargetUnreachable
from redcloud_check.core.exchange import Exchange
from redcloud_check.core.exit_codes import DOCTOR_EXIT_CODES
from redcloud_check.core.models import Cause
from redcloud_check.core.tokens import TokenProvider, parse_token
from redcloud_check.core.urls import without_userinfo
from redcloud_check.probe.doctor_numbers import NumberChoice, NumberRow, judge, rows
from redcloud_check.rules import gates
from redcloud_check.rules.schemas import errors as schema_errors
from redcloud_check.rules.stages import STAGES, stage_index

if TYPE_CHECKING:
    from redcloud_check.context import RunContext
    from redcloud_check.reporting.diagnosis import Diagnosis

__all__ = ["ClientInfo", "DoctorResult", "Problem", "Status", "run_doctor"]

Status = Literal["usable", "not_usable", "config_error", "unreachable"]
Stage = Literal["token", "whoami", "numbers"]

TOKEN_FAILS = STAGES[stage_index("token")].clause  # the guide's section for the token stage


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """The client context whoami gave."""

    client_id: str
    name: str
    status: str


@dataclass(frozen=True, slots=True)
class Problem:
    """Why the settings are not usable: the failed check, and its diagnosis."""

    stage: Stage
    title: str
    expected: str | None
    actual: str | None
    clause: str | None
    diagnosis: Diagnosis
    http_status: int | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class DoctorResult:
    status: Status
    target: str  # the base URL asked, without userinfo ("" before any target)
    embedded: bool
    requests: tuple[Exchange, ...] = ()  # every request made, in order
    client: ClientInfo | None = None
    numbers: tuple[NumberRow, ...] | None = None  # None: not listed
    number: NumberChoice | None = None
    problem: Problem | None = None
    error: str | None = None  # a configuration error, or the unreachable target: what, why
    duration_s: float = 0.0
    api_answered: bool = False  # the token route answered as the API does (token or refusal)
    token_issued: bool = False  # for RC_CLIENT_ID and RC_CLIENT_SECRET

    @property
    def exit_code(self) -> int:
        return int(DOCTOR_EXIT_CODES[self.status])


def config_error(message: str) -> DoctorResult:
    return DoctorResult(status="config_error", target="", embedded=False, error=message)


def _problem(rc: RunContext, stage: Stage, error: CheckFailure | TargetUnreachable,
             cause: Cause | None = None) -> Problem:
    """The failure diagnosed by the one pipeline; `cause` leads unless the check's own does."""
    from redcloud_check.reporting.diagnosis import diagnose
    from redcloud_check.reporting.ruled_out import facts_from

    made = rc.recorder.all()
    if isinstance(error, CheckFailure):
        error.cause = error.cause or cause
        exchange = error.exchange or (made[-1] if made else None)
        title, expected, actual, clause = error.title, error.expected, error.actual, error.clause
    else:
        exchange = None
        title, expected, actual, clause = (f"No HTTP answer ({error.kind})", None, error.detail,
                                           None)
    diagnosis = diagnose(error, stage=stage, exchange=exchange, timeout=rc.settings.timeout,
                         facts=facts_from(made, rc.settings.number_id))
    status = exchange.status if exchange is not None else None
    return Problem(stage, title, expected, actual, clause, diagnosis, status,
                   exchange.request_id if exchange is not None and status else None)


def _api_shaped(exchange: Exchange) -> bool:
    """The answer carries one of the API's error bodies (OAuth-style or the CORE wrapper)."""
    body = exchange.json_or_none()
    return body is not None and any(not schema_errors(name, body)
                                    for name in ("oauth_error", "core_error"))


def _token_cause(rc: RunContext, refused: Exchange) -> Cause | None:
    """What doctor knows of a token request that issued nothing: no API at RC_BASE_URL (a
    404 or 405 without the API's error body), or the credentials refused both ways."""
    if refused.status in (404, 405) and not _api_shaped(refused):
        return Cause(
            "no-api-at-base-url", f"POST /api/auth/token answered HTTP {refused.status} "
            f"without the API's error body: there is no Red Cloud API at RC_BASE_URL "
            f"({without_userinfo(rc.client.base_url)}).",
            "Check RC_BASE_URL: the API's host, without a path (the tool adds /api/...).",
            gates.QUICKSTART, side="integration", setting="RC_BASE_URL",
            evidence=(f"POST /api/auth/token: HTTP {refused.status}",))
    answers = [e for e in rc.recorder.all() if e.path == "/api/auth/token"]
    if len(answers) < 2 or any(e.status not in (400, 401, 403) for e in answers):
        return None  # a way that was not refused (a token, a 5xx): not the credentials
    said = "; ".join(f"{_way(e)}: HTTP {e.status} {e.error_code or ''}".rstrip()
                     for e in answers)
    return Cause(
        "credentials-refused", f"The token endpoint refused RC_CLIENT_ID "
        f"{rc.settings.client_id!r} with RC_CLIENT_SECRET both ways the API documents "
        f"({said}): the pair is not a valid, active API client.",
        "Check RC_CLIENT_SECRET (then RC_CLIENT_ID) against the Red Cloud portal; if both "
        "are right, ask Red Cloud whether the API client and its account are active. Not "
        "asked again: a third refused request could count toward a lockout.",
        TOKEN_FAILS, side="integration", setting="RC_CLIENT_SECRET",
        evidence=tuple(f"POST /api/auth/token ({_way(e)}): HTTP {e.status}" for e in answers))


def _way(token_request: Exchange) -> str:
    """How a token request sent the client credentials."""
    basic = any(k.lower() == "authorization" for k in token_request.request_headers)
    return "HTTP Basic" if basic else "in the body"


def _client(exchange: Exchange | None) -> ClientInfo | None:
    """The client context of a whoami answer that holds one (whatever its status)."""
    body = None if exchange is None or exchange.status != 200 else exchange.json_or_none()
    if body is None or schema_errors("whoami", body):
        return None
    return ClientInfo(body["apiClientId"], body["apiClientName"], body["apiClientStatus"])


def examine(rc: RunContext) -> DoctorResult:
    """The three requests against `rc`'s target, stopping at the first failure."""
    started = time.perf_counter()
    target = without_userinfo(rc.client.base_url)

    def done(status: Status, **found: object) -> DoctorResult:
        made = tuple(rc.recorder.all())
        tokens = [e for e in made if e.path == "/api/auth/token" and e.status is not None]
        issued = any(parse_token(e) is not None for e in tokens)
        return DoctorResult(status=status, target=target, embedded=rc.settings.embedded,
                            requests=made, duration_s=round(time.perf_counter() - started, 6),
                            api_answered=issued or any(_api_shaped(e) for e in tokens),
                            token_issued=issued, **found)  # type: ignore[arg-type]

    stage: Stage = "token"
    client: ClientInfo | None = None
    try:
        try:
            gates.token_issued(rc)
        except CheckFailure as failure:
            refused = failure.exchange or rc.recorder.all()[0]
            return done("not_usable", problem=_problem(rc, stage, failure,
                                                       _token_cause(rc, refused)))
        stage = "whoami"
        inactive: Problem | None = None
        try:
            gates.client_active(rc)
            client = _client(rc.recorder.all()[-1])
        except CheckFailure as failure:  # its cause (client-not-active) names RC_CLIENT_ID
            client = _client(failure.exchange)
            inactive = _problem(rc, stage, failure, None)
            if client is None:  # no client context: nothing to read the numbers for
                return done("not_usable", problem=inactive)
        stage = "numbers"  # read even for an inactive client: the numberId to use is shown
        try:
            exchange, listed = gates.numbers(rc)
        except CheckFailure as failure:
            return done("not_usable", client=client,
                        problem=inactive or _problem(rc, stage, failure))
    except TargetUnreachable as error:
        return done("unreachable", client=client, problem=_problem(rc, stage, error),
                    error=str(error))
    table = rows(exchange, listed)
    choice, unusable = judge(exchange, listed, table, rc.settings.number_id)
    problem = inactive or (None if unusable is None else _problem(rc, "numbers", unusable))
    return done("usable" if problem is None else "not_usable", client=client,
                numbers=table, number=choice, problem=problem)


def run_doctor(settings: Settings) -> tuple[DoctorResult, list[str]]:
    """Examine the configured target (or the embedded simulator, started for it); the
    result and every secret to redact from what is shown of it (the configured ones and
    the token the target issued). Raises HandlerError when the embedded simulator, code of
    ours, raised while serving: its answers are then no finding about the API."""
    from redcloud_check.context import RunContext
    from redcloud_check.probe.runner import open_target

    with open_target(settings) as (base_url, sim):
        rc = RunContext.create(settings, base_url)
        rc.tokens = TokenProvider(rc.client, settings, refresh=False)  # three requests at most
        try:
            result = examine(rc)
        finally:
            rc.client.close()
    if sim is not None:
        sim.check_handler_errors()
    return result, rc.secrets.values()
