"""wrk, the load generator for the HTTP benches: a separate process, not our code.

`send_load(url, token, ...)` runs `wrk -t2 -c32 -d Ns` against `{url}/api/core/messages/send`
with a Lua script that gives every request a fresh Idempotency-Key (thread id + counter +
a per-run prefix), and returns requests/s, latency percentiles and non-2xx/socket errors,
which the script's done() prints as one JSON line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SEND_LUA = r"""
local counter = 0
local threads = {}
local prefix = "%(prefix)s"
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  wrk.method = "POST"
  wrk.path = "/api/core/messages/send"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer %(token)s"
  wrk.body = '{"sendFrom":"num_abc123","to":["+15551234567"],"messageType":"SMS",' ..
             '"text":"Hello from Red Cloud","externalReference":"order_789"}'
end
function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = prefix .. "-" .. tid .. "-" .. counter
  return wrk.format()
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d,' ..
    '"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # socket errors (connect/read/write/timeout) + non-2xx/3xx answers

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


def wrk_path() -> str | None:
    return shutil.which("wrk")


def send_load(url: str, token: str, *, seconds: float, threads: int = 2,
              connections: int = 32, prefix: str = "k") -> WrkResult:
    wrk = wrk_path()
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "send.lua"
        script.write_text(SEND_LUA % {"prefix": prefix, "token": token}, encoding="utf-8")
        done = subprocess.run([wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s",
                               "--latency", "-s", str(script), url], capture_output=True,
                              text=True, timeout=seconds + 60, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith('{"requests"')), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    data = json.loads(line)
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return WrkResult(data["requests"], data["duration_us"] / 1e6, data["p50_us"] / 1000,
                     data["p90_us"] / 1000, data["p99_us"] / 1000, data["max_us"] / 1000,
                     errors)


def token(url: str, client_id: str = "rc_test_client_123",
          secret: str = "rc_secret_abc123") -> str:
    """A bearer token from `url` (client_credentials, HTTP Basic), with the stdlib."""
    import base64
    import urllib.request

    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    request = urllib.request.Request(f"{url}/api/auth/token", method="POST",
                                     data=b"grant_type=client_credentials",
                                     headers={"Authorization": f"Basic {basic}", "Content-Type":
                                              "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.loads(response.read())["access_token"])
