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
from redcloud_check.simulator.catalog import FAULTS

from .run_views import differences
from .suite_runner import SuiteRun, run_suite


def _runs(tmp_path_factory: pytest.TempPathFactory, concurrency: int) -> dict[str, SuiteRun]:
    """One suite run per fault, two at a time (the machine has two cores)."""
    def one(name: str) -> tuple[str, SuiteRun]:
        reports = tmp_path_factory.mktemp(f"fault-{name}-c{concurrency}")
        # 4 s, not 5: the simulator (uvicorn) closes a keep-alive connection idle 5 s, and
        # the override's restore right after a lifecycle wait of exactly 5 s could reuse one
        # as it closes (no answer: the override left misrouted, a flake of this setting)
        return name, run_suite(reports, RC_SIM_FAULTS=name, RC_WEBHOOK_TIMEOUT="4",
                               RC_CONCURRENCY=str(concurrency))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(one, sorted(FAULTS)))


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SuiteRun]:
    """Every fault, with requests sent ahead of their checks, 4 in flight (the default)."""
    return _runs(tmp_path_factory, 4)


@pytest.fixture(scope="module")
def one_at_a_time(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SuiteRun]:
    """Every fault again, one request at a time (RC_CONCURRENCY=1)."""
    return _runs(tmp_path_factory, 1)


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


# The attribution, one row per fault: the lead root cause (its id and side) that the
# terminal, escalation.json's summary.rootCauses and escalation.md all open with, and that the
# first bundle's diagnosis leads with. A fault added to the catalog without a row fails
# test_each_fault_leads_with_its_root_cause. "api" only where the run proves it; "unknown"
# where it cannot (the row is honest, never hopeful).
ATTRIBUTION = {
    "core-accepts-client-secret": ("credential-accepted", "api"),
    "core-accepts-malformed-token": ("api-breaks-rule", "api"),
    "core-accepts-missing-token": ("api-breaks-rule", "api"),
    "core-auth-oauth-body": ("answer-breaks-schema", "api"),
    "core-errors-without-request-id": ("answer-breaks-schema", "api"),
    "core-scheme-ignored": ("credential-accepted", "api"),
    "core-token-prefix-checked": ("credential-accepted", "api"),
    "event-direction-inbound": ("message", "api"),
    "event-sequence-reused-final": ("sequence-reused", "api"),
    "event-status-contradicts-type": ("status", "api"),
    "event-wrong-client": ("client", "api"),
    "event-wrong-message-in-data": ("ids", "api"),
    "event-wrong-recipient": ("message", "api"),
    "event-wrong-sender-number": ("message", "api"),
    "message-ids-repeat": ("answers-disagree", "api"),
    "number-missing": ("number-not-listed", "integration"),
    "number-not-active": ("number-not-usable", "integration"),
    "numbers-id-is-e164": ("number-ids-are-phone-numbers", "api"),
    "numbers-sms-enabled-string": ("answer-breaks-schema", "api"),
    "patch-answers-stale": ("override-answer-stale", "api"),
    "patch-ignored": ("override-not-stored", "api"),
    "request-ids-repeat": ("answers-disagree", "api"),
    "search-ignores-filter": ("answers-disagree", "api"),
    "search-wrong-shape": ("answer-breaks-schema", "api"),
    "send-accepted-200": ("accepted-wrong-status", "api"),
    "send-conflict-ignored": ("api-breaks-rule", "api"),
    "send-e164-sendfrom-accepted": ("send-rejection-rules", "api"),
    "send-empty-to-accepted": ("send-rejection-rules", "api"),
    "send-idempotency-optional": ("send-rejection-rules", "api"),
    "send-mms-without-media-accepted": ("send-rejection-rules", "api"),
    "send-no-content-accepted": ("send-rejection-rules", "api"),
    "send-partial-all-or-nothing": ("send-400-invalid-request", "api"),
    "send-replay-current-status": ("api-breaks-rule", "api"),
    "send-replay-new-message": ("api-breaks-rule", "api"),
    "send-sms-media-accepted": ("send-rejection-rules", "api"),
    "send-status-sent": ("accepted-not-queued", "api"),
    "send-unowned-number-accepted": ("send-rejection-rules", "api"),
    "token-basic-auth-rejected": ("basic-auth-refused", "api"),
    "token-basic-colon-split": ("credential-accepted", "api"),
    "token-body-credentials-rejected": ("body-credentials-refused", "api"),
    "token-client-id-ignored": ("credential-accepted", "api"),
    "token-content-type-text": ("api-breaks-rule", "api"),
    "token-credentials-either-order": ("credential-accepted", "api"),
    "token-empty-secret-accepted": ("credential-accepted", "api"),
    "token-error-core-wrapper": ("api-breaks-rule", "api"),
    "token-expires-in-string": ("answer-breaks-schema", "api"),
    "token-grant-type-unchecked": ("api-breaks-rule", "api"),
    "token-revoked-early": ("token-refused-before-expiry", "api"),
    "token-secret-case-insensitive": ("credential-accepted", "api"),
    "token-secret-prefix-match": ("credential-accepted", "api"),
    "token-secret-truncated-match": ("credential-accepted", "api"),
    "token-type-not-bearer": ("answer-breaks-schema", "api"),
    "token-unusable-on-core": ("token-refused-before-expiry", "api"),
    "token-wrong-secret-accepted": ("api-breaks-rule", "api"),
    "update-campaignregid-refused": ("api-breaks-rule", "api"),
    "update-drops-campaignregid": ("answers-disagree", "api"),
    "update-unowned-allowed": ("api-breaks-rule", "api"),
    "webhook-content-type-text": ("docs-listener-refuses", "api"),
    "webhook-hmac-body-only": ("hmac-body-only", "api"),
    "webhook-malformed-event": ("malformed", "api"),
    "webhook-missing-signature": ("missing-headers", "api"),
    "webhook-no-final-event": ("incomplete", "unknown"),
    "webhook-not-delivered": ("no-requests", "unknown"),
    "webhook-secret-base64-decoded": ("webhook-secret-form", "api"),
    "webhook-sequence-regression": ("sequence", "api"),
    "webhook-signed-with-client-secret": ("wrong-signing-key", "unknown"),
    "webhook-signs-pretty-body": ("signed-body-differs", "api"),
    "webhook-uppercase-signature": ("signature-variant", "api"),
    "webhook-wrong-event-type": ("incomplete", "unknown"),
    "webhook-wrong-secret": ("signature-unexplained", "unknown"),
    "whoami-client-inactive": ("client-not-active", "integration"),
    "whoami-count-mismatch": ("answers-disagree", "api"),
    "whoami-missing-capabilities": ("answer-breaks-schema", "api"),
    "whoami-no-numbers": ("api-breaks-rule", "api"),
    "whoami-wrong-client-id": ("api-breaks-rule", "api"),
}

