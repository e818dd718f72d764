"""Delivery behaviour (RC_DELIVERY_SEMANTICS): what the API does with a delivery refused.

The listener answers the first delivery of one event 503 on purpose (`answers.REFUSE_ONE`)
and accepts what comes after. From the deliveries that arrived within the window
(RC_WEBHOOK_TIMEOUT after the last send), `observe` says:

    retried         true: the event came again. false: it did not, by the end of the window,
                    although the API went on to deliver the message's other events after
                    the refusal (it does not retry, or retries later than the window).
                    null: not observed: no retry, and the API did not move on either (it may
                    hold the message behind the refused delivery), or nothing was refused
    attempts        the event's deliveries until one was accepted, the refused one first
    delaysMs        between consecutive attempts (receipt times, ms)
    sameBody        every retry carries the refused delivery's exact bytes (null: no retry)
    sameSequence    every retry carries its sequence
    freshSignature  every retry has a new X-RedCloud-Timestamp, so a new signature: signed
                    afresh, not replayed

An attempt is a delivery naming the same messageId and eventType (an unverified one by what
its body claims). Graded info, never a failure: the docs are silent on retries. The refused
event never counts as missing (`counted`), and the message's events that did not come
behind an unretried refusal are not judged either (`held_behind`): the run caused that. A
retry that did come holds back what an API delivering in order sends next: the wait for
the lifecycle is extended by as long as the retry took (`delay_caused`).

Public surface: `DeliverySemantics`, `observe`, `retry_settled`, `delay_caused`, `counted`,
`held_behind`, `describe`, `issue`, `TITLE`, `CLAUSE`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redcloud_check.core.timefmt import iso_utc
from redcloud_check.rules.gates import STEP5
from redcloud_check.webhooks.delivery_view import claimed
from redcloud_check.webhooks.events import attributed_to
from redcloud_check.webhooks.listener import Delivery
from redcloud_check.webhooks.receipt import Issue

__all__ = ["CLAUSE", "TITLE", "DeliverySemantics", "counted", "delay_caused", "describe",
           "held_behind", "issue", "observe", "retry_settled"]

TITLE = "Delivery behaviour observed"
CLAUSE = (STEP5 + "; DESIGN.md: webhook duplicates (delivery is at least once); the docs "
          "are silent on retries")


@dataclass(frozen=True, slots=True)
class DeliverySemantics:
    retried: bool | None
    attempts: int
    delays_ms: tuple[int, ...]
    same_body: bool | None
    same_sequence: bool | None
    fresh_signature: bool | None
    moved_on: bool | None  # the message's other events came after the refusal
    observed_for_ms: int | None  # from the refusal to the end of the observation
    refused: Mapping[str, Any] | None  # messageId, eventType, sequence, status, at

    def as_dict(self) -> dict[str, Any]:
        """escalation.json's `webhooks.deliverySemantics`."""
        return {"retried": self.retried, "attempts": self.attempts,
                "delaysMs": list(self.delays_ms), "sameBody": self.same_body,
                "sameSequence": self.same_sequence, "freshSignature": self.fresh_signature,
                "movedOn": self.moved_on, "observedForMs": self.observed_for_ms,
                "refused": None if self.refused is None else dict(self.refused)}


def _identity(event: dict[str, Any]) -> tuple[str | None, Any]:
    return attributed_to(event), event.get("eventType")


def _refusal(deliveries: Sequence[Delivery]) -> int | None:
    """The index of the refused delivery (the first one), if any."""
    return next((i for i, d in enumerate(deliveries) if d.refused_on_purpose), None)


def _attempts(deliveries: Sequence[Delivery], at: int) -> list[Delivery]:
    """The refused delivery, then the same event's deliveries until one was accepted."""
    refused = deliveries[at]
    assert refused.event is not None  # refused on purpose: verified and parsed
    wanted = _identity(refused.event)
    attempts = [refused]
    for d in deliveries[at + 1:]:
        event = claimed(d)
        if event is None or d.status_returned in (404, 405) or _identity(event) != wanted:
            continue
        attempts.append(d)
        if d.accepted:
            break
    return attempts


def _moved_on(deliveries: Sequence[Delivery], at: int) -> bool:
    """Other events of the refused message arrived (verified) after the refusal."""
    refused = deliveries[at]
    assert refused.event is not None
    message, kind = _identity(refused.event)
    return any(d.event is not None and _identity(d.event)[0] == message
               and d.event.get("eventType") != kind for d in deliveries[at + 1:])


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _all_or_none(values: Sequence[bool]) -> bool | None:
    return all(values) if values else None


