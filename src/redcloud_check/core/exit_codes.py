"""The exit codes of `redcloud-check run` and `redcloud-check probe`: one table for both.

`TABLE` is the table (README.md, "Exit codes", shows it; a test keeps the two in step):
3 and 6-7 are the tool's own failures, kept apart from 1 ("the API failed a check"). The
probe keeps its documented 0-4. `run` maps pytest's own codes onto the table
(`from_pytest`): pytest's usage error (4) is a configuration error, its internal error (3)
is ours (7).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["PROBE_EXIT_CODES", "TABLE", "ExitCode", "from_pytest", "help_text", "settle"]


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


def help_text(command: str) -> str:
    """The table's column for `command` ("run" or "probe"), for --help."""
    column = 0 if command == "run" else 1
    rows = [f"  {int(code)}  {meanings[column]}" for code, meanings in TABLE.items()
            if meanings[column] != "-"]
    return "exit codes:\n" + "\n".join(rows)


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
