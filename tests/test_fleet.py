"""`redcloud-check probe --targets`: the targets file, the bounded pool, the worst verdict,
and the command over real HTTP against the simulator (subprocess, exit code, stdout,
fleet.json, the metrics with their `target` label)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import pytest
from prometheus_client.parser import text_string_to_metric_families

from redcloud_check.core.errors import ConfigError
from redcloud_check.core.exit_codes import PROBE_EXIT_CODES as EXIT_CODES
from redcloud_check.probe.fleet import SEVERITY, FleetTarget, load_targets, run_fleet, worst
from redcloud_check.probe.runner import ProbeResult, Status
from redcloud_check.simulator import Simulator

from .bad_targets import closed_port_url
from .probe_documents import probe_violations
from .test_metrics import stand_in_gateway

CREDENTIALS = {"FLEET_ID": "rc_test_client_123", "FLEET_SECRET": "rc_secret_abc123",
               "INACTIVE_ID": "rc_inactive_client", "INACTIVE_SECRET": "rc_secret_inactive",
               "OTHER_ID": "rc_other_client_789", "OTHER_SECRET": "rc_secret_other789"}
SECRETS = ("rc_secret_abc123", "rc_secret_inactive", "rc_secret_other789")


def table(name: str, base_url: str, number_id: str = "num_abc123", ids: str = "FLEET_ID",
          secret: str = "FLEET_SECRET") -> str:
    return (f'[[target]]\nname = "{name}"\nbase_url = "{base_url}"\n'
            f'number_id = "{number_id}"\nclient_id_env = "{ids}"\n'
            f'client_secret_env = "{secret}"\n')


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@dataclass(frozen=True, slots=True)
class FleetRun:
    code: int
    stdout: str
    stderr: str
    lines: dict[str, dict[str, Any]]  # by target name
    fleet: dict[str, Any] | None
    metrics: dict[tuple[str, str | None, str | None], float]  # (name, target, stage)


def run_fleet_cli(tmp: Path, text: str, *args: str, **env: str) -> FleetRun:
    targets = tmp / "targets.toml"
    targets.write_text(text, encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("RC_", "NGROK_"))}
    environ.update({"RC_REPORTS_DIR": str(tmp / "reports"), **CREDENTIALS, **env})
    prom = tmp / "fleet.prom"
    proc = subprocess.run(
        [sys.executable, "-m", "redcloud_check.cli", "probe", "--targets", str(targets),
         "--prom-file", str(prom), *args], env=environ, cwd=tmp, capture_output=True,
        text=True, timeout=120, stdin=subprocess.DEVNULL)
    report = tmp / "reports" / "fleet.json"
    for output in (proc.stdout, proc.stderr, report.read_text() if report.exists() else "",
                   prom.read_text() if prom.exists() else ""):
        for secret in SECRETS:
            assert secret not in output
    docs = [json.loads(line) for line in proc.stdout.splitlines()]
    fleet = json.loads(report.read_text()) if report.exists() else None
    for doc in docs:
        assert not probe_violations(doc), doc
    assert fleet is None or not probe_violations(fleet, "fleet"), fleet
    metrics = {}
    if prom.exists():
        for family in text_string_to_metric_families(prom.read_text()):
            for s in family.samples:
                metrics[(s.name, s.labels.get("target"), s.labels.get("stage"))] = s.value
    return FleetRun(proc.returncode, proc.stdout, proc.stderr,
                    {d.get("name", ""): d for d in docs}, fleet, metrics)


# -- the file ----------------------------------------------------------------------------------

def test_targets_file_is_read_with_each_target_line(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text("# fleet\n" + table("a", "http://a.example") + "\n"
                    + table("b", "https://b.example", ids="B_ID", secret="B_SECRET"))
    targets = load_targets(path)
    assert [(t.name, t.base_url, t.client_id_env, t.line) for t in targets] == [
        ("a", "http://a.example", "FLEET_ID", 2), ("b", "https://b.example", "B_ID", 9)]


@pytest.mark.parametrize(("text", "says"), [
    (table("a", "http://x") + "[[target]]\nname = \"b\"\n", "t.toml:7: target #2: 'base_url'"),
    (table("a", "http://x") + table("a", "http://y"), "t.toml:7: target 'a' is named again"),
    (table("a", "http://x").replace('name = "a"', "name = 7"), "t.toml:1: target #1: 'name'"),
    (table("a", "http://x") + 'client_secret = "s"\n', "unknown key(s) client_secret"),
    (table("a", "http://x", secret="rc secret!"), "'client_secret_env' must name an "
                                                  "environment variable"),
    ("[[target]\nname = 1\n", "not valid TOML"),
    ("# nothing\n", "no [[target]] table"),
    ("title = 'x'\n" + table("a", "http://x"), "unknown top-level key(s) title"),
])
def test_a_malformed_targets_file_names_the_line(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "t.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_targets(path)
    assert caught.value.setting == "--targets"
    assert says in str(caught.value)


def test_the_worst_status_follows_the_documented_severity() -> None:
    assert SEVERITY == ("config_error", "tool_error", "unreachable", "unhealthy", "degraded",
                        "healthy")
    assert set(SEVERITY) == set(get_args(Status)), "every status has its rank"
    assert worst(["unreachable", "tool_error"]) == "tool_error"
    assert worst(["healthy", "degraded"]) == "degraded"
    assert worst(["degraded", "unhealthy", "healthy"]) == "unhealthy"
    assert worst(["unhealthy", "unreachable"]) == "unreachable"
    assert worst(["unreachable", "config_error", "healthy"]) == "config_error"
    assert worst([]) == "healthy"
    assert {EXIT_CODES[s] for s in SEVERITY} == {0, 1, 2, 3, 4}
    assert EXIT_CODES["tool_error"] == EXIT_CODES["config_error"] == 3


def test_no_more_than_concurrency_targets_run_at_once() -> None:
    """Six targets, three at a time: the barrier only opens when exactly three are in flight,
    so both rounds prove three ran together; the counter proves never more."""
    barrier = threading.Barrier(3, timeout=30)
    lock = threading.Lock()
    running, most = [0], [0]

    def probe(target: FleetTarget) -> ProbeResult:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        barrier.wait()
        with lock:
            running[0] -= 1
        return ProbeResult(status="healthy", started_at=0.0, duration_s=0.0,
                           target=target.base_url, embedded=False)

    targets = [FleetTarget(f"t{i}", "http://x", "num", "A", "B", i, "t.toml") for i in range(6)]
    done = list(run_fleet(targets, concurrency=3, probe=probe))
    assert sorted(t.name for t, _ in done) == [f"t{i}" for i in range(6)]
    assert most[0] == 3


# -- the command, over real HTTP ------------------------------------------------------------------

def test_a_mixed_fleet_exits_with_its_worst_target(tmp_path: Path, sim: Simulator) -> None:
    text = (table("main", sim.base_url)
            + table("inactive", sim.base_url, ids="INACTIVE_ID", secret="INACTIVE_SECRET")
            + table("other", sim.base_url, number_id="num_other789", ids="OTHER_ID",
                    secret="OTHER_SECRET")
            + table("down", closed_port_url())
            + table("unset", sim.base_url, secret="NOT_SET_ANYWHERE"))
    run = run_fleet_cli(tmp_path, text, "--concurrency", "2")
    assert run.code == 3, run.stderr
    assert {n: d["status"] for n, d in run.lines.items()} == {
        "main": "healthy", "inactive": "unhealthy", "other": "healthy",
        "down": "unreachable", "unset": "config_error"}
    assert [s["verdict"] for s in run.lines["inactive"]["stages"]] == ["fail", "blocked",
                                                                  "blocked"]
    assert "targets.toml:25: target 'unset'" in run.lines["unset"]["error"]
    assert "NOT_SET_ANYWHERE" in run.stderr and "targets.toml:25" in run.stderr
    assert run.fleet is not None
    assert [t["name"] for t in run.fleet["targets"]] == ["main", "inactive", "other", "down",
                                                        "unset"]
    assert (run.fleet["status"], run.fleet["exit_code"], run.fleet["concurrency"]) == (
        "config_error", 3, 2)
    assert run.metrics[("redcloud_probe_success", "main", None)] == 1
    assert run.metrics[("redcloud_probe_success", "inactive", None)] == 0
    assert run.metrics[("redcloud_probe_stage_success", "inactive", "token")] == 0
    assert run.metrics[("redcloud_probe_exit_code", "down", None)] == 4
    assert run.metrics[("redcloud_probe_exit_code", "unset", None)] == 3
    assert ("redcloud_probe_last_success_timestamp_seconds", "other", None) in run.metrics
    assert ("redcloud_probe_last_success_timestamp_seconds", "down", None) not in run.metrics


@pytest.mark.parametrize(("names", "code"), [(("main", "other"), 0), (("main", "inactive"), 1),
                                             (("inactive", "down"), 4)])
def test_the_exit_code_is_the_worst_targets(tmp_path: Path, sim: Simulator,
                                            names: tuple[str, ...], code: int) -> None:
    tables = {"main": table("main", sim.base_url),
              "inactive": table("inactive", sim.base_url, ids="INACTIVE_ID",
                                secret="INACTIVE_SECRET"),
              "other": table("other", sim.base_url, number_id="num_other789", ids="OTHER_ID",
                             secret="OTHER_SECRET"),
              "down": table("down", closed_port_url())}
    run = run_fleet_cli(tmp_path, "".join(tables[n] for n in names))
    assert run.code == code, run.stderr
    assert sorted(run.lines) == sorted(names)


def test_a_failed_target_keeps_its_last_success_in_the_textfile(tmp_path: Path,
                                                                 sim: Simulator) -> None:
    first = run_fleet_cli(tmp_path, table("a", sim.base_url) + table("b", sim.base_url))
    last = ("redcloud_probe_last_success_timestamp_seconds", "b", None)
    assert first.code == 0 and last in first.metrics
    second = run_fleet_cli(tmp_path, table("a", sim.base_url) + table("b", closed_port_url()))
    assert second.code == 4
    assert second.metrics[last] == first.metrics[last]
    assert second.metrics[("redcloud_probe_success", "b", None)] == 0


def test_a_malformed_targets_file_probes_nothing(tmp_path: Path, sim: Simulator) -> None:
    before = len(sim.requests)
    run = run_fleet_cli(tmp_path, table("a", sim.base_url) + "[[target]]\nname = \"b\"\n")
    assert run.code == 3
    assert "targets.toml:7: target #2" in run.stderr
    assert [d["status"] for d in run.lines.values()] == ["config_error"]
    assert len(sim.requests) == before  # not even the well-formed target was probed


def test_the_fleet_pushes_target_labelled_metrics(tmp_path: Path, sim: Simulator) -> None:
    with stand_in_gateway() as gateway:
        run = run_fleet_cli(tmp_path, table("a", sim.base_url) + table("b", sim.base_url),
                            "--pushgateway", gateway.url, "--instance", "fleet-1")
    assert run.code == 0, run.stderr
    (pushed,) = gateway.received
    assert (pushed.method, pushed.path) == ("POST", "/metrics/job/redcloud_probe/instance/fleet-1")
    assert 'redcloud_probe_success{target="a"} 1.0' in pushed.body
    assert 'redcloud_probe_stage_success{stage="numbers",target="b"} 1.0' in pushed.body


def test_canary_is_refused_for_a_fleet(tmp_path: Path, sim: Simulator) -> None:
    run = run_fleet_cli(tmp_path, table("a", sim.base_url), "--canary")
    assert run.code == 3
    assert "--canary does not apply to a fleet" in run.stderr


@pytest.mark.parametrize("doc", ["docs/probe.md"])
def test_the_documented_targets_file_is_valid(tmp_path: Path, doc: str) -> None:
    text = (Path(__file__).resolve().parents[1] / doc).read_text(encoding="utf-8")
    example = text.split("```toml\n[[target]]", 1)[1].split("```", 1)[0]
    path = tmp_path / "fleet.toml"
    path.write_text("[[target]]" + example, encoding="utf-8")
    (target,) = load_targets(path)
    assert (target.name, target.client_secret_env) == ("eu-prod", "EU_PROD_CLIENT_SECRET")
