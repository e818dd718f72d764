"""The embedded simulator in a process of its own (simulator.process, simulator.child).

Real processes and real sockets on 127.0.0.1, port 0. A child's exit is awaited on its
pidfd and a run's progress on a pipe its probe plugin writes to: events, never sleeps.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from redcloud_check.core import cpu_pressure
from redcloud_check.core.config import CANONICAL
from redcloud_check.core.errors import HandlerError
from redcloud_check.simulator import process
from redcloud_check.simulator.process import ChildError, SimSpec, SimulatorProcess
from redcloud_check.simulator.server import Simulator

from .leaks import assert_no_secret
from .suite_runner import REPO, clean_env, read_junit, run_suite

CHILDREN = Path(__file__).with_name("sim_children.py")
# `redcloud-check run` as if a core were free (core.cpu_pressure decides that for a user)
CLI = [sys.executable, "-c", "import sys; from redcloud_check.core import cpu_pressure\n"
       "cpu_pressure.spare_core = lambda *_: True\n"
       "from redcloud_check.cli import main; sys.exit(main(sys.argv[1:]))"]
PROBE = ("-p", "tests.plugins.simulator_probe")
DEADLINE_S = 30.0


def odd_child(mode: str) -> SimulatorProcess:
    return SimulatorProcess.spawn(SimSpec(), [sys.executable, str(CHILDREN), mode])


@pytest.fixture
def child() -> Iterator[SimulatorProcess]:
    started = SimulatorProcess.spawn(SimSpec()).wait_ready()
    yield started
    started.discard()


def exits_within(pid: int, deadline: float = DEADLINE_S) -> bool:
    """Whether process `pid` (not necessarily ours) exits within `deadline` seconds."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([pidfd], [], [], deadline)[0])
    finally:
        os.close(pidfd)


def token(base_url: str) -> requests.Response:
    return requests.post(f"{base_url}/api/auth/token", timeout=10,
                         data={"grant_type": "client_credentials"},
                         auth=(CANONICAL["client_id"], CANONICAL["client_secret"]))


# --- the child on its own ----------------------------------------------------------------


def test_the_child_serves_the_simulator_from_its_own_process(child: SimulatorProcess) -> None:
    assert child.pid != os.getpid()
    assert token(child.base_url).status_code == 200
    with Simulator() as in_thread:  # what the in-thread simulator tells the plugin
        assert child.webhook_secret(CANONICAL["client_id"]) == in_thread.webhook_secret(
            CANONICAL["client_id"])
    assert child.webhook_secret("no_such_client") is None
    child.stop()
    child.check_handler_errors()  # nothing of ours raised
    with pytest.raises(requests.ConnectionError):  # it was the child that served
        token(child.base_url)


def test_an_error_of_ours_in_the_child_is_raised_at_stop_as_handler_error() -> None:
    child = odd_child("raising").wait_ready()
    assert requests.get(f"{child.base_url}/boom", timeout=10).status_code == 404
    child.stop()
    with pytest.raises(HandlerError, match="ZeroDivisionError: boom in the child") as raised:
        child.check_handler_errors()
    error = raised.value.errors[0]
    assert isinstance(error, ChildError) and type(error).__name__ == "ZeroDivisionError"
    assert raised.value.server == "simulator"


def test_a_child_that_dies_while_serving_is_a_handler_error(child: SimulatorProcess) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.stop()
    with pytest.raises(HandlerError, match="exited with code -9"):
        child.check_handler_errors()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_child_quietly(child: SimulatorProcess, sig: signal.Signals,
                                          capfd: pytest.CaptureFixture[str]) -> None:
    os.kill(child.pid, sig)
    assert exits_within(child.pid)
    child.stop()
    assert child.returncode == 0
    assert "Traceback" not in capfd.readouterr().err
    with pytest.raises(HandlerError, match=f"stopped by {sig.name} during the run"):
        child.check_handler_errors()  # the run lost its simulator: not a finding


