"""The console script's process exit (cli.exit_without_teardown): the exit code, the
streams and the atexit handlers as `sys.exit` leaves them, without the teardown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PRELUDE = ("import atexit, sys, threading\n"
           "from redcloud_check.cli import exit_without_teardown\n"
           "atexit.register(lambda: open(sys.argv[1], 'w').write('atexit ran'))\n"
           "sys.stdout.write('buffered, no newline')\n")


def _run(tmp_path: Path, body: str) -> tuple[subprocess.CompletedProcess[str], str]:
    marker = tmp_path / "marker"
    proc = subprocess.run([sys.executable, "-c", PRELUDE + body, str(marker)],
                          capture_output=True, text=True, timeout=60)
    return proc, marker.read_text() if marker.exists() else ""


def test_the_process_ends_with_the_code_its_output_and_its_atexit_handlers(
        tmp_path: Path) -> None:
    proc, marker = _run(tmp_path, "exit_without_teardown(5)\nprint('not reached')\n")
    assert proc.returncode == 5
    assert proc.stdout == "buffered, no newline"
    assert marker == "atexit ran"


def test_a_live_non_daemon_thread_gets_the_interpreters_own_exit(tmp_path: Path) -> None:
    body = ("done = threading.Event()\n"
            "worker = threading.Thread(target=lambda: (done.wait(5), print(' worker done')))\n"
            "worker.start()\n"
            "exit_without_teardown(5)\n"
            "print(' returned'); done.set()\n")
    proc, marker = _run(tmp_path, body)
    assert proc.returncode == 0
    assert proc.stdout == "buffered, no newline returned\n worker done\n"
    assert marker == "atexit ran"


def test_a_tracer_or_profiler_gets_the_interpreters_own_exit(tmp_path: Path) -> None:
    proc, marker = _run(tmp_path, "sys.setprofile(lambda *a: None)\n"
                                  "exit_without_teardown(5)\nsys.setprofile(None)\n"
                                  "print(' returned')\n")
    assert proc.returncode == 0 and proc.stdout.endswith(" returned\n")
    assert marker == "atexit ran"


def test_the_console_script_exits_with_the_commands_code(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "redcloud_check.cli", "diff",
                           str(tmp_path / "old.json"), str(tmp_path / "new.json")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr  # an unreadable run: a configuration error
    assert "old.json" in proc.stderr
