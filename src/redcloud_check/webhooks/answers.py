"""Scripted answers: what the webhook listener answers each event's n-th delivery.

A receiver's answer decides what a sender does next (retry, give up), so the listener can
be told what to answer, per event:

    AnswerScript((503, 200))            every event: its 1st delivery 503, its 2nd and later 200
    AnswerScript((503, 200), events=1)  the first event only (RC_DELIVERY_SEMANTICS); every
                                        other event gets the listener's own answer

An event is its (messageId, eventType, sequence) when it has a string messageId and an
integer sequence, else its raw body (a delivery of the same bytes is the same event). The
n-th delivery of an event gets the n-th code; once the codes run out the last one repeats,
so ``503`` alone refuses an event for ever and ``503,200`` answers every retry 200 (the
choice a receiver that recovers makes). Only verified events are scripted: an unsigned or
unverifiable request gets the listener's verdict, never a scripted 2xx.

Public surface: `AnswerScript`, `Answers`, `parse_codes`, `REFUSE_ONE`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

__all__ = ["REFUSE_ONE", "AnswerScript", "Answers", "parse_codes"]

LOWEST, HIGHEST = 200, 599  # a receiver's answer: a final status (no 1xx)
# Answered without a body (RFC 9110: 204 and 304 have none; 205 must be empty).
NO_BODY = frozenset({204, 205, 304})


@dataclass(frozen=True, slots=True)
class AnswerScript:
    """The codes for an event's 1st, 2nd, ... delivery (the last repeats), for the first
    `events` distinct events (None: every event)."""

    codes: tuple[int, ...]
    events: int | None = None

    def __post_init__(self) -> None:
        if not self.codes or any(not LOWEST <= c <= HIGHEST for c in self.codes):
            raise ValueError(f"codes must be HTTP statuses {LOWEST}-{HIGHEST}: {self.codes}")


# RC_DELIVERY_SEMANTICS: the first event's first delivery is refused with 503, its retries
# are accepted, and every other event is answered as usual.
REFUSE_ONE = AnswerScript((503, 200), events=1)


def parse_codes(text: str) -> tuple[int, ...]:
    """`503,200` -> (503, 200); ValueError saying what is wrong."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise ValueError(f"expected comma-separated HTTP status codes, e.g. 503,200; got "
                         f"{text!r}")
    codes = []
    for part in parts:
        if not part.isdigit() or not LOWEST <= int(part) <= HIGHEST:
            raise ValueError(f"{part!r} is not an HTTP status code from {LOWEST} to {HIGHEST}")
        codes.append(int(part))
    return tuple(codes)


def event_key(event: dict[str, Any], raw_body: bytes) -> Hashable:
    """The event a delivery carries: (messageId, eventType, sequence), else its body."""
    message_id, sequence = event.get("messageId"), event.get("sequence")
    if isinstance(message_id, str) and message_id and isinstance(sequence, int) \
            and not isinstance(sequence, bool):
        return (message_id, str(event.get("eventType")), sequence)
    return hashlib.sha256(raw_body).digest()


class Answers:
    """Counts each event's deliveries and says what to answer; thread-safe."""

    def __init__(self, script: AnswerScript) -> None:
        self.script = script
        self._lock = threading.Lock()
        self._seen: dict[Hashable, int] = {}  # event -> deliveries so far

    def __repr__(self) -> str:
        return f"<Answers {','.join(map(str, self.script.codes))}>"

    def answer(self, event: dict[str, Any], raw_body: bytes) -> tuple[int, int] | None:
        """(the code to answer, which delivery of its event this is: 1, 2, ...), or None
        when the script does not cover the event (the listener answers as it would)."""
        key = event_key(event, raw_body)
        with self._lock:
            if key not in self._seen:
                limit = self.script.events
                if limit is not None and (len(self._seen) >= limit or not isinstance(key, tuple)):
                    return None  # past the scripted events; an event without an identity
                    #              is never the one RC_DELIVERY_SEMANTICS refuses
                self._seen[key] = 0
            self._seen[key] += 1
            nth = self._seen[key]
        codes = self.script.codes
        return codes[min(nth, len(codes)) - 1], nth
