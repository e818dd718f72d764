"""Requests sent ahead of the checks that judge them: a run's independent requests in flight
together (at most RC_CONCURRENCY), its checks still judged one after another, in order.

    Lookahead(workers, recorder, findings)
    Lookahead.start(tasks)             the run's tasks, in the run's order (more may be added
                                       later: a task started before the checks were known)
    Lookahead.answer(key, what, call)  a check's answer: its task's result, waited for (what
                                       the task recorded and found is committed now, in the
                                       run's order), or `call()` made now when no task ran
    Lookahead.done(key, passed)        a check without a task is over: tasks after it may go
    Lookahead.disown(key)              a task started early whose check is not in the run:
                                       its requests are the session's, recorded as they
                                       end (one not started yet never starts)
    Lookahead.close(timeout)           no new task starts; what ran is committed (every
                                       request sent is in the evidence)

A `Task` belongs to one check (`key`, its node id) and makes that check's requests (`call`),
attributed to it whatever thread runs it. It starts once the keys it comes `after` are over
(a task, or a check that made its requests itself), and only if the keys it `needs` passed (a
stage's gate): otherwise it never runs, and its check, if it runs at all, makes its requests
itself, as with RC_CONCURRENCY=1. Once a task found the target unreachable, no other starts.
Among ready tasks the lowest `rank` goes first (gates, then tasks that others wait for), then
the run's order; their requests wait for a place in flight with that rank (`ranked`). A
check that asks for a task no worker took yet runs it itself. A `main` task runs on the
main thread (it may install signal handlers): whenever the main thread waits for an answer,
and it is ready, the main thread runs it meanwhile, ahead of any task a worker has not yet
started, its chain of requests in one place in flight (`place`) held throughout.

The tool's own errors and a check's outcomes (a failure, a skip) raised by a task are raised
again by `answer`, in the check that owns them: nothing is swallowed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

from redcloud_check.core.errors import TargetUnreachable
from redcloud_check.core.exchange import Exchange
from redcloud_check.core.findings import Finding, FindingLog
from redcloud_check.core.recorder import Recorder

__all__ = ["Lookahead", "Task"]

PENDING, RUNNING, DONE, DROPPED = "pending", "running", "done", "dropped"


@dataclass(frozen=True, slots=True)
class Task:
    key: str  # the node id of the check the requests belong to
    what: tuple[Any, ...]  # what the check asks for: the function and its arguments
    call: Callable[[], Any]  # makes the requests (no judging that warns: findings are held)
    after: tuple[str, ...] = ()  # keys that must be over first
    needs: tuple[str, ...] = ()  # keys that must have passed (else the task never runs)
    rank: int = 2  # 0 a gate, 1 a task others wait for, 2 the rest
    main: bool = False  # runs on the main thread only


@dataclass(slots=True)
class _State:
    task: Task
    position: int
    status: str = PENDING
    value: Any = None
    error: BaseException | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    committed: bool = False
    disowned: bool = False  # no check of the run takes it: its requests are the session's


class Lookahead:
    def __init__(self, workers: int, recorder: Recorder, findings: FindingLog,
                 ranked: Callable[[int], AbstractContextManager[None]] = lambda _: nullcontext(),
                 place: Callable[[], AbstractContextManager[None]] = nullcontext) -> None:
        self.workers = max(1, workers)
        self._recorder = recorder
        self._findings = findings
        self._ranked = ranked  # a task's requests wait for a place in flight with its rank
        self._place = place  # a main task's chain of requests, in one place held throughout
        self._cond = threading.Condition()
        self._states: dict[str, _State] = {}
        self._over: dict[str, bool] = {}  # key -> passed, once over
        self._closing = False
        self._main_waiting = False  # the main thread waits in answer(): it takes main tasks
        self._threads: list[threading.Thread] = []

    def start(self, tasks: Sequence[Task]) -> None:
        with self._cond:
            for task in tasks:
                self._states[task.key] = _State(task, len(self._states))
            self._settle()
            self._cond.notify_all()
        for n in range(len(self._threads), self.workers):
            thread = threading.Thread(target=self._work, name=f"rc-lookahead-{n}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def disown(self, key: str) -> None:
        with self._cond:
            state = self._states.pop(key)  # the key is free for the check's own task
            state.task = replace(state.task, key=f"{key} (the session's)")
            self._states[state.task.key] = state
            state.disowned = True
            if state.status == PENDING:  # not started: it never will
                state.status = DROPPED
            done = state.status == DONE and not state.committed
            if done:
                state.committed = True
        if done:
            self._commit(state)

    def planned(self, key: str) -> bool:
        return key in self._states

    def started(self) -> list[str]:
        """The keys of the tasks started so far."""
        with self._cond:
            return list(self._states)

    def asked(self, key: str) -> tuple[tuple[Any, ...], tuple[str, ...]]:
        """What the task makes, and the keys it needs."""
        task = self._states[key].task
        return task.what, task.needs

    # -- the checks' side (the main thread) -----------------------------------------------

    def answer(self, key: str, what: tuple[Any, ...], call: Callable[[], Any]) -> Any:
        with self._cond:
            state = self._states.get(key)
            if state is not None and state.task.what != what:
                raise RuntimeError(f"{key} asks for {what[0]!r}, but its task makes "
                                   f"{state.task.what[0]!r} (a bug in the suite)")
        while True:
            with self._cond:
                if state is None or state.status == DROPPED:
                    break
                if state.status == PENDING and self._ready(state):
                    state.status = RUNNING  # no worker took it yet: run it here
                    mine = True
                    break
                if state.status == DONE:
                    mine = False
                    break
                other = self._next(main=True)  # the main thread's own work, meanwhile
                if other is None:
                    self._main_waiting = True
                    self._cond.wait()
                    self._main_waiting = False
                    continue
                other.status = RUNNING
                self._cond.notify_all()  # workers held back for it may start again
            self._run(other, hold=True)
        if state is None or state.status == DROPPED:
            return call()
        if mine:
            self._run(state, hold=False)
        return self._take(state)

    def done(self, key: str, passed: bool) -> None:
        """A check is over; for one without a task, its requests are answered."""
        with self._cond:
            if key not in self._states:
                self._over[key] = passed
                self._settle()
                self._cond.notify_all()

    def _take(self, state: _State) -> Any:
        with self._cond:
            state.committed = True
        self._commit(state)
        if state.error is not None:
            raise state.error
        return state.value

    def _commit(self, state: _State) -> None:
        """What the task recorded and found, into the run's logs (the session's, when no
        check of the run owns it)."""
        exchanges, findings = state.exchanges, state.findings
        if state.disowned:
            exchanges = [replace(e, check=None) for e in exchanges]
            findings = [replace(f, check=None) for f in findings]
        self._recorder.commit(exchanges)
        self._findings.commit(findings)

    # -- the workers ------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                state = self._next()
                while state is None and not self._closing:
                    self._cond.wait()
                    state = self._next()
                if state is None:
                    return
                state.status = RUNNING
            self._run(state, hold=True)

    def _next(self, main: bool = False) -> _State | None:
        """The next task for a worker (`main`: for the main thread). While a main task is
        ready and the main thread waiting to take it, workers start nothing new: the places
        they would take are its (it is on the run's critical path)."""
        ready = [s for s in self._states.values() if s.status == PENDING and self._ready(s)]
        if not main and self._main_waiting and any(s.task.main for s in ready):
            return None
        return min((s for s in ready if s.task.main == main),
                   key=lambda s: (s.task.rank, s.position), default=None)

    def _ready(self, state: _State) -> bool:
        return all(k in self._over for k in (*state.task.after, *state.task.needs))

    def _run(self, state: _State, *, hold: bool) -> None:
        """Make the task's requests on its check's behalf; on a worker, what they record and
        find is held for the check to commit. An interrupt (Ctrl-C, SIGTERM: the main
        thread's) ends the task, what it recorded kept, and goes on up."""
        task = state.task
        try:
            with self._recorder.on_behalf_of(task.key), \
                    self._ranked(0 if task.main else task.rank), \
                    self._place() if task.main else nullcontext():
                if not hold:
                    self._call(state)
                    return
                with self._recorder.holding() as exchanges, \
                        self._findings.holding() as findings:
                    try:
                        self._call(state)
                    finally:
                        state.exchanges, state.findings = exchanges, findings
        finally:
            self._finished(state)

    def _finished(self, state: _State) -> None:
        with self._cond:
            state.status = DONE
            self._over[state.task.key] = state.error is None
            if isinstance(state.error, TargetUnreachable):
                self._closing_pending()
            self._settle()
            self._cond.notify_all()
            orphan = state.disowned and not state.committed
            if orphan:
                state.committed = True
        if orphan:
            self._commit(state)

    @staticmethod
    def _call(state: _State) -> None:
        try:
            state.value = state.task.call()
        except (KeyboardInterrupt, SystemExit) as stop:  # the run's, not the task's outcome
            state.error = stop
            raise
        # Broad on purpose: whatever the task raised (a failure, a skip, the tool's own
        # error) is the check's outcome, raised again by `answer` in that check.
        except BaseException as error:
            state.error = error

    def _settle(self) -> None:
        """Drop the pending tasks whose needed keys did not pass (under the lock)."""
        changed = True
        while changed:
            changed = False
            for state in self._states.values():
                if state.status == PENDING and any(
                        self._over.get(k) is False for k in state.task.needs):
                    state.status = DROPPED
                    self._over[state.task.key] = False
                    changed = True

    def _closing_pending(self) -> None:
        for state in self._states.values():
            if state.status == PENDING:
                state.status = DROPPED
                self._over[state.task.key] = False

    # -- the end ----------------------------------------------------------------------------

    def close(self, timeout: float) -> None:
        """Start nothing more, let what runs end (within `timeout` seconds), and commit what
        no check took, in the run's order."""
        with self._cond:
            self._closing = True
            self._closing_pending()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            left = [s for s in self._states.values() if s.status == DONE and not s.committed]
            for state in left:
                state.committed = True
        for state in sorted(left, key=lambda s: s.position):
            self._commit(state)
