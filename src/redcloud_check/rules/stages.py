"""The ordered stages of the troubleshooting path (5-troubleshooting.txt) and their gates.

A stage's gate check failing blocks every later stage; the stage's other checks still run.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from redcloud_check.core.stage_names import NUMBERS, SEND, STAGE_NAMES, TOKEN, WEBHOOKS, WHOAMI

__all__ = ["STAGES", "STAGE_NAMES", "GateBoard", "Stage", "stage_index"]


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    title: str
    gate: str  # what the gate proves
    clause: str  # where the troubleshooting guide puts it
    gate_check: str  # the function name of the suite's gate check (a probe stage answers to
    #                  a waiver for it)


STAGES: tuple[Stage, ...] = (
    Stage(TOKEN, "Token acquisition", "a bearer token is issued",
          "5-troubleshooting.txt, Symptom: token request fails",
          "test_basic_credentials_issue_a_bearer_token"),
    Stage(WHOAMI, "Client context (/api/core/whoami)", "the API client is ACTIVE",
          "5-troubleshooting.txt, Symptom: /api/core/whoami fails",
          "test_api_client_is_active"),
    Stage(NUMBERS, "Assigned numbers (/api/core/numbers)", "a usable numberId",
          "5-troubleshooting.txt, Symptom: /api/core/numbers succeeds but sends fail",
          "test_configured_number_is_usable"),
    Stage(SEND, "Send (POST /api/core/messages/send)", "the send is accepted",
          "5-troubleshooting.txt, Symptom: send request returns 400 INVALID_REQUEST",
          "test_sms_send_is_accepted"),
    Stage(WEBHOOKS, "Webhook receipt and signatures", "lifecycle events are received",
          "5-troubleshooting.txt, Symptom: no webhook events arrive",
          "test_lifecycle_events_arrive_for_every_accepted_message"),
)
_INDEX = {name: i for i, name in enumerate(STAGE_NAMES)}


def stage_index(name: str) -> int:
    """Position of a stage; ValueError for an unknown name."""
    try:
        return _INDEX[name]
    except KeyError:
        raise ValueError(f"unknown stage {name!r}; stages are {', '.join(STAGE_NAMES)}") from None


class GateBoard:
    """Which gates failed, and what that blocks."""

    def __init__(self) -> None:
        self._failed: dict[str, str] = {}
        self._lock = threading.Lock()

    def fail(self, stage_name: str, reason: str) -> None:
        stage_index(stage_name)
        with self._lock:
            self._failed.setdefault(stage_name, reason)

    def failed(self) -> dict[str, str]:
        with self._lock:
            return dict(self._failed)

    def blocked_by(self, stage_name: str) -> str | None:
        """The earliest earlier stage whose gate failed, or None."""
        here = stage_index(stage_name)
        failed = self.failed()
        for name in STAGE_NAMES[:here]:
            if name in failed:
                return name
        return None

    @staticmethod
    def skip_reason(blocker: str) -> str:
        return f"blocked by {blocker}: fix that first"
