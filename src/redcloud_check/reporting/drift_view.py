"""How drift reads: terminal lines and report.html's section, from the summary's `drift`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["drift_html", "drift_lines"]

SHOWN = 12  # endpoints in the terminal; escalation.json and report.html list every field
PATHS = 6  # fields named per endpoint in the terminal


def _where(u: Mapping[str, Any]) -> str:
    status = f" {u['status']}" if u.get("status") is not None else ""
    return f"{u['endpoint']}{status}"


def drift_lines(undocumented: Sequence[Mapping[str, Any]]) -> list[str]:
    """A headline, then one line per endpoint naming its undocumented fields."""
    if not undocumented:
        return ["drift: none (every field seen is in the documented schemas)"]
    by_where: dict[str, list[str]] = {}
    for u in undocumented:
        by_where.setdefault(_where(u), []).append(u["path"])
    lines = [f"drift: {len(undocumented)} undocumented field(s) in {len(by_where)} "
             "endpoint(s) (information, never a failure; additive fields conform)"]
    for where, paths in list(by_where.items())[:SHOWN]:
        more = f" (+{len(paths) - PATHS} more)" if len(paths) > PATHS else ""
        lines.append(f"  undocumented in {where}: {', '.join(paths[:PATHS])}{more}")
    if len(by_where) > SHOWN:
        lines.append(f"  ... and {len(by_where) - SHOWN} more endpoints: escalation.json, "
                     "report.html")
    return lines


def drift_html(undocumented: Sequence[Mapping[str, Any]]) -> str:
    if not undocumented:
        return ("<div class=\"rc-drift\"><h3>Drift</h3><p>None: every field seen is in the "
                "documented schemas.</p></div>")
    rows = "".join(f"<tr><td><code>{escape(u['path'])}</code></td><td>{escape(_where(u))}"
                   f"</td><td>{escape(u['schema'])}</td><td>{u['count']}</td></tr>"
                   for u in undocumented)
    return ("<div class=\"rc-drift\"><h3>Drift: undocumented fields "
            f"({len(undocumented)})</h3><p>Fields the API sent that the documented schemas "
            "do not describe. Information, never a failure: additive fields conform."
            "</p><table class=\"rc-stages\"><tr><th>JSON path</th><th>endpoint</th>"
            f"<th>schema</th><th>seen</th></tr>{rows}</table></div>")
