"""What changed between two runs, from their escalation.json documents (in the spirit of
oasdiff's breaking-change report and Optic's diff): checks newly failing and fixed, the
undocumented fields that appeared or disappeared, the median latency per endpoint.

`compare(old, new)` -> `RunDiff`; `render(diff)` -> text; `RunDiff.as_dict()` -> JSON.
`RunDiff.regressed` is true when a check newly fails (`redcloud-check diff` exits 1).
`read_run(path)` raises `UnreadableRun` for a file that is not a run's escalation.json.

Two runs against different targets, API clients or numbers are still compared, with a
warning (`RunDiff.mismatches`, rendered first and in the JSON's "warnings"): what changed
may then be the target, not the API. Runs against the embedded simulator have the same
target, whatever port it listened on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redcloud_check.results.catalog import is_check_id

__all__ = ["FAILING", "CheckChange", "LatencyChange", "Mismatch", "RunDiff", "UnreadableRun",
           "check_id_of", "compare", "mismatches", "read_run", "render"]

FAILING = frozenset({"failed", "error"})
EMBEDDED = "the embedded simulator"
# what makes two runs comparable: the `run` section's field -> what it is called
IDENTITY = {"target": "target", "client_id": "API client", "number_id": "number"}


class UnreadableRun(ValueError):
    """The file is missing, not JSON, or not an escalation.json with per-check outcomes."""


@dataclass(frozen=True, slots=True)
class CheckChange:
    nodeid: str
    old: str | None  # outcome in the old run (None: not in it)
    new: str | None
    reason: str  # the new run's reason (a failure's first line), or the old one's
    check_id: str | None = None  # what the runs are matched by (a renamed check keeps it)

    def as_dict(self) -> dict[str, Any]:
        return {"checkId": self.check_id, "nodeid": self.nodeid, "old": self.old,
                "new": self.new, "reason": self.reason}

    @property
    def label(self) -> str:
        return f"{self.check_id} {self.nodeid}" if self.check_id else self.nodeid


@dataclass(frozen=True, slots=True)
class LatencyChange:
    endpoint: str
    old_ms: float | None
    new_ms: float | None

    @property
    def delta_ms(self) -> float | None:
        if self.old_ms is None or self.new_ms is None:
            return None
        return round(self.new_ms - self.old_ms, 2)

    def as_dict(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "old_median_ms": self.old_ms,
                "new_median_ms": self.new_ms, "delta_ms": self.delta_ms}


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The two runs differ in `field` (a key of the `run` section, IDENTITY)."""

    field: str
    old: str | None
    new: str | None

    @property
    def message(self) -> str:
        return (f"the runs differ in {IDENTITY[self.field]}: {self.old or 'none'} -> "
                f"{self.new or 'none'}")

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "old": self.old, "new": self.new,
                "message": self.message}


@dataclass(frozen=True, slots=True)
class RunDiff:
    old_run: str
    new_run: str
    newly_failing: tuple[CheckChange, ...]
    fixed: tuple[CheckChange, ...]
    appeared: tuple[dict[str, Any], ...]  # undocumented fields new in NEW
    disappeared: tuple[dict[str, Any], ...]
    latency: tuple[LatencyChange, ...]
    mismatches: tuple[Mismatch, ...] = ()  # compared anyway, with a warning

    @property
    def regressed(self) -> bool:
        return bool(self.newly_failing)

    def as_dict(self) -> dict[str, Any]:
        return {"old_run": self.old_run, "new_run": self.new_run, "regressed": self.regressed,
                "warnings": [m.as_dict() for m in self.mismatches],
                "newly_failing": [c.as_dict() for c in self.newly_failing],
                "fixed": [c.as_dict() for c in self.fixed],
                "undocumented_appeared": list(self.appeared),
                "undocumented_disappeared": list(self.disappeared),
                "latency": [c.as_dict() for c in self.latency]}


