"""Benchmark: the full conformance run against the embedded simulator.

Median wall time and peak RSS of 5 runs of `pytest` at the repo root, pytest start-up
included (target: <= 1.2 s wall). Run: .venv/bin/python bench/bench_suite.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import machine, median_of, python, run_once

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
    samples = []
    with tempfile.TemporaryDirectory() as reports:
        env["RC_REPORTS_DIR"] = reports
        run_once([python(), "-m", "pytest", "-q"], env=env, cwd=str(REPO))  # warm the caches
        for _ in range(args.runs):
            sample = run_once([python(), "-m", "pytest", "-q"], env=env, cwd=str(REPO))
            if sample.returncode != 0:
                print(f"run failed with exit code {sample.returncode}", file=sys.stderr)
                return 1
            samples.append(sample)
    wall, rss = median_of(samples)
    print(f"machine: {machine()}")
    print(f"full conformance run vs embedded simulator, median of {args.runs}: "
          f"wall {wall:.3f} s, peak RSS {rss:.1f} MB (target <= 1.2 s)")
    print("runs: " + ", ".join(f"{s.wall_s:.3f}s/{s.peak_rss_mb:.0f}MB" for s in samples))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
