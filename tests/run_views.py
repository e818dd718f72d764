"""What two runs of the suite must share when only RC_CONCURRENCY differs: the verdicts, the
check order, the root causes, the bundles and the HAR's entries, in order.

`comparable(reports_dir)` reads a run's escalation.json and exchanges.har into plain data
with what differs between any two runs masked: request and message ids, ports, times, run
ids, durations. The webhook stage's texts that quote the deliveries (how many arrived by the
verdict, the order events of two messages interleaved in) are left out: they follow the
simulator's delivery timing, and concurrency sends the run's two accepted messages together
instead of ten requests apart. What they decide (the check, its cause and side, the
exchanges cited) is compared; an info note about arrival order is not.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

MASKS = [(re.compile(p), to) for p, to in (
    (r"req_[0-9a-f]{6,}", "req_*"), (r"msg_[0-9A-Za-z_]+", "msg_*"),
    (r"(127\.0\.0\.1|localhost):\d+", r"\1:*"),
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?", "<time>"),
    (r"\d{8}T\d{6}Z-[0-9a-f]{6}", "<run>"),
    (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>"),
    (r"not_owned_[0-9a-f]+", "not_owned_*"), (r"\d+(\.\d+)? ?ms\b", "<ms>"),
    (r"\d+\.\d+ s\b", "<s>"))]
WEBHOOKS = "webhooks"


def masked(value: Any) -> Any:
    if isinstance(value, str):
        for pattern, to in MASKS:
            value = pattern.sub(to, value)
        return value
    if isinstance(value, list | tuple):
        return [masked(v) for v in value]
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items()}
    return value


def _bundle(bundle: dict[str, Any]) -> list[Any]:
    quoted = bundle["check"]["stage"] == WEBHOOKS  # quotes the deliveries as they came
    return [bundle["checkId"], bundle["kind"], bundle["title"], bundle.get("expected"),
            None if quoted else bundle.get("actual"),
            [(e["label"], e["method"], e["url"], e["status"]) for e in bundle["exchanges"]],
            bundle["diagnosis"]["lead"].get("cause"), bundle["diagnosis"]["lead"].get("side"),
            None if quoted else bundle["diagnosis"]["lead"]]


def comparable(reports: Path) -> dict[str, Any]:
    escalation = json.loads((reports / "escalation.json").read_text("utf-8"))
    har = json.loads((reports / "exchanges.har").read_text("utf-8"))
    summary = escalation["summary"]
    webhook_checks = {c["checkId"] for c in escalation["checks"] if c["stage"] == WEBHOOKS}
    return masked({
        "checks": [(c["checkId"], c["outcome"], c["reason"], c["blockedBy"])
                   for c in escalation["checks"]],
        "verdict": [summary["verdict"], summary["headline"], summary["counts"]],
        "rootCauses": [(r["id"], r["side"], r["checks"],
                        None if set(r["checks"]) <= webhook_checks else r["title"])
                       for r in summary["rootCauses"]],
        "warnings": [(w["severity"], w["title"], w["check"], w["detail"])
                     for w in summary["warnings"] if WEBHOOKS not in (w.get("check") or "")],
        "webhook warnings": sorted({w["title"] for w in summary["warnings"]
                                    if WEBHOOKS in (w.get("check") or "")
                                    and w["severity"] == "warning"}),
        "bundles": [_bundle(b) for b in escalation["bundles"]],
        "har": [(e["pageref"], e["_check"], e["_label"], e["request"]["method"],
                 e["request"]["url"], e["response"]["status"])
                for e in har["log"]["entries"]],
    })


def differences(one: Path, other: Path) -> list[str]:
    """The parts of `comparable` that differ, each with its first differing item."""
    a, b = comparable(one), comparable(other)
    found = []
    for key in a:
        if a[key] != b[key]:
            pairs = list(zip(a[key], b[key], strict=False)) if isinstance(a[key], list) else []
            first = next(((x, y) for x, y in pairs if x != y), (a[key], b[key]))
            found.append(f"{key}: {json.dumps(first[0])[:400]} != {json.dumps(first[1])[:400]}")
    return found
