"""The webhook override against the simulator: set, verify, restore on every exit path, an
ignored PATCH detected, and recovery from the journal after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from redcloud_check.context import RunContext
from redcloud_check.core.config import load_settings
from redcloud_check.core.errors import RedcloudCheckError
from redcloud_check.simulator import Simulator
from redcloud_check.webhooks.override import WebhookOverride, journal_path
from redcloud_check.webhooks.override_journal import recover_from_journal

ORIGINAL = "https://example.com/webhooks/delivery"  # the seed's value for num_abc123
OURS = "http://127.0.0.1:9/webhooks/red-cloud"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as started:
        yield started


def context(sim: Simulator, reports: Path) -> RunContext:
    return RunContext.create(load_settings(environ={"RC_REPORTS_DIR": str(reports)}),
                             sim.base_url)


def stored(sim: Simulator) -> str | None:
    return sim.state.numbers["num_abc123"].webhook_delivery_override


def test_set_verified_and_restored_on_normal_exit(sim: Simulator, tmp_path: Path) -> None:
    rc = context(sim, tmp_path)
    with WebhookOverride(rc, OURS) as override:
        status = override.status
        assert status is not None and status.ok, status
        assert status.original == ORIGINAL and status.stored == OURS
        assert stored(sim) == OURS
        journal = json.loads(journal_path(rc.settings).read_text())
        assert journal["original"] == ORIGINAL and journal["publicUrl"] == OURS
        assert journal["pid"] == os.getpid() and journal["baseUrl"] == sim.base_url
        assert rc.settings.client_secret not in json.dumps(journal)
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    assert stored(sim) == ORIGINAL
    assert not journal_path(rc.settings).exists()
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None, signal.default_int_handler)
    assert override.restore() is None  # idempotent


def test_restored_when_the_body_raises(sim: Simulator, tmp_path: Path) -> None:
    rc = context(sim, tmp_path)
    with pytest.raises(RuntimeError, match="boom"), WebhookOverride(rc, OURS):
        assert stored(sim) == OURS
        raise RuntimeError("boom")
    assert stored(sim) == ORIGINAL and not journal_path(rc.settings).exists()


def test_a_null_original_is_restored_as_null(sim: Simulator, tmp_path: Path) -> None:
    sim.state.numbers["num_abc123"].webhook_delivery_override = None
    rc = context(sim, tmp_path)
    with WebhookOverride(rc, OURS) as override:
        assert override.status is not None and override.status.ok
        assert stored(sim) == OURS
    assert stored(sim) is None


def test_an_ignored_patch_is_detected_by_reading_back(tmp_path: Path) -> None:
    with Simulator(faults=["patch-ignored"]) as sim:
        rc = context(sim, tmp_path)
        override = WebhookOverride(rc, OURS)
        status = override.apply()
        assert not status.ok
        assert status.exchange is not None and status.exchange.status == 200
        assert json.loads(status.exchange.response_body)["webhookDeliveryOverride"] == OURS
        assert status.stored == ORIGINAL
        assert "PATCH answered HTTP 200 but the stored webhookDeliveryOverride is still" \
            in status.detail
        assert not override.active and not journal_path(rc.settings).exists()
        assert override.restore() is None


CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from redcloud_check.core.config import load_settings
    from redcloud_check.context import RunContext
    from redcloud_check.webhooks.override import WebhookOverride
    base_url, reports, url = sys.argv[1:4]
    rc = RunContext.create(load_settings(environ={"RC_REPORTS_DIR": reports}), base_url)
    try:
        with WebhookOverride(rc, url) as override:
            print("READY" if override.status.ok else "FAILED", flush=True)
            time.sleep(60)
    except KeyboardInterrupt:
        print("INTERRUPTED", flush=True)
    print("EXITED", flush=True)
""")


