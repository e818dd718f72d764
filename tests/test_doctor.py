"""`redcloud-check doctor` as a user runs it, over real HTTP against simulators on loopback:
what it says, its exit code, and what the simulator saw (at most 3 requests, never a write,
at most 2 refused token requests)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from redcloud_check.cli import main
from redcloud_check.core.client import ApiClient, SecretSet
from redcloud_check.core.config import CANONICAL, load_settings, read_dotenv
from redcloud_check.core.exit_codes import DOCTOR_EXIT_CODES, ExitCode, meanings
from redcloud_check.core.recorder import Recorder
from redcloud_check.core.tokens import TokenProvider
from redcloud_check.rules.schemas import schemas_dir
from redcloud_check.simulator import Simulator
from redcloud_check.simulator.seed import DEFAULT_SEED

from .bad_targets import closed_port_url, serve
from .leaks import assert_no_secret
from .remote_env import REMOTE
from .sim_helpers import api_for, sim_fixture
from .suite_runner import clean_env

SECRET = CANONICAL["client_secret"]
WRONG_SECRET = "wrong-secret-value-0123456789"
READS = [("POST", "/api/auth/token"), ("GET", "/api/core/whoami"), ("GET", "/api/core/numbers")]


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads((schemas_dir() / "reports" / "doctor.schema.json").read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def violations(doc: Any) -> list[str]:
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in _validator().iter_errors(doc)]


@dataclass(frozen=True, slots=True)
class Doctor:
    code: int
    out: str
    err: str
    doc: dict[str, Any] | None  # with --json


@pytest.fixture
def doctor(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
           tmp_path: Path) -> Any:
    """Run `redcloud-check doctor *args` in this process, in tmp_path (its ./.env), with
    only the RC_* variables given; no secret may show in what it printed."""

    def run(*args: str, **env: str) -> Doctor:
        for name in [n for n in os.environ if n.startswith(("RC_", "NGROK_"))]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)
        code = main(["doctor", *args])
        out, err = capsys.readouterr()
        assert_no_secret(out + err, [SECRET, WRONG_SECRET, env.get("RC_CLIENT_SECRET", "")])
        doc = None
        if "--json" in args:
            assert len(out.splitlines()) == 1, out
            doc = json.loads(out)
            assert violations(doc) == [], violations(doc)
            assert doc["exit_code"] == code
        return Doctor(code, out, err, doc)

    return run


sim = sim_fixture()


@pytest.fixture
def clean_sim(sim: Simulator) -> Iterator[Simulator]:
    """The module's simulator with no fault, none left behind."""
    with api_for(sim):
        yield sim


def remote(sim: Simulator, **env: str) -> dict[str, str]:
    """The environment of a user pointing doctor at `sim`; a value "" leaves it unset."""
    return {k: v for k, v in {"RC_BASE_URL": sim.base_url, **REMOTE, **env}.items() if v}


def made_since(sim: Simulator, before: int) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sim.requests[before:]]


# -- the acceptance points --------------------------------------------------------------------

def test_against_the_simulator_it_is_usable_in_three_reads(doctor: Any,
                                                           clean_sim: Simulator) -> None:
    before = len(clean_sim.requests)
    got = doctor(**remote(clean_sim))
    assert got.code == ExitCode.OK, got.out
    assert made_since(clean_sim, before) == READS  # 3 requests, no PATCH, no send
    for number_id, e164 in (("num_abc123", "+15551234567"), ("num_smsonly456", "+15551230456")):
        assert number_id in got.out and e164 in got.out
    assert "rc_test_client_123  Red Cloud Test Client  ACTIVE" in got.out
    assert "RC_NUMBER_ID  num_abc123: usable" in got.out
    assert "https://example.com/webhooks/delivery" in got.out  # the delivery override
    assert "next      redcloud-check run   # stages 1-3; nothing is sent" in got.out


