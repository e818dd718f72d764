"""Rate limits under concurrency: at most RC_CONCURRENCY requests in flight, one after the
first rate limit, every request waiting out the same pause, and the budget counting that
pause once however many requests waited it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from redcloud_check.core.client import ApiClient, SecretSet
from redcloud_check.core.config import CANONICAL
from redcloud_check.core.errors import RateLimited
from redcloud_check.core.exchange import Exchange, Timings
from redcloud_check.core.rate_limit import RateLimits
from redcloud_check.core.recorder import Recorder
from redcloud_check.simulator import Simulator

from .remote_env import REMOTE
from .suite_runner import run_suite


def _limited(retry_after: str = "1") -> Exchange:
    return Exchange("GET", "http://127.0.0.1:9/api/core/whoami", {}, None, 0.0,
                    Timings(total=0.0), status=429, response_headers={"Retry-After": retry_after})


def _together(n: int, action: object) -> list[threading.Thread]:
    barrier = threading.Barrier(n)

    def go() -> None:
        barrier.wait()
        action()  # type: ignore[operator]

    threads = [threading.Thread(target=go) for _ in range(n)]
    for thread in threads:
        thread.start()
    return threads


def test_no_more_requests_in_flight_than_the_concurrency() -> None:
    limits = RateLimits(30.0, concurrency=2)
    inside, most, lock = [0], [0], threading.Lock()
    two_in, may_leave = threading.Semaphore(0), threading.Event()

    def request() -> None:
        with limits.slot():
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            two_in.release()
            may_leave.wait(5)
            with lock:
                inside[0] -= 1

    threads = _together(4, request)
    assert two_in.acquire(timeout=5) and two_in.acquire(timeout=5)
    may_leave.set()
    for thread in threads:
        thread.join(5)
    assert most[0] == 2


def test_a_rate_limit_pauses_every_request_once_and_drops_to_one_at_a_time() -> None:
    limits = RateLimits(30.0, concurrency=4)
    started = time.monotonic()
    threads = _together(3, lambda: limits.wait(0.2, _limited()))
    for thread in threads:
        thread.join(5)
    assert time.monotonic() - started >= 0.2
    assert 0.2 <= limits.spent_s < 0.3  # three overlapping waits: one pause of the run
    assert limits.concurrency == 1
    assert len(limits.waits) == 3
    paused = time.monotonic()
    limits.wait(0.05, _limited())  # a later limit, after the pause: counted on its own
    assert limits.spent_s >= 0.25 and time.monotonic() - paused >= 0.05


@pytest.mark.slow
def test_two_requests_limited_together_spend_the_budget_once() -> None:
    limits = RateLimits(1.5)  # one 1 s pause fits; two sequential ones would not
    raised: list[BaseException] = []

    def limited() -> None:
        try:
            exchange = _limited("1")
            delay = limits.delay(exchange)
            assert delay == 1.0
            limits.wait(delay, exchange)
        except RateLimited as error:
            raised.append(error)

    for thread in _together(2, limited):
        thread.join(5)
    assert raised == [] and 1.0 <= limits.spent_s < 1.2
    with pytest.raises(RateLimited):  # the pause is over: another 1 s is past the budget
        limits.delay(_limited("1"))


@pytest.fixture(scope="module")
def busy() -> Iterator[Simulator]:
    with Simulator(latency_ms=30, variants=["rate-limit-in-flight"]) as sim:
        yield sim


@pytest.mark.slow
def test_concurrent_requests_meet_429_once_then_go_one_at_a_time(busy: Simulator) -> None:
    limits = RateLimits(5.0, concurrency=4)
    client = ApiClient(busy.base_url, timeout=5, recorder=Recorder(), secrets=SecretSet(),
                       rate_limits=limits)
    token = client.request("POST", "/api/auth/token", form={
        "grant_type": "client_credentials", "client_id": "rc_test_client_123",
        "client_secret": "rc_secret_abc123"}).json()["access_token"]
    answers: list[Exchange] = []
    threads = _together(6, lambda: answers.append(client.request(
        "GET", "/api/core/whoami", headers={"Authorization": f"Bearer {token}"})))
    for thread in threads:
        thread.join(10)
    client.close()
    assert [a.status for a in answers] == [200] * 6
    refused = [r for r in busy.requests if r[2] == 429]
    assert 1 <= len(refused) == len(limits.waits) <= 4  # the first wave only: no burst
    assert limits.concurrency == 1 and limits.spent_s < 1.5


@pytest.mark.slow
def test_a_concurrent_run_against_an_in_flight_limit_passes_within_its_budget(
        tmp_path: Path) -> None:
    """A whole sending run, 4 requests in flight, against an API that refuses a third CORE
    request in flight: it waits once, goes on one at a time, stays within RC_RETRY_BUDGET
    (1.5 s: one pause of 1 s, however many requests it refused) and exits 0."""
    with Simulator(latency_ms=50, variants=["rate-limit-in-flight"]) as sim:
        run = run_suite(tmp_path, RC_BASE_URL=sim.base_url, RC_ALLOW_SEND="1",
                        RC_TO=CANONICAL["to"], RC_WEBHOOK_SECRET=CANONICAL["webhook_secret"],
                        RC_CONCURRENCY="4", RC_RETRY_BUDGET="1.5", **REMOTE)
        refused = [r for r in sim.requests if r[2] == 429]
    assert run.returncode == 0, run.stdout[-3000:]
    assert refused, "the run never had 3 CORE requests in flight: nothing was tested"
    summary = json.loads((tmp_path / "escalation.json").read_text("utf-8"))["summary"]
    waits = [w for w in summary["warnings"] if w["title"].startswith("Rate-limited")]
    assert len(waits) == len(refused)  # each refused request waited, and was sent again


def _until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.001)


def test_a_freed_place_goes_to_the_lowest_rank_first_come_among_equals() -> None:
    limits = RateLimits(30.0, concurrency=1)
    order: list[str] = []
    release = threading.Event()

    def request(name: str, rank: int, hold: bool = False) -> threading.Thread:
        def go() -> None:
            with limits.ranked(rank), limits.slot():
                order.append(name)
                if hold:
                    release.wait(5)
        thread = threading.Thread(target=go)
        thread.start()
        return thread

    threads = [request("holder", 0, hold=True)]
    _until(lambda: order == ["holder"])
    for n, (name, rank) in enumerate([("rest", 2), ("waited-for", 1), ("rest-2", 2),
                                      ("critical", 0)], 1):
        threads.append(request(name, rank))
        _until(lambda n=n: limits.queued == n)  # type: ignore[misc]
    release.set()
    for thread in threads:
        thread.join(5)
    assert order == ["holder", "critical", "waited-for", "rest", "rest-2"]
