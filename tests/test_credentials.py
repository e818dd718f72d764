"""The wrong-credential cases: each is wrong, none leaks, and a run stays within its budget."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from redcloud_check.core.client import basic_header
from redcloud_check.rules.credentials import (
    BEARER_CASES,
    MAX_REFUSED_CORE_REQUESTS,
    MAX_REFUSED_TOKEN_REQUESTS,
    MAX_WRONG_SECRETS,
    TOKEN_CASES,
    derived_secrets,
    tampered,
)
from redcloud_check.simulator import Simulator

from .leaks import assert_no_secret
from .suite_runner import REPO, run_suite

CLIENT_ID, SECRET = "rc_test_client_123", "rc_secret_abc123"
SECRETS = [SECRET, "0123456789", "s3cr3t:with:colons", "Ünïcødé-sécret", "ab"]
SENDING = {"RC_CLIENT_ID": CLIENT_ID, "RC_CLIENT_SECRET": SECRET, "RC_NUMBER_ID": "num_abc123",
           "RC_TO": "+15551234567", "RC_WEBHOOK_SECRET": SECRET, "RC_ALLOW_SEND": "1"}


def _pair(client_id: str, secret: str, case_name: str) -> tuple[str, str] | None:
    """The (client_id, secret) a token case sends, as the server would read it."""
    case = next(c for c in TOKEN_CASES if c.name == case_name)
    attempt = case.build(client_id, secret)
    if attempt is None:
        return None
    if attempt.authorization is None:
        return attempt.form["client_id"], attempt.form["client_secret"]
    decoded = base64.b64decode(attempt.authorization.split(" ", 1)[1]).decode("utf-8",
                                                                              "replace")
    cid, _, given = decoded.partition(":")
    return cid, given


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("case", [c.name for c in TOKEN_CASES])
def test_every_token_case_is_not_the_right_pair(case: str, secret: str) -> None:
    pair = _pair(CLIENT_ID, secret, case)
    if pair is None:
        assert case == "secret-case-changed" and secret.swapcase() == secret
        return
    assert pair != (CLIENT_ID, secret)
    names_client = next(c for c in TOKEN_CASES if c.name == case).names_client
    assert (pair[0] == CLIENT_ID) is names_client


def test_the_cut_short_basic_credential_is_valid_base64_of_a_prefix() -> None:
    case = next(c for c in TOKEN_CASES if c.name == "basic-base64-cut-short")
    attempt = case.build(CLIENT_ID, SECRET)
    assert attempt is not None and attempt.authorization is not None
    value = attempt.authorization.split(" ", 1)[1]
    assert len(value) % 4 == 0 and "=" not in value
    assert basic_header(CLIENT_ID, SECRET).split(" ", 1)[1].startswith(value)
    assert SECRET.startswith(_pair(CLIENT_ID, SECRET, case.name)[1])  # type: ignore[index]


@pytest.mark.parametrize("token", ["rc_tok_" + "A1b2" * 11, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0."
                                   "c2lnbmF0dXJlX2J5dGVz", "x", "ab", "....a.", "zzzz9999ZZZZ"])
def test_a_tampered_token_differs_in_one_char_never_the_last(token: str) -> None:
    changed = tampered(token)
    assert len(changed) == len(token) and changed != token
    assert sum(a != b for a, b in zip(token, changed, strict=True)) == 1
    if len(token) > 1:
        assert changed[-1] == token[-1]


def test_every_bearer_case_differs_from_the_issued_bearer() -> None:
    token = "rc_tok_" + "A1b2" * 11
    headers = [case.build(token, CLIENT_ID, SECRET) for case in BEARER_CASES]
    assert f"Bearer {token}" not in headers
    assert len(set(headers)) == len(headers)


def test_every_value_derived_from_a_secret_is_listed_for_redaction() -> None:
    for case in TOKEN_CASES:
        attempt = case.build(CLIENT_ID, SECRET)
        assert attempt is not None
        derived = derived_secrets(attempt)
        sent = [attempt.authorization or "", *attempt.form.values()]
        for value in sent:
            near = value not in (CLIENT_ID, "", SECRET, CLIENT_ID + "x") and value != \
                basic_header(CLIENT_ID, SECRET)
            if near:
                assert any(v in value for v in derived), f"{case.name}: {value[:4]}… unlisted"


def test_the_budget_is_what_the_docs_state() -> None:
    readme = (REPO / "docs" / "configuration.md").read_text("utf-8")  # the settings page
    assert (MAX_WRONG_SECRETS, MAX_REFUSED_TOKEN_REQUESTS, MAX_REFUSED_CORE_REQUESTS) == (
        6, 10, 9)
    assert f"at most {MAX_WRONG_SECRETS} token requests per run name `RC_CLIENT_ID`" in readme
    assert f"at most {MAX_REFUSED_TOKEN_REQUESTS} token requests are refused" in readme
    assert f"at most {MAX_REFUSED_CORE_REQUESTS} CORE\nrequests carry no valid" in readme


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@pytest.mark.slow
def test_a_full_run_stays_within_the_wrong_credential_budget(tmp_path: Path,
                                                             sim: Simulator) -> None:
    run = run_suite(tmp_path, RC_BASE_URL=sim.base_url, **SENDING)
    assert run.returncode == 0, run.stdout[-3000:]
    assert not run.by_outcome("skipped"), run.stdout[-3000:]
    named = sim.refused_credentials.count(CLIENT_ID)
    token_refused = [r for r in sim.requests if r.path == "/api/auth/token" and r.status >= 400]
    core_refused = [r for r in sim.requests if r.path.startswith("/api/core/")
                    and r.status == 401]
    assert named == MAX_WRONG_SECRETS
    assert len(token_refused) == MAX_REFUSED_TOKEN_REQUESTS
    assert len(core_refused) == MAX_REFUSED_CORE_REQUESTS
    near_misses = [SECRET + "x", SECRET.swapcase(), SECRET[:-1], SECRET[:-2], SECRET[:-3],
                   basic_header(CLIENT_ID, SECRET + ":x").split(" ", 1)[1]]
    near_misses += [tampered(t) for t in sim.issued_tokens]
    near_misses += [t[:-1] for t in sim.issued_tokens]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert_no_secret(path.read_bytes(), near_misses, path.name)
    assert_no_secret(run.stdout + run.stderr, near_misses, "the terminal")


@pytest.mark.slow
def test_a_failing_wrong_credential_check_is_never_sent_again(tmp_path: Path,
                                                              sim: Simulator) -> None:
    sim.set_faults(["token-secret-case-insensitive", "core-scheme-ignored"])
    run = run_suite(tmp_path, RC_BASE_URL=sim.base_url, **{
        k: v for k, v in SENDING.items() if k in ("RC_CLIENT_ID", "RC_CLIENT_SECRET",
                                                  "RC_NUMBER_ID")})
    failed = {c.name.rpartition("::")[2] for c in run.failed}
    assert failed == {"test_token_refuses_a_near_miss_credential[secret-case-changed]",
                      "test_core_refuses_what_is_not_an_issued_token[token-under-basic-scheme]"}
    bundles = json.loads((tmp_path / "escalation.json").read_text())["bundles"]
    assert len(bundles) == 2
    for bundle in bundles:
        repro = bundle["escalation"]["reproduces"]
        assert repro["retried"] is False
        assert repro["note"].startswith("not retried: a deliberately wrong credential")
        assert not [e for e in bundle["exchanges"] if e["label"].startswith("replay")]
    near_misses = [SECRET.swapcase(), *sim.issued_tokens]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert_no_secret(path.read_bytes(), near_misses, path.name)
    assert_no_secret(run.stdout + run.stderr, near_misses, "the terminal")
