"""A canary probe killed with SIGKILL during its webhook wait leaves the number's override
pointing at its dead listener. The next command with the credentials, the read-only probe
included, restores it; until then every probe and run says "unhealthy", naming the number
and the misrouted URL.

The canary is a real `redcloud-check probe --canary` process against a simulator on
loopback; it is killed once the simulator has delivered `message.sent` to its listener (the
event that shows it is waiting for the final event, which this simulator never sends).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from redcloud_check.core.config import CANONICAL
from redcloud_check.simulator import Simulator
from redcloud_check.webhooks.override import JOURNAL_NAME, shown

from .suite_runner import clean_env, run_suite

NUMBER = CANONICAL["number_id"]
CREDENTIALS = {"RC_CLIENT_ID": CANONICAL["client_id"],
               "RC_CLIENT_SECRET": CANONICAL["client_secret"], "RC_NUMBER_ID": NUMBER}


def stored(sim: Simulator) -> str | None:
    return sim.state.numbers[NUMBER].webhook_delivery_override


def probe_env(sim: Simulator, reports: Path, **extra: str) -> dict[str, str]:
    return clean_env(RC_BASE_URL=sim.base_url, RC_REPORTS_DIR=str(reports), **CREDENTIALS,
                     **extra)


CANARY = {"RC_ALLOW_SEND": "1", "RC_TO": CANONICAL["to"],
          "RC_WEBHOOK_SECRET": CANONICAL["webhook_secret"]}


def probe(sim: Simulator, reports: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """`redcloud-check probe` (read-only unless --canary): (exit code, its JSON line)."""
    extra = CANARY if "--canary" in args else {}
    proc = subprocess.run([sys.executable, "-m", "redcloud_check.cli", "probe", *args],
                          env=probe_env(sim, reports, **extra), capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert CANONICAL["client_secret"] not in proc.stdout + proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture
def killed_canary(tmp_path: Path) -> Iterator[tuple[Simulator, Path, str, str]]:
    """(simulator, reports dir, the number's original override, the dead listener's URL)."""
    reports = tmp_path / "reports"
    with Simulator(faults=["webhook-no-final-event"]) as sim:
        original = stored(sim)
        assert original is not None
        canary = subprocess.Popen(
            [sys.executable, "-m", "redcloud_check.cli", "probe", "--canary"],
            env=probe_env(sim, reports, **CANARY, RC_WEBHOOK_TIMEOUT="120"),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            waiting = sim.wait_until(lambda s: any(
                d.event_type == "message.sent" and d.ok for d in s.deliveries), timeout=60)
            assert waiting, "the canary never reached its webhook wait"
            assert canary.poll() is None, "the canary ended before its webhook wait"
            listener = stored(sim)
            assert listener is not None and listener != original
            assert listener.startswith("http://127.0.0.1:")
            assert (reports / JOURNAL_NAME).exists()
        finally:
            canary.send_signal(signal.SIGKILL)  # no handler, no atexit, no finally
            canary.wait(timeout=30)
        assert canary.returncode == -signal.SIGKILL
        assert stored(sim) == listener  # left misrouted: nothing restored it
        yield sim, reports, original, listener


def test_a_read_only_probe_restores_the_override_a_killed_canary_left(
        killed_canary: tuple[Simulator, Path, str, str]) -> None:
    sim, reports, original, _ = killed_canary
    before = len(sim.requests)
    code, summary = probe(sim, reports)
    assert stored(sim) == original  # restored by the read-only probe
    assert not (reports / JOURNAL_NAME).exists()
    assert (code, summary["status"], summary["error"]) == (0, "healthy", None), summary
    assert f"{NUMBER} restored to {shown(original)}" in summary["override_recovery"]
    made = [(r.method, r.path) for r in sim.requests[before:]]
    assert made.count(("PATCH", f"/api/core/numbers/{NUMBER}")) == 1  # the restore only
    assert ("POST", "/api/core/messages/send") not in made


def test_until_restored_every_probe_is_unhealthy_naming_the_number_and_url(
        killed_canary: tuple[Simulator, Path, str, str]) -> None:
    sim, reports, original, listener = killed_canary
    sim.set_faults(["patch-ignored"])  # the restore PATCH answers 200 and stores nothing
    for args in ((), ("--canary",)):
        before = len(sim.requests)
        code, summary = probe(sim, reports, *args)
        assert (code, summary["status"]) == (1, "unhealthy"), summary
        assert f"webhookDeliveryOverride of {NUMBER} still points at {listener}" \
            in summary["error"]
        assert stored(sim) == listener and (reports / JOURNAL_NAME).exists()
        # nor is a canary sent: its own override would take the dead URL for the original
        assert not [r for r in sim.requests[before:] if r.path == "/api/core/messages/send"]
    sim.set_faults(())
    code, summary = probe(sim, reports)
    assert (code, summary["status"]) == (0, "healthy") and stored(sim) == original


@pytest.mark.slow
def test_until_restored_a_run_is_unhealthy_naming_the_number_and_url(
        killed_canary: tuple[Simulator, Path, str, str]) -> None:
    sim, reports, original, listener = killed_canary
    sim.set_faults(["patch-ignored"])
    run = run_suite(reports, RC_BASE_URL=sim.base_url, **CREDENTIALS)
    output = run.stdout + run.stderr
    assert run.returncode != 0 and not run.failed, output[-3000:]  # every check passed
    assert "redcloud-check: unhealthy" in output, output[-3000:]
    assert f"webhookDeliveryOverride of {NUMBER} still points at {listener}" in output
    doc = json.loads((reports / "escalation.json").read_text())
    assert doc["summary"]["verdict"] == "unhealthy"
    assert listener in doc["summary"]["misrouted"]
    assert stored(sim) == listener and (reports / JOURNAL_NAME).exists()
    sim.set_faults(())
    run = run_suite(reports, RC_BASE_URL=sim.base_url, **CREDENTIALS)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert stored(sim) == original and not (reports / JOURNAL_NAME).exists()

