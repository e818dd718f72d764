"""Plain records that several layers exchange. This module depends on nothing of ours.

    AcceptedMessage   a recipient the send stage got accepted; stage 5 follows its lifecycle
    Token             a bearer token and when it was issued
    Shared, SharedValues  a typed key for per-run state, and the run's values for them
    Cause             a cause a check established itself (e.g. why no webhook arrived): what
                      it found, the next action and the clause; the diagnosis leads with it
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

T = TypeVar("T")

__all__ = ["SIDES", "AcceptedMessage", "Cause", "Shared", "SharedValues", "Side", "Token"]

# Whose side a root cause is on (DESIGN.md, Attribution): "api" only when the run proves the
# integration is not at fault; "integration" when the evidence points at a setting (named);
# "tool" for redcloud-check's own error; "unknown" otherwise, saying what would decide it.
Side = Literal["api", "integration", "tool", "unknown"]
SIDES: tuple[Side, ...] = ("api", "integration", "tool", "unknown")


@dataclass(frozen=True, slots=True)
class AcceptedMessage:
    """A recipient the target accepted in the send stage; stage 5 follows its lifecycle."""

    message_id: str
    to: str
    external_reference: str
    idempotency_key: str
    number_id: str
    accepted_at: float
    check: str | None
    api_client_id: str | None = None  # the client whose credentials sent it (RC_CLIENT_ID)
    send_from_e164: str | None = None  # the sending number's E.164 from /api/core/numbers


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    issued_at: float  # time.monotonic()
    expires_in: float

    def age(self) -> float:
        return time.monotonic() - self.issued_at

    def fresh(self) -> bool:
        return self.age() < self.expires_in


@dataclass(frozen=True, slots=True)
class Cause:
    """What a check itself established about a failure, more specific than the guide's
    symptom. `id` names the cause (e.g. "secret-mismatch").

    `side` is whose side it is on (`Side`); `evidence` the facts that prove it, each citing
    an exchange (its requestId, or its time and endpoint); `setting` the setting to correct
    when the side is "integration" (e.g. "RC_WEBHOOK_SECRET"); `decide` what would decide
    it when the side is "unknown"."""

    id: str
    detail: str
    next_action: str
    clause: str
    side: Side = "unknown"
    evidence: tuple[str, ...] = ()
    setting: str | None = None
    decide: str = ""  # side "unknown": what would decide it


class Shared(Generic[T]):
    """A typed key for per-run state that checks (and the gates) share, as pytest's
    StashKey: `RunContext.shared(key, make)` makes the value once per run."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class SharedValues:
    """The run's value for each `Shared` key, made once: by one thread (another asking
    meanwhile waits for it); a `make` that raised is tried again by the next one asking."""

    def __init__(self) -> None:
        self._values: dict[Shared[Any], Any] = {}
        self._making: dict[Shared[Any], threading.RLock] = {}
        self._guard = threading.Lock()

    def get(self, key: Shared[T], make: Callable[[], T]) -> T:
        with self._guard:
            making = self._making.setdefault(key, threading.RLock())
        with making:
            if key not in self._values:
                self._values[key] = make()
            value: T = self._values[key]
        return value
