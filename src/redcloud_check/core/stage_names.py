"""The five stages by name, in the troubleshooting path's order (5-troubleshooting.txt).

The one list of them: the suite's stages (`rules.stages`: what each proves and its gate
check), the probe's, the reports' and the simulator's fault catalog (a fault names the
stage expected to fail against it) all use these names.
"""

from __future__ import annotations

__all__ = ["CANARY", "NUMBERS", "SEND", "STAGE_NAMES", "TOKEN", "WEBHOOKS", "WHOAMI"]

TOKEN, WHOAMI, NUMBERS, SEND, WEBHOOKS = STAGE_NAMES = (
    "token", "whoami", "numbers", "send", "webhooks")
CANARY = (SEND, WEBHOOKS)  # the stages that send a message: the probe runs them on --canary
