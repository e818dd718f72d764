"""The ordered stages of the troubleshooting path (5-troubleshooting.txt) and their gates.

A stage's gate check (named by its id) failing blocks every later stage; the stage's other
checks still run. Which gates failed is the run ledger's to say (`results.ledger`).
"""

from __future__ import annotations

from dataclasses import dataclass

from redcloud_check.core.stage_names import NUMBERS, SEND, STAGE_NAMES, TOKEN, WEBHOOKS, WHOAMI

__all__ = ["STAGES", "STAGE_NAMES", "Stage", "blocked_reason", "gates_through", "stage_index"]


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    title: str
    gate: str  # what the gate proves
    clause: str  # where the troubleshooting guide puts it
    gate_id: str  # the id of the stage's gate check (a probe stage answers to a waiver for
    #               it); the gate is known by its id, never by a function name


STAGES: tuple[Stage, ...] = (
    Stage(TOKEN, "Token acquisition", "a bearer token is issued",
          "5-troubleshooting.txt, Symptom: token request fails",
          "RC-TOKEN-01"),
    Stage(WHOAMI, "Client context (/api/core/whoami)", "the API client is ACTIVE",
          "5-troubleshooting.txt, Symptom: /api/core/whoami fails",
          "RC-WHOAMI-01"),
    Stage(NUMBERS, "Assigned numbers (/api/core/numbers)", "a usable numberId",
          "5-troubleshooting.txt, Symptom: /api/core/numbers succeeds but sends fail",
          "RC-NUMBERS-01"),
    Stage(SEND, "Send (POST /api/core/messages/send)", "the send is accepted",
          "5-troubleshooting.txt, Symptom: send request returns 400 INVALID_REQUEST",
          "RC-SEND-01"),
    Stage(WEBHOOKS, "Webhook receipt and signatures", "lifecycle events are received",
          "5-troubleshooting.txt, Symptom: no webhook events arrive",
          "RC-WEBHOOKS-02"),
)
_INDEX = {name: i for i, name in enumerate(STAGE_NAMES)}


def stage_index(name: str) -> int:
    """Position of a stage; ValueError for an unknown name."""
    try:
        return _INDEX[name]
    except KeyError:
        raise ValueError(f"unknown stage {name!r}; stages are {', '.join(STAGE_NAMES)}") from None


def blocked_reason(blocker: str) -> str:
    """Why a check of a later stage did not run: its words, written once."""
    return f"blocked by {blocker}: fix that first"


def gates_through(stage: str) -> tuple[str, ...]:
    """The ids of the gate checks a check of `stage` depends on: the gates of every stage up
    to and including its own (a failed gate blocks later stages; a gate that passes sets up
    what later checks need: the token, the number, the accepted send)."""
    return tuple(s.gate_id for s in STAGES[:stage_index(stage) + 1])
