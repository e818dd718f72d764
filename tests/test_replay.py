"""`redcloud-check replay [RUN]` over real HTTP against the simulator: a run against a fault,
then its failed checks run again against the same fault (STILL FAILING, exit 1), against the
fault-free simulator (FIXED, exit 0), and behind a gate that fails now (NOT RUN); the
re-run runs fewer checks and the original run's folder stays byte-identical."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from redcloud_check.core.exit_codes import ExitCode, meanings
from redcloud_check.reporting import replay
from redcloud_check.reporting.artifacts import validate_escalation
from redcloud_check.reporting.run_folder import RUNS
from redcloud_check.simulator import Simulator

from .remote_env import REMOTE
from .suite_runner import REPO, clean_env, run_suite

CLI = [sys.executable, "-m", "redcloud_check.cli", "replay"]
WHOAMI_FAULT = "whoami-wrong-client-id"  # fails RC-WHOAMI-04 alone
SEND_FAULT = "send-e164-sendfrom-accepted"  # fails RC-SEND-03 alone
WHOAMI_RERUN = {"RC-TOKEN-01", "RC-WHOAMI-01", "RC-WHOAMI-04"}
SEND_PATH = "/api/core/messages/send"


def _run_id(reports: Path) -> str:
    return json.loads((reports / "escalation.json").read_text("utf-8"))["run"]["run_id"]


@pytest.fixture(scope="module")
def whoami_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reports dir holding one run against WHOAMI_FAULT (its folder and the copies)."""
    reports = tmp_path_factory.mktemp("whoami-fault")
    assert run_suite(reports, RC_SIM_FAULTS=WHOAMI_FAULT).returncode == 1
    return reports


@pytest.fixture(scope="module")
def send_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reports = tmp_path_factory.mktemp("send-fault")
    assert run_suite(reports, RC_SIM_FAULTS=SEND_FAULT).returncode == 1
    return reports


@pytest.fixture
def reports(whoami_run: Path, tmp_path: Path) -> Path:
    """A copy of `whoami_run`'s reports dir, for one test to replay in."""
    return Path(shutil.copytree(whoami_run, tmp_path / "reports"))


def replay_cli(reports: Path, *args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=120,
                          cwd=reports.parent, stdin=subprocess.DEVNULL,
                          env=clean_env(RC_REPORTS_DIR=str(reports), **env))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def run_doc(reports: Path, run_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((reports / RUNS / run_id / "escalation.json").read_text(
        "utf-8"))
    return doc


def rerun_of(reports: Path, original: str) -> tuple[Path, dict[str, Any]]:
    """The one new run folder, replaying `original`."""
    (folder,) = [p for p in (reports / RUNS).iterdir() if p.name != original]
    doc = run_doc(reports, folder.name)
    validate_escalation(doc)
    assert doc["replayOf"] == original
    return folder, doc


@pytest.mark.slow
def test_against_the_same_fault_it_still_fails(reports: Path) -> None:
    original = _run_id(reports)
    before = snapshot(reports / RUNS / original)
    # RC_KEEP_RUNS=1: the re-run's pruning must still keep the run it re-runs
    proc = replay_cli(reports, reports / RUNS / original, "--fault", WHOAMI_FAULT,
                      RC_KEEP_RUNS="1")
    assert proc.returncode == ExitCode.CHECK_FAILED, proc.stdout[-3000:] + proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("  RC-WHOAMI-04"))
    assert "STILL FAILING" in line
    assert line.count("apiClientId 'rc_inactive_client'") == 2, "the old and the new value"
    assert f"Re-run of {original}: 0 fixed, 1 still failing" in proc.stdout
    folder, doc = rerun_of(reports, original)
    assert doc["replay"] == [{
        "checkId": "RC-WHOAMI-04", "verdict": "still_failing",
        "before": {"outcome": "failed", "actual": "apiClientId 'rc_inactive_client'",
                   "reason": "The token belongs to another API client", "blockedBy": None},
        "after": {"outcome": "failed", "actual": "apiClientId 'rc_inactive_client'",
                  "reason": "The token belongs to another API client", "blockedBy": None}}]
    original_doc = run_doc(reports, original)
    assert {c["checkId"] for c in doc["checks"]} == WHOAMI_RERUN
    assert len(doc["checks"]) < len(original_doc["checks"])
    assert (folder / "escalation.md").read_text("utf-8").startswith(
        f"Re-run of {original}: 0 fixed, 1 still failing\n")
    assert _run_id(reports) == folder.name, "the re-run is the latest run"
    assert snapshot(reports / RUNS / original) == before


