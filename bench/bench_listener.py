"""Benchmark: our signed-webhook listener vs the docs' minimal express listener, in one run.

A burst of signed webhook events (default 10,000: 10% forged, 2% exact duplicate deliveries,
the rest valid and unique, each a webhook_event body like 1-quickstart.txt Section 9's) from
32 concurrent keep-alive senders (httpx.AsyncClient) in a separate process, against
(a) `WebhookListener` on 127.0.0.1:0 in this process's background thread and
(b) bench/express_listener/server.js, the docs' express example with counters (GET /stats).
Both get the same warm-up burst first, on the same connections. Printed per listener: events
sent, lost (valid unique events not recorded as accepted), duplicates (counted twice),
wrongly accepted (forged events answered 2xx or recorded), transport errors, events/s,
p50/p99 acknowledgement latency, and the sender's CPU share (near 100% = sender-bound);
then ours/express. Target: 0 lost, 0 wrongly accepted, >= express's events/s and <= its p99.

Runs `npm ci` in bench/express_listener when node_modules is missing; without node/npm it
measures ours alone. Traffic goes to 127.0.0.1 only. `--profile N` adds a cProfile of the
listener thread (its overhead slows the run; the figures of that run are not comparable).

Run: .venv/bin/python bench/bench_listener.py [--events N] [--concurrency C] [--profile N]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import hmac
import io
import json
import multiprocessing
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import Connection as Connection_
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import machine

from redcloud_check.core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, now_ms, sign
from redcloud_check.webhooks.listener import WebhookListener

SECRET = "rc_secret_abc123"  # the docs' example webhook secret, as the simulator's seed uses
EXPRESS_DIR = Path(__file__).resolve().parent / "express_listener"
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


# -- the sender (its own process: no GIL shared with the listener) -------------------------------
#
# "raw" (the default) is a minimal HTTP/1.1 keep-alive client on asyncio streams: requests are
# serialised before the clock starts and a response is read by its Content-Length, so the
# sender costs ~50 us of CPU per event. httpx.AsyncClient and requests sessions cost ~1 ms
# per event: on a 2-core machine they top out near 800-1,100 events/s at ~80% sender CPU,
# and the bench would measure the sender, not the listener. "--client httpx" keeps the
# httpx cross-check.

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def _wire(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    parts = urlsplit(url)
    lines = [f"POST {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}",
             *(f"{name}: {value}" for name, value in headers.items()),
             f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


async def _exchange(connection: Connection, data: bytes) -> tuple[int, bool]:
    """Send one request; (status, server closes) once the whole response is read."""
    reader, writer = connection
    writer.write(data)
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, rest = head.partition(b"\r\n")
    status, length, closes = int(status_line.split(b" ", 2)[1]), 0, False
    for line in rest.split(b"\r\n"):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            raise ValueError("chunked responses are not supported")
        elif name == b"connection":
            closes = value.strip().lower() == b"close"
    await reader.readexactly(length)
    return status, closes


class _Tally:
    """One burst's per-event statuses and latencies; the workers share one iterator of events,
    so each event is sent exactly once."""

    def __init__(self, count: int) -> None:
        self.statuses = [0] * count  # -1 = transport error
        self.latencies = [0.0] * count
        self.pending = iter(range(count))

    async def timed(self, workers: list[Coroutine[Any, Any, None]]) -> BurstResult:
        cpu, started = time.process_time(), time.perf_counter()
        await asyncio.gather(*workers)
        return BurstResult(self.statuses, self.latencies, time.perf_counter() - started,
                           time.process_time() - cpu)


async def _raw_worker(tally: _Tally, wires: Sequence[bytes], connections: list[Connection | None],
                      slot: int, address: tuple[str, int]) -> None:
    for index in tally.pending:
        started = time.perf_counter()
        try:
            connection = connections[slot]
            if connection is None:
                connection = connections[slot] = await asyncio.open_connection(*address)
            tally.statuses[index], closes = await _exchange(connection, wires[index])
        except (OSError, ValueError, asyncio.IncompleteReadError):
            tally.statuses[index], closes = -1, True
        tally.latencies[index] = time.perf_counter() - started
        stale = connections[slot]
        if closes and stale is not None:
            stale[1].close()
            connections[slot] = None


async def _raw_bursts(url: str, bursts: Sequence[Sequence[Request]],
                      concurrency: int) -> list[BurstResult]:
    parts = urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    connections: list[Connection | None] = [None] * concurrency  # kept across bursts
    results = []
    for burst in bursts:
        wires = [_wire(url, body, headers) for body, headers in burst]  # before the clock
        tally = _Tally(len(wires))
        results.append(await tally.timed([_raw_worker(tally, wires, connections, slot, address)
                                          for slot in range(concurrency)]))
    for connection in connections:
        if connection is not None:
            connection[1].close()
    return results


async def _httpx_worker(tally: _Tally, client: httpx.AsyncClient, url: str,
                        burst: Sequence[Request]) -> None:
    for index in tally.pending:
        started = time.perf_counter()
        try:
            body, headers = burst[index]
            response = await client.post(url, content=body, headers=headers)
            tally.statuses[index] = response.status_code
        except httpx.HTTPError:
            tally.statuses[index] = -1
        tally.latencies[index] = time.perf_counter() - started


async def _httpx_bursts(url: str, bursts: Sequence[Sequence[Request]],
                        concurrency: int) -> list[BurstResult]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    results = []
    async with httpx.AsyncClient(limits=limits, timeout=10.0, trust_env=False) as client:
        for burst in bursts:
            tally = _Tally(len(burst))
            results.append(await tally.timed([_httpx_worker(tally, client, url, burst)
                                              for _ in range(concurrency)]))
    return results


def _sender_main(url: str, bursts: list[list[Request]], concurrency: int, client: str,
                 conn: Connection_) -> None:
    run = _raw_bursts if client == "raw" else _httpx_bursts
    conn.send(asyncio.run(run(url, bursts, concurrency)))
    conn.close()


def send_bursts(url: str, bursts: list[list[Request]], concurrency: int, client: str,
                deadline_s: float) -> list[BurstResult]:
    """POST each burst's (body, headers) to `url` from a spawned process; bounded in time."""
    context = multiprocessing.get_context("spawn")  # no fork of a process with a server thread
    receiver, sender = context.Pipe(duplex=False)
    proc = context.Process(target=_sender_main, daemon=True,
                           args=(url, bursts, concurrency, client, sender))
    proc.start()
    sender.close()
    try:
        if not receiver.poll(deadline_s):
            raise RuntimeError(f"the sender did not finish within {deadline_s:.0f} s")
        results: list[BurstResult] = receiver.recv()
    finally:
        proc.join(5)
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
    return results


