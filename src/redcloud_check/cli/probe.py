"""`redcloud-check probe`: the scheduled health probe's command line and its outputs.

One JSON line on stdout, `<reports>/probe.json` (written atomically), and optionally a
node_exporter textfile (`--prom-file`) and a Pushgateway push (`--pushgateway`). Only
argparse is imported at module level: `redcloud-check --help` builds every subcommand's
parser and must stay fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redcloud_check.probe.runner import ProbeResult

SETTINGS_HELP = """\
Settings come from the RC_* environment variables (RC_BASE_URL, RC_CLIENT_ID,
RC_CLIENT_SECRET, RC_NUMBER_ID, RC_TO, RC_ALLOW_SEND, RC_TIMEOUT, RC_REPORTS_DIR, ...).
No RC_BASE_URL: the embedded simulator is probed. See docs/probe.md."""


FLEET_HELP = """\
  --targets: the worst target's code, worst first: 3, 4, 1, 2, 0 (docs/probe.md, "Fleet")"""


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
    return value


def _count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 256:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 256: {text!r}")
    return int(text)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    from redcloud_check.cli import simulator_arguments
    from redcloud_check.core.exit_codes import help_text

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = help_text("probe", FLEET_HELP) + "\n\n" + SETTINGS_HELP
    parser.description = (
        "Production health probe: token (HTTP Basic), whoami (client ACTIVE), numbers "
        "(RC_NUMBER_ID listed, ACTIVE, smsEnabled). Read-only unless --canary. Prints one "
        "JSON line (a line per stage on a terminal) and writes <reports>/probe.json.")
    parser.add_argument("--canary", action="store_true",
                        help="also send one SMS to RC_TO and confirm its lifecycle by webhook "
                             "(needs RC_ALLOW_SEND=1 for a remote target)")
    parser.add_argument("--warn-latency-ms", type=_positive, metavar="MS",
                        help="degraded (exit 2) when a stage or the total takes longer")
    parser.add_argument("--timeout", type=_positive, metavar="SECONDS",
                        help="HTTP connect/read timeout (overrides RC_TIMEOUT; default 10)")
    parser.add_argument("--prom-file", type=Path, metavar="PATH",
                        help="write Prometheus metrics here (node_exporter textfile collector)")
    parser.add_argument("--pushgateway", metavar="URL",
                        help="pushadd the metrics to this Prometheus Pushgateway "
                             "(job redcloud_probe)")
    parser.add_argument("--instance", default=None, metavar="NAME",
                        help="Pushgateway grouping key instance (default: this host's name)")
    parser.add_argument("--reports-dir", type=Path, metavar="DIR",
                        help="where probe.json goes (overrides RC_REPORTS_DIR; default reports)")
    simulator_arguments(parser)  # --fault, --variant: the embedded simulator's, as for run
    parser.add_argument("--json", action="store_true",
                        help="print the JSON line even on a terminal (it is always printed "
                             "when stdout is not a terminal; a terminal gets a line per stage)")
    parser.add_argument("--targets", type=Path, metavar="FILE",
                        help="probe a fleet: a TOML file of [[target]] tables (name, base_url, "
                             "number_id, client_id_env, client_secret_env); one line per "
                             "target, <reports>/fleet.json, exit code of the worst target")
    parser.add_argument("--concurrency", type=_count, default=None, metavar="N",
                        help="with --targets: probe at most N targets at once (default 8)")