@pytest.mark.slow
def test_against_the_fault_free_simulator_it_is_fixed(reports: Path) -> None:
    original = _run_id(reports)
    before = snapshot(reports / RUNS / original)
    # the documented copy (reports/escalation.json) stands for the run's own file
    proc = replay_cli(reports, reports / "escalation.json")
    assert proc.returncode == ExitCode.OK, proc.stdout[-3000:] + proc.stderr
    assert proc.stderr == "", "same target, client and number: no warning"
    line = next(x for x in proc.stdout.splitlines() if x.startswith("  RC-WHOAMI-04"))
    assert "FIXED" in line and "was: apiClientId 'rc_inactive_client'" in line
    assert line.endswith("now: passed")
    folder, doc = rerun_of(reports, original)
    assert [(r["checkId"], r["verdict"], r["after"]["outcome"]) for r in doc["replay"]] == [
        ("RC-WHOAMI-04", "fixed", "passed")]
    assert len(doc["checks"]) == len(WHOAMI_RERUN) < len(run_doc(reports, original)["checks"])
    assert (folder / "escalation.md").read_text("utf-8").startswith(
        f"Re-run of {original}: 1 fixed, 0 still failing\n")
    assert snapshot(reports / RUNS / original) == before
    # a run whose checks all passed has nothing to replay
    again = replay_cli(reports, folder)
    assert again.returncode == ExitCode.CONFIG_ERROR
    assert f"run {folder.name} has nothing to replay: none of its 3 checks failed" in \
        again.stderr


@pytest.mark.slow
def test_behind_a_gate_that_fails_now_it_is_not_run(send_run: Path, tmp_path: Path) -> None:
    reports = Path(shutil.copytree(send_run, tmp_path / "reports"))
    original = _run_id(reports)
    before = snapshot(reports / RUNS / original)
    proc = replay_cli(reports, "--fault", "number-missing")
    assert proc.returncode == ExitCode.CHECK_FAILED, proc.stdout[-3000:] + proc.stderr
    assert ("re-running RC-SEND-03 of run " + original) in proc.stdout
    assert "with the gates RC-TOKEN-01, RC-WHOAMI-01, RC-NUMBERS-01, RC-SEND-01" in proc.stdout
    line = next(x for x in proc.stdout.splitlines() if x.startswith("  RC-SEND-03"))
    assert "NOT RUN (blocked by numbers: RC-NUMBERS-01 failed: " in line and "was: " in line
    assert "RC-NUMBERS-01  FAILED in this re-run" in proc.stdout
    _, doc = rerun_of(reports, original)
    (row,) = doc["replay"]
    assert row["verdict"] == "not_run" and row["after"]["blockedBy"] == "numbers"
    assert row["before"]["outcome"] == "failed" and row["before"]["actual"]
    assert snapshot(reports / RUNS / original) == before


@pytest.mark.slow
def test_the_default_run_is_the_latest_that_failed(reports: Path) -> None:
    original = _run_id(reports)
    fixed = replay_cli(reports)  # the only run: it failed
    assert fixed.returncode == ExitCode.OK, fixed.stdout[-3000:] + fixed.stderr
    passing, _ = rerun_of(reports, original)
    broken = reports / RUNS / "29991231T235959Z-000000"  # newest, and unreadable
    broken.mkdir()
    (broken / "escalation.json").write_text("{not json", encoding="utf-8")
    (reports / RUNS / "29991231T235958Z-000000").mkdir()  # newer still: no escalation.json
    proc = replay_cli(reports)  # newer runs: one passed, two are not readable runs
    assert proc.returncode == ExitCode.OK, proc.stdout[-3000:] + proc.stderr
    assert f"Re-run of {original}: 1 fixed" in proc.stdout
    assert passing.name not in proc.stdout.split("Re-run of", 1)[1].split("\n", 1)[0]


