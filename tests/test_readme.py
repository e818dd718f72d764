"""The README and the docs pages tell the truth: the settings table, the commands, the
tour of a failure and the plain-pip example are checked against the tool, and the README
stays short, linking every page."""

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
DOCS = REPO / "docs"
CLI = [sys.executable, "-m", "redcloud_check.cli"]


def _page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _section(text: str, heading: str) -> str:
    """The text under `## heading` up to the next `## ` heading outside a code block."""
    lines, fenced = [], False
    for line in text.split(f"## {heading}\n", 1)[1].splitlines():
        fenced ^= line.startswith("```")
        if line.startswith("## ") and not fenced:
            break
        lines.append(line)
    return "\n".join(lines)


def _rows(section: str) -> list[list[str]]:
    """The first markdown table's body rows in `section`, as stripped cells."""
    rows = [line for line in section.splitlines()
            if line.startswith("|") and not line.startswith("|--")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]


def _table_rows(heading: str, text: str = README) -> list[list[str]]:
    return _rows(_section(text, heading))


def test_settings_table_lists_every_option_with_its_flag() -> None:
    rows = {r[0].strip("`"): r[1].strip("`")
            for r in _table_rows("Settings", _page("configuration.md"))}
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


def test_architecture_names_every_subpackage_and_module() -> None:
    """docs/architecture.md's table names every subpackage, and every module of each."""
    package = REPO / "src" / "redcloud_check"
    section = _page("architecture.md")
    rows = {r[0].split("`")[1].rstrip("/"): r[1] for r in _rows(section)
            if r[0].startswith("`") and r[0].endswith("/`")}
    found = {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    assert set(rows) == found
    for name in found - {"simulator", "cli"}:  # those two: their own pages and --help
        modules = {m.stem for m in (package / name).glob("*.py") if m.stem != "__init__"}
        missing = {m for m in modules if f"`{m}`" not in rows[name]}
        assert not missing, f"{name}/: {sorted(missing)} not in docs/architecture.md"
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

    rows = _table_rows("Magic recipients", _page("simulator.md"))
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

    rows = {r[0].strip("`") for r in _table_rows("Conformant variants", _page("simulator.md"))}
    assert rows == set(VARIANTS)


@pytest.mark.slow
def test_own_tests_example_runs(pytester: pytest.Pytester) -> None:
    section = _section(_page("simulator.md"), "In your own tests")
    code = section.split("```python", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_example=code)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_readme_reads_in_five_minutes() -> None:
    """At most 200 lines, and it links every page of docs/."""
    assert len(README.splitlines()) <= 200
    linked = set(re.findall(r"\]\(docs/([\w.-]+\.md)\)", README))
    pages = {p.name for p in DOCS.glob("*.md")}
    assert pages - linked == set(), "docs pages the README does not link"
    assert linked - pages == set(), "README links a docs page that does not exist"


def test_every_relative_link_of_the_docs_resolves() -> None:
    """No page links a file (or a page) that is not there; anchors are not checked."""
    for doc in [REPO / "README.md", *DOCS.glob("*.md"), REPO / "monitoring" / "README.md"]:
        text = doc.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" in target:
                continue
            assert (doc.parent / target).exists(), f"{doc.name} links {target}"


TOUR_FAULT = "token-revoked-early"
# What changes from run to run: times, ids, ports, the token's age.
VOLATILE = [(re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"), "<time>"),
            (re.compile(r"req_[0-9a-f]{24}"), "<requestId>"),
            (re.compile(r"\d+\.\d{3} s after"), "<age> s after")]


def _stable(text: str) -> str:
    for pattern, placeholder in VOLATILE:
        text = pattern.sub(placeholder, text)
    return text


@pytest.mark.slow
def test_the_tour_of_a_failure_is_a_real_excerpt(tmp_path: Path) -> None:
    """Every line of the README's two excerpts appears in a run of the command it names:
    the terminal's in its output, the ticket's in its escalation.md."""
    tour = _section(README, "How to read a failure")
    assert f"`redcloud-check run --fault {TOUR_FAULT}`" in tour
    terminal, ticket = (block.split("\n", 1)[1] for block in tour.split("```")[1:4:2])
    proc = subprocess.run([*CLI, "run", "--fault", TOUR_FAULT], capture_output=True,
                          text=True, cwd=tmp_path, env=clean_env(), timeout=120)
    assert proc.returncode == 1, proc.stdout[-3000:]
    out = _stable(proc.stdout)
    for line in terminal.splitlines():
        assert _stable(line) in out, f"not in the run's output: {line}"
    md = _stable((tmp_path / "reports" / "escalation.md").read_text(encoding="utf-8"))
    for line in ticket.splitlines():
        assert _stable(line) in md, f"not in escalation.md: {line}"
