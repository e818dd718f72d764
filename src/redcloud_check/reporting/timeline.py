"""The run's timeline as evidence: what the run saw before a failure, each fact citing the
exchange it rests on (its requestId, or its time and endpoint).

    cite(exchange), quote(exchange) re-exported from core.citation
    token_refused_early(ex, seen)   the run's own bearer token refused by a CORE route before
                                    its expires_in: when it was issued, where it was accepted
                                    since, and the refusal (None when that is not what
                                    happened)
    pair_accepted_before(ex, seen)  the token request that issued a token for the same
                                    credentials earlier in the run, if one did

Plain functions over the recorded exchanges; no pytest, no rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redcloud_check.core.citation import cite, quote
from redcloud_check.core.exchange import Exchange

__all__ = ["TokenRefusal", "cite", "pair_accepted_before", "quote", "token_refused_early"]

TOKEN_PATH = "/api/auth/token"


def _bearer(exchange: Exchange) -> str | None:
    value = next((v for k, v in exchange.request_headers.items()
                  if k.lower() == "authorization"), "")
    scheme, _, token = value.partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def _issued(exchange: Exchange) -> tuple[str, float] | None:
    """(access_token, expires_in) of a token response that issued one."""
    if exchange.path != TOKEN_PATH or exchange.status != 200:
        return None
    body = exchange.json_or_none()
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        return None
    expires = body.get("expires_in")
    return body["access_token"], float(expires) if isinstance(expires, int | float) else 3600.0


@dataclass(frozen=True, slots=True)
class TokenRefusal:
    """The run's token, refused before its expires_in."""

    issued: Exchange
    expires_in: float
    accepted: tuple[Exchange, ...]  # CORE calls that accepted it before the refusal
    refused: Exchange

    @property
    def age_s(self) -> float:
        return round(self.refused.started_at - self.issued.started_at, 3)

    def evidence(self) -> tuple[str, ...]:
        lines = [cite(self.issued, f"HTTP 200, a token issued with expires_in "
                                   f"{self.expires_in:g}")]
        if self.accepted:
            last = self.accepted[-1]
            lines.append(cite(last, f"HTTP {last.status}: the same token accepted"
                                    + (f" ({len(self.accepted)} calls in all)"
                                       if len(self.accepted) > 1 else "")))
        lines.append(cite(self.refused) + f": the same token refused {self.age_s:g} s after "
                     f"it was issued, {self.expires_in:g} s before it was due to expire")
        return tuple(lines)


def token_refused_early(failing: Exchange | None,
                        seen: Sequence[Exchange]) -> TokenRefusal | None:
    """`failing` is a 401 from a CORE route to the run's own bearer token (not a deliberately
    wrong one), refused before the expires_in it was issued with."""
    if failing is None or failing.status != 401 or failing.wrong_credential \
            or not failing.path.startswith("/api/core/"):
        return None
    token = _bearer(failing)
    if token is None:
        return None
    issued = next(((e, got[1]) for e in seen if (got := _issued(e)) is not None
                   and got[0] == token and e.started_at <= failing.started_at), None)
    if issued is None:
        return None
    exchange, expires_in = issued
    if failing.started_at - exchange.started_at >= expires_in:
        return None  # it had expired: the API was right to refuse it
    accepted = tuple(e for e in seen if e.path.startswith("/api/core/") and _bearer(e) == token
                     and e.status is not None and 200 <= e.status < 300
                     and exchange.started_at <= e.started_at <= failing.started_at)
    return TokenRefusal(exchange, expires_in, accepted, failing)


def _credentials(exchange: Exchange) -> tuple[str, ...]:
    """What identifies the client credentials a token request sent (Basic header, or the
    body's client_id and client_secret)."""
    basic = next((v for k, v in exchange.request_headers.items()
                  if k.lower() == "authorization" and v.lower().startswith("basic ")), None)
    if basic is not None:
        return ("basic", basic)
    from urllib.parse import parse_qs

    form = parse_qs((exchange.request_body or b"").decode("utf-8", "replace"))
    return ("body", *form.get("client_id", []), *form.get("client_secret", []))


def pair_accepted_before(refused: Exchange, seen: Sequence[Exchange]) -> Exchange | None:
    """The earlier token request of this run that issued a token for the very credentials
    `refused` sent, by the same scheme."""
    sent = _credentials(refused)
    return next((e for e in seen if e.started_at < refused.started_at
                 and _issued(e) is not None and _credentials(e) == sent), None)
