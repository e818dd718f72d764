"""The one diagnosis pipeline: evidence -> `Diagnosis` -> every renderer.

    observe(error, ...)    the Observation of a failure, built here and nowhere else
    diagnose(error, ...)   -> Diagnosis: the guide's entry (`guide.lookup`) plus the cause the
                           check established itself, when its failure carries one
    Diagnosis.lead         what every renderer leads with, decided once: the check's own
                           cause when there is one, else the guide entry
    as_dict()              the JSON form in escalation.json ("lead" is the decision)

Renderers: `terminal_lines` (the suite's terminal), `one_line` (probe.json), and from the JSON
form `reporting.html` (report.html) and `reporting.ticket` (escalation.md). Each shows the lead
first, so all of them name the same cause.

Public surface: `Diagnosis`, `Lead`, `observe`, `diagnose`, `lead_of`, `terminal_lines`,
`one_line`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from redcloud_check.core.errors import CheckFailure, ConfigError, TargetUnreachable
from redcloud_check.core.exchange import Exchange
from redcloud_check.core.models import Cause
from redcloud_check.core.urls import without_userinfo
from redcloud_check.reporting.guide import GuideEntry, Observation, entries, lookup
from redcloud_check.reporting.ruled_out import API_BREAKS_RULE, RunFacts, ruled_out

__all__ = ["Diagnosis", "Lead", "diagnose", "guide_rows", "lead_of", "observe", "one_line",
           "terminal_lines"]

Failure = Literal["check", "unreachable", "tool", "config"]


@dataclass(frozen=True, slots=True)
class Lead:
    """What a diagnosis leads with, in every renderer."""

    source: Literal["finding", "guide"]  # the check's own cause, or the guide's entry
    cause: str  # the cause id (Cause.id, or the guide entry's id)
    summary: str  # what was found, or the guide's likely causes
    next_action: str
    reference: str  # the cause's clause, or the guide's section
    side: str = "unknown"  # whose side (core.models.Side), as proven so far
    decide: str = ""  # side unknown: what would decide it


@dataclass(frozen=True, slots=True)
class Diagnosis:
    guide: GuideEntry
    cause: Cause | None = None  # what the check itself established (a finding)
    # what the run's evidence rules out (reporting.ruled_out): symptom or cause -> why
    ruled: tuple[tuple[str, str], ...] = ()

    @property
    def ruled_out(self) -> tuple[str, ...]:
        return tuple(f"{what}: {why}" for what, why in self.ruled)

    @property
    def lead(self) -> Lead:
        if self.cause is not None:
            c = self.cause
            return Lead("finding", c.id, c.detail, c.next_action, c.clause, c.side, c.decide)
        g = self.guide
        ruled = dict(self.ruled)
        left = [c for c in g.likely_causes if c not in ruled]
        if left or not g.likely_causes:
            return Lead("guide", g.id, "; ".join(left), g.next_action, g.section, g.side,
                        g.decide)
        why = "; ".join(dict.fromkeys(ruled[c] for c in g.likely_causes))
        return Lead("finding", API_BREAKS_RULE,
                    f"This run rules out every likely cause the guide gives for "
                    f"\"{g.symptom}\" ({'; '.join(g.likely_causes)}): {why}. The answer "
                    "itself breaks the documented rule above.",
                    "Report it to Red Cloud with this bundle; the integration's side is "
                    "ruled out by the facts above.", g.section, "api")

    def as_dict(self) -> dict[str, Any]:
        """The guide entry's fields, the check's finding (if any) and the lead."""
        data = self.guide.as_dict()
        if self.cause is not None:
            c = self.cause
            data["finding"] = {"cause": c.id, "detail": c.detail, "next_action": c.next_action,
                               "clause": c.clause}
        data["lead"] = asdict(self.lead)
        if self.ruled_out:
            data["ruled_out"] = list(self.ruled_out)
        return data


def _symptoms() -> frozenset[str]:
    return frozenset(e.symptom for e in entries())


def failure_kind(error: BaseException | None) -> Failure:
    if error is None or isinstance(error, CheckFailure):
        return "check"
    if isinstance(error, TargetUnreachable):
        return "unreachable"
    return "config" if isinstance(error, ConfigError) else "tool"


def observe(error: BaseException | None, *, stage: str | None = None, check: str | None = None,
            exchange: Exchange | None = None, timeout: float | None = None) -> Observation:
    """What the failure looked like: the one place an Observation is built."""
    ex = exchange
    status = ex.status if ex is not None else None
    body_json = None if status is None or ex is None else ex.json_or_none() is not None
    url = getattr(error, "url", None) or (ex.url if ex is not None else "")
    failure = failure_kind(error)
    said = "" if error is None else str(error) if failure == "config" else \
        f"{type(error).__name__}: {error}"
    return Observation(
        failure=failure, stage=stage, check=check, status=status,
        error_code=ex.error_code if ex is not None else None,
        kind=getattr(error, "kind", None) or (ex.error_kind if ex is not None else None),
        body_json=body_json, url=without_userinfo(url, keep_query=True) if url else "",
        endpoint=ex.endpoint if ex is not None else "",
        timeout=f"{timeout:g} s" if timeout else "",
        setting=getattr(error, "setting", ""),
        error=said)


def diagnose(error: BaseException | None, *, stage: str | None = None,
             check: str | None = None, exchange: Exchange | None = None,
             timeout: float | None = None, facts: RunFacts | None = None) -> Diagnosis:
    """Evidence -> Diagnosis: the guide's entry for what the failure looked like (passing over
    a symptom the run ruled out), the cause the failure carries (CheckFailure.cause), which
    then leads, and what `facts` (the run's evidence so far) rule out."""
    obs = observe(error, stage=stage, check=check, exchange=exchange, timeout=timeout)
    ruled = ruled_out(error, facts)
    guide = lookup(obs, frozenset(ruled))
    shown = tuple((k, v) for k, v in ruled.items()
                  if k in guide.likely_causes or k in _symptoms())
    return Diagnosis(guide, getattr(error, "cause", None), shown)


def lead_of(diagnosis: Mapping[str, Any]) -> Mapping[str, Any]:
    """The lead of a diagnosis in its JSON form (escalation.json)."""
    lead: Mapping[str, Any] = diagnosis["lead"]
    return lead


def terminal_lines(diagnosis: Mapping[str, Any], *, request_id: str | None = None) -> list[str]:
    """The lines a failure shows in the terminal after expected/actual: the requestId, then
    the lead, then what to do next."""
    lead = lead_of(diagnosis)
    lines = [f"  requestId: {request_id}"] if request_id else []
    lines.append(f"  cause:     {lead['cause']}")
    if lead["source"] == "finding":
        lines.append(f"  found:     {lead['summary']}")
    else:
        if diagnosis.get("note"):
            lines.append(f"  note:      {diagnosis['note']}")
        if lead["summary"]:
            lines.append(f"  likely:    {lead['summary']}")
    lines.append(f"  side:      {lead.get('side', 'unknown')}"
                 + (f"; what would decide it: {lead['decide']}" if lead.get("decide") else ""))
    lines.append(f"  next:      {lead['next_action']}  ({lead['reference']})")
    return lines


def guide_rows(diagnosis: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The guide's part of a diagnosis in its JSON form, as (label, text) rows: what every
    renderer that shows the guide (report.html, escalation.md) shows, in this order."""
    rows = [("Note", diagnosis["note"])] if diagnosis.get("note") else []
    rows += [("Likely causes", "; ".join(diagnosis["likely_causes"])),
             ("Check", "; ".join(diagnosis["check"])),
             ("Best next action", diagnosis["next_action"])]
    if diagnosis.get("also"):
        rows.append(("See also", "; ".join(diagnosis["also"])))
    if diagnosis.get("ruled_out"):
        rows.append(("Ruled out by this run", "; ".join(diagnosis["ruled_out"])))
    return rows


def one_line(diagnosis: Diagnosis) -> str:
    """The diagnosis as one line (probe.json): the lead, then the guide's note."""
    lead = diagnosis.lead
    text = f"{lead.summary + ' -> ' if lead.summary else ''}{lead.next_action} ({lead.reference})"
    note = diagnosis.guide.note if lead.source == "guide" else ""
    return text + (f". {note}" if note else "")
