"""One exit-code table for run and probe; the tool's own failures never exit 0 or 1."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from redcloud_check.cli import probe as probe_cli
from redcloud_check.core.exit_codes import TABLE, ExitCode, from_pytest, help_text, settle

from .suite_runner import REPO, clean_env, run_suite

CLI = [sys.executable, "-m", "redcloud_check.cli"]


def test_settle_puts_missing_evidence_then_internal_errors_over_any_verdict() -> None:
    assert settle(0) == 0 and settle(1) == 1
    assert settle(0, internal_errors=1) == ExitCode.INTERNAL_ERROR
    assert settle(1, internal_errors=2) == ExitCode.INTERNAL_ERROR
    assert settle(0, internal_errors=1, missing_artifacts=1) == ExitCode.EVIDENCE_INCOMPLETE
    assert settle(ExitCode.CONFIG_ERROR, missing_artifacts=3) == ExitCode.CONFIG_ERROR


def test_pytest_codes_map_onto_the_table() -> None:
    assert from_pytest(pytest.ExitCode.INTERNAL_ERROR) == ExitCode.INTERNAL_ERROR
    assert from_pytest(pytest.ExitCode.USAGE_ERROR) == ExitCode.CONFIG_ERROR
    for same in (0, 1, 2, 5):
        assert from_pytest(same) == same


def test_readme_table_is_the_table() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| code")]
    assert {int(r[0]): (r[1], r[2]) for r in rows} == {int(k): v for k, v in TABLE.items()}


@pytest.mark.parametrize("command", ["run", "probe"])
def test_help_shows_the_commands_column(command: str) -> None:
    proc = subprocess.run([*CLI, command, "--help"], capture_output=True, text=True,
                          timeout=60, check=True)
    for line in help_text(command).splitlines()[1:]:
        assert line in proc.stdout, line


@pytest.mark.slow
def test_configuration_error_is_3_from_run_and_probe(tmp_path: Path) -> None:
    run = run_suite(tmp_path / "run", RC_TO="5551234567")
    assert run.returncode == ExitCode.CONFIG_ERROR, run.stderr
    probe = subprocess.run([*CLI, "probe", "--canary"], capture_output=True, text=True,
                           timeout=60, cwd=tmp_path,
                           env=clean_env(RC_BASE_URL="http://127.0.0.1:9", RC_CLIENT_ID="c",
                                         RC_CLIENT_SECRET="s", RC_NUMBER_ID="num_1"))
    assert probe.returncode == ExitCode.CONFIG_ERROR, probe.stderr


@pytest.mark.slow
def test_a_run_whose_escalation_could_not_be_written_exits_6_naming_it(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "-p", "tests.plugins.break_escalation")
    output = run.stdout + run.stderr
    assert run.returncode == ExitCode.EVIDENCE_INCOMPLETE, output[-3000:]
    assert "evidence incomplete: escalation.json was not written" in run.stdout
    assert "redcloud-check internal error" in run.stdout  # and why
    assert not (tmp_path / "escalation.json").exists()


@pytest.mark.slow
def test_an_internal_error_never_exits_0_even_when_every_check_passed(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "-p", "tests.plugins.break_timeline")
    assert run.returncode == ExitCode.INTERNAL_ERROR, run.stdout[-3000:]
    assert not run.failed and run.by_outcome("passed"), "every check itself passed"
    assert "redcloud-check internal error (a bug in redcloud-check, not the API): evidence for" \
        in run.stdout
    json.loads((tmp_path / "escalation.json").read_text())  # the evidence is all there


@pytest.mark.slow
def test_the_cli_run_passes_the_code_through(tmp_path: Path) -> None:
    proc = subprocess.run([*CLI, "run", "-p", "tests.plugins.break_timeline", "-q"],
                          capture_output=True, text=True, timeout=120, cwd=REPO,
                          env=clean_env(RC_REPORTS_DIR=str(tmp_path)))
    assert proc.returncode == ExitCode.INTERNAL_ERROR, proc.stdout[-3000:]


def _probe_args(reports: Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    probe_cli.configure_parser(parser)
    return parser.parse_args(["--reports-dir", str(reports)])


def test_probe_that_cannot_write_probe_json_exits_6(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code = probe_cli.run(_probe_args(blocker / "reports"))
    err = capsys.readouterr().err
    assert code == ExitCode.EVIDENCE_INCOMPLETE
    assert "evidence incomplete: probe.json was not written" in err


def test_probe_internal_error_exits_7_not_unhealthy(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_: argparse.Namespace) -> None:
        raise KeyError("label")

    monkeypatch.setattr(probe_cli, "_probe", broken)
    assert probe_cli.run(_probe_args(tmp_path)) == ExitCode.INTERNAL_ERROR
    assert "internal error (a bug in redcloud-check, not the API): KeyError" in \
        capsys.readouterr().err
