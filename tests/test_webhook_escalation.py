"""Stage-5 failures tell reachability, signature and provider problems apart in the bundle,
not only in the terminal: escalation.json and escalation.md carry the specific finding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redcloud_check.reporting.artifacts import validate_escalation

from .suite_runner import run_suite


@pytest.mark.slow
@pytest.mark.parametrize(("fault", "cause", "words"), [
    ("webhook-wrong-secret", "secret-mismatch", "RC_WEBHOOK_SECRET"),
    ("webhook-hmac-body-only", "hmac-body-only", "timestamp"),
    ("webhook-not-delivered", "no-requests", "reach"),
    ("webhook-no-final-event", "incomplete", "message.delivery"),
    ("patch-ignored", "override-ignored", "webhookDeliveryOverride"),
])
def test_bundle_names_the_webhook_finding(tmp_path: Path, fault: str, cause: str,
                                          words: str) -> None:
    run = run_suite(tmp_path, RC_SIM_FAULTS=fault, RC_WEBHOOK_TIMEOUT="2")
    assert run.returncode == 1, run.stdout[-2000:]
    doc = json.loads((tmp_path / "escalation.json").read_text())
    validate_escalation(doc)
    findings = [b["diagnosis"].get("finding") for b in doc["bundles"]
                if b["check"]["stage"] == "webhooks"]
    causes = {f["cause"] for f in findings if f}
    assert cause in causes, (fault, causes)
    found = next(f for f in findings if f and f["cause"] == cause)
    assert words.lower() in (found["detail"] + found["next_action"]).lower(), found
    ticket = (tmp_path / "escalation.md").read_text()
    assert f"- Found: {found['detail']}" in ticket
