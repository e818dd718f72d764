"""Say exactly what was proven: the headline names what passed and what did not run, and
why; the terminal names the webhook URL and how the target reaches it; a configuration
error names the target. Real runs against the simulator over HTTP."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from redcloud_check.simulator import Simulator

from .suite_runner import REPO, clean_env, run_suite

CLI = [sys.executable, "-m", "redcloud_check.cli"]
REMOTE = {"RC_CLIENT_ID": "rc_test_client_123", "RC_CLIENT_SECRET": "rc_secret_abc123",
          "RC_NUMBER_ID": "num_abc123"}


def _headline(stdout: str) -> str:
    match = re.search(r"^=+ redcloud-check: (.+?) =+$", stdout, re.M)
    assert match, stdout[-2000:]
    return match[1]


@pytest.mark.slow
def test_k_webhooks_proves_nothing_and_says_so(tmp_path: Path) -> None:
    proc = subprocess.run([*CLI, "run", "-k", "webhooks", "--rc-reports-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, cwd=REPO,
                          env=clean_env())
    assert proc.returncode == 0, proc.stdout[-3000:]
    headline = _headline(proc.stdout)
    assert headline.startswith("partial — ") and "passed:" not in headline, headline
    assert "token, whoami, numbers, send (deselected)" in headline
    assert "webhooks (no message was accepted in the send stage)" in headline
    assert not re.search(r"^  webhooks +passed", proc.stdout, re.M)
    doc = json.loads((tmp_path / "escalation.json").read_text())
    assert doc["summary"]["verdict"] == "partial" and doc["summary"]["headline"] == headline


@pytest.mark.slow
def test_a_run_without_sends_names_the_stages_it_did_not_run(tmp_path: Path) -> None:
    with Simulator() as sim:
        run = run_suite(tmp_path, RC_BASE_URL=sim.base_url, **REMOTE)
    assert run.returncode == 0, run.stdout[-3000:]
    headline = _headline(run.stdout)
    assert headline == ("partial — passed: token, whoami, numbers; not run: send, webhooks "
                        "(sending is disabled for a remote target)"), headline
    assert "webhooks: " not in run.stdout, "no webhook session without sends"


@pytest.mark.slow
def test_everything_ran_is_the_only_plain_pass(tmp_path: Path) -> None:
    run = run_suite(tmp_path)
    assert run.returncode == 0 and _headline(run.stdout) == "passed"
    assert json.loads((tmp_path / "escalation.json").read_text())["summary"]["verdict"] == \
        "passed"


@pytest.mark.slow
def test_a_sending_run_against_a_loopback_target_shows_its_webhook_url(tmp_path: Path) -> None:
    with Simulator() as sim:
        run = run_suite(tmp_path, RC_BASE_URL=sim.base_url, RC_ALLOW_SEND="1",
                        RC_TO="+15551234567", RC_WEBHOOK_SECRET="rc_secret_abc123",
                        RC_WEBHOOK_TIMEOUT="5", **REMOTE)
        delivered = [d.url for d in sim.deliveries]
    assert run.returncode == 0 and _headline(run.stdout) == "passed", run.stdout[-3000:]
    shown = re.search(r"^  webhooks: (http://127\.0\.0\.1:\d+/webhooks/red-cloud) \(direct\)$",
                      run.stdout, re.M)
    assert shown, run.stdout[-3000:]
    assert delivered and {shown[1]} == set(delivered), "the URL shown is where events went"


@pytest.mark.slow
def test_a_configuration_error_bundle_names_the_target(tmp_path: Path) -> None:
    run = run_suite(tmp_path, RC_BASE_URL="http://user:pw@127.0.0.1:9", RC_CLIENT_ID="c")
    assert run.returncode == 3
    doc = json.loads((tmp_path / "escalation.json").read_text())
    assert doc["run"]["target"] == "http://127.0.0.1:9", "named, without its userinfo"
    assert "- Target: http://127.0.0.1:9" in (tmp_path / "escalation.md").read_text()
