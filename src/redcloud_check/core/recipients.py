"""Recipients' phone numbers: personal data, masked in every shareable artifact.

A bundle is made to be pasted into a support ticket, and RC_TO is usually a person's
mobile. Every number the run saw as a recipient (RC_TO; a phone number in a request's `to`,
a result's or an error's `to`, an event's `data.to`: any `to` field of a request, a response
or a webhook body) is therefore masked by the one redaction (`core.redaction`), keeping the
country code and the last 4 digits: ``+14155550123`` becomes ``+1******0123``. Two numbers
of the run that share their last 4 digits keep as many more as tell them apart, so that a
``data.to`` mismatch stays explained. ``RC_SHARE_RECIPIENTS=1`` keeps them all in full.

The client's own numbers (the `e164` of the numbers the API lists) are not personal data.
When a recipient is one of them (the simulator's default RC_TO is num_abc123's number), it is
masked as a recipient everywhere but where it stands as the client's own number: the value
of an `e164`, `sendFrom` or `numberId` field (a JSON field in text too). A person's number
found in such a field is masked there as well: only the client's own numbers stay.

The redaction's mapping (value -> what) carries them under the labels below; the mask of a
labelled value is the masked number itself, never ``[redacted:<what>]``.

Public surface: `TO`, `RECIPIENT`, `TO_OWN`, `RECIPIENT_OWN`, `LABELS`, `OWN_LABELS`,
`OWN_NUMBER_FIELDS`, `is_phone_number`, `masked_numbers`, `recipients_in`,
`own_numbers_in`, `recipient_labels`, `RecipientBook`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from redcloud_check.core.exchange import Exchange

__all__ = ["LABELS", "OWN_LABELS", "OWN_NUMBER_FIELDS", "RECIPIENT", "RECIPIENT_OWN", "TO",
           "TO_OWN", "RecipientBook", "is_phone_number", "masked_numbers", "own_numbers_in",
           "recipient_labels", "recipients_in"]

TO = "to"  # RC_TO (its setting's name, as the secrets' labels are: curl writes ${RC_TO})
RECIPIENT = "recipient"  # any other number the run saw as a recipient
TO_OWN = "to_own_number"  # RC_TO, also one of the client's own numbers
RECIPIENT_OWN = "recipient_own_number"  # another recipient, also one of the client's numbers
LABELS = frozenset({TO, RECIPIENT, TO_OWN, RECIPIENT_OWN})
OWN_LABELS = frozenset({TO_OWN, RECIPIENT_OWN})
# Fields whose value is the client's own number (lowercased, as the redaction compares keys).
OWN_NUMBER_FIELDS = frozenset({"e164", "sendfrom", "numberid"})

KEPT_DIGITS = 4  # the last digits a mask keeps (more where two numbers share them)
HIDDEN_AT_LEAST = 3  # digits a mask always hides, however short the number
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}|[0-9]{7,15}")
# ITU-T E.164 country codes are prefix-free, 1 to 3 digits: 1 and 7 are whole codes; so
# are the two-digit ones, by first digit -> their second digits (20 and 27, 30 to 34, ...);
# every other code has three digits.
_TWO_DIGIT_CODES = {"2": "07", "3": "0123469", "4": "013456789", "5": "12345678",
                    "6": "0123456", "8": "1246", "9": "0123458"}
_NUMBERS_PATH = "/api/core/numbers"


def is_phone_number(value: object) -> bool:
    """An E.164 number of at least 7 digits, or 7 to 15 bare digits (a `to` the API may
    echo without its "+"): what could be a person's number."""
    return isinstance(value, str) and _PHONE.fullmatch(value) is not None


def _split(number: str) -> tuple[str, str]:
    """(what a mask keeps in front: "+" and the country code, the digits it may hide)."""
    if not number.startswith("+"):
        return "", number
    digits = number[1:]
    two = len(digits) > 1 and digits[1] in _TWO_DIGIT_CODES.get(digits[0], "")
    size = 1 if digits[0] in "17" else 2 if two else 3
    return "+" + digits[:size], digits[size:]