def start_child(sim: Simulator, reports: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", CHILD, sim.base_url, str(reports), OURS],
                             stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "READY"  # blocks until the override is in place
    return child


def test_sigterm_restores_through_keyboard_interrupt(sim: Simulator, tmp_path: Path) -> None:
    child = start_child(sim, tmp_path)
    assert stored(sim) == OURS
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=30)
    assert out.split() == ["INTERRUPTED", "EXITED"] and child.returncode == 0
    assert stored(sim) == ORIGINAL
    assert not (tmp_path / ".webhook-override-journal.json").exists()


def test_after_sigkill_the_journal_restores_the_original(sim: Simulator, tmp_path: Path) -> None:
    child = start_child(sim, tmp_path)
    child.kill()  # SIGKILL: no handler, no atexit
    child.wait(timeout=30)
    assert stored(sim) == OURS
    rc = context(sim, tmp_path)
    assert journal_path(rc.settings).exists()
    result = recover_from_journal(rc)
    assert result is not None and result.restored, result
    assert stored(sim) == ORIGINAL
    assert not journal_path(rc.settings).exists()
    (finding,) = rc.findings.all()
    assert finding.severity == "info" and "restored" in finding.detail
    assert recover_from_journal(rc) is None  # nothing left to do


def write_journal(rc: RunContext, **changes: object) -> Path:
    record = {"numberId": "num_abc123", "original": ORIGINAL, "baseUrl": rc.client.base_url,
              "clientId": rc.settings.client_id, "publicUrl": OURS, "pid": 2**22 + 7,
              "createdAt": "2026-01-01T00:00:00Z"} | changes
    path = journal_path(rc.settings)
    path.write_text(json.dumps(record))
    return path


def test_a_journal_of_another_target_is_left_alone(sim: Simulator, tmp_path: Path) -> None:
    rc = context(sim, tmp_path)
    path = write_journal(rc, baseUrl="https://other.example.com")
    assert recover_from_journal(rc) is None
    assert path.exists()


def test_a_journal_of_a_live_run_is_left_alone(sim: Simulator, tmp_path: Path) -> None:
    rc = context(sim, tmp_path)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        path = write_journal(rc, pid=sleeper.pid)
        sim.state.numbers["num_abc123"].webhook_delivery_override = OURS
        result = recover_from_journal(rc)
        assert result is not None and not result.restored and "still alive" in result.detail
        assert path.exists() and stored(sim) == OURS
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_value_changed_since_is_not_clobbered(sim: Simulator, tmp_path: Path) -> None:
    rc = context(sim, tmp_path)
    path = write_journal(rc)
    sim.state.numbers["num_abc123"].webhook_delivery_override = "https://new.example.com/hook"
    result = recover_from_journal(rc)
    assert result is not None and not result.restored and "left as is" in result.detail
    assert stored(sim) == "https://new.example.com/hook" and not path.exists()


@pytest.mark.slow
def test_sigterm_during_a_suite_run_restores_the_override(tmp_path: Path) -> None:
    """The whole suite against an external simulator; SIGTERM while stage 5 waits."""
    from .suite_runner import clean_env

    with Simulator(faults=["webhook-no-final-event"]) as sim:
        env = clean_env(RC_BASE_URL=sim.base_url, RC_CLIENT_ID="rc_test_client_123",
                        RC_CLIENT_SECRET="rc_secret_abc123", RC_NUMBER_ID="num_abc123",
                        RC_ALLOW_SEND="1", RC_TO="+15551234567",
                        RC_WEBHOOK_SECRET="rc_secret_abc123", RC_WEBHOOK_TIMEOUT="120",
                        RC_REPORTS_DIR=str(tmp_path))
        suite = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-c", str(REPO / "pytest.ini"), "--rootdir",
             str(REPO), str(REPO / "checks"), "-v", "-p", "no:randomly"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            stdin=subprocess.DEVNULL)
        assert suite.stdout is not None
        seen = []
        for line in suite.stdout:  # the next check waits up to 120 s for the lifecycle
            seen.append(line)
            if "test_webhook_override_takes_effect PASSED" in line:
                break
        else:
            pytest.fail("".join(seen[-30:]))
        assert stored(sim) != ORIGINAL  # the override is in place
        suite.send_signal(signal.SIGTERM)
        out, _ = suite.communicate(timeout=60)
        assert stored(sim) == ORIGINAL, out[-2000:]
        assert suite.returncode != 0
    assert not (tmp_path / ".webhook-override-journal.json").exists()
    assert "redcloud-check: interrupted" in out, out[-2000:]
    escalation = json.loads((tmp_path / "escalation.json").read_text())
    assert escalation["summary"]["verdict"] == "interrupted"


