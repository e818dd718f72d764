"""``python -m redcloud_check.simulator``: the same as ``redcloud-check simulate``."""

from __future__ import annotations

import argparse

from redcloud_check.simulator.cli import configure_parser, run


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m redcloud_check.simulator",
                                     description="Run the Red Cloud CORE API simulator.")
    configure_parser(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
