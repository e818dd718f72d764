"""Waivers: known deviations accepted until a date. The suite and the probe run over real HTTP
against the simulator with a fault the waiver accepts; the file's errors name the line."""

from __future__ import annotations

import ast
import json
from datetime import date
from pathlib import Path

import pytest

from redcloud_check.core.errors import ConfigError
from redcloud_check.core.waivers import WaiverBook, find_waivers_file, load_waivers
from redcloud_check.reporting.artifacts import validate_escalation
from redcloud_check.results.catalog import stage_of
from redcloud_check.rules.stages import STAGES

from .suite_runner import REPO, SuiteRun, run_suite
from .test_probe_cli import run_probe_cli

GATE = "test_api_client_is_active"
PASSING = "checks/test_01_token.py::test_token_response_matches_schema"
FAULT = "whoami-client-inactive"


def waiver_file(tmp: Path, *tables: tuple[str, str, str], name: str = "waivers.toml") -> Path:
    path = tmp / name
    path.write_text("# accepted deviations\n" + "".join(
        f'\n[[waiver]]\ncheck = "{check}"\nreason = "{reason}"\nexpires = {expires}\n'
        for check, reason, expires in tables), encoding="utf-8")
    return path


# -- the file ---------------------------------------------------------------------------------

def test_a_valid_file_is_read_with_each_waivers_line(tmp_path: Path) -> None:
    path = waiver_file(tmp_path, (GATE, "SUP-1", "2030-01-31"), (PASSING, "SUP-2", "2030-02-01"))
    first, second = load_waivers(path)
    assert (first.check, first.reason, first.expires, first.index) == (
        GATE, "SUP-1", date(2030, 1, 31), 1)
    assert (first.line, second.line) == (3, 8)
    assert second.matches(PASSING, "test_token_response_matches_schema")
    assert first.matches("checks/test_02_whoami.py::test_api_client_is_active", GATE)
    assert not first.expired(date(2030, 1, 31)) and first.expired(date(2030, 2, 1))