def test_the_json_report_lists_every_number(doctor: Any, clean_sim: Simulator) -> None:
    got = doctor("--json", **remote(clean_sim))
    doc = got.doc
    assert (doc["status"], doc["exit_code"], doc["problem"]) == ("usable", 0, None)
    assert [n["numberId"] for n in doc["numbers"]] == ["num_abc123", "num_smsonly456"]
    assert doc["numbers"][1] == {
        "numberId": "num_smsonly456", "e164": "+15551230456", "status": "ACTIVE",
        "smsEnabled": True, "mmsEnabled": False, "webhookDeliveryOverride": None,
        "usable": True, "why_not": None}
    assert doc["client"] == {"apiClientId": "rc_test_client_123",
                             "apiClientName": "Red Cloud Test Client",
                             "apiClientStatus": "ACTIVE"}
    assert doc["rc_number_id"] == {"given": "num_abc123", "verdict": "usable",
                                   "number_id": "num_abc123", "suggested": None}
    assert [(r["method"], r["path"], r["status"]) for r in doc["requests"]] == \
        [(m, p, 200) for m, p in READS]
    secret = next(s for s in doc["settings"] if s["name"] == "RC_CLIENT_SECRET")
    assert secret == {"name": "RC_CLIENT_SECRET", "value": None, "source": "environment",
                      "secret": True}


def test_a_wrong_secret_names_rc_client_secret_after_two_refused_requests(
        doctor: Any, clean_sim: Simulator) -> None:
    before = len(clean_sim.requests)
    refused = len(clean_sim.refused_credentials)
    got = doctor("--json", **remote(clean_sim, RC_CLIENT_SECRET=WRONG_SECRET))
    assert got.code == ExitCode.CHECK_FAILED
    assert made_since(clean_sim, before) == [("POST", "/api/auth/token")] * 2  # never a third
    assert len(clean_sim.refused_credentials) - refused == 2
    problem = got.doc["problem"]
    assert (problem["stage"], problem["cause"], problem["setting"]) == \
        ("token", "credentials-refused", "RC_CLIENT_SECRET")
    assert "RC_CLIENT_SECRET" in problem["lead"]["next_action"]
    assert got.doc["numbers"] is None and got.doc["client"] is None
    text = doctor(**remote(clean_sim, RC_CLIENT_SECRET=WRONG_SECRET))
    assert text.code == ExitCode.CHECK_FAILED
    assert "cause:     credentials-refused" in text.out
    assert "Check RC_CLIENT_SECRET (then RC_CLIENT_ID)" in text.out


def test_an_e164_in_rc_number_id_names_the_numberid_to_use(doctor: Any,
                                                           clean_sim: Simulator) -> None:
    before = len(clean_sim.requests)
    got = doctor("--json", **remote(clean_sim, RC_NUMBER_ID="+15551234567"))
    assert got.code == ExitCode.CHECK_FAILED
    assert made_since(clean_sim, before) == READS
    assert got.doc["rc_number_id"] == {"given": "+15551234567", "verdict": "e164",
                                       "number_id": "num_abc123", "suggested": "num_abc123"}
    assert got.doc["problem"]["cause"] == "number-id-is-e164"
    assert got.doc["problem"]["setting"] == "RC_NUMBER_ID"
    assert "Set RC_NUMBER_ID=num_abc123" in got.doc["problem"]["lead"]["next_action"]
    text = doctor(**remote(clean_sim, RC_NUMBER_ID="+15551234567"))
    assert ("RC_NUMBER_ID  +15551234567: a phone number (E.164), not a numberId; its numberId "
            "is num_abc123; use RC_NUMBER_ID=num_abc123") in text.out
    assert "next      export RC_NUMBER_ID=num_abc123" in text.out


# -- what RC_NUMBER_ID names -------------------------------------------------------------------

@pytest.mark.parametrize(("given", "verdict", "named", "suggested", "cause"), [
    ("", "unset", None, "num_abc123", "number-id-unset"),
    ("+15550000000", "e164", None, "num_abc123", "number-id-is-e164"),
    ("num_other789", "unlisted", None, "num_abc123", "number-id-not-assigned"),
    ("num_smsonly456", "usable", "num_smsonly456", None, None),
    (" NUM_SMSONLY456", "unlisted", None, "num_smsonly456", "number-id-not-assigned"),
])
def test_rc_number_id_is_judged_against_the_list(doctor: Any, clean_sim: Simulator, given: str,
                                                 verdict: str, named: str | None,
                                                 suggested: str | None,
                                                 cause: str | None) -> None:
    got = doctor("--json", **remote(clean_sim, RC_NUMBER_ID=given))
    choice = got.doc["rc_number_id"]
    assert (choice["verdict"], choice["number_id"], choice["suggested"]) == \
        (verdict, named, suggested)
    assert got.code == (ExitCode.OK if verdict == "usable" else ExitCode.CHECK_FAILED)
    assert (got.doc["problem"] or {}).get("cause") == cause


