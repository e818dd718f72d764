"""Benchmark: how soon stage 5 gives its verdict when every webhook is forged.

Each round runs the whole `redcloud-check run --fault webhook-wrong-secret` process (the
console script, as a user runs it, against the embedded simulator, which then signs every
webhook with a secret the run does not hold). The figures, medians over the rounds:

- the time from the first forged delivery reaching the listener to the stage-5 verdict
  (read from the run's escalation.json: webhooks.verdict), target < 3 s;
- the whole run's wall time, against the anchor: the RC_WEBHOOK_TIMEOUT the run used to wait
  out before its verdict (10 s against the simulator; 60 s against a real API).

Run: .venv/bin/python bench/bench_fast_verdict.py [--runs N]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _anchors import user_env
from _measure import console_script, machine, parse_runs, run_once

TARGET_S = 3.0
OLD_WAIT_S = 10.0  # RC_WEBHOOK_TIMEOUT against the simulator: what the run waited before


def one_round(tmp: Path, index: int) -> tuple[float, float]:
    """(verdict after the first forged delivery, whole run wall), seconds."""
    env = user_env(tmp / f"round-{index}")
    sample = run_once([console_script("redcloud-check"), "run", "--fault",
                       "webhook-wrong-secret"], env, str(tmp))
    if sample.returncode != 1:
        raise SystemExit(f"the run exited {sample.returncode}, not 1 (a failed check)")
    doc = json.loads((Path(env["RC_REPORTS_DIR"]) / "escalation.json").read_text("utf-8"))
    verdict = (doc.get("webhooks") or {}).get("verdict")
    if not verdict:
        raise SystemExit("no early stage-5 verdict in escalation.json")
    return float(verdict["after_first_delivery_s"]), sample.wall_s


def main() -> int:
    runs = parse_runs(__doc__, default=5)
    with tempfile.TemporaryDirectory() as tmp:
        one_round(Path(tmp), -1)  # warm-up, not counted
        rounds = [one_round(Path(tmp), i) for i in range(runs)]
    verdicts = [v for v, _ in rounds]
    walls = [w for _, w in rounds]
    after, wall = statistics.median(verdicts), statistics.median(walls)
    print(f"machine: {machine()}")
    print(f"stage-5 verdict after the first forged delivery, {runs} runs: median {after:.2f} s,"
          f" max {max(verdicts):.2f} s (target < {TARGET_S:g} s: "
          f"{'met' if max(verdicts) < TARGET_S else 'NOT met'})")
    print(f"whole `redcloud-check run --fault webhook-wrong-secret`: median {wall:.2f} s wall; "
          f"anchor: the {OLD_WAIT_S:g} s RC_WEBHOOK_TIMEOUT it waited before the verdict "
          f"(so >= {OLD_WAIT_S:g} s a run), {OLD_WAIT_S / wall:.1f}x faster")
    print("  runs: " + ", ".join(f"{v:.2f} s / {w:.2f} s" for v, w in rounds))
    return 0 if max(verdicts) < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