@pytest.mark.parametrize(("text", "named"), [
    ('[[waiver]]\ncheck = "x"\nreason = y\nexpires = 2030-01-01\n', "line 3"),
    ('[[waiver]]\ncheck = "x"\nreason = "y"\nexpires = 2030-01-01\n\n[[waiver]]\n'
     'check = "z"\nreason = "r"\nexpires = "2030-01-01"\n', ":6: waiver #2: 'expires'"),
    ('\n\n[[waiver]]\ncheck = "x"\nexpires = 2030-01-01\n', ":3: waiver #1: 'reason'"),
    ('[[waiver]]\ncheck = "x"\nreason = "y"\nexpire = 2030-01-01\n', ":1: waiver #1: unknown"),
    ('[[waiver]]\ncheck = "x"\nreason = "y"\nexpires = 2030-01-01\n[[waiver]]\ncheck = "x"\n'
     'reason = "z"\nexpires = 2030-01-01\n', ":5: waiver #2 names 'x' again"),
    ('check = "x"\n', "unknown top-level key(s) check"),
])
def test_a_malformed_file_is_a_configuration_error_naming_the_line(
        tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "w.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_waivers(path)
    assert caught.value.setting == "RC_WAIVERS"
    assert named in str(caught.value)


def test_the_default_file_is_used_when_present_and_a_named_one_must_exist(
        tmp_path: Path) -> None:
    assert find_waivers_file(None, tmp_path) is None
    default = waiver_file(tmp_path, (GATE, "r", "2030-01-01"), name="redcloud-waivers.toml")
    assert find_waivers_file(None, tmp_path) == default
    with pytest.raises(ConfigError, match="RC_WAIVERS: no such file"):
        find_waivers_file(str(tmp_path / "missing.toml"), tmp_path)


def test_each_stage_names_its_gate_check() -> None:
    """Each stage's gate id is a declared check of that stage."""
    declared = set()
    for path in sorted((REPO / "checks").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "check":
                declared.add(ast.literal_eval(node.args[0]))
    assert {s.gate_id for s in STAGES} <= declared
    assert [stage_of(s.gate_id) for s in STAGES] == [s.name for s in STAGES]


# -- the suite --------------------------------------------------------------------------------

def _run_waiving_the_gate_and_a_passing_check(tmp_path: Path, gate_reason: str,
                                              passing_reason: str, expires: str) -> SuiteRun:
    """The suite against FAULT (whoami's gate fails), with waivers for that gate and for a
    check that passes anyway; escalation.json and the other reports in tmp_path/reports."""
    path = waiver_file(tmp_path, (GATE, gate_reason, expires), (PASSING, passing_reason, expires))
    return run_suite(tmp_path / "reports", RC_SIM_FAULTS=FAULT, RC_WAIVERS=str(path))


@pytest.mark.slow
def test_a_waived_failure_passes_the_run_everywhere_and_does_not_block(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    run = _run_waiving_the_gate_and_a_passing_check(tmp_path, "SUP-1234 client migration",
                                                    "SUP-77 fixed since", "2099-12-31")
    assert run.returncode == 0, run.stdout[-3000:]
    gate = next(c for c in run.cases if c.name.endswith(GATE))
    assert gate.outcome == "skipped" and gate.message.startswith("waived: SUP-1234")
    assert "waiver #1" in gate.message
    numbers = [c for c in run.cases if c.stage == "numbers"]
    assert numbers and {c.outcome for c in numbers} == {"passed"}  # not blocked by whoami
    assert "1 waived" in run.stdout and "waived:  checks/test_02_whoami.py" in run.stdout
    assert "SUP-1234 client migration" in run.stdout
    assert "warning: Waiver is stale" in run.stdout

    doc = json.loads((reports / "escalation.json").read_text(encoding="utf-8"))
    validate_escalation(doc)
    summary = doc["summary"]
    assert summary["verdict"] == "passed" and summary["counts"]["waived"] == 1
    assert {s["name"]: s["verdict"] for s in summary["stages"]}["whoami"] == "waived"
    assert [(w["check"], w["reason"]) for w in summary["waivers"]["waived"]] == [
        (GATE, "SUP-1234 client migration")]
    assert [w["nodeid"] for w in summary["waivers"]["stale"]] == [PASSING]
    assert any("stale" in w["title"] and w["check"] == PASSING for w in summary["warnings"])
    html = (reports / "report.html").read_text(encoding="utf-8")
    assert "rc-waivers" in html and "SUP-1234 client migration" in html
    ticket = (reports / "escalation.md").read_text(encoding="utf-8")
    assert "## Waived" in ticket and f"{GATE}`: SUP-1234 client migration" in ticket


@pytest.mark.slow
def test_an_expired_waiver_is_a_failure_that_says_so(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    run = _run_waiving_the_gate_and_a_passing_check(tmp_path, "SUP-1234", "SUP-77", "2020-01-01")
    assert run.returncode == 1, run.stdout[-3000:]
    passing = next(c for c in run.cases if c.name.endswith(PASSING.rpartition("::")[2]))
    assert passing.outcome == "passed"  # an expired waiver on a passing check fails nothing
    gate = next(c for c in run.cases if c.name.endswith(GATE))
    assert gate.outcome == "failed"
    assert "expired" in gate.message and "waiver #1" in gate.message
    assert f"for '{GATE}' expired on 2020-01-01" in run.stdout
    doc = json.loads((reports / "escalation.json").read_text(encoding="utf-8"))
    assert [w["check"] for w in doc["summary"]["waivers"]["expired"]] == [GATE]
    assert [w["check"] for w in doc["summary"]["waivers"]["stale"]] == [PASSING]
    assert any("is expired and stale" in w["detail"] for w in doc["summary"]["warnings"])
    assert {c.outcome for c in run.cases if c.stage == "numbers"} == {"skipped"}  # blocked


@pytest.mark.slow
def test_the_default_file_in_the_current_directory_is_read(tmp_path: Path) -> None:
    waiver_file(tmp_path, (GATE, "SUP-9", "2099-12-31"), name="redcloud-waivers.toml")
    run = run_suite(tmp_path / "reports", RC_SIM_FAULTS=FAULT, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "SUP-9" in run.stdout


@pytest.mark.slow
def test_a_malformed_waiver_file_stops_the_run_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text('[[waiver]]\ncheck = "x"\nreason = "y"\nexpires = "soon"\n', "utf-8")
    run = run_suite(tmp_path / "reports", RC_WAIVERS=str(path))
    assert run.returncode not in (0, 1)
    output = run.stdout + run.stderr
    assert f"configuration error: RC_WAIVERS: {path}:1: waiver #1: 'expires'" in output
    assert "Traceback" not in output


# -- the probe --------------------------------------------------------------------------------

def test_the_probe_reports_a_waived_stage_and_stays_healthy(tmp_path: Path) -> None:
    path = waiver_file(tmp_path, (GATE, "SUP-1234", "2099-12-31"))
    run = run_probe_cli(tmp_path, "--fault", FAULT, RC_WAIVERS=str(path))
    assert run.code == 0, run.stdout + run.stderr
    stages = {s["stage"]: s for s in run.summary["stages"]}
    assert stages["whoami"]["verdict"] == "waived"
    assert stages["whoami"]["waiver"].startswith("waived: SUP-1234")
    assert stages["numbers"]["verdict"] == "pass"  # not blocked
    assert run.probe_json is not None
    assert [w["reason"] for w in run.probe_json["waivers"]["waived"]] == ["SUP-1234"]
    assert run.metrics[("redcloud_probe_success", None)] == 1


def test_the_probe_fails_under_an_expired_waiver_saying_so(tmp_path: Path) -> None:
    path = waiver_file(tmp_path, (GATE, "SUP-1234", "2020-01-01"))
    run = run_probe_cli(tmp_path, "--fault", FAULT, RC_WAIVERS=str(path))
    assert run.code == 1
    whoami = next(s for s in run.summary["stages"] if s["stage"] == "whoami")
    assert whoami["verdict"] == "fail" and "expired on 2020-01-01" in whoami["waiver"]


def test_a_waiver_never_hides_a_missing_answer(tmp_path: Path) -> None:
    from .bad_targets import closed_port_url
    from .test_probe_cli import REMOTE

    path = waiver_file(tmp_path, (STAGES[0].gate_id, "SUP-1", "2099-12-31"))
    run = run_probe_cli(tmp_path, RC_BASE_URL=closed_port_url(), RC_WAIVERS=str(path),
                        **REMOTE)
    assert run.code == 4 and run.summary["stages"][0]["verdict"] == "unreachable"


def test_the_book_summarizes_every_use() -> None:
    book = WaiverBook()
    assert book.summary() == {"file": None, "waived": [], "expired": [], "stale": []}


def test_a_malformed_waiver_file_is_a_probe_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text('[[waiver]]\ncheck = "x"\nreason = "y"\nexpires = 2030-01-01\n\n'
                    '[[waiver]]\ncheck = "z"\nreason = "r"\n', "utf-8")
    run = run_probe_cli(tmp_path, RC_WAIVERS=str(path))
    assert run.code == 3 and run.summary["status"] == "config_error"
    assert f"RC_WAIVERS: {path}:6: waiver #2: 'expires' is missing" in run.stderr
