"""Stage 3: assigned numbers (1-quickstart.txt Section 6; 3-api-reference numbers routes)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from redcloud_check.context import RunContext
from redcloud_check.core.exchange import Exchange
from redcloud_check.rules import expect

pytestmark = [pytest.mark.rc_stage("numbers")]

STEP3 = "1-quickstart.txt, Section 6 — Step 3: Get Your Number"
LIST = "3-api-reference-0.2.0.txt, CORE: List active numbers for the authenticated API client"
SEARCH = "3-api-reference-0.2.0.txt, CORE: Search available numbers"
UPDATE = "3-api-reference-0.2.0.txt, CORE: Update number settings"
E164 = re.compile(r"^\+?[1-9]\d{6,14}$")
UPDATABLE = ("smsEnabled", "mmsEnabled", "webhookInboundOverride", "webhookDeliveryOverride")


def _numbers(rc: RunContext) -> tuple[Exchange, list[dict[str, Any]]]:
    exchange = rc.core("GET", "/api/core/numbers", label="numbers: list")
    body = expect.json_response(exchange, 200, "numbers_list", clause=LIST,
                                title="GET /api/core/numbers did not return the number list")
    return exchange, list(body["numbers"])


@pytest.mark.rc_gate
@pytest.mark.rc_clause(STEP3 + " (Immediate success check)")
def test_configured_number_is_usable(rc: RunContext) -> None:
    """RC_NUMBER_ID is among the client's numbers, ACTIVE and smsEnabled."""
    exchange, numbers = _numbers(rc)
    found = expect.usable_number(exchange, numbers, rc.settings.number_id, clause=STEP3)
    rc.number = found


@pytest.mark.rc_clause(LIST + " (Response samples)")
def test_numbers_list_matches_schema(rc: RunContext) -> None:
    """GET /api/core/numbers returns JSON matching the documented number list shape."""
    _, numbers = _numbers(rc)
    if not numbers:
        rc.warn("The client has no numbers", "/api/core/numbers returned an empty list.",
                STEP3, stage="numbers")


@pytest.mark.rc_clause(STEP3 + " (Use numberId, not the E.164 phone number)")
def test_number_ids_are_identifiers_not_phone_numbers(rc: RunContext) -> None:
    """Every numberId is a Red Cloud identifier, not an E.164 phone number."""
    exchange, numbers = _numbers(rc)
    phone_like = [n.get("numberId") for n in numbers if E164.match(str(n.get("numberId", "")))]
    if phone_like:
        raise expect.fail("numberId values look like phone numbers",
                          expected="identifiers such as num_abc123",
                          actual=f"numberId {phone_like[0]!r}" +
                                 (f" (+{len(phone_like) - 1} more)" if len(phone_like) > 1
                                  else ""),
                          clause=STEP3, exchange=exchange)


@pytest.mark.rc_clause(SEARCH + " (Request and Response samples)")
def test_search_returns_documented_shape(rc: RunContext) -> None:
    """POST /api/core/numbers/search with location filters returns groups,
    providerResultCount and requestedQuantity."""
    request = {"npa": "555", "city": "Austin", "state": "TX"}
    expect.matches_schema(request, "search_request", clause=SEARCH,
                          title="The suite's own search request is invalid (suite bug)")
    exchange = rc.core("POST", "/api/core/numbers/search", json=request,
                       label="numbers: search")
    expect.json_response(exchange, 200, "search_response", clause=SEARCH,
                         title="Number search did not return the documented shape")


@pytest.mark.rc_clause(UPDATE + " (campaignregId preserves the implemented request spelling)")
def test_update_round_trip_reflects_campaignregid(rc: RunContext) -> None:
    """PATCH with the number's current values (a no-op) succeeds, and the request field
    campaignregId comes back as campaignRegId."""
    _, numbers = _numbers(rc)
    number = next((n for n in numbers if n.get("numberId") == rc.settings.number_id), None)
    if number is None:
        pytest.skip("RC_NUMBER_ID is not listed; the gate check reports it")
    request: dict[str, Any] = {k: number[k] for k in UPDATABLE if k in number}
    request["campaignregId"] = number.get("campaignRegId")
    expect.matches_schema(request, "update_request", clause=UPDATE,
                          title="The suite's own update request is invalid (suite bug)")
    exchange = rc.core("PATCH", f"/api/core/numbers/{number['numberId']}", json=request,
                       label="numbers: no-op update round trip")
    body = expect.json_response(exchange, 200, "number", clause=UPDATE,
                                title="A no-op number update was not accepted")
    changed = {k: (number.get(k), body.get(k)) for k in (*UPDATABLE, "campaignRegId")
               if body.get(k) != number.get(k)}
    if changed:
        first = next(iter(changed))
        raise expect.fail("The update response does not reflect the values written",
                          expected=f"{first} = {changed[first][0]!r} (campaignregId is echoed "
                                   "as campaignRegId)",
                          actual=f"{first} = {changed[first][1]!r}", clause=UPDATE,
                          exchange=exchange, changed=list(changed))


@pytest.mark.rc_clause("DESIGN.md contract: number not owned is 403 FORBIDDEN (update)")
def test_update_of_unowned_number_is_forbidden(rc: RunContext) -> None:
    """PATCH on a numberId the client does not own is refused with 403 FORBIDDEN."""
    foreign = f"num_rccheck_not_owned_{rc.run_id[-6:]}"
    exchange = rc.core("PATCH", f"/api/core/numbers/{foreign}", json={"smsEnabled": True},
                       label="numbers: update a number the client does not own")
    if exchange.status == 404:
        rc.warn("Unknown numberId answered 404, not 403",
                "The docs do not say how an unknown numberId is answered; ownership of a "
                "foreign number could not be tested without one.", UPDATE, stage="numbers")
        return
    expect.core_error(exchange, 403, "FORBIDDEN", clause=UPDATE + " (a number owned by the "
                      "authenticated API client)",
                      title="Updating a number the client does not own was not refused")
