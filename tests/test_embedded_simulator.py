"""The embedded simulator of a run without RC_BASE_URL (simulator.server.embedded_simulator).

Every run, `redcloud-check run` as plain `pytest`, serves it in a thread of its own process,
built from the settings the plugin read (core.config.load_settings, once), whatever the
machine's load. Real processes on 127.0.0.1, port 0; a run's progress is awaited on a pipe
its probe plugin writes to: events, never sleeps.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from redcloud_check.core.config import CANONICAL

from .leaks import assert_no_secret
from .suite_runner import REPO, clean_env, run_suite

pytestmark = pytest.mark.slow  # every test here runs the suite in a subprocess

CLI = [sys.executable, "-m", "redcloud_check.cli"]  # `redcloud-check`, as a user runs it
PROBE = ("-p", "tests.plugins.simulator_probe")
DEADLINE_S = 30.0


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


def served_in_the_run(seen: dict[str, object]) -> bool:
    """Whether the probe saw the simulator's serving thread in the run's own process."""
    threads = seen["threads"]
    assert isinstance(threads, list)
    return seen["type"] == "Simulator" and \
        f"simulator:{urlsplit(str(seen['base_url'])).port}" in threads


def test_a_run_serves_the_simulator_in_its_own_process_and_leaks_no_secret(
        tmp_path: Path) -> None:
    run = Run(tmp_path)
    seen = run.probe()
    code, out, err = run.finish()
    assert code == 0, out[-3000:]
    assert served_in_the_run(seen), seen
    for text in (out, err, *(p.read_text() for p in tmp_path.rglob("*") if p.is_file())):
        assert_no_secret(text, [CANONICAL["client_secret"], CANONICAL["webhook_secret"]])


@pytest.mark.parametrize(("args", "env", "faults", "variants"), [
    (["--fault", "send-status-sent"], {"RC_SIM_VARIANTS": "uuid-ids"},
     ["send-status-sent"], ["uuid-ids"]),
    (["--rc-sim-faults=webhook-signed-with-client-secret"], {},
     ["webhook-signed-with-client-secret"], []),
    (["@ARGS"], {}, ["send-status-sent"], []),
], ids=["cli-fault-env-variant", "option-webhook-secret-fault", "pytest-args-file"])
def test_the_simulator_is_built_from_the_settings_the_plugin_read(
        tmp_path: Path, args: list[str], env: dict[str, str], faults: list[str],
        variants: list[str]) -> None:
    args_file = tmp_path / "args.txt"  # read by pytest's own parser, as any option
    args_file.write_text("--rc-sim-faults=send-status-sent\n")
    args = [f"@{args_file}" if a == "@ARGS" else a for a in args]
    run = Run(tmp_path / "reports", *args, **env)
    seen = run.probe()
    code, out, _ = run.finish()
    assert (seen["faults"], seen["variants"]) == (faults, variants)
    assert served_in_the_run(seen), seen
    assert code == 1, out[-3000:]  # each fault fails its check


def test_ctrl_c_of_a_run_ends_it_as_interrupted_without_a_traceback(tmp_path: Path) -> None:
    run = Run(tmp_path)
    run.probe()
    os.killpg(run.proc.pid, signal.SIGINT)  # what the terminal's Ctrl-C does
    code, _, err = run.finish()
    assert code == 2
    assert "Traceback" not in err


def test_an_error_in_the_simulator_is_an_internal_error(tmp_path: Path) -> None:
    run = run_suite(tmp_path, *PROBE, RC_TEST_PLANT_ERROR="1", RC_WEBHOOK_TIMEOUT="5")
    assert run.returncode == 7, run.stdout[-3000:]
    assert ("redcloud-check internal error (a bug in redcloud-check, not the API): "
            "simulator: HandlerError: 1 error(s) in the simulator while serving: "
            "ZeroDivisionError: planted") in run.stdout + run.stderr


BROKEN = [sys.executable, "-c",
          "import sys; from redcloud_check.simulator import server\n"
          "def start(self, timeout=10.0): raise RuntimeError('the simulator could not listen "
          "on 127.0.0.1:0 (planted)')\n"
          "server.Simulator.start = start\n"
          "from redcloud_check.cli import main; sys.exit(main(sys.argv[1:]))"]


def test_a_simulator_that_cannot_start_fails_the_run_naming_why(tmp_path: Path) -> None:
    proc = subprocess.run([*BROKEN, "run", "--rc-reports-dir", str(tmp_path)], cwd=REPO,
                          env=clean_env(), capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode not in (0, 1), proc.stdout[-3000:]  # never a verdict on the API
    assert "the simulator could not listen on 127.0.0.1:0 (planted)" in proc.stdout + proc.stderr
