"""The README tells the truth: its settings table, commands and plain-pip example are run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from redcloud_check.cli import SUBCOMMANDS
from redcloud_check.core.config import OPTIONS

from .suite_runner import REPO, clean_env

README = (REPO / "README.md").read_text(encoding="utf-8")
CLI = [sys.executable, "-m", "redcloud_check.cli"]


def _table_rows(heading: str) -> list[list[str]]:
    section = README.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines()
            if line.startswith("|") and not line.startswith("|--")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]


def test_settings_table_lists_every_option_with_its_flag() -> None:
    rows = {r[0].strip("`"): r[1].strip("`") for r in _table_rows("Settings")}
    for option in OPTIONS:
        assert rows.get(option.env) == option.flag, f"{option.env} is missing or wrong"
    assert set(rows) - {o.env for o in OPTIONS} == {"NGROK_AUTHTOKEN"}


def test_every_documented_command_exists_and_has_help() -> None:
    block = README.split("## Commands", 1)[1].split("```", 2)[1]
    documented = re.findall(r"^redcloud-check (\w+)", block, flags=re.M)
    assert documented == list(SUBCOMMANDS)
    for command in documented:
        proc = subprocess.run([*CLI, command, "--help"], capture_output=True, text=True,
                              env=clean_env(), timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert "usage:" in proc.stdout
        if command == "run":
            assert all(o.env in proc.stdout for o in OPTIONS), "run --help lists every setting"


def test_architecture_names_every_subpackage() -> None:
    """The README's architecture table and the package's subpackages are the same set."""
    package = REPO / "src" / "redcloud_check"
    found = {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    rows = {r[0].split("`")[1].rstrip("/") for r in _table_rows("Architecture")
            if r[0].startswith("`") and r[0].endswith("/`")}
    assert rows == found
    section = README.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    for command in SUBCOMMANDS:
        assert f"- **{command}**: " in section, f"no data-flow line for {command}"


def test_every_module_stays_small() -> None:
    """The layout keeps one concern per module: none of src/ is over 350 lines."""
    package = REPO / "src" / "redcloud_check"
    sizes = {str(p.relative_to(package)): len(p.read_text("utf-8").splitlines())
             for p in package.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 350} == {}


def test_magic_recipients_match_the_simulator() -> None:
    from redcloud_check.simulator import DELIVERY_OUTCOMES

    rows = _table_rows("The embedded simulator")
    documented = {r[0].strip("`"): r[1] for r in rows if r[0].startswith("`+")}
    assert set(documented) == set(DELIVERY_OUTCOMES)


@pytest.mark.slow
@pytest.mark.parametrize("argv", [["run"], ["run", "-q"]])
def test_run_command_passes_against_the_simulator(tmp_path: Path, argv: list[str]) -> None:
    proc = subprocess.run([*CLI, *argv], capture_output=True, text=True, cwd=REPO,
                          env=clean_env(RC_REPORTS_DIR=str(tmp_path)), timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert f"HTML report: {tmp_path / 'report.html'}" in proc.stdout
    for name in ("report.html", "junit.xml", "escalation.json"):
        assert (tmp_path / name).is_file(), name


@pytest.mark.slow
def test_run_with_a_fault_fails(tmp_path: Path) -> None:
    proc = subprocess.run([*CLI, "run", "-q", "--fault", "send-sms-media-accepted"],
                          capture_output=True, text=True, cwd=REPO,
                          env=clean_env(RC_REPORTS_DIR=str(tmp_path)), timeout=120)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "test_sms_with_media_is_rejected" in proc.stdout


@pytest.mark.slow
def test_run_with_variants_passes(tmp_path: Path) -> None:
    proc = subprocess.run([*CLI, "run", "-q", "--variant", "uuid-ids", "--variant",
                           "reordered-delivery"], capture_output=True, text=True, cwd=REPO,
                          env=clean_env(RC_REPORTS_DIR=str(tmp_path)), timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_every_variant_is_documented() -> None:
    from redcloud_check.simulator.catalog import VARIANTS

    rows = {r[0].strip("`") for r in _table_rows("Conformant variants")}
    assert rows == set(VARIANTS)


def test_own_tests_example_runs(pytester: pytest.Pytester) -> None:
    section = README.split("### In your own tests", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_example=code)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
