"""Whose side a failure is on, and why: the run-level differential.

    attribute(problem, check_id, exchange, seen, diagnosis) -> Attribution

Decided from what the run proves, never guessed (DESIGN.md, Attribution):

* a cause the check established itself (`Cause`, with its side and evidence) leads;
* the run's timeline (`reporting.timeline`): the run's own token refused before its
  expires_in is the API's; a credential refused that was accepted earlier in the run is the
  API's; a refused pair never accepted is "unknown" (only the console can tell a wrong pair
  from an inactive client), naming RC_CLIENT_ID / RC_CLIENT_SECRET;
* a 404 on the token route that is not the API's error shape: no Red Cloud API at
  RC_BASE_URL (integration);
* the diagnosis' lead otherwise: "api-breaks-rule" (every likely cause ruled out by the
  run) is the API's, with what ruled them out; a guide entry carries its side, and its
  proof or what would decide it; for a check that is not a gate, with every gate up to its
  stage passed, the request is the docs' own case built with proven settings: the API's.
  Failures with the same defect (the same broken rule and answer, or the same endpoint,
  status and error code) share one root cause.

`Attribution.cause()` is the `Cause` a failure then carries, so that its bundle leads with
the same cause and side as the root cause it belongs to. Failures with the same `group`
are one root cause (`results.ledger.RunLedger.attribute`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from redcloud_check.core.errors import (
    CheckFailure,
    ConfigError,
    RateLimited,
    RedcloudCheckError,
    TargetUnreachable,
)
from redcloud_check.core.exchange import Exchange
from redcloud_check.core.models import Cause, Side
from redcloud_check.reporting.ruled_out import API_BREAKS_RULE
from redcloud_check.reporting.timeline import (
    cite,
    pair_accepted_before,
    quote,
    token_refused_early,
)
from redcloud_check.rules.stages import STAGES, stage_index

__all__ = ["Attribution", "attribute"]

TOKEN_CLAUSE = STAGES[stage_index("token")].clause  # the guide's section for each stage
CORE_AUTH = STAGES[stage_index("whoami")].clause
SETUP = "1-quickstart.txt, Section 3 — Prerequisites (base URL)"
PAIR = "RC_CLIENT_ID / RC_CLIENT_SECRET"


@dataclass(frozen=True, slots=True)
class Attribution:
    """A failure's root cause (a `Cause`: its side, evidence, and the setting to correct or
    what would decide it) and the group of failures it stands for."""

    cause: Cause
    group: str = ""  # failures of one group are one root cause (default: the cause's id)

    @property
    def key(self) -> str:
        return self.group or self.cause.id


def _attr(cause_id: str, side: Side, title: str, evidence: tuple[str, ...], next_action: str,
          clause: str = "", *, decide: str = "", setting: str | None = None,
          group: str = "") -> Attribution:
    return Attribution(Cause(cause_id, title, next_action, clause, side, evidence, setting,
                             decide), group)


def _from_cause(cause: Cause, exchange: Exchange | None) -> Attribution:
    if cause.evidence or exchange is None:
        return Attribution(cause)
    return Attribution(replace(cause, evidence=(cite(exchange),)))


def _client_credentials(exchange: Exchange) -> bool:
    """A well-formed token request: grant_type=client_credentials, the configured pair."""
    from urllib.parse import parse_qs

    form = parse_qs((exchange.request_body or b"").decode("utf-8", "replace"))
    return form.get("grant_type") == ["client_credentials"] and not exchange.wrong_credential


def _token_route(exchange: Exchange, seen: Sequence[Exchange]) -> Attribution | None:
    """A well-formed token request with the configured pair the API refused, or a token
    route that is not the API's."""
    if exchange.path != "/api/auth/token" or not _client_credentials(exchange):
        return None
    body = exchange.json_or_none()
    shaped = isinstance(body, dict) and ("error" in body or "access_token" in body)
    if exchange.status == 404 and not shaped:
        return _attr(
            "no-api-at-base-url", "integration",
            f"No Red Cloud API at RC_BASE_URL: {exchange.endpoint} answered HTTP 404 without "
            "the API's error shape", (cite(exchange, "HTTP 404, no OAuth or CORE error body"),),
            "Set RC_BASE_URL to the API host only (scheme, host and port): the suite adds "
            "/api/auth/token and /api/core/... itself.", SETUP, setting="RC_BASE_URL")
    if exchange.status not in (400, 401) or not shaped:
        return None
    earlier = pair_accepted_before(exchange, seen)
    if earlier is not None:
        return _attr(
            "credential-refused-after-accepted", "api",
            f"The token endpoint refused {PAIR} after issuing a token for the very same pair",
            (cite(earlier, "HTTP 200: a token issued for this pair"), cite(exchange)),
            "Report it to Red Cloud with this bundle: the same credentials were accepted "
            "earlier in this run, so they are right.", TOKEN_CLAUSE)
    said = quote(exchange)
    return _attr(
        "credentials-refused", "unknown",
        f"The token endpoint refused {PAIR}" + (f" ({said})" if said else ""),
        (cite(exchange),),
        f"Check {PAIR} against the Red Cloud console: the guide's likely causes are a wrong "
        "pair, or an inactive API client or parent account. The run sends no more token "
        "requests with this pair, so that an account with a lockout policy stays safe.",
        TOKEN_CLAUSE, decide="whether the pair is the one the Red Cloud console shows, and "
        "whether the client and its account are active: only the console (or Red Cloud "
        "support) can tell those apart", setting=PAIR)


