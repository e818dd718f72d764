"""`redcloud-check diff OLD NEW`: what changed between two runs' escalation.json.

Only argparse is imported at module level (`redcloud-check --help` builds every parser).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_CODES_HELP = """\
exit codes:
  0  nothing regressed: no check fails in NEW that did not fail in OLD
  1  a check newly fails (use it to gate CI)
  3  OLD or NEW is unreadable: missing, not JSON, or not a run's escalation.json
     (the tool could not do its job: the code run and probe use for a config error)

Prints checks newly failing and fixed, undocumented fields (drift) that appeared or
disappeared, and the median latency per endpoint, old against new."""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_CODES_HELP
    parser.description = "Compare two runs' escalation.json (e.g. last night's and today's)."
    parser.add_argument("old", type=Path, metavar="OLD", help="the earlier escalation.json")
    parser.add_argument("new", type=Path, metavar="NEW", help="the later escalation.json")
    parser.add_argument("--json", action="store_true", help="print the diff as one JSON object")


def run(args: argparse.Namespace) -> int:
    from redcloud_check.core.exit_codes import ExitCode
    from redcloud_check.reporting.run_diff import UnreadableRun, compare, read_run, render

    try:
        old, new = read_run(args.old), read_run(args.new)
    except UnreadableRun as error:
        print(f"redcloud-check diff: {error}", file=sys.stderr)
        return int(ExitCode.CONFIG_ERROR)  # the tool could not do its job, as run and probe say
    diff = compare(old, new)
    print(json.dumps(diff.as_dict(), ensure_ascii=False) if args.json else render(diff))
    return int(ExitCode.CHECK_FAILED if diff.regressed else ExitCode.OK)
