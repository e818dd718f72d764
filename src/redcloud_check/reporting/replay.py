"""Replay: the checks that failed in a run, run again after a fix, each FIXED, STILL FAILING
or NOT RUN (as Schemathesis's `st replay` re-sends recorded failures).

Plain module (no pytest), on escalation.json documents: the command (`cli.replay`) plans and
renders, the suite (`suite.selection`) selects the plan's checks and writes the comparison
into the new run's escalation.json, which every renderer then reads.

    plan(original)           what to run again: the checks that failed (by id), plus the gates
                             of their stage and every earlier one (their premises)
    compare(original, new)   one ReplayRow per failed check: before, after and verdict
    fields(original, new)    escalation.json's `replayOf` and `replay`
    opening(doc)             "Re-run of <run id>: N fixed, M still failing"
    lines(doc)               the terminal's lines; `ticket_lines(doc)` escalation.md's
    exit_code(code, doc)     the command's exit code, from the run's code and the rows
    locate(run, reports_dir) the escalation.json to replay: RUN's, or the latest failed run's
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redcloud_check.core.config import Settings
from redcloud_check.core.exit_codes import ExitCode
from redcloud_check.reporting.run_diff import (
    FAILING,
    Mismatch,
    UnreadableRun,
    check_id_of,
    mismatches,
    read_run,
)
from redcloud_check.reporting.run_folder import RUNS
from redcloud_check.results.catalog import catalog, is_check_id, stage_of
from redcloud_check.rules.stages import STAGES, gates_through, stage_index

__all__ = ["NothingToReplay", "ReplayPlan", "ReplayRow", "Side", "compare", "exit_code",
           "fields", "lines", "locate", "opening", "plan", "target_mismatches",
           "ticket_lines"]

FIXED, STILL_FAILING, NOT_RUN = "fixed", "still_failing", "not_run"
SHOWN = {FIXED: "FIXED", STILL_FAILING: "STILL FAILING", NOT_RUN: "NOT RUN"}
ESCALATION = "escalation.json"
WIDTH = 120  # an actual value longer than this is cut on the terminal (escalation.json: whole)


class NothingToReplay(ValueError):
    """The run has no failed check this version of redcloud-check can run again."""


def _order(check_id: str) -> tuple[int, str]:
    """Catalog order (stage, then number); an id the catalog does not know last."""
    ids = _catalog_ids()
    return (ids.index(check_id) if check_id in ids else len(ids), check_id)


def _catalog_ids() -> list[str]:
    return [c["id"] for c in catalog()]


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    run_id: str
    replayed: tuple[str, ...]  # failed in the run; run again and compared
    premises: tuple[str, ...]  # gates run so that the replayed checks have their premises
    left_out: tuple[tuple[str, str], ...]  # (id, why): failed in the run, not run again

    @property
    def selected(self) -> tuple[str, ...]:
        """Every check the re-run runs, in run order."""
        return tuple(sorted({*self.replayed, *self.premises}, key=_order))


def plan(original: Mapping[str, Any]) -> ReplayPlan:
    """What a replay of `original` (an escalation.json document) runs; NothingToReplay when
    no check failed in it, or none of those it can run again.

    It sends only if the original run sent: it runs a check of the send or webhooks stage
    only when that check failed there, which it could only do by running (a run that may
    not send skips those stages), and the gates it adds stop at the stages of the failed
    checks."""
    run_id = str(original["run"].get("run_id"))
    rows = original["checks"]
    failed = [row for row in rows if row.get("outcome") in FAILING]
    known = set(_catalog_ids())
    replayed: list[str] = []
    left_out: list[tuple[str, str]] = []
    ids = {i for row in failed if (i := check_id_of(row)) and is_check_id(i)}
    for check_id in sorted(ids, key=_order):
        if check_id not in known:
            left_out.append((check_id, f"no check {check_id} in this version of "
                                       "redcloud-check"))
        else:
            replayed.append(check_id)
    if not replayed:
        if not failed:
            why = f"none of its {len(rows)} checks failed"
        elif left_out:
            why = "no failed check of it can run again (" + "; ".join(
                f"{i}: {w}" for i, w in left_out) + ")"
        else:
            why = "its failed checks carry no check id (written by an older redcloud-check)"
        raise NothingToReplay(f"run {run_id} has nothing to replay: {why}")
    premises = {g for i in replayed for g in gates_through(stage_of(i))} - set(replayed)
    return ReplayPlan(run_id, tuple(replayed), tuple(sorted(premises, key=_order)),
                      tuple(left_out))


@dataclass(frozen=True, slots=True)
class Side:
    """What one run says of a check: its checks[] outcome ("absent": not in the run), the
    actual value (the bundle's `actual`, else the checks[] reason, for a check that failed),
    why it did not run, and the stage that blocked it."""

    outcome: str
    actual: str | None = None
    reason: str | None = None
    blocked_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "actual": self.actual, "reason": self.reason,
                "blockedBy": self.blocked_by}


def _side(doc: Mapping[str, Any], check_id: str, absent: str) -> Side:
    row = next((r for r in doc["checks"] if check_id_of(r) == check_id), None)
    if row is None:
        return Side("absent", reason=absent)
    outcome, reason = str(row["outcome"]), row.get("reason") or None
    if outcome not in (*FAILING, "waived"):
        return Side(outcome, None, None if outcome == "passed" else reason, row.get("blockedBy"))
    bundle = next((b for b in doc.get("bundles") or [] if b.get("checkId") == check_id), None)
    return Side(outcome, bundle["actual"] if bundle else reason, reason)


@dataclass(frozen=True, slots=True)
class ReplayRow:
    check_id: str
    before: Side
    after: Side

    @property
    def verdict(self) -> str:
        """FIXED when it passes now, STILL FAILING when it fails (under a waiver too: a
        waiver accepts a failure, it does not fix it), NOT RUN otherwise (blocked, skipped,
        left out, or the tool's own error: nothing was proven)."""
        if self.after.outcome == "passed":
            return FIXED
        return STILL_FAILING if self.after.outcome in ("failed", "waived") else NOT_RUN

    def as_dict(self) -> dict[str, Any]:
        return {"checkId": self.check_id, "before": self.before.as_dict(),
                "after": self.after.as_dict(), "verdict": self.verdict}


def compare(original: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[ReplayRow, ...]:
    """One row per check that failed in `original` (what `plan` left out too), in run
    order, with what `new` (the re-run's escalation.json) says of it."""
    p = plan(original)
    left_out = dict(p.left_out)
    absent = "not selected in this run"
    return tuple(ReplayRow(i, _side(original, i, ""),
                           Side("absent", reason=left_out[i]) if i in left_out
                           else _side(new, i, absent))
                 for i in sorted([*p.replayed, *left_out], key=_order))


def fields(original: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """escalation.json's `replayOf` (the original run's id) and `replay` (the rows)."""
    return {"replayOf": str(original["run"].get("run_id")),
            "replay": [row.as_dict() for row in compare(original, new)]}


def target_mismatches(original: Mapping[str, Any], settings: Settings) -> tuple[Mismatch, ...]:
    """Where the target, API client or number configured now differs from `original`'s."""
    now = {"target": settings.base_url, "embedded": settings.embedded,
           "client_id": settings.client_id, "number_id": settings.number_id}
    return mismatches(original, {"run": now})


# --- rendering: from the document (escalation.json), as every renderer does ---------------


def _tally(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    return {v: sum(1 for r in rows if r["verdict"] == v) for v in SHOWN}


def opening(doc: Mapping[str, Any]) -> str:
    """The replay's verdict in one line: "Re-run of <run id>: N fixed, M still failing"."""
    tally = _tally(doc["replay"])
    not_run = f", {tally[NOT_RUN]} not run" if tally[NOT_RUN] else ""
    return (f"Re-run of {doc['replayOf']}: {tally[FIXED]} fixed, {tally[STILL_FAILING]} "
            f"still failing{not_run}")


def _cut(text: str | None, width: int = WIDTH) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


def _gate_failure(doc: Mapping[str, Any], stage: str) -> str:
    """Why `stage` blocked: its gate check's id and reason, when the gate failed here."""
    if stage not in {s.name for s in STAGES}:
        return ""  # e.g. "target": the target was unreachable
    gate = STAGES[stage_index(stage)].gate_id
    row = next((r for r in doc["checks"] if r.get("checkId") == gate), None)
    if row is None or row["outcome"] not in FAILING:
        return ""
    return f": {gate} failed: {row.get('reason') or row['outcome']}"


def _why_not_run(doc: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    if after.get("blockedBy"):
        return f"blocked by {after['blockedBy']}{_gate_failure(doc, after['blockedBy'])}"
    return after.get("reason") or after["outcome"]


def _now(row: Mapping[str, Any]) -> str:
    after = row["after"]
    if row["verdict"] == FIXED:
        return "passed"
    if row["verdict"] == STILL_FAILING:
        waived = " (waived)" if after["outcome"] == "waived" else ""
        return _cut(after.get("actual")) + waived
    return "not run"


def _label(doc: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    shown = SHOWN[row["verdict"]]
    return f"{shown} ({_why_not_run(doc, row['after'])})" if row["verdict"] == NOT_RUN else shown


def _others(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Checks that failed in the re-run without being replayed: premises that fail now."""
    replayed = {r["checkId"] for r in doc["replay"]}
    return [c for c in doc["checks"]
            if c["outcome"] in FAILING and c.get("checkId") not in replayed]


def lines(doc: Mapping[str, Any]) -> list[str]:
    """The terminal's lines: the opening, then one line per check (verdict, the old and
    the new actual value), then any premise that failed in the re-run."""
    out = [opening(doc)]
    width = max((len(r["checkId"]) for r in doc["replay"]), default=0)
    for row in doc["replay"]:
        out.append(f"  {row['checkId']:<{width}}  {_label(doc, row)}  was: "
                   f"{_cut(row['before'].get('actual'))}  now: {_now(row)}")
    out += [f"  {c['checkId']:<{width}}  FAILED in this re-run (a premise of the replayed "
            f"checks; it did not fail in {doc['replayOf']}): {_cut(c.get('reason'))}"
            for c in _others(doc)]
    return out


def _cell(text: str | None) -> str:
    return (text or "—").replace("|", "\\|").replace("\n", " ")


def ticket_lines(doc: Mapping[str, Any]) -> list[str]:
    """escalation.md's opening, for a replay's document (nothing otherwise)."""
    if not doc.get("replayOf"):
        return []
    out = [opening(doc), "", "| check | verdict | before | after |", "| --- | --- | --- | --- |"]
    for row in doc["replay"]:
        out.append(f"| {row['checkId']} | {_cell(_label(doc, row))} | "
                   f"{_cell(row['before'].get('actual'))} | {_cell(_now(row))} |")
    out += [f"| {c['checkId']} | FAILED in this re-run (a premise) | did not fail | "
            f"{_cell(c.get('reason'))} |" for c in _others(doc)]
    return [*out, ""]


def exit_code(run_code: int, doc: Mapping[str, Any] | None) -> int:
    """The replay's exit code: the run's own codes for what is not a verdict (interrupted,
    configuration, no check, missing evidence, internal error); else 1 when a replayed
    check still fails or the re-run failed otherwise (a premise gate), 2 when one did not
    run (inconclusive), 0 when every replayed check is fixed."""
    if run_code not in (ExitCode.OK, ExitCode.CHECK_FAILED):
        return run_code
    if doc is None:  # the run said it wrote its evidence, and there is none
        return int(ExitCode.EVIDENCE_INCOMPLETE)
    tally = _tally(doc["replay"])
    if tally[STILL_FAILING] or run_code == ExitCode.CHECK_FAILED:
        return int(ExitCode.CHECK_FAILED)
    return int(ExitCode.INTERRUPTED_OR_DEGRADED if tally[NOT_RUN] else ExitCode.OK)


# --- which run ------------------------------------------------------------------------------


def _failed(path: Path) -> bool:
    try:
        doc = read_run(path)
    except UnreadableRun:
        return False
    return any(row.get("outcome") in FAILING for row in doc["checks"])


def locate(run: Path | None, reports_dir: Path) -> Path:
    """The escalation.json to replay: RUN's (a run folder, or an escalation.json; the
    documented copy `<reports>/escalation.json` stands for its run's own), or without RUN
    the latest run under `<reports>/runs` that failed. UnreadableRun when there is none."""
    if run is None:
        runs = reports_dir / RUNS
        folders = sorted((p for p in runs.iterdir() if p.is_dir()), reverse=True) \
            if runs.is_dir() else []
        found = next((f / ESCALATION for f in folders if _failed(f / ESCALATION)), None)
        if found is None:
            raise UnreadableRun(f"no run under {runs} has a failed check to replay (RUN "
                                "defaults to the latest run that failed)")
        return found
    path = run / ESCALATION if run.is_dir() else run
    if run.is_dir() and not path.is_file():
        raise UnreadableRun(f"{run}: not a run folder (it holds no {ESCALATION})")
    if path.is_file():
        run_id = read_run(path)["run"].get("run_id")
        kept = path.parent / RUNS / str(run_id) / ESCALATION
        if kept.is_file() and kept.resolve() != path.resolve():
            return kept  # the documented copy: the run's own file, which no run moves
    return path
