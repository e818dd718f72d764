"""Issue 20's acceptance for delivery behaviour: the whole suite with RC_DELIVERY_SEMANTICS=1
against a retrying simulator, one that never retries and one that retries after seconds (with
a short RC_WEBHOOK_TIMEOUT): retried true with at least 2 attempts, false, and null; every
run exits 0 with every check passed, and every renderer has "Delivery behaviour observed"."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from redcloud_check.reporting.artifacts import validate_escalation
from redcloud_check.webhooks.delivery_semantics import TITLE

from .suite_runner import SuiteRun, run_suite

pytestmark = pytest.mark.slow  # the suite runs in subprocesses

# name -> (variant, RC_WEBHOOK_TIMEOUT, retried as expected)
RUNS: dict[str, tuple[str, str, bool | None]] = {
    "retried": ("", "10", True),
    "not retried": ("no-delivery-retry", "3", False),
    "not observed": ("slow-delivery-retry", "1.5", None),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SuiteRun]:
    def one(name: str) -> tuple[str, SuiteRun]:
        variant, timeout, _ = RUNS[name]
        reports = tmp_path_factory.mktemp(name.replace(" ", "-"))
        return name, run_suite(reports, RC_DELIVERY_SEMANTICS="1", RC_SIM_VARIANTS=variant,
                               RC_WEBHOOK_TIMEOUT=timeout)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(one, RUNS))


def _semantics(run: SuiteRun) -> dict[str, Any]:
    doc = json.loads((run.reports / "escalation.json").read_text("utf-8"))
    validate_escalation(doc)
    semantics: dict[str, Any] = doc["webhooks"]["deliverySemantics"]
    return semantics


@pytest.mark.parametrize("name", list(RUNS))
def test_every_run_passes_and_says_what_the_api_did(runs: dict[str, SuiteRun],
                                                    name: str) -> None:
    run = runs[name]
    assert run.returncode == 0, f"{name}: exit {run.returncode}\n{run.stdout[-3000:]}"
    assert run.failed == [] and run.by_outcome("skipped") == [], run.stdout[-3000:]
    semantics = _semantics(run)
    assert semantics["retried"] is RUNS[name][2], semantics
    assert semantics["refused"]["status"] == 503
    ticket = (run.reports / "escalation.md").read_text("utf-8")
    assert f"## {TITLE}" in ticket
    assert f"<h3>{TITLE}</h3>" in (run.reports / "report.html").read_text("utf-8")
    assert "webhook delivery behaviour: " in run.stdout


def test_a_retrying_target_retries_the_same_body_signed_afresh(
        runs: dict[str, SuiteRun]) -> None:
    semantics = _semantics(runs["retried"])
    assert semantics["attempts"] >= 2 and len(semantics["delaysMs"]) == semantics["attempts"] - 1
    assert (semantics["sameBody"], semantics["freshSignature"]) == (True, True)


def test_no_retry_leaves_the_retry_fields_unobserved(runs: dict[str, SuiteRun]) -> None:
    for name in ("not retried", "not observed"):
        semantics = _semantics(runs[name])
        assert semantics["attempts"] == 1 and semantics["delaysMs"] == []
        assert (semantics["sameBody"], semantics["freshSignature"]) == (None, None)
    assert _semantics(runs["not retried"])["movedOn"] is True
    assert _semantics(runs["not observed"])["movedOn"] is False
