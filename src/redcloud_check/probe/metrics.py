"""Prometheus metrics of one probe run, in their own CollectorRegistry.

    redcloud_probe_success                         1 = every stage passed (healthy or degraded)
    redcloud_probe_stage_success{stage}            1 = the stage passed (or failed under a
                                                   valid waiver); 0 = failed or blocked
    redcloud_probe_stage_duration_seconds{stage}   wall time of each stage that ran
    redcloud_probe_duration_seconds                wall time of the stages together
    redcloud_probe_last_success_timestamp_seconds  when the probe last passed (epoch seconds)
    redcloud_probe_exit_code                       the exit code (0 healthy ... 4 unreachable)
    redcloud_probe_consecutive_failures            failed runs in a row (0 after a passed run)

Two sinks. `write_prom_file`: node_exporter textfile-collector format (the text exposition
format 0.0.4, rendered here: prometheus_client's import is about a sixth of a probe's start-up),
written atomically, readable by the collector (0644); on a failed run the last-success
timestamp is carried over from the file being replaced. `push`: prometheus_client's
`pushadd_to_gateway` (HTTP POST), which replaces only the metrics it sends, so a failed run
(which does not send the last-success timestamp) leaves the gateway's last success in place.
The consecutive-failure count needs the previous run's: `gauges` counts this run (1 failed,
0 passed) and `continue_failures` adds the count the textfile, or the Pushgateway's group
(GET /metrics), held before; it is read only when a run failed.
Both sinks take their gauges from `gauges()`; a fleet's (`redcloud-check probe --targets`)
from `fleet_gauges()`: the same gauges, every sample labelled `target`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from redcloud_check.core.files import atomic_write
from redcloud_check.probe.runner import ProbeResult

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

PREFIX = "redcloud_probe"
SUCCESS = f"{PREFIX}_success"
STAGE_SUCCESS = f"{PREFIX}_stage_success"
STAGE_DURATION = f"{PREFIX}_stage_duration_seconds"
DURATION = f"{PREFIX}_duration_seconds"
LAST_SUCCESS = f"{PREFIX}_last_success_timestamp_seconds"
EXIT_CODE = f"{PREFIX}_exit_code"
CONSECUTIVE_FAILURES = f"{PREFIX}_consecutive_failures"
METRIC_NAMES = (SUCCESS, STAGE_SUCCESS, STAGE_DURATION, DURATION, LAST_SUCCESS, EXIT_CODE,
                CONSECUTIVE_FAILURES)
PUSH_JOB = "redcloud_probe"


@dataclass(frozen=True, slots=True)
class GaugeFamily:
    """One gauge: its samples as (label values, value), in the order they are written."""

    name: str
    help: str
    labels: tuple[str, ...] = ()
    samples: tuple[tuple[tuple[str, ...], float], ...] = ()


def gauges(result: ProbeResult, *, last_success: float | None = None) -> list[GaugeFamily]:
    """The run's metrics. The last-success gauge is the run's finish time when it passed,
    else `last_success` (carried over), else absent. The consecutive-failure gauge counts
    this run alone (1 failed, 0 passed): `continue_failures` adds the previous count."""
    stage_ok = tuple(((stage.stage,), 1.0 if stage.verdict in ("pass", "waived") else 0.0)
                     for stage in result.stages)
    stage_time = tuple(((stage.stage,), stage.latency.total) for stage in result.stages
                       if stage.latency is not None)
    families = [
        GaugeFamily(SUCCESS, "1 if every probe stage passed, else 0",
                    samples=(((), 1.0 if result.passed else 0.0),)),
        GaugeFamily(STAGE_SUCCESS, "1 if the probe stage passed, else 0 (failed or blocked)",
                    ("stage",), stage_ok),
        GaugeFamily(STAGE_DURATION, "Wall time of the probe stage, seconds", ("stage",),
                    stage_time),
        GaugeFamily(DURATION, "Wall time of the probe stages, seconds",
                    samples=(((), result.duration_s),)),
        GaugeFamily(EXIT_CODE, "Exit code: 0 healthy, 1 unhealthy, 2 degraded, 3 configuration "
                    "or tool error, 4 unreachable", samples=(((), float(result.exit_code)),)),
        GaugeFamily(CONSECUTIVE_FAILURES, "Probe runs in a row that failed, 0 after a run that "
                    "passed", samples=(((), 0.0 if result.passed else 1.0),)),
    ]
    when = result.finished_at if result.passed else last_success
    if when is not None:
        families.append(GaugeFamily(LAST_SUCCESS, "When the probe last passed, seconds since "
                                    "the epoch", samples=(((), when),)))
    return families


def _number(value: float) -> str:
    """A sample value as the exposition format writes it (as prometheus_client does)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    text = repr(float(value))
    dot = text.find(".")
    if value > 0 and dot > 6:  # Go's notation: exponents sooner than Python's repr
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1:]}".rstrip("0.")
        return f"{mantissa}e+0{dot - 1}"
    return text


