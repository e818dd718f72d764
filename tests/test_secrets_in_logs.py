"""No secret appears in the terminal or the reports at any verbosity (issue: hardening).

The suite runs with every knob that prints more: -vv, --showlocals, long tracebacks, -rA,
live DEBUG logging, and faults that make checks fail. The scan covers the client secret,
the webhook secret, the base64 Basic credential and every token the target issued.
"""

from __future__ import annotations

import base64
import json
import re
from importlib.resources import files
from pathlib import Path
from secrets import token_hex

import pytest

from redcloud_check.simulator import Simulator

from .leaks import assert_no_secret
from .suite_runner import run_suite

LOUD = ("-vv", "-l", "--tb=long", "-rA", "--log-level=DEBUG", "-o", "log_cli=true",
        "--log-cli-level=DEBUG", "--capture=no")
CLIENT_ID = "rc_test_client_123"
TOKEN = re.compile(r"rc_tok_[A-Za-z0-9_\-]{8,}")


def _scan_reports(reports: Path, secrets: list[str]) -> None:
    files_seen = [p for p in reports.rglob("*") if p.is_file()]
    assert files_seen
    for path in files_seen:
        assert_no_secret(path.read_bytes(), secrets, str(path.name))


@pytest.mark.slow
@pytest.mark.parametrize("faults", [
    ("send-idempotency-optional", "webhook-wrong-secret"),
    ("token-wrong-secret-accepted", "core-accepts-malformed-token"),
])
def test_loud_remote_run_leaks_nothing(tmp_path: Path, faults: tuple[str, ...]) -> None:
    seed = json.loads(files("redcloud_check.simulator").joinpath("seed.json").read_text())
    client = seed["clients"][0]
    secret, webhook = f"cs-{token_hex(12)}", f"wh-{token_hex(12)}"
    client["clientSecret"], client["webhookSecret"] = secret, webhook
    with Simulator(seed=seed, faults=faults) as sim:
        run = run_suite(tmp_path, *LOUD, RC_BASE_URL=sim.base_url, RC_CLIENT_ID=CLIENT_ID,
                        RC_CLIENT_SECRET=secret, RC_NUMBER_ID="num_abc123",
                        RC_TO="+15551234567", RC_WEBHOOK_SECRET=webhook, RC_ALLOW_SEND="1",
                        RC_WEBHOOK_TIMEOUT="3")
        tokens = sim.issued_tokens
    assert run.returncode == 1, run.stdout[-3000:]
    assert "DEBUG" in run.stdout, "live DEBUG logging was on"
    basic = base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode()
    secrets = [secret, webhook, basic, *tokens]
    assert len(tokens) >= 2
    assert_no_secret(run.stdout + run.stderr, secrets, "terminal output")
    _scan_reports(tmp_path, secrets)


@pytest.mark.slow
def test_loud_embedded_run_leaks_nothing(tmp_path: Path) -> None:
    run = run_suite(tmp_path, *LOUD, RC_SIM_FAULTS="send-sms-media-accepted")
    assert run.returncode == 1, run.stdout[-3000:]
    basic = base64.b64encode(f"{CLIENT_ID}:rc_secret_abc123".encode()).decode()
    output = run.stdout + run.stderr
    assert_no_secret(output, ["rc_secret_abc123", basic], "terminal output")
    assert TOKEN.search(output) is None, "an issued token reached the terminal"
    for path in tmp_path.rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            assert_no_secret(text, ["rc_secret_abc123", basic], path.name)
            assert TOKEN.search(text.decode("utf-8", "replace")) is None, path.name


@pytest.mark.slow
def test_log_records_are_redacted_during_a_run(pytester: pytest.Pytester,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that logs the client secret, its token and RC_TO outright still leaks none
    of them."""
    monkeypatch.setenv("RC_TO", "+15559876543")
    pytester.makeini("[pytest]\nrc_suite = true\n")
    pytester.makepyfile(test_logs='''
        import logging

        from redcloud_check.suite.declare import check

        @check("RC-TOKEN-01", clause="c")
        def test_logs_secrets(rc):
            exchange, token = rc.tokens.acquire()
            log = logging.getLogger("integration")
            log.warning("secret=%s token=%s", rc.settings.client_secret, token.value)
            log.warning("raw " + token.value)
            log.warning("sending to %s", rc.settings.to)
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--log-level=DEBUG",
                                           "-o", "log_cli=true", "--log-cli-level=DEBUG")
    result.assert_outcomes(passed=1)
    output = "\n".join(result.outlines + result.errlines)
    assert "[redacted" in output
    assert "rc_secret_abc123" not in output
    assert TOKEN.search(output) is None
    assert "sending to +1" in output and "+15559876543" not in output