def _common_suffix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def masked_numbers(numbers: Iterable[str]) -> dict[str, str]:
    """Each number -> its mask: the country code, then the last 4 digits (more where another
    of `numbers` with the same country code and length ends the same way), every other
    digit a "*"; at least `HIDDEN_AT_LEAST` digits are always hidden (two short numbers that
    then still mask alike are told apart by a "#2" after the second one's mask)."""
    parts = {n: _split(n) for n in set(numbers)}
    out: dict[str, str] = {}
    for number, (front, digits) in parts.items():
        keep = KEPT_DIGITS
        for other, (other_front, other_digits) in parts.items():
            if other != number and other_front == front and len(other_digits) == len(digits):
                keep = max(keep, _common_suffix(digits, other_digits) + 1)
        keep = max(0, min(keep, len(digits) - HIDDEN_AT_LEAST))
        out[number] = front + "*" * (len(digits) - keep) + digits[len(digits) - keep:]
    # Short numbers that differ only in the digits a mask must hide still get masks apart:
    # the second and later of them (in sorted order) carry "#2", "#3" ...
    seen: dict[str, int] = {}
    for number in sorted(out):
        n = seen[out[number]] = seen.get(out[number], 0) + 1
        if n > 1:
            out[number] += f"#{n}"
    return out


def _walk(doc: Any, field: str) -> Iterator[Any]:
    """Every value of a `field` key anywhere in a JSON document (a list value: each item)."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key == field:
                yield from value if isinstance(value, list) else (value,)
            yield from _walk(value, field)
    elif isinstance(doc, list):
        for item in doc:
            yield from _walk(item, field)


def recipients_in(doc: Any) -> set[str]:
    """The phone numbers in any `to` field of a JSON document: a send's `to`, a result's or
    an error's `to`, an event's `data.to`."""
    return {v for v in _walk(doc, "to") if is_phone_number(v)}


def own_numbers_in(doc: Any) -> set[str]:
    """The phone numbers in any `e164` field of a JSON document (the numbers list)."""
    return {v for v in _walk(doc, "e164") if is_phone_number(v)}


def recipient_labels(to: str, seen: Iterable[str] = (), own: Iterable[str] = (), *,
                     share: bool = False) -> dict[str, str]:
    """The redaction's entries (number -> label) for RC_TO and the other recipients `seen`;
    `own`: the client's own numbers. Nothing with `share` (RC_SHARE_RECIPIENTS=1)."""
    if share:
        return {}
    mine = set(own)
    numbers = sorted({*seen, *([to] if is_phone_number(to) else [])})
    return {n: (TO_OWN if n in mine else TO) if n == to else
            (RECIPIENT_OWN if n in mine else RECIPIENT) for n in numbers}


def _json(body: bytes | None) -> Any:
    """A body's JSON document; None for one that is not JSON (a webhook body is anything
    the sender made it: nothing to read numbers from)."""
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


class RecipientBook:
    """The numbers one run saw as recipients, and the client's own numbers, read from its
    exchanges and webhook bodies as they come (each read once); thread-safe."""

    def __init__(self, to: str, *, share: bool = False) -> None:
        self.to, self.share = to, share
        self._seen: set[str] = set()
        self._own: set[str] = set()
        self._read: set[int] = set()  # id() of the exchanges and bodies already read,
        self._kept: list[object] = []  # which are kept alive: an id is never reused here
        self._lock = threading.Lock()

    def _first_time(self, item: object) -> bool:
        if id(item) in self._read:
            return False
        self._read.add(id(item))
        self._kept.append(item)
        return True

    def _read_exchange(self, exchange: Exchange) -> None:
        self._seen |= recipients_in(exchange.request_json())
        answer = exchange.json_or_none() if exchange.response_body else None
        self._seen |= recipients_in(answer)
        if exchange.path.startswith(_NUMBERS_PATH):
            self._own |= own_numbers_in(answer)

    def labels(self, exchanges: Iterable[Exchange] = (),
               bodies: Iterable[bytes] = ()) -> dict[str, str]:
        """The redaction's entries for every recipient seen so far (`exchanges`: the run's,
        `bodies`: its webhook deliveries' raw bodies); nothing with RC_SHARE_RECIPIENTS=1."""
        if self.share:
            return {}
        with self._lock:
            for exchange in exchanges:
                if self._first_time(exchange):
                    self._read_exchange(exchange)
            for body in bodies:
                if self._first_time(body):
                    self._seen |= recipients_in(_json(body))
            return recipient_labels(self.to, self._seen, self._own)
