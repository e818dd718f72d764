"""report.html's environment table (pytest-metadata), rendered safe.

Kept: pytest-metadata's platform rows, the run's target and ids, and the versions. Left
out: every environment variable and anything named like a secret. Every value is redacted,
then every string HTML-escaped (pytest-html puts the values into the page as HTML).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

from redcloud_check.core.redaction import Secrets, redact

if TYPE_CHECKING:
    from redcloud_check.context import RunContext

__all__ = ["environment_table", "summarize_versions"]

_SECRETISH = re.compile(r"token|secret|pass|key|auth|cred|cookie|session|private", re.I)
_KEPT_METADATA = ("Platform", "Packages", "Plugins")


def summarize_versions() -> dict[str, str]:
    from redcloud_check.reporting.artifacts import versions

    v = versions()
    return {"redcloud-check": v["redcloud-check"], "Python": v["python"], "pytest": v["pytest"]}


def _escape_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {escape(str(k)): _escape_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escape_tree(v) for v in value]
    return escape(value) if isinstance(value, str) else value


def environment_table(meta: Mapping[str, Any], rc: RunContext | None,
                      secrets: Secrets) -> dict[str, Any]:
    """The rows report.html's environment table shows instead of `meta`."""
    kept: dict[str, Any] = {k: meta[k] for k in _KEPT_METADATA if k in meta}
    for key, value in meta.items():
        if key in kept or key == "Python" or key in os.environ or _SECRETISH.search(key):
            continue  # env vars and anything named like a secret never reach the report
        kept[key] = value
    if rc is not None:
        s = rc.settings
        target = s.base_url or f"embedded simulator at {rc.client.base_url}"
        kept.update({"Target": target, "Client id": s.client_id, "Number id": s.number_id,
                     "Run id": rc.run_id})
    kept.update(summarize_versions())
    return {k: _escape_tree(v) for k, v in redact(kept, secrets).items()}
