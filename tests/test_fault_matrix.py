"""The suite proves itself: against each simulator fault it fails in the fault's stage and in
no earlier one; against the clean simulator it passes; every check catches some fault."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from redcloud_check.rules.stages import stage_index
from redcloud_check.simulator.faults import FAULTS

from .suite_runner import SuiteRun, run_suite


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SuiteRun]:
    """One suite run per fault, two at a time (the machine has two cores)."""
    def one(name: str) -> tuple[str, SuiteRun]:
        reports = tmp_path_factory.mktemp(f"fault-{name}")
        return name, run_suite(reports, RC_SIM_FAULTS=name, RC_WEBHOOK_TIMEOUT="5")

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(one, sorted(FAULTS)))


def test_clean_simulator_passes_every_check(tmp_path: Path) -> None:
    run = run_suite(tmp_path)
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.cases, "junit.xml lists no checks"
    assert run.failed == []
    assert {c.stage for c in run.cases} >= {"token", "whoami", "numbers", "send"}
    assert not [c for c in run.cases if c.outcome == "skipped"], run.stdout[-2000:]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_fails_its_stage_and_no_earlier_one(matrix: dict[str, SuiteRun], fault: str) -> None:
    run = matrix[fault]
    expected = FAULTS[fault].stage
    assert run.returncode != 0, f"{fault}: the suite passed\n{run.stdout[-2000:]}"
    stages = {c.stage for c in run.failed}
    assert expected in stages, (
        f"{fault}: failures in {stages}, not {expected}\n{run.stdout[-3000:]}")
    earlier = [c.name for c in run.failed if stage_index(c.stage) < stage_index(expected)]
    assert earlier == [], f"{fault}: earlier stages failed: {earlier}"


def test_every_check_catches_at_least_one_fault(matrix: dict[str, SuiteRun],
                                                tmp_path: Path) -> None:
    all_checks = {c.name for c in run_suite(tmp_path).cases}
    caught = {c.name for run in matrix.values() for c in run.failed}
    assert all_checks - caught == set()


def test_a_failed_gate_blocks_later_stages_with_the_reason(matrix: dict[str, SuiteRun]) -> None:
    run = matrix["number-not-active"]
    later = [c for c in run.cases if c.stage in ("send", "webhooks")]
    assert later and all(c.outcome == "skipped" for c in later)
    assert all("blocked by numbers: fix that first" in c.message for c in later)
