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
    received: list[Received] = field(default_factory=list)


@contextmanager
def stand_in_gateway() -> Iterator[Gateway]:
    """A stand-in Pushgateway on loopback port 0 that records every request."""
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
