"""Where each command's log of its own errors is written (core.run_log writes them; each
command's --help names them: core.exit_codes). Names only: both modules import this."""

from __future__ import annotations

__all__ = ["LOG_NAME", "PROBE_LOG"]

LOG_NAME = "redcloud-check.log"  # in a run's own folder (reporting.run_folder)
PROBE_LOG = "probe.log"  # in the probe's reports dir, next to probe.json