def send(url: str, warmup: list[Event], plan: list[Event], concurrency: int, client: str,
         deadline_s: float) -> BurstResult:
    """The warm-up burst then the measured one, on the same connections."""
    bursts = [[(e.body, e.headers) for e in warmup], [(e.body, e.headers) for e in plan]]
    return send_bursts(url, bursts, concurrency, client, deadline_s)[-1]


Sender = Callable[[str], BurstResult]  # the listener's URL -> the measured burst


# -- the listeners -----------------------------------------------------------------------------

def _ours_first_keys(listener: WebhookListener) -> list[str]:
    return [f"{d.message_id}|{d.sequence}" for d in listener.deliveries()
            if d.accepted and not d.duplicate and d.message_id is not None]


# Own time is charged to the first layer whose marker is in "filename function"; the own time
# of a builtin (isinstance, re, len...) to the layers of its callers, pro rata.
LAYERS = (("epoll", "waiting in epoll (idle)"), ("_socket.socket", "socket send/recv"),
          ("uvicorn", "uvicorn HTTP protocol"), ("h11", "h11: HTTP/1.1 parsing, framing"),
          ("starlette", "starlette request/response/routing"),
          ("webhook_listener", "webhook_listener.py"), ("signing", "signing.py"),
          ("dataclasses", "dataclasses (replace)"), ("hmac", "hmac/hashlib"),
          ("json", "json"), ("asyncio", "asyncio event loop"), ("selectors", "asyncio event loop"))

FunctionKey = tuple[str, int, str]


def _layer(key: FunctionKey) -> str:
    where = f"{key[0]} {key[2]}"
    return next((name for marker, name in LAYERS if marker in where), "other")


def print_profile(profile: cProfile.Profile, top: int) -> None:
    """Own time by layer (where the time goes), then the top functions by own time."""
    stats = pstats.Stats(profile, stream=(out := io.StringIO()))
    raw: dict[FunctionKey, tuple[int, int, float, float, dict[FunctionKey, tuple[Any, ...]]]]
    raw = stats.stats  # type: ignore[attr-defined]
    by_layer: dict[str, float] = {}
    for key, (_, _, own, _, callers) in raw.items():
        layer = _layer(key)
        if key[0] == "~" and layer == "other" and callers:
            shares = {caller: entry[2] for caller, entry in callers.items()}
            whole = sum(shares.values()) or 1.0
            for caller, share in shares.items():
                by_layer[_layer(caller)] = by_layer.get(_layer(caller), 0.0) + own * share / whole
        else:
            by_layer[layer] = by_layer.get(layer, 0.0) + own
    total = sum(by_layer.values()) or 1.0
    print(f"\nprofile of the listener thread: own time by layer (total {total:.2f} s)")
    for name, own in sorted(by_layer.items(), key=lambda item: -item[1]):
        print(f"  {own / total:6.1%}  {own:6.2f} s  {name}")
    stats.sort_stats("tottime").print_stats(top)
    print(f"top {top} functions by own time:")
    print("\n".join(out.getvalue().splitlines()[4:]))


@contextmanager
def _profiled(listener: WebhookListener, top: int) -> Iterator[None]:
    """cProfile the listener's server thread (enabled from inside it, via threading.setprofile)."""
    if top <= 0:
        yield
        return
    profile = cProfile.Profile()

    def enable_here(*_: object) -> None:
        sys.setprofile(None)
        if threading.current_thread().name.startswith("webhook-listener"):
            profile.enable()

    threading.setprofile(enable_here)
    try:
        yield
    finally:
        threading.setprofile(None)
        listener.stop()
        print_profile(profile, top)


