"""The tunnel choice, and the real pyngrok driving the fake ngrok agent end to end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from redcloud_check.context import RunContext
from redcloud_check.core.config import Settings, load_settings
from redcloud_check.core.errors import TunnelError
from redcloud_check.simulator import Simulator
from redcloud_check.webhooks.listener import WebhookListener
from redcloud_check.webhooks.session import WebhookSession
from redcloud_check.webhooks.tunnel import Tunnel, tunnel_kind

from . import fake_ngrok
from .webhook_support import SECRET, accepted_send, event, post_signed

TOKEN = "fake_ngrok_token_1234567890"
REMOTE = {"RC_BASE_URL": "https://api.example.com", "RC_CLIENT_ID": "c",
          "RC_CLIENT_SECRET": "s", "RC_NUMBER_ID": "num_abc123"}


def settings(**env: str) -> Settings:
    return load_settings(environ=env)


@pytest.fixture
def agent(tmp_path: Path) -> Path:
    return fake_ngrok.install(tmp_path)


@pytest.fixture
def listener() -> Iterator[WebhookListener]:
    with WebhookListener(SECRET) as started:
        yield started


@pytest.mark.parametrize(("env", "kind"), [
    ({}, "direct"),  # embedded simulator: loopback
    ({"RC_TUNNEL": "none", **REMOTE}, "direct"),
    (REMOTE, "ngrok"),  # auto + remote
    ({"RC_WEBHOOK_MODE": "preconfigured", **REMOTE}, "direct"),
    ({"RC_TUNNEL": "ngrok"}, "ngrok"),
    ({"RC_PUBLIC_URL": "https://hooks.example.com", **REMOTE}, "public-url"),
    ({"RC_PUBLIC_URL": "https://hooks.example.com", "RC_TUNNEL": "ngrok"}, "public-url"),
])
def test_the_tunnel_kind_follows_the_settings(env: dict[str, str], kind: str) -> None:
    assert tunnel_kind(settings(**env)) == kind


def test_a_public_url_without_a_path_gets_the_listener_path() -> None:
    with Tunnel(settings(RC_PUBLIC_URL="https://hooks.example.com")) as tunnel:
        exposure = tunnel.open("http://127.0.0.1:5000/webhooks/red-cloud")
    assert exposure.url == "https://hooks.example.com/webhooks/red-cloud"
    with Tunnel(settings(RC_PUBLIC_URL="https://hooks.example.com/in")) as tunnel:
        assert tunnel.open("http://127.0.0.1:5000/webhooks/red-cloud").url == \
            "https://hooks.example.com/in"


def test_ngrok_end_to_end_through_the_fake_agent(agent: Path,
                                                 listener: WebhookListener) -> None:
    tunnel = Tunnel(settings(RC_TUNNEL="ngrok", RC_NGROK_PATH=str(agent),
                             NGROK_AUTHTOKEN=TOKEN))
    try:
        exposure = tunnel.open(listener.url)
        assert exposure.kind == "ngrok" and exposure.url.endswith("/webhooks/red-cloud")
        assert exposure.url.startswith("http://127.0.0.1:")
        assert exposure.url != listener.url  # it is the agent's public side, not ours
        assert TOKEN not in exposure.detail
        pid = tunnel.agent_pid
        assert pid is not None
        response = post_signed(exposure.url, event("msg_tunnel", "message.queued", 1))
        assert response.status_code == 200 and response.json() == {"ok": True}
        (delivery,) = listener.deliveries()
        assert delivery.verified and delivery.message_id == "msg_tunnel"
        assert delivery.headers.get("x-forwarded-proto") == "https"  # it went through ngrok
        # Exposed publicly, the listener still verifies first: a forged event and a replay
        # signed with another secret are refused and never count as lifecycle evidence.
        forged = post_signed(exposure.url, event("msg_forged", "message.sent", 2),
                             secret="not-the-webhook-secret")
        unsigned = httpx.post(exposure.url, json=event("msg_unsigned", "message.sent", 2))
        assert (forged.status_code, unsigned.status_code) == (401, 400)
        rejected = listener.deliveries()[1:]
        assert [d.verified for d in rejected] == [False, False]
        assert all(d.event is None for d in rejected)
    finally:
        tunnel.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the agent is gone (killed and reaped)
    tunnel.close()  # idempotent


@pytest.mark.parametrize("token_in_environment", [False, True])
def test_the_authtoken_reaches_the_agent_only_through_its_private_config_file(
        agent: Path, listener: WebhookListener, monkeypatch: pytest.MonkeyPatch,
        token_in_environment: bool) -> None:
    # pyngrok's PyngrokConfig falls back to $NGROK_AUTHTOKEN and would then pass it as
    # `--authtoken` on the agent's command line: that route must stay closed too.
    if token_in_environment:
        monkeypatch.setenv("NGROK_AUTHTOKEN", TOKEN)
    else:
        monkeypatch.delenv("NGROK_AUTHTOKEN", raising=False)
    tunnel = Tunnel(settings(RC_TUNNEL="ngrok", RC_NGROK_PATH=str(agent),
                             NGROK_AUTHTOKEN=TOKEN))
    try:
        tunnel.open(listener.url)
        assert tunnel.agent_pid is not None
        cmdline = Path(f"/proc/{tunnel.agent_pid}/cmdline").read_bytes()  # what `ps` shows
        assert TOKEN.encode() not in cmdline
    finally:
        tunnel.close()
    (start,) = [s for s in fake_ngrok.starts(agent.parent) if "start" in s["argv"]]
    assert not any(TOKEN in arg for arg in start["argv"])  # type: ignore[union-attr]
    assert "--authtoken" not in start["argv"]  # type: ignore[operator]
    assert start["config_mode"] == 0o600
    config = Path(str(start["config"]))
    assert not config.exists() and not config.parent.exists()  # removed on close


def test_a_missing_authtoken_names_ngrok_authtoken(agent: Path) -> None:
    tunnel = Tunnel(settings(RC_TUNNEL="ngrok", RC_NGROK_PATH=str(agent)))
    with pytest.raises(TunnelError, match="NGROK_AUTHTOKEN is not set"):
        tunnel.open("http://127.0.0.1:5000/webhooks/red-cloud")


def test_a_missing_binary_names_rc_ngrok_path(tmp_path: Path) -> None:
    tunnel = Tunnel(settings(RC_TUNNEL="ngrok", RC_NGROK_PATH=str(tmp_path / "nope"),
                             NGROK_AUTHTOKEN=TOKEN))
    with pytest.raises(TunnelError, match=r"RC_NGROK_PATH: .* is not an executable file") as info:
        tunnel.open("http://127.0.0.1:5000/webhooks/red-cloud")
    assert TOKEN not in str(info.value)
    assert not (tmp_path / "nope").exists()  # nothing was downloaded


def test_no_binary_configured_and_none_on_path(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    tunnel = Tunnel(settings(RC_TUNNEL="ngrok", NGROK_AUTHTOKEN=TOKEN))
    with pytest.raises(TunnelError, match="RC_NGROK_PATH is not set"):
        tunnel.open("http://127.0.0.1:5000/webhooks/red-cloud")


def test_an_agent_that_rejects_the_token_is_a_tunnel_error_without_the_token(
        agent: Path) -> None:
    tunnel = Tunnel(settings(RC_TUNNEL="ngrok", RC_NGROK_PATH=str(agent),
                             NGROK_AUTHTOKEN="invalid"))
    with pytest.raises(TunnelError, match="ERR_NGROK_105"):
        tunnel.open("http://127.0.0.1:5000/webhooks/red-cloud")
    assert tunnel.agent_pid is None


def test_a_suite_session_through_ngrok_receives_the_simulator_lifecycle(
        agent: Path, tmp_path: Path) -> None:
    with Simulator() as sim:
        rc = RunContext.create(settings(RC_TUNNEL="ngrok", RC_NGROK_PATH=str(agent),
                                        NGROK_AUTHTOKEN=TOKEN, RC_REPORTS_DIR=str(tmp_path)),
                               sim.base_url)
        with WebhookSession(rc) as session:
            assert session.exposure is not None and session.exposure.kind == "ngrok"
            assert sim.state.numbers["num_abc123"].webhook_delivery_override == \
                session.public_url
            accepted_send(rc)
            report = session.wait_lifecycle(timeout=10)
            pid = session.tunnel.agent_pid
        assert report.complete and report.cause is None
        assert all(d.headers.get("x-forwarded-proto") == "https" for d in session.deliveries())
        assert sim.state.numbers["num_abc123"].webhook_delivery_override != session.public_url
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
