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
    ("webhook-wrong-secret", "signature-unexplained", "RC_WEBHOOK_SECRET"),
    ("webhook-signs-pretty-body", "signed-body-differs", "pretty-printed"),
    ("webhook-hmac-body-only", "hmac-body-only", "timestamp"),
    ("webhook-not-delivered", "no-requests", "reach"),
    ("webhook-no-final-event", "incomplete", "message.delivery"),
    ("patch-ignored", "override-not-stored", "webhookDeliveryOverride"),
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


PRETTY = "pretty-printed, 2-space indent (JSON.stringify(body, null, 2))"


def test_a_body_signed_pretty_printed_leads_with_that_one_cause(tmp_path: Path) -> None:
    """Issue 19's sandbox: it signs the body pretty-printed and sends it compact. The run names
    that, as the API's (RC_WEBHOOK_SECRET verifies it), in every renderer, as the one cause of
    every failing check, and never advises copying the secret again."""
    run = run_suite(tmp_path, RC_SIM_FAULTS="webhook-signs-pretty-body", RC_WEBHOOK_TIMEOUT="5")
    assert run.returncode == 1, run.stdout[-3000:]
    assert {c.stage for c in run.failed} == {"webhooks"}
    doc = json.loads((tmp_path / "escalation.json").read_text())
    validate_escalation(doc)
    leads = {b["diagnosis"]["lead"]["cause"] for b in doc["bundles"]}
    assert leads == {"signed-body-differs"}  # one cause: no failure explained another way
    lead = doc["bundles"][0]["diagnosis"]["lead"]
    assert PRETTY in lead["summary"] and "RC_WEBHOOK_SECRET is right" in lead["next_action"]
    signatures = doc["webhooks"]["signatures"]
    assert signatures["failing"] == doc["webhooks"]["received"] > 0
    assert signatures["docs_listener"]["refused"] == signatures["failing"]
    [made] = signatures["made_with"]
    assert PRETTY in made["signing"] and not made["documented"]
    assert all(r["docs_listener"] == "401 Invalid signature"
               for r in doc["webhooks"]["deliveries"])
    out = run.stdout
    # one root cause, the API's: its first failure leads, the others are listed under it
    [root] = doc["summary"]["rootCauses"]
    assert (root["id"], root["side"]) == ("signed-body-differs", "api")
    assert len(root["checks"]) == len(run.failed) and len(doc["bundles"]) == 1
    assert out.count("cause:     signed-body-differs") == 1
    assert out.count("explained: by root cause signed-body-differs [api]") == \
        len(run.failed) - 1
    assert f"webhook signatures: {signatures['failing']} made with HMAC-SHA256" in out
    assert "webhook signatures:" in out and PRETTY in out
    for text in (out, (tmp_path / "escalation.md").read_text()):
        assert "again" not in text and "secret-mismatch" not in text
        assert "did not arrive" not in text
