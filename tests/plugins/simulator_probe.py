"""Tell the test what hosts the run's embedded simulator, once the session has started.

Writes one JSON line to the file descriptor in $RC_TEST_PROBE_FD, when set (a pipe the test
awaits): the simulator's type, its process id, this run's process id, its faults and
variants. With RC_TEST_KILL_SIMULATOR=1 it then kills the simulator's process, as a crash
would; with RC_TEST_PLANT_ERROR=1 it plants an error of ours in the in-thread simulator's
handler_errors, as its server thread would collect one.
"""

from __future__ import annotations

import json
import os
import signal

import pytest

from redcloud_check.suite.stash import SUITE


@pytest.hookimpl(trylast=True)  # after the core plugin started (or took) the simulator
def pytest_sessionstart(session: pytest.Session) -> None:
    simulator = session.config.stash[SUITE].simulator
    pid = getattr(simulator, "pid", os.getpid())
    state = getattr(simulator, "spec", None) or simulator.state
    line = json.dumps({"type": type(simulator).__name__, "pid": pid, "run_pid": os.getpid(),
                       "faults": sorted(state.faults), "variants": sorted(state.variants),
                       "base_url": simulator.base_url})
    if "RC_TEST_PROBE_FD" in os.environ:
        os.write(int(os.environ["RC_TEST_PROBE_FD"]), (line + "\n").encode())
    if os.environ.get("RC_TEST_KILL_SIMULATOR") == "1" and pid != os.getpid():
        os.kill(pid, signal.SIGKILL)
    if os.environ.get("RC_TEST_PLANT_ERROR") == "1" and pid == os.getpid():
        simulator.handler_errors.append(ZeroDivisionError("planted"))
