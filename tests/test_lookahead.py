"""The lookahead: tasks run concurrently on workers, each check takes its answer in the run's
order (what the task recorded and found committed then), dependencies hold, a failed gate
drops what needs it, an unreachable target stops the rest, and nothing raised is lost."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from redcloud_check.core.errors import TargetUnreachable
from redcloud_check.core.exchange import Exchange, Timings
from redcloud_check.core.findings import Finding, FindingLog
from redcloud_check.core.lookahead import Lookahead, Task
from redcloud_check.core.recorder import Recorder


def _exchange(label: str, check: str | None = None) -> Exchange:
    return Exchange("GET", "http://127.0.0.1:9/x", {}, None, 0.0, Timings(total=0.0),
                    status=200, label=label, check=check)


class Run:
    """A recorder, a findings log and a lookahead over them; `make(key)` is a task's call
    that records an exchange labelled with its key (on behalf of its check)."""

    def __init__(self, workers: int = 4) -> None:
        self.recorder = Recorder()
        self.findings = FindingLog()
        self.ahead = Lookahead(workers, self.recorder, self.findings)
        self.started: dict[str, threading.Event] = {}
        self.threads: dict[str, str] = {}

    def make(self, key: str, *, before: Callable[[], None] = lambda: None,
             result: Any = None) -> Callable[[], Any]:
        self.started[key] = threading.Event()

        def call() -> Any:
            self.started[key].set()
            self.threads[key] = threading.current_thread().name
            before()
            self.recorder.record(_exchange(key, self.recorder.current_check))
            self.findings.add(Finding("warning", key, "d", "c", check=self.recorder.current_check))
            return result if result is not None else key
        return call

    def task(self, key: str, **kwargs: Any) -> Task:
        call = kwargs.pop("call", None) or self.make(key)
        return Task(key, (key,), call, **kwargs)

    def answer(self, key: str) -> Any:
        self.recorder.current_check = key
        try:
            return self.ahead.answer(key, (key,), lambda: pytest.fail(f"{key} ran inline"))
        finally:
            self.recorder.current_check = None


@pytest.fixture
def run() -> Iterator[Run]:
    made = Run()
    yield made
    made.ahead.close(5)


def test_answers_are_committed_in_the_order_checks_take_them(run: Run) -> None:
    first_may_end = threading.Event()
    run.ahead.start([run.task("a", call=run.make("a", before=lambda: first_may_end.wait(5))),
                     run.task("b")])
    # b is answered while a is still in flight: its exchange is held, not logged
    assert run.started["a"].wait(5)
    assert run.started["b"].wait(5)
    assert run.recorder.all() == []
    first_may_end.set()
    assert run.answer("a") == "a"
    assert run.answer("b") == "b"
    assert [e.label for e in run.recorder.all()] == ["a", "b"]
    assert [e.sequence for e in run.recorder.all()] == [1, 2]
    assert [e.check for e in run.recorder.all()] == ["a", "b"]
    assert [(f.title, f.check) for f in run.findings.all()] == [("a", "a"), ("b", "b")]
    assert run.threads["a"] != run.threads["b"]  # both were in flight at once


def test_a_task_starts_only_after_what_it_comes_after(run: Run) -> None:
    order: list[str] = []
    run.ahead.start([
        run.task("first", call=run.make("first", before=lambda: order.append("first"))),
        run.task("then", after=("first",),
                 call=run.make("then", before=lambda: order.append("then")))])
    assert run.answer("then") == "then"
    assert order == ["first", "then"]


def test_a_key_without_a_task_releases_its_followers_when_done() -> None:
    lone = Run(workers=1)  # one worker takes the first ready task in the run's order
    try:
        lone.ahead.start([lone.task("follower", after=("gate-of-the-main-thread",)),
                          lone.task("other")])
        assert lone.answer("other") == "other"  # the worker went past the follower: held
        assert not lone.started["follower"].is_set()
        lone.ahead.done("gate-of-the-main-thread", passed=True)
        assert lone.started["follower"].wait(5)
        assert lone.answer("follower") == "follower"
    finally:
        lone.ahead.close(5)


def test_a_failed_gate_drops_what_needs_it_and_the_check_then_asks_itself(run: Run) -> None:
    def refused() -> None:
        raise AssertionError("gate failed")

    run.ahead.start([run.task("gate", call=refused, rank=0),
                     run.task("blocked", needs=("gate",))])
    with pytest.raises(AssertionError, match="gate failed"):
        run.answer("gate")
    assert run.ahead.answer("blocked", ("blocked",), lambda: "made by its check") == \
        "made by its check"
    assert not run.started["blocked"].is_set()


def test_what_a_task_raised_is_raised_by_its_check_with_what_it_recorded(run: Run) -> None:
    error = ValueError("a bug of ours in a task")

    def broken() -> None:
        run.recorder.record(_exchange("before the bug"))
        raise error

    run.ahead.start([run.task("broken", call=broken)])
    with pytest.raises(ValueError) as raised:
        run.answer("broken")
    assert raised.value is error
    assert [e.label for e in run.recorder.all()] == ["before the bug"]


def test_an_unreachable_target_stops_every_task_not_started(run: Run) -> None:
    def unreachable() -> None:
        raise TargetUnreachable("http://127.0.0.1:9", "refused", "connection refused")

    lone = Run(workers=1)
    try:
        lone.ahead.start([lone.task("down", call=unreachable), lone.task("later")])
        with pytest.raises(TargetUnreachable):
            lone.answer("down")
        inline = lone.ahead.answer("later", ("later",), lambda: "made by its check")
        assert inline == "made by its check"
        assert not lone.started["later"].is_set()
    finally:
        lone.ahead.close(5)


def test_a_main_thread_task_runs_on_the_main_thread_while_it_waits(run: Run) -> None:
    worker_may_end = threading.Event()
    main_ran = threading.Event()

    def on_main() -> str:
        assert threading.current_thread() is threading.main_thread()
        main_ran.set()
        worker_may_end.set()  # the worker's answer comes only after the main task ran
        run.recorder.record(_exchange("main", run.recorder.current_check))
        return "main"

    run.ahead.start([run.task("slow", call=run.make("slow", before=lambda:
                                                    worker_may_end.wait(5))),
                     Task("main", ("main",), on_main, main=True)])
    assert run.started["slow"].wait(5)  # a worker has it: the main thread waits for it
    assert run.answer("slow") == "slow"
    assert main_ran.is_set()
    assert [e.label for e in run.recorder.all()] == ["slow"]  # main's exchange: held for it
    assert run.answer("main") == "main"
    assert [(e.label, e.check) for e in run.recorder.all()] == [("slow", "slow"),
                                                                ("main", "main")]


def test_close_commits_what_no_check_took_in_the_run_order(run: Run) -> None:
    run.ahead.start([run.task("x"), run.task("y")])
    assert run.started["x"].wait(5) and run.started["y"].wait(5)
    run.ahead.close(5)
    assert sorted(e.label for e in run.recorder.all()) == ["x", "y"]
    assert [e.label for e in run.recorder.all()] == ["x", "y"]


def test_a_check_asking_for_another_function_than_its_task_is_a_suite_bug(run: Run) -> None:
    run.ahead.start([run.task("k")])
    with pytest.raises(RuntimeError, match="a bug in the suite"):
        run.ahead.answer("k", ("something else",), lambda: None)


def test_a_disowned_early_task_is_the_sessions_and_frees_its_key(run: Run) -> None:
    run.ahead.start([run.task("early")])
    assert run.started["early"].wait(5)
    run.ahead.disown("early")  # its check is not in the run
    run.ahead.start([run.task("early", call=run.make("early-again"))])  # the key is free
    assert run.answer("early") == "early-again"
    run.ahead.close(5)
    assert sorted((e.label, e.check) for e in run.recorder.all()) == [
        ("early", None), ("early-again", "early")]


def test_an_interrupt_in_a_main_task_goes_on_up_and_its_requests_stay_evidence(
        run: Run) -> None:
    worker_may_end = threading.Event()

    def interrupted() -> None:
        run.recorder.record(_exchange("override PATCH", run.recorder.current_check))
        worker_may_end.set()
        raise KeyboardInterrupt  # SIGTERM during the override, as the run's handler raises it

    run.ahead.start([run.task("slow", call=run.make("slow", before=lambda:
                                                    worker_may_end.wait(5))),
                     Task("main", ("main",), interrupted, main=True)])
    assert run.started["slow"].wait(5)
    with pytest.raises(KeyboardInterrupt):
        run.answer("slow")  # waiting, the main thread ran the main task: not swallowed
    run.ahead.close(5)
    assert ("override PATCH", "main") in [(e.label, e.check) for e in run.recorder.all()]