def observe(deliveries: Sequence[Delivery], *, now: float,
            window_closed: bool) -> DeliverySemantics:
    """What the deliveries show of the API's retries; `window_closed`: the window is over
    (only then can a missing retry be called false)."""
    at = _refusal(deliveries)
    if at is None:
        return DeliverySemantics(None, 0, (), None, None, None, None, None, None)
    attempts = _attempts(deliveries, at)
    refused, retries = attempts[0], attempts[1:]
    assert refused.event is not None
    moved_on = _moved_on(deliveries, at)
    retried = True if retries else (False if window_closed and moved_on else None)
    return DeliverySemantics(
        retried=retried, attempts=len(attempts),
        delays_ms=tuple(round((b.received_at - a.received_at) * 1000)
                        for a, b in itertools.pairwise(attempts)),
        same_body=_all_or_none([r.raw_body == refused.raw_body for r in retries]),
        same_sequence=_all_or_none([(claimed(r) or {}).get("sequence")
                                    == refused.event.get("sequence") for r in retries]),
        fresh_signature=_all_or_none([b.timestamp != a.timestamp
                                      for a, b in itertools.pairwise(attempts)]),
        moved_on=moved_on,
        observed_for_ms=max(0, round((now - refused.received_at) * 1000)),
        refused={"messageId": _identity(refused.event)[0],
                 "eventType": _text(refused.event.get("eventType")),
                 "sequence": refused.sequence, "status": refused.status_returned,
                 "at": iso_utc(refused.received_at)})


def retry_settled(deliveries: Sequence[Delivery]) -> bool:
    """The refused event was delivered again and accepted: nothing more to wait for."""
    at = _refusal(deliveries)
    return at is not None and _attempts(deliveries, at)[-1].accepted


def delay_caused(deliveries: Sequence[Delivery]) -> float:
    """Seconds from the refusal to the refused event's accepted retry (0 before one): how
    long the refusal held back what an API delivering in order sends next."""
    at = _refusal(deliveries)
    attempts = _attempts(deliveries, at) if at is not None else []
    if len(attempts) < 2 or not attempts[-1].accepted:
        return 0.0
    return max(0.0, attempts[-1].received_at - attempts[0].received_at)


def counted(deliveries: Sequence[Delivery]) -> list[Delivery]:
    """The deliveries whose events count as received: accepted ones but exact redeliveries,
    and a refused-on-purpose one whose event was not accepted later (its retry counts)."""
    accepted = {_identity(d.event) for d in deliveries if d.event is not None and d.accepted}
    return [d for d in deliveries if d.event is not None and not d.duplicate
            and (d.accepted or (d.refused_on_purpose and _identity(d.event) not in accepted))]


def held_behind(message_id: str, deliveries: Sequence[Delivery]) -> bool:
    """The message's refused event was not retried and none of its other events came after
    the refusal: what is missing may be held behind the refused delivery."""
    at = _refusal(deliveries)
    if at is None:
        return False
    event = deliveries[at].event
    assert event is not None
    return (_identity(event)[0] == message_id and len(_attempts(deliveries, at)) == 1
            and not _moved_on(deliveries, at))


def _duration(ms: int) -> str:
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def describe(sem: Mapping[str, Any]) -> str:
    """`webhooks.deliverySemantics` in words (the finding, escalation.md, report.html)."""
    refused = sem.get("refused")
    if not refused:
        return ("Nothing was refused: no verified lifecycle event reached the listener, so "
                "how the API retries could not be observed.")
    what = (f"{refused['eventType']} seq {refused['sequence']} of {refused['messageId']} was "
            f"refused on purpose (HTTP {refused['status']}) at {refused['at']}")
    window = _duration(sem["observedForMs"] or 0)
    if sem["retried"] is None:
        return (f"Not observed: {what}; no retry came within {window}, and none of the "
                "message's later events arrived after it either (the API may hold them "
                "behind the refused delivery). A longer RC_WEBHOOK_TIMEOUT tells.")
    if sem["retried"] is False:
        return (f"Not retried: {what}; no retry came within {window}, although the API "
                "delivered the message's later events after it. It does not retry a refused "
                "delivery, or retries later than that (a longer RC_WEBHOOK_TIMEOUT tells).")
    delays = ", ".join(_duration(ms) for ms in sem["delaysMs"])
    body = {True: "the same body", False: "a different body"}[sem["sameBody"]]
    sequence = {True: "the same sequence", False: "another sequence"}[sem["sameSequence"]]
    signed = {True: "signed afresh (a new X-RedCloud-Timestamp each time)",
              False: "not signed afresh (a retry repeats the previous timestamp)"}[
        sem["freshSignature"]]
    return (f"Retried: {what}; {sem['attempts']} attempts, {delays} apart; "
            f"the retries carry {body} and {sequence}, {signed}.")


def issue(sem: DeliverySemantics) -> Issue:
    """The stage-5 finding: graded info, never a failure (the docs are silent on retries)."""
    return Issue("delivery", "info", TITLE, describe(sem.as_dict()), CLAUSE)
