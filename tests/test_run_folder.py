"""Reports belong to the run: each run's own folder, the documented paths of the latest run,
nothing of an earlier run presented as this one's, and the paths printed are this run's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from redcloud_check.reporting.run_folder import DOCUMENTED, prune, publish, start_run

from .suite_runner import REPO, clean_env, read_junit, run_suite

CLI = [sys.executable, "-m", "redcloud_check.cli"]
JOURNAL = ".webhook-override-journal.json"


def _fake_run(reports: Path, run_id: str, text: str) -> None:
    folder = start_run(reports, run_id)
    for name in DOCUMENTED:
        folder.artifact(name).write_text(f"{text} {name}")
    publish(folder, DOCUMENTED)


def test_a_new_run_removes_the_copies_and_keeps_the_originals(tmp_path: Path) -> None:
    _fake_run(tmp_path, "20260101T000000Z-aaaaaa", "first")
    assert (tmp_path / "junit.xml").read_text() == "first junit.xml"
    start_run(tmp_path, "20260101T000001Z-bbbbbb")
    assert not any((tmp_path / n).exists() for n in DOCUMENTED), "no copy of run 1 is left"
    assert (tmp_path / "runs/20260101T000000Z-aaaaaa/junit.xml").read_text() == \
        "first junit.xml"


def test_files_of_unknown_origin_are_moved_aside_never_lost(tmp_path: Path) -> None:
    (tmp_path / "escalation.json").write_text("from an older version")
    (tmp_path / JOURNAL).write_text("{}")
    folder = start_run(tmp_path, "20260101T000001Z-bbbbbb")
    assert not (tmp_path / "escalation.json").exists()
    aside = [p for p in (tmp_path / "runs").iterdir() if p.name.endswith("-earlier")]
    assert len(aside) == 1 and (aside[0] / "escalation.json").read_text() == \
        "from an older version"
    assert (tmp_path / JOURNAL).read_text() == "{}", "the override journal is never touched"
    assert folder.path.is_dir()


def test_prune_keeps_the_newest_and_never_the_current(tmp_path: Path) -> None:
    for i in range(5):
        _fake_run(tmp_path, f"20260101T00000{i}Z-aaaaaa", str(i))
    removed = prune(tmp_path, 2, current="20260101T000004Z-aaaaaa")
    assert [p.name for p in removed] == [f"20260101T00000{i}Z-aaaaaa" for i in range(3)]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "20260101T000003Z-aaaaaa", "20260101T000004Z-aaaaaa"]


def test_prune_never_removes_a_protected_run_and_counts_it(tmp_path: Path) -> None:
    """A replay's run is protected: kept, and counted towards `keep`."""
    names = [f"20260101T00000{i}Z-aaaaaa" for i in range(5)]
    for i, name in enumerate(names):
        _fake_run(tmp_path, name, str(i))
    removed = prune(tmp_path, 3, current=names[4], protect=[names[0], "not-a-folder"])
    assert [p.name for p in removed] == names[1:3]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [names[0], *names[3:]]


def _printed(stdout: str) -> dict[str, Path]:
    return {m[1]: Path(m[2]) for m in re.finditer(r"^(HTML report|JUnit XML|Escalation bundle|"
                                                  r"Ticket text): (.+)$", stdout, re.M)}


@pytest.mark.slow
def test_run_with_reports_dir_option_twice_prints_that_dirs_files(tmp_path: Path) -> None:
    reports = tmp_path / "DIR"
    run_ids = []
    for _ in range(2):
        proc = subprocess.run([*CLI, "run", "--rc-reports-dir", str(reports)],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path,
                              env=clean_env())
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
        printed = _printed(proc.stdout)
        assert set(printed) == {"HTML report", "JUnit XML", "Escalation bundle", "Ticket text"}
        assert all(p.parent == reports.resolve() and p.is_file() for p in printed.values())
        run_id = json.loads((reports / "escalation.json").read_text())["run"]["run_id"]
        assert f"This run's evidence (kept): {reports.resolve() / 'runs' / run_id}" \
            in proc.stdout
        run_ids.append(run_id)
    assert not (tmp_path / "reports").exists(), "nothing went to ./reports"
    assert sorted(p.name for p in (reports / "runs").iterdir()) == sorted(run_ids)
    for run_id in run_ids:  # the first run's evidence survived the second
        doc = json.loads((reports / "runs" / run_id / "escalation.json").read_text())
        assert doc["run"]["run_id"] == run_id


@pytest.mark.slow
def test_reports_dir_from_dotenv_is_the_one_printed(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("RC_REPORTS_DIR=from-dotenv\n")
    proc = subprocess.run([*CLI, "run", "-q", "-k", "token"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=clean_env())
    assert proc.returncode == 0, proc.stdout[-3000:]
    printed = _printed(proc.stdout)
    assert printed and all(p.parent == (tmp_path / "from-dotenv").resolve()
                           for p in printed.values())


@pytest.mark.slow
def test_a_misconfigured_run_never_presents_an_older_report(tmp_path: Path) -> None:
    good = run_suite(tmp_path)
    assert good.returncode == 0 and (tmp_path / "report.html").is_file()
    bad = run_suite(tmp_path, RC_TO="5551234567")
    assert bad.returncode == 3
    assert not (tmp_path / "report.html").exists(), "the previous run's report is gone"
    doc = json.loads((tmp_path / "escalation.json").read_text())
    assert doc["summary"]["verdict"] == "misconfigured"
    printed = _printed(bad.stderr)
    assert "HTML report" not in printed and printed, bad.stderr
    assert all(p.is_file() for p in printed.values())
    assert len(list((tmp_path / "runs").iterdir())) == 2, "the good run's evidence is kept"


@pytest.mark.slow
def test_keep_runs_prunes_by_count(tmp_path: Path) -> None:
    for _ in range(3):
        assert run_suite(tmp_path, "-k", "token", RC_KEEP_RUNS="2").returncode == 0
    assert len(list((tmp_path / "runs").iterdir())) == 2


@pytest.mark.slow
def test_a_test_path_still_selects_checks(tmp_path: Path) -> None:
    proc = subprocess.run([*CLI, "run", "--rc-reports-dir", str(tmp_path),
                           str(REPO / "checks" / "test_01_token.py")], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path, env=clean_env())
    assert proc.returncode == 0, proc.stdout[-3000:]
    token_checks = len(read_junit(tmp_path / "junit.xml"))
    assert token_checks >= 7 and {c.stage for c in read_junit(tmp_path / "junit.xml")} == {
        "token"}
    assert re.search(rf"\b{token_checks} passed\b", proc.stdout) and "test_02" not in proc.stdout
    assert os.path.isdir(tmp_path / "runs")
