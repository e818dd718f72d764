"""The exit codes of every `redcloud-check` command: one table.

`TABLE` is the table of `run` and `probe` (README.md, "Exit codes", shows it; a test keeps
the two in step); `OTHER_COMMANDS` gives the codes `simulate`, `listen`, `doctor`, `diff` and
`replay` use, with the same meanings. 3 and 6-7 are the tool's own failures, kept apart from 1 ("the
API failed a check"). The probe keeps its documented 0-4. `run` maps pytest's own codes onto
the table (`from_pytest`): pytest's usage error (4) is a configuration error, its internal
error (3) is ours (7). Every command's usage error is 3 (`UsageParser`), never argparse's 2,
which is "interrupted or degraded" here. `for_error` maps the error that ended a command, by
type. `help_text(command)` is what each command's --help shows.
"""

from __future__ import annotations

import argparse
import sys
from enum import IntEnum
from typing import NoReturn

__all__ = ["DOCTOR_EXIT_CODES", "OTHER_COMMANDS", "PROBE_EXIT_CODES", "TABLE", "ExitCode",
           "UsageParser", "for_error", "from_pytest", "help_text", "meanings", "settle"]


class ExitCode(IntEnum):
    OK = 0
    CHECK_FAILED = 1
    INTERRUPTED_OR_DEGRADED = 2
    CONFIG_ERROR = 3
    UNREACHABLE = 4
    NO_CHECKS = 5
    EVIDENCE_INCOMPLETE = 6
    INTERNAL_ERROR = 7


# code -> (what it means from `run`, from `probe`); "-" where a command never uses it
TABLE: dict[ExitCode, tuple[str, str]] = {
    ExitCode.OK: ("every selected check passed or failed under a valid waiver", "healthy"),
    ExitCode.CHECK_FAILED: ("a check failed (the API did not conform, or was unreachable), "
                            "or a webhook override is left misrouted",
                            "unhealthy: a stage failed, or a webhook override is left "
                            "misrouted"),
    ExitCode.INTERRUPTED_OR_DEGRADED: ("interrupted (Ctrl-C, SIGTERM)",
                                       "degraded: slower than --warn-latency-ms"),
    ExitCode.CONFIG_ERROR: ("config error: a setting is missing or malformed; nothing was sent",
                            "config error: a setting is missing or malformed; nothing was "
                            "requested; or tool error: redcloud-check could not do a "
                            "stage's job (e.g. the canary's tunnel did not open)"),
    ExitCode.UNREACHABLE: ("-", "unreachable: no HTTP answer"),
    ExitCode.NO_CHECKS: ("no check selected (e.g. -k matched none)", "-"),
    ExitCode.EVIDENCE_INCOMPLETE: ("evidence incomplete: a report named on the terminal "
                                   "was not written",
                                   "evidence incomplete: probe.json was not written"),
    ExitCode.INTERNAL_ERROR: ("internal error: a bug in redcloud-check, not the API",
                              "internal error: a bug in redcloud-check, not the API"),
}


# probe.json's `status` -> the probe's exit code (the table's `probe` column; a tool error
# is 3 as a configuration error is: the probe could not do its job, never a verdict)
PROBE_EXIT_CODES: dict[str, ExitCode] = {
    "healthy": ExitCode.OK,
    "unhealthy": ExitCode.CHECK_FAILED,
    "degraded": ExitCode.INTERRUPTED_OR_DEGRADED,
    "config_error": ExitCode.CONFIG_ERROR,
    "tool_error": ExitCode.CONFIG_ERROR,
    "unreachable": ExitCode.UNREACHABLE,
}


# doctor's `status` -> its exit code (OTHER_COMMANDS["doctor"] says what each means)
DOCTOR_EXIT_CODES: dict[str, ExitCode] = {
    "usable": ExitCode.OK,
    "not_usable": ExitCode.CHECK_FAILED,
    "config_error": ExitCode.CONFIG_ERROR,
    "unreachable": ExitCode.UNREACHABLE,
}


