"""The suite proves itself: against each simulator fault it fails in the fault's stage and in
no earlier one, and names the fault's cause; against the clean simulator it passes; every
check catches some fault."""

from __future__ import annotations

import json
import re
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


@pytest.mark.slow
def test_clean_simulator_passes_every_check(tmp_path: Path) -> None:
    run = run_suite(tmp_path)
    assert run.returncode == 0, run.stdout[-3000:]
    assert run.cases, "junit.xml lists no checks"
    assert run.failed == []
    assert {c.stage for c in run.cases} >= {"token", "whoami", "numbers", "send"}
    assert not [c for c in run.cases if c.outcome == "skipped"], run.stdout[-2000:]


@pytest.mark.slow
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


@pytest.mark.slow
def test_every_check_catches_at_least_one_fault(matrix: dict[str, SuiteRun],
                                                tmp_path: Path) -> None:
    all_checks = {c.name for c in run_suite(tmp_path).cases}
    caught = {c.name for run in matrix.values() for c in run.failed}
    assert all_checks - caught == set()


@pytest.mark.slow
def test_a_failed_gate_blocks_later_stages_with_the_reason(matrix: dict[str, SuiteRun]) -> None:
    run = matrix["number-not-active"]
    later = [c for c in run.cases if c.stage in ("send", "webhooks")]
    assert later and all(c.outcome == "skipped" for c in later)
    assert all("blocked by numbers: fix that first" in c.message for c in later)


# The differential diagnosis, one row per fault: the cause the terminal's first failure, the
# first bundle of escalation.json and the first diagnosis of escalation.md all lead with.
# A fault added to the catalog without a row fails test_each_fault_leads_with_its_cause.
DIAGNOSIS = {
    "core-accepts-client-secret": "credential-accepted",
    "core-accepts-malformed-token": "api-breaks-rule",
    "core-accepts-missing-token": "api-breaks-rule",
    "core-auth-oauth-body": "api-breaks-rule",
    "core-errors-without-request-id": "api-breaks-rule",
    "core-scheme-ignored": "credential-accepted",
    "core-token-prefix-checked": "credential-accepted",
    "event-direction-inbound": "message",
    "event-sequence-reused-final": "sequence-reused",
    "event-status-contradicts-type": "status",
    "event-wrong-client": "client",
    "event-wrong-message-in-data": "ids",
    "event-wrong-recipient": "message",
    "event-wrong-sender-number": "message",
    "message-ids-repeat": "answers-disagree",
    "number-missing": "numbers-ok-sends-fail",
    "number-not-active": "numbers-ok-sends-fail",
    "numbers-id-is-e164": "numbers-ok-sends-fail",
    "numbers-sms-enabled-string": "numbers-ok-sends-fail",
    "patch-ignored": "override-not-stored",
    "request-ids-repeat": "answers-disagree",
    "search-ignores-filter": "answers-disagree",
    "search-wrong-shape": "api-breaks-rule",
    "send-accepted-200": "accepted-wrong-status",
    "send-conflict-ignored": "api-breaks-rule",
    "send-e164-sendfrom-accepted": "send-rejection-rules",
    "send-empty-to-accepted": "send-rejection-rules",
    "send-idempotency-optional": "send-rejection-rules",
    "send-mms-without-media-accepted": "send-rejection-rules",
    "send-no-content-accepted": "send-rejection-rules",
    "send-partial-all-or-nothing": "send-400-invalid-request",
    "send-replay-current-status": "api-breaks-rule",
    "send-replay-new-message": "api-breaks-rule",
    "send-sms-media-accepted": "send-rejection-rules",
    "send-status-sent": "accepted-not-queued",
    "send-unowned-number-accepted": "send-rejection-rules",
    "token-basic-auth-rejected": "basic-auth-refused",
    "token-basic-colon-split": "credential-accepted",
    "token-body-credentials-rejected": "body-credentials-refused",
    "token-client-id-ignored": "credential-accepted",
    "token-content-type-text": "api-breaks-rule",
    "token-credentials-either-order": "credential-accepted",
    "token-empty-secret-accepted": "credential-accepted",
    "token-error-core-wrapper": "api-breaks-rule",
    "token-expires-in-string": "api-breaks-rule",
    "token-grant-type-unchecked": "api-breaks-rule",
    "token-secret-case-insensitive": "credential-accepted",
    "token-secret-prefix-match": "credential-accepted",
    "token-secret-truncated-match": "credential-accepted",
    "token-type-not-bearer": "api-breaks-rule",
    "token-unusable-on-core": "api-breaks-rule",
    "token-wrong-secret-accepted": "api-breaks-rule",
    "update-campaignregid-refused": "api-breaks-rule",
    "update-drops-campaignregid": "answers-disagree",
    "update-unowned-allowed": "api-breaks-rule",
    "webhook-hmac-body-only": "hmac-body-only",
    "webhook-malformed-event": "malformed",
    "webhook-missing-signature": "missing-headers",
    "webhook-no-final-event": "incomplete",
    "webhook-not-delivered": "no-requests",
    "webhook-sequence-regression": "sequence",
    "webhook-signed-with-client-secret": "wrong-signing-key",
    "webhook-wrong-event-type": "incomplete",
    "webhook-wrong-secret": "secret-mismatch",
    "whoami-client-inactive": "whoami-fails",
    "whoami-count-mismatch": "answers-disagree",
    "whoami-missing-capabilities": "api-breaks-rule",
    "whoami-no-numbers": "api-breaks-rule",
    "whoami-wrong-client-id": "api-breaks-rule",
}
# What a fault's first failure must never lead with: causes the run itself rules out.
NEVER = {
    "send-accepted-200": ("not accepted", "E.164 in sendFrom"),
    "send-status-sent": ("E.164 in sendFrom", "not owned"),
    "token-basic-auth-rejected": ("invalid credentials",),
    "webhook-wrong-secret": ("did not arrive", "webhook.site", "no webhook events arrive"),
    "webhook-signed-with-client-secret": ("did not arrive", "webhook.site",
                                          "no webhook events arrive", "Check that "
                                          "RC_WEBHOOK_SECRET"),
    "event-sequence-reused-final": ("duplicate (exact", "missing final event"),
    "webhook-malformed-event": ("did not arrive",),
}


