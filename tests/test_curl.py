"""curl repro: a shell round-trip (shlex) gives back the request; no secret in the text."""

from __future__ import annotations

import json
import shlex
from urllib.parse import urlencode

from redcloud_check.core.client import basic_header
from redcloud_check.core.config import OPTIONS
from redcloud_check.core.exchange import Exchange, Timings
from redcloud_check.reporting.curl import VARIABLES, to_curl

from .leaks import assert_no_secret

CLIENT_ID = "rc_test_client_123"
SECRET = "s3cr3t'\"$(rm -rf ~)`x`"
TOKEN = "tok_abc.def-123"
BASIC = basic_header(CLIENT_ID, SECRET).split(" ", 1)[1]
SECRETS = {SECRET: "client_secret", TOKEN: "access_token", BASIC: "basic_credential"}
ENV = {"RC_CLIENT_ID": CLIENT_ID, "RC_CLIENT_SECRET": SECRET, "RC_ACCESS_TOKEN": TOKEN}


def _exchange(method: str, url: str, headers: dict[str, str], body: bytes | None) -> Exchange:
    return Exchange(method=method, url=url, request_headers=headers, request_body=body,
                    started_at=0.0, timings=Timings(total=0.1), status=200)


def _argv(command: str) -> list[str]:
    """What the shell would pass to curl, with the variables expanded."""
    words = shlex.split(command.replace("\\\n", " "))
    out = []
    for word in words:
        for name, value in ENV.items():
            word = word.replace("${" + name + "}", value).replace("$" + name, value)
        out.append(word)
    return out


def test_bearer_send_round_trips_through_the_shell() -> None:
    body = json.dumps({"sendFrom": "num_abc123", "to": ["+15551234567"],
                       "text": "it's a \"quoted\" $HOME `tick` \\ text\nline 2"}).encode()
    ex = _exchange("POST", "http://127.0.0.1:8080/api/core/messages/send",
                   {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
                    "Idempotency-Key": "idem_1", "User-Agent": "redcloud-check"}, body)
    command = to_curl(ex, SECRETS)
    assert_no_secret(command, [SECRET, TOKEN, BASIC])
    assert '"${RC_ACCESS_TOKEN}"' in command
    argv = _argv(command)
    assert argv[:4] == ["curl", "-X", "POST", ex.url]
    assert argv[argv.index("--data-raw") + 1] == body.decode()
    headers = [argv[i + 1] for i, a in enumerate(argv) if a == "-H"]
    assert headers == [f"Authorization: Bearer {TOKEN}", "Content-Type: application/json",
                       "Idempotency-Key: idem_1"]


def test_basic_credentials_become_client_id_and_secret_variables() -> None:
    ex = _exchange("POST", "http://127.0.0.1/api/auth/token",
                   {"Authorization": f"Basic {BASIC}",
                    "Content-Type": "application/x-www-form-urlencoded"},
                   b"grant_type=client_credentials")
    command = to_curl(ex, SECRETS)
    assert '-u "$RC_CLIENT_ID:$RC_CLIENT_SECRET"' in command
    assert_no_secret(command, [SECRET, BASIC])
    argv = _argv(command)
    assert argv[argv.index("-u") + 1] == f"{CLIENT_ID}:{SECRET}"


def test_wrong_basic_password_stays_literal_for_an_exact_repro() -> None:
    header = basic_header(CLIENT_ID, "definitely-wrong")
    ex = _exchange("POST", "http://h/api/auth/token", {"Authorization": header}, None)
    argv = _argv(to_curl(ex, SECRETS))
    assert argv[argv.index("-u") + 1] == f"{CLIENT_ID}:definitely-wrong"


def test_form_body_secret_becomes_a_variable() -> None:
    form = urlencode({"grant_type": "client_credentials", "client_id": CLIENT_ID,
                      "client_secret": "plainsecret"}).encode()
    ex = _exchange("POST", "http://h/api/auth/token", {}, form)
    command = to_curl(ex, {"plainsecret": "client_secret"})
    assert_no_secret(command, ["plainsecret"])
    data = shlex.split(command.replace("\\\n", " "))
    assert data[data.index("--data-raw") + 1].endswith("client_secret=${RC_CLIENT_SECRET}")


def test_get_has_no_method_flag_and_single_line_form() -> None:
    ex = _exchange("GET", "http://h/api/core/whoami", {"Authorization": f"Bearer {TOKEN}"}, None)
    command = to_curl(ex, SECRETS, multiline=False)
    assert "\n" not in command and " -X " not in command
    assert _argv(command) == ["curl", "http://h/api/core/whoami", "-H",
                              f"Authorization: Bearer {TOKEN}"]


def test_every_secret_setting_has_its_own_shell_variable() -> None:
    assert {o.env for o in OPTIONS if o.secret} <= set(VARIABLES.values())
    assert VARIABLES["client_secret"] == "RC_CLIENT_SECRET"
    assert VARIABLES["webhook_secret"] == "RC_WEBHOOK_SECRET"
    assert len(set(VARIABLES.values())) == len(VARIABLES)


def test_a_short_secret_becomes_a_variable_only_where_it_is_the_value() -> None:
    form = urlencode({"grant_type": "client_credentials", "client_id": CLIENT_ID,
                      "client_secret": "b"}).encode()
    ex = _exchange("POST", "http://h/api/auth/token?b=b", {"X-Note": "b", "Accept": "b/b"},
                   form)
    data = shlex.split(to_curl(ex, {"b": "client_secret"}).replace("\\\n", " "))
    assert data[data.index("--data-raw") + 1] == (
        f"grant_type=client_credentials&client_id={CLIENT_ID}&client_secret=${{RC_CLIENT_SECRET}}")
    assert "http://h/api/auth/token?b=${RC_CLIENT_SECRET}" in data
    assert "X-Note: ${RC_CLIENT_SECRET}" in data and "Accept: b/b" in data
