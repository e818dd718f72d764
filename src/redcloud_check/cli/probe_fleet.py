"""`redcloud-check probe --targets FILE`: the fleet probe's outputs and exit code.

One JSON line per target as it finishes (the single probe's document with the target's
`name` first), `<reports>/fleet.json` (every target's document in file order, and the
fleet's worst status), and the metrics with a `target` label (`--prom-file`,
`--pushgateway`). The exit code is the worst target's (`probe.fleet.SEVERITY`); 6 when
fleet.json could not be written. A file that cannot be used is one config_error line, exit 3.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redcloud_check.probe.fleet import FleetTarget
    from redcloud_check.probe.runner import ProbeResult

FLEET_JSON = "fleet.json"


def _secrets(targets: tuple[FleetTarget, ...]) -> list[str]:
    """Every credential the targets name, and the RC_* secrets: redacted from every output."""
    from redcloud_check.core.config import env_secrets

    named = [os.environ.get(t.client_secret_env, "") for t in targets]
    return [s for s in (*named, *env_secrets()) if s]


def _config_error(args: argparse.Namespace, message: str, reports_dir: Path) -> int:
    from redcloud_check.cli.probe_output import document, emit, json_line
    from redcloud_check.core.config import env_secrets
    from redcloud_check.probe.runner import config_error_result

    result = config_error_result(message)
    emit(args, result, json_line(document(result), env_secrets()), env_secrets())
    print(f"redcloud-check probe: configuration error: {message}", file=sys.stderr)
    return result.exit_code


def run_fleet_command(args: argparse.Namespace) -> int:
    from redcloud_check.cli.probe_output import given_reports_dir
    from redcloud_check.core import run_log
    from redcloud_check.core.config import given_value
    from redcloud_check.core.errors import ConfigError
    from redcloud_check.core.waivers import find_waivers_file, load_waivers
    from redcloud_check.probe.fleet import load_targets

    reports_dir = given_reports_dir(args)
    if args.canary or args.fault or args.variant:
        flag = "--canary" if args.canary else "--fault" if args.fault else "--variant"
        return _config_error(args, f"--targets: {flag} does not apply to a fleet (the fleet "
                             "probe is read-only and probes remote targets)", reports_dir)
    try:
        targets = load_targets(args.targets)
        waiver_file = find_waivers_file(given_value("waivers"))
        waivers = load_waivers(waiver_file) if waiver_file is not None else ()
    except ConfigError as error:
        return _config_error(args, str(error), reports_dir)
    run_log.use(reports_dir / run_log.PROBE_LOG, lambda: _secrets(targets))
    return _probe_fleet(args, targets, waivers, waiver_file, reports_dir)


def _probe_fleet(args: argparse.Namespace, targets: tuple[FleetTarget, ...], waivers: Any,
                 waiver_file: Path | None, reports_dir: Path) -> int:
    from functools import partial

    from redcloud_check.cli.probe_output import document, emit, json_line, wants_json
    from redcloud_check.core.exit_codes import PROBE_EXIT_CODES, ExitCode
    from redcloud_check.core.files import atomic_write
    from redcloud_check.core.redaction import redact
    from redcloud_check.core.timefmt import iso_utc
    from redcloud_check.probe.fleet import DEFAULT_CONCURRENCY, probe_target, run_fleet, worst

    secrets = _secrets(targets)
    concurrency = args.concurrency or DEFAULT_CONCURRENCY
    options = {"timeout": None if args.timeout is None else repr(args.timeout),
               "reports_dir": str(reports_dir)}
    probe = partial(probe_target, options=options, warn_latency_ms=args.warn_latency_ms,
                    waivers=waivers, waiver_file=waiver_file)
    started, t0 = time.time(), time.perf_counter()
    results: dict[str, ProbeResult] = {}
    for target, result in run_fleet(targets, concurrency=concurrency, probe=probe):
        results[target.name] = result
        emit(args, result, json_line({"name": target.name, **document(result)}, secrets), secrets,
             name=target.name)
        if result.status == "config_error":
            print(f"redcloud-check probe: configuration error: {redact(result.error, secrets)}",
                  file=sys.stderr)
    ordered = [(t.name, results[t.name]) for t in targets]
    status = worst([r.status for _, r in ordered])
    code = int(PROBE_EXIT_CODES[status])
    problems = _metrics(args, ordered)
    from redcloud_check import __version__

    counts: dict[str, int] = {s: sum(r.status == s for _, r in ordered)
              for s in dict.fromkeys(r.status for _, r in ordered)}
    duration = round(time.perf_counter() - t0, 6)
    fleet = {"probe": "redcloud-check", "version": __version__, "fleet": str(args.targets),
             "status": status, "exit_code": code, "started_at": iso_utc(started),
             "duration_s": duration, "concurrency": concurrency,
             "counts": counts,
             "targets": [{"name": name, **document(r)} for name, r in ordered]}
    try:
        atomic_write(reports_dir / FLEET_JSON, json_line(fleet, secrets) + "\n")
    except OSError as error:
        code = int(ExitCode.EVIDENCE_INCOMPLETE)
        print(f"redcloud-check probe: evidence incomplete: {FLEET_JSON} was not written "
              f"({redact(str(error), secrets)}; exit {code})", file=sys.stderr)
    for problem in problems:
        print(f"redcloud-check probe: could not write output: {redact(problem, secrets)}",
              file=sys.stderr)
    if not wants_json(args):
        from redcloud_check.cli.probe_text import fleet_line

        print(fleet_line(status, code, counts, duration), flush=True)
    return code


def _metrics(args: argparse.Namespace, results: list[tuple[str, ProbeResult]]) -> list[str]:
    from redcloud_check.cli.probe_output import write_metrics
    from redcloud_check.probe import metrics

    return write_metrics(args, lambda path: metrics.write_fleet_prom_file(path, results),
                         lambda: metrics.fleet_gauges(results))
