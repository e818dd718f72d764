"""`redcloud-check diff OLD NEW`: what changed between two runs' escalation.json.

Only argparse is imported at module level (`redcloud-check --help` builds every parser).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

WHAT_IT_PRINTS = """\
Prints checks newly failing and fixed, undocumented fields (drift) that appeared or
disappeared, and the median latency per endpoint, old against new; a warning first (and
in --json, "warnings") when the runs differ in target, API client or number."""


def configure_parser(parser: argparse.ArgumentParser) -> None:
    from redcloud_check.core.exit_codes import help_text

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = help_text("diff") + "\n\n" + WHAT_IT_PRINTS
    parser.description = "Compare two runs' escalation.json (e.g. last night's and today's)."
    parser.add_argument("old", type=Path, metavar="OLD", help="the earlier escalation.json")
    parser.add_argument("new", type=Path, metavar="NEW", help="the later escalation.json")
    parser.add_argument("--json", action="store_true", help="print the diff as one JSON object")


def run(args: argparse.Namespace) -> int:
    from redcloud_check.core.exit_codes import ExitCode
    from redcloud_check.reporting.run_diff import UnreadableRun, compare, read_run, render

    try:
        old, new = read_run(args.old), read_run(args.new)
    except UnreadableRun as error:  # the tool cannot do its job: as a configuration error
        print(f"redcloud-check diff: {error}", file=sys.stderr)
        return int(ExitCode.CONFIG_ERROR)
    diff = compare(old, new)
    print(json.dumps(diff.as_dict(), ensure_ascii=False) if args.json else render(diff))
    if args.json:  # stdout is the JSON alone: its "warnings" said it, a person reads stderr
        for mismatch in diff.mismatches:
            print(f"redcloud-check diff: warning: {mismatch.message}", file=sys.stderr)
    return int(ExitCode.CHECK_FAILED if diff.regressed else ExitCode.OK)
