"""A run stopped by a setting: its evidence still goes out (junit.xml, escalation.json and
.md, a history line) in its own folder, published at the documented paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redcloud_check.core.config import given_value
from redcloud_check.core.errors import ConfigError

__all__ = ["write_misconfigured"]


def write_misconfigured(given: dict[str, Any], dotenv: Path, run_id: str,
                        error: ConfigError) -> str:
    """Write the configuration-error evidence in this run's folder and publish it; returns
    the lines naming what was written (empty when the reports dir is not writable)."""
    from redcloud_check.reporting import artifacts, run_folder

    reports = Path(given_value("reports_dir", given, dotenv=dotenv) or "reports")
    try:
        folder = run_folder.start_run(reports, run_id)
        artifacts.write_misconfigured(folder.path, error, run_id=run_id,
                                      target=given_value("base_url", given, dotenv=dotenv),
                                      history_dir=reports)
        written = run_folder.publish(folder, [n for n in run_folder.DOCUMENTED
                                              if folder.artifact(n).is_file()])
    except OSError:
        return ""
    return "".join(f"\n{line}" for line in run_folder.listing(folder, written))