def run_ours(sender: Sender, profile_top: int) -> tuple[BurstResult, list[str]]:
    listener = WebhookListener(SECRET)
    with _profiled(listener, profile_top):
        listener.start()
        try:
            result = sender(listener.url)
            return result, _ours_first_keys(listener)
        finally:
            listener.stop()


def express_ready() -> str | None:
    """None when the express listener can run (installing it on first use), else why not."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "node or npm is not on PATH"
    if not (EXPRESS_DIR / "node_modules" / "express").is_dir():
        print(f"installing the express listener: npm ci in {EXPRESS_DIR}", flush=True)
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=EXPRESS_DIR,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              timeout=300, check=False)
        if done.returncode != 0:
            return f"npm ci failed: {done.stderr.strip()[-300:]}"
    return None


def run_express(sender: Sender) -> tuple[BurstResult, list[str]]:
    node = shutil.which("node") or "node"
    proc = subprocess.Popen([node, "server.js"], cwd=EXPRESS_DIR, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
                            env={"PORT": "0", "RC_WEBHOOK_SECRET": SECRET})
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # "listening on http://127.0.0.1:PORT/webhooks/red-cloud"
        if "listening on http://127.0.0.1:" not in first:
            raise RuntimeError(f"the express listener did not start: {first!r}")
        url = first.rsplit(" ", 1)[1].strip()
        result = sender(url)
        stats = httpx.get(url.rsplit("/webhooks/", 1)[0] + "/stats", timeout=10,
                          trust_env=False).json()
        return result, list(stats["firstKeys"])
    finally:
        proc.terminate()
        proc.wait(10)


# -- the figures -------------------------------------------------------------------------------

def judge(name: str, plan: list[Event], result: BurstResult, first_keys: list[str]) -> Outcome:
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
                   sender_cpu_share=result.sender_cpu_s / result.wall_s)


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs else "n/a"


def print_table(outcomes: Sequence[Outcome]) -> None:
    print(f"{'listener':<9} {'sent':>6} {'lost':>5} {'dups':>5} {'wrongly acc.':>12} "
          f"{'errors':>6} {'events/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'sender CPU':>10}")
    for o in outcomes:
        print(f"{o.name:<9} {o.sent:>6} {o.lost:>5} {o.duplicates:>5} {o.wrongly_accepted:>12} "
              f"{o.errors:>6} {o.events_per_s:>9.0f} {o.p50_ms:>7.1f} {o.p99_ms:>7.1f} "
              f"{o.sender_cpu_share:>10.0%}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=1_000, help="warm-up events per listener")
    parser.add_argument("--forged", type=float, default=0.10, help="share of forged events")
    parser.add_argument("--duplicates", type=float, default=0.02,
                        help="share of exact duplicate deliveries")
    parser.add_argument("--deadline", type=float, default=120.0, metavar="S",
                        help="give up on a listener's bursts after S seconds")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="print the listener thread's top N functions (cProfile)")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw",
                        help="the sender's HTTP client (default raw: see the module source)")
    parser.add_argument("--ours-only", action="store_true")
    args = parser.parse_args()
    if not 100 <= args.events <= MAX_EVENTS or not 1 <= args.concurrency <= 256:
        parser.error(f"--events must be 100..{MAX_EVENTS}, --concurrency 1..256")
    plan = build_plan(args.events, args.forged, args.duplicates, "b_", seed=1)
    warmup = build_plan(args.warmup, args.forged, args.duplicates, "w_", seed=2)
    counts = {kind: sum(1 for e in plan if e.kind == kind)
              for kind in ("valid", "duplicate", "forged")}
    print(f"machine: {machine()}")
    print(f"burst: {len(plan)} events ({counts['valid']} valid unique, {counts['duplicate']} "
          f"exact duplicates, {counts['forged']} forged), {args.concurrency} concurrent "
          f"keep-alive senders ({args.client} client) in a separate process, after "
          f"{len(warmup)} warm-up events", flush=True)
    sender: Sender = partial(send, warmup=warmup, plan=plan, concurrency=args.concurrency,
                             client=args.client, deadline_s=args.deadline)
    ours = judge("ours", plan, *run_ours(sender, args.profile))
    outcomes = [ours]
    why_not = "--ours-only" if args.ours_only else express_ready()
    if why_not is None:
        outcomes.append(judge("express", plan, *run_express(sender)))
    print()
    print_table(outcomes)
    if why_not is not None:
        print(f"express listener not measured: {why_not}")
        return 0
    express = outcomes[1]
    print(f"ours/express: throughput {ratio(ours.events_per_s, express.events_per_s)} "
          f"(target >= 1.00x), p99 {ratio(ours.p99_ms, express.p99_ms)} (target <= 1.00x)")
    correct = ours.lost == 0 and ours.wrongly_accepted == 0 and ours.duplicates == 0
    print(f"ours: {'0 lost, 0 duplicates, 0 wrongly accepted' if correct else 'NOT CORRECT'}")
    return 0 if correct else 1


if __name__ == "__main__":
    raise SystemExit(main())
