"""Stage 3: assigned numbers (1-quickstart.txt Section 6; 3-api-reference numbers routes)."""

from __future__ import annotations

from typing import Any

from redcloud_check.context import RunContext, Shared
from redcloud_check.core.e164 import is_e164
from redcloud_check.core.exchange import Exchange
from redcloud_check.results.ledger import SkipCode
from redcloud_check.rules import expect, gates
from redcloud_check.rules.consistency import (
    assigned_counts,
    compare_counts,
    field_changes,
    nanp,
    search_mismatches,
    search_numbers,
)
from redcloud_check.rules.gates import NUMBER_USABLE, NUMBERS_LIST, STEP3, WHOAMI
from redcloud_check.rules.number_causes import NOT_PHONE, ids_are_phone_numbers
from redcloud_check.suite.declare import check, skip

SEARCH = "3-api-reference-0.2.0.txt, CORE: Search available numbers"
UPDATE = "3-api-reference-0.2.0.txt, CORE: Update number settings"
SEARCH_SHAPE = SEARCH + " (Request and Response samples)"
ROUND_TRIP = UPDATE + " (campaignregId preserves the implemented request spelling)"
UNOWNED_UPDATE = ("DESIGN.md contract: number not owned is 403 FORBIDDEN (update); " + UPDATE
                  + " (a number owned by the authenticated API client)")
COUNTS = WHOAMI + " (assigned-number summary) and " + NUMBERS_LIST
SEARCH_FILTERS = SEARCH + " (supported location and numbering filters)"
READ_BACK = UPDATE + " (Updates supported number settings) and " + NUMBERS_LIST
SAMPLE_SEARCH = {"npa": "555", "city": "Austin", "state": "TX"}  # the reference's sample
UPDATABLE = ("smsEnabled", "mmsEnabled", "webhookInboundOverride", "webhookDeliveryOverride")
NUMBER_FIELDS = ("numberId", "e164", "status", "campaignRegId", *UPDATABLE)

NOOP_UPDATE = Shared[tuple[dict[str, Any], dict[str, Any], Exchange]]("the no-op update")


@check("RC-NUMBERS-01", clause=NUMBER_USABLE, ahead=gates.number_usable)
def test_configured_number_is_usable(rc: RunContext) -> None:
    """RC_NUMBER_ID is among the client's numbers, ACTIVE and smsEnabled."""
    rc.answer(gates.number_usable)


@check("RC-NUMBERS-02", clause=NUMBERS_LIST + " (Response samples)")
def test_numbers_list_matches_schema(rc: RunContext) -> None:
    """GET /api/core/numbers returns JSON matching the documented number list shape."""
    _, numbers = gates.numbers(rc)  # the run's read of the list (the gate's)
    if not numbers:
        rc.warn("The client has no numbers", "/api/core/numbers returned an empty list.",
                STEP3, stage="numbers")


@check("RC-NUMBERS-03", clause=NOT_PHONE)
def test_number_ids_are_identifiers_not_phone_numbers(rc: RunContext) -> None:
    """Every numberId is a Red Cloud identifier, not an E.164 phone number."""
    exchange, numbers = gates.numbers(rc)
    phone_like = [n.get("numberId") for n in numbers if is_e164(n.get("numberId"))]
    if phone_like:
        raise expect.fail("numberId values look like phone numbers",
                          expected="identifiers such as num_abc123",
                          actual=f"numberId {phone_like[0]!r}" +
                                 (f" (+{len(phone_like) - 1} more)" if len(phone_like) > 1
                                  else ""),
                          clause=NOT_PHONE, exchange=exchange,
                          cause=ids_are_phone_numbers(exchange, numbers, NOT_PHONE))


def _sample_search(rc: RunContext) -> Exchange:
    request = dict(SAMPLE_SEARCH)
    expect.matches_schema(request, "search_request", clause=SEARCH_SHAPE,
                          title="The suite's own search request is invalid (suite bug)")
    return rc.core("POST", "/api/core/numbers/search", json=request, label="numbers: search")


@check("RC-NUMBERS-04", clause=SEARCH_SHAPE, ahead=_sample_search)
def test_search_returns_documented_shape(rc: RunContext) -> None:
    """POST /api/core/numbers/search with location filters returns groups,
    providerResultCount and requestedQuantity."""
    exchange = rc.answer(_sample_search)
    expect.json_response(exchange, 200, "search_response", clause=SEARCH_SHAPE,
                         title="Number search did not return the documented shape")


def _whoami_to_compare(rc: RunContext) -> tuple[Exchange, dict[str, Any]]:
    return gates.whoami(rc, "whoami: assignedNumbers to compare")


