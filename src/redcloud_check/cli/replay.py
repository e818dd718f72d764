"""`redcloud-check replay [RUN]`: run again the checks that failed in a run, after a fix,
and say of each: FIXED, STILL FAILING or NOT RUN.

The re-run is a run of the suite (`redcloud-check run --rc-replay-of RUN`) against the
target configured now, with a run folder of its own whose escalation.json carries
`replayOf` and `replay`; RUN's files are never changed. The plan, the comparison and the
lines are `reporting.replay`'s. Only argparse is imported at module level (`redcloud-check
--help` builds every parser).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

WHAT_IT_DOES = """\
RUN is a run folder (reports/runs/<id>) or its escalation.json; without it, the latest run
under RC_REPORTS_DIR/runs that failed. Only the checks that failed in RUN run again, with the
gates of their stage and every earlier one, against the target configured now (settings as
for `run`: environment, .env); a warning when its target, API client or number differs
from RUN's. It sends only if RUN sent, and as RC_ALLOW_SEND allows. It prints one line per
check, FIXED, STILL FAILING or NOT RUN (blocked by ...), with the old and the new actual
value, and writes a new run folder (escalation.json: replayOf, replay). docs/replay.md"""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    from redcloud_check.cli import simulator_arguments
    from redcloud_check.core.exit_codes import help_text

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = "Run again the checks that failed in a run: fixed, or still failing?"
    parser.epilog = WHAT_IT_DOES + "\n\n" + help_text("replay")
    parser.add_argument("run", type=Path, nargs="?", default=None, metavar="RUN",
                        help="a run folder or its escalation.json (default: the latest run "
                             "that failed)")
    simulator_arguments(parser)


def _say(message: str) -> None:
    print(f"redcloud-check replay: {message}", file=sys.stderr)


def _reports_dir() -> Path:
    from redcloud_check.core.config import given_value

    return Path(given_value("reports_dir", dotenv=Path.cwd() / ".env") or "reports")


def _warn_target(original: dict[str, Any]) -> None:
    """Before the run, on stderr: the target, client or number configured now differs
    from the run's (a setting that does not load is the run's to report, exit 3)."""
    from redcloud_check.core.config import load_settings
    from redcloud_check.core.errors import ConfigError
    from redcloud_check.reporting.replay import target_mismatches

    try:
        settings = load_settings(dotenv=Path.cwd() / ".env")
    except ConfigError:
        return
    for mismatch in target_mismatches(original, settings):
        _say(f"warning: {mismatch.message} (replayed anyway: what changed may be the target, "
             "not the API)")


def _new_run(runs: Path, before: set[str], run_id: str) -> tuple[Path, dict[str, Any]] | None:
    """The re-run's folder and escalation.json: a run folder that was not there before,
    replaying `run_id` (the newest, should another run have started meanwhile)."""
    from redcloud_check.reporting.run_diff import UnreadableRun, read_run

    new = sorted((p for p in runs.iterdir() if p.is_dir() and p.name not in before),
                 reverse=True) if runs.is_dir() else []
    for folder in new:
        try:
            doc = read_run(folder / "escalation.json")
        except UnreadableRun:
            continue
        if doc.get("replayOf") == run_id:
            return folder, doc
    return None


def run(args: argparse.Namespace) -> int:
    from redcloud_check.cli import run as run_suite
    from redcloud_check.core.exit_codes import ExitCode
    from redcloud_check.reporting import replay
    from redcloud_check.reporting.run_diff import UnreadableRun, read_run
    from redcloud_check.reporting.run_folder import RUNS

    reports = _reports_dir()
    try:
        path = replay.locate(args.run, reports)
        original = read_run(path)
        plan = replay.plan(original)
    except (UnreadableRun, replay.NothingToReplay) as error:  # the tool cannot do its job
        _say(str(error))
        return int(ExitCode.CONFIG_ERROR)
    premises = f", with the gates {', '.join(plan.premises)}" if plan.premises else ""
    print(f"redcloud-check replay: re-running {', '.join(plan.replayed)} of run "
          f"{plan.run_id} ({path}){premises}", flush=True)
    for check_id, why in plan.left_out:
        _say(f"{check_id} is not run again: {why}")
    _warn_target(original)
    runs = reports / RUNS
    before = {p.name for p in runs.iterdir()} if runs.is_dir() else set()
    code = run_suite(args, ["--rc-replay-of", str(path)])
    found = _new_run(runs, before, plan.run_id)
    if found is None:
        return replay.exit_code(code, None)
    folder, doc = found
    print("\n".join([*replay.lines(doc), f"The re-run's evidence: {folder.resolve()} "
                     f"(escalation.json: replayOf {plan.run_id})"]))
    return replay.exit_code(code, doc)
