"""The simulator and schemas/openapi.yaml agree: Schemathesis, pinned and bounded.

`st run schemas/openapi.yaml --checks all` against the simulator on 127.0.0.1 port 0, with
schema-aware auth (tests/st_config/schemathesis.toml), a fixed seed and a bounded number of
examples per operation. Any failure (a 5xx, a response off its schema, a schema-valid
request rejected, a schema-invalid one accepted, ...) fails this test: a new disagreement
between the contract and the simulator cannot land. The version is pinned in pyproject.toml.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from redcloud_check.simulator import Simulator

from .suite_runner import REPO

CONFIG = Path(__file__).resolve().with_name("st_config")
SEED = 20261130
MAX_EXAMPLES = 10  # per operation and phase: about 400 cases, well under a minute
TIMEOUT_S = 180  # a hung run fails instead of blocking CI


def run_schemathesis(base_url: str, cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(CONFIG / "hooks.py"), "NO_COLOR": "1",
           "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file",
         str(CONFIG / "schemathesis.toml"), "run", str(REPO / "schemas" / "openapi.yaml"),
         "--url", base_url, "--checks", "all", "--max-examples", str(MAX_EXAMPLES),
         "--seed", str(SEED), "--workers", "1", *extra],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
        stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_schemathesis_finds_no_disagreement_between_simulator_and_spec(tmp_path: Path) -> None:
    with Simulator() as sim:
        started = time.perf_counter()
        run = run_schemathesis(sim.base_url, tmp_path)
        elapsed = time.perf_counter() - started
        statuses = {(r.method, r.path, r.status) for r in sim.requests}
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert "6 selected / 6 total" in output, output[-3000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", output)
    assert generated is not None, output[-3000:]
    cases = int(generated.group(1))
    assert cases >= 250, f"only {cases} cases ran"
    # the accepted path was exercised too, not only the rejections
    assert ("POST", "/api/core/messages/send", 202) in statuses
    assert ("PATCH", "/api/core/numbers/num_smsonly456", 200) in statuses
    print(f"schemathesis: {cases} cases in {elapsed:.1f} s")
