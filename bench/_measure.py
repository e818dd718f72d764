"""Measure child processes as a user meets them: each command its own process, timed whole.

`run_once` times one child from spawn to exit (interpreter start included) and takes its own
peak RSS and CPU time from os.wait4. `interleaved` alternates subject and anchor rounds, so
both see the same load on a shared machine; every figure is printed next to its anchor's
figure from the same run, with the ratio.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Sample:
    wall_s: float
    peak_rss_mb: float
    returncode: int
    cpu_s: float = 0.0  # user + system time of the child


def run_once(argv: Sequence[str], env: Mapping[str, str] | None = None,
             cwd: str | None = None) -> Sample:
    started = time.perf_counter()
    proc = subprocess.Popen(list(argv), env=None if env is None else dict(env), cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Sample(wall, usage.ru_maxrss / 1024.0, proc.returncode,
                  usage.ru_utime + usage.ru_stime)


def median_of(samples: Sequence[Sample]) -> tuple[float, float]:
    return (statistics.median(s.wall_s for s in samples),
            statistics.median(s.peak_rss_mb for s in samples))


def interleaved(subjects: Mapping[str, Callable[[], Sample]], rounds: int,
                warmup: bool = True) -> dict[str, list[Sample]]:
    """`rounds` rounds of every subject in turn (one warm-up round first, not counted)."""
    if warmup:
        for run in subjects.values():
            run()
    samples: dict[str, list[Sample]] = {name: [] for name in subjects}
    for _ in range(rounds):
        for name, run in subjects.items():
            sample = run()
            if sample.returncode != 0:
                raise SystemExit(f"{name} failed with exit code {sample.returncode}")
            samples[name].append(sample)
    return samples


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs else "n/a"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def machine() -> str:
    return (f"{os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}; "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"load average {load_average()}")


def python() -> str:
    return sys.executable


def console_script(name: str) -> str:
    """A console script of this environment (e.g. redcloud-check), as a user runs it."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise SystemExit(f"{path} is missing: install the project (make install)")
    return str(path)


def parse_runs(doc: str | None, default: int = 7) -> int:
    """The bench's `--runs N` (rounds of each command, 1..50)."""
    import argparse

    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=default)
    runs: int = parser.parse_args().runs
    if not 1 <= runs <= 50:
        parser.error("--runs must be 1..50")
    return runs