@pytest.mark.slow
def test_unreadable_input_exits_3_and_runs_nothing(reports: Path, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json", encoding="utf-8")
    not_a_run = tmp_path / "folder"
    not_a_run.mkdir()
    runs = sorted((reports / RUNS).iterdir())
    for arg, said in ((tmp_path / "missing.json", "cannot read it"), (garbage, "not JSON"),
                      (not_a_run, "not a run folder")):
        proc = replay_cli(reports, arg)
        assert proc.returncode == ExitCode.CONFIG_ERROR, proc.stdout + proc.stderr
        assert said in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stdout == ""
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = replay_cli(empty / "reports")
    assert proc.returncode == ExitCode.CONFIG_ERROR
    assert "has a failed check to replay" in proc.stderr
    assert sorted((reports / RUNS).iterdir()) == runs, "nothing ran"


@pytest.mark.slow
def test_a_run_with_nothing_to_replay_exits_3(tmp_path: Path) -> None:
    misconfigured = tmp_path / "reports"
    assert run_suite(misconfigured, RC_TO="5551234567").returncode == ExitCode.CONFIG_ERROR
    proc = replay_cli(misconfigured, misconfigured / "escalation.json")
    assert proc.returncode == ExitCode.CONFIG_ERROR, proc.stdout + proc.stderr
    assert "has nothing to replay: none of its 0 checks failed" in proc.stderr
    proc = replay_cli(misconfigured)  # and it is no default either
    assert proc.returncode == ExitCode.CONFIG_ERROR
    assert "has a failed check to replay" in proc.stderr


@pytest.mark.slow
def test_another_client_is_warned_of_on_stderr_and_in_the_run(reports: Path) -> None:
    original = _run_id(reports)
    elsewhere = reports.parent / "elsewhere.json"
    doc = run_doc(reports, original)
    doc["run"]["client_id"] = "rc_someone_else"
    elsewhere.write_text(json.dumps(doc), encoding="utf-8")
    proc = replay_cli(reports, elsewhere)
    assert proc.returncode == ExitCode.OK, proc.stdout[-3000:] + proc.stderr
    assert ("warning: the runs differ in API client: rc_someone_else -> rc_test_client_123"
            in proc.stderr)
    _, new = rerun_of(reports, original)
    (warning,) = new["summary"]["warnings"]
    assert warning["title"] == f"Replay of {original} against another API client"
    assert "rc_someone_else -> rc_test_client_123" in warning["detail"]


@pytest.mark.slow
def test_a_run_that_did_not_send_is_replayed_without_sending(tmp_path: Path) -> None:
    """A remote target (the simulator on loopback) without RC_ALLOW_SEND: the run skips
    the send stage; its replay sends nothing even where sends are allowed now."""
    reports = tmp_path / "reports"
    with Simulator(faults=[WHOAMI_FAULT]) as sim:
        run = run_suite(reports, RC_BASE_URL=sim.base_url, **REMOTE)
        assert run.returncode == 1, run.stdout[-3000:]
        sending = [c for c in run_doc(reports, _run_id(reports))["checks"]
                   if c["stage"] in ("send", "webhooks")]
        assert sending and {c["outcome"] for c in sending} == {"skipped"}
        proc = replay_cli(reports, RC_BASE_URL=sim.base_url, RC_ALLOW_SEND="1",
                          RC_TO="+15551234567", RC_WEBHOOK_SECRET="rc_secret_abc123", **REMOTE)
        sent = [r for r in sim.requests if r.path == SEND_PATH]
    assert proc.returncode == ExitCode.CHECK_FAILED, proc.stdout[-3000:] + proc.stderr
    assert "RC-WHOAMI-04  STILL FAILING" in proc.stdout
    assert sent == []


# --- the plan and the exit code, on documents ----------------------------------------------


def _doc(*rows: tuple[str, str, str]) -> dict[str, Any]:
    return {"run": {"run_id": "r1"}, "bundles": [],
            "checks": [{"checkId": i, "nodeid": i, "name": i, "stage": s, "outcome": o,
                        "reason": "why" if o != "passed" else ""} for i, s, o in rows]}


def test_the_plan_adds_the_gates_of_every_stage_up_to_each_failed_check() -> None:
    doc = _doc(("RC-TOKEN-01", "token", "passed"), ("RC-TOKEN-03", "token", "failed"),
               ("RC-NUMBERS-03", "numbers", "error"), ("RC-NUMBERS-04", "numbers", "waived"))
    plan = replay.plan(doc)
    assert plan.replayed == ("RC-TOKEN-03", "RC-NUMBERS-03") and plan.left_out == ()
    assert plan.premises == ("RC-TOKEN-01", "RC-WHOAMI-01", "RC-NUMBERS-01")
    rows = replay.compare(doc, _doc(("RC-TOKEN-03", "token", "passed")))
    assert [(r.check_id, r.verdict, r.after.outcome) for r in rows] == [
        ("RC-TOKEN-03", "fixed", "passed"), ("RC-NUMBERS-03", "not_run", "absent")]


def test_ids_this_suite_does_not_know_are_left_out() -> None:
    with pytest.raises(replay.NothingToReplay, match="no check RC-TOKEN-99 in this version"):
        replay.plan(_doc(("RC-TOKEN-99", "token", "failed")))
    doc = _doc(("RC-TOKEN-99", "token", "failed"), ("RC-TOKEN-03", "token", "failed"))
    plan = replay.plan(doc)
    assert plan.replayed == ("RC-TOKEN-03",) and plan.selected == ("RC-TOKEN-01", "RC-TOKEN-03")
    (row,) = [r for r in replay.compare(doc, doc) if r.check_id == "RC-TOKEN-99"]
    assert row.verdict == "not_run" and "in this version" in str(row.after.reason)


@pytest.mark.parametrize(("run_code", "verdicts", "expected"), [
    (0, ["fixed"], 0), (1, ["fixed", "still_failing"], 1), (1, ["fixed"], 1),
    (0, ["fixed", "not_run"], 2), (1, ["not_run"], 1), (7, ["fixed"], 7), (6, ["fixed"], 6),
    (2, ["still_failing"], 2), (3, [], 3)])
def test_the_exit_code(run_code: int, verdicts: list[str], expected: int) -> None:
    doc = {"replay": [{"verdict": v} for v in verdicts]}
    assert replay.exit_code(run_code, doc) == expected
    assert replay.exit_code(0, None) == ExitCode.EVIDENCE_INCOMPLETE


@pytest.mark.slow
def test_rc_checks_runs_the_checks_and_their_gates(tmp_path: Path) -> None:
    run = run_suite(tmp_path / "one", "--rc-checks", "rc-send-03")
    assert run.returncode == 0, run.stdout[-3000:]
    ran = {c.name.rsplit("::", 1)[1] for c in run.cases}
    assert ran == {"test_basic_credentials_issue_a_bearer_token", "test_api_client_is_active",
                   "test_configured_number_is_usable", "test_sms_send_is_accepted",
                   "test_e164_send_from_is_rejected"}
    wrong = run_suite(tmp_path / "wrong", "--rc-checks", "RC-SEND-03,RC-NOPE-01")
    assert wrong.returncode == 4, "pytest's usage error (redcloud-check run: 3)"
    assert "not a check id of this suite: RC-NOPE-01" in wrong.stderr


def test_the_docs_exit_code_table_is_the_commands() -> None:
    page = (REPO / "docs" / "replay.md").read_text("utf-8")
    section = page.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| code")]
    assert {int(r[0]): r[1] for r in rows} == {int(k): v for k, v in meanings("replay").items()}