def _escape(text: str, quote: bool) -> str:
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    return text.replace('"', '\\"') if quote else text


def exposition(families: list[GaugeFamily]) -> str:
    """The text exposition format (0.0.4) of `families`."""
    lines = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape(family.help, quote=False)}")
        lines.append(f"# TYPE {family.name} gauge")
        for values, value in family.samples:
            labels = ",".join(f'{name}="{_escape(v, quote=True)}"'
                              for name, v in zip(family.labels, values, strict=True))
            lines.append(f"{family.name}{{{labels}}} {_number(value)}" if labels
                         else f"{family.name} {_number(value)}")
    return "\n".join(lines) + "\n"


def fleet_gauges(results: Sequence[tuple[str, ProbeResult]], *,
                 last_success: Mapping[str, float] | None = None) -> list[GaugeFamily]:
    """A fleet's metrics: each target's `gauges`, every sample labelled `target` (its name)
    first; `last_success` carries over each failed target's last success by name."""
    carried = last_success or {}
    merged: dict[str, GaugeFamily] = {}
    for name, result in results:
        for family in gauges(result, last_success=carried.get(name)):
            into = merged.setdefault(family.name, GaugeFamily(
                family.name, family.help, ("target", *family.labels)))
            merged[family.name] = replace(into, samples=into.samples + tuple(
                ((name, *values), value) for values, value in family.samples))
    return list(merged.values())


def registry_of(families: list[GaugeFamily]) -> CollectorRegistry:
    """`families` in a prometheus_client registry (for the Pushgateway)."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    for family in families:
        gauge = Gauge(family.name, family.help, list(family.labels), registry=registry)
        for values, value in family.samples:
            (gauge.labels(*values) if values else gauge).set(value)
    return registry


def build_registry(result: ProbeResult, *, last_success: float | None = None) -> CollectorRegistry:
    """The run's gauges in a prometheus_client registry (for the Pushgateway)."""
    return registry_of(gauges(result, last_success=last_success))


Previous = Mapping[str | None, Mapping[str, float]]  # target (None: unlabelled) -> name -> value


