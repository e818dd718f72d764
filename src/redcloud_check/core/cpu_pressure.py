"""Whether this machine has a core to spare now: the embedded simulator's own process pays
off only then (simulator.process). On a machine whose cores are all busy, the child's
start-up (~0.2 s of CPU) is taken from the run itself: measured on 2 cores, a run with the
child was 30-60 ms faster with a core idle, and 140-220 ms slower with none.

Two signals must agree. The 1-minute load average stays half a CPU below the CPU count (a
run with its child adds about 1.2 by itself, so back-to-back runs on two idle cores pass;
a machine already running two busy processes does not). And Linux's CPU pressure, where
the kernel has it (/proc/pressure/cpu, "some avg10": the share of the last 10 s in which
a runnable task waited for a CPU), stays below 15%: a burst the 1-minute average does not
show yet.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PRESSURE_LIMIT", "cpu_pressure", "spare_core"]

PRESSURE_FILE = Path("/proc/pressure/cpu")
PRESSURE_LIMIT = 15.0  # % of the last 10 s: measured 8% with a core idle, 25%+ with none


def cpu_pressure(path: Path = PRESSURE_FILE) -> float | None:
    """"some avg10" of a PSI file, in %; None when the kernel does not provide it."""
    try:
        with path.open(encoding="ascii") as file:
            fields = dict(f.split("=", 1) for f in file.readline().split()[1:])
        return float(fields["avg10"])
    except (OSError, ValueError, KeyError):
        return None


def spare_core(path: Path = PRESSURE_FILE) -> bool:
    """True when another process of ours would likely get a CPU of its own now."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if (cpus or 1) < 2:
        return False
    if os.getloadavg()[0] >= (cpus or 1) - 0.5:
        return False
    pressure = cpu_pressure(path)
    return pressure is None or pressure < PRESSURE_LIMIT
