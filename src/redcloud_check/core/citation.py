"""How evidence cites an exchange: by its requestId, or its time and endpoint, with what the
API said (its error code and message). Every root cause's evidence and every Cause a check
establishes cites exchanges this way."""

from __future__ import annotations

from redcloud_check.core.exchange import Exchange
from redcloud_check.core.timefmt import iso_utc

__all__ = ["cite", "quote"]


def quote(exchange: Exchange | None) -> str | None:
    """The API's error code and message, as it said them: `invalid_client: "..."`."""
    if exchange is None:
        return None
    code, message = exchange.error_code, exchange.error_message
    if message:
        return f'{code}: "{message}"' if code else f'"{message}"'
    return code


def cite(exchange: Exchange, what: str = "") -> str:
    """`POST /api/auth/token at 2026-...Z (requestId req_1): HTTP 401 invalid_client: "..."`,
    with `what` (what the exchange shows) in place of the status when given."""
    rid = exchange.request_id
    where = f"{exchange.endpoint} at {iso_utc(exchange.started_at)}"
    where += f" (requestId {rid})" if rid else ""
    if what:
        return f"{where}: {what}"
    if exchange.status is None:
        return f"{where}: no answer ({exchange.error_kind})"
    said = quote(exchange)
    return f"{where}: HTTP {exchange.status}" + (f" {said}" if said else "")