def test_a_journal_for_another_number_of_the_client_is_restored(sim: Simulator,
                                                               tmp_path: Path) -> None:
    other = next(n for n in sim.state.numbers_of("rc_test_client_123")
                 if n.number_id != "num_abc123")
    other.webhook_delivery_override = OURS
    rc = context(sim, tmp_path)
    path = write_journal(rc, numberId=other.number_id, original=None)
    result = recover_from_journal(rc)
    assert result is not None and result.restored and result.problem is None, result
    assert other.webhook_delivery_override is None and not path.exists()


def test_an_unrestorable_override_is_misrouted_naming_the_number_and_url(
        tmp_path: Path) -> None:
    with Simulator(faults=["patch-ignored"]) as sim:
        sim.state.numbers["num_abc123"].webhook_delivery_override = OURS
        rc = context(sim, tmp_path)
        path = write_journal(rc)
        result = recover_from_journal(rc)
    assert result is not None and not result.restored and result.misrouted
    assert result.problem is not None
    assert result.problem.startswith(f"webhookDeliveryOverride of num_abc123 still points "
                                     f"at {OURS}")
    assert path.exists()  # kept for the next command
    (finding,) = rc.findings.all()
    assert finding.severity == "warning" and OURS in finding.detail


def test_an_unreachable_target_leaves_the_journal_and_says_misrouted(tmp_path: Path) -> None:
    from .bad_targets import closed_port_url

    dead = closed_port_url()
    rc = RunContext.create(load_settings(environ={"RC_REPORTS_DIR": str(tmp_path)}), dead)
    path = write_journal(rc)
    result = recover_from_journal(rc)
    assert result is not None and result.misrouted and result.url == OURS
    assert "unreachable" in result.detail and path.exists()


def test_an_unreadable_journal_is_misrouted_not_an_exception(sim: Simulator,
                                                             tmp_path: Path) -> None:
    rc = context(sim, tmp_path)
    journal_path(rc.settings).write_text("{not json")
    result = recover_from_journal(rc)
    assert result is not None and result.misrouted and result.problem is not None
    assert "unreadable" in result.problem and stored(sim) == ORIGINAL


def test_no_second_override_while_a_journal_is_not_recovered(sim: Simulator,
                                                             tmp_path: Path) -> None:
    rc = context(sim, tmp_path)
    write_journal(rc, baseUrl="https://other.example.com")
    before = len(sim.requests)
    with pytest.raises(RedcloudCheckError, match="no second override"):
        WebhookOverride(rc, "http://127.0.0.1:9/another-listener").apply()
    assert sim.requests[before:] == [] and stored(sim) == ORIGINAL


def test_at_exit_a_target_gone_is_left_to_the_journal_and_said(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Simulator() as sim:
        rc = context(sim, tmp_path)
        override = WebhookOverride(rc, OURS)
        override.apply()
    override._at_exit()  # the simulator is gone: TargetUnreachable, never raised here
    assert journal_path(rc.settings).exists(), "the next run restores it"
    err = capsys.readouterr().err
    assert "could not be restored at exit (TargetUnreachable)" in err
    assert str(journal_path(rc.settings)) in err
    override._disarm()


def test_at_exit_a_bug_of_ours_is_not_swallowed(sim: Simulator, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    rc = context(sim, tmp_path)
    override = WebhookOverride(rc, OURS)
    override.apply()

    def broken() -> None:
        raise KeyError("a bug in the restore")

    monkeypatch.setattr(override, "restore", broken)
    with pytest.raises(KeyError):  # atexit prints its traceback: never silent
        override._at_exit()
    monkeypatch.undo()
    assert override.restore() is not None and stored(sim) == ORIGINAL