# What a fault's first failure must never lead with: causes the run itself rules out.
NEVER = {
    "send-accepted-200": ("not accepted", "E.164 in sendFrom"),
    "send-status-sent": ("E.164 in sendFrom", "not owned"),
    "token-basic-auth-rejected": ("invalid credentials",),
    "webhook-wrong-secret": ("did not arrive", "webhook.site", "no webhook events arrive",
                             "Copy RC_WEBHOOK_SECRET again"),
    "webhook-signs-pretty-body": ("did not arrive", "Copy RC_WEBHOOK_SECRET again",
                                  "secret-mismatch"),
    "webhook-secret-base64-decoded": ("did not arrive", "Copy RC_WEBHOOK_SECRET again"),
    "webhook-signed-with-client-secret": ("did not arrive", "webhook.site",
                                          "no webhook events arrive", "Check that "
                                          "RC_WEBHOOK_SECRET"),
    "event-sequence-reused-final": ("duplicate (exact", "missing final event"),
    "webhook-malformed-event": ("did not arrive",),
}


def _leads(run: SuiteRun) -> tuple[tuple[str, str] | None, ...]:
    """(terminal, escalation.json, escalation.md, the first bundle): the lead root cause's
    (id, side) each opens with."""
    term = re.search(r"^  root cause 1 of \d+: (\S+) \[(\w+)\]", run.stdout, re.M)
    doc = json.loads((run.reports / "escalation.json").read_text("utf-8"))
    roots = doc["summary"]["rootCauses"]
    ticket = re.search(r"^### 1\. `([^`]+)`.*\n\n- Side: \*\*(\w+)\*\*",
                       (run.reports / "escalation.md").read_text("utf-8"), re.M)
    bundle = doc["bundles"][0]["diagnosis"]["lead"]["cause"] if doc["bundles"] else None
    return (term.groups() if term else None,
            (roots[0]["id"], roots[0]["side"]) if roots else None,
            ticket.groups() if ticket else None,
            (bundle, roots[0]["side"]) if bundle and roots else None)


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_leads_with_its_root_cause(matrix: dict[str, SuiteRun], fault: str) -> None:
    assert fault in ATTRIBUTION, f"{fault}: no row in the attribution table"
    run = matrix[fault]
    want = ATTRIBUTION[fault]
    assert _leads(run) == (want, want, want, want), run.stdout[-3000:]
    doc = json.loads((run.reports / "escalation.json").read_text("utf-8"))
    root = doc["summary"]["rootCauses"][0]
    assert root["evidence"], f"{fault}: a root cause without evidence"
    if root["side"] == "unknown":
        assert root["decide"], f"{fault}: an unknown side must say what would decide it"
    blocks = re.split(r"\n_{3,} [^\n]* _{3,}\n", run.stdout.split("= FAILURES =", 1)[-1])
    first = blocks[1] if len(blocks) > 1 else blocks[0]
    lead = doc["bundles"][0]["diagnosis"]["lead"]
    shown = f"{doc['bundles'][0]['title']} {lead['summary']} {lead['next_action']} {first}"
    for phrase in NEVER.get(fault, ()):
        assert phrase not in shown, f"{fault}: the lead names {phrase!r}, which the run ruled out"
    if "ruled out" in lead["next_action"]:
        assert root["side"] == "api" and any("ruled out" in e or "proof" in e
                                             for e in root["evidence"])


@pytest.mark.slow
def test_a_ticket_with_one_root_cause_fits_in_150_lines(matrix: dict[str, SuiteRun]) -> None:
    for fault, run in matrix.items():
        doc = json.loads((run.reports / "escalation.json").read_text("utf-8"))
        lines = (run.reports / "escalation.md").read_text("utf-8").count("\n")
        if len(doc["summary"]["rootCauses"]) == 1:
            assert lines <= 150, f"{fault}: {lines} lines for one root cause"


def test_the_attribution_table_names_only_catalog_faults() -> None:
    assert set(ATTRIBUTION) - set(FAULTS) == set() and set(NEVER) <= set(ATTRIBUTION)


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_concurrency_changes_no_verdict_bundle_or_order(matrix: dict[str, SuiteRun],
                                                        one_at_a_time: dict[str, SuiteRun],
                                                        fault: str) -> None:
    """RC_CONCURRENCY=4 and RC_CONCURRENCY=1 give the same verdicts, check order, root
    causes, bundles and HAR entries (tests/run_views.py says what is compared)."""
    together, alone = matrix[fault], one_at_a_time[fault]
    assert together.returncode == alone.returncode
    assert differences(alone.reports, together.reports) == []