def test_a_number_that_cannot_send_is_named_with_a_usable_one(doctor: Any,
                                                              clean_sim: Simulator) -> None:
    clean_sim.set_faults(["number-not-active"])
    got = doctor("--json", **remote(clean_sim))
    assert got.code == ExitCode.CHECK_FAILED
    assert got.doc["rc_number_id"] == {"given": "num_abc123", "verdict": "not_usable",
                                       "number_id": "num_abc123", "suggested": "num_smsonly456"}
    listed = {n["numberId"]: n for n in got.doc["numbers"]}
    assert (listed["num_abc123"]["usable"], listed["num_abc123"]["why_not"]) == \
        (False, "status 'SUSPENDED'")
    assert got.doc["problem"]["cause"] == "number-not-usable"


def test_with_no_usable_number_it_says_so_and_suggests_none(doctor: Any) -> None:
    seed = json.loads(DEFAULT_SEED.read_text(encoding="utf-8"))
    for number in seed["numbers"]:
        number["smsEnabled"] = False
    with Simulator(seed=seed) as disabled:
        got = doctor("--json", **remote(disabled))
    assert got.code == ExitCode.CHECK_FAILED
    assert got.doc["rc_number_id"]["suggested"] is None
    assert all(not n["usable"] for n in got.doc["numbers"])
    assert "None of this client's numbers can send SMS" in \
        got.doc["problem"]["lead"]["next_action"]
    assert got.doc["next"] == [{"command": "redcloud-check doctor",
                                "why": "once the problem above is fixed"}]


# -- the client and the target --------------------------------------------------------------

def test_an_inactive_client_is_shown_and_names_rc_client_id(doctor: Any,
                                                            clean_sim: Simulator) -> None:
    clean_sim.set_faults(["whoami-client-inactive"])
    before = len(clean_sim.requests)
    got = doctor("--json", **remote(clean_sim))
    assert got.code == ExitCode.CHECK_FAILED
    # the numbers are still read: the client leads, and RC_NUMBER_ID is judged anyway
    assert made_since(clean_sim, before) == READS
    assert got.doc["client"]["apiClientStatus"] == "SUSPENDED"
    assert (got.doc["problem"]["cause"], got.doc["problem"]["setting"]) == \
        ("client-not-active", "RC_CLIENT_ID")
    assert [n["numberId"] for n in got.doc["numbers"]] == ["num_abc123", "num_smsonly456"]


def test_an_inactive_client_with_an_e164_still_gets_the_numberid_to_use(
        doctor: Any, clean_sim: Simulator) -> None:
    """A run's configuration error sends an E.164 in RC_NUMBER_ID to doctor for the numberId:
    an inactive client must not leave that question unanswered."""
    clean_sim.set_faults(["whoami-client-inactive"])
    got = doctor(**remote(clean_sim, RC_NUMBER_ID="+15551234567"))
    assert got.code == ExitCode.CHECK_FAILED
    assert "cause:     client-not-active" in got.out
    assert "its numberId is num_abc123; use RC_NUMBER_ID=num_abc123" in got.out
    assert "next      export RC_NUMBER_ID=num_abc123" in got.out


def test_basic_refused_with_body_credentials_accepted_is_the_apis(doctor: Any,
                                                                 clean_sim: Simulator) -> None:
    clean_sim.set_faults(["token-basic-auth-rejected"])
    before = len(clean_sim.requests)
    got = doctor("--json", **remote(clean_sim))
    assert got.code == ExitCode.CHECK_FAILED
    assert made_since(clean_sim, before) == [("POST", "/api/auth/token")] * 2
    assert got.doc["problem"]["cause"] == "basic-auth-refused"  # the gate's own cause leads


