"""Stage 5's evidence, over real HTTP against the simulator: the deliveries that arrived are
shown once, collapsed, attributed and judged; the sends that produced them carry their
requestIds; the webhook URL and its exposure are named; a consistent failure gets its verdict
at once, and a valid event that comes after it is still recorded and shown."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from redcloud_check.context import RunContext
from redcloud_check.core.config import load_settings
from redcloud_check.reporting import webhook_evidence
from redcloud_check.reporting.artifacts import validate_escalation
from redcloud_check.simulator import Simulator
from redcloud_check.webhooks.session import EARLY_AFTER_S, WebhookSession

from .leaks import assert_no_secret
from .suite_runner import run_suite
from .webhook_support import accepted_send, event, post_signed

CLIENT_SECRET = "rc_secret_abc123"
FAULT_WEBHOOK_SECRET = "rc_whsec_abc123"  # what webhook-signed-with-client-secret gives


@pytest.mark.slow
def test_a_client_secret_signed_run_carries_evidence_support_can_act_on(tmp_path: Path) -> None:
    run = run_suite(tmp_path, RC_SIM_FAULTS="webhook-signed-with-client-secret",
                    RC_WEBHOOK_TIMEOUT="30")
    assert run.returncode == 1, run.stdout[-3000:]
    out = run.stdout
    assert "cause:     wrong-signing-key" in out
    assert "verify with RC_CLIENT_SECRET, not RC_WEBHOOK_SECRET" in out
    assert "did not arrive" not in out
    assert "webhooks: http://127.0.0.1:" in out
    assert re.search(r"webhook deliveries: \d+ received, 0 verified \(loopback, override mode\)",
                     out)
    doc = json.loads((tmp_path / "escalation.json").read_text())
    validate_escalation(doc)
    hooks = doc["webhooks"]
    assert hooks["exposure"] == "direct" and hooks["exposure_detail"] == "loopback"
    assert hooks["url"].endswith("/webhooks/red-cloud") and hooks["received"] >= 3
    sends = {s["messageId"]: s for s in hooks["sends"]}
    assert sends and all(s["requestId"] and s["http_status"] == 202 for s in sends.values())
    rows = hooks["deliveries"]
    assert sum(r["count"] for r in rows) == hooks["received"]
    identity = [(r["messageId"], r["eventType"], r["sequence"], r["verdict"]) for r in rows]
    assert len(identity) == len(set(identity)), "identical deliveries are collapsed"
    for row in rows:
        assert row["messageId"] in sends and not row["verified"] and not row["body_verified"]
        assert json.loads(row["body"])["messageId"] == row["messageId"]
        assert row["headers"]["x-redcloud-signature"] and row["headers"]["x-redcloud-timestamp"]
        assert "RC_CLIENT_SECRET" in row["verdict"] and row["url"] == hooks["url"]
    stage5 = [b for b in doc["bundles"] if b["check"]["stage"] == "webhooks"]
    assert stage5
    for bundle in stage5:
        esc = bundle["escalation"]
        assert esc["requestId"] == sends[esc["messageId"]]["requestId"]
        assert esc["endpoint"] == "POST /api/core/messages/send"
        assert esc["reproduces"]["note"].startswith("not retried: a webhook failure")
        assert bundle["diagnosis"]["lead"]["cause"] == "wrong-signing-key"
        assert "no webhook events arrive" not in bundle["diagnosis"]["symptom"]
    md = (tmp_path / "escalation.md").read_text()
    assert md.count("## Webhook evidence") == 1 and "did not arrive" not in md
    assert "webhook.site" not in md and "unattributed" not in md
    assert len(md.splitlines()) < 200
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert_no_secret(path.read_bytes(), [FAULT_WEBHOOK_SECRET, CLIENT_SECRET], path.name)


@pytest.mark.slow
def test_a_consistent_signature_failure_gets_its_verdict_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    run = run_suite(tmp_path, RC_SIM_FAULTS="webhook-wrong-secret", RC_WEBHOOK_TIMEOUT="60")
    wall = time.monotonic() - started
    assert run.returncode == 1, run.stdout[-3000:]
    assert wall < 30, f"the run took {wall:.1f} s: it waited for RC_WEBHOOK_TIMEOUT"
    verdict = json.loads((tmp_path / "escalation.json").read_text())["webhooks"]["verdict"]
    assert verdict["early"] and verdict["after_first_delivery_s"] < 3
    assert "cause:     signature-unexplained" in run.stdout
    assert re.search(r"none of the \d+ combinations tried on each verifies them: \d+ keys "
                     r"\(RC_WEBHOOK_SECRET; RC_CLIENT_SECRET; the \d+ access tokens", run.stdout)
    assert "Copy RC_WEBHOOK_SECRET again" not in run.stdout
    assert re.search(r"webhook signatures: \d+ verify with none of the combinations tried",
                     run.stdout)


def test_a_valid_event_after_an_early_verdict_is_recorded_and_shown(tmp_path: Path) -> None:
    with Simulator(faults=["webhook-wrong-secret"], delivery_attempts=1) as sim:
        rc = RunContext.create(load_settings(environ={"RC_REPORTS_DIR": str(tmp_path)}),
                               sim.base_url)
        with WebhookSession(rc) as session:
            rc.webhooks = session
            message = accepted_send(rc)
            started = time.time()
            report = session.wait_lifecycle(timeout=60)
            assert session.early is not None, report.issues
            assert time.time() - started < EARLY_AFTER_S + 1
            assert report.cause is not None and report.cause.id == "signature-unexplained"
            late = post_signed(session.listener.url,
                               event(message.message_id, "message.queued", 1,
                                     external_reference=message.external_reference),
                               secret=rc.settings.webhook_secret)
            assert late.status_code == 200
            again = session.wait_lifecycle(timeout=60)  # at once: the verdict was given
            assert again.verified == 1
            section = webhook_evidence.section(rc)
    assert section is not None and section["verdict"]["early"]
    shown = [r for r in section["deliveries"] if r["verified"]]
    assert len(shown) == 1 and shown[0]["after_verdict"]
    assert shown[0]["messageId"] == message.message_id
    assert any("after it" in line for line in webhook_evidence.terminal_lines(section))
