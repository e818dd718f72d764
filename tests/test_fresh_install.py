"""tests/fresh_install.py, the new user's install on every Python (run by .ci/run): which
interpreters it checks, and what it reads from a run's output."""

from __future__ import annotations

import sys
from pathlib import Path

from .fresh_install import MINIMUM, declared_versions, interpreters, summary_line


def test_each_interpreter_is_checked_once_whatever_names_it(tmp_path: Path) -> None:
    link = tmp_path / "python3"
    link.symlink_to(sys.executable)
    found = interpreters([sys.executable, str(link), str(tmp_path / "no-such-python")])
    assert [i.version for i in found] == [tuple(sys.version_info[:3])]
    assert found[0].path == str(Path(sys.executable).resolve())


def test_the_summary_is_pytests_closing_line() -> None:
    output = "....\nTicket text: x\n======= 58 passed, 2 skipped in 0.70s =======\n"
    assert summary_line(output) == "58 passed, 2 skipped in 0.70s"
    assert summary_line("Traceback ...\n") == "(no pytest summary)"


def test_the_declared_versions_are_read_from_the_classifiers() -> None:
    declared = declared_versions()
    assert min(declared) == MINIMUM  # requires-python's floor is a version we check
    assert (3, 13) in declared
