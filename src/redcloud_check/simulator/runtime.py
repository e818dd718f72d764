"""What one running simulator shares between its route handlers: state, config, delivery."""

from __future__ import annotations

from dataclasses import dataclass

from .state import SimConfig, SimState
from .webhooks import Deliverer


@dataclass(frozen=True, slots=True)
class Runtime:
    state: SimState
    config: SimConfig
    deliverer: Deliverer
