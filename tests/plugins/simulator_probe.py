"""Tell the test what hosts the run's embedded simulator, once the session has started.

Writes one JSON line to the file descriptor in $RC_TEST_PROBE_FD, when set (a pipe the test
awaits): the simulator's type, the threads of this process serving it, its faults and
variants. With RC_TEST_PLANT_ERROR=1 it then plants an error of ours in the simulator's
handler_errors, as its server thread would collect one.
"""

from __future__ import annotations

import json
import os
import threading

import pytest

from redcloud_check.suite.stash import SUITE


@pytest.hookimpl(trylast=True)  # after the core plugin started the simulator
def pytest_sessionstart(session: pytest.Session) -> None:
    simulator = session.config.stash[SUITE].simulator
    serving = [t.name for t in threading.enumerate() if t.name.startswith(simulator.name)]
    line = json.dumps({"type": type(simulator).__name__, "threads": serving,
                       "faults": sorted(simulator.faults),
                       "variants": sorted(simulator.variants),
                       "base_url": simulator.base_url})
    if "RC_TEST_PROBE_FD" in os.environ:
        os.write(int(os.environ["RC_TEST_PROBE_FD"]), (line + "\n").encode())
    if os.environ.get("RC_TEST_PLANT_ERROR") == "1":
        simulator.handler_errors.append(ZeroDivisionError("planted"))
