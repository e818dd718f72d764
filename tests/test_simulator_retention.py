"""The simulator keeps messages, idempotency records, tokens and logs bounded by count and
age, so that it runs under sustained load with bounded memory."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from redcloud_check.simulator import Simulator
from redcloud_check.simulator.cli import configure_parser, retention_options
from redcloud_check.simulator.retention import DAY_S, MAX_ENTRIES, Retained, Retention
from redcloud_check.simulator.state import Clock

from .sim_helpers import Api, api_for, new_key, send_body


def test_a_retained_store_forgets_its_oldest_entries_past_its_count() -> None:
    store: Retained[str, int] = Retained(3, None, Clock())
    for index in range(5):
        store[f"k{index}"] = index
    assert list(store) == ["k2", "k3", "k4"] and len(store) == 3
    assert store.get("k0") is None and "k1" not in store and store.get("k4") == 4


def test_a_retained_store_forgets_entries_older_than_its_ttl() -> None:
    clock = Clock()
    store: Retained[str, int] = Retained(100, 60.0, clock)
    store["old"] = 1
    clock.advance(30)
    store["new"] = 2
    clock.advance(30)  # "old" is 60 s old now: gone, even before the next insert
    assert store.get("old") is None and "old" not in store and store.get("new") == 2
    assert store.values() == [2]


def test_retention_refuses_bounds_that_keep_nothing() -> None:
    with pytest.raises(ValueError, match="max_messages"):
        Retention(max_messages=0)
    with pytest.raises(ValueError, match="idempotency_ttl_s"):
        Retention(idempotency_ttl_s=-1)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def small(clock: Clock) -> Iterator[Api]:
    with Simulator(clock=clock, max_messages=3, max_idempotency_keys=2, max_log_entries=4,
                   idempotency_ttl_s=60.0) as sim, api_for(sim) as api:
        yield api


def test_messages_and_logs_keep_only_the_newest(small: Api) -> None:
    ids = [small.send(key=new_key()).json()["results"][0]["messageId"] for _ in range(5)]
    state = small.sim.state
    with state.lock:
        assert list(state.messages) == ids[2:]
    assert len(small.sim.requests) == 4 and small.sim.requests[-1][1].endswith("/send")
    assert len(small.sim.deliveries) == 4  # the seed's example.com URL: refused, recorded


def test_an_idempotency_key_replays_until_it_expires_then_is_new(small: Api,
                                                                  clock: Clock) -> None:
    key = new_key()
    first = small.send(key=key).json()
    assert small.send(key=key).json() == first  # replayed
    assert small.send(send_body(text="other"), key=key).status_code == 409
    clock.advance(60)  # the key expired: the same key now makes a new message
    again = small.send(key=key).json()
    assert again["results"][0]["messageId"] != first["results"][0]["messageId"]


def test_an_idempotency_key_pushed_out_by_newer_ones_is_new_again(small: Api) -> None:
    key = new_key()
    first = small.send(key=key).json()
    small.send(key=new_key())
    small.send(key=new_key())  # max_idempotency_keys=2: `key` is forgotten
    assert small.send(key=key).json() != first


def test_refused_webhooks_are_recorded_at_once_without_a_pending_lifecycle(small: Api) -> None:
    message_id = small.send(key=new_key()).json()["results"][0]["messageId"]
    assert small.sim.wait_deliveries_idle(0) is True  # nothing is waiting to refuse them
    refused = [d for d in small.sim.deliveries if d.message_id == message_id]
    assert len(refused) == 3 and all(d.refused and d.attempt == 0 for d in refused)


def test_simulate_options_set_the_retention_with_documented_defaults() -> None:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    assert Retention(**retention_options(parser.parse_args([]))) == Retention()
    assert Retention().max_messages == MAX_ENTRIES == 10_000
    assert Retention().idempotency_ttl_s == DAY_S == 86_400
    given = parser.parse_args(["--max-messages", "5", "--message-ttl", "0",
                               "--max-idempotency-keys", "7", "--idempotency-ttl", "30"])
    custom = Retention(**retention_options(given))
    assert custom == Retention(max_messages=5, message_ttl_s=None, max_idempotency_keys=7,
                               idempotency_ttl_s=30.0)
