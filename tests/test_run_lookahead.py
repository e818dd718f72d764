"""A whole run's requests sent ahead of their checks: only for checks that will run, and
every request sent is in the evidence, attributed to the check that owns it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from redcloud_check.simulator import Simulator

from .remote_env import REMOTE
from .suite_runner import run_suite

pytestmark = pytest.mark.slow  # each test runs the suite in a subprocess

TOKEN = "/api/auth/token"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as running:
        yield running


def _har(reports: Path) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = json.loads(
        (reports / "exchanges.har").read_text("utf-8"))["log"]["entries"]
    return entries


def test_collect_only_sends_nothing(sim: Simulator, tmp_path: Path) -> None:
    run = run_suite(tmp_path, "--collect-only", RC_BASE_URL=sim.base_url, **REMOTE)
    assert run.returncode == 0, run.stdout[-2000:]
    assert sim.requests == []


def test_a_run_that_stops_at_its_first_failure_sends_nothing_ahead(sim: Simulator,
                                                                   tmp_path: Path) -> None:
    sim.set_faults(["token-wrong-secret-accepted"])  # RC-TOKEN-04, the run's first failure
    run = run_suite(tmp_path, "-x", RC_BASE_URL=sim.base_url, **REMOTE)
    assert run.returncode == 1, run.stdout[-2000:]
    labels = [e["_label"] for e in _har(tmp_path)]
    assert labels[-1] == "token: wrong client_secret"  # nothing of a later check was sent
    assert len(sim.requests) == len(labels)


def test_an_early_token_request_whose_check_is_deselected_is_the_sessions(
        sim: Simulator, tmp_path: Path) -> None:
    run = run_suite(tmp_path, "-k", "test_missing_token_gives_401_core_error",
                    RC_BASE_URL=sim.base_url, **REMOTE)
    assert run.returncode == 0, run.stdout[-2000:]
    entries = _har(tmp_path)
    token = [e for e in entries if e["_label"] == "token: HTTP Basic credentials"]
    assert [(e["_check"], e["pageref"]) for e in token] == [(None, "session")]
    assert [e["_label"] for e in entries if e["_check"]] == ["whoami: no Authorization"]
    assert [r.path for r in sim.requests].count(TOKEN) == 1  # the one token request
