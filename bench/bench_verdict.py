"""Benchmark: how soon the stage-5 verdict follows the final lifecycle event.

Against the embedded simulator, each run opens a webhook session (listener + override),
sends one SMS, and waits for its lifecycle. The figure is the time from the listener
recording the final event to `wait_lifecycle` returning (target: < 50 ms).
Run: .venv/bin/python bench/bench_verdict.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import machine

from redcloud_check.context import RunContext
from redcloud_check.core.config import load_settings
from redcloud_check.core.models import AcceptedMessage
from redcloud_check.simulator import Simulator
from redcloud_check.webhooks.session import WebhookSession


def one_run(sim: Simulator, reports: str, index: int) -> float:
    sim.reset()
    rc = RunContext.create(load_settings(environ={"RC_REPORTS_DIR": reports}), sim.base_url)
    with WebhookSession(rc) as session:
        key = rc.idempotency_key(f"verdict-{index}")
        payload = {"sendFrom": rc.settings.number_id, "to": [rc.settings.to],
                   "messageType": "SMS", "text": "verdict bench",
                   "externalReference": f"bench-{index}"}
        exchange = rc.core("POST", "/api/core/messages/send", json=payload,
                           headers={"Idempotency-Key": key}, label="bench send")
        if exchange.status != 202:
            raise SystemExit(f"send refused: HTTP {exchange.status}")
        result = exchange.json()["results"][0]
        rc.accepted.append(AcceptedMessage(result["messageId"], result["to"],
                                           payload["externalReference"], key,
                                           payload["sendFrom"], exchange.started_at, None))
        report = session.wait_lifecycle(timeout=10)
        returned = time.time()
        if not report.complete:
            raise SystemExit(f"lifecycle incomplete: {report.issues}")
        final = max(d.received_at for d in session.deliveries())
    rc.client.close()
    return returned - final


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as reports, Simulator() as sim:
        gaps = [one_run(sim, reports, i) for i in range(args.runs)]
    ms = sorted(g * 1000 for g in gaps)
    p95 = ms[max(0, round(0.95 * len(ms)) - 1)]
    print(f"machine: {machine()}")
    print(f"stage-5 verdict after the final event, {args.runs} lifecycles: median "
          f"{statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms "
          f"(target < 50 ms)")
    return 0 if ms[-1] < 50 else 1


if __name__ == "__main__":
    raise SystemExit(main())
