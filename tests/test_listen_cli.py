"""`redcloud-check listen` in a subprocess: the URL, a line per delivery, forwarding to a local
app with headers and body untouched, a clean stop on Ctrl-C, and the secret never printed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from redcloud_check.webhooks.listener import WebhookListener

from . import fake_ngrok
from .webhook_support import SECRET, event, post_signed

REPO = Path(__file__).resolve().parents[1]


def listen(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
    environ.update({"RC_WEBHOOK_SECRET": SECRET, **(env or {})})
    return subprocess.Popen([sys.executable, "-m", "redcloud_check.cli", "listen", "--port", "0",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environ, cwd=REPO)


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out, err


@pytest.fixture
def app() -> Iterator[WebhookListener]:
    """The user's local app: a second verifying listener with the same secret."""
    with WebhookListener(SECRET, path="/hooks") as started:
        yield started


def test_json_lines_and_forwarding_with_untouched_headers_and_body(
        app: WebhookListener) -> None:
    proc = listen("--json", "--forward-to", app.url)
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    assert ready["type"] == "ready" and ready["url"].endswith("/webhooks/red-cloud")
    payload = event("msg_cli", "message.queued", 1)
    assert post_signed(ready["url"], payload).status_code == 200
    delivery = json.loads(proc.stdout.readline())
    forward = json.loads(proc.stdout.readline())
    forged = httpx.post(ready["url"], json=payload,
                        headers={"X-RedCloud-Timestamp": "1", "X-RedCloud-Signature": "00"})
    assert forged.status_code == 401
    rejected = json.loads(proc.stdout.readline())
    out, err = stop(proc)
    assert delivery == delivery | {"type": "delivery", "eventType": "message.queued",
                                   "messageId": "msg_cli", "sequence": 1, "verified": True,
                                   "reason": "signature ok", "status": 200}
    assert forward == forward | {"type": "forward", "status": 200, "messageId": "msg_cli"}
    assert rejected == rejected | {"verified": False, "status": 401,
                                   "reason": "invalid signature", "messageId": None}
    # The app verified the forwarded request itself: headers and raw body were untouched.
    (received,) = app.deliveries()  # the forged request was not forwarded
    assert received.verified and received.event == payload
    stopped = json.loads(out.strip().splitlines()[-1])
    assert stopped == {"type": "stopped", "received": 2, "verified": 1, "forwarded": 1}
    assert SECRET not in out + err


def test_text_lines_say_signature_ok_or_why_not() -> None:
    proc = listen()
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("Ready. Configure this delivery webhook URL: http://127.0.0.1:")
    url = first.rsplit(" ", 1)[1].strip()
    proc.stdout.readline()  # how it is reached and verified
    post_signed(url, event("msg_txt", "message.sent", 2))
    post_signed(url, event("msg_txt", "message.sent", 2), secret="not-the-secret")
    ok_line, bad_line = proc.stdout.readline(), proc.stdout.readline()
    out, err = stop(proc)
    assert "message.sent" in ok_line and "msg_txt" in ok_line and "seq 2" in ok_line
    assert ok_line.rstrip().endswith("signature ok")
    assert "401 invalid signature" in bad_line
    assert out.strip().endswith("Stopped. 2 request(s), 1 verified.")
    assert SECRET not in first + ok_line + bad_line + out + err


def test_a_missing_secret_names_the_variable_and_exits_3() -> None:
    proc = listen("--secret-env", "MY_HOOK_SECRET")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3 and "MY_HOOK_SECRET is not set" in err  # a config error


def test_listen_through_the_fake_ngrok_agent(tmp_path: Path) -> None:
    agent = fake_ngrok.install(tmp_path)
    proc = listen("--json", "--tunnel", "ngrok",
                  env={"RC_NGROK_PATH": str(agent), "NGROK_AUTHTOKEN": "fake_token_42"})
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    assert ready["via"] == "ngrok" and ready["url"] != ready["local"]
    assert post_signed(ready["url"], event("msg_ng", "message.queued", 1)).status_code == 200
    assert json.loads(proc.stdout.readline())["verified"] is True
    out, err = stop(proc)
    assert "fake_token_42" not in out + err


def test_strict_mode_refuses_a_replayed_stale_event() -> None:
    proc = listen("--strict", "--tolerance", "60")
    assert proc.stdout is not None
    url = proc.stdout.readline().rsplit(" ", 1)[1].strip()
    proc.stdout.readline()
    stale = str(int((time.time() - 3600) * 1000))
    replay = post_signed(url, event("msg_old", "message.sent", 2), timestamp=stale)
    fresh = post_signed(url, event("msg_new", "message.sent", 2))
    stale_line, fresh_line = proc.stdout.readline(), proc.stdout.readline()
    stop(proc)
    assert replay.status_code == 401 and fresh.status_code == 200
    assert "timestamp outside tolerance" in stale_line
    assert fresh_line.rstrip().endswith("signature ok")


def test_respond_scripts_each_events_answers_the_last_code_repeating() -> None:
    proc = listen("--json", "--respond", "503,200")
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    assert ready["respond"] == [503, 200]
    queued, sent = event("msg_rs", "message.queued", 1), event("msg_rs", "message.sent", 2)
    statuses = [post_signed(ready["url"], payload).status_code
                for payload in (queued, queued, queued, sent)]
    lines = [json.loads(proc.stdout.readline()) for _ in statuses]
    stop(proc)
    assert statuses == [503, 200, 200, 503]
    assert [(line["status"], line["scriptedDelivery"], line["duplicate"]) for line in lines] == [
        (503, 1, False), (200, 2, False), (200, 3, True), (503, 1, False)]
    assert lines[0]["reason"] == "refused on purpose (delivery 1 of this event, as scripted)"


def test_respond_says_in_text_which_delivery_got_which_code() -> None:
    proc = listen("--respond", "500,204")
    assert proc.stdout is not None
    url = proc.stdout.readline().rsplit(" ", 1)[1].strip()
    assert "answering each event's deliveries 500,204" in proc.stdout.readline()
    payload = event("msg_rt", "message.delivery", 3)
    assert [post_signed(url, payload).status_code for _ in range(2)] == [500, 204]
    refused, accepted = proc.stdout.readline(), proc.stdout.readline()
    stop(proc)
    assert "500 refused on purpose (delivery 1 of this event, as scripted)" in refused
    assert accepted.rstrip().endswith("signature ok (204: delivery 2 of this event, as scripted)")


@pytest.mark.parametrize("codes", ["503,abc", "99", "503,,200", ""])
def test_a_bad_respond_list_is_a_usage_error(codes: str) -> None:
    proc = listen("--respond", codes)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    assert "--respond" in err and "HTTP status code" in err