def read_run(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UnreadableRun(f"{path}: cannot read it ({error.strerror or error})") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise UnreadableRun(f"{path}: not JSON ({error})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("run"), dict):
        raise UnreadableRun(f"{path}: not a redcloud-check escalation.json (no 'run')")
    if not isinstance(doc.get("checks"), list):
        raise UnreadableRun(f"{path}: has no per-check outcomes ('checks'); it was written "
                            "by an older redcloud-check: run the suite again")
    return doc


def check_id_of(check: Mapping[str, Any]) -> str | None:
    """The id of a row of checks[]: its own, or from the catalog by its function name for
    a file written before ids were recorded; None when neither knows it."""
    from redcloud_check.results.catalog import id_of

    return check.get("checkId") or id_of(str(check.get("name") or ""))


def _key(check: Mapping[str, Any]) -> str:
    """What a check is matched by across runs: its id, else its node id."""
    return check_id_of(check) or str(check["nodeid"])


def _outcomes(doc: Mapping[str, Any]) -> dict[str, tuple[str, str, str]]:
    """check key -> (outcome, reason, node id)."""
    return {_key(c): (c["outcome"], c.get("reason") or "", c["nodeid"]) for c in doc["checks"]}


def _undocumented(doc: Mapping[str, Any]) -> dict[tuple[str, int, str], dict[str, Any]]:
    rows = ((doc.get("summary") or {}).get("drift") or {}).get("undocumented") or []
    return {(u["endpoint"], u.get("status") or 0, u["path"]): u for u in rows}


def _medians(doc: Mapping[str, Any]) -> dict[str, float]:
    return {r["endpoint"]: float(r["median_ms"]) for r in doc.get("latency") or []}


def _identity(run: Mapping[str, Any]) -> dict[str, str | None]:
    """The `run` section's IDENTITY fields; every embedded run has the same target."""
    found = {f: None if run.get(f) is None else str(run.get(f)) for f in IDENTITY}
    if run.get("embedded"):
        found["target"] = EMBEDDED
    return found


def mismatches(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[Mismatch, ...]:
    """Where the two runs' target, API client or number differ."""
    before, after = _identity(old["run"]), _identity(new["run"])
    return tuple(Mismatch(f, before[f], after[f]) for f in IDENTITY if before[f] != after[f])


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> RunDiff:
    before, after = _outcomes(old), _outcomes(new)
    newly, fixed = [], []
    for key in sorted(before.keys() | after.keys()):
        was, was_reason, old_node = before.get(key, (None, "", ""))
        now, reason, new_node = after.get(key, (None, "", ""))
        check_id = key if is_check_id(key) else None
        if now in FAILING and was not in FAILING:
            newly.append(CheckChange(new_node or old_node, was, now, reason, check_id))
        elif was in FAILING and now == "passed":
            fixed.append(CheckChange(new_node or old_node, was, now, was_reason, check_id))
    u_old, u_new = _undocumented(old), _undocumented(new)
    m_old, m_new = _medians(old), _medians(new)
    latency = tuple(LatencyChange(e, m_old.get(e), m_new.get(e))
                    for e in sorted(m_old.keys() | m_new.keys()))
    return RunDiff(
        old_run=str(old["run"].get("run_id")), new_run=str(new["run"].get("run_id")),
        newly_failing=tuple(newly), fixed=tuple(fixed),
        appeared=tuple(u_new[k] for k in sorted(u_new.keys() - u_old.keys())),
        disappeared=tuple(u_old[k] for k in sorted(u_old.keys() - u_new.keys())),
        latency=latency, mismatches=mismatches(old, new))


def _where(u: Mapping[str, Any]) -> str:
    return u["endpoint"] + (f" {u['status']}" if u.get("status") is not None else "")


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} ms"


def render(diff: RunDiff) -> str:
    lines = [f"redcloud-check diff: {diff.old_run} -> {diff.new_run}: "
             + ("REGRESSED (a check newly fails)" if diff.regressed else "no regression")]
    if diff.mismatches:
        lines.append("warning: " + "; ".join(m.message for m in diff.mismatches)
                     + " (compared anyway: what changed may be the target, not the API)")
    lines.append(f"checks newly failing ({len(diff.newly_failing)}):")
    lines += [f"  {c.label}  {c.old or 'absent'} -> {c.new}: {c.reason}"
              for c in diff.newly_failing] or ["  none"]
    lines.append(f"checks fixed ({len(diff.fixed)}):")
    lines += [f"  {c.label}  {c.old} -> {c.new}" for c in diff.fixed] or ["  none"]
    lines.append(f"undocumented fields appeared ({len(diff.appeared)}):")
    lines += [f"  + {u['path']} in {_where(u)}" for u in diff.appeared] or ["  none"]
    lines.append(f"undocumented fields disappeared ({len(diff.disappeared)}):")
    lines += [f"  - {u['path']} in {_where(u)}" for u in diff.disappeared] or ["  none"]
    lines.append("median latency per endpoint (old -> new):")
    width = max((len(c.endpoint) for c in diff.latency), default=0)
    for c in diff.latency:
        delta = "" if c.delta_ms is None else f"  ({c.delta_ms:+.1f} ms)"
        lines.append(f"  {c.endpoint:<{width}}  {_ms(c.old_ms)} -> {_ms(c.new_ms)}{delta}")
    if not diff.latency:
        lines.append("  none recorded")
    return "\n".join(lines)
