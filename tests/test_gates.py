"""The stage gates are one module: the suite's gate checks and the probe fail them alike."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from redcloud_check.context import RunContext
from redcloud_check.core.config import CANONICAL, load_settings
from redcloud_check.core.errors import CheckFailure
from redcloud_check.probe.runner import probe
from redcloud_check.rules import gates
from redcloud_check.rules.stages import STAGES
from redcloud_check.simulator import Simulator

from .remote_env import REMOTE

CHECKS = Path(__file__).resolve().parents[1] / "checks"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


def _context(sim: Simulator) -> RunContext:
    return RunContext.create(load_settings(environ={"RC_BASE_URL": sim.base_url, **REMOTE}),
                             sim.base_url)


@pytest.mark.parametrize(("fault", "stage", "gate"), [
    ("token-basic-auth-rejected", "token", gates.token_issued),
    ("whoami-client-inactive", "whoami", gates.client_active),
    ("number-not-active", "numbers", gates.number_usable),
])
def test_probe_fails_a_stage_with_the_gate_s_own_title_and_clause(
        sim: Simulator, fault: str, stage: str, gate: Callable[[RunContext], Any]) -> None:
    sim.set_faults([fault])
    try:
        rc = _context(sim)
        if stage != "token":
            gates.token_issued(rc)
        with pytest.raises(CheckFailure) as failed:
            gate(rc)
        rc.client.close()
        rc = _context(sim)
        result = probe(rc)
        rc.client.close()
    finally:
        sim.set_faults(())
    [probed] = [s for s in result.stages if s.stage == stage]
    assert (probed.verdict, probed.title, probed.clause) == (
        "fail", failed.value.title, failed.value.clause)


def test_a_passing_gate_keeps_the_usable_number(sim: Simulator) -> None:
    rc = _context(sim)
    try:
        found = gates.number_usable(rc)
    finally:
        rc.client.close()
    assert rc.number == found and found["numberId"] == CANONICAL["number_id"]


def test_every_gate_check_calls_the_gates_module() -> None:
    """A gate check states no title or clause of its own: its body calls `gates` (or asks for
    the answer a `gates` function makes: `rc.answer(gates.token_issued)`)."""
    seen = 0
    for path in sorted(CHECKS.glob("test_0[1-5]_*.py")):
        for node in ast.parse(path.read_text("utf-8")).body:
            if not isinstance(node, ast.FunctionDef):
                continue
            ids = {ast.literal_eval(d.args[0]) for d in node.decorator_list
                   if isinstance(d, ast.Call) and ast.unparse(d.func) == "check"}
            if not ids & {s.gate_id for s in STAGES}:
                continue
            seen += 1
            used = {ast.unparse(a) for a in ast.walk(node) if isinstance(a, ast.Attribute)}
            assert any(c.startswith("gates.") for c in used), (path.name, node.name)
    assert seen == 5
