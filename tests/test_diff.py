"""`redcloud-check diff OLD NEW` over two real runs against the simulator: a clean one and one
with a fault; the exit code gates CI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from redcloud_check.reporting.artifacts import validate_escalation

from .suite_runner import clean_env, run_suite

pytestmark = pytest.mark.slow  # module fixtures run the suite in subprocesses

CLI = [sys.executable, "-m", "redcloud_check.cli", "diff"]
BROKEN = "checks/test_02_whoami.py::test_client_id_matches_credentials"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    clean = tmp_path_factory.mktemp("clean")
    faulty = tmp_path_factory.mktemp("faulty")
    assert run_suite(clean).returncode == 0
    assert run_suite(faulty, RC_SIM_FAULTS="whoami-wrong-client-id").returncode == 1
    return clean / "escalation.json", faulty / "escalation.json"


def diff(*args: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True,
                          env=clean_env(), timeout=60)


def test_escalation_json_carries_what_diff_reads(runs: tuple[Path, Path]) -> None:
    doc = json.loads(runs[1].read_text(encoding="utf-8"))
    validate_escalation(doc)
    outcomes = {c["nodeid"]: c["outcome"] for c in doc["checks"]}
    assert outcomes[BROKEN] == "failed" and len(outcomes) == doc["summary"]["counts"]["total"]
    endpoints = {r["endpoint"] for r in doc["latency"]}
    assert {"POST /api/auth/token", "GET /api/core/whoami",
            "PATCH /api/core/numbers/{numberId}"} <= endpoints
    assert all(r["count"] >= 1 and r["median_ms"] > 0 for r in doc["latency"])


def test_a_newly_failing_check_exits_1_and_is_named(runs: tuple[Path, Path]) -> None:
    proc = diff(*runs)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "REGRESSED" in proc.stdout
    block = proc.stdout.split("checks newly failing (1):", 1)[1].split("checks fixed", 1)[0]
    assert f"{BROKEN}  passed -> failed: The token belongs to another API client" in block
    assert "median latency per endpoint (old -> new):" in proc.stdout
    assert "GET /api/core/whoami" in proc.stdout.split("median latency", 1)[1]


def test_a_fixed_check_is_listed_and_exits_0(runs: tuple[Path, Path]) -> None:
    proc = diff(runs[1], runs[0])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no regression" in proc.stdout
    assert f"checks fixed (1):\n  RC-WHOAMI-04 {BROKEN}  failed -> passed" in proc.stdout


def test_checks_are_matched_by_id_not_by_function_name(runs: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    """A renamed check keeps its id: diff still sees it newly failing, not absent."""
    doc = json.loads(runs[1].read_text(encoding="utf-8"))
    for check in doc["checks"]:
        check["nodeid"] = check["nodeid"].replace("test_client_id_matches", "test_renamed")
    renamed = tmp_path / "renamed.json"
    renamed.write_text(json.dumps(doc), encoding="utf-8")
    got = json.loads(diff(runs[0], renamed, "--json").stdout)
    assert [(c["checkId"], c["old"], c["new"]) for c in got["newly_failing"]] == [
        ("RC-WHOAMI-04", "passed", "failed")]


def test_undocumented_fields_that_appear_or_disappear(runs: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    doc = json.loads(runs[0].read_text(encoding="utf-8"))
    doc["summary"]["drift"]["undocumented"] = [
        {"endpoint": "GET /api/core/whoami", "path": "$.region", "status": 200,
         "schema": "whoami", "count": 1}]
    drifted = tmp_path / "drifted.json"
    drifted.write_text(json.dumps(doc), encoding="utf-8")
    appeared = diff(runs[0], drifted, "--json")
    assert appeared.returncode == 0, appeared.stderr
    got = json.loads(appeared.stdout)
    assert [u["path"] for u in got["undocumented_appeared"]] == ["$.region"]
    assert got["newly_failing"] == [] and got["regressed"] is False
    gone = diff(drifted, runs[0])
    assert "undocumented fields disappeared (1):\n  - $.region in GET /api/core/whoami 200" in (
        gone.stdout)


def test_unreadable_input_exits_3(runs: tuple[Path, Path], tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json", encoding="utf-8")
    for args in ((tmp_path / "missing.json", runs[0]), (runs[0], garbage)):
        proc = diff(*args)
        assert proc.returncode == 3
        assert "redcloud-check diff:" in proc.stderr and "Traceback" not in proc.stderr


def elsewhere(run: Path, tmp_path: Path, **changes: object) -> Path:
    """A copy of `run` whose `run` section says it ran against another target."""
    doc = json.loads(run.read_text(encoding="utf-8"))
    doc["run"].update(changes)
    copy = tmp_path / f"elsewhere-{run.parent.name}.json"
    copy.write_text(json.dumps(doc), encoding="utf-8")
    return copy


def test_two_embedded_runs_are_the_same_target_whatever_their_ports(
        runs: tuple[Path, Path]) -> None:
    targets = {json.loads(r.read_text("utf-8"))["run"]["target"] for r in runs}
    assert len(targets) == 2, "each embedded run listened on a port of its own"
    proc = diff(*runs, "--json")
    assert json.loads(proc.stdout)["warnings"] == [] and proc.stderr == ""
    assert "warning" not in diff(*runs).stdout


def test_runs_against_other_targets_are_compared_with_a_warning(runs: tuple[Path, Path],
                                                                tmp_path: Path) -> None:
    sandbox = elsewhere(runs[1], tmp_path, embedded=False, client_id="sandbox-client",
                        target="https://sandbox.example.com")
    proc = diff(runs[0], sandbox)
    assert proc.returncode == 1, "compared anyway: the exit code is the comparison's"
    assert proc.stdout.splitlines()[1] == (
        "warning: the runs differ in target: the embedded simulator -> "
        "https://sandbox.example.com; the runs differ in API client: rc_test_client_123 -> "
        "sandbox-client (compared anyway: what changed may be the target, not the API)")
    assert "checks newly failing (1):" in proc.stdout
    as_json = diff(runs[0], sandbox, "--json")
    assert as_json.returncode == 1
    warnings = json.loads(as_json.stdout)["warnings"]
    assert [(w["field"], w["old"], w["new"]) for w in warnings] == [
        ("target", "the embedded simulator", "https://sandbox.example.com"),
        ("client_id", "rc_test_client_123", "sandbox-client")]
    assert as_json.stderr.splitlines() == [f"redcloud-check diff: warning: {w['message']}"
                                           for w in warnings]
    other_number = elsewhere(runs[0], tmp_path, number_id="num_other")
    assert diff(runs[0], other_number).returncode == 0
    assert "the runs differ in number: num_abc123 -> num_other" in diff(
        runs[0], other_number).stdout