def _leads(run: SuiteRun) -> tuple[str | None, str | None, str | None]:
    """(terminal, escalation.json, escalation.md): the cause each leads with."""
    term = re.search(r"^  cause:\s+(\S+)", run.stdout, re.M)
    doc = json.loads((run.reports / "escalation.json").read_text("utf-8"))
    ticket = re.search(r"Diagnosis — cause `([^`]+)`",
                       (run.reports / "escalation.md").read_text("utf-8"))
    bundle = doc["bundles"][0]["diagnosis"]["lead"]["cause"] if doc["bundles"] else None
    return (term.group(1) if term else None, bundle, ticket.group(1) if ticket else None)


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_leads_with_its_cause(matrix: dict[str, SuiteRun], fault: str) -> None:
    assert fault in DIAGNOSIS, f"{fault}: no row in the diagnosis table"
    run = matrix[fault]
    want = DIAGNOSIS[fault]
    assert _leads(run) == (want, want, want), run.stdout[-3000:]
    blocks = re.split(r"\n_{3,} [^\n]* _{3,}\n", run.stdout.split("= FAILURES =", 1)[-1])
    first = blocks[1] if len(blocks) > 1 else blocks[0]
    doc = json.loads((run.reports / "escalation.json").read_text("utf-8"))
    lead = doc["bundles"][0]["diagnosis"]["lead"]
    shown = f"{doc['bundles'][0]['title']} {lead['summary']} {lead['next_action']} {first}"
    for phrase in NEVER.get(fault, ()):
        assert phrase not in shown, f"{fault}: the lead names {phrase!r}, which the run ruled out"


def test_the_diagnosis_table_names_only_catalog_faults() -> None:
    assert set(DIAGNOSIS) - set(FAULTS) == set() and set(NEVER) <= set(DIAGNOSIS)
