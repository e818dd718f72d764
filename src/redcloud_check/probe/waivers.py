"""Waivers in the probe: a stage answers to a waiver for its stage's gate check (by the
check's id, or by its function name as the catalog of checks records it).

A stage that failed the docs (a CheckFailure, not an unreachable target nor the tool's own
error) under a valid waiver becomes "waived": it keeps its title and detail, carries the
waiver's reason, does not block the later stages and does not make the probe unhealthy.
Under an expired waiver the failure stands and says so; a waiver whose stage passed is
stale (said in the stage's `waiver` field and in probe.json's `waivers` block).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from redcloud_check.core.waivers import WaiverBook, waived_reason
from redcloud_check.results.catalog import function_of
from redcloud_check.rules.stages import STAGES, stage_index

if TYPE_CHECKING:
    from redcloud_check.probe.runner import StageResult

__all__ = ["settle"]


def settle(book: WaiverBook, result: StageResult, *, nonconformance: bool) -> StageResult:
    """`result` as the waivers have it (unchanged when no waiver names the stage)."""
    check_id = STAGES[stage_index(result.stage)].gate_id
    nodeid = f"probe::{result.stage}"
    waiver = book.find(nodeid, function_of(check_id) or check_id, check_id)
    if waiver is None:
        return result
    if result.verdict == "pass":
        book.record("stale", waiver, nodeid)
        return replace(result, waiver=WaiverBook.stale_message(waiver, not book.active(waiver)))
    if result.verdict != "fail" or not nonconformance:
        return result  # a waiver accepts the API's deviations, never a missing answer
    if not book.active(waiver):
        book.record("expired", waiver, nodeid)
        return replace(result, waiver=WaiverBook.expired_message(waiver))
    book.record("waived", waiver, nodeid)
    return replace(result, verdict="waived", waiver=waived_reason(waiver))
