"""The suite as a user meets it: configuration errors, read-only remote runs, gate blocking."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from redcloud_check.simulator import Simulator

from .suite_runner import run_suite

CANONICAL = {"RC_CLIENT_ID": "rc_test_client_123", "RC_CLIENT_SECRET": "rc_secret_abc123",
             "RC_NUMBER_ID": "num_abc123"}
SEND_PATH = "/api/core/messages/send"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@pytest.mark.slow
def test_misconfiguration_stops_at_once_naming_the_setting(tmp_path: Path) -> None:
    run = run_suite(tmp_path, RC_BASE_URL="https://api.example.test", RC_CLIENT_ID="x",
                    RC_NUMBER_ID="num_x")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "RC_CLIENT_SECRET: is required when RC_BASE_URL is set" in output
    assert output.count("RC_CLIENT_SECRET") <= 2, output  # one message, not dozens of failures
    assert "Traceback" not in output
    assert (tmp_path / "junit.xml").is_file()
    assert "RC_CLIENT_SECRET" in (tmp_path / "junit.xml").read_text()


@pytest.mark.slow
@pytest.mark.parametrize(("env", "setting"), [
    ({"RC_BASE_URL": "api.example.test"}, "RC_BASE_URL"),
    ({"RC_TO": "5551234567"}, "RC_TO"),
])
def test_malformed_setting_is_named(tmp_path: Path, env: dict[str, str], setting: str) -> None:
    run = run_suite(tmp_path, **{**CANONICAL, **env})
    assert run.returncode != 0
    assert f"configuration error: {setting}" in run.stderr + run.stdout


@pytest.mark.slow
def test_remote_target_without_allow_send_receives_no_send(tmp_path: Path,
                                                           sim: Simulator) -> None:
    run = run_suite(tmp_path, RC_BASE_URL=sim.base_url, **CANONICAL)
    assert run.returncode == 0, run.stdout[-3000:]
    sends = [c for c in run.cases if c.stage in ("send", "webhooks")]
    assert sends and all(c.outcome == "skipped" for c in sends)
    assert all("RC_ALLOW_SEND=1" in c.message for c in sends)
    assert [r for r in sim.requests if r.path == SEND_PATH] == []
    assert [r for r in sim.requests if r.method == "PATCH" and "rccheck" not in r.path] != [], (
        "the no-op update round trip still runs")


@pytest.mark.slow
def test_remote_target_with_allow_send_runs_every_stage(tmp_path: Path,
                                                        sim: Simulator) -> None:
    run = run_suite(tmp_path, RC_BASE_URL=sim.base_url, RC_ALLOW_SEND="1",
                    RC_TO="+15551234567", RC_WEBHOOK_SECRET="rc_secret_abc123", **CANONICAL)
    assert run.returncode == 0, run.stdout[-3000:]
    assert not run.by_outcome("skipped"), run.stdout[-3000:]
    assert any(r.path == SEND_PATH and r.status == 202 for r in sim.requests)


@pytest.mark.slow
def test_failed_gate_names_the_blocking_stage_in_the_terminal(tmp_path: Path) -> None:
    run = run_suite(tmp_path, RC_SIM_FAULTS="whoami-client-inactive")
    assert run.returncode == 1
    assert "blocked by whoami: fix that first" in run.stdout
    blocked = [c for c in run.cases if c.stage in ("numbers", "send", "webhooks")]
    assert blocked and {c.outcome for c in blocked} == {"skipped"}


@pytest.mark.slow
def test_plugin_is_inert_outside_the_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        def test_uses_rc(rc):
            pass

        def test_plain():
            assert True
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1)
    assert not (pytester.path / "reports").exists()


@pytest.mark.slow
def test_terminal_failure_says_what_to_do_next(tmp_path: Path) -> None:
    run = run_suite(tmp_path, RC_SIM_FAULTS="send-sms-media-accepted")
    block = run.stdout.split("test_sms_with_media_is_rejected", 1)[1].split("=====", 1)[0]
    assert "expected: HTTP 400" in block and "actual:   HTTP 202" in block
    assert "requestId: req_" in block
    assert "next:      escalate to Red Cloud with this bundle" in block


@pytest.mark.slow
def test_terminal_gate_failure_points_at_the_guide(tmp_path: Path) -> None:
    run = run_suite(tmp_path, RC_SIM_FAULTS="number-not-active")
    block = run.stdout.split("test_configured_number_is_usable", 1)[1].split("=====", 1)[0]
    assert "next:" in block
    assert "5-troubleshooting.txt, Symptom: /api/core/numbers succeeds but sends fail" in block


SENDING = {**CANONICAL, "RC_TO": "+15551234567", "RC_WEBHOOK_SECRET": "rc_secret_abc123",
           "RC_ALLOW_SEND": "1"}


@pytest.mark.slow
@pytest.mark.parametrize(("env", "setting"), [
    ({"RC_TUNNEL": "ngrok"}, "NGROK_AUTHTOKEN"),
    ({"RC_TUNNEL": "ngrok", "NGROK_AUTHTOKEN": "tok-unused",
      "RC_NGROK_PATH": "/nonexistent/ngrok"}, "RC_NGROK_PATH"),
])
def test_a_tunnel_that_cannot_open_stops_the_run_before_any_send(
        tmp_path: Path, sim: Simulator, env: dict[str, str], setting: str) -> None:
    run = run_suite(tmp_path, RC_BASE_URL=sim.base_url, **{**SENDING, **env})
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"configuration error: {setting}" in output
    assert "Nothing was sent" in output and "Traceback" not in output
    assert sim.requests == []
    assert (tmp_path / "junit.xml").is_file()


@pytest.mark.slow
def test_a_listener_that_cannot_bind_fails_the_gate_once_without_a_traceback(
        tmp_path: Path, sim: Simulator) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        run = run_suite(tmp_path, RC_BASE_URL=sim.base_url, RC_LISTEN_PORT=port, **SENDING)
    webhooks = {c.name.rpartition("::")[2]: c for c in run.cases if c.stage == "webhooks"}
    assert run.returncode == 1
    assert "Traceback" not in run.stdout
    gate = webhooks.pop("test_lifecycle_events_arrive_for_every_accepted_message")
    assert gate.outcome == "failed"
    assert "could not run this check; not a finding about the API" in run.stdout
    assert {c.outcome for c in webhooks.values()} == {"skipped"}


@pytest.mark.slow
def test_dotenv_in_the_current_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("# the integrator's settings\nRC_TO=5551234567\n")
    run = run_suite(tmp_path / "reports", cwd=tmp_path)
    assert run.returncode != 0
    assert "configuration error: RC_TO" in run.stdout + run.stderr


@pytest.mark.slow
def test_warnings_are_listed_and_never_fail_the_run(tmp_path: Path) -> None:
    clean = run_suite(tmp_path / "clean")
    assert clean.returncode == 0 and "warnings: none" in clean.stdout
    # A carrier rejection is a complete lifecycle the docs allow: graded, not failed.
    rejected = run_suite(tmp_path / "rejected", RC_TO="+15005550001")
    assert rejected.returncode == 0, rejected.stdout[-2000:]
    assert "warning: " in rejected.stdout and "CARRIER_REJECTED" in (
        tmp_path / "rejected" / "report.html").read_text()
    summary = json.loads((tmp_path / "rejected" / "escalation.json").read_text())
    assert summary["summary"]["warnings"], "the warning is in escalation.json too"


@pytest.mark.slow
def test_an_unusable_reports_dir_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    run = run_suite(tmp_path / "unused", RC_REPORTS_DIR=str(blocker / "reports"))
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "configuration error: RC_REPORTS_DIR: cannot create" in output
    assert "Traceback" not in output
