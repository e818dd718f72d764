"""Whether this machine has a core to spare now: the embedded simulator's own process pays
off only then (simulator.process). On a machine whose cores are all busy, the child's
start-up (~0.2 s of CPU) is taken from the run itself: measured on 2 cores, a run with the
child was 30-60 ms faster with a core idle, and about 140 ms slower with none.

The signal is Linux's CPU pressure (/proc/pressure/cpu, "some avg10": the share of the last
10 s in which a runnable task waited for a CPU); our own run and its child on two idle cores
wait for nothing, so back-to-back runs do not talk themselves out of it. Without pressure
information, the 1-minute load average must stay half a CPU below the CPU count (a run
with its child adds about 1.3 by itself).
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
    pressure = cpu_pressure(path)
    if pressure is not None:
        return pressure < PRESSURE_LIMIT
    return os.getloadavg()[0] < (cpus or 1) - 0.5