def test_a_child_whose_parent_is_gone_exits_quietly() -> None:
    """Its pipe to the parent broken, the child still stops cleanly: no traceback, exit 0."""
    proc = subprocess.Popen([sys.executable, "-m", process.CHILD_MODULE, SimSpec().to_json()],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=process._child_env())
    assert proc.stdout is not None and proc.stdin is not None
    assert json.loads(proc.stdout.readline())["event"] == "ready"
    proc.stdout.close()  # nobody reads its "stopped" any more
    proc.stdin.close()
    assert exits_within(proc.pid)
    assert proc.wait() == 0
    assert proc.stderr is not None and b"Traceback" not in proc.stderr.read()


def test_a_child_that_cannot_listen_says_what_the_in_thread_start_says() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError) as in_thread:
            Simulator(port=port).start()
        with pytest.raises(RuntimeError) as in_child:
            odd_child(f"port={port}").wait_ready()
    assert str(in_child.value) == str(in_thread.value)
    assert f"could not listen on 127.0.0.1:{port}" in str(in_child.value)


@pytest.mark.parametrize(("command", "cause"), [
    ([sys.executable, str(CHILDREN), "abort"], "exited with code -6"),
    ([sys.executable, "-m", "redcloud_check.no_such_module"],
     "exited with code 1: .*No module named redcloud_check.no_such_module"),
], ids=["crash", "import-error"])
def test_a_child_that_dies_before_listening_names_the_cause(command: list[str],
                                                           cause: str) -> None:
    child = SimulatorProcess.spawn(SimSpec(), command)
    with pytest.raises(RuntimeError, match=f"the simulator did not start: the simulator "
                                           f"process {cause}"):
        child.wait_ready()
    assert child.returncode is not None  # reaped: nothing left behind


def test_a_child_that_never_answers_is_given_up_never_waited_for() -> None:
    child = odd_child("silent")
    with pytest.raises(RuntimeError, match="no answer from the simulator process within 1 s"):
        child.wait_ready(timeout=1.0)
    assert child.returncode is not None


# --- which simulator a run gets -------------------------------------------------------------


@pytest.mark.parametrize(("args", "env", "dotenv", "expected"), [
    ([], {}, "", SimSpec()),
    (["--fault-not-ours", "-q"], {"RC_SIM_FAULTS": "a, b"}, "", SimSpec(frozenset("ab"))),
    (["--rc-sim-variants=v"], {}, "RC_SIM_FAULTS=f\n", SimSpec(frozenset("f"), frozenset("v"))),
    (["--rc-sim-faults", "x"], {"RC_SIM_FAULTS": "y"}, "", SimSpec(frozenset("x"))),
    ([], {"PYTEST_ADDOPTS": "--rc-sim-faults=z"}, "", SimSpec(frozenset("z"))),
    (["--rc-sim-faults=x"], {"PYTEST_ADDOPTS": "--rc-sim-faults=z"}, "", SimSpec(frozenset("x"))),
    (["--rc-base-url", "https://api.example.com"], {}, "", None),
    ([], {"RC_BASE_URL": "https://api.example.com"}, "", None),
    ([], {}, "RC_BASE_URL=https://api.example.com\n", None),
    ([], {"PYTEST_ADDOPTS": "--rc-base-url=https://api.example.com"}, "", None),
])
def test_the_planned_spec_reads_the_settings_sources_load_settings_reads(
        tmp_path: Path, args: list[str], env: dict[str, str], dotenv: str,
        expected: SimSpec | None) -> None:
    (tmp_path / ".env").write_text(dotenv)
    assert process.planned_spec(args, env, tmp_path / ".env") == expected


