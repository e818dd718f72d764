"""The standalone simulator (``python -m redcloud_check.simulator``, ``redcloud-check
simulate``), the seed file and the in-process runner's lifecycle."""

from __future__ import annotations

import copy
import json
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from redcloud_check.simulator import FAULTS, Simulator
from redcloud_check.simulator.catalog import VARIANTS
from redcloud_check.simulator.seed import DEFAULT_SEED, SeedError, load_seed

from .sim_helpers import CLIENT_ID, CLIENT_SECRET, FORM, NUMBER_ID, Receiver, send_body

SIMULATE = [sys.executable, "-m", "redcloud_check.simulator"]
URL = re.compile(r"(http://127\.0\.0\.1:\d+)$")


class Standalone:
    """The simulator in a subprocess; its stdout lines arrive on a queue."""

    def __init__(self, *args: str, command: list[str] = SIMULATE) -> None:
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([*command, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        threading.Thread(target=self._read, args=(stdout,), daemon=True).start()

    def _read(self, stdout: IO[str]) -> None:
        for line in stdout:
            self.lines.put(line.rstrip("\n"))

    def line(self, timeout: float = 10) -> str:
        return self.lines.get(timeout=timeout)

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(10)
        rest = []
        while True:
            try:
                rest.append(self.lines.get(timeout=1))
            except queue.Empty:
                break
            if rest[-1] == "simulator stopped":
                break
        return code, "\n".join(rest)


def test_standalone_prints_its_url_and_serves_the_quickstart() -> None:
    sim = Standalone("--port", "0")
    try:
        first = sim.line()
        startup = time.perf_counter() - sim.started
        match = URL.search(first)
        assert match, first
        banner = [sim.line() for _ in range(6)]
        assert f"  RC_CLIENT_ID={CLIENT_ID}" in banner
        with httpx.Client(base_url=match.group(1), timeout=10, trust_env=False) as http:
            token = http.post("/api/auth/token", auth=(CLIENT_ID, CLIENT_SECRET),
                              data=FORM).json()["access_token"]
            bearer = {"Authorization": f"Bearer {token}"}
            assert http.get("/api/core/whoami", headers=bearer).json()["apiClientStatus"] \
                == "ACTIVE"
            numbers = http.get("/api/core/numbers", headers=bearer).json()["numbers"]
            assert NUMBER_ID in [n["numberId"] for n in numbers]
            sent = http.post("/api/core/messages/send", json=send_body(),
                             headers={**bearer, "Idempotency-Key": "idem_order_789"})
            assert sent.status_code == 202
    finally:
        code, rest = sim.stop()
    assert code == 0
    assert "POST /api/core/messages/send 202" in rest
    assert "simulator stopped" in rest
    assert token not in rest and "Bearer" not in rest
    assert startup < 5, f"first line after {startup:.2f}s"


def test_list_faults_through_the_main_cli() -> None:
    result = subprocess.run([sys.executable, "-m", "redcloud_check.cli", "simulate",
                             "--list-faults"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert {line.split()[1] for line in result.stdout.splitlines()} == set(FAULTS)


def test_standalone_variants_are_announced_and_applied() -> None:
    sim = Standalone("--port", "0", "--variant", "uuid-ids", "--variant", "gzip-responses")
    try:
        match = URL.search(sim.line())
        assert match
        banner = [sim.line() for _ in range(7)]
        assert "  variants: gzip-responses, uuid-ids" in banner
        with httpx.Client(base_url=match.group(1), timeout=10, trust_env=False) as http:
            token = http.post("/api/auth/token", auth=(CLIENT_ID, CLIENT_SECRET),
                              data=FORM).json()["access_token"]
            sent = http.post("/api/core/messages/send", json=send_body(),
                             headers={"Authorization": f"Bearer {token}",
                                      "Idempotency-Key": "idem_variant"})
            assert sent.status_code == 202 and sent.headers["content-encoding"] == "gzip"
            uuid.UUID(sent.json()["results"][0]["messageId"])
    finally:
        code, _ = sim.stop()
    assert code == 0


def test_list_variants_through_the_main_cli() -> None:
    result = subprocess.run([sys.executable, "-m", "redcloud_check.cli", "simulate",
                             "--list-variants"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert {line.split()[0] for line in result.stdout.splitlines()} == set(VARIANTS)


@pytest.mark.parametrize(("args", "message"), [
    (["--fault", "bogus"], "unknown simulator fault(s): bogus; valid faults:"),
    (["--variant", "bogus"], "unknown simulator variant(s): bogus; valid variants:"),
    (["--seed", "/nonexistent/seed.json"], "seed: cannot read"),
])
def test_bad_options_exit_3_with_a_clear_message(args: list[str], message: str) -> None:
    result = subprocess.run([*SIMULATE, *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 3  # a configuration error (core.exit_codes)
    assert message in result.stderr


def test_a_taken_port_is_reported() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([*SIMULATE, "--port", str(port)], capture_output=True,
                                text=True, timeout=30)
        assert result.returncode == 3  # a configuration error: nothing was served
        assert f"could not listen on 127.0.0.1:{port}" in result.stderr
        with pytest.raises(RuntimeError, match="could not listen"):
            Simulator(port=port).start()


def test_start_stop_and_restart_in_process() -> None:
    sim = Simulator()
    with pytest.raises(RuntimeError):
        _ = sim.base_url
    with sim:
        url = sim.base_url
        assert httpx.get(url + "/api/core/whoami", trust_env=False).status_code == 401
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/api/core/whoami", trust_env=False, timeout=2)
    sim.stop()  # stopping twice is harmless


def _seed(**changes: Any) -> dict[str, Any]:
    seed = copy.deepcopy(json.loads(DEFAULT_SEED.read_text()))
    for path, value in changes.items():
        section, index, field = path.split("__")
        seed[section][int(index)][field] = value
    return dict(seed)


@pytest.mark.parametrize(("changes", "message"), [
    ({"clients__0__clientSecret": 5}, "clients[0].clientSecret: expected a string"),
    ({"numbers__0__owner": "nobody"}, "numbers[0].owner: no client 'nobody'"),
    ({"numbers__0__e164": "5551234567"}, "numbers[0].e164: not an E.164 number"),
    ({"numbers__1__numberId": "num_abc123"}, "duplicate numberId 'num_abc123'"),
    ({"numbers__0__smsEnabled": "yes"}, "numbers[0].smsEnabled: expected true or false"),
    ({"inventory__0__count": -1}, "inventory[0].count: expected 0..9999"),
    ({"clients__0__capabilities": ["a", 1]}, "clients[0].capabilities: expected a list"),
])
def test_invalid_seeds_are_refused_naming_the_field(changes: dict[str, Any],
                                                    message: str) -> None:
    with pytest.raises(SeedError, match=re.escape(message)):
        load_seed(_seed(**changes))


def test_seed_files_load_and_bad_json_is_reported(tmp_path: Path) -> None:
    good = tmp_path / "seed.json"
    good.write_text(json.dumps(_seed(clients__0__name="Renamed")))
    assert load_seed(good).clients[0].name == "Renamed"
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(SeedError, match="is not valid JSON"):
        load_seed(bad)
    with pytest.raises(SeedError, match="missing"):
        load_seed({"clients": [{"clientId": "x"}], "numbers": []})


def test_secrets_stay_out_of_reprs() -> None:
    seed = load_seed()
    assert CLIENT_SECRET not in repr(seed)


def test_latency_is_added_to_every_response() -> None:
    with Simulator(latency_ms=120) as sim:
        started = time.perf_counter()
        httpx.get(sim.base_url + "/api/core/whoami", trust_env=False)
        assert time.perf_counter() - started >= 0.12


def test_logs_hold_no_secret_or_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="redcloud_check.simulator")
    with Simulator(lifecycle_delay_ms=1) as sim, httpx.Client(base_url=sim.base_url,
                                                             trust_env=False) as http:
        token = http.post("/api/auth/token", auth=(CLIENT_ID, CLIENT_SECRET),
                          data=FORM).json()["access_token"]
        http.post("/api/core/messages/send", json=send_body(),
                  headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k"})
        assert sim.wait_deliveries_idle(10)
    text = caplog.text
    assert "POST /api/auth/token 200" in text and "refused" in text
    assert token not in text and CLIENT_SECRET not in text and "Bearer" not in text


def test_redcloud_check_simulate_delivers_signed_events_to_a_loopback_receiver() -> None:
    """`redcloud-check simulate`: the quickstart flow, then the lifecycle reaches a loopback
    receiver with signatures the docs' scheme verifies."""
    sim = Standalone("--port", "0",
                     command=[sys.executable, "-m", "redcloud_check.cli", "simulate"])
    try:
        match = URL.search(sim.line())
        assert match
        with Receiver() as receiver, httpx.Client(base_url=match.group(1), timeout=10,
                                                  trust_env=False) as http:
            token = http.post("/api/auth/token", auth=(CLIENT_ID, CLIENT_SECRET),
                              data=FORM).json()["access_token"]
            bearer = {"Authorization": f"Bearer {token}"}
            patched = http.patch(f"/api/core/numbers/{NUMBER_ID}", headers=bearer,
                                 json={"webhookDeliveryOverride": receiver.url})
            assert patched.status_code == 200
            sent = http.post("/api/core/messages/send", json=send_body(),
                             headers={**bearer, "Idempotency-Key": "idem_standalone"})
            assert sent.status_code == 202
            assert receiver.wait_for(lambda got: len(got) >= 3)
            events = [r.event["eventType"] for r in receiver.received]
            kinds = {r.signature_kind() for r in receiver.received}
    finally:
        code, _ = sim.stop()
    assert code == 0
    assert events == ["message.queued", "message.sent", "message.delivery"]
    assert kinds == {"docs"}
