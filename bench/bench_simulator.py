"""Benchmark: `redcloud-check simulate` vs Stoplight Prism (the anchor), send at concurrency 32.

Both serve on loopback, each in its own process: `redcloud-check simulate --port 0` as a
user runs it (request log on its stdout, drained), and `prism mock schemas/openapi.yaml`
(npm @stoplight/prism-cli, installed in bench/prism on first use with `npm ci`). The load
generator is wrk (-t2 -c32), a separate process and not our code; its Lua script sends the
quickstart's SMS with a fresh Idempotency-Key per request. After a warm-up, rounds
alternate (ours, Prism) `--rounds` times (default 3, `--seconds` 10 each); the figures are
the medians of the rounds: sends/s and p99 latency, with ours/Prism.

Then a stateful check on each (Prism is a static mock, so it fails it): a bad token is 401,
the same key and payload replay the same messageId, the same key with another payload is
409. Targets: ours >= Prism's sends/s, p99 <= Prism's, 0 errors, stateful.

Run: .venv/bin/python bench/bench_simulator.py [--rounds N] [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import machine, ratio, verdict
from _servers import PRISM_DIR, node_ready, prism, simulate
from _wrk import WrkResult, send_load, token

SEND = "/api/core/messages/send"
BODY = {"sendFrom": "num_abc123", "to": ["+15551234567"], "messageType": "SMS",
        "text": "Hello from Red Cloud", "externalReference": "order_789"}


def _post(url: str, access_token: str, key: str, body: dict[str, object]) -> tuple[int, bytes]:
    request = urllib.request.Request(url + SEND, method="POST", data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {access_token}",
                                              "Content-Type": "application/json",
                                              "Idempotency-Key": key})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def stateful(url: str, access_token: str) -> dict[str, bool]:
    """What a stateful API does and a static mock cannot."""
    first = _post(url, access_token, "bench-state-1", BODY)
    again = _post(url, access_token, "bench-state-1", BODY)
    other = _post(url, access_token, "bench-state-1", {**BODY, "text": "another"})
    bad = _post(url, "rc_tok_not_issued_by_this_server", "bench-state-2", BODY)
    return {"bad token refused": bad[0] == 401,
            "replay returns the same message": first[0] == 202 and again == first
            and json.loads(first[1])["results"][0]["messageId"] != "string",
            "reused key with another payload is 409": other[0] == 409}


def describe(result: WrkResult) -> str:
    return (f"{result.rps:7.0f} sends/s, p50 {result.p50_ms:6.1f} ms, p99 {result.p99_ms:6.1f} "
            f"ms, errors {result.errors}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0, metavar="S")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 10 or not 1 <= args.seconds <= 60:
        parser.error("--rounds must be 1..10, --seconds 1..60")
    why_not = node_ready(PRISM_DIR, "@stoplight/prism-cli")
    if why_not is not None:
        raise SystemExit(f"Prism cannot run: {why_not}")
    results: dict[str, list[WrkResult]] = {"ours": [], "Prism": []}
    with simulate() as ours, prism() as anchor:
        servers = {"ours": ours, "Prism": anchor}
        tokens = {name: token(s.url) for name, s in servers.items()}
        for name, served in servers.items():
            send_load(served.url + SEND, tokens[name], seconds=args.warmup, prefix="warm")
        for index in range(args.rounds):
            for name, served in servers.items():
                results[name].append(send_load(served.url + SEND, tokens[name],
                                               seconds=args.seconds, prefix=f"r{index}"))
        states = {name: stateful(s.url, tokens[name]) for name, s in servers.items()}
        rss = {name: s.rss_mb()[1] for name, s in servers.items()}
    print(f"machine: {machine()}")
    print(f"send at concurrency 32: wrk -t2 -c32, fresh Idempotency-Key per request, "
          f"{args.rounds} alternating rounds of {args.seconds:g} s after {args.warmup:g} s "
          f"warm-up each")
    for name, rounds in results.items():
        for index, result in enumerate(rounds):
            print(f"  {name:<6} round {index + 1}: {describe(result)}")
    rps = {name: statistics.median(r.rps for r in rounds) for name, rounds in results.items()}
    p99 = {name: statistics.median(r.p99_ms for r in rounds) for name, rounds in results.items()}
    errors = sum(r.errors for r in results["ours"])
    for name in results:
        print(f"  {name:<6} median: {rps[name]:.0f} sends/s, p99 {p99[name]:.1f} ms, "
              f"peak RSS {rss[name]:.0f} MB; stateful: "
              + ", ".join(f"{check} {'yes' if ok else 'NO'}"
                          for check, ok in states[name].items()))
    fast, tail = rps["ours"] >= rps["Prism"], p99["ours"] <= p99["Prism"]
    print(f"  ours/Prism: sends/s {ratio(rps['ours'], rps['Prism'])} (target >= 1.00x: "
          f"{verdict(fast)}), p99 {ratio(p99['ours'], p99['Prism'])} (target <= 1.00x: "
          f"{verdict(tail)}); ours: {errors} errors, "
          f"{'stateful' if all(states['ours'].values()) else 'NOT STATEFUL'}")
    return 0 if fast and tail and errors == 0 and all(states["ours"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
