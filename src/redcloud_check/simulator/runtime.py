"""What one running simulator shares between its route handlers: state, config, delivery."""

from __future__ import annotations

from dataclasses import dataclass, field

from redcloud_check.simulator.state import SimConfig, SimState
from redcloud_check.simulator.webhooks import Deliverer


@dataclass(frozen=True, slots=True)
class Runtime:
    state: SimState
    config: SimConfig
    deliverer: Deliverer
    # what code of ours raised while serving: the Simulator's own list (core.errors)
    handler_errors: list[BaseException] = field(default_factory=list)
