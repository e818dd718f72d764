"""An unreachable or misbehaving target gives a diagnosis and a report, never a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .bad_targets import NO_DNS_SITECUSTOMIZE, bad_target, closed_port_url, full_backlog
from .suite_runner import SuiteRun, run_suite

REMOTE = {"RC_CLIENT_ID": "rc_test_client_123", "RC_CLIENT_SECRET": "rc_secret_abc123",
          "RC_NUMBER_ID": "num_abc123"}


def _assert_diagnosed(run: SuiteRun, words: str) -> None:
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    gate = next(c for c in run.cases
                if c.name.endswith("test_basic_credentials_issue_a_bearer_token"))
    assert gate.outcome == "failed"
    assert words.lower() in (gate.message + output).lower(), output[-3000:]
    later = [c for c in run.cases if c.stage in ("whoami", "numbers", "send")]
    assert later and all(c.outcome == "skipped" for c in later)
    assert (run.reports / "junit.xml").is_file()
    assert (run.reports / "report.html").is_file()


@pytest.mark.slow
def test_connection_refused(tmp_path: Path) -> None:
    run = run_suite(tmp_path, RC_BASE_URL=closed_port_url(), **REMOTE)
    _assert_diagnosed(run, "unreachable (refused)")


@pytest.mark.slow
def test_dns_failure_without_any_real_lookup(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_DNS_SITECUSTOMIZE)
    run = run_suite(tmp_path / "reports", RC_BASE_URL="https://api.redcloud.invalid",
                    PYTHONPATH=str(site), **REMOTE)
    _assert_diagnosed(run, "unreachable (dns)")


@pytest.mark.slow
def test_read_timeout_is_bounded_by_rc_timeout(tmp_path: Path) -> None:
    with bad_target("hang") as url:
        started = time.monotonic()
        run = run_suite(tmp_path, RC_BASE_URL=url, RC_TIMEOUT="0.5", **REMOTE)
        elapsed = time.monotonic() - started
    _assert_diagnosed(run, "unreachable (timeout)")
    # One wait for the gate; every later check is blocked instead of waiting again.
    assert elapsed < 15, f"the run took {elapsed:.1f}s"


@pytest.mark.slow
def test_connect_timeout_is_bounded_by_rc_timeout(tmp_path: Path) -> None:
    with full_backlog() as url:
        started = time.monotonic()
        run = run_suite(tmp_path, RC_BASE_URL=url, RC_TIMEOUT="0.5", **REMOTE)
        elapsed = time.monotonic() - started
    _assert_diagnosed(run, "unreachable (timeout)")
    assert "ConnectTimeout" in run.stdout
    assert elapsed < 15, f"the run took {elapsed:.1f}s"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("html-502", "HTTP 502"),
        ("not-json-200", "Content-Type: text/plain"),
        ("redirect", "redirect to http://127.0.0.1:9/moved"),
        ("truncated", "unreachable (truncated)"),
    ],
)
def test_misbehaving_target(tmp_path: Path, mode: str, words: str) -> None:
    with bad_target(mode) as url:
        run = run_suite(tmp_path, RC_BASE_URL=url, **REMOTE)
    _assert_diagnosed(run, words)