def _shape(failure: CheckFailure, exchange: Exchange | None) -> Attribution | None:
    """The API's answer breaks the documented shape (a schema violation): the API's side,
    whatever the request was; one root cause per distinct violation, however many checks
    meet it."""
    violations = failure.details.get("violations")
    if not violations:
        return None
    found = "; ".join(f"{v['path'] or '/'}: {v['message']}" for v in violations[:3])
    cited = (cite(exchange),) if exchange is not None else ()
    return _attr(
        "answer-breaks-schema", "api", f"The API's answer breaks the documented shape: {found}",
        (*cited, "proof: the shape of an answer is the API's alone, whatever the request"),
        "Report it to Red Cloud with this bundle: the answer does not match the documented "
        "shape (the schema named in the clause).", failure.clause,
        group=f"answer-breaks-schema:{found}")


def _from_diagnosis(failure: CheckFailure | TargetUnreachable, diagnosis: Mapping[str, Any],
                    exchange: Exchange | None, proven: Sequence[str]) -> Attribution:
    lead = diagnosis["lead"]
    cited = (cite(exchange),) if exchange is not None else ()
    said = quote(exchange)
    answer = (f"{exchange.endpoint}:{exchange.status}:{exchange.error_code}"
              if exchange is not None else "")
    if lead["cause"] == API_BREAKS_RULE and isinstance(failure, CheckFailure):
        ruled = tuple(f"ruled out: {r}" for r in diagnosis.get("ruled_out", ()))
        return _attr(API_BREAKS_RULE, "api", f"{failure.title}: {failure.actual}",
                           (*cited, *ruled), lead["next_action"], lead["reference"],
                           group=f"{API_BREAKS_RULE}:{failure.title}:{failure.actual}")
    side = diagnosis.get("side", "unknown")
    symptom = f"{diagnosis['symptom']}" + (f" ({said})" if said else "")
    if side == "api":  # one defect, however many checks meet the same answer
        return _attr(lead["cause"], "api", symptom,
                           (*cited, f"proof: {diagnosis.get('proof')}"),
                           lead["next_action"], lead["reference"],
                           group=f"{lead['cause']}:{answer}")
    if proven and isinstance(failure, CheckFailure):
        title = f"{failure.title}" + (f" ({said})" if said else "")
        return _attr(
            lead["cause"], "api", title,
            (*cited, f"proof: the request is the docs' own case for this rule "
                     f"({failure.clause}); the settings it uses were proven by "
                     f"{', '.join(proven)} passing in this run"),
            "Report it to Red Cloud with this bundle: the request follows the docs and the "
            "run's settings were proven right.", failure.clause,
            group=f"{lead['cause']}:{answer}")
    return _attr(lead["cause"], side, symptom, cited, lead["next_action"],
                       lead["reference"], decide=diagnosis.get("decide", ""),
                       setting=diagnosis.get("setting") or None,
                       group=f"{lead['cause']}:{answer}")  # the same answer: one cause


def attribute(problem: BaseException, check_id: str, exchange: Exchange | None,
              seen: Sequence[Exchange], diagnosis: Mapping[str, Any],
              proven: Sequence[str] = ()) -> Attribution:
    """The attribution of one failure (`problem`, the exception that ended `check_id`),
    from its failing exchange, the exchanges the run made before it and its diagnosis.
    `proven`: for a check that is not its stage's gate, the gates up to its stage, when all
    of them passed (the settings its request uses are proven right); else empty."""
    if isinstance(problem, RateLimited):
        return _attr(
            "rate-limited", "unknown",
            f"The API rate-limited the run past RC_RETRY_BUDGET: {problem}",
            (cite(problem.exchange, f"HTTP {problem.exchange.status}, Retry-After "
                  f"{problem.exchange.header('Retry-After') or '(none)'}"),),
            "Run again later, or raise RC_RETRY_BUDGET: a rate limit is conformant, so this "
            "stage is inconclusive, not failed.", "DESIGN.md, rate limits",
            decide="whether the check passes once the API's rate limit allows the request")
    if isinstance(problem, ConfigError):
        return _attr("config-error", "integration", str(problem), (),
                           f"Fix {problem.setting} and run again.", setting=problem.setting)
    if isinstance(problem, RedcloudCheckError) and not isinstance(problem, TargetUnreachable):
        return _attr("tool-error", "tool",
                           f"redcloud-check could not do the check: {type(problem).__name__}",
                           (f"{type(problem).__name__}: {problem}",),
                           "Not a finding about the API: see the run's log; report it to the "
                           "redcloud-check maintainers if it is a bug of ours.",
                           group=f"tool-error:{type(problem).__name__}")
    if not isinstance(problem, CheckFailure | TargetUnreachable):
        return _attr("tool-error", "tool", f"A bug in redcloud-check: "
                           f"{type(problem).__name__}", (f"{type(problem).__name__}: {problem}",),
                           "Report it to the redcloud-check maintainers with the run's log; "
                           "it says nothing about the API.")
    cause = problem.cause if isinstance(problem, CheckFailure) else None
    if cause is not None:
        return _from_cause(cause, exchange)
    refusal = token_refused_early(exchange, seen)
    if refusal is not None:
        return _attr(
            "token-refused-before-expiry", "api",
            f"The API refused its own token {refusal.age_s:g} s after issuing it, with "
            f"expires_in {refusal.expires_in:g}" + (f" ({quote(refusal.refused)})"
                                                   if quote(refusal.refused) else ""),
            refusal.evidence(),
            "Report it to Red Cloud with this bundle: the token was refused long before the "
            "expires_in it was issued with; the credentials are right (it was issued).",
            CORE_AUTH)
    if exchange is not None and isinstance(problem, CheckFailure):
        token = _token_route(exchange, seen)
        if token is not None:
            return token
    if isinstance(problem, CheckFailure) and (shape := _shape(problem, exchange)) is not None:
        return shape
    return _from_diagnosis(problem, diagnosis, exchange, proven)
