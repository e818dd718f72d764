"""Benchmark: the simulator's send throughput and latency at concurrency 32.

Starts `python -m redcloud_check.simulator --port 0` in its own process (the URL is the end
of its first stdout line), gets a token (client_credentials, the seed's docs values), then
sends N messages (default 3,000, after 300 warm-up sends) with unique Idempotency-Keys from
32 concurrent keep-alive workers in a third process (the bench_listener sender). Prints
sends/s, p50/p99 latency and errors (transport errors and any status other than 202).

Each accepted message starts its webhook lifecycle in the simulator. The seed's webhook URLs
are https://example.com/..., which the simulator's SSRF guard refuses without any network
traffic; the bench counts the simulator's log lines to show that every webhook was refused
and none was attempted (a non-zero "attempted" would mean traffic left the machine).

Run: .venv/bin/python bench/bench_simulator.py [--sends N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import machine, python
from bench_listener import Request, send_bursts

CLIENT_ID, CLIENT_SECRET, NUMBER_ID = "rc_test_client_123", "rc_secret_abc123", "num_abc123"
MAX_SENDS = 50_000
# "webhook message.queued msg_... seq 1 -> https://example.com/... attempt 0: refused: ..."
WEBHOOK_LINE = re.compile(r" webhook \S+ \S+ seq \d+ -> \S+ attempt (\d+): (refused)?")


@dataclass(slots=True)
class WebhookLog:
    """What the simulator's stdout says about webhook attempts (read on a drain thread)."""

    refused: int = 0
    attempted: int = 0
    lines: Counter[str] = field(default_factory=Counter)

    def drain(self, stream: Iterator[str]) -> None:
        for line in stream:  # the pipe must be read, or the simulator blocks on a full pipe
            match = WEBHOOK_LINE.search(line)
            if match is None:
                continue
            if match.group(2):
                self.refused += 1
            else:
                self.attempted += 1


@contextmanager
def simulator(log: WebhookLog) -> Iterator[str]:
    """A simulator in its own process on a free loopback port; yields its base URL."""
    proc = subprocess.Popen([python(), "-m", "redcloud_check.simulator", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, text=True)
    drain: threading.Thread | None = None
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # "Red Cloud simulator listening on http://127.0.0.1:N"
        if "listening on http://127.0.0.1:" not in first:
            raise RuntimeError(f"the simulator did not start: {first!r}")
        drain = threading.Thread(target=log.drain, args=(proc.stdout,), daemon=True)
        drain.start()
        yield first.rsplit(" ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(10)
        if drain is not None:
            drain.join(5)  # the counts are complete once the pipe is closed


def token(base_url: str) -> str:
    response = httpx.post(f"{base_url}/api/auth/token", auth=(CLIENT_ID, CLIENT_SECRET),
                          data={"grant_type": "client_credentials"}, timeout=10,
                          trust_env=False)
    response.raise_for_status()
    return str(response.json()["access_token"])


def sends(access_token: str, count: int, prefix: str) -> list[Request]:
    """`count` valid SMS sends, each with its own Idempotency-Key and externalReference."""
    requests = []
    for index in range(count):
        body = {"sendFrom": NUMBER_ID, "to": ["+15551234567"], "messageType": "SMS",
                "text": "hi", "externalReference": f"{prefix}{index}"}
        requests.append((json.dumps(body, separators=(",", ":")).encode("utf-8"),
                         {"Content-Type": "application/json",
                          "Authorization": f"Bearer {access_token}",
                          "Idempotency-Key": f"{prefix}{index:06d}"}))
    return requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sends", type=int, default=3_000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="the sender's HTTP client (see bench_listener.py)")
    parser.add_argument("--deadline", type=float, default=120.0, metavar="S")
    args = parser.parse_args()
    if not 100 <= args.sends <= MAX_SENDS or not 1 <= args.concurrency <= 256:
        parser.error(f"--sends must be 100..{MAX_SENDS}, --concurrency 1..256")
    log = WebhookLog()
    with simulator(log) as base_url:
        access_token = token(base_url)
        bursts = [sends(access_token, args.warmup, "bench-warm-"),
                  sends(access_token, args.sends, "bench-send-")]
        result = send_bursts(f"{base_url}/api/core/messages/send", bursts, args.concurrency,
                             args.client, args.deadline)[-1]
    statuses = Counter(result.statuses)
    errors = sum(n for status, n in statuses.items() if status != 202)
    latencies = result.latencies_s
    print(f"machine: {machine()}")
    print(f"simulator send, {args.sends} sends (after {args.warmup} warm-up) from "
          f"{args.concurrency} concurrent keep-alive workers ({args.client} client) in a "
          f"separate process")
    print(f"sends/s {args.sends / result.wall_s:.0f}, "
          f"p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"p99 {statistics.quantiles(latencies, n=100)[98] * 1000:.1f} ms, "
          f"errors {errors} (statuses: "
          + ", ".join(f"{s if s >= 0 else 'transport error'}: {n}"
                      for s, n in sorted(statuses.items())) + ")")
    print(f"sender CPU {result.sender_cpu_s / result.wall_s:.0%}; webhooks refused by the "
          f"SSRF guard: {log.refused}, attempted: {log.attempted} (must be 0)")
    return 0 if errors == 0 and log.attempted == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
