"""CORE client-context and number routes: whoami, list, search, update.

Search is deterministic: each seeded inventory group matching every given filter (NPA, NXX,
zipCode exactly; city, state, rateCenter case-insensitively) is returned as
``{npa, nxx, city, state, zipCode, rateCenter, count, numbers: [E.164, ...]}``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from redcloud_check.simulator.auth import authenticate
from redcloud_check.simulator.responses import CoreError, json_object, json_response, runtime
from redcloud_check.simulator.seed import InventoryGroup, Number

SEARCH_FILTERS = ("npa", "nxx", "city", "state", "zipCode", "rateCenter")
REQUESTED_QUANTITY = 250
CANONICAL_NUMBER = "num_abc123"  # the number the list faults act on


async def whoami(request: Request) -> Response:
    """GET /api/core/whoami."""
    client = authenticate(request)
    state = runtime(request).state
    numbers = [] if state.has("whoami-no-numbers") else state.numbers_of(client.client_id)
    if state.has("whoami-count-mismatch"):
        numbers = [n for n in numbers if n.campaign_reg_id is not None]
    client_id = client.client_id
    if state.has("whoami-wrong-client-id"):
        with state.lock:
            client_id = next((c for c in state.clients if c != client.client_id),
                             client.client_id + "_other")
    body: dict[str, Any] = {
        "apiClientId": client_id,
        "apiClientName": client.name,
        "apiClientStatus": "SUSPENDED" if state.has("whoami-client-inactive") else client.status,
        "capabilities": list(client.capabilities),
        "assignedNumbers": {
            "total": len(numbers),
            "smsEnabledCount": sum(n.sms_enabled for n in numbers),
            "mmsEnabledCount": sum(n.mms_enabled for n in numbers),
        },
        "inboundWebhookConfigured": client.inbound_webhook_url is not None,
        "deliveryWebhookConfigured": client.delivery_webhook_url is not None,
    }
    if state.has("whoami-missing-capabilities"):
        del body["capabilities"]
    return json_response(body)


def _stored(entry: dict[str, Any], faults: frozenset[str]) -> dict[str, Any]:
    """A number as the API holds it: under number-not-active the canonical number is
    suspended in every answer (listed or updated), so the fault is one consistent state."""
    if entry["numberId"] == CANONICAL_NUMBER and "number-not-active" in faults:
        entry["status"] = "SUSPENDED"
    return entry


def _listed(number: Number, faults: frozenset[str]) -> dict[str, Any] | None:
    entry = _stored(number.as_json(), faults)
    if number.number_id == CANONICAL_NUMBER and "number-missing" in faults:
        return None
    if "numbers-sms-enabled-string" in faults:
        entry["smsEnabled"] = str(number.sms_enabled).lower()
    if "numbers-id-is-e164" in faults:
        entry["numberId"] = number.e164
    return entry


async def list_numbers(request: Request) -> Response:
    """GET /api/core/numbers."""
    client = authenticate(request)
    state = runtime(request).state
    with state.lock:
        entries = [_listed(n, state.faults) for n in state.numbers_of(client.client_id)]
    return json_response({"numbers": [e for e in entries if e is not None]})


def _matches(group: InventoryGroup, filters: dict[str, str], only_npa: bool = False) -> bool:
    if only_npa:
        filters = {k: v for k, v in filters.items() if k == "npa"}
    exact = {"npa": group.npa, "nxx": group.nxx, "zipCode": group.zip_code}
    loose = {"city": group.city, "state": group.state, "rateCenter": group.rate_center}
    return all(exact[k] == v for k, v in filters.items() if k in exact) and all(
        loose[k].casefold() == v.strip().casefold() for k, v in filters.items() if k in loose)


def _group_json(group: InventoryGroup) -> dict[str, Any]:
    return {"npa": group.npa, "nxx": group.nxx, "city": group.city, "state": group.state,
            "zipCode": group.zip_code, "rateCenter": group.rate_center, "count": group.count,
            "numbers": [f"+1{group.npa}{group.nxx}{(i * 1237 + 101) % 10000:04d}"
                        for i in range(group.count)]}


async def search_numbers(request: Request) -> Response:
    """POST /api/core/numbers/search."""
    authenticate(request)
    state = runtime(request).state
    body = await json_object(request)
    unknown = sorted(set(body) - set(SEARCH_FILTERS))
    if unknown:
        raise CoreError(400, "INVALID_REQUEST", f"Unknown search filter: {unknown[0]}")
    for key, value in body.items():
        if not isinstance(value, str):
            raise CoreError(400, "INVALID_REQUEST", f"Search filter {key} must be a string")
    only_npa = state.has("search-ignores-filter")
    groups = [_group_json(g) for g in state.inventory if _matches(g, body, only_npa)]
    if state.has("search-wrong-shape"):
        return json_response(groups)
    return json_response({"groups": groups,
                          "providerResultCount": sum(g["count"] for g in groups),
                          "requestedQuantity": REQUESTED_QUANTITY})


def _url_or_none(key: str, value: Any) -> str | None:
    """A webhook override: any string, or null. The docs' reference ("contract-accurate ...
    derived from the current implementation") types it "string or null" and states no URL
    rule, so none is imposed (docs/simulator.md, Contract notes); a value that is no loopback URL is
    simply never delivered to."""
    if value is None or isinstance(value, str):
        return value
    raise CoreError(400, "INVALID_REQUEST", f"{key} must be a string or null")


def _changes(body: dict[str, Any], _refuses_documented_spelling: bool = False
             ) -> dict[str, Any]:
    """Validated PATCH fields as Number attribute -> new value."""
    changes: dict[str, Any] = {}
    for key, value in body.items():
        if key == "campaignregId":
            if _refuses_documented_spelling:
                raise CoreError(400, "INVALID_REQUEST", "Unknown field: campaignregId")
            if value is not None and not isinstance(value, str):
                raise CoreError(400, "INVALID_REQUEST", "campaignregId must be a string or null")
            changes["campaign_reg_id"] = value
        elif key in ("smsEnabled", "mmsEnabled"):
            if not isinstance(value, bool):
                raise CoreError(400, "INVALID_REQUEST", f"{key} must be true or false")
            changes["sms_enabled" if key == "smsEnabled" else "mms_enabled"] = value
        elif key in ("webhookInboundOverride", "webhookDeliveryOverride"):
            attr = "webhook_inbound_override" if key == "webhookInboundOverride" \
                else "webhook_delivery_override"
            changes[attr] = _url_or_none(key, value)
        else:
            hint = " (the request field is spelled campaignregId)" \
                if key == "campaignRegId" else ""
            raise CoreError(400, "INVALID_REQUEST", f"Unknown field: {key}{hint}")
    return changes


async def update_number(request: Request) -> Response:
    """PATCH /api/core/numbers/{numberId}."""
    client = authenticate(request)
    state = runtime(request).state
    number_id = request.path_params["numberId"]
    with state.lock:
        number = state.numbers.get(number_id)
    owned = number is not None and number.owner == client.client_id
    if not owned and not state.has("update-unowned-allowed"):
        raise CoreError(403, "FORBIDDEN", f"Number {number_id} is not owned by this API client")
    changes = _changes(await json_object(request),
                       state.has("update-campaignregid-refused"))
    with state.lock:
        if number is None:  # only under update-unowned-allowed
            number = Number(number_id, client.client_id, "+15550000000", "ACTIVE", None,
                            True, True, None, None)
        if state.has("patch-ignored"):
            return json_response(_stored(dataclasses.replace(number, **changes).as_json(),
                                         state.faults))
        answer = _stored(number.as_json() if state.has("patch-answers-stale")
                         else dataclasses.replace(number, **changes).as_json(), state.faults)
        if state.has("update-drops-campaignregid") and "campaign_reg_id" in changes:
            changes["campaign_reg_id"] = None
        for attr, value in changes.items():
            setattr(number, attr, value)
        return json_response(answer)
