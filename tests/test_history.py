"""history.jsonl: each run and each probe against the simulator appends one compact line;
the file stays bounded; report.html draws the last runs as an inline SVG."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from redcloud_check.reporting.history import (
    HISTORY_LIMIT,
    append_history,
    history_entry,
    history_html,
    read_history,
)

from .suite_runner import REPO, run_suite
from .test_probe_cli import run_probe_cli

STAGES = ["token", "whoami", "numbers", "send", "webhooks"]


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run, a failing run, a probe, then a run: all into one reports dir."""
    base = tmp_path_factory.mktemp("history")
    reports = base / "reports"
    assert run_suite(reports).returncode == 0
    assert run_suite(reports, RC_SIM_FAULTS="number-not-active").returncode == 1
    assert run_probe_cli(base).code == 0  # writes to base / "reports"
    assert run_suite(reports).returncode == 0
    return reports


@pytest.mark.slow
def test_each_run_and_probe_appends_one_compact_line(reports: Path) -> None:
    lines = (reports / "history.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4
    entries = [json.loads(line) for line in lines]
    assert all(": " not in line and "\n" not in line for line in lines)  # compact
    assert [e["kind"] for e in entries] == ["run", "run", "probe", "run"]
    assert [e["exit_code"] for e in entries] == [0, 1, 0, 0]
    assert list(entries[0]["stages"]) == STAGES
    assert entries[1]["stages"]["numbers"] == "failed"
    assert entries[1]["stages"]["send"] == "blocked"
    assert entries[2]["stages"] == {"token": "pass", "whoami": "pass", "numbers": "pass"}
    for entry in entries:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
        assert entry["latency_ms"]["GET /api/core/whoami"] > 0
    assert entries[0]["latency_ms"]["PATCH /api/core/numbers/{numberId}"] > 0


@pytest.mark.slow
def test_report_html_draws_the_last_runs_inline(reports: Path) -> None:
    html = (reports / "report.html").read_text(encoding="utf-8")
    svg = html.split('<svg class="rc-history"', 1)[1].split("</svg>", 1)[0]
    assert 'aria-label="last 4 runs: verdict per stage and latency"' in svg
    assert svg.count("<rect ") == 4 * len(STAGES)
    assert svg.count("#c0392b") == 1  # the one failed stage, numbers, of the second run
    assert "<polyline" in svg and "<image" not in svg and "href" not in svg


def test_the_file_keeps_only_the_last_lines(tmp_path: Path) -> None:
    for i in range(8):
        append_history(tmp_path, history_entry(kind="run", time=1e9 + i, run_id=f"r{i}",
                                               exit_code=0, verdict="passed", stages={},
                                               latency_ms={}), limit=5)
    entries = read_history(tmp_path, last=100)
    assert [e["run_id"] for e in entries] == ["r3", "r4", "r5", "r6", "r7"]
    assert HISTORY_LIMIT == 500  # docs/reports.md's figure


def test_the_chart_appears_from_the_second_run(tmp_path: Path) -> None:
    def add(i: int) -> None:
        append_history(tmp_path, history_entry(kind="run", time=1e9 + i, run_id=f"r{i}",
                                               exit_code=0, verdict="passed", stages={},
                                               latency_ms={}))
    assert history_html(tmp_path) == ""  # no history.jsonl at all
    add(0)
    assert history_html(tmp_path) == "", "one run is not a trend"
    add(1)
    assert 'aria-label="last 2 runs: verdict per stage and latency"' in history_html(tmp_path)


def test_concurrent_appends_lose_no_line_and_bad_lines_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "history.jsonl").write_text("not json\n", encoding="utf-8")

    def writer(n: int) -> None:
        for i in range(10):
            append_history(tmp_path, history_entry(
                kind="probe", time=1e9, run_id=f"{n}-{i}", exit_code=0, verdict="healthy",
                stages={"token": "pass"}, latency_ms={"POST /api/auth/token": 1.0}))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = read_history(tmp_path, last=1000)
    assert len(entries) == 40 and len({e["run_id"] for e in entries}) == 40


def test_the_reports_page_documents_the_bound() -> None:
    readme = (REPO / "docs" / "reports.md").read_text(encoding="utf-8")
    assert f"last {HISTORY_LIMIT} lines" in readme


@pytest.mark.slow
def test_a_misconfigured_run_leaves_its_line_too(tmp_path: Path) -> None:
    run = run_suite(tmp_path, RC_TO="5551234567")
    assert run.returncode not in (0, 1)
    (entry,) = read_history(tmp_path)
    assert entry["verdict"] == "misconfigured" and entry["exit_code"] == run.returncode
    assert set(entry["stages"].values()) == {"not_run"} and entry["latency_ms"] == {}
