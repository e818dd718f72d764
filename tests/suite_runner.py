"""Run the conformance suite in a subprocess, as a user would, and read its junit.xml."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RC_VARS = ("RC_", "NGROK_AUTHTOKEN")


@dataclass(frozen=True, slots=True)
class CaseResult:
    name: str  # e.g. checks.test_01_token::test_basic_credentials_issue_a_bearer_token
    stage: str
    outcome: str  # passed | failed | error | skipped
    message: str


@dataclass(frozen=True, slots=True)
class SuiteRun:
    returncode: int
    stdout: str
    stderr: str
    reports: Path
    cases: tuple[CaseResult, ...]

    def by_outcome(self, outcome: str) -> list[CaseResult]:
        return [c for c in self.cases if c.outcome == outcome]

    @property
    def failed(self) -> list[CaseResult]:
        return [c for c in self.cases if c.outcome in ("failed", "error")]


def clean_env(**overrides: str) -> dict[str, str]:
    """The current environment without any RC_* setting, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(RC_VARS)}
    env.update(overrides)
    return env


def run_suite(reports: Path, *args: str, timeout: float = 120, cwd: Path = REPO,
              **env: str) -> SuiteRun:
    env.setdefault("RC_REPORTS_DIR", str(reports))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO / "pytest.ini"), "--rootdir", str(REPO),
         str(REPO / "checks"), *args],
        cwd=cwd, env=clean_env(**env), capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return SuiteRun(proc.returncode, proc.stdout, proc.stderr, reports,
                    read_junit(reports / "junit.xml"))


def read_junit(path: Path) -> tuple[CaseResult, ...]:
    if not path.is_file():
        return ()
    cases = []
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
                # the message attribute (a failure's id and title), then the element's text
                message = "\n".join(t for t in (node.get("message"), node.text) if t)
                break
        cases.append(CaseResult(f"{case.get('classname')}::{case.get('name')}",
                                props.get("rc_stage") or "", outcome, message))
    return tuple(cases)