def test_the_run_takes_a_matching_child_and_stops_a_mismatched_one(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cpu_pressure, "spare_core", lambda *_: True)
    monkeypatch.delenv("RC_BASE_URL", raising=False)
    monkeypatch.setenv("RC_SIM_FAULTS", "send-status-sent")
    matching = process.prestart([])
    assert matching is not None
    try:
        assert process.embedded_simulator(["send-status-sent"], []) is matching
        assert process.embedded_simulator(["send-status-sent"], []) is not matching  # taken once
    finally:
        matching.discard()
    mismatched = process.prestart([])
    assert mismatched is not None
    simulator = process.embedded_simulator(["send-accepted-200"], [])
    try:
        assert isinstance(simulator, Simulator)
        assert simulator.faults == {"send-accepted-200"}
        assert mismatched.returncode is not None  # stopped, not left running
    finally:
        simulator.stop()


def test_no_child_when_no_core_is_free(monkeypatch: pytest.MonkeyPatch,
                                       tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cpu_pressure, "spare_core", lambda *_: False)
    monkeypatch.delenv("RC_BASE_URL", raising=False)
    assert process.prestart([]) is None
    simulator = process.embedded_simulator([], [])
    try:
        assert isinstance(simulator, Simulator)  # the thread, as before
    finally:
        simulator.stop()


# --- whole runs: `redcloud-check run` ----------------------------------------------------------


class Run:
    """`redcloud-check run` with the probe plugin, started in a session of its own; the
    probe's line (what hosts the simulator) is awaited on a pipe."""

    def __init__(self, reports: Path, *args: str, cli: list[str] = CLI, **env: str) -> None:
        read, write = os.pipe()
        self._probe = os.fdopen(read, "rb")
        self.proc = subprocess.Popen(
            [*cli, "run", *PROBE, "--rc-reports-dir", str(reports), *args], cwd=REPO,
            env=clean_env(RC_TEST_PROBE_FD=str(write), RC_WEBHOOK_TIMEOUT="5", **env),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, pass_fds=(write,), start_new_session=True)
        os.close(write)
        self.reports = reports

    def probe(self) -> dict[str, object]:
        if not select.select([self._probe], [], [], DEADLINE_S)[0]:
            raise AssertionError("the run did not start its session in time")
        line = self._probe.readline()
        assert line, "the run ended before its session started"
        return dict(json.loads(line))

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=120)
        self._probe.close()
        return self.proc.returncode, out, err


def outcomes(reports: Path) -> dict[str, str]:
    return {c.name: c.outcome for c in read_junit(reports / "junit.xml")}


def test_a_run_is_served_by_the_child_and_leaks_no_secret(tmp_path: Path) -> None:
    run = Run(tmp_path)
    seen = run.probe()
    code, out, err = run.finish()
    assert code == 0, out[-3000:]
    assert seen["type"] == "SimulatorProcess" and seen["pid"] != seen["run_pid"]
    assert exits_within(int(str(seen["pid"])), 0)  # stopped with the run
    for text in (out, err, *(p.read_text() for p in tmp_path.rglob("*") if p.is_file())):
        assert_no_secret(text, [CANONICAL["client_secret"], CANONICAL["webhook_secret"]])


@pytest.mark.parametrize(("args", "env", "faults", "variants"), [
    (["--fault", "send-status-sent"], {"RC_SIM_VARIANTS": "uuid-ids"},
     ["send-status-sent"], ["uuid-ids"]),
    (["--rc-sim-faults=webhook-signed-with-client-secret"], {},
     ["webhook-signed-with-client-secret"], []),
], ids=["cli-fault-env-variant", "option-webhook-secret-fault"])
def test_faults_and_variants_reach_the_child_with_the_in_thread_outcome(
        tmp_path: Path, args: list[str], env: dict[str, str], faults: list[str],
        variants: list[str]) -> None:
    run = Run(tmp_path / "child", *args, **env)
    seen = run.probe()
    code, out, _ = run.finish()
    assert (seen["type"], seen["faults"], seen["variants"]) == (
        "SimulatorProcess", faults, variants)
    in_thread = run_suite(tmp_path / "thread", RC_SIM_FAULTS=",".join(faults),
                          RC_SIM_VARIANTS=",".join(variants), RC_WEBHOOK_TIMEOUT="5")
    assert code == in_thread.returncode == 1, out[-3000:]
    assert outcomes(tmp_path / "child") == outcomes(tmp_path / "thread")


