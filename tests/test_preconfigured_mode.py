"""RC_WEBHOOK_MODE=preconfigured: the user's own webhook configuration routes events to the
listener's fixed port and path; the suite never changes the number's override."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from redcloud_check.simulator import Simulator

from .suite_runner import run_suite

REMOTE = {"RC_CLIENT_ID": "rc_test_client_123", "RC_CLIENT_SECRET": "rc_secret_abc123",
          "RC_NUMBER_ID": "num_abc123", "RC_TO": "+15551234567",
          "RC_WEBHOOK_SECRET": "rc_secret_abc123", "RC_ALLOW_SEND": "1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_preconfigured_mode_receives_events_without_touching_the_override(
        tmp_path: Path) -> None:
    port = _free_port()
    configured = f"http://127.0.0.1:{port}/hooks/red-cloud"
    with Simulator() as sim:
        sim.state.numbers["num_abc123"].webhook_delivery_override = configured
        run = run_suite(tmp_path, RC_BASE_URL=sim.base_url, RC_WEBHOOK_MODE="preconfigured",
                        RC_LISTEN_PORT=str(port), RC_LISTEN_PATH="/hooks/red-cloud",
                        RC_WEBHOOK_TIMEOUT="10", **REMOTE)
        override_after = sim.state.numbers["num_abc123"].webhook_delivery_override
        delivered = [d for d in sim.deliveries if d.url == configured and d.status == 200]
        overrides_written = [r for r in sim.requests if r.method == "PATCH"
                             and r.path == "/api/core/numbers/num_abc123"]
    assert run.returncode == 0, run.stdout[-3000:]
    webhooks = [c for c in run.cases if c.stage == "webhooks"]
    assert webhooks and all(c.outcome in ("passed", "skipped") for c in webhooks)
    assert any(c.outcome == "passed" for c in webhooks)
    assert override_after == configured
    assert delivered, "events reached the preconfigured listener"
    assert len(overrides_written) == 1, "only stage 3's no-op round trip writes the number"
    assert not (tmp_path / ".webhook-override-journal.json").exists()
