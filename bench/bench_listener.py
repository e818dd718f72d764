"""Benchmark: `redcloud-check listen` vs the docs' express listener, in one run.

A burst of signed webhook events (default 10,000: 10% forged, 2% exact duplicate deliveries,
the rest valid and unique, each a webhook_event body like 1-quickstart.txt Section 9's), after
a 1,000-event warm-up on the same connections, from 32 threads on keep-alive connections of
bench/webhook_sender.py: a plain stdlib sender run by its own interpreter (`python -I -S`),
so neither our code nor our dependencies are in it. The listeners, each its own process and
started afresh for each round: (a) `redcloud-check listen --port 0 --json`, as a user runs
it (its per-event lines drained from stdout and counted), (b) bench/express_listener, the
docs' express example with counters (GET /stats), the anchor. Rounds alternate (ours,
express), `--rounds` times (default 3). Printed per round and listener: events sent, lost
(valid unique events not recorded as accepted), duplicates (counted twice), wrongly accepted
(forged events answered 2xx or recorded), transport errors, events/s, p50/p99 acknowledgement
latency, the sender's CPU share, and CPU per event of the listener and of the sender (the
two share the machine's cores: a listener whose answers cost the sender more CPU leaves
itself less); then the medians and ours/express.
Target: 0 lost, 0 wrongly accepted, >= express's events/s and <= its p99.

Runs `npm ci` in bench/express_listener when node_modules is missing. Loopback only.

Run: .venv/bin/python bench/bench_listener.py [--events N] [--rounds N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import random
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import machine, ratio, verdict
from _servers import EXPRESS_DIR, express, listen, node_ready

from redcloud_check.core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, now_ms, sign

SECRET = "rc_secret_abc123"  # the docs' example webhook secret, as the simulator's seed uses
MAX_EVENTS = 100_000
STAGES = (("message.queued", "queued"), ("message.sent", "sent"),
          ("message.delivery", "delivered"))

Request = tuple[bytes, dict[str, str]]  # body, headers


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # "valid", "duplicate" (an exact re-delivery of a valid one) or "forged"
    key: str  # "messageId|sequence"
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class BurstResult:
    statuses: list[int]  # per event, in plan order; -1 = transport error
    latencies_s: list[float]
    wall_s: float
    sender_cpu_s: float


@dataclass(frozen=True, slots=True)
class Outcome:
    name: str
    sent: int
    lost: int
    duplicates: int
    wrongly_accepted: int
    errors: int
    events_per_s: float
    p50_ms: float
    p99_ms: float
    sender_cpu_share: float
    listener_us: float  # the listener process's CPU per event (its warm-up included)
    sender_us: float  # the sender's CPU per event of the burst


# -- the events --------------------------------------------------------------------------------

def _body(message_id: str, sequence: int, occurred_at: int) -> dict[str, Any]:
    event_type, status = STAGES[(sequence - 1) % len(STAGES)]
    return {"eventType": event_type, "direction": "outbound", "occurredAt": occurred_at,
            "apiClientId": "rc_test_client_123", "messageId": message_id, "sequence": sequence,
            "data": {"messageId": message_id, "externalReference": f"order_{message_id[-6:]}",
                     "sendFrom": "+15551234567", "to": "+15557654321", "status": status,
                     "error": None}}


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def _signed(kind: str, key: str, raw: bytes, timestamp: str, signature: str) -> Event:
    return Event(kind, key, raw, {"Content-Type": "application/json",
                                  TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature})


def _forged(index: int, prefix: str, timestamp: str) -> Event:
    """Three ways to be wrong: another secret, a body changed after signing, body-only HMAC."""
    message_id, sequence = f"{prefix}forged_{index:06d}", 1 + index % 3
    key = f"{message_id}|{sequence}"
    raw = _encode(_body(message_id, sequence, int(timestamp)))
    if index % 3 == 0:
        return _signed("forged", key, raw, timestamp, sign("rc_whsec_other789", timestamp, raw))
    if index % 3 == 1:
        tampered = raw.replace(b'"status":"', b'"status":"x')
        return _signed("forged", key, tampered, timestamp, sign(SECRET, timestamp, raw))
    body_only = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return _signed("forged", key, raw, timestamp, body_only)


def build_plan(events: int, forged_share: float, duplicate_share: float, prefix: str,
               seed: int) -> list[Event]:
    """`events` events in a shuffled order; keys start with `prefix` so bursts never collide."""
    rng = random.Random(seed)
    forged, duplicates = round(events * forged_share), round(events * duplicate_share)
    valid_count = events - forged - duplicates
    timestamp = now_ms()
    valid = []
    for index in range(valid_count):
        message_id = f"{prefix}msg_{index // len(STAGES):06d}"
        sequence = 1 + index % len(STAGES)
        raw = _encode(_body(message_id, sequence, int(timestamp)))
        valid.append(_signed("valid", f"{message_id}|{sequence}", raw, timestamp,
                             sign(SECRET, timestamp, raw)))
    repeats = [Event("duplicate", e.key, e.body, e.headers)
               for e in rng.sample(valid, min(duplicates, len(valid)))]
    plan = valid + repeats + [_forged(i, prefix, timestamp) for i in range(forged)]
    rng.shuffle(plan)
    return plan


# -- the sender: bench/webhook_sender.py in its own stdlib-only interpreter -------------------

SENDER = Path(__file__).resolve().parent / "webhook_sender.py"


def send(url: str, bursts: list[list[Event]], concurrency: int,
         deadline_s: float) -> list[BurstResult]:
    """POST each burst's events to `url` from the stdlib sender; bounded in time."""
    plan = {"url": url, "concurrency": concurrency,
            "bursts": [[{"body": e.body.decode("utf-8"), "headers": e.headers} for e in burst]
                       for burst in bursts]}
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as handle:
        json.dump(plan, handle)
        handle.flush()
        done = subprocess.run([sys.executable, "-I", "-S", str(SENDER), handle.name],
                              capture_output=True, text=True, timeout=deadline_s, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the sender failed: {done.stderr.strip()[-500:]}")
    return [BurstResult(b["statuses"], b["latencies_s"], b["wall_s"], b["cpu_s"])
            for b in json.loads(done.stdout)["bursts"]]


# -- the listeners -----------------------------------------------------------------------------

def run_ours(warmup: list[Event], plan: list[Event], concurrency: int,
             deadline_s: float) -> tuple[BurstResult, list[str], float]:
    with listen(SECRET) as served:
        before = served.cpu_s()
        result = send(served.url, [warmup, plan], concurrency, deadline_s)[-1]
        cpu = served.cpu_s() - before
    firsts = []
    for line in served.lines:  # complete: the process has exited and its pipe is drained
        record = json.loads(line)
        if (record.get("type") == "delivery" and record["verified"]
                and not record["duplicate"] and record["messageId"] is not None):
            firsts.append(f"{record['messageId']}|{record['sequence']}")
    return result, firsts, cpu / (len(warmup) + len(plan))


def run_express(warmup: list[Event], plan: list[Event], concurrency: int,
                deadline_s: float) -> tuple[BurstResult, list[str], float]:
    with express(SECRET) as served:
        before = served.cpu_s()
        result = send(served.url, [warmup, plan], concurrency, deadline_s)[-1]
        cpu = served.cpu_s() - before
        stats_url = served.url.rsplit("/webhooks/", 1)[0] + "/stats"
        with urllib.request.urlopen(stats_url, timeout=10) as response:
            stats = json.loads(response.read())
    return result, list(stats["firstKeys"]), cpu / (len(warmup) + len(plan))


# -- the figures -------------------------------------------------------------------------------

def judge(name: str, plan: list[Event], result: BurstResult, first_keys: list[str],
          listener_cpu_s: float = 0.0) -> Outcome:
    """`listener_cpu_s`: the listener's CPU seconds per event."""
    keys = {e.key for e in plan}
    firsts = [k for k in first_keys if k in keys]  # warm-up keys have another prefix
    recorded = set(firsts)
    valid = {e.key for e in plan if e.kind == "valid"}
    wrongly = sum(1 for e, status in zip(plan, result.statuses, strict=True)
                  if e.kind == "forged" and (200 <= status < 300 or e.key in recorded))
    quantiles = statistics.quantiles(result.latencies_s, n=100)
    return Outcome(name=name, sent=len(plan), lost=len(valid - recorded),
                   duplicates=len(firsts) - len(recorded), wrongly_accepted=wrongly,
                   errors=sum(1 for s in result.statuses if s < 0),
                   events_per_s=len(plan) / result.wall_s,
                   p50_ms=statistics.median(result.latencies_s) * 1000,
                   p99_ms=quantiles[98] * 1000,
                   sender_cpu_share=result.sender_cpu_s / result.wall_s,
                   listener_us=listener_cpu_s * 1e6,
                   sender_us=result.sender_cpu_s / len(plan) * 1e6)


def print_table(outcomes: Sequence[Outcome]) -> None:
    print(f"{'listener':<9} {'sent':>6} {'lost':>5} {'dups':>5} {'wrongly acc.':>12} "
          f"{'errors':>6} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'sender CPU':>10} "
          f"{'CPU us/event: listener':>22} {'sender':>6}")
    for o in outcomes:
        print(f"{o.name:<9} {o.sent:>6} {o.lost:>5} {o.duplicates:>5} {o.wrongly_accepted:>12} "
              f"{o.errors:>6} {o.events_per_s:>9.0f} {o.p50_ms:>7.1f} {o.p99_ms:>7.1f} "
              f"{o.sender_cpu_share:>10.0%} {o.listener_us:>22.0f} {o.sender_us:>6.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=1_000, help="warm-up events per listener")
    parser.add_argument("--forged", type=float, default=0.10, help="share of forged events")
    parser.add_argument("--duplicates", type=float, default=0.02,
                        help="share of exact duplicate deliveries")
    parser.add_argument("--deadline", type=float, default=120.0, metavar="S",
                        help="give up on a listener's bursts after S seconds")
    args = parser.parse_args()
    if (not 100 <= args.events <= MAX_EVENTS or not 1 <= args.concurrency <= 256
            or not 1 <= args.rounds <= 10 or not 10 <= args.warmup <= MAX_EVENTS):
        parser.error(f"--events must be 100..{MAX_EVENTS}, --concurrency 1..256, "
                     f"--rounds 1..10, --warmup 10..{MAX_EVENTS}")
    why_not = node_ready(EXPRESS_DIR, "express")
    if why_not is not None:
        raise SystemExit(f"the express listener cannot run: {why_not}")
    plan = build_plan(args.events, args.forged, args.duplicates, "b_", seed=1)
    warmup = build_plan(args.warmup, args.forged, args.duplicates, "w_", seed=2)
    counts = {kind: sum(1 for e in plan if e.kind == kind)
              for kind in ("valid", "duplicate", "forged")}
    outcomes: dict[str, list[Outcome]] = {"ours": [], "express": []}
    runners = {"ours": run_ours, "express": run_express}
    for _ in range(args.rounds):
        for name, runner in runners.items():
            result, firsts, cpu = runner(warmup, plan, args.concurrency, args.deadline)
            outcomes[name].append(judge(name, plan, result, firsts, cpu))
    print(f"machine: {machine()}")
    print(f"burst: {len(plan)} events ({counts['valid']} valid unique, {counts['duplicate']} "
          f"exact duplicates, {counts['forged']} forged) from {args.concurrency} threads on "
          f"keep-alive connections (stdlib sender, its own interpreter), after {len(warmup)} "
          f"warm-up events; {args.rounds} alternating rounds, each listener a fresh process")
    print_table([o for pair in zip(*outcomes.values(), strict=True) for o in pair])
    rate = {n: statistics.median(o.events_per_s for o in os_) for n, os_ in outcomes.items()}
    p99 = {n: statistics.median(o.p99_ms for o in os_) for n, os_ in outcomes.items()}
    for name, os_ in outcomes.items():
        print(f"{name} median: {rate[name]:.0f} events/s, p99 {p99[name]:.1f} ms, CPU per "
              f"event: listener {statistics.median(o.listener_us for o in os_):.0f} us, "
              f"sender {statistics.median(o.sender_us for o in os_):.0f} us")
    fast, tail = rate["ours"] >= rate["express"], p99["ours"] <= p99["express"]
    print(f"ours/express: events/s {ratio(rate['ours'], rate['express'])} (target >= 1.00x: "
          f"{verdict(fast)}), p99 {ratio(p99['ours'], p99['express'])} (target <= 1.00x: "
          f"{verdict(tail)})")
    correct = all(o.lost == 0 and o.wrongly_accepted == 0 and o.duplicates == 0
                  and o.errors == 0 for o in outcomes["ours"])
    summary = "0 lost, 0 duplicates, 0 wrongly accepted, 0 errors" if correct else "NOT CORRECT"
    print(f"ours, every round: {summary}")
    return 0 if correct and fast and tail else 1


if __name__ == "__main__":
    raise SystemExit(main())
