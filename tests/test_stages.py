"""Stage order and gate blocking, without pytest machinery."""

from __future__ import annotations

import pytest

from redcloud_check.results.ledger import RunLedger
from redcloud_check.rules.stages import STAGE_NAMES, STAGES, blocked_reason, stage_index

from .results_builder import result


def test_stages_follow_the_troubleshooting_order() -> None:
    assert STAGE_NAMES == ("token", "whoami", "numbers", "send", "webhooks")
    assert tuple(stage.name for stage in STAGES) == STAGE_NAMES


def test_a_failed_gate_blocks_only_later_stages() -> None:
    board = RunLedger()
    board.record(result("numbers", "failed", "RC_NUMBER_ID is not assigned"))
    assert board.blocked_by("token") is None
    assert board.blocked_by("numbers") is None
    assert board.blocked_by("send") == "numbers"
    assert board.blocked_by("webhooks") == "numbers"


def test_the_earliest_failed_gate_is_named() -> None:
    board = RunLedger()
    board.record(result("numbers", "failed", "x"))
    board.record(result("token", "failed", "y"))
    assert board.blocked_by("webhooks") == "token"
    assert blocked_reason("token") == "blocked by token: fix that first"


def test_unknown_stage_is_an_error() -> None:
    with pytest.raises(ValueError, match="stages are token"):
        stage_index("delivery")
