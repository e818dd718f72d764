"""Which checks' requests a run sends ahead of them, and after what (`core.lookahead` sends
them, at most RC_CONCURRENCY in flight; the checks still run and judge in their order).

    start_early(rc, config)       at the session's start, while pytest collects: the token
                                  gate's request, the run's first (everything waits for it)
    start(rc, items, config)      the run's checks known: the lookahead's tasks (rc.lookahead
                                  stays None when no request may go ahead)

The rules, stated once:

- Only with RC_CONCURRENCY > 1, and not when the run may stop at its first failures (-x,
  --maxfail, --stepwise): a request goes ahead only for a check that will run.
- A check's requests go ahead only when its declaration says what makes them (`ahead`), and
  its stage's gate check is selected.
- A stage's gate goes once the gates of the earlier stages passed. Its stage's other checks
  go once the gate's requests are answered (first, as one at a time: an API with state, e.g.
  a token honoured for its first CORE call only or a first send rate-limited, answers them
  the same), and only if the earlier gates passed: a failed gate blocks the later stages,
  and nothing of theirs is sent.
- A check that sends the configured pair or a near miss of it (`rc_pair`) goes only once
  the token gate passed: a refused pair is never sent again.
- A check that sends messages (`rc_sends`) only when sends are allowed. The send stage's
  gate opens the webhook session (its override installs a SIGTERM handler: on the main
  thread, while it waits for answers) and then sends: the override comes before any send.
- `after`, as declared: e.g. the changed-payload conflict after the idempotent replay; the
  webhook override after the no-op update of the number and its read-back.

Among ready requests, gates go first (the run's critical path), then those others wait for
and the sends whose messages are accepted (their lifecycle runs while the rest are
answered), then the run's order.

The first three stages' gates (the token; whoami; the numbers list) go before the checks are
collected, each once the one before passed: they are the same read-only requests with the
right pair whichever checks run, and every later stage needs them. A gate that turns out
not to be among the run's checks (-k, file arguments) is the session's request (the token
it issued serves the checks that need one; one not yet sent is not sent); nothing goes
ahead under --collect-only, --setup-only or --setup-plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import pytest

from redcloud_check.core.lookahead import Lookahead, Task
from redcloud_check.results.catalog import row_of
from redcloud_check.rules import gates
from redcloud_check.rules.stages import STAGE_NAMES, STAGES, stage_index
from redcloud_check.suite.declare import Ahead, ahead_of
from redcloud_check.suite.stash import SPEC

if TYPE_CHECKING:
    from redcloud_check.context import RunContext

__all__ = ["start", "start_early"]



@dataclass(frozen=True, slots=True)
class _Check:
    nodeid: str
    check_id: str
    stage: str
    gate: bool
    ahead: Ahead | None
    args: tuple[Any, ...]
    fixtures: frozenset[str]


def _checks(items: Sequence[pytest.Item]) -> list[_Check]:
    found = []
    for item in items:
        spec = item.stash.get(SPEC, None)
        if spec is None:
            continue
        ahead = ahead_of(item)
        callspec = getattr(item, "callspec", None)
        args = ((callspec.params[ahead.per_case],)
                if ahead is not None and ahead.per_case and callspec is not None else ())
        found.append(_Check(item.nodeid, spec.id, spec.stage, spec.gate, ahead, args,
                            frozenset(getattr(item, "fixturenames", ()))))
    return found


def plan(rc: RunContext, items: Sequence[pytest.Item]) -> list[Task]:
    """The run's tasks, in the run's order."""
    checks = _checks(items)
    gates = {c.stage: c for c in checks if c.gate}
    by_id = {c.check_id: c.nodeid for c in checks}
    token_gate = gates.get(STAGE_NAMES[0])
    tasks: list[Task] = []
    for c in checks:
        gate = gates.get(c.stage)
        if c.ahead is None or gate is None:
            continue
        if "rc_sends" in c.fixtures and not rc.settings.sends_allowed:
            continue
        earlier = tuple(g.nodeid for name, g in gates.items()
                        if stage_index(name) < stage_index(c.stage))
        needs = earlier + ((token_gate.nodeid,) if "rc_pair" in c.fixtures
                           and token_gate is not None and not c.gate else ())
        after = (() if c.gate else (gate.nodeid,)) + tuple(
            by_id[i] for i in c.ahead.after if i in by_id)
        tasks.append(Task(c.nodeid, (c.ahead.make, *c.args),
                          partial(c.ahead.make, rc, *c.args), after=after, needs=needs,
                          rank=0 if c.gate else 1 if "rc_webhooks" in c.fixtures else 2,
                          main=c.ahead.main_thread))
    waited = {k for t in tasks for k in (*t.after, *t.needs)}
    return [t if t.rank < 2 or t.key not in waited else replace(t, rank=1) for t in tasks]


def enabled(rc: RunContext, config: pytest.Config) -> bool:
    """Requests go ahead: RC_CONCURRENCY > 1, and the run runs every selected check (not
    when it may stop at its first failures, nor when it runs none: --collect-only,
    --setup-only, --setup-plan)."""
    option = config.option
    stops_early = bool(getattr(option, "maxfail", 0)) or bool(getattr(option, "stepwise",
                                                                       False))
    runs_none = any(getattr(option, name, False)
                    for name in ("collectonly", "setuponly", "setupplan"))
    return rc.settings.concurrency > 1 and not stops_early and not runs_none


def _lookahead(rc: RunContext) -> Lookahead | None:
    limits = rc.client.rate_limits
    if limits is None:  # not the run context's client: nothing bounds the requests in flight
        return None
    # Twice as many workers as places in flight: a task that becomes ready while every place
    # is taken waits for the next one in its rank (core.rate_limit), not for a worker to end.
    return Lookahead(2 * rc.settings.concurrency, rc.recorder, rc.findings,
                     ranked=limits.ranked, place=limits.slot)


# The gates whose requests go at the session's start, what each is made by: the first three
# stages' (read-only, with the right pair and the token it issued; the later stages need
# them whichever checks run).
EARLY_GATES = ((STAGES[0].gate_id, gates.token_issued), (STAGES[1].gate_id, gates.client_active),
               (STAGES[2].gate_id, gates.number_usable))


def gate_nodeid(config: pytest.Config, check_id: str) -> str | None:
    """The node id pytest gives a check in the suite's own checks directory."""
    row = row_of(check_id)
    testpaths = config.getini("testpaths")
    return f"{testpaths[0].strip('/')}/{row['nodeid']}" if row and testpaths else None


def start_early(rc: RunContext, config: pytest.Config) -> None:
    found = [gate_nodeid(config, check_id) for check_id, _ in EARLY_GATES]
    keys = [key for key in found if key is not None]
    if not enabled(rc, config) or len(keys) != len(found) or \
            (lookahead := _lookahead(rc)) is None:
        return
    lookahead.start([Task(key, (make,), partial(make, rc), needs=tuple(keys[:n]), rank=0)
                     for n, (key, (_, make)) in enumerate(zip(keys, EARLY_GATES, strict=True))])
    rc.lookahead = lookahead


def start(rc: RunContext, items: Sequence[pytest.Item], config: pytest.Config) -> None:
    lookahead = rc.lookahead
    if not enabled(rc, config):
        return
    tasks = plan(rc, items)
    lookahead = lookahead or _lookahead(rc)
    if lookahead is None:
        return
    planned = {t.key: t for t in tasks}
    for key in lookahead.started():
        task = planned.get(key)
        if task is None or (task.what, task.needs) != lookahead.asked(key):
            lookahead.disown(key)  # not a check of this run (or not as it asks): the session's
    lookahead.start([t for t in tasks if not lookahead.planned(t.key)])
    rc.lookahead = lookahead
