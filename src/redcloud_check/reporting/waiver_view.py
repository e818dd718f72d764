"""How the run's waivers read: terminal lines and report.html's block, both rendered from the
`waivers` block of the summary (`core.waivers.WaiverBook.summary`)."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

__all__ = ["waiver_lines", "waivers_html"]


def waiver_lines(waivers: Mapping[str, Any]) -> list[str]:
    """One line per waived failure and per expired waiver (stale ones are warnings)."""
    lines = [f"waived:  {w['nodeid']} — {w['reason']} ({w['waiver']}, until {w['expires']})"
             for w in waivers.get("waived", ())]
    lines += [f"EXPIRED waiver: {w['waiver']} expired on {w['expires']}; its check "
              f"{w['nodeid']} failed (reason was: {w['reason']})"
              for w in waivers.get("expired", ())]
    return lines


def waivers_html(waivers: Mapping[str, Any]) -> str:
    if not any(waivers.get(k) for k in ("waived", "expired", "stale")):
        return ""

    def rows(kind: str, note: str) -> str:
        return "".join(
            f"<tr><td>{escape(kind)}</td><td><code>{escape(w['nodeid'])}</code></td>"
            f"<td>{escape(w['reason'])}</td><td>{escape(w['expires'])}</td>"
            f"<td>{escape(w['waiver'])}{escape(note)}</td></tr>" for w in waivers.get(kind, ()))

    source = escape(str(waivers.get("file") or ""))
    return ("<div class=\"rc-waivers\"><h3>Waivers</h3>"
            f"<p>Accepted deviations from <code>{source}</code>: a waived failure fails "
            "neither the run nor a later stage.</p><table class=\"rc-stages\"><tr><th>state"
            "</th><th>check</th><th>reason</th><th>expires</th><th>waiver</th></tr>"
            + rows("waived", "")
            + rows("expired", " — expired: the failure counts")
            + rows("stale", " — stale: the check passed; remove the waiver")
            + "</table></div>")
