"""Benchmark: `redcloud-check simulate` under sustained load, as integrators point load tests
at it for minutes.

One `redcloud-check simulate --port 0` process (as a user runs it, request log on stdout,
drained); wrk -t2 -c32 (a separate process, not our code) sends the quickstart's SMS with a
fresh Idempotency-Key per request for `--rounds` rounds (default 3) of `--seconds` (default
20) back to back. Printed per round: sends/s, p50/p99 latency, errors, the simulator's RSS
after the round and its CPU time per send (flat across rounds: nothing in the simulator grows
with time, so a p99 that moves while it stays flat is the machine's load). The anchor is the
first round: the last round's p99 must stay within 1.5x of the first's, and memory must stop
growing (the last round adds at most 10% RSS). After the rounds the simulator must still be
stateful (see bench_simulator.stateful).

Run: .venv/bin/python bench/bench_sustained.py [--rounds N] [--seconds S]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import machine, ratio, verdict
from _servers import simulate
from _wrk import send_load, token
from bench_simulator import SEND, describe, stateful

TARGET_P99_RATIO = 1.5
TARGET_RSS_GROWTH = 1.10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    if not 2 <= args.rounds <= 10 or not 1 <= args.seconds <= 120:
        parser.error("--rounds must be 2..10, --seconds 1..120")
    with simulate() as sim:
        access_token = token(sim.url)
        rss = [sim.rss_mb()[0]]
        results, cpu_ms = [], []
        for index in range(args.rounds):
            cpu = sim.cpu_s()
            results.append(send_load(sim.url + SEND, access_token, seconds=args.seconds,
                                     prefix=f"s{index}"))
            cpu_ms.append((sim.cpu_s() - cpu) * 1000 / max(1, results[-1].requests))
            rss.append(sim.rss_mb()[0])
        state = stateful(sim.url, access_token)
    print(f"machine: {machine()}")
    print(f"simulator under sustained load: wrk -t2 -c32, fresh Idempotency-Key per request, "
          f"{args.rounds} rounds of {args.seconds:g} s back to back; RSS at start "
          f"{rss[0]:.0f} MB")
    for index, result in enumerate(results):
        print(f"  round {index + 1}: {describe(result)}, RSS after {rss[index + 1]:.0f} MB, "
              f"simulator CPU {cpu_ms[index]:.2f} ms per send")
    first, last = results[0].p99_ms, results[-1].p99_ms
    p99_ok = last <= TARGET_P99_RATIO * first
    growth = rss[-1] / rss[-2] if rss[-2] else float("inf")
    rss_ok = growth <= TARGET_RSS_GROWTH
    errors = sum(r.errors for r in results)
    print(f"  p99 last/first round: {last:.1f} / {first:.1f} ms = {ratio(last, first)} "
          f"(target <= {TARGET_P99_RATIO}x: {verdict(p99_ok)})")
    print(f"  simulator CPU per send last/first round: {cpu_ms[-1]:.2f} / {cpu_ms[0]:.2f} ms = "
          f"{ratio(cpu_ms[-1], cpu_ms[0])} (flat: nothing in the simulator grows with time)")
    print(f"  RSS last round: {rss[-2]:.0f} -> {rss[-1]:.0f} MB = {growth:.2f}x (target <= "
          f"{TARGET_RSS_GROWTH:.2f}x, bounded: {verdict(rss_ok)}); errors {errors}; after the "
          f"load: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in state.items()))
    return 0 if p99_ok and rss_ok and errors == 0 and all(state.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
