"""What RC_NUMBER_ID names among the client's numbers, and the numberId to use instead.

    rows(exchange, listed) -> (NumberRow, ...)        every assigned number, usable or why not
    judge(exchange, listed, table, given) -> (NumberChoice, CheckFailure | None)

A number is usable when `rules.expect.usable_number` accepts it (ACTIVE and smsEnabled): the
rule is asked, never restated. RC_NUMBER_ID is judged against GET /api/core/numbers' answer:
usable; unset; an E.164 (the phone number of a listed number, whose numberId is named, or of
none); not listed (a numberId differing only in case or spaces is named); listed but not
usable. Every verdict but "usable" comes with a failure (`usable_number`'s when it names a
numberId) carrying a `Cause` that names RC_NUMBER_ID and the numberId to use; the first
usable number is suggested when RC_NUMBER_ID names none that can send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from redcloud_check.core.e164 import is_e164
from redcloud_check.core.errors import CheckFailure
from redcloud_check.core.exchange import Exchange
from redcloud_check.core.models import Cause
from redcloud_check.rules import expect
from redcloud_check.rules.gates import NUMBER_USABLE, STEP3
from redcloud_check.rules.number_causes import NOT_PHONE

__all__ = ["NumberChoice", "NumberRow", "Verdict", "judge", "rows"]

Verdict = Literal["usable", "unset", "e164", "unlisted", "not_usable"]

CHOOSE = STEP3 + " (Choose the numberId you want to send from)"
SETTING = "RC_NUMBER_ID"


@dataclass(frozen=True, slots=True)
class NumberRow:
    """One entry of GET /api/core/numbers, as doctor shows it."""

    number_id: str
    e164: str | None
    status: str | None
    sms_enabled: bool | None
    mms_enabled: bool | None
    delivery_override: str | None
    why_not: str | None = None  # why it cannot send SMS (usable_number's words); None: usable

    @property
    def usable(self) -> bool:
        return self.why_not is None


@dataclass(frozen=True, slots=True)
class NumberChoice:
    """What RC_NUMBER_ID names."""

    given: str  # as configured; "" when unset
    verdict: Verdict
    number_id: str | None = None  # the listed number it names (an E.164: the one with it)
    suggested: str | None = None  # the numberId to use instead; None when usable or none is


def _why_not(exchange: Exchange, number: dict[str, Any]) -> str | None:
    try:
        expect.usable_number(exchange, [number], str(number.get("numberId")),
                             clause=NUMBER_USABLE)
    except CheckFailure as failure:
        return failure.actual
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _flag(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def rows(exchange: Exchange, listed: Sequence[dict[str, Any]]) -> tuple[NumberRow, ...]:
    return tuple(NumberRow(
        number_id=str(n.get("numberId")), e164=_text(n.get("e164")),
        status=_text(n.get("status")), sms_enabled=_flag(n.get("smsEnabled")),
        mms_enabled=_flag(n.get("mmsEnabled")),
        delivery_override=_text(n.get("webhookDeliveryOverride")),
        why_not=_why_not(exchange, n)) for n in listed)


def _use(suggested: str | None, usable: Sequence[NumberRow]) -> str:
    """The next action's words for the numberId to use."""
    if suggested is None:
        return ("None of this client's numbers can send SMS: ask Red Cloud to activate one "
                "or enable SMS on it, then run redcloud-check doctor again.")
    others = [r.number_id for r in usable if r.number_id != suggested]
    more = f" (also usable: {', '.join(others[:5])})" if others else ""
    return f"Set RC_NUMBER_ID={suggested}{more}."


def _cause(cause_id: str, detail: str, next_action: str, clause: str,
           exchange: Exchange) -> Cause:
    shown = exchange.request_id or f"{exchange.endpoint} HTTP {exchange.status}"
    return Cause(cause_id, detail, next_action, clause, side="integration",
                 evidence=(f"GET /api/core/numbers ({shown}) lists the client's numbers",),
                 setting=SETTING)


