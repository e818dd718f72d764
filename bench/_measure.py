"""Measure a child process: wall time and its own peak RSS (os.wait4, per child)."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sample:
    wall_s: float
    peak_rss_mb: float
    returncode: int


def run_once(argv: Sequence[str], env: dict[str, str] | None = None,
             cwd: str | None = None) -> Sample:
    started = time.perf_counter()
    proc = subprocess.Popen(list(argv), env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Sample(wall, usage.ru_maxrss / 1024.0, proc.returncode)


def median_of(samples: Sequence[Sample]) -> tuple[float, float]:
    return (statistics.median(s.wall_s for s in samples),
            statistics.median(s.peak_rss_mb for s in samples))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def python() -> str:
    return sys.executable
