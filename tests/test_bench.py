"""The benches' own machinery works: the anchor extracted from the docs runs, the stdlib
webhook sender and wrk's script drive real loopback servers, a bench prints its ratio.
Smoke tests with tiny workloads: no timing is asserted here."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from redcloud_check.simulator import Simulator
from redcloud_check.webhooks.listener import WebhookListener

from .suite_runner import REPO, clean_env

BENCH = REPO / "bench"
sys.path.insert(0, str(BENCH))

import _anchors  # noqa: E402
import _wrk  # noqa: E402
import bench_listener  # noqa: E402


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as running:
        yield running


def test_the_docs_quickstart_is_extracted_runnable_and_sends(sim: Simulator,
                                                             tmp_path: Path) -> None:
    script = _anchors.write_quickstart(tmp_path)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=30, env=clean_env(RC_BASE_URL=sim.base_url), check=False)
    assert done.returncode == 0, done.stderr
    assert "Send response: {'results': [{'to': '+15551234567'" in done.stdout
    assert ("POST", "/api/core/messages/send", 202) in sim.requests


def test_the_read_only_quickstart_stops_before_the_send() -> None:
    script = _anchors.quickstart_script(read_only=True)
    assert "numbers = list_numbers(" in script and "send = send_message(" not in script


def test_reindent_restores_blocks_brackets_and_except_clauses() -> None:
    flat = ["def f(x):", "try:", "return g(", "x,", ")", "except ValueError:", "raise", "",
            "", "y = f(1)"]
    assert _anchors.reindent(flat) == ("def f(x):\n    try:\n        return g(\n"
                                       "            x,\n        )\n    except ValueError:\n"
                                       "        raise\n\n\ny = f(1)\n")


def test_the_stdlib_sender_counts_accepted_and_forged_events(tmp_path: Path) -> None:
    plan = bench_listener.build_plan(40, 0.25, 0.0, "t_", seed=3)
    with WebhookListener(bench_listener.SECRET) as listener:
        [result] = bench_listener.send(listener.url, [plan], 4, deadline_s=60)
        outcome = bench_listener.judge("ours", plan, result,
                                       [f"{d.message_id}|{d.sequence}"
                                        for d in listener.deliveries()
                                        if d.accepted and not d.duplicate])
    assert sorted(set(result.statuses)) == [200, 401]
    assert (outcome.lost, outcome.wrongly_accepted, outcome.errors) == (0, 0, 0)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_sends_with_a_fresh_idempotency_key_per_request(sim: Simulator) -> None:
    before = len(sim.state.messages)
    result = _wrk.send_load(sim.base_url + "/api/core/messages/send", _wrk.token(sim.base_url),
                            seconds=1, threads=1, connections=2, prefix="smoke")
    assert result.requests > 0 and result.errors == 0
    created = len(sim.state.messages) - before  # no replay: a new message per request
    assert result.requests <= created <= result.requests + 2  # + those in flight at the end


@pytest.mark.slow
def test_the_probe_bench_prints_figure_anchor_and_ratio() -> None:
    done = subprocess.run([sys.executable, str(BENCH / "bench_probe.py"), "--runs", "1"],
                          capture_output=True, text=True, timeout=120, env=clean_env(),
                          check=False)
    assert done.returncode in (0, 1), done.stderr  # 1: a target missed on a busy machine
    lines = done.stdout.splitlines()
    assert any(line.startswith("  redcloud-check probe ") for line in lines), done.stdout
    assert any(line.startswith("  read-only quickstart (same python)") for line in lines)
    assert any("probe / read-only quickstart (same python): " in line for line in lines)


@pytest.mark.slow
def test_the_remote_bench_prints_figures_anchors_and_ratios() -> None:
    done = subprocess.run([sys.executable, str(BENCH / "bench_remote.py"), "--runs", "1",
                           "--latency-ms", "50", "--no-sequential"],
                          capture_output=True, text=True, timeout=300, env=clean_env(),
                          check=False)
    assert done.returncode in (0, 1), done.stderr  # 1: a target missed on a busy machine
    lines = done.stdout.splitlines()
    assert any(line.startswith("simulate --latency-ms 50,") for line in lines), done.stdout
    for subject in ("run (RC_CONCURRENCY=4)", "quickstart (same python)", "probe (read-only)",
                    "read-only quickstart (same python)"):
        assert any(line.startswith(f"  {subject} ") for line in lines), (subject, done.stdout)
    assert any("run / quickstart (same python): " in line for line in lines)
    assert any("probe / read-only quickstart (same python): " in line for line in lines)
    assert any(line.startswith("  run ") and "target <= 1.2 s" in line for line in lines)