def test_a_child_built_for_other_settings_gives_way_to_the_in_thread_simulator(
        tmp_path: Path) -> None:
    args = tmp_path / "args.txt"  # pytest reads these; the early guess does not see them
    args.write_text("--rc-sim-faults=send-status-sent\n")
    run = Run(tmp_path / "reports", f"@{args}")
    seen = run.probe()
    code, out, _ = run.finish()
    assert (seen["type"], seen["pid"], seen["faults"]) == (
        "Simulator", seen["run_pid"], ["send-status-sent"])
    assert code == 1 and "An accepted recipient is not QUEUED" in out


def test_killing_the_run_makes_the_child_exit(tmp_path: Path) -> None:
    run = Run(tmp_path)
    seen = run.probe()
    pidfd = os.pidfd_open(int(str(seen["pid"])))  # opened while the child is alive
    try:
        run.proc.kill()
        assert select.select([pidfd], [], [], DEADLINE_S)[0], "the child outlived the run"
    finally:
        os.close(pidfd)
        run.finish()


def test_ctrl_c_of_a_run_stops_the_child_without_a_traceback(tmp_path: Path) -> None:
    run = Run(tmp_path)
    seen = run.probe()
    os.killpg(run.proc.pid, signal.SIGINT)  # what the terminal's Ctrl-C does
    code, _, err = run.finish()
    assert code == 2
    assert exits_within(int(str(seen["pid"])), 0)
    assert "Traceback" not in err


def test_a_child_killed_during_the_run_is_an_internal_error(tmp_path: Path) -> None:
    run = Run(tmp_path, RC_TEST_KILL_SIMULATOR="1")
    run.probe()
    code, out, err = run.finish()
    assert code == 7, out[-3000:]
    assert ("redcloud-check internal error (a bug in redcloud-check, not the API): "
            "simulator: HandlerError: 1 error(s) in the simulator while serving: "
            "ChildProcessError: the simulator process exited with code -9") in out + err


def test_an_error_in_the_in_thread_simulator_is_an_internal_error_too(tmp_path: Path) -> None:
    run = run_suite(tmp_path, *PROBE, RC_TEST_PLANT_ERROR="1", RC_WEBHOOK_TIMEOUT="5")
    assert run.returncode == 7, run.stdout[-3000:]
    assert ("redcloud-check internal error (a bug in redcloud-check, not the API): "
            "simulator: HandlerError: 1 error(s) in the simulator while serving: "
            "ZeroDivisionError: planted") in run.stdout + run.stderr


BROKEN = [sys.executable, "-c",
          "import sys; from redcloud_check.simulator import process, server\n"
          "from redcloud_check.core import cpu_pressure\n"
          "cpu_pressure.spare_core = lambda *_: True\n"
          "if sys.argv[1] == 'child': process.CHILD_MODULE = 'redcloud_check.no_such_module'\n"
          "else:\n"
          "    def start(self, timeout=10.0): raise RuntimeError('the simulator did not "
          "start: ModuleNotFoundError')\n"
          "    server.Simulator.start = start\n"
          "    process.prestart = lambda args: None\n"
          "from redcloud_check.cli import main; sys.exit(main(sys.argv[2:]))"]


def test_a_child_that_cannot_start_fails_the_run_as_an_in_thread_start_does(
        tmp_path: Path) -> None:
    runs = {}
    for where in ("child", "thread"):
        proc = subprocess.run([*BROKEN, where, "run", "--rc-reports-dir",
                               str(tmp_path / where)], cwd=REPO, env=clean_env(),
                              capture_output=True, text=True, timeout=120)
        runs[where] = proc
    assert runs["child"].returncode == runs["thread"].returncode != 0
    assert "RuntimeError: the simulator did not start: the simulator process exited with " \
           "code 1: " in runs["child"].stdout
    assert "No module named redcloud_check.no_such_module" in runs["child"].stdout
