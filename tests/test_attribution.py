"""Issue 19's scenarios, each reproduced against the simulator as a new user would meet it:
the lead root cause and its side are right, the API's own words are quoted, the ticket fits
in 150 lines, no cascade failure gets a bundle of its own; wrong credentials cost at most
two refused token requests; a rate limit is waited out, never blamed; a base URL that holds
an API path stops before anything is sent."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from redcloud_check.core.citation import cite
from redcloud_check.core.config import CANONICAL
from redcloud_check.core.exchange import Exchange, Timings
from redcloud_check.core.exit_codes import ExitCode
from redcloud_check.reporting.timeline import pair_accepted_before, token_refused_early
from redcloud_check.simulator import Simulator

from .bad_targets import serve
from .suite_runner import REPO, SuiteRun, clean_env, run_suite

REMOTE = {"RC_CLIENT_ID": CANONICAL["client_id"], "RC_CLIENT_SECRET": CANONICAL["client_secret"],
          "RC_NUMBER_ID": CANONICAL["number_id"]}


def _doc(run: SuiteRun) -> dict:
    return json.loads((run.reports / "escalation.json").read_text("utf-8"))


def _ticket(run: SuiteRun) -> str:
    return (run.reports / "escalation.md").read_text("utf-8")


def _lead(run: SuiteRun) -> dict:
    roots = _doc(run)["summary"]["rootCauses"]
    assert roots, run.stdout[-3000:]
    return roots[0]


# -- the timeline, as evidence ------------------------------------------------------------


def _ex(method: str, path: str, status: int, at: float, *, body: object = None,
        auth: str = "", form: bytes | None = None) -> Exchange:
    return Exchange(method=method, url=f"http://127.0.0.1:1{path}",
                    request_headers={"Authorization": auth} if auth else {},
                    request_body=form, started_at=at, timings=Timings(total=0.01),
                    status=status, response_headers={"Content-Type": "application/json"},
                    response_body=json.dumps(body).encode() if body is not None else b"")


ISSUED = _ex("POST", "/api/auth/token", 200, 100.0,
             body={"access_token": "tok_1", "token_type": "bearer", "expires_in": 3600},
             auth="Basic abc")
REFUSED = {"error": {"code": "UNAUTHORIZED", "message": "Invalid or expired access token",
                     "details": {}}, "requestId": "req_9"}


def test_a_token_refused_before_its_expires_in_is_the_apis() -> None:
    ok = _ex("GET", "/api/core/whoami", 200, 100.01, body={}, auth="Bearer tok_1")
    refused = _ex("GET", "/api/core/numbers", 401, 100.05, body=REFUSED, auth="Bearer tok_1")
    found = token_refused_early(refused, [ISSUED, ok, refused])
    assert found is not None and found.accepted == (ok,) and found.age_s == 0.05
    lines = found.evidence()
    assert "expires_in 3600" in lines[0] and "the same token accepted" in lines[1]
    assert "(requestId req_9)" in lines[2] and '"Invalid or expired access token"' in lines[2]
    expired = _ex("GET", "/api/core/numbers", 401, 3800.0, body=REFUSED, auth="Bearer tok_1")
    assert token_refused_early(expired, [ISSUED, expired]) is None  # it had expired
    other = _ex("GET", "/api/core/numbers", 401, 100.05, body=REFUSED, auth="Bearer tok_x")
    assert token_refused_early(other, [ISSUED, other]) is None  # not a token of this run


def test_a_pair_accepted_then_refused_is_found_by_its_very_credentials() -> None:
    refused = _ex("POST", "/api/auth/token", 401, 101.0, body={"error": "invalid_client"},
                  auth="Basic abc")
    assert pair_accepted_before(refused, [ISSUED, refused]) is ISSUED
    other = _ex("POST", "/api/auth/token", 401, 101.0, body={"error": "invalid_client"},
                auth="Basic xyz")
    assert pair_accepted_before(other, [ISSUED, other]) is None
    assert cite(refused).endswith('HTTP 401 invalid_client')


# -- the three sandboxes ------------------------------------------------------------------


@pytest.mark.slow
def test_a_sandbox_that_stops_honouring_its_tokens(tmp_path: Path) -> None:
    run = run_suite(tmp_path, RC_SIM_FAULTS="token-revoked-early", RC_WEBHOOK_TIMEOUT="5")
    assert run.returncode == ExitCode.CHECK_FAILED, run.stdout[-3000:]
    doc, lead = _doc(run), _lead(run)
    assert (lead["id"], lead["side"]) == ("token-refused-before-expiry", "api")
    assert len(doc["summary"]["rootCauses"]) == 1 and len(doc["bundles"]) == 1  # no cascade
    assert len(lead["checks"]) == len(run.failed) > 1  # every failure listed under it
    assert any("a token issued with expires_in 3600" in e for e in lead["evidence"])
    said = 'UNAUTHORIZED: "Invalid or expired access token"'
    assert doc["bundles"][0]["escalation"]["api_said"] == said
    assert f"api said: {said}" in run.stdout and f"The API said: {said}" in _ticket(run)
    assert _ticket(run).count("\n") <= 150
    # A token that stopped working is no evidence against the scheme's spelling: the
    # 'bearer' probe is graded only when the same token still works under 'Bearer'.
    assert doc["summary"]["warnings"] == []
    for text in (run.stdout, _ticket(run)):  # the wrong lead the run once gave
        assert "using a number not owned" not in text
        assert "correct the sendFrom source" not in text


@pytest.mark.slow
def test_a_conformant_rate_limit_is_waited_out_and_never_blamed(tmp_path: Path) -> None:
    with Simulator(variants=["rate-limit"]) as sim:
        run = run_suite(tmp_path, RC_BASE_URL=sim.base_url, RC_ALLOW_SEND="1",
                        RC_TO="+15551234567", RC_WEBHOOK_SECRET=CANONICAL["webhook_secret"],
                        RC_WEBHOOK_TIMEOUT="5", **REMOTE)
        sends = [r.status for r in sim.requests if r.path == "/api/core/messages/send"]
    assert run.returncode == ExitCode.OK, run.stdout[-3000:]
    assert sends[:2] == [429, 202]  # the same send again (its Idempotency-Key), accepted
    doc = _doc(run)
    assert doc["bundles"] == [] and doc["summary"]["rootCauses"] == []
    [warning] = [w for w in doc["summary"]["warnings"] if "Rate-limited" in w["title"]]
    assert "429" in warning["title"] and "Retry-After 1" in warning["title"]
    assert "waited 1 s" in warning["detail"]


@pytest.mark.slow
def test_past_the_retry_budget_the_stage_is_inconclusive_not_failed(tmp_path: Path) -> None:
    run = run_suite(tmp_path, RC_SIM_VARIANTS="rate-limit", RC_RETRY_BUDGET="0",
                    RC_WEBHOOK_TIMEOUT="5")
    assert run.returncode == ExitCode.INTERRUPTED_OR_DEGRADED, run.stdout[-3000:]
    doc = _doc(run)
    assert doc["summary"]["verdict"] == "inconclusive"
    send = next(s for s in doc["summary"]["stages"] if s["name"] == "send")
    assert send["verdict"] == "inconclusive" and send["counts"]["failed"] == 0
    assert _lead(run)["id"] == "rate-limited"


# -- the user's own mistakes --------------------------------------------------------------


@pytest.mark.slow
def test_a_wrong_secret_costs_two_refused_token_requests_and_one_root_cause(
        tmp_path: Path) -> None:
    with Simulator() as sim:
        run = run_suite(tmp_path, RC_BASE_URL=sim.base_url,
                        **{**REMOTE, "RC_CLIENT_SECRET": "not-the-secret-123"})
        refused = sim.refused_credentials
        token_requests = [r for r in sim.requests if r.path == "/api/auth/token"]
    assert run.returncode == ExitCode.CHECK_FAILED, run.stdout[-3000:]
    assert len(refused) <= 2 and len(token_requests) <= 2, token_requests
    doc, lead = _doc(run), _lead(run)
    assert len(doc["summary"]["rootCauses"]) == 1 and len(doc["bundles"]) == 1
    assert (lead["id"], lead["side"]) == ("credentials-refused", "unknown")
    assert lead["setting"] == "RC_CLIENT_ID / RC_CLIENT_SECRET" and lead["decide"]
    assert "inactive" in lead["next"] and "wrong pair" in lead["next"]
    assert doc["bundles"][0]["escalation"]["reproduces"]["retried"] is False
    # the ticket accuses no side where none is proven: the bundle's kind and the side in words
    ticket = _ticket(run)
    assert "- Side: **unknown**: neither side is proven by this run" in ticket
    assert "nonconformance" not in ticket and "side unknown" not in run.stdout


@pytest.mark.slow
def test_the_probe_with_a_wrong_secret_sends_two_token_requests_at_most(
        tmp_path: Path) -> None:
    with Simulator() as sim:
        proc = subprocess.run(
            [sys.executable, "-m", "redcloud_check.cli", "probe", "--json"], cwd=tmp_path,
            env=clean_env(RC_BASE_URL=sim.base_url,
                          **{**REMOTE, "RC_CLIENT_SECRET": "not-the-secret-123"}),
            capture_output=True, text=True, timeout=60)
        refused = sim.refused_credentials
    assert proc.returncode == ExitCode.CHECK_FAILED, proc.stderr
    assert len(refused) <= 2


@pytest.mark.parametrize("path", ["/api", "/api/", "/api/core", "/api/auth/token"])
def test_a_base_url_holding_an_api_path_stops_before_anything_is_sent(
        tmp_path: Path, path: str) -> None:
    with Simulator() as sim:
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-c", str(REPO / "pytest.ini"), "--rootdir",
             str(REPO), str(REPO / "checks"), "-p", "no:cacheprovider"], cwd=tmp_path,
            env=clean_env(RC_BASE_URL=sim.base_url + path, RC_REPORTS_DIR=str(tmp_path),
                          **REMOTE), capture_output=True, text=True, timeout=60)
        seen = sim.requests
    output = proc.stdout + proc.stderr
    assert proc.returncode == ExitCode.CONFIG_ERROR, output[-2000:]
    assert "RC_BASE_URL: ends in an API path" in output
    assert seen == []


@pytest.fixture
def not_the_api() -> Iterator[str]:
    """A web server that answers 404 with an HTML page to everything: not the API."""
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b"<html><body><h1>404 Not Found</h1></body></html>"
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

    with serve(Handler) as url:
        yield url


@pytest.mark.slow
def test_a_404_that_is_not_the_api_names_rc_base_url(tmp_path: Path, not_the_api: str) -> None:
    run = run_suite(tmp_path, RC_BASE_URL=not_the_api, **REMOTE)
    assert run.returncode == ExitCode.CHECK_FAILED, run.stdout[-3000:]
    lead = _lead(run)
    assert (lead["id"], lead["side"], lead["setting"]) == (
        "no-api-at-base-url", "integration", "RC_BASE_URL")
    assert "invalid credentials" not in run.stdout.split("root cause 1 of", 1)[1][:600]
    assert re.search(r"root cause 1 of 1: no-api-at-base-url \[integration\]", run.stdout)