class _NotTheApi(BaseHTTPRequestHandler):
    """A web server that is not the API: 404 with an HTML page for every request."""

    seen: list[str] = []

    def do_POST(self) -> None:
        type(self).seen.append(self.path)
        body = b"<html><body>Not Found</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PATCH = do_POST

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_404_without_the_apis_error_body_is_no_api_at_rc_base_url(doctor: Any) -> None:
    _NotTheApi.seen = []
    with serve(_NotTheApi) as url:
        got = doctor("--json", **{**REMOTE, "RC_BASE_URL": url})
    assert got.code == ExitCode.CHECK_FAILED
    assert _NotTheApi.seen == ["/api/auth/token"]  # one request: a 404 is no refusal
    problem = got.doc["problem"]
    assert (problem["cause"], problem["setting"]) == ("no-api-at-base-url", "RC_BASE_URL")
    assert "there is no Red Cloud API at RC_BASE_URL" in problem["lead"]["summary"]


class _BasicRefusedBodyBroken(BaseHTTPRequestHandler):
    """HTTP Basic refused with an OAuth body; body credentials answered 503."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        basic = self.headers.get("Authorization") is not None
        body = b'{"error":"invalid_client","error_description":"no"}' if basic else b"{}"
        self.send_response(401 if basic else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_credentials_are_not_blamed_when_the_other_way_did_not_refuse(doctor: Any) -> None:
    with serve(_BasicRefusedBodyBroken) as url:
        got = doctor("--json", **{**REMOTE, "RC_BASE_URL": url})
    assert got.code == ExitCode.CHECK_FAILED
    assert [r["status"] for r in got.doc["requests"]] == [401, 503]
    assert got.doc["problem"]["cause"] != "credentials-refused"
    assert got.doc["problem"]["setting"] is None


def test_an_unreachable_target_exits_4(doctor: Any) -> None:
    got = doctor("--json", **{**REMOTE, "RC_BASE_URL": closed_port_url()})
    assert (got.code, got.doc["status"]) == (ExitCode.UNREACHABLE, "unreachable")
    assert got.doc["problem"]["cause"] == "unreachable-refused"
    assert [r["status"] for r in got.doc["requests"]] == [None]


@pytest.mark.parametrize(("env", "setting"), [
    ({"RC_CLIENT_SECRET": ""}, "RC_CLIENT_SECRET"),
    ({"RC_BASE_URL": "ftp://example.com"}, "RC_BASE_URL"),
    ({"RC_TIMEOUT": "soon"}, "RC_TIMEOUT"),
])
def test_a_configuration_error_exits_3_before_any_request(doctor: Any, clean_sim: Simulator,
                                                          env: dict[str, str],
                                                          setting: str) -> None:
    before = len(clean_sim.requests)
    got = doctor("--json", **remote(clean_sim, **env))
    assert (got.code, got.doc["status"]) == (ExitCode.CONFIG_ERROR, "config_error")
    assert got.doc["error"].startswith(setting)
    assert setting in got.err  # --json: the error on stderr too
    assert [s["name"] for s in got.doc["settings"]] == \
        ["RC_BASE_URL", "RC_CLIENT_ID", "RC_CLIENT_SECRET", "RC_NUMBER_ID"]
    assert got.doc["next"] == [{"command": "redcloud-check doctor",
                                "why": f"once {setting} is fixed"}]
    assert len(clean_sim.requests) == before
    text = doctor(**remote(clean_sim, **env))
    assert text.code == ExitCode.CONFIG_ERROR and f"config error (exit 3): {setting}" in text.out


def test_exit_codes_are_the_tables() -> None:
    assert {code: DOCTOR_EXIT_CODES[s] for s, code in
            (("usable", 0), ("not_usable", 1), ("config_error", 3), ("unreachable", 4))} == \
        {0: 0, 1: 1, 3: 3, 4: 4}
    assert set(meanings("doctor")) == {ExitCode.OK, ExitCode.CHECK_FAILED,
                                       ExitCode.CONFIG_ERROR, ExitCode.UNREACHABLE,
                                       ExitCode.INTERNAL_ERROR}


def test_the_docs_exit_codes_are_the_tables() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "doctor.md").read_text(encoding="utf-8")
    section = doc.split("## Exit codes", 1)[1]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| code")]
    assert {int(code): text for code, text in rows} == \
        {int(code): text for code, text in meanings("doctor").items()}


def test_the_embedded_simulator_is_started_and_said(tmp_path: Path) -> None:
    """The command as a user runs it, with no setting at all."""
    proc = subprocess.run([sys.executable, "-m", "redcloud_check.cli", "doctor"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env=clean_env(), stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(embedded simulator: no RC_BASE_URL, started for this check)" in proc.stdout
    assert "RC_NUMBER_ID      num_abc123 (default)" in proc.stdout
    assert "num_smsonly456" in proc.stdout
    assert "after 3 requests" in proc.stdout
    assert_no_secret(proc.stdout + proc.stderr, [SECRET])


def test_an_e164_is_judged_with_the_embedded_simulator_too(doctor: Any) -> None:
    got = doctor("--json", RC_NUMBER_ID="+15551230456")
    assert got.doc["embedded"] and got.doc["target"].startswith("http://127.0.0.1:")
    assert got.doc["rc_number_id"]["suggested"] == "num_smsonly456"


# -- --write-env FILE --------------------------------------------------------------------------

USER_ENV = """\
# my settings
export RC_NUMBER_ID=+15551234567

