"""Assertions the checks use. Each raises a typed `CheckFailure` naming the clause.

Helpers hide their own frames (`__tracebackhide__`), so a failure points at the check.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from redcloud_check.core.errors import CheckFailure
from redcloud_check.core.exchange import Exchange
from redcloud_check.core.models import Cause
from redcloud_check.rules import number_causes, schemas


def _snippet(exchange: Exchange, limit: int = 300) -> str:
    text = exchange.response_body[:limit].decode("utf-8", "replace")
    return text + ("…" if len(exchange.response_body) > limit else "")


def fail(title: str, *, expected: str, actual: str, clause: str,
         exchange: Exchange | None = None, cause: Cause | None = None,
         **details: Any) -> CheckFailure:
    """Build a CheckFailure (raise it). `cause`: what the check itself established."""
    return CheckFailure(title=title, expected=expected, actual=actual, clause=clause,
                        exchange=exchange, cause=cause, details=details)


def status(exchange: Exchange, expected: int | Collection[int], *, clause: str,
           title: str) -> None:
    """The response status is `expected` (one code or a set of codes)."""
    __tracebackhide__ = True
    codes = {expected} if isinstance(expected, int) else set(expected)
    if exchange.status in codes:
        return
    want = " or ".join(str(c) for c in sorted(codes))
    actual = f"HTTP {exchange.status}"
    if exchange.status is not None and 300 <= exchange.status < 400:
        actual += f" redirect to {exchange.header('Location', '?')}"
    body = exchange.json_or_none()
    if isinstance(body, dict):
        err = body.get("error")
        code = err.get("code") if isinstance(err, dict) else err
        if code:
            actual += f" {code}"
    elif exchange.response_body:
        actual += f", body: {_snippet(exchange, 120)!r}"
    raise fail(title, expected=f"HTTP {want}", actual=actual, clause=clause, exchange=exchange)


def json_content_type(exchange: Exchange, *, clause: str) -> None:
    """The response declares and carries JSON."""
    __tracebackhide__ = True
    ctype = exchange.content_type.split(";")[0].strip().lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise fail("Response is not declared as JSON", expected="Content-Type: application/json",
                   actual=f"Content-Type: {exchange.content_type or '(none)'}", clause=clause,
                   exchange=exchange)


def json_body(exchange: Exchange, *, clause: str) -> Any:
    """The decoded JSON body; a typed failure when it is not JSON."""
    __tracebackhide__ = True
    try:
        return exchange.json()
    except (ValueError, UnicodeDecodeError):
        raise fail("Response body is not JSON", expected="a JSON body",
                   actual=f"{len(exchange.response_body)} bytes: {_snippet(exchange)!r}",
                   clause=clause, exchange=exchange) from None


def matches_schema(instance: Any, name: str, *, clause: str, exchange: Exchange | None = None,
                   title: str | None = None) -> None:
    """`instance` validates against schemas/<name>.schema.json."""
    __tracebackhide__ = True
    violations = schemas.errors(name, instance)
    if violations:
        shown = "; ".join(f"{v.path or '/'}: {v.message}" for v in violations[:5])
        more = f" (+{len(violations) - 5} more)" if len(violations) > 5 else ""
        raise fail(title or f"Response does not match the {name} schema",
                   expected=f"a document valid against schemas/{name}.schema.json",
                   actual=shown + more, clause=clause, exchange=exchange,
                   violations=[{"path": v.path, "message": v.message} for v in violations])


def json_response(exchange: Exchange, code: int | Collection[int], schema: str, *,
                  clause: str, title: str) -> Any:
    """Status, JSON content type and schema in one step; returns the body."""
    __tracebackhide__ = True
    status(exchange, code, clause=clause, title=title)
    json_content_type(exchange, clause=clause)
    body = json_body(exchange, clause=clause)
    matches_schema(body, schema, clause=clause, exchange=exchange)
    return body


def core_error(exchange: Exchange, code: int | Collection[int], error_code: str | None, *,
               clause: str, title: str) -> dict[str, Any]:
    """A CORE error: the status, the CORE error wrapper, the error code and a requestId."""
    __tracebackhide__ = True
    body = json_response(exchange, code, "core_error", clause=clause, title=title)
    got = body["error"]["code"]
    if error_code is not None and got != error_code:
        raise fail(title, expected=f"error.code {error_code}", actual=f"error.code {got}",
                   clause=clause, exchange=exchange)
    return dict(body)


def oauth_error(exchange: Exchange, code: int | Collection[int], *, clause: str,
                title: str) -> dict[str, Any]:
    """An OAuth-style error body (not the CORE wrapper) with the given status (or one of)."""
    __tracebackhide__ = True
    status(exchange, code, clause=clause, title=title)
    json_content_type(exchange, clause=clause)
    body = json_body(exchange, clause=clause)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        raise fail("Token endpoint answered with the CORE error wrapper",
                   expected='an OAuth-style body {"error": "<code>", "error_description": ...}',
                   actual=f"CORE wrapper with error.code {body['error'].get('code')}",
                   clause="3-api-reference-0.2.0.txt, Authentication: OAuth-style error bodies",
                   exchange=exchange)
    matches_schema(body, "oauth_error", clause=clause, exchange=exchange)
    return dict(body)


def refused(exchange: Exchange, *, sent: str, reveals: str, clause: str,
            title: str) -> None:
    """A request carrying a credential that is not the right one was not served: any 2xx
    fails, naming what was `sent` and the bug that serving it `reveals`."""
    __tracebackhide__ = True
    if exchange.status is not None and 200 <= exchange.status < 300:
        raise fail(title, expected="a refusal (4xx): the credential is not the right one",
                   actual=f"HTTP {exchange.status} for {sent}; this suggests {reveals}",
                   clause=clause, exchange=exchange)


def usable_number(exchange: Exchange, numbers: list[dict[str, Any]], number_id: str, *,
                  clause: str) -> dict[str, Any]:
    """The `number_id` entry of /api/core/numbers, listed, ACTIVE and smsEnabled. A failure
    carries its side: RC_NUMBER_ID's (integration), or the API's when the list itself is
    off (phone numbers as numberIds, a flag that is not a boolean)."""
    __tracebackhide__ = True
    found = next((n for n in numbers if n.get("numberId") == number_id), None)
    if found is None:
        listed = ", ".join(str(n.get("numberId")) for n in numbers[:10]) or "none"
        raise fail("RC_NUMBER_ID is not assigned to this API client",
                   expected=f"numberId {number_id!r} in /api/core/numbers",
                   actual=f"listed numberIds: {listed}", clause=clause, exchange=exchange,
                   cause=number_causes.not_listed(exchange, numbers, number_id))
    if not number_causes.can_send(found):
        problems = [] if found.get("status") == "ACTIVE" else [f"status {found.get('status')!r}"]
        if found.get("smsEnabled") is not True:
            problems.append(f"smsEnabled {found.get('smsEnabled')!r}")
        raise fail(f"Number {number_id} cannot send SMS",
                   expected="status ACTIVE and smsEnabled true",
                   actual=", ".join(problems), clause=clause, exchange=exchange,
                   cause=number_causes.not_usable(exchange, numbers, found, clause))
    return dict(found)