def _samples_by_target(text: str, *, where: Mapping[str, str] | None = None
                       ) -> dict[str | None, dict[str, float]]:
    """The carried-over samples (last success, consecutive failures) of exposition `text`
    whose labels include `where`, by their `target` label. ValueError when malformed."""
    from prometheus_client.parser import text_string_to_metric_families  # failed runs only

    found: dict[str | None, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in (LAST_SUCCESS, CONSECUTIVE_FAILURES) and all(
                    sample.labels.get(key) == value for key, value in (where or {}).items()):
                found.setdefault(sample.labels.get("target"), {})[sample.name] = sample.value
    return found


def _previous_file(path: Path) -> dict[str | None, dict[str, float]]:
    """The carried-over samples of an existing textfile; {} if absent or unreadable (a
    textfile that is not ours starts the counts afresh rather than failing the probe)."""
    try:
        return _samples_by_target(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}


def previous_last_success(path: Path) -> float | None:
    """The last-success timestamp in an existing textfile (None if absent or unreadable)."""
    return _previous_file(path).get(None, {}).get(LAST_SUCCESS)


def continue_failures(families: list[GaugeFamily], previous: Previous) -> list[GaugeFamily]:
    """`families` with each failing series' consecutive-failure count (1: this run) added to
    the count `previous` held for its target; a passing series stays 0."""
    def counted(family: GaugeFamily, values: tuple[str, ...], value: float) -> float:
        if value == 0:
            return value
        target = values[family.labels.index("target")] if "target" in family.labels else None
        return value + previous.get(target, {}).get(CONSECUTIVE_FAILURES, 0.0)

    return [replace(family, samples=tuple((values, counted(family, values, value))
                                          for values, value in family.samples))
            if family.name == CONSECUTIVE_FAILURES else family for family in families]


def _failing(families: list[GaugeFamily]) -> bool:
    return any(value > 0 for family in families if family.name == CONSECUTIVE_FAILURES
               for _, value in family.samples)


def write_prom_file(path: Path, result: ProbeResult) -> None:
    """Write the textfile atomically, keeping the previous last success and continuing the
    consecutive-failure count on a failed run."""
    previous = {} if result.passed else _previous_file(path)
    families = gauges(result, last_success=previous.get(None, {}).get(LAST_SUCCESS))
    atomic_write(path, exposition(continue_failures(families, previous)), mode=0o644,
                 durable=False)


def write_fleet_prom_file(path: Path, results: Sequence[tuple[str, ProbeResult]]) -> None:
    """The fleet's textfile, atomically; each failed target keeps its previous last success
    and continues its consecutive-failure count (the previous file is read only when a
    target failed)."""
    previous: Previous = {}
    if not all(result.passed for _, result in results):
        previous = {name: values for name, values in _previous_file(path).items()
                    if name is not None}
    carried = {name: values[LAST_SUCCESS] for name, values in previous.items()
               if name is not None and LAST_SUCCESS in values}
    families = fleet_gauges(results, last_success=carried)
    atomic_write(path, exposition(continue_failures(families, previous)), mode=0o644,
                 durable=False)


def _gateway_url(gateway: str) -> str:
    """The gateway's base URL as prometheus_client's push functions make it."""
    from urllib.parse import urlparse

    return (gateway if urlparse(gateway).scheme in ("http", "https")
            else f"http://{gateway}").rstrip("/")


def previous_on_gateway(gateway: str, *, instance: str, timeout: float = 10.0
                        ) -> dict[str | None, dict[str, float]]:
    """The carried-over samples of group {job="redcloud_probe", instance=...} on the
    Pushgateway (GET /metrics, only the consecutive-failure lines parsed). Raises OSError
    (urllib's URLError, HTTPError) or ValueError (a line that is not the text format)."""
    from urllib.request import Request, urlopen

    lines = []
    request = Request(f"{_gateway_url(gateway)}/metrics", headers={"Accept": "text/plain"})
    with urlopen(request, timeout=timeout) as response:
        for raw in response:
            line = raw.decode("utf-8")
            if line.startswith((f"{CONSECUTIVE_FAILURES}{{", f"{CONSECUTIVE_FAILURES} ")):
                lines.append(line if line.endswith("\n") else line + "\n")
    return _samples_by_target("".join(lines), where={"job": PUSH_JOB, "instance": instance})


def push_families(gateway: str, families: list[GaugeFamily], *, instance: str,
                  timeout: float = 10.0) -> None:
    """pushadd (POST) `families` to the Pushgateway under job `redcloud_probe`,
    {instance=...}. When a series failed, its consecutive-failure count continues the
    group's (`previous_on_gateway`); if that cannot be read, the rest is pushed without the
    count (the gateway keeps its old one) and the OSError says so. Raises OSError (or
    urllib's URLError) when the gateway cannot be reached."""
    from prometheus_client import pushadd_to_gateway

    unread: OSError | ValueError | None = None
    if _failing(families):
        try:
            families = continue_failures(families, previous_on_gateway(
                gateway, instance=instance, timeout=timeout))
        except (OSError, ValueError) as error:
            unread = error
            families = [family for family in families if family.name != CONSECUTIVE_FAILURES]
    pushadd_to_gateway(gateway, job=PUSH_JOB, registry=registry_of(families),
                       grouping_key={"instance": instance}, timeout=timeout)
    if unread is not None:
        raise OSError(f"pushed without {CONSECUTIVE_FAILURES}: could not read the group's "
                      f"previous count from {_gateway_url(gateway)}/metrics: "
                      f"{type(unread).__name__}: {unread}") from unread


def push(gateway: str, result: ProbeResult, *, instance: str, timeout: float = 10.0) -> None:
    """pushadd (POST) to the Pushgateway under job `redcloud_probe`, {instance=...}. A failed
    run sends no last-success gauge, so the gateway keeps the last one, and continues the
    group's consecutive-failure count. Raises OSError (or urllib's URLError) when the
    gateway cannot be reached."""
    push_families(gateway, gauges(result), instance=instance, timeout=timeout)
