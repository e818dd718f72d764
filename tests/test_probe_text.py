"""`redcloud-check probe` on a terminal: a human line per stage (per target for a fleet);
JSON with --json or when stdout is not a terminal. The terminal is a real pty."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from redcloud_check.core.config import CANONICAL
from redcloud_check.simulator import Simulator

from .bad_targets import closed_port_url
from .remote_env import REMOTE


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


def on_a_terminal(tmp: Path, *args: str, **env: str) -> tuple[int, list[str]]:
    """Run the probe with its stdout on a pseudo-terminal; (exit code, the lines it shows)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("RC_", "NGROK_"))}
    environ.update({"RC_REPORTS_DIR": str(tmp / "reports"), **env})
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "redcloud_check.cli", "probe", *args],
                            env=environ, cwd=tmp, stdout=follower, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    os.close(follower)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
    code = proc.wait(60)
    text = b"".join(chunks).decode("utf-8").replace("\r\n", "\n")
    return code, [line for line in text.splitlines() if line.strip()]


def test_a_terminal_gets_one_line_per_stage_and_the_verdict(tmp_path: Path,
                                                            sim: Simulator) -> None:
    code, lines = on_a_terminal(tmp_path, RC_BASE_URL=sim.base_url, **REMOTE)
    assert code == 0
    assert len(lines) == 4, lines
    for line, stage in zip(lines, ("token", "whoami", "numbers"), strict=False):
        assert line.split()[:2] == [stage, "pass"], line
        assert " ms " in line and "HTTP 200" in line
    assert lines[3].startswith("healthy (exit 0) in ") and sim.base_url in lines[3]
    assert not any(line.startswith("{") for line in lines)
    assert json.loads((tmp_path / "reports" / "probe.json").read_text())["status"] == "healthy"


def test_a_failed_stage_line_says_what_and_what_next(tmp_path: Path, sim: Simulator) -> None:
    code, lines = on_a_terminal(tmp_path, RC_BASE_URL=sim.base_url,
                                **{**REMOTE, "RC_NUMBER_ID": "num_nobody"})
    assert code == 1
    assert [line.split()[:2] for line in lines[:3]] == [["token", "pass"], ["whoami", "pass"],
                                                        ["numbers", "FAIL"]]
    assert "[1-quickstart.txt, Section 6" in lines[2] and "-> " in lines[2]
    assert lines[3].startswith("unhealthy (exit 1)")
    assert CANONICAL["client_secret"] not in "\n".join(lines)


def test_json_on_a_terminal_when_asked(tmp_path: Path, sim: Simulator) -> None:
    code, lines = on_a_terminal(tmp_path, "--json", RC_BASE_URL=sim.base_url, **REMOTE)
    assert code == 0
    assert len(lines) == 1 and json.loads(lines[0])["status"] == "healthy"


def test_a_pipe_keeps_the_json_line(tmp_path: Path, sim: Simulator) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("RC_", "NGROK_"))}
    environ.update({"RC_REPORTS_DIR": str(tmp_path / "reports"), "RC_BASE_URL": sim.base_url,
                    **REMOTE})
    proc = subprocess.run([sys.executable, "-m", "redcloud_check.cli", "probe"], env=environ,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0
    (line,) = proc.stdout.splitlines()
    assert json.loads(line)["stages"][2]["stage"] == "numbers"


def test_a_fleet_on_a_terminal_gets_one_line_per_target(tmp_path: Path, sim: Simulator) -> None:
    targets = tmp_path / "targets.toml"
    targets.write_text("".join(
        f'[[target]]\nname = "{name}"\nbase_url = "{url}"\nnumber_id = "num_abc123"\n'
        'client_id_env = "ID"\nclient_secret_env = "SECRET"\n'
        for name, url in (("up", sim.base_url), ("down", closed_port_url()))))
    code, lines = on_a_terminal(tmp_path, "--targets", str(targets), ID=CANONICAL["client_id"],
                                SECRET=CANONICAL["client_secret"])
    assert code == 4
    assert lines[-1].startswith("fleet unreachable (exit 4) in ")
    assert "1 healthy" in lines[-1] and "1 unreachable" in lines[-1]
    shown = {line.split()[0]: line for line in lines[:-1]}
    assert sorted(shown) == ["down", "up"]
    assert shown["up"].split()[1] == "healthy"
    assert shown["down"].split()[1] == "unreachable" and "token: No HTTP answer" in shown["down"]