# The other commands' codes, with the table's meanings (README.md, "Exit codes").
OTHER_COMMANDS: dict[str, dict[ExitCode, str]] = {
    "simulate": {
        ExitCode.OK: "stopped (Ctrl-C, SIGTERM) with no error of ours while serving",
        ExitCode.CONFIG_ERROR: "usage or config error: an unknown option, fault or variant, "
                               "an unreadable --seed, or the address cannot be bound; nothing "
                               "was served",
        ExitCode.INTERNAL_ERROR: "internal error: a bug in redcloud-check (the simulator "
                                 "raised while serving)"},
    "listen": {
        ExitCode.OK: "stopped (Ctrl-C, SIGTERM)",
        ExitCode.CONFIG_ERROR: "usage or config error: the signing secret is not set, --path "
                               "is not a path, --respond is not a list of HTTP codes, the "
                               "address cannot be bound, or the tunnel did not open",
        ExitCode.INTERNAL_ERROR: "internal error: a bug in redcloud-check, not the sender"},
    "doctor": {
        ExitCode.OK: "usable: a token was issued, the client is ACTIVE and RC_NUMBER_ID names "
                     "a usable number (ACTIVE, smsEnabled)",
        ExitCode.CHECK_FAILED: "not usable, saying why and the setting to fix: credentials "
                               "refused, no API at RC_BASE_URL, the client not ACTIVE, "
                               "RC_NUMBER_ID unset, an E.164, not listed or not usable",
        ExitCode.CONFIG_ERROR: "usage or config error: a setting is missing or malformed "
                               "(nothing was requested), or --write-env FILE cannot be read "
                               "or written",
        ExitCode.UNREACHABLE: "unreachable: no HTTP answer from the target",
        ExitCode.INTERNAL_ERROR: "internal error: a bug in redcloud-check, not the API"},
    "diff": {
        ExitCode.OK: "nothing regressed: no check fails in NEW that did not fail in OLD",
        ExitCode.CHECK_FAILED: "a check newly fails (use it to gate CI)",
        ExitCode.CONFIG_ERROR: "usage error, or OLD or NEW is unreadable: missing, not JSON, "
                               "or not a run's escalation.json",
        ExitCode.INTERNAL_ERROR: "internal error: a bug in redcloud-check"},
    "replay": {
        ExitCode.OK: "every replayed check is fixed (passes now)",
        ExitCode.CHECK_FAILED: "a replayed check still fails, or the re-run failed otherwise "
                               "(a gate it ran as a premise fails now)",
        ExitCode.INTERRUPTED_OR_DEGRADED: "interrupted (Ctrl-C, SIGTERM), or inconclusive: a "
                                          "replayed check did not run (blocked, skipped) and "
                                          "none still fails",
        ExitCode.CONFIG_ERROR: "usage or config error, or RUN is unreadable (missing, not JSON, "
                               "not a run's escalation.json) or has nothing to replay (no "
                               "failed check); nothing was sent",
        ExitCode.EVIDENCE_INCOMPLETE: "evidence incomplete: a report of the re-run was not "
                                      "written",
        ExitCode.INTERNAL_ERROR: "internal error: a bug in redcloud-check, not the API"},
}
# Where each command's log is (core.run_log): the one line of an internal error names it.
_LOGS = {"run": "the run's folder, reports/runs/<run-id>/{run}",
         "probe": "the reports dir, next to probe.json: {probe}",
         "replay": "the re-run's folder, reports/runs/<run-id>/{run} (before the re-run "
                   "starts: a file in the temp directory)"}


def meanings(command: str) -> dict[ExitCode, str]:
    """Exit code -> what it means from `command` (only the codes it uses)."""
    if command in OTHER_COMMANDS:
        return OTHER_COMMANDS[command]
    column = 0 if command == "run" else 1
    return {code: texts[column] for code, texts in TABLE.items() if texts[column] != "-"}


def help_text(command: str, more: str = "") -> str:
    """What `command`'s --help says of its exit codes: its column of the table (then `more`,
    lines of the command's own), that a usage error is 3 and where the traceback of an
    internal error goes."""
    from redcloud_check.core.log_names import LOG_NAME, PROBE_LOG

    rows = [f"  {int(code)}  {text}" for code, text in meanings(command).items()]
    log = _LOGS.get(command, "a file in the temp directory").format(run=LOG_NAME,
                                                                   probe=PROBE_LOG)
    return ("exit codes:\n" + "\n".join([*rows, *([more] if more else [])]) + "\n"
            "a usage error (an unknown or malformed option) exits 3; an internal error (7)\n"
            f"prints one line naming the log that holds its traceback:\n  {log}")


class UsageParser(argparse.ArgumentParser):
    """argparse's parser, with argparse's message, whose usage error exits CONFIG_ERROR (3)
    instead of argparse's 2 (here: interrupted or degraded). Subparsers are of its class."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(int(ExitCode.CONFIG_ERROR), f"{self.prog}: error: {message}\n")


def for_error(error: BaseException) -> ExitCode:
    """The code of a command that `error` ended, by its type: the tool's own known failures
    (core.errors) by their meaning, Ctrl-C as an interruption, anything else a bug (7)."""
    from redcloud_check.core.errors import HandlerError, RedcloudCheckError, TargetUnreachable

    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED_OR_DEGRADED
    if isinstance(error, HandlerError):  # code of ours raised while serving
        return ExitCode.INTERNAL_ERROR
    if isinstance(error, TargetUnreachable):
        return ExitCode.UNREACHABLE
    if isinstance(error, RedcloudCheckError):  # a setting, or the tool could not do its job
        return ExitCode.CONFIG_ERROR
    return ExitCode.INTERNAL_ERROR


# pytest.ExitCode value -> ours (OK, TESTS_FAILED, INTERRUPTED, NO_TESTS_COLLECTED keep theirs)
_PYTEST = {3: ExitCode.INTERNAL_ERROR, 4: ExitCode.CONFIG_ERROR}


def from_pytest(code: int) -> int:
    """pytest's exit code in this table's terms."""
    return int(_PYTEST.get(int(code), code))


def settle(code: int, *, internal_errors: int = 0, missing_artifacts: int = 0) -> int:
    """The final code once the tool's own failures are known: missing evidence (the
    question a reader of the artifacts asks first), then an internal error, override every
    verdict except a configuration error or an interruption; a run with either never
    exits 0."""
    if code in (ExitCode.CONFIG_ERROR, ExitCode.INTERRUPTED_OR_DEGRADED):
        return code
    if missing_artifacts:
        return ExitCode.EVIDENCE_INCOMPLETE
    if internal_errors:
        return ExitCode.INTERNAL_ERROR
    return code
