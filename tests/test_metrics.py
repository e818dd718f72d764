"""Prometheus metrics: values, the textfile (atomic, last success carried over), pushadd."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from redcloud_check.core.exchange import Timings
from redcloud_check.probe import metrics
from redcloud_check.probe.runner import ProbeResult, StageResult

from .bad_targets import serve


def result(status: str = "healthy", *, started: float = 1_700_000_000.0) -> ProbeResult:
    failed = status not in ("healthy", "degraded")
    stages = (
        StageResult("token", "unreachable" if status == "unreachable" else "pass",
                    Timings(total=0.12, first_byte=0.1)),
        StageResult("whoami", "fail" if status == "unhealthy" else
                    "blocked" if failed else "pass",
                    None if status == "unreachable" else Timings(total=0.05)),
        StageResult("numbers", "blocked" if failed else "pass",
                    None if failed else Timings(total=0.04)),
    )
    return ProbeResult(status=status, started_at=started, duration_s=0.25,  # type: ignore[arg-type]
                       target="https://api.example.com", embedded=False, stages=stages)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, tuple(sorted(labels.items()))))


def test_healthy_run_exports_every_metric(tmp_path: Path) -> None:
    path = tmp_path / "probe.prom"
    metrics.write_prom_file(path, result())
    text = path.read_text()
    assert {name for name, _ in samples(text)} == set(metrics.METRIC_NAMES)
    assert value(text, "redcloud_probe_success") == 1
    assert value(text, "redcloud_probe_exit_code") == 0
    assert value(text, "redcloud_probe_duration_seconds") == 0.25
    assert value(text, "redcloud_probe_stage_success", stage="numbers") == 1
    assert value(text, "redcloud_probe_stage_duration_seconds", stage="token") == 0.12
    assert value(text, "redcloud_probe_last_success_timestamp_seconds") == 1_700_000_000.25
    assert not list(tmp_path.glob("*.tmp*"))  # the temporary file was renamed into place


@pytest.mark.parametrize(("status", "code"), [("unhealthy", 1), ("unreachable", 4),
                                              ("config_error", 3)])
def test_failed_run_keeps_the_previous_last_success(tmp_path: Path, status: str,
                                                    code: int) -> None:
    path = tmp_path / "probe.prom"
    metrics.write_prom_file(path, result(started=1_700_000_000.0))
    metrics.write_prom_file(path, result(status, started=1_700_000_600.0))
    text = path.read_text()
    assert value(text, "redcloud_probe_success") == 0
    assert value(text, "redcloud_probe_exit_code") == code
    assert value(text, "redcloud_probe_last_success_timestamp_seconds") == 1_700_000_000.25


def test_failed_run_without_history_has_no_last_success(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "probe.prom"
    metrics.write_prom_file(path, result("unhealthy"))
    text = path.read_text()
    assert value(text, "redcloud_probe_last_success_timestamp_seconds") is None
    assert value(text, "redcloud_probe_stage_success", stage="whoami") == 0
    assert value(text, "redcloud_probe_stage_success", stage="numbers") == 0  # blocked
    assert value(text, "redcloud_probe_stage_duration_seconds", stage="numbers") is None


def test_degraded_run_counts_as_a_success(tmp_path: Path) -> None:
    path = tmp_path / "probe.prom"
    metrics.write_prom_file(path, result("degraded"))
    text = path.read_text()
    assert value(text, "redcloud_probe_success") == 1
    assert value(text, "redcloud_probe_exit_code") == 2
    assert value(text, "redcloud_probe_last_success_timestamp_seconds") == 1_700_000_000.25


def test_unreadable_previous_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "probe.prom"
    path.write_text("this is { not prometheus\n")
    assert metrics.previous_last_success(path) is None
    assert metrics.previous_last_success(tmp_path / "absent.prom") is None


@dataclass
class Received:
    method: str
    path: str
    body: str


@dataclass
class Gateway:
    url: str
    received: list[Received] = field(default_factory=list)  # pushes (POST, PUT, DELETE)
    page: str = ""  # what GET /metrics serves: the groups' metrics, as a Pushgateway does
    reads: list[str] = field(default_factory=list)  # the paths of GET requests


@contextmanager
def stand_in_gateway() -> Iterator[Gateway]:
    """A stand-in Pushgateway on loopback port 0 that records every request and serves
    `page` on GET."""
    gw = Gateway(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _record(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            gw.received.append(Received(self.command, self.path, body.decode()))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = do_DELETE = _record

        def do_GET(self) -> None:
            gw.reads.append(self.path)
            body = gw.page.encode()
            self.send_response(200 if self.path == "/metrics" else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serve(Handler) as url:
        gw.url = url
        yield gw


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with stand_in_gateway() as gw:
        yield gw


def test_push_uses_pushadd_post_with_job_and_instance(gateway: Gateway) -> None:
    metrics.push(gateway.url, result(), instance="probe-host-1")
    [got] = gateway.received
    assert got.method == "POST"  # pushadd; PUT would replace the group's other metrics
    assert got.path == "/metrics/job/redcloud_probe/instance/probe-host-1"
    assert value(got.body, "redcloud_probe_success") == 1
    assert value(got.body, "redcloud_probe_last_success_timestamp_seconds") == 1_700_000_000.25


def test_failed_push_does_not_send_last_success(gateway: Gateway) -> None:
    metrics.push(gateway.url, result("unhealthy"), instance="probe-host-1")
    [got] = gateway.received
    assert got.method == "POST"
    assert value(got.body, "redcloud_probe_success") == 0
    assert value(got.body, "redcloud_probe_exit_code") == 1
    assert "redcloud_probe_last_success_timestamp_seconds" not in got.body


def test_unreachable_gateway_raises_oserror(tmp_path: Path) -> None:
    from .bad_targets import closed_port_url

    with pytest.raises(OSError):
        metrics.push(closed_port_url(), result(), instance="x", timeout=2)


@pytest.mark.parametrize("status", ["healthy", "degraded", "unhealthy", "unreachable"])
def test_the_textfile_is_exactly_what_prometheus_client_would_write(tmp_path: Path,
                                                                     status: str) -> None:
    from prometheus_client import generate_latest

    path = tmp_path / "probe.prom"
    metrics.write_prom_file(path, result(status))
    expected = generate_latest(metrics.build_registry(result(status))).decode()
    assert path.read_text() == expected
    assert path.stat().st_mode & 0o777 == 0o644  # the textfile collector must read it


def test_the_exposition_writes_go_style_numbers_and_escapes_labels() -> None:
    family = metrics.GaugeFamily("x", 'a "help"\\ line\n2', ("stage",),
                                 ((('to"k\\en\n',), 1_700_000_000.25), (("b",), 0.5)))
    assert metrics.exposition([family]) == (
        '# HELP x a "help"\\\\ line\\n2\n# TYPE x gauge\n'
        'x{stage="to\\"k\\\\en\\n"} 1.70000000025e+09\nx{stage="b"} 0.5\n')


def test_consecutive_failures_count_failed_runs_in_a_row_in_the_textfile(tmp_path: Path) -> None:
    path = tmp_path / "probe.prom"
    counts = []
    for i, status in enumerate(["healthy", "unhealthy", "unreachable", "config_error",
                                "degraded", "unhealthy"]):
        metrics.write_prom_file(path, result(status, started=1_700_000_000.0 + 300 * i))
        counts.append(value(path.read_text(), "redcloud_probe_consecutive_failures"))
    assert counts == [0, 1, 2, 3, 0, 1]  # a degraded run passed: the count starts again


def test_a_first_failed_run_counts_one(tmp_path: Path) -> None:
    path = tmp_path / "probe.prom"
    metrics.write_prom_file(path, result("unhealthy"))
    assert value(path.read_text(), "redcloud_probe_consecutive_failures") == 1


def test_the_fleet_textfile_counts_failures_per_target(tmp_path: Path) -> None:
    path = tmp_path / "fleet.prom"
    for statuses in (("healthy", "unhealthy"), ("unreachable", "unhealthy"),
                     ("unhealthy", "unhealthy")):
        metrics.write_fleet_prom_file(path, list(zip(("a", "b"), map(result, statuses),
                                                     strict=True)))
    text = path.read_text()
    assert value(text, "redcloud_probe_consecutive_failures", target="a") == 2
    assert value(text, "redcloud_probe_consecutive_failures", target="b") == 3


GATEWAY_PAGE = """\
# HELP redcloud_probe_consecutive_failures Probe runs in a row that failed
# TYPE redcloud_probe_consecutive_failures gauge
redcloud_probe_consecutive_failures{instance="other-host",job="redcloud_probe"} 7
redcloud_probe_consecutive_failures{instance="probe-host-1",job="redcloud_probe"} 2
redcloud_probe_consecutive_failures{instance="probe-host-1",job="another_job"} 9
# HELP push_time_seconds Last Unix time when changing this group in the Pushgateway succeeded.
# TYPE push_time_seconds gauge
push_time_seconds{instance="probe-host-1",job="redcloud_probe"} 1.7e+09
"""


def test_a_failed_push_continues_the_groups_count(gateway: Gateway) -> None:
    gateway.page = GATEWAY_PAGE
    metrics.push(gateway.url, result("unhealthy"), instance="probe-host-1")
    assert gateway.reads == ["/metrics"]
    [got] = gateway.received
    assert value(got.body, "redcloud_probe_consecutive_failures") == 3  # its group's 2, + 1


def test_a_passed_push_resets_the_count_without_reading_the_gateway(gateway: Gateway) -> None:
    gateway.page = GATEWAY_PAGE
    metrics.push(gateway.url, result("degraded"), instance="probe-host-1")
    assert gateway.reads == []
    [got] = gateway.received
    assert value(got.body, "redcloud_probe_consecutive_failures") == 0


def test_a_new_group_counts_from_one_and_the_url_needs_no_scheme(gateway: Gateway) -> None:
    gateway.page = GATEWAY_PAGE
    metrics.push(gateway.url.removeprefix("http://"), result("unreachable"), instance="new")
    [got] = gateway.received
    assert value(got.body, "redcloud_probe_consecutive_failures") == 1


def test_a_fleet_push_continues_each_targets_count(gateway: Gateway) -> None:
    gateway.page = ('redcloud_probe_consecutive_failures{instance="fleet-1",job="redcloud_probe",'
                    'target="a"} 4\nredcloud_probe_consecutive_failures{instance="fleet-1",'
                    'job="redcloud_probe",target="b"} 0\n')
    families = metrics.fleet_gauges([("a", result("unhealthy")), ("b", result("unhealthy")),
                                     ("c", result("healthy"))])
    metrics.push_families(gateway.url, families, instance="fleet-1")
    [got] = gateway.received
    assert [value(got.body, "redcloud_probe_consecutive_failures", target=t)
            for t in "abc"] == [5, 1, 0]


@pytest.mark.parametrize("page", [
    'redcloud_probe_consecutive_failures{instance="probe-host-1",job="redcloud_probe"} two\n',
    'redcloud_probe_consecutive_failures{job="redcloud_probe" 1\n'])
def test_an_unreadable_count_pushes_the_rest_and_says_so(gateway: Gateway, page: str) -> None:
    gateway.page = page
    with pytest.raises(OSError, match="pushed without redcloud_probe_consecutive_failures"):
        metrics.push(gateway.url, result("unhealthy"), instance="probe-host-1")
    [got] = gateway.received  # success 0 still reaches the gateway; the old count stays
    assert value(got.body, "redcloud_probe_success") == 0
    assert "redcloud_probe_consecutive_failures" not in got.body


def test_a_gateway_that_refuses_the_read_pushes_the_rest_and_says_so(gateway: Gateway) -> None:
    with pytest.raises(OSError, match="HTTPError"):
        metrics.push(gateway.url + "/prefix", result("unhealthy"), instance="probe-host-1")
    assert [r.path for r in gateway.received] == [
        "/prefix/metrics/job/redcloud_probe/instance/probe-host-1"]
