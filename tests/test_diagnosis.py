"""The one diagnosis pipeline: evidence -> Diagnosis -> every renderer, leading alike."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from redcloud_check.cli.probe_output import document
from redcloud_check.core.config import load_settings
from redcloud_check.core.errors import CheckFailure, ConfigError, TargetUnreachable
from redcloud_check.core.models import Cause
from redcloud_check.probe.runner import run_probe
from redcloud_check.reporting.diagnosis import (
    diagnose,
    observe,
    one_line,
    terminal_lines,
)

from .suite_runner import run_suite

CAUSE = Cause("secret-mismatch", "All 3 request(s) failed signature verification.",
              "Check RC_WEBHOOK_SECRET.", "1-quickstart.txt, Section 9")


def _failure(cause: Cause | None = None) -> CheckFailure:
    return CheckFailure(title="t", expected="e", actual="a", clause="c", cause=cause)


def test_the_check_s_own_cause_leads() -> None:
    diagnosis = diagnose(_failure(CAUSE), stage="webhooks", check="test_x")
    lead = diagnosis.lead
    assert (lead.source, lead.cause, lead.summary) == ("finding", "secret-mismatch",
                                                       CAUSE.detail)
    data = diagnosis.as_dict()
    assert data["lead"]["cause"] == "secret-mismatch"
    assert data["finding"]["cause"] == "secret-mismatch"  # escalation.json keeps its field
    assert data["id"] == diagnosis.guide.id  # and the guide's entry beside it
    assert terminal_lines(data)[:2] == ["  cause:     secret-mismatch",
                                        f"  found:     {CAUSE.detail}"]
    assert one_line(diagnosis).startswith(CAUSE.detail + " -> Check RC_WEBHOOK_SECRET.")


def test_without_a_cause_the_guide_entry_leads() -> None:
    diagnosis = diagnose(TargetUnreachable("http://u:p@127.0.0.1:9/x", "refused", "refused"),
                         stage="token")
    lead = diagnosis.lead
    assert (lead.source, lead.cause) == ("guide", "unreachable-refused")
    assert lead.reference == diagnosis.guide.section and "u:p@" not in diagnosis.guide.note
    lines = terminal_lines(diagnosis.as_dict())
    assert lines[0] == "  cause:     unreachable-refused"
    assert lines[-1].endswith(f"({diagnosis.guide.section})")
    assert "finding" not in diagnosis.as_dict()


def test_the_observation_is_built_one_way() -> None:
    timeout = observe(TargetUnreachable("http://h/x", "timeout", "read timed out"),
                      stage="token", timeout=10)
    assert (timeout.failure, timeout.kind, timeout.timeout) == ("unreachable", "timeout", "10 s")
    config = observe(ConfigError("RC_TO", "not E.164"))
    assert (config.failure, config.setting, config.error) == ("config", "RC_TO",
                                                              "RC_TO: not E.164")
    bug = observe(KeyError("results"), stage="send")
    assert (bug.failure, bug.error) == ("tool", "KeyError: 'results'")


FAULT = "webhook-hmac-body-only"
GATE = "test_lifecycle_events_arrive_for_every_accepted_message"


@pytest.mark.slow
def test_one_failure_leads_with_the_same_cause_in_every_renderer(tmp_path: Path) -> None:
    """The stage-5 gate failing on body-only HMACs, rendered by the suite (terminal,
    report.html, escalation.json, escalation.md) and by the canary probe (probe.json)."""
    run = run_suite(tmp_path, RC_SIM_FAULTS=FAULT, RC_WEBHOOK_TIMEOUT="2")
    assert run.returncode == 1, run.stdout[-2000:]
    doc = json.loads((tmp_path / "escalation.json").read_text())
    [bundle] = [b for b in doc["bundles"] if b["check"]["name"] == GATE]
    lead = bundle["diagnosis"]["lead"]
    causes = {"escalation.json": lead["cause"]}

    block = run.stdout.split(GATE, 1)[1].split("=====", 1)[0]
    first = re.search(r"^  cause:\s+(\S+)\n  found:\s+(.+)$", block, re.M)
    assert first is not None, block
    causes["terminal"] = first[1]
    assert first[2] == lead["summary"]

    # pytest-html keeps the rows as escaped JSON in an attribute: undo both escapes
    page = html.unescape(html.unescape((tmp_path / "report.html").read_text()))
    page = page.replace('\\"', '"')
    shown = re.search(rf'data-nodeid="[^"]*{GATE}".*?data-cause="([^"]+)"', page, re.S)
    assert shown is not None
    causes["report.html"] = shown[1]

    ticket = (tmp_path / "escalation.md").read_text()
    [section] = [s for s in ticket.split("\n### ") if f"::{GATE}`" in s]
    told = re.search(r"^Diagnosis — cause `([^`]+)`:\n\n- Found: (.+)$", section, re.M)
    assert told is not None, section
    causes["escalation.md"] = told[1]
    assert told[2] == lead["summary"]

    settings = load_settings(environ={"RC_SIM_FAULTS": FAULT, "RC_WEBHOOK_TIMEOUT": "2",
                                      "RC_REPORTS_DIR": str(tmp_path / "probe")})
    probed = document(run_probe(settings, canary=True))
    [webhooks] = [s for s in probed["stages"] if s["stage"] == "webhooks"]
    causes["probe.json"] = webhooks["cause"]
    assert re.match(r"All \d+ deliveries' signatures are an HMAC of the raw body",
                    webhooks["diagnosis"])

    assert set(causes.values()) == {"hmac-body-only"}, causes