@check("RC-NUMBERS-05", clause=COUNTS, ahead=_whoami_to_compare)
def test_whoami_counts_match_the_numbers_list(rc: RunContext) -> None:
    """whoami's assignedNumbers (total, smsEnabledCount, mmsEnabledCount) counts at least
    the numbers GET /api/core/numbers lists, smsEnabled and mmsEnabled among them.

    Graded fail when whoami counts fewer than the list holds: both answers describe the
    numbers assigned to the client. Counting more is a warning only: the reference titles
    the list "List active numbers", so an assigned number that is not active may be
    counted by whoami and left out of the list."""
    who, context = rc.answer(_whoami_to_compare)
    exchange, numbers = gates.numbers(rc)  # the run's read of the list (the gate's)
    summary = context["assignedNumbers"]
    listed = assigned_counts(numbers)
    found = compare_counts(summary, listed)
    for more in found.warnings:
        rc.warn("whoami counts more numbers than the numbers list holds",
                f"assignedNumbers.{more.field} is {more.actual}; the list shows "
                f"{more.expected}. Assigned numbers that are not active may be left out of "
                "the list.", NUMBERS_LIST, stage="numbers")
    if found.failures:
        first = found.failures[0]
        raise expect.fail("whoami counts fewer numbers than the numbers list holds",
                          expected=f"assignedNumbers.{first.field} >= {first.expected} "
                                   "(counted from GET /api/core/numbers)",
                          actual=f"assignedNumbers.{first.field} = {first.actual!r}",
                          clause=COUNTS, exchange=who,
                          listed=listed, numbers_exchange=exchange.endpoint)


def _search(rc: RunContext, filters: dict[str, str], label: str,
            exchange: Exchange | None = None) -> tuple[Exchange, Any]:
    """A search for `filters` (made now unless its `exchange` is given), judged."""
    if exchange is None:
        exchange = rc.core("POST", "/api/core/numbers/search", json=filters, label=label)
    body = expect.json_response(exchange, 200, "search_response", clause=SEARCH,
                                title="Number search did not return the documented shape")
    found = search_mismatches(filters, body)
    for doubt in found.warnings:
        rc.warn("A search result names another location than the filter",
                f"{doubt.field} is {doubt.actual!r} for the filter {doubt.expected!r}; the "
                "docs do not document the group fields, so spelling may differ.", SEARCH,
                stage="numbers")
    if found.failures:
        first = found.failures[0]
        raise expect.fail("Number search returned numbers its filters exclude",
                          expected=f"{first.field} = {first.expected!r} (the filter asked)",
                          actual=f"{first.actual!r}" + (f" (+{len(found.failures) - 1} more)"
                                                        if len(found.failures) > 1 else ""),
                          clause=SEARCH_FILTERS, exchange=exchange, filters=filters,
                          mismatches=[m.describe() for m in found.failures[:10]])
    return exchange, body


def _by_own_npa(rc: RunContext) -> tuple[dict[str, str], Exchange]:
    """The first search: for the NPA of RC_NUMBER_ID's number (else the sample filters)."""
    own = nanp(str((rc.number or {}).get("e164", "")))
    filters = {"npa": own[0]} if own else dict(SAMPLE_SEARCH)
    return filters, rc.core("POST", "/api/core/numbers/search", json=filters,
                            label="numbers: search (cross-checked against its filters)")


@check("RC-NUMBERS-06", clause=SEARCH_FILTERS, ahead=_by_own_npa)
def test_search_results_match_the_filters(rc: RunContext) -> None:
    """A search returns only numbers its filters select, and a number it returned is found
    again by a search for that number's own NPA and NXX.

    The first search asks for the NPA of RC_NUMBER_ID's number (the documented sample
    filters when that is not a +1 number). A result whose npa/nxx/zipCode, or whose +1
    number's NPA/NXX, contradicts a filter fails: the reference states that search uses
    the filters. A result naming another city/state/rateCenter, and a known match missing
    from the narrower search (inventory changes as numbers are taken), are warnings."""
    filters, first = rc.answer(_by_own_npa)
    _, body = _search(rc, filters, first.label, first)
    known = next((n for n in search_numbers(body) if nanp(n)), None)
    if known is None:
        rc.warn("Search results could not be cross-checked",
                f"The search for {filters} returned no +1 numbers to search for again.",
                SEARCH, stage="numbers", severity="info")
        return
    npa, nxx = nanp(known) or ("", "")
    narrow = {"npa": npa, "nxx": nxx}
    _, again = _search(rc, narrow, "numbers: search for a known match's NPA and NXX")
    if known not in search_numbers(again):
        rc.warn("A number the search returned is missing from a narrower search",
                f"{known} was returned for {filters} but not for {narrow}; available "
                "inventory may have changed between the two searches.", SEARCH,
                stage="numbers")


