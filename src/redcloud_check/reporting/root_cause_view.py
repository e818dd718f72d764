"""The run's root causes as every renderer leads with them: terminal, escalation.md and
report.html, from the (redacted) `summary.rootCauses` of escalation.json.

Each says its side in words a reader acts on: the API's (with the proof next to it), the
integration's (naming the setting), redcloud-check's own, or unknown (with what would
decide it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["html_block", "side_words", "terminal_lines", "ticket_lines"]

SHOWN_EVIDENCE = 4
SHOWN_CHECKS = 6


def side_words(root: Mapping[str, Any]) -> str:
    side = root["side"]
    if side == "api":
        return "the API's side (proven by the evidence below)"
    if side == "integration":
        return f"the integration's side: {root.get('setting') or 'a setting'}"
    if side == "tool":
        return "redcloud-check's own error, not the API's"
    return "neither side is proven by this run (what would decide it is below)"


def _checks(root: Mapping[str, Any]) -> str:
    ids = list(root["checks"])
    more = f" (+{len(ids) - SHOWN_CHECKS} more)" if len(ids) > SHOWN_CHECKS else ""
    return ", ".join(ids[:SHOWN_CHECKS]) + more


def terminal_lines(roots: Sequence[Mapping[str, Any]]) -> list[str]:
    """The lead of the terminal summary: each root cause, its side, proof and next step."""
    lines: list[str] = []
    for n, root in enumerate(roots, 1):
        lines += [f"  root cause {n} of {len(roots)}: {root['id']} [{root['side']}] "
                  f"{root['title']}",
                  f"    side:     {side_words(root)}"]
        lines += [f"    evidence: {e}" for e in root["evidence"][:SHOWN_EVIDENCE]]
        if root.get("decide"):
            lines.append(f"    decide:   {root['decide']}")
        lines += [f"    checks:   {_checks(root)}", f"    next:     {root['next']}"]
    return lines


def ticket_lines(roots: Sequence[Mapping[str, Any]]) -> list[str]:
    """escalation.md's opening section."""
    if not roots:
        return []
    lines = ["## Root causes", ""]
    for n, root in enumerate(roots, 1):
        lines += [f"### {n}. `{root['id']}` — {root['title']}", "",
                  f"- Side: **{root['side']}**: {side_words(root)}"]
        lines += [f"- Evidence: {e}" for e in root["evidence"]]
        if root.get("decide"):
            lines.append(f"- What would decide it: {root['decide']}")
        lines += [f"- Checks: {', '.join(root['checks'])}", f"- Next: {root['next']}", ""]
    return lines


_TONE = {"passed": "ok", "waived": "ok", "partial": "warn", "inconclusive": "warn",
         "blocked": "warn", "not_run": "warn", "interrupted": "warn"}


def banner_html(summary: Mapping[str, Any]) -> str:
    """report.html's first line: the verdict as a banner, what it proves, and where to
    start (the lead root cause, its side and its next action)."""
    verdict = str(summary["verdict"])
    c = summary["counts"]
    tally = ", ".join(f"{c[k]} {k}" for k in ("passed", "failed", "inconclusive", "blocked",
                                               "waived", "skipped") if c.get(k))
    roots = summary.get("rootCauses") or []
    if roots:
        lead = roots[0]
        start = (f"<p><b>Start here:</b> <code>{escape(lead['id'])}</code> "
                 f"{escape(lead['title'])} on {escape(side_words(lead))}. "
                 f"{escape(lead['next'])}</p>")
    elif verdict == "passed":
        start = "<p>Every check of every stage ran and passed.</p>"
    else:
        start = ""
    return (f'<div class="rc-verdict rc-verdict-{_TONE.get(verdict, "bad")}" role="status" '
            f'data-verdict="{escape(verdict)}"><p class="rc-verdict-line">'
            f"<b>{escape(verdict.upper())}</b> {escape(summary['headline'])}"
            f"{' (' + escape(tally) + ')' if tally else ''}</p>{start}</div>")


def html_block(roots: Sequence[Mapping[str, Any]]) -> str:
    """report.html's lead: the root causes with their side, under the verdict."""
    if not roots:
        return ""
    items = []
    for root in roots:
        evidence = "".join(f"<li>{escape(str(e))}</li>" for e in root["evidence"])
        decide = (f"<p><b>What would decide it:</b> {escape(root['decide'])}</p>"
                  if root.get("decide") else "")
        items.append(
            f'<div class="rc-root rc-side-{escape(root["side"])}" '
            f'data-root-cause="{escape(root["id"])}" data-side="{escape(root["side"])}">'
            f"<h4><code>{escape(root['id'])}</code> {escape(root['title'])}</h4>"
            f"<p><b>Side:</b> {escape(side_words(root))}</p><ul>{evidence}</ul>{decide}"
            f"<p><b>Checks:</b> {escape(', '.join(root['checks']))}</p>"
            f"<p><b>Next:</b> {escape(root['next'])}</p></div>")
    return f'<div class="rc-roots"><h3>Root causes</h3>{"".join(items)}</div>'
