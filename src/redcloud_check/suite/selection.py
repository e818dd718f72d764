"""Which checks a run runs, by id, and a replay's comparison: the pytest options
`--rc-checks` and `--rc-replay-of`.

    add_options(group)         the two options; argparse checks their values as it parses
                               them (an unknown id, an unreadable run or one with nothing to
                               replay is a usage error: exit 3 before anything is sent)
    select(config, items, run) deselect every item not selected, through pytest_deselected
                               (the ledger counts them); a replay's target, client or number
                               differing from its run's is a warning of the run
    replay_fields(run, doc)    escalation.json's `replayOf` and `replay`, for a replay
    protected(config)          the run folders pruning must keep: the run a replay re-runs

A check selected by id brings its premises: the gates of its stage and of every earlier one
(`rules.stages.gates_through`). A replay selects what `reporting.replay.plan` says.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from redcloud_check.core.findings import Finding
from redcloud_check.reporting import replay
from redcloud_check.reporting.run_diff import IDENTITY, UnreadableRun, read_run
from redcloud_check.results.catalog import catalog, is_check_id, stage_of
from redcloud_check.rules.stages import gates_through
from redcloud_check.suite.run import SuiteRun
from redcloud_check.suite.stash import SPEC

__all__ = ["Replaying", "add_options", "check_ids", "protected", "replay_fields",
           "replay_source", "select"]

CHECKS, REPLAY_OF = "rc_checks", "rc_replay_of"
DOCS = "docs/replay.md"


@dataclass(frozen=True, slots=True)
class Replaying:
    """The run a replay re-runs: its escalation.json, as read, and the plan."""

    path: Path
    original: dict[str, Any]
    plan: replay.ReplayPlan


def check_ids(text: str) -> tuple[str, ...]:
    """`--rc-checks`: comma-separated check ids, each in the catalog."""
    ids = tuple(dict.fromkeys(i.strip().upper() for i in text.split(",") if i.strip()))
    known = {c["id"] for c in catalog()}
    wrong = [i for i in ids if not is_check_id(i) or i not in known]
    if not ids or wrong:
        raise argparse.ArgumentTypeError(
            f"not a check id of this suite: {', '.join(wrong) or repr(text)} "
            "(RC-<STAGE>-<NN>; docs/checks.md lists them)")
    return ids


def replay_source(text: str) -> Replaying:
    """`--rc-replay-of`: a run folder or its escalation.json, with something to replay."""
    try:
        path = replay.locate(Path(text), Path("."))
        original = read_run(path)
        return Replaying(path, original, replay.plan(original))
    except (UnreadableRun, replay.NothingToReplay) as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_options(group: Any) -> None:
    group.addoption("--rc-checks", dest=CHECKS, type=check_ids, default=None, metavar="IDS",
                    help="run only these checks (comma-separated ids, e.g. RC-SEND-03,"
                         "RC-TOKEN-01) and the gates of their stage and every earlier one")
    group.addoption("--rc-replay-of", dest=REPLAY_OF, type=replay_source, default=None,
                    metavar="RUN", help="re-run the checks that failed in RUN (a run folder "
                    "or its escalation.json) and compare (redcloud-check replay)")


def _replaying(config: pytest.Config) -> Replaying | None:
    found = config.getoption(REPLAY_OF, None)
    return found if isinstance(found, Replaying) else None


def _selected(config: pytest.Config) -> set[str] | None:
    """The ids this run runs; None: every check."""
    ids: tuple[str, ...] | None = config.getoption(CHECKS, None)
    source = _replaying(config)
    if ids is not None and source is not None:
        raise pytest.UsageError("--rc-checks and --rc-replay-of: give one of them (a replay "
                                "selects the checks that failed in its run)")
    if source is not None:
        return set(source.plan.selected)
    if ids is None:
        return None
    return {*ids, *(g for i in ids for g in gates_through(stage_of(i)))}


def select(config: pytest.Config, items: list[pytest.Item], run: SuiteRun) -> None:
    """Keep the selected checks (each item's spec is in its stash), deselect the others."""
    wanted = _selected(config)
    if wanted is None:
        return
    kept = [item for item in items if item.stash[SPEC].id in wanted]
    dropped = [item for item in items if item.stash[SPEC].id not in wanted]
    items[:] = kept
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    source = _replaying(config)
    if source is None:
        return
    for mismatch in replay.target_mismatches(source.original, run.settings):
        run.ledger.findings.add(Finding(
            "warning", f"Replay of {source.plan.run_id} against another "
            f"{IDENTITY[mismatch.field]}",
            f"{mismatch.message}: what changed may be the target, not the API", DOCS))


def replay_fields(run: SuiteRun, doc: dict[str, Any]) -> dict[str, Any]:
    """`replayOf` and `replay` for the run's escalation.json `doc`; nothing when the run is
    not a replay."""
    source = _replaying(run.session.config) if run.session is not None else None
    return replay.fields(source.original, doc) if source is not None else {}


def protected(config: pytest.Config) -> tuple[str, ...]:
    """The run folders the pruning at the end of this run must keep."""
    source = _replaying(config)
    return () if source is None else (source.plan.run_id, source.path.parent.name)
