"""Benchmark: `redcloud-check probe` (read-only) against a simulator in another process.

The bench starts `python -m redcloud_check.simulator --port 0` once, then runs the probe
(with --prom-file, as scheduled) as a subprocess N times (default 5) and prints the median
wall time (time.perf_counter around the child) and the median of each child's own peak RSS
(os.wait4). Targets on the 2-core reference machine: < 0.5 s wall, < 60 MB peak RSS.
`--embedded` also measures the no-RC_BASE_URL path (simulator inside the probe process).

Run: .venv/bin/python bench/bench_probe.py [--runs N] [--embedded]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import Sample, machine, median_of, python, run_once

TARGET_WALL_S = 0.5
TARGET_RSS_MB = 60.0
CREDENTIALS = {"RC_CLIENT_ID": "rc_test_client_123", "RC_CLIENT_SECRET": "rc_secret_abc123",
               "RC_NUMBER_ID": "num_abc123"}


@contextmanager
def simulator_process() -> Iterator[str]:
    """A simulator in its own process on a free loopback port; yields its base URL."""
    proc = subprocess.Popen([python(), "-m", "redcloud_check.simulator", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # "Red Cloud simulator listening on http://..."
        if "listening on" not in first:
            raise RuntimeError(f"the simulator did not start: {first!r}")
        yield first.rsplit(" ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(10)


def measure(env: dict[str, str], runs: int, cwd: str) -> list[Sample]:
    argv = [python(), "-m", "redcloud_check.cli", "probe", "--prom-file",
            str(Path(cwd) / "redcloud_probe.prom")]  # as scheduled: metrics included
    run_once(argv, env=env, cwd=cwd)  # warm the page cache and the .pyc files
    samples = [run_once(argv, env=env, cwd=cwd) for _ in range(runs)]
    failed = [s.returncode for s in samples if s.returncode != 0]
    if failed:
        raise SystemExit(f"the probe did not pass (exit codes {failed})")
    return samples


def report(title: str, samples: list[Sample]) -> bool:
    wall, rss = median_of(samples)
    ok = wall < TARGET_WALL_S and rss < TARGET_RSS_MB
    print(f"{title}: median wall {wall:.3f} s (target < {TARGET_WALL_S} s), "
          f"median peak RSS {rss:.1f} MB (target < {TARGET_RSS_MB:.0f} MB) "
          f"[{'within target' if ok else 'OVER TARGET'}]")
    print("  runs: " + ", ".join(f"{s.wall_s:.3f} s / {s.peak_rss_mb:.1f} MB" for s in samples))
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--embedded", action="store_true",
                        help="also measure the probe against its embedded simulator")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RC_", "NGROK_"))}
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        env["RC_REPORTS_DIR"] = tmp
        with simulator_process() as base_url:
            remote = measure({**env, "RC_BASE_URL": base_url, **CREDENTIALS}, args.runs, tmp)
        ok = report(f"probe vs simulator process ({args.runs} runs)", remote)
        if args.embedded:
            report(f"probe vs embedded simulator ({args.runs} runs, informational)",
                   measure(env, args.runs, tmp))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
