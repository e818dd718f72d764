"""`redcloud-check probe` as a user runs it: a subprocess, its exit code, stdout, files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from redcloud_check.core.config import CANONICAL
from redcloud_check.rules import schemas
from redcloud_check.rules.schemas import schemas_dir
from redcloud_check.simulator import Simulator

from .bad_targets import closed_port_url
from .probe_documents import probe_violations
from .remote_env import REMOTE
from .test_metrics import stand_in_gateway

SECRETS = (CANONICAL["client_secret"], CANONICAL["webhook_secret"])
# probe.json writes its timestamps as escalation.json does: the schema's one pattern.
TIMESTAMP = json.loads((schemas_dir() / "reports" / "escalation.schema.json").read_text(
    encoding="utf-8"))["$defs"]["timestamp"]["pattern"]


@dataclass(frozen=True, slots=True)
class ProbeRun:
    code: int
    stdout: str
    stderr: str
    elapsed: float
    summary: dict[str, Any]
    probe_json: dict[str, Any] | None
    metrics: dict[tuple[str, str | None], float]


def run_probe_cli(tmp: Path, *args: str, timeout: float = 60, **env: str) -> ProbeRun:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("RC_", "NGROK_"))}
    environ.update({"RC_REPORTS_DIR": str(tmp / "reports"), **env})
    prom = tmp / "probe.prom"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "redcloud_check.cli", "probe", "--prom-file", str(prom), *args],
        env=environ, cwd=tmp, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout + proc.stderr
    report = tmp / "reports" / "probe.json"
    values = {}
    if prom.exists():
        for family in text_string_to_metric_families(prom.read_text()):
            for s in family.samples:
                values[(s.name, s.labels.get("stage"))] = s.value
    for text in (proc.stdout, proc.stderr, report.read_text() if report.exists() else "",
                 prom.read_text() if prom.exists() else ""):
        for secret in SECRETS:
            assert secret not in text
    summary = json.loads(lines[0])
    written = json.loads(report.read_text()) if report.exists() else None
    for document in (summary, written):
        assert not probe_violations(document or summary), document
    return ProbeRun(proc.returncode, proc.stdout, proc.stderr, elapsed, summary, written, values)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


def test_healthy_embedded_probe(tmp_path: Path) -> None:
    run = run_probe_cli(tmp_path)
    assert run.code == 0, run.stderr
    assert run.summary == run.probe_json
    assert run.summary["status"] == "healthy" and run.summary["exit_code"] == 0
    assert run.summary["embedded"] is True
    assert [s["stage"] for s in run.summary["stages"]] == ["token", "whoami", "numbers"]
    assert [s["checkId"] for s in run.summary["stages"]] == [  # each stage is its gate check
        "RC-TOKEN-01", "RC-WHOAMI-01", "RC-NUMBERS-01"]
    for stage in run.summary["stages"]:
        assert set(stage["latency_s"]) == {"connect", "tls", "first_byte", "total"}
        assert stage["latency_s"]["connect"] is None and stage["latency_s"]["total"] > 0
    assert run.metrics[("redcloud_probe_success", None)] == 1
    assert run.metrics[("redcloud_probe_exit_code", None)] == 0
    assert run.metrics[("redcloud_probe_stage_success", "whoami")] == 1
    stamps = [run.summary["started_at"], run.summary["finished_at"]]
    assert all(re.fullmatch(TIMESTAMP, s) for s in stamps), stamps  # escalation.json's format
    assert stamps[0] <= stamps[1]  # one fixed-width UTC format: text order is time order
    assert ("redcloud_probe_last_success_timestamp_seconds", None) in run.metrics
    assert run.stderr == ""


@pytest.mark.parametrize(("fault", "stage"), [("token-basic-auth-rejected", "token"),
                                              ("whoami-client-inactive", "whoami"),
                                              ("number-not-active", "numbers")])
def test_fault_exits_1_with_stage_metrics(tmp_path: Path, fault: str, stage: str) -> None:
    run = run_probe_cli(tmp_path, "--fault", fault)
    assert run.code == 1, run.stderr
    assert run.summary["status"] == "unhealthy"
    failed = next(s for s in run.summary["stages"] if s["verdict"] == "fail")
    assert failed["stage"] == stage and failed["checkId"] == f"RC-{stage.upper()}-01"
    later = run.summary["stages"][[s["stage"] for s in run.summary["stages"]].index(stage) + 1:]
    assert all(s["verdict"] == "blocked" and s["blocked_by"] == stage for s in later)
    assert failed["http_status"] and failed["request_id"] and failed["diagnosis"]
    assert run.metrics[("redcloud_probe_success", None)] == 0
    assert run.metrics[("redcloud_probe_exit_code", None)] == 1
    assert run.metrics[("redcloud_probe_stage_success", stage)] == 0
    assert ("redcloud_probe_last_success_timestamp_seconds", None) not in run.metrics


def test_remote_target_and_last_success_kept_across_a_failure(tmp_path: Path,
                                                              sim: Simulator) -> None:
    ok = run_probe_cli(tmp_path, RC_BASE_URL=sim.base_url, **REMOTE)
    assert ok.code == 0 and ok.summary["target"] == sim.base_url
    assert ok.summary["embedded"] is False
    last = ok.metrics[("redcloud_probe_last_success_timestamp_seconds", None)]
    sim.set_faults(["number-missing"])
    try:
        bad = run_probe_cli(tmp_path, RC_BASE_URL=sim.base_url, **REMOTE)
    finally:
        sim.set_faults(())
    assert bad.code == 1
    assert bad.metrics[("redcloud_probe_last_success_timestamp_seconds", None)] == last


def test_unreachable_target_exits_4_and_still_writes_outputs(tmp_path: Path) -> None:
    run = run_probe_cli(tmp_path, "--timeout", "3", RC_BASE_URL=closed_port_url(), **REMOTE)
    assert run.code == 4
    assert run.elapsed < 3 + 5  # the timeout, plus interpreter start-up
    assert run.probe_json is not None and run.probe_json["status"] == "unreachable"
    assert run.metrics[("redcloud_probe_success", None)] == 0
    assert run.metrics[("redcloud_probe_exit_code", None)] == 4


def test_slow_target_exits_2(tmp_path: Path) -> None:
    with Simulator(latency_ms=40) as slow:
        run = run_probe_cli(tmp_path, "--warn-latency-ms", "20", RC_BASE_URL=slow.base_url,
                            **REMOTE)
    assert run.code == 2 and run.summary["status"] == "degraded"
    assert run.summary["warn_latency_ms"] == 20
    assert run.metrics[("redcloud_probe_success", None)] == 1


def test_canary_on_a_remote_target_needs_allow_send(tmp_path: Path, sim: Simulator) -> None:
    before = len(sim.requests)
    run = run_probe_cli(tmp_path, "--canary", RC_BASE_URL=sim.base_url, **REMOTE)
    assert run.code == 3
    assert "RC_ALLOW_SEND" in run.stderr and "RC_ALLOW_SEND" in run.summary["error"]
    assert run.summary["status"] == "config_error"
    assert run.metrics[("redcloud_probe_exit_code", None)] == 3
    assert sim.requests[before:] == []  # nothing was sent, not even a token request


def test_canary_without_a_way_to_receive_webhooks_exits_3_before_sending(
        tmp_path: Path, sim: Simulator) -> None:
    before = len(sim.requests)
    run = run_probe_cli(tmp_path, "--canary", RC_BASE_URL=sim.base_url, RC_ALLOW_SEND="1",
                        RC_TO="+15551234567", RC_WEBHOOK_SECRET="rc_secret_abc123",
                        RC_TUNNEL="ngrok", **REMOTE)
    assert run.code == 3
    assert "NGROK_AUTHTOKEN" in run.summary["error"]
    assert sim.requests[before:] == []


def test_missing_setting_exits_3_naming_it(tmp_path: Path) -> None:
    run = run_probe_cli(tmp_path, RC_BASE_URL="https://api.example.com")
    assert run.code == 3
    assert "RC_CLIENT_ID" in run.stderr and run.probe_json is not None
    assert run.probe_json["status"] == "config_error"


def test_help_documents_the_exit_codes() -> None:
    proc = subprocess.run([sys.executable, "-m", "redcloud_check.cli", "probe", "--help"],
                          capture_output=True, text=True, timeout=60, check=True)
    for line in ("0  healthy", "1  unhealthy", "2  degraded", "3  config error",
                 "4  unreachable", "--warn-latency-ms", "--prom-file", "--pushgateway",
                 "--instance", "--canary", "--timeout"):
        assert line in proc.stdout


def test_pushgateway_gets_a_pushadd_with_the_instance(tmp_path: Path) -> None:
    with stand_in_gateway() as gateway:
        run = run_probe_cli(tmp_path, "--pushgateway", gateway.url, "--instance", "probe-a")
    assert run.code == 0, run.stderr
    [got] = gateway.received
    assert (got.method, got.path) == ("POST", "/metrics/job/redcloud_probe/instance/probe-a")
    assert "redcloud_probe_success 1.0" in got.body


def test_unreachable_pushgateway_is_reported_not_fatal(tmp_path: Path) -> None:
    run = run_probe_cli(tmp_path, "--pushgateway", closed_port_url())
    assert run.code == 0
    assert "--pushgateway" in run.stderr and run.probe_json is not None


def test_embedded_canary_adds_send_and_webhooks(tmp_path: Path) -> None:
    run = run_probe_cli(tmp_path, "--canary")
    assert run.code == 0, run.stderr
    assert [s["stage"] for s in run.summary["stages"]][-2:] == ["send", "webhooks"]
    assert run.metrics[("redcloud_probe_stage_success", "webhooks")] == 1


def test_a_command_starts_without_importing_the_other_commands() -> None:
    code = ("import sys; from redcloud_check.cli import build_parser; build_parser('probe'); "
            "print(sorted(m for m in sys.modules if m.startswith('redcloud_check.') "
            "and ('simulator' in m or 'listen' in m)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert proc.stdout.strip() == "[]"


# What a read-only probe of a remote API must never load: the suite's runner, the servers
# (the simulator, the webhook listener), the report stack, and what only the suite or a
# .env file needs. Each was once imported by the probe and cost it start-up time.
NOT_FOR_A_REMOTE_PROBE = ("pytest", "_pytest", "pytest_html", "uvicorn", "starlette", "httpx",
                          "jinja2", "pygments", "yaml", "dotenv", "statistics", "pyngrok",
                          "redcloud_check.simulator", "redcloud_check.webhooks.listener",
                          "redcloud_check.webhooks.session", "redcloud_check.plugin")


def test_a_remote_read_only_probe_loads_only_what_it_uses(tmp_path: Path,
                                                          sim: Simulator) -> None:
    schemas.openapi()  # its parse is cached beside openapi.yaml, as a probe finds it
    listing = tmp_path / "modules.json"
    code = ("import json, sys; from redcloud_check.cli import main; code = main(sys.argv[1:]); "
            f"open({str(listing)!r}, 'w').write(json.dumps(sorted(sys.modules))); "
            "sys.exit(code)")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("RC_", "NGROK_"))}
    proc = subprocess.run(
        [sys.executable, "-c", code, "probe", "--prom-file", str(tmp_path / "probe.prom")],
        env={**environ, **REMOTE, "RC_BASE_URL": sim.base_url,
             "RC_REPORTS_DIR": str(tmp_path / "reports")},
        cwd=tmp_path, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(listing.read_text())
    assert "jsonschema" in loaded and "requests" in loaded  # the probe did its work
    unwanted = sorted(m for m in loaded if m.split(".")[0] in NOT_FOR_A_REMOTE_PROBE
                      or m.startswith(tuple(p + "." for p in NOT_FOR_A_REMOTE_PROBE))
                      or m in NOT_FOR_A_REMOTE_PROBE)
    assert unwanted == []
