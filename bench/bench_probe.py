"""Benchmark: `redcloud-check probe` (read-only) against a simulator in another process.

Each round runs, each in its own process, timed from spawn to exit (interpreter start
included): `redcloud-check probe --prom-file F` (as scheduled: metrics included) and the
anchor, the docs' Python quickstart without its send (2-examples.txt: token, whoami,
numbers; extracted from the docs), both against one `redcloud-check simulate` process.
Rounds alternate; figures are medians (default 7 rounds, after a warm-up).
Targets: at most 1.5x the read-only quickstart's wall time, at most 60 MB peak RSS.

Run: .venv/bin/python bench/bench_probe.py [--runs N]
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

TARGET_RATIO = 1.5
TARGET_RSS_MB = 60.0
CREDENTIALS = {"RC_CLIENT_ID": "rc_test_client_123", "RC_CLIENT_SECRET": "rc_secret_abc123",
               "RC_NUMBER_ID": "num_abc123"}
SUBJECT = "redcloud-check probe"


def main() -> int:
    runs = parse_runs(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        env = user_env(directory)
        with simulate() as sim:
            probe = [console_script("redcloud-check"), "probe", "--prom-file",
                     str(directory / "redcloud_probe.prom")]
            subjects = {SUBJECT: partial(run_once, probe,
                                         {**env, "RC_BASE_URL": sim.url, **CREDENTIALS}, tmp)}
            subjects.update(quickstart_anchors(directory, sim.url, True, env))
            samples = interleaved(subjects, runs)
    print(f"machine: {machine()}")
    print(f"probe (read-only), each command its own process, median of {runs} "
          f"interleaved rounds:")
    walls = {name: statistics.median(s.wall_s for s in runs) for name, runs in samples.items()}
    rss = {name: statistics.median(s.peak_rss_mb for s in runs) for name, runs in samples.items()}
    for name, runs in samples.items():
        print(f"  {name:<40} wall {walls[name]:.3f} s, CPU "
              f"{statistics.median(s.cpu_s for s in runs):.3f} s, peak RSS {rss[name]:.1f} MB")
    ours = walls[SUBJECT]
    ok = rss[SUBJECT] <= TARGET_RSS_MB
    print(f"  probe peak RSS {rss[SUBJECT]:.1f} MB (target <= {TARGET_RSS_MB:.0f} MB: "
          f"{verdict(ok)})")
    for name, wall in walls.items():
        if name == SUBJECT:
            continue
        met = ours <= TARGET_RATIO * wall
        ok = ok and met
        print(f"  probe / {name}: {ratio(ours, wall)} (target <= {TARGET_RATIO}x: "
              f"{verdict(met)})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
