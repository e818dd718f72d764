"""Redaction survives any secret: a run against the simulator seeded with that secret writes
valid evidence, has no internal error, and leaks the secret nowhere it stood as a value.

Hypothesis draws secrets of 1 to 200 characters: unicode, `:`, `&=%+`, quotes, backslashes,
and words that occur in our own output and JSON keys. Each example is a real suite run in a
subprocess against a real simulator over HTTP on loopback (about 2 s), so the property runs
a few dozen examples, deadline off.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from redcloud_check.reporting.artifacts import validate_escalation
from redcloud_check.simulator import Simulator
from redcloud_check.simulator.seed import DEFAULT_SEED

from .leaks import assert_no_value_leak, run_texts
from .suite_runner import SuiteRun, run_suite

CLIENT_ID = "rc_test_client_123"
# Words of our own output and JSON keys: a secret equal to one must corrupt nothing.
WORDS = ["b", "test", "status", "label", "true", "pytest", "passed", "token", "name",
         "stage", "verdict", "checks", "null", "QUEUED", "ACTIVE", "redacted", "json",
         "client_secret", "grant_type", "e", "1", "http", "Basic", "report"]
PIECES = [":", "&", "=", "%", "+", "&=%+", '"', "'", "\\", "é", "☃", "日本", " ", "%2B", "\\u00e9"]
SECRETS = st.one_of(
    st.sampled_from(WORDS),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=200),
    st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(PIECES),
                       st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1,
                               max_size=4)),
             min_size=1, max_size=12).map("".join),
).map(lambda s: s[:200]).filter(lambda s: s.strip() == s and s != "")
# The token stage's body-credentials check fails under this fault: its bundle then carries
# the form body with client_secret=<the secret>, its curl and the replay.
BODY_FAULT = "token-body-credentials-rejected"


def seeded_run(tmp: Path, secret: str, fault: str | None = None) -> SuiteRun:
    """The suite against a simulator whose seed file gives the client `secret` as its
    client secret and webhook secret (a sending run: all five stages)."""
    seed = json.loads(DEFAULT_SEED.read_text(encoding="utf-8"))
    seed["clients"][0].update(clientSecret=secret, webhookSecret=secret)
    seed_file = tmp / "seed.json"
    seed_file.write_text(json.dumps(seed, ensure_ascii=False), encoding="utf-8")
    with Simulator(seed=seed_file, faults=[fault] if fault else []) as sim:
        return run_suite(tmp / "reports", RC_BASE_URL=sim.base_url, RC_CLIENT_ID=CLIENT_ID,
                         RC_CLIENT_SECRET=secret, RC_WEBHOOK_SECRET=secret,
                         RC_NUMBER_ID="num_abc123", RC_TO="+15551234567", RC_ALLOW_SEND="1",
                         RC_WEBHOOK_TIMEOUT="5")


@cache
def our_own_text() -> str:
    """Everything a run with the docs' secret writes and prints: a secret found in it is a
    word of our own output (a check name, a field name), so finding it in a text is no leak
    (where it stood as a value is still checked)."""
    tmp = Path(tempfile.mkdtemp(prefix="rc-baseline-"))
    try:
        run = seeded_run(tmp, "rc_secret_abc123", BODY_FAULT)
        return "\n".join(run_texts(run.reports, run.stdout + run.stderr).values())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def assert_sound_evidence(run: SuiteRun, secret: str) -> None:
    """Every artifact written and valid, no internal error, no leak."""
    __tracebackhide__ = True
    output = run.stdout + run.stderr
    assert "internal error" not in output and "Traceback" not in output, \
        "an internal error (output not shown: it may hold the secret)"
    reports = run.reports
    validate_escalation(json.loads((reports / "escalation.json").read_text(encoding="utf-8")))
    assert ET.parse(reports / "junit.xml").getroot().iter("testcase")
    html = (reports / "report.html").read_text(encoding="utf-8")
    assert "redcloud-check report" in html and "</html>" in html
    assert (reports / "escalation.md").read_text(encoding="utf-8").startswith("# redcloud-check")
    har = json.loads((reports / "exchanges.har").read_text(encoding="utf-8"))
    assert har["log"]["version"] == "1.2" and har["log"]["entries"]
    assert_no_value_leak(reports, output, secret, client_id=CLIENT_ID,
                         free_text=secret not in our_own_text())


EXPLICIT = {
    "b": "b", "test": "test", "status": "status", "label": "label", "true": "true",
    "200 characters": ("rc_" + "Zx9q" * 50)[:200],
    "colon, &=%+, quotes, unicode": 'a:b&c=d%e+f"g\'h\\i é☃日本',
}


@pytest.mark.slow
@pytest.mark.parametrize("secret", list(EXPLICIT.values()), ids=list(EXPLICIT))
def test_a_conformant_run_with_this_secret_passes_and_leaks_nothing(tmp_path: Path,
                                                                    secret: str) -> None:
    run = seeded_run(tmp_path, secret)
    assert run.returncode == 0, f"exit {run.returncode}; failed: {[c.name for c in run.failed]}"
    assert run.cases and not run.failed and not run.by_outcome("skipped")
    assert_sound_evidence(run, secret)
    short = len(secret) < 8
    assert ("RC_CLIENT_SECRET is shorter than 8 characters" in run.stdout) is short


@pytest.mark.slow
@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(secret=SECRETS, fault=st.sampled_from([None, BODY_FAULT]))
@example(secret="b", fault=BODY_FAULT)
@example(secret='p@ss:w&r=d%+"\'\\é', fault=BODY_FAULT)
def test_any_secret_gives_valid_evidence_and_no_leak(tmp_path_factory: pytest.TempPathFactory,
                                                    secret: str, fault: str | None) -> None:
    run = seeded_run(tmp_path_factory.mktemp("secret"), secret, fault)
    if fault is None:
        assert run.returncode == 0, f"exit {run.returncode}; {[c.name for c in run.failed]}"
    else:
        assert run.returncode == 1, f"exit {run.returncode}"
        assert [c.name.rpartition("::")[2] for c in run.failed] == [
            "test_body_credentials_issue_a_bearer_token"]
    assert_sound_evidence(run, secret)
