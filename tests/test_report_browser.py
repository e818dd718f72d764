"""report.html in a real browser: pytest-html 4 renders its rows with JavaScript from a JSON
blob, so only a browser shows whether the inline bundle (requestId included) is in the DOM."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .suite_runner import run_suite

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                             "/usr/bin/chromium") if p and Path(p).is_file()), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium binary (CI installs it with `apt-get install -y chromium`)")


def dump_dom(page: Path, profile: Path) -> str:
    assert CHROMIUM is not None
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
         "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_failing_check_bundle_is_rendered_in_the_dom(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    run = run_suite(reports, RC_SIM_FAULTS="send-idempotency-optional", RC_WEBHOOK_TIMEOUT="5")
    assert run.returncode == 1, run.stdout[-3000:]
    doc = json.loads((reports / "escalation.json").read_text())
    bundle = next(b for b in doc["bundles"]
                  if b["check"]["name"] == "test_missing_idempotency_key_is_rejected")
    request_id = bundle["escalation"]["requestId"]
    assert request_id
    dom = dump_dom(reports / "report.html", tmp_path / "profile")
    # The row of the failing check, rendered by the page's script (not the JSON blob).
    row = re.search(r'<tbody class="results-table-row failed" id="([^"]+)">(.*?)</tbody>', dom,
                    re.S)
    assert row is not None, "no failed row was rendered"
    assert row.group(1).endswith("test_missing_idempotency_key_is_rejected")
    body = row.group(2)
    assert '<div class="rc-bundle"' in body
    assert f'<dd class="rc-request-id"><code>{request_id}</code></dd>' in body
    assert "Best next action:" in body and 'class="rc-curl"' in body
    # The summary: stage verdicts and the latency chart, and the environment table.
    assert 'class="rc-stages"' in dom and '<svg class="rc-latency"' in dom
    assert re.search(r"<td>Target</td>\s*<td><div>embedded simulator at http://127\.0\.0\.1:",
                     dom), "the environment table names the target"
