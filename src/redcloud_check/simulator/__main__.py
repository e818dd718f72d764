"""``python -m redcloud_check.simulator``: the same as ``redcloud-check simulate``."""

from __future__ import annotations

from redcloud_check.core import run_log
from redcloud_check.core.exit_codes import UsageParser
from redcloud_check.simulator.cli import configure_parser, run


def main() -> int:
    parser = UsageParser(prog="python -m redcloud_check.simulator",
                         description="Run the Red Cloud CORE API simulator.")
    configure_parser(parser)
    args = parser.parse_args()
    run_log.begin("simulate")
    try:
        return run(args)
    except (KeyboardInterrupt, Exception) as error:  # mapped by type, as the command line does
        return run_log.ended_by("simulate", error)


if __name__ == "__main__":
    raise SystemExit(main())
