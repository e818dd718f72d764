"""Why RC_NUMBER_ID is not usable, and whose side that is on, from the numbers list itself.

    not_listed(exchange, numbers, number_id, clause)   RC_NUMBER_ID is not in the list
    not_usable(exchange, numbers, number, clause)      it is listed, not ACTIVE or not SMS
    ids_are_phone_numbers(exchange, numbers, clause)   the list gives E.164 numbers as ids

The list is the API's answer about this client: when it is itself off (phone numbers where
the docs say numberIds, a flag that is not a boolean), the API's side is proven by it; when
it is well formed and RC_NUMBER_ID is not a usable entry of it, RC_NUMBER_ID (the
integration's setting) is what to correct, and the numberIds to use instead are named.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redcloud_check.core.citation import cite
from redcloud_check.core.e164 import is_e164
from redcloud_check.core.exchange import Exchange
from redcloud_check.core.models import Cause
from redcloud_check.rules.stages import STAGES, stage_index

__all__ = ["NOT_PHONE", "can_send", "ids_are_phone_numbers", "not_listed", "not_usable",
           "usable_ids"]

# the clause, declared here once (rules.gates, whose STEP3 it extends, imports this module)
NOT_PHONE = "1-quickstart.txt, Section 6 — Step 3: Get Your Number (Use numberId, not the " \
            "E.164 phone number)"
GUIDE = STAGES[stage_index("numbers")].clause


def can_send(number: dict[str, Any]) -> bool:
    """The documented usable number: status ACTIVE and smsEnabled true."""
    return number.get("status") == "ACTIVE" and number.get("smsEnabled") is True


def usable_ids(numbers: Sequence[dict[str, Any]]) -> list[str]:
    return [str(n.get("numberId")) for n in numbers if can_send(n)]


def _use_instead(numbers: Sequence[dict[str, Any]]) -> str:
    usable = usable_ids(numbers)
    if not usable:
        return "none of the client's numbers is ACTIVE and smsEnabled: ask Red Cloud to " \
               "assign or enable one"
    return f"set RC_NUMBER_ID to a usable numberId: {', '.join(usable[:5])}"


def ids_are_phone_numbers(exchange: Exchange, numbers: Sequence[dict[str, Any]],
                          clause: str = NOT_PHONE) -> Cause | None:
    """The list gives E.164 phone numbers where the docs give numberIds: the API's side."""
    phones = [str(n.get("numberId")) for n in numbers if is_e164(str(n.get("numberId", "")))]
    if not phones:
        return None
    return Cause(
        "number-ids-are-phone-numbers",
        f"The numbers list gives E.164 phone numbers as numberId ({', '.join(phones[:3])}): "
        "the docs say a numberId is an identifier, not the phone number, so no numberId "
        "can be chosen from this list.",
        "Report it to Red Cloud with this bundle; RC_NUMBER_ID cannot be corrected until "
        "the list gives numberIds.", clause, "api",
        (cite(exchange, f"HTTP {exchange.status}: numberIds {', '.join(phones[:3])}"),))


def not_listed(exchange: Exchange, numbers: Sequence[dict[str, Any]], number_id: str
               ) -> Cause:
    phones = ids_are_phone_numbers(exchange, numbers)
    if phones is not None:
        return phones
    named = next((n for n in numbers if n.get("e164") == number_id), None)
    if named is not None:
        return Cause(
            "number-id-is-e164",
            f"RC_NUMBER_ID is the phone number {number_id}, not its numberId "
            f"{named.get('numberId')}.", f"Set RC_NUMBER_ID={named.get('numberId')} (the "
            "numberId of that number).", NOT_PHONE, "integration",
            (cite(exchange, f"HTTP {exchange.status}: {number_id} listed as numberId "
                            f"{named.get('numberId')}"),), "RC_NUMBER_ID")
    listed = ", ".join(str(n.get("numberId")) for n in numbers[:10]) or "none"
    return Cause(
        "number-not-listed",
        f"RC_NUMBER_ID {number_id!r} is not one of this client's numbers.",
        f"Correct RC_NUMBER_ID: {_use_instead(numbers)}.", GUIDE, "integration",
        (cite(exchange, f"HTTP {exchange.status}: numberIds listed: {listed}"),),
        "RC_NUMBER_ID")


def not_usable(exchange: Exchange, numbers: Sequence[dict[str, Any]],
               number: dict[str, Any], clause: str) -> Cause:
    flag = number.get("smsEnabled")
    if flag is not None and not isinstance(flag, bool):
        return Cause(
            "numbers-flag-not-boolean",
            f"The numbers list gives smsEnabled as {flag!r}, not a boolean: the documented "
            "number shape types it true/false.", "Report it to Red Cloud with this bundle.",
            clause, "api", (cite(exchange, f"HTTP {exchange.status}: smsEnabled {flag!r}"),))
    state = f"status {number.get('status')!r}, smsEnabled {flag!r}"
    return Cause(
        "number-not-usable",
        f"RC_NUMBER_ID {number.get('numberId')!r} is listed but cannot send SMS ({state}).",
        f"Use another number: {_use_instead(numbers)}; or have this one activated and "
        "enabled for SMS.", GUIDE, "integration",
        (cite(exchange, f"HTTP {exchange.status}: {number.get('numberId')} {state}"),),
        "RC_NUMBER_ID")
