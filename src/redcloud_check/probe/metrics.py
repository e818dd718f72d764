"""Prometheus metrics of one probe run, in their own CollectorRegistry.

    redcloud_probe_success                         1 = every stage passed (healthy or degraded)
    redcloud_probe_stage_success{stage}            1 = the stage passed (or failed under a
                                                   valid waiver); 0 = failed or blocked
    redcloud_probe_stage_duration_seconds{stage}   wall time of each stage that ran
    redcloud_probe_duration_seconds                wall time of the stages together
    redcloud_probe_last_success_timestamp_seconds  when the probe last passed (epoch seconds)
    redcloud_probe_exit_code                       the exit code (0 healthy ... 4 unreachable)

Two sinks. `write_prom_file`: node_exporter textfile-collector format, written atomically by
`prometheus_client.write_to_textfile`; on a failed run the last-success timestamp is carried
over from the file being replaced. `push`: `pushadd_to_gateway` (HTTP POST), which replaces
only the metrics it sends, so a failed run (which does not send the last-success timestamp)
leaves the gateway's last success in place.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway, write_to_textfile
from prometheus_client.parser import text_string_to_metric_families

from redcloud_check.probe.runner import ProbeResult

PREFIX = "redcloud_probe"
SUCCESS = f"{PREFIX}_success"
STAGE_SUCCESS = f"{PREFIX}_stage_success"
STAGE_DURATION = f"{PREFIX}_stage_duration_seconds"
DURATION = f"{PREFIX}_duration_seconds"
LAST_SUCCESS = f"{PREFIX}_last_success_timestamp_seconds"
EXIT_CODE = f"{PREFIX}_exit_code"
METRIC_NAMES = (SUCCESS, STAGE_SUCCESS, STAGE_DURATION, DURATION, LAST_SUCCESS, EXIT_CODE)
PUSH_JOB = "redcloud_probe"


def build_registry(result: ProbeResult, *, last_success: float | None = None) -> CollectorRegistry:
    """The run's metrics. The last-success gauge is the run's finish time when it passed,
    else `last_success` (carried over), else absent."""
    registry = CollectorRegistry()
    Gauge(SUCCESS, "1 if every probe stage passed, else 0",
          registry=registry).set(1 if result.passed else 0)
    stage_ok = Gauge(STAGE_SUCCESS, "1 if the probe stage passed, else 0 (failed or blocked)",
                     ["stage"], registry=registry)
    stage_time = Gauge(STAGE_DURATION, "Wall time of the probe stage, seconds", ["stage"],
                       registry=registry)
    for stage in result.stages:
        stage_ok.labels(stage.stage).set(1 if stage.verdict in ("pass", "waived") else 0)
        if stage.latency is not None:
            stage_time.labels(stage.stage).set(stage.latency.total)
    Gauge(DURATION, "Wall time of the probe stages, seconds",
          registry=registry).set(result.duration_s)
    Gauge(EXIT_CODE, "Exit code: 0 healthy, 1 unhealthy, 2 degraded, 3 configuration error, "
          "4 unreachable", registry=registry).set(result.exit_code)
    when = result.finished_at if result.passed else last_success
    if when is not None:
        Gauge(LAST_SUCCESS, "When the probe last passed, seconds since the epoch",
              registry=registry).set(when)
    return registry


def previous_last_success(path: Path) -> float | None:
    """The last-success timestamp in an existing textfile (None if absent or unreadable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == LAST_SUCCESS:
                    return float(sample.value)
    except ValueError:
        return None
    return None


def write_prom_file(path: Path, result: ProbeResult) -> None:
    """Write the textfile atomically, keeping the previous last success on a failed run."""
    carried = None if result.passed else previous_last_success(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), build_registry(result, last_success=carried))


def push(gateway: str, result: ProbeResult, *, instance: str, timeout: float = 10.0) -> None:
    """pushadd (POST) to the Pushgateway under job `redcloud_probe`, {instance=...}. A failed
    run sends no last-success gauge, so the gateway keeps the last one. Raises OSError (or
    urllib's URLError) when the gateway cannot be reached."""
    pushadd_to_gateway(gateway, job=PUSH_JOB, registry=build_registry(result),
                       grouping_key={"instance": instance}, timeout=timeout)