def _probe(args: argparse.Namespace) -> tuple[ProbeResult, list[str], Path]:
    """(result, secrets to redact, reports dir); a ConfigError becomes a config_error result."""
    from redcloud_check.core.config import env_secrets, load_settings
    from redcloud_check.core.errors import ConfigError
    from redcloud_check.core.urls import without_userinfo
    from redcloud_check.probe.runner import config_error_result, run_probe

    options = {"timeout": None if args.timeout is None else repr(args.timeout),
               "reports_dir": None if args.reports_dir is None else str(args.reports_dir),
               "sim_faults": ",".join(args.fault) or None,
               "sim_variants": ",".join(args.variant) or None}
    from redcloud_check.cli.probe_output import given_reports_dir
    from redcloud_check.core import run_log

    fallback_dir = given_reports_dir(args)
    if args.concurrency is not None:
        return (config_error_result("--concurrency: applies only with --targets"),
                env_secrets(), fallback_dir)
    try:
        settings = load_settings(options)
        if settings.sim_faults or settings.sim_variants:  # the simulator's own catalogs
            from redcloud_check.simulator.names import check_names

            check_names(settings)
    except ConfigError as error:
        return config_error_result(str(error), canary=args.canary), env_secrets(), fallback_dir
    run_log.use(settings.reports_dir / run_log.PROBE_LOG, settings.secrets)
    target = without_userinfo(settings.base_url) if settings.base_url else ""
    if args.canary and not settings.sends_allowed:
        message = ("RC_ALLOW_SEND: --canary sends a real SMS to RC_TO; set RC_ALLOW_SEND=1 to "
                   "allow it (4-sending-messages.txt)")
        return (config_error_result(message, target=target, canary=True), settings.secrets(),
                settings.reports_dir)
    if args.canary:
        from redcloud_check.webhooks.tunnel import preflight

        try:
            preflight(settings)  # a canary whose events could never reach us is not sent
        except ConfigError as error:
            return (config_error_result(str(error), target=target, canary=True),
                    settings.secrets(), settings.reports_dir)
    from redcloud_check.core.waivers import book_for

    try:
        waivers = book_for(settings.waivers)
    except ConfigError as error:
        return (config_error_result(str(error), target=target, canary=args.canary),
                settings.secrets(), settings.reports_dir)
    from redcloud_check.core import startup_gc

    startup_gc.resume()  # the stages (a canary's wait among them) run with a normal collector
    result = run_probe(settings, canary=args.canary, warn_latency_ms=args.warn_latency_ms,
                       waivers=waivers)
    return result, settings.secrets(), settings.reports_dir


def _metrics(args: argparse.Namespace, result: ProbeResult) -> list[str]:
    from redcloud_check.cli.probe_output import write_metrics
    from redcloud_check.probe import metrics

    return write_metrics(args, lambda path: metrics.write_prom_file(path, result),
                         lambda: metrics.gauges(result))


def _append_history(reports_dir: Path, result: ProbeResult) -> None:
    from redcloud_check.reporting.history import append_history, history_entry

    append_history(reports_dir, history_entry(
        kind="probe", time=result.started_at, run_id=None, exit_code=result.exit_code,
        verdict=result.status, stages={s.stage: s.verdict for s in result.stages},
        latency_ms=result.latency_ms or {}))


def run(args: argparse.Namespace) -> int:
    """The probe (one target, or a fleet with --targets). A bug of ours that escapes is never
    reported as the API's health: the command line's one handler (cli.ended_by) makes it
    exit 7, its traceback in <reports>/probe.log (core.run_log)."""
    from redcloud_check.cli.probe_output import given_reports_dir
    from redcloud_check.core import run_log

    run_log.use(given_reports_dir(args) / run_log.PROBE_LOG)  # until the settings say
    if args.targets is not None:
        from redcloud_check.cli.probe_fleet import run_fleet_command
        from redcloud_check.core import startup_gc

        startup_gc.resume()  # a fleet probes many targets: a normal collector throughout

        return run_fleet_command(args)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    from redcloud_check.cli.probe_output import document, emit, json_line
    from redcloud_check.core.exit_codes import ExitCode
    from redcloud_check.core.files import atomic_write
    from redcloud_check.core.redaction import redact

    result, found, reports_dir = _probe(args)
    # the secrets, and the recipients' numbers the probe saw (masked unless
    # RC_SHARE_RECIPIENTS=1: core.recipients)
    secrets = {**result.recipients, **dict.fromkeys((s for s in found if s), "secret")}
    problems = _metrics(args, result)
    text = json_line(document(result), secrets)
    code = result.exit_code
    try:
        atomic_write(reports_dir / "probe.json", text + "\n", durable=False)
    except OSError as error:
        code = int(ExitCode.EVIDENCE_INCOMPLETE)
        detail = redact(f"{reports_dir / 'probe.json'}: {error}", secrets)
        print(f"redcloud-check probe: evidence incomplete: probe.json was not written "
              f"({detail}; exit {code})", file=sys.stderr)
    try:
        _append_history(reports_dir, result)
    except OSError as error:
        problems.append(f"{reports_dir / 'history.jsonl'}: {error}")
    emit(args, result, text, secrets)
    if result.status == "config_error":
        print(f"redcloud-check probe: configuration error: {result.error}", file=sys.stderr)
    elif result.status == "tool_error":
        print(f"redcloud-check probe: {redact(result.error or '', secrets)}", file=sys.stderr)
    for problem in problems:
        print(f"redcloud-check probe: could not write output: {redact(problem, secrets)}",
              file=sys.stderr)
    return code
