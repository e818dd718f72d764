"""Benchmark: the full conformance run, `redcloud-check run` (embedded simulator), whole.

Each round runs, each in its own process, timed from spawn to exit (interpreter start
included): `redcloud-check run` (the console script, as a user runs it, reports written)
and the anchor, the docs' Python quickstart (2-examples.txt: token, whoami, numbers, send;
extracted from the docs) against `redcloud-check simulate` in another process. Rounds
alternate subject and anchor; the figures are medians (default 7 rounds, after a warm-up).
Target: the run takes at most 4x the quickstart.

Run: .venv/bin/python bench/bench_suite.py [--runs N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _anchors import quickstart_anchors, user_env
from _measure import console_script, interleaved, machine, parse_runs, ratio, run_once, verdict
from _servers import simulate

TARGET_RATIO = 4.0


def main() -> int:
    runs = parse_runs(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        env = user_env(directory)
        with simulate() as sim:
            subjects = {"redcloud-check run": partial(run_once,
                                                      [console_script("redcloud-check"), "run"],
                                                      env, tmp)}
            subjects.update(quickstart_anchors(directory, sim.url, False, env))
            samples = interleaved(subjects, runs)
    print(f"machine: {machine()}")
    print(f"full run, each command its own process, median of {runs} interleaved rounds:")
    walls = {name: statistics.median(s.wall_s for s in runs) for name, runs in samples.items()}
    for name, runs in samples.items():
        print(f"  {name:<32} wall {walls[name]:.3f} s, CPU "
              f"{statistics.median(s.cpu_s for s in runs):.3f} s, peak RSS "
              f"{statistics.median(s.peak_rss_mb for s in runs):.1f} MB")
    ours = walls["redcloud-check run"]
    ok = True
    for name, wall in walls.items():
        if name == "redcloud-check run":
            continue
        met = ours <= TARGET_RATIO * wall
        ok = ok and met
        print(f"  run / {name}: {ratio(ours, wall)} (target <= {TARGET_RATIO:.0f}x: "
              f"{verdict(met)})")
    print("  runs: " + ", ".join(f"{s.wall_s:.3f}" for s in samples["redcloud-check run"]))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
