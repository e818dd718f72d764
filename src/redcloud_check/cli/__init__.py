"""`redcloud-check run|probe|simulate|listen|doctor|diff|replay`.

    run       the conformance suite (pytest) against RC_BASE_URL or the embedded simulator
    probe     a cheap production health probe (read-only unless --canary)
    simulate  the reference simulator, standalone
    listen    the signed-webhook listener alone, like `stripe listen`
    doctor    first contact: are the credentials right, and which numberId to use
    diff      what changed between two runs (checks, drift, latency), to gate CI
    replay    the checks that failed in a run, run again: fixed or still failing

Subcommands import their machinery lazily so each starts fast.

One convention for every command (core.exit_codes): a usage error exits 3 with argparse's
message; an error of ours that ends a command is mapped here, once, by its type: the tool's
known failures (core.errors) by their meaning, anything else is a bug of ours: exit 7, one
line naming the command's log, the traceback in that log (core.run_log).
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from redcloud_check import __version__
from redcloud_check.core import run_log, startup_gc
from redcloud_check.core.exit_codes import ExitCode, UsageParser

# subcommand -> (module with configure_parser(parser) and run(args) -> int, help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("redcloud_check.cli", "run the conformance suite (extra args go to pytest)"),
    "probe": ("redcloud_check.cli.probe", "health probe: token, whoami, numbers (+ --canary)"),
    "simulate": ("redcloud_check.simulator.cli", "run the reference simulator"),
    "listen": ("redcloud_check.cli.listen", "run the signed-webhook listener"),
    "doctor": ("redcloud_check.cli.doctor", "first contact: are the credentials right, and "
               "which numberId to use (3 requests, nothing sent)"),
    "diff": ("redcloud_check.cli.diff", "compare two runs' escalation.json (exit 1: a check "
             "newly fails)"),
    "replay": ("redcloud_check.cli.replay", "run again the checks that failed in a run (exit "
               "0: all fixed, 1: one still fails)"),
}
# Commands that import their machinery inside run() and call startup_gc.resume() where
# their work begins (the probe before its stages, the suite when its checks start); the
# others get the collector back before run().
RESUME_GC_THEMSELVES = frozenset({"run", "probe", "replay"})


def suite_root() -> tuple[Path, Path]:
    """(directory holding the checks, the suite's pytest.ini): the repo's, or the copies a
    wheel installs under redcloud_check/_checks."""
    repo = Path(__file__).resolve().parents[3]
    if (repo / "checks").is_dir() and (repo / "pytest.ini").is_file():
        return repo / "checks", repo / "pytest.ini"
    packaged = Path(__file__).resolve().parents[1] / "_checks"
    return packaged, packaged / "pytest.ini"


def simulator_arguments(parser: argparse.ArgumentParser) -> None:
    """--fault and --variant: the embedded simulator's (run, replay)."""
    parser.add_argument("--fault", action="append", default=[], metavar="NAME",
                        help="embedded simulator only: break one documented rule (repeatable)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME",
                        help="embedded simulator only: a conformant variation the suite must "
                             "pass (repeatable; redcloud-check simulate --list-variants)")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    from redcloud_check.core.config import OPTIONS
    from redcloud_check.core.exit_codes import help_text

    simulator_arguments(parser)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    width = max(len(o.env) for o in OPTIONS)
    parser.epilog = (
        "settings: environment variables, or the pytest options in brackets;\n"
        "a .env file in the current directory is read too\n"
        + "\n".join(f"  {o.env:<{width}}  {o.help} [{o.flag}]" for o in OPTIONS)
        + "\n\nWithout RC_BASE_URL the suite runs against the embedded simulator.\n"
        + help_text("run"))


def run(args: argparse.Namespace, pytest_args: Sequence[str] = ()) -> int:
    """The suite through pytest. Every argument goes to pytest as given: pytest's own
    parser tells option values from test paths, and with no test path the plugin runs the
    suite's checks. The plugin reads the settings (once) and prints the paths this run
    wrote."""
    if args.fault:
        os.environ["RC_SIM_FAULTS"] = ",".join(args.fault)
    if args.variant:
        os.environ["RC_SIM_VARIANTS"] = ",".join(args.variant)
    import pytest


    _, ini = suite_root()
    code = int(pytest.main(["-c", str(ini), "--rootdir", str(ini.parent), *pytest_args]))
    # pytest's usage error (an unknown option) is a configuration error in our table
    return int(ExitCode.CONFIG_ERROR) if code == pytest.ExitCode.USAGE_ERROR else code


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line. With `only` (the subcommand being run), the other subcommands are
    listed but their modules are not imported: each command starts with its own only."""
    parser = UsageParser(
        prog="redcloud-check",
        description="Conformance and diagnostics suite for the Red Cloud CORE API.",
        epilog="Each command's --help lists its exit codes; a usage error exits 3.")
    parser.add_argument("--version", action="version", version=f"redcloud-check {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if only is not None and name != only:
            continue
        try:
            importlib.import_module(module).configure_parser(sp)
        except ImportError as error:  # a subcommand whose module is not installed
            sp.set_defaults(unavailable=str(error))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv`. None: this process's own (the console script, `python
    -m redcloud_check.cli`): the process then ends here, as `sys.exit` would end it."""
    with startup_gc.paused():  # start-up makes no garbage worth collecting (core.startup_gc)
        code = _main(list(sys.argv[1:] if argv is None else argv))
    if argv is None:
        exit_without_teardown(code)
    return code


def exit_without_teardown(code: int) -> None:
    """End the process with `code`, skipping the interpreter's teardown (freeing every
    module and object one by one: about 10 ms of a probe, 30 ms of a run), which nothing of
    ours needs: every file is closed where it is written. What registered itself with
    atexit still runs and stdout and stderr are flushed. Returns instead (the interpreter
    then exits as usual) while a non-daemon thread is alive, a tracer or profiler is
    watching (coverage, cProfile write their data after the program), or a stream cannot
    be flushed."""
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if any(not t.daemon for t in others) or sys.gettrace() or sys.getprofile():
        return
    atexit._run_exitfuncs()  # then cleared: a return below does not run them twice
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):  # None (no console), closed, broken pipe
        return
    os._exit(code)


def _main(argv: list[str]) -> int:
    parser = build_parser(argv[0] if argv and argv[0] in SUBCOMMANDS else None)
    if argv and argv[0] == "run":
        args, rest = parser.parse_known_args(argv)
    else:
        args, rest = parser.parse_args(argv), []
    if getattr(args, "unavailable", None):
        parser.error(f"{args.command} is not available: {args.unavailable}")
    run_log.begin(args.command)
    try:
        if args.command == "run":
            return run(args, rest)
        module = importlib.import_module(SUBCOMMANDS[args.command][0])
        if args.command not in RESUME_GC_THEMSELVES:
            startup_gc.resume()
        return int(module.run(args))
    except (KeyboardInterrupt, Exception) as error:  # the top of every command: whatever
        return run_log.ended_by(args.command, error)  # escaped is mapped by type
