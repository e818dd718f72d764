"""One exit-code table for every command; the tool's own failures never exit 0 or 1; a usage
error is 3 from every command; every command's --help lists its codes."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from redcloud_check.cli import SUBCOMMANDS, main
from redcloud_check.cli import probe as probe_cli
from redcloud_check.core.errors import ConfigError, HandlerError, TargetUnreachable, TunnelError
from redcloud_check.core.exit_codes import (
    TABLE,
    ExitCode,
    for_error,
    from_pytest,
    help_text,
    meanings,
    settle,
)

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


@pytest.mark.parametrize("command", [*SUBCOMMANDS, "python -m redcloud_check.simulator"])
def test_every_commands_help_lists_its_exit_codes(command: str) -> None:
    argv = [sys.executable, "-m", "redcloud_check.simulator"] if command.startswith("python") \
        else [*CLI, command]
    proc = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=60,
                          check=True)
    name = "simulate" if command.startswith("python") else command
    rows = help_text(name).splitlines()
    assert rows[0] == "exit codes:" and "exit codes:" in proc.stdout
    for line in rows[1:]:
        assert line in proc.stdout, line
    for code in (*meanings(name), ExitCode.CONFIG_ERROR, ExitCode.INTERNAL_ERROR):
        assert f"\n  {int(code)}  " in proc.stdout, code


def test_every_command_has_its_meanings_and_7_is_always_ours() -> None:
    for command in SUBCOMMANDS:
        table = meanings(command)
        assert table[ExitCode.INTERNAL_ERROR].startswith("internal error: a bug in "
                                                        "redcloud-check")
        assert ExitCode.CONFIG_ERROR in table
    assert meanings("probe")[ExitCode.UNREACHABLE] == TABLE[ExitCode.UNREACHABLE][1]
    assert ExitCode.UNREACHABLE not in meanings("run")


@pytest.mark.parametrize("argv", [
    ["probe", "--no-such-option"], ["probe", "--rc-reports-dir", "x"],
    ["probe", "--timeout", "soon"], ["diff", "--bogus"], ["diff"], ["listen", "--bogus"],
    ["simulate", "--port", "eighty"], ["run", "--no-such-option"], ["no-such-command"], [],
])
def test_a_usage_error_exits_3_with_argparses_message(argv: list[str],
                                                      tmp_path: Path) -> None:
    proc = subprocess.run([*CLI, *argv], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env=clean_env(RC_REPORTS_DIR=str(tmp_path)))
    assert proc.returncode == ExitCode.CONFIG_ERROR, proc.stdout[-2000:] + proc.stderr
    assert "error: " in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert "usage:" in proc.stderr or "usage:" in proc.stdout


def test_the_simulators_module_has_the_same_convention(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "redcloud_check.simulator", "--bogus"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == ExitCode.CONFIG_ERROR
    assert "python -m redcloud_check.simulator: error: unrecognized arguments: --bogus" in \
        proc.stderr


def test_errors_map_by_type() -> None:
    assert for_error(ConfigError("RC_TO", "missing")) == ExitCode.CONFIG_ERROR
    assert for_error(TunnelError("no agent")) == ExitCode.CONFIG_ERROR
    assert for_error(TargetUnreachable("http://x", "refused", "no")) == ExitCode.UNREACHABLE
    assert for_error(HandlerError("simulator", [KeyError("k")])) == ExitCode.INTERNAL_ERROR
    assert for_error(KeyboardInterrupt()) == ExitCode.INTERRUPTED_OR_DEGRADED
    for bug in (KeyError("k"), AssertionError("a"), OSError(5, "io")):
        assert for_error(bug) == ExitCode.INTERNAL_ERROR


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
    assert main(["probe", "--reports-dir", str(tmp_path)]) == ExitCode.INTERNAL_ERROR
    log = tmp_path / "probe.log"
    assert capsys.readouterr().err == (
        "redcloud-check probe: internal error (a bug in redcloud-check, not the API): "
        f"KeyError: 'label' (traceback in {log})\n")
    assert "Traceback (most recent call last)" in log.read_text() and "in broken" in \
        log.read_text()