OTHER=1
RC_CLIENT_SECRET=rc_secret_abc123
"""


def test_write_env_fixes_an_e164_in_dotenv_and_the_next_check_passes(
        doctor: Any, clean_sim: Simulator, tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(USER_ENV, encoding="utf-8")
    os.chmod(env, 0o640)
    given = {"RC_BASE_URL": clean_sim.base_url, "RC_CLIENT_ID": REMOTE["RC_CLIENT_ID"]}
    got = doctor("--write-env", ".env", **given)  # the secret and the E.164 from ./.env
    assert got.code == ExitCode.CHECK_FAILED  # the settings as checked were not usable
    assert env.read_text(encoding="utf-8") == USER_ENV.replace(
        "+15551234567", "num_abc123") + (
        f"RC_BASE_URL={clean_sim.base_url}\nRC_CLIENT_ID=rc_test_client_123\n\n"
        "# Fill in: redcloud-check never writes a secret's value (or leave it empty and keep "
        "the secret in the environment)\nRC_WEBHOOK_SECRET=\n")
    assert stat.S_IMODE(env.stat().st_mode) == 0o640
    assert ("env file  updated .env: RC_BASE_URL, RC_CLIENT_ID, RC_NUMBER_ID, "
            "RC_WEBHOOK_SECRET= (empty: fill it in)") in got.out
    assert "next      redcloud-check run   # stages 1-3; nothing is sent" in got.out
    again = doctor()  # everything from the file it wrote
    assert again.code == ExitCode.OK, again.out
    assert "RC_NUMBER_ID      num_abc123 (.env)" in again.out


def test_write_env_never_writes_a_secret_and_a_new_file_is_private(
        doctor: Any, clean_sim: Simulator, tmp_path: Path) -> None:
    got = doctor("--json", "--write-env", "red.env", **remote(clean_sim))
    assert got.code == ExitCode.OK
    written = tmp_path / "red.env"
    text = written.read_text(encoding="utf-8")
    assert_no_secret(text, [SECRET], "the env file")
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert "\nRC_CLIENT_SECRET=\nRC_WEBHOOK_SECRET=\n" in text
    assert got.doc["env_file"] == {
        "path": "red.env", "error": None, "not_written": [], "created": True,
        "written": ["RC_BASE_URL", "RC_CLIENT_ID", "RC_NUMBER_ID"], "unchanged": [],
        "placeholders": ["RC_CLIENT_SECRET", "RC_WEBHOOK_SECRET"]}
    assert got.doc["notes"] == ["redcloud-check reads ./.env, not red.env: load it yourself "
                                "(set -a; . red.env; set +a)"]


def test_write_env_never_picks_another_number_for_one_you_chose(
        doctor: Any, clean_sim: Simulator, tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("RC_NUMBER_ID=num_other789\n", encoding="utf-8")
    got = doctor("--json", "--write-env", ".env", **remote(clean_sim, RC_NUMBER_ID=""))
    assert got.code == ExitCode.CHECK_FAILED
    assert read_dotenv(env)["RC_NUMBER_ID"] == "num_other789"
    assert got.doc["env_file"]["not_written"] == [
        "RC_NUMBER_ID: num_other789 is not usable, and doctor does not choose another "
        "number for you"]
    assert got.doc["next"][0]["command"] == \
        "redcloud-check doctor --number-id num_abc123 --write-env .env"


def test_write_env_writes_only_what_it_verified(doctor: Any, clean_sim: Simulator,
                                                tmp_path: Path) -> None:
    got = doctor("--write-env", ".env", **remote(clean_sim, RC_CLIENT_SECRET=WRONG_SECRET))
    assert got.code == ExitCode.CHECK_FAILED
    values = read_dotenv(tmp_path / ".env")
    assert values == {"RC_BASE_URL": clean_sim.base_url, "RC_CLIENT_SECRET": "",
                      "RC_WEBHOOK_SECRET": ""}  # the API answered; the client was refused


def test_write_env_warns_when_the_environment_beats_the_file(
        doctor: Any, clean_sim: Simulator, tmp_path: Path) -> None:
    got = doctor("--json", "--write-env", ".env",
                 **remote(clean_sim, RC_NUMBER_ID="+15551234567"))
    assert read_dotenv(tmp_path / ".env")["RC_NUMBER_ID"] == "num_abc123"
    assert got.doc["notes"] == ["RC_NUMBER_ID is also set in the environment, which beats "
                                ".env: unset RC_NUMBER_ID (or export the new value)"]
    assert got.doc["next"][0]["command"] == "export RC_NUMBER_ID=num_abc123"


def test_write_env_of_an_unparsable_file_stops_before_any_request(
        doctor: Any, clean_sim: Simulator, tmp_path: Path) -> None:
    env = tmp_path / "bad.env"
    env.write_text("A=1\nnot a binding\n", encoding="utf-8")
    before = len(clean_sim.requests)
    got = doctor("--write-env", "bad.env", **remote(clean_sim))
    assert got.code == ExitCode.CONFIG_ERROR
    assert "bad.env:2: not a KEY=VALUE line" in got.out
    assert len(clean_sim.requests) == before
    assert env.read_text(encoding="utf-8") == "A=1\nnot a binding\n"


def test_write_env_that_cannot_write_exits_3_after_the_report(
        doctor: Any, clean_sim: Simulator, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory", encoding="utf-8")
    got = doctor("--write-env", "blocker/.env", **remote(clean_sim))
    assert got.code == ExitCode.CONFIG_ERROR
    assert "RC_NUMBER_ID  num_abc123: usable" in got.out
    assert "env file  not written:" in got.out


def test_write_env_with_the_embedded_simulator_writes_the_numberid_only(
        doctor: Any, tmp_path: Path) -> None:
    got = doctor("--write-env", ".env")
    assert got.code == ExitCode.OK
    assert read_dotenv(tmp_path / ".env") == {"RC_NUMBER_ID": "num_abc123"}


def test_doctors_token_is_never_refreshed(clean_sim: Simulator) -> None:
    """A token that expires between the reads is not asked for again: whoami or numbers then
    say so, and doctor stays within its three requests."""
    settings = load_settings(environ=remote(clean_sim))
    client = ApiClient(clean_sim.base_url, timeout=5, recorder=Recorder(), secrets=SecretSet())
    try:
        provider = TokenProvider(client, settings, refresh=False)
        _, token = provider.acquire()
        assert token is not None
        provider._token = replace(token, issued_at=token.issued_at - 2 * token.expires_in)
        before = len(clean_sim.requests)
        assert provider.current() is provider._token  # expired, kept: no request
        assert len(clean_sim.requests) == before
        assert TokenProvider(client, settings).current() is not None  # the suite's refreshes
        assert len(clean_sim.requests) == before + 1
    finally:
        client.close()
