"""Cross-examination: two answers that restate the same state must agree.

Pure functions over decoded answers, testable without pytest or HTTP. Each returns what
disagrees, graded by what the docs say about it: a `Comparison` holds the contradictions
of a documented rule (the check fails on the first) and the disagreements the docs leave
open (the check reports them as warnings).

    field_changes(before, after, fields)   fields whose value differs between two readings
    assigned_counts(numbers)               whoami's assignedNumbers, recounted from a list
    compare_counts(whoami, listed)         whoami's summary vs the numbers list
    search_mismatches(filters, body)       search results that contradict the filters asked
    search_numbers(body)                   the E.164 numbers a search answer holds
    nanp(e164)                             (NPA, NXX) of a +1 number, else None
    body_request_id / header_request_id    the two places a requestId is answered
    shared_ids(pairs)                      ids that more than one operation received
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redcloud_check.core.e164 import is_e164
from redcloud_check.core.exchange import REQUEST_ID_HEADERS, Exchange

__all__ = ["Comparison", "Mismatch", "assigned_counts", "body_request_id", "compare_counts",
           "field_changes", "header_request_id", "nanp", "search_mismatches",
           "search_numbers", "shared_ids"]

COUNTS = ("total", "smsEnabledCount", "mmsEnabledCount")
NUMBERING_FILTERS = ("npa", "nxx", "zipCode")  # exact by nature: digits
LOCATION_FILTERS = ("city", "state", "rateCenter")  # names: spelling may differ
_NANP = re.compile(r"^\+1([2-9]\d{2})(\d{3})\d{4}$")


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One value that two answers (or an answer and its request) disagree on."""

    field: str
    expected: Any
    actual: Any

    def describe(self) -> str:
        return f"{self.field}: {self.expected!r} vs {self.actual!r}"


@dataclass(frozen=True, slots=True)
class Comparison:
    """Contradictions of a documented rule (fail) and open disagreements (warn)."""

    failures: tuple[Mismatch, ...] = ()
    warnings: tuple[Mismatch, ...] = ()


def field_changes(before: Mapping[str, Any], after: Mapping[str, Any],
                  fields: Iterable[str]) -> tuple[Mismatch, ...]:
    """The `fields` whose value in `after` differs from `before` (expected = before)."""
    return tuple(Mismatch(name, before.get(name), after.get(name)) for name in fields
                 if before.get(name) != after.get(name))


def assigned_counts(numbers: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """whoami's assignedNumbers summary as the numbers list implies it."""
    return {"total": len(numbers),
            "smsEnabledCount": sum(n.get("smsEnabled") is True for n in numbers),
            "mmsEnabledCount": sum(n.get("mmsEnabled") is True for n in numbers)}


def compare_counts(whoami: Mapping[str, Any], listed: Mapping[str, int]) -> Comparison:
    """whoami's assignedNumbers vs the counts of the numbers list.

    whoami counting fewer numbers than the list shows is a contradiction: every listed
    number is assigned. Counting more is only a doubt: the API reference titles the list
    "List active numbers", so assigned numbers that are not active may be left out of it.
    """
    fewer, more = [], []
    for name in COUNTS:
        said, seen = whoami.get(name), listed[name]
        if not isinstance(said, int) or said < seen:
            fewer.append(Mismatch(name, seen, said))
        elif said > seen:
            more.append(Mismatch(name, seen, said))
    return Comparison(tuple(fewer), tuple(more))


def nanp(e164: str) -> tuple[str, str] | None:
    """(NPA, NXX) of a North American (+1) E.164 number; None for any other string."""
    match = _NANP.match(e164)
    return (match.group(1), match.group(2)) if match else None


def search_numbers(body: Any) -> list[str]:
    """Every E.164 number in a search answer's groups (strings, or lists of strings)."""
    found: list[str] = []
    for group in _groups(body):
        for value in group.values():
            items = value if isinstance(value, list) else [value]
            found.extend(v for v in items if is_e164(v))
    return found


def search_mismatches(filters: Mapping[str, str], body: Any) -> Comparison:
    """Search results that contradict the filters they were asked for.

    The docs document the filters, not the shape of a group. A group field named like a
    numbering filter (npa, nxx, zipCode) or a +1 number whose NPA/NXX differs from the
    filter is a contradiction. A group field named like a location filter (city, state,
    rateCenter) that differs, ignoring case and surrounding space, is only a doubt: names
    may be spelled otherwise ("TX" / "Texas").
    """
    failures: list[Mismatch] = []
    warnings: list[Mismatch] = []
    for index, group in enumerate(_groups(body)):
        where = f"groups[{index}]"
        for name in NUMBERING_FILTERS:
            if name in filters and name in group and str(group[name]) != filters[name]:
                failures.append(Mismatch(f"{where}.{name}", filters[name], group[name]))
        for name in LOCATION_FILTERS:
            if name in filters and name in group and \
                    str(group[name]).strip().casefold() != filters[name].strip().casefold():
                warnings.append(Mismatch(f"{where}.{name}", filters[name], group[name]))
        for number in search_numbers({"groups": [group]}):
            parts = nanp(number)
            if parts is None:
                continue
            for name, value in zip(("npa", "nxx"), parts, strict=True):
                if name in filters and value != filters[name]:
                    failures.append(Mismatch(f"{where} number {number} ({name})",
                                             filters[name], value))
    return Comparison(tuple(failures), tuple(warnings))


def _groups(body: Any) -> list[dict[str, Any]]:
    groups = body.get("groups") if isinstance(body, dict) else None
    return [g for g in groups if isinstance(g, dict)] if isinstance(groups, list) else []


def body_request_id(exchange: Exchange) -> str | None:
    """requestId of a CORE error wrapper (the documented place), else None."""
    body = exchange.json_or_none()
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        rid = body.get("requestId")
        return rid if isinstance(rid, str) and rid else None
    return None


def header_request_id(exchange: Exchange) -> str | None:
    """A request-id response header (undocumented, but common), else None."""
    lowered = {k.lower(): v for k, v in exchange.response_headers.items()}
    return next((lowered[n] for n in REQUEST_ID_HEADERS if lowered.get(n)), None)


def shared_ids(pairs: Iterable[tuple[str, Hashable]]) -> dict[str, tuple[Hashable, ...]]:
    """Each id given to more than one operation, with those operations in first-seen order.

    `pairs` are (id, operation): the same pair twice is one operation seen twice (a replay),
    not a collision.
    """
    owners: dict[str, dict[Hashable, None]] = {}
    for ident, operation in pairs:
        owners.setdefault(ident, {})[operation] = None
    return {ident: tuple(ops) for ident, ops in owners.items() if len(ops) > 1}