def _noop_update(rc: RunContext) -> tuple[dict[str, Any], dict[str, Any], Exchange]:
    """The run's one no-op update of RC_NUMBER_ID: (the number as listed before it, the
    request, the exchange). Made once, so a run writes the number once."""
    def update() -> tuple[dict[str, Any], dict[str, Any], Exchange]:
        _, numbers = gates.numbers(rc)
        number = next((n for n in numbers if n.get("numberId") == rc.settings.number_id),
                      None)
        if number is None:
            skip(SkipCode.PREMISE, "RC_NUMBER_ID is not listed; the gate check reports it",
                 short="RC_NUMBER_ID is not listed")
        request: dict[str, Any] = {k: number[k] for k in UPDATABLE if k in number}
        request["campaignregId"] = number.get("campaignRegId")
        expect.matches_schema(request, "update_request", clause=UPDATE,
                              title="The suite's own update request is invalid (suite bug)")
        exchange = rc.core("PATCH", f"/api/core/numbers/{number['numberId']}", json=request,
                           label="numbers: no-op update round trip")
        return number, request, exchange
    return rc.shared(NOOP_UPDATE, update)


@check("RC-NUMBERS-07", clause=ROUND_TRIP, ahead=_noop_update)
def test_update_round_trip_reflects_campaignregid(rc: RunContext) -> None:
    """PATCH with the number's current values (a no-op) succeeds, and the request field
    campaignregId comes back as campaignRegId."""
    number, _, exchange = rc.answer(_noop_update)
    body = expect.json_response(exchange, 200, "number", clause=ROUND_TRIP,
                                title="A no-op number update was not accepted")
    changed = field_changes(number, body, (*UPDATABLE, "campaignRegId"))
    if changed:
        first = changed[0]
        raise expect.fail("The update response does not reflect the values written",
                          expected=f"{first.field} = {first.expected!r} (campaignregId is "
                                   "echoed as campaignRegId)",
                          actual=f"{first.field} = {first.actual!r}", clause=ROUND_TRIP,
                          exchange=exchange, changed=[c.field for c in changed])


def _read_back(rc: RunContext) -> tuple[dict[str, Any], dict[str, Any], Exchange,
                                         list[dict[str, Any]]]:
    """After the no-op update (accepted), the list read back: (the number as listed before,
    the update's answer, the list's exchange, the numbers)."""
    number, _, update = _noop_update(rc)
    answered = expect.json_response(update, 200, "number", clause=READ_BACK,
                                    title="A no-op number update was not accepted")
    exchange, numbers = gates.numbers(rc, "numbers: read back after the update", fresh=True)
    return number, answered, exchange, numbers


@check("RC-NUMBERS-08", clause=READ_BACK, ahead=_read_back, after=("RC-NUMBERS-07",))
def test_update_answer_is_what_is_read_back(rc: RunContext) -> None:
    """After the no-op update, GET /api/core/numbers lists the number exactly as the update
    answered it, and as it was before (nothing the run wrote changed it).

    Graded fail: the reference states that the update updates the number's settings and
    that the list returns the numbers as currently assigned, so both answers restate one
    stored state."""
    number, answered, exchange, numbers = rc.answer(_read_back)
    listed = next((n for n in numbers if n.get("numberId") == number["numberId"]), None)
    if listed is None:
        raise expect.fail("The updated number is no longer listed",
                          expected=f"numberId {number['numberId']!r} in /api/core/numbers",
                          actual="absent after the update", clause=READ_BACK,
                          exchange=exchange)
    differs = field_changes(answered, listed, NUMBER_FIELDS)
    if differs:
        first = differs[0]
        lost = field_changes(number, listed, NUMBER_FIELDS)
        restore = ("; the no-op update changed the number: restore " +
                   ", ".join(f"{m.field} = {m.expected!r}" for m in lost)) if lost else ""
        raise expect.fail("The number read back differs from what the update answered",
                          expected=f"{first.field} = {first.expected!r} (the update's answer)",
                          actual=f"{first.field} = {first.actual!r} (listed after it){restore}",
                          clause=READ_BACK, exchange=exchange,
                          differs=[m.describe() for m in differs])


def _update_unowned(rc: RunContext) -> Exchange:
    foreign = f"num_rccheck_not_owned_{rc.run_id[-6:]}"
    return rc.core("PATCH", f"/api/core/numbers/{foreign}", json={"smsEnabled": True},
                   label="numbers: update a number the client does not own")


@check("RC-NUMBERS-09", clause=UNOWNED_UPDATE, ahead=_update_unowned)
def test_update_of_unowned_number_is_forbidden(rc: RunContext) -> None:
    """PATCH on a numberId the client does not own is refused with 403 FORBIDDEN."""
    exchange = rc.answer(_update_unowned)
    if exchange.status == 404:
        rc.warn("Unknown numberId answered 404, not 403",
                "The docs do not say how an unknown numberId is answered; ownership of a "
                "foreign number could not be tested without one.", UPDATE, stage="numbers")
        return
    expect.core_error(exchange, 403, "FORBIDDEN", clause=UNOWNED_UPDATE,
                      title="Updating a number the client does not own was not refused")
