"""The servers under test and the anchors' servers, each in its own process on loopback.

Every context manager yields a `Served`: the URL and the process (for its RSS). A server's
stdout is drained on a thread (a full pipe would block it) and its lines are kept in
`Served.lines` when asked to (`keep_lines`), else only counted.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from _measure import console_script

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
EXPRESS_DIR = BENCH / "express_listener"
PRISM_DIR = BENCH / "prism"
OPENAPI = REPO / "schemas" / "openapi.yaml"


@dataclass(slots=True)
class Served:
    url: str
    proc: subprocess.Popen[bytes]
    keep_lines: bool = False
    lines: list[str] = field(default_factory=list)
    line_count: int = 0
    _drain: threading.Thread | None = None

    def drain(self) -> None:
        """Read the server's stdout in large chunks, so that a chatty server (a log line per
        request) never blocks on a full pipe because the bench reads too slowly."""
        assert self.proc.stdout is not None
        stream = cast(io.BufferedReader, self.proc.stdout)
        kept: list[bytes] = []
        while chunk := stream.read1(1 << 16):
            self.line_count += chunk.count(b"\n")
            if self.keep_lines:
                kept.append(chunk)
        if self.keep_lines:
            self.lines = b"".join(kept).decode("utf-8", "replace").splitlines()

    def cpu_s(self) -> float:
        """User + system CPU time the process has used so far, from /proc."""
        import os

        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> tuple[float, float]:
        """(current RSS, peak RSS) of the process, from /proc."""
        values = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0]) / 1024.0
        return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(argv: Sequence[str], ready: str, url_of: Callable[[str], str], *, cwd: Path | None = None,
          env: dict[str, str] | None = None, keep_lines: bool = False,
          timeout_s: float = 60.0) -> Iterator[Served]:
    """Start `argv`; wait for a stdout line containing `ready`; `url_of(line)` is its URL."""
    proc = subprocess.Popen(list(argv), cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    served: Served | None = None
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        while True:
            line = proc.stdout.readline().decode("utf-8", "replace")
            if not line:
                raise RuntimeError(f"{argv[0]} exited before it was ready")
            if ready in line:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{argv[0]} was not ready within {timeout_s:.0f} s")
        served = Served(url_of(line), proc, keep_lines)
        served._drain = threading.Thread(target=served.drain, daemon=True)
        served._drain.start()
        yield served
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if served is not None and served._drain is not None:
            served._drain.join(10)


def _last_word(line: str) -> str:
    return line.rsplit(" ", 1)[1].strip()


def simulate(*extra: str,
             env: dict[str, str] | None = None) -> contextlib.AbstractContextManager[Served]:
    """`redcloud-check simulate --port 0`, as a user runs it."""
    return serve([console_script("redcloud-check"), "simulate", "--port", "0", *extra],
                 "listening on http://", _last_word, env=env)


def listen(secret: str, *extra: str) -> contextlib.AbstractContextManager[Served]:
    """`redcloud-check listen --port 0 --json`; its JSON lines are kept for the counts."""
    import json
    import os

    env = {**os.environ, "RC_WEBHOOK_SECRET": secret}
    return serve([console_script("redcloud-check"), "listen", "--port", "0", "--json", *extra],
                 '"type": "ready"', lambda line: str(json.loads(line)["local"]), env=env,
                 keep_lines=True)


def node_ready(directory: Path, package: str) -> str | None:
    """None when `package` is installed in `directory` (npm ci on first use), else why not."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return "node or npm is not on PATH"
    if not (directory / "node_modules" / package).is_dir():
        print(f"installing {package}: npm ci in {directory}", flush=True)
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=directory,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              timeout=600, check=False)
        if done.returncode != 0:
            return f"npm ci failed: {done.stderr.strip()[-300:]}"
    return None


def express(secret: str) -> contextlib.AbstractContextManager[Served]:
    """The docs' express listener (1-quickstart.txt Section 9), with counters."""
    return serve([shutil.which("node") or "node", "server.js"], "listening on http://",
                 _last_word, cwd=EXPRESS_DIR, env={"PORT": "0", "RC_WEBHOOK_SECRET": secret})


def prism() -> contextlib.AbstractContextManager[Served]:
    """Stoplight Prism mocking schemas/openapi.yaml (static examples), on a free port."""
    import os

    port = free_port()
    return serve([str(PRISM_DIR / "node_modules" / ".bin" / "prism"), "mock", "-h",
                  "127.0.0.1", "-p", str(port), str(OPENAPI)], "Prism is listening",
                 lambda _: f"http://127.0.0.1:{port}", env={**os.environ, "NO_COLOR": "1"})