def judge(exchange: Exchange, listed: Sequence[dict[str, Any]], table: Sequence[NumberRow],
          given: str) -> tuple[NumberChoice, CheckFailure | None]:
    """RC_NUMBER_ID (`given`, "" when unset) against the numbers list (`listed`, shown as
    `table`; see the module docstring): its verdict, and the failure when it is not usable."""
    usable = [r for r in table if r.usable]
    first = usable[0].number_id if usable else None
    if not given:
        failure = expect.fail(
            "RC_NUMBER_ID is not set", expected="a numberId from /api/core/numbers",
            actual="RC_NUMBER_ID unset", clause=CHOOSE, exchange=exchange)
        failure.cause = _cause("number-id-unset", f"RC_NUMBER_ID is not set; {len(usable)} "
                               f"of the client's {len(table)} numbers can send SMS.",
                               _use(first, usable), CHOOSE, exchange)
        return NumberChoice(given, "unset", suggested=first), failure
    if is_e164(given):
        choice, cause = _not_usable(exchange, table, given, usable, first)
        named = f", the E.164 of {choice.number_id}" if choice.number_id else ""
        failure = expect.fail("RC_NUMBER_ID is a phone number, not a numberId",
                              expected="a numberId from /api/core/numbers (sendFrom takes it)",
                              actual=f"{given!r}{named}", clause=NOT_PHONE, exchange=exchange,
                              cause=cause)
        return choice, failure
    try:
        expect.usable_number(exchange, list(listed), given, clause=NUMBER_USABLE)
    except CheckFailure as failure:
        choice, cause = _not_usable(exchange, table, given, usable, first)
        failure.cause = cause
        return choice, failure
    return NumberChoice(given, "usable", number_id=given), None


def _not_usable(exchange: Exchange, table: Sequence[NumberRow], given: str,
                usable: Sequence[NumberRow], first: str | None) -> tuple[NumberChoice, Cause]:
    if is_e164(given):
        match = next((r for r in table if r.e164 == given), None)
        if match is None:
            detail = (f"RC_NUMBER_ID holds the phone number {given}, not a numberId, and none "
                      "of the client's numbers has it.")
            return (NumberChoice(given, "e164", suggested=first),
                    _cause("number-id-is-e164", detail, _use(first, usable), NOT_PHONE,
                           exchange))
        detail = (f"RC_NUMBER_ID holds the phone number {given}, not a numberId: the API "
                  f"names that number {match.number_id}, and sendFrom takes the numberId.")
        suggested = match.number_id if match.usable else first
        if not match.usable:
            detail += f" {match.number_id} cannot send SMS ({match.why_not})."
        return (NumberChoice(given, "e164", number_id=match.number_id, suggested=suggested),
                _cause("number-id-is-e164", detail, _use(suggested, usable), NOT_PHONE,
                       exchange))
    row = next((r for r in table if r.number_id == given), None)
    if row is None:
        near = next((r for r in table if r.number_id.strip().lower() == given.strip().lower()),
                    None)
        suggested = near.number_id if near is not None and near.usable else first
        detail = f"RC_NUMBER_ID {given!r} is not among the client's {len(table)} numbers"
        detail += (f"; {near.number_id!r} is (numberIds are kept exactly as returned)."
                   if near is not None else ".")
        return (NumberChoice(given, "unlisted", suggested=suggested),
                _cause("number-id-not-assigned", detail, _use(suggested, usable),
                       NUMBER_USABLE, exchange))
    detail = f"{given} is the client's, but cannot send SMS ({row.why_not})."
    fix = f"{_use(first, usable)} Or ask Red Cloud to make {given} ACTIVE with SMS enabled."
    return (NumberChoice(given, "not_usable", number_id=given, suggested=first),
            _cause("number-not-usable", detail, fix, NUMBER_USABLE, exchange))
