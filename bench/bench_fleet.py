"""Benchmark: `redcloud-check probe --targets` of 100 targets against one simulator process.

The subject is the whole command, its own process timed from spawn to exit (interpreter
start, the targets file, 100 read-only probes, stdout, fleet.json and the --prom-file
textfile), against one `redcloud-check simulate` process. Anchors in the same run, against
the same simulator: the same fleet with --concurrency 1 (100 probes one after the other in
one process), one single-target `redcloud-check probe` process, and the docs' read-only
quickstart (2-examples.txt: token, whoami, numbers) as one process, with its time x100 (the
fleet done as 100 quickstart runs). Figures are medians of --runs rounds (default 5, after a
warm-up); the anchors run 3 rounds.
Targets: the fleet under 3 s wall and under 150 MB peak RSS.

With --latency-ms 50 the simulator answers as a remote API would, and the --concurrency 1
anchor shows what the pool buys.

Run: .venv/bin/python bench/bench_fleet.py [--runs N] [--targets N] [--concurrency N]
                                           [--latency-ms MS]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _anchors import quickstart_anchors, user_env
from _measure import Sample, console_script, interleaved, machine, run_once, verdict
from _servers import simulate

TARGET_WALL_S = 3.0
TARGET_RSS_MB = 150.0
SEQUENTIAL = "same fleet, --concurrency 1"
CREDENTIALS = {"RC_CLIENT_ID": "rc_test_client_123", "RC_CLIENT_SECRET": "rc_secret_abc123",
               "RC_NUMBER_ID": "num_abc123"}


def targets_file(path: Path, base_url: str, count: int) -> Path:
    """`count` targets on one simulator, the credentials named by variable, never written."""
    path.write_text("".join(
        f'[[target]]\nname = "t{i:03d}"\nbase_url = "{base_url}"\nnumber_id = "num_abc123"\n'
        'client_id_env = "FLEET_CLIENT_ID"\nclient_secret_env = "FLEET_CLIENT_SECRET"\n\n'
        for i in range(count)), encoding="utf-8")
    return path


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, choices=range(1, 51), metavar="N")
    parser.add_argument("--targets", type=int, default=100, metavar="N")
    parser.add_argument("--concurrency", type=int, default=None, metavar="N")
    parser.add_argument("--latency-ms", type=int, default=0, metavar="MS",
                        help="the simulator adds MS to every response (a remote API's round "
                             "trip): shows what --concurrency buys")
    return parser.parse_args()


def _median(samples: list[Sample]) -> tuple[float, float, float]:
    return (statistics.median(s.wall_s for s in samples),
            statistics.median(s.peak_rss_mb for s in samples),
            statistics.median(s.cpu_s for s in samples))


def main() -> int:
    args = _args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        env = user_env(directory)
        extra = ("--latency-ms", str(args.latency_ms)) if args.latency_ms else ()
        with simulate(*extra) as sim:
            path = targets_file(directory / "targets.toml", sim.url, args.targets)
            fleet_env = {**env, "FLEET_CLIENT_ID": CREDENTIALS["RC_CLIENT_ID"],
                         "FLEET_CLIENT_SECRET": CREDENTIALS["RC_CLIENT_SECRET"]}
            command = [console_script("redcloud-check"), "probe", "--targets", str(path),
                       "--prom-file", str(directory / "fleet.prom")]
            subject = "fleet probe (default concurrency)"
            if args.concurrency is not None:
                command += ["--concurrency", str(args.concurrency)]
                subject = f"fleet probe (--concurrency {args.concurrency})"
            fleet = interleaved({subject: partial(run_once, command, fleet_env, tmp)}, args.runs)
            anchors = {
                SEQUENTIAL: partial(
                    run_once, [*command, "--concurrency", "1"], fleet_env, tmp),
                "one single-target probe": partial(
                    run_once, [console_script("redcloud-check"), "probe"],
                    {**env, "RC_BASE_URL": sim.url, **CREDENTIALS}, tmp),
                **quickstart_anchors(directory, sim.url, True, env)}
            anchored = interleaved(anchors, 3)
            _, sim_peak = sim.rss_mb()
    print(f"machine: {machine()}")
    print(f"{args.targets} targets on one simulator process (its peak RSS {sim_peak:.1f} MB, "
          f"{args.latency_ms} ms added per response); each command its own process:")
    wall, rss, cpu = _median(fleet[subject])
    print(f"  {subject:<40} wall {wall:.3f} s, CPU {cpu:.3f} s, peak RSS {rss:.1f} MB "
          f"(median of {args.runs})")
    for name, samples in anchored.items():
        a_wall, a_rss, a_cpu = _median(samples)
        extra = ""
        if "quickstart" in name or "single" in name:
            extra = f"; x{args.targets} = {a_wall * args.targets:.1f} s"
        print(f"  {name:<40} wall {a_wall:.3f} s, CPU {a_cpu:.3f} s, peak RSS {a_rss:.1f} MB"
              f"{extra}")
    if args.latency_ms:
        print(f"  fleet / same fleet sequential: {wall / _median(anchored[SEQUENTIAL])[0]:.2f}x "
              "(the targets are for --latency-ms 0)")
        return 0
    ok_wall, ok_rss = wall < TARGET_WALL_S, rss < TARGET_RSS_MB
    print(f"  fleet wall {wall:.2f} s (target < {TARGET_WALL_S:.0f} s: {verdict(ok_wall)}); "
          f"peak RSS {rss:.1f} MB (target < {TARGET_RSS_MB:.0f} MB: {verdict(ok_rss)})")
    return 0 if ok_wall and ok_rss else 1


if __name__ == "__main__":
    raise SystemExit(main())
