"""The troubleshooting guide as data: from what a failure looks like to the guide's entry.

The mapping is data (`diagnosis.json`, next to this module), not code. Each entry has a
`match` of optional fields; an entry applies when every field it names matches the
observation:

    field       matches when                                          weight
    checks      the check's id (RC-<STAGE>-<NN>) is in the list          16
    kind        equals the transport failure kind (refused, dns, ...)      8
    error_code  equals the error code of the response                      8
    status      equals the HTTP status, or "5xx"/"4xx" its class           4
    body        "json" / "non-json" (empty counts as non-json)            24
    stage       equals the check's stage                                   2
    failure     "check" | "unreachable" | "tool" | "config"                1

A response body that is not JSON (or a 5xx) usually means a gateway answered, not the API,
so `body` outweighs everything else. Most specific match wins: the applicable entry with the
highest score (sum of the weights of its fields) is the diagnosis; on a tie, the entry
listed first in the file. An entry with an
empty `match` always applies (score 0): the fallback. Text fields may hold `{url}`,
`{status}`, `{endpoint}`, `{kind}`, `{timeout}`, `{setting}`, `{error}` placeholders.

`lookup(obs)` is the step "observation -> guide entry" of the one diagnosis pipeline
(`redcloud_check.reporting.diagnosis`), which builds the observation and decides what leads.

Public surface: `Observation`, `GuideEntry`, `Entry`, `entries`, `lookup`, `candidates`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any

__all__ = ["WEIGHTS", "Entry", "GuideEntry", "Observation", "candidates", "entries", "lookup"]

WEIGHTS: dict[str, int] = {"checks": 16, "kind": 8, "error_code": 8, "status": 4, "body": 24,
                           "stage": 2, "failure": 1}


@dataclass(frozen=True, slots=True)
class Observation:
    """What a failure looked like. Every field is optional."""

    failure: str = "check"  # check | unreachable | tool | config
    stage: str | None = None
    check: str | None = None  # the check's id (RC-<STAGE>-<NN>): never its function name
    status: int | None = None
    error_code: str | None = None
    kind: str | None = None  # transport failure kind
    body_json: bool | None = None  # None: no body / no response
    url: str = ""
    endpoint: str = ""
    timeout: str = ""
    setting: str = ""
    error: str = ""


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    match: dict[str, Any]
    symptom: str
    section: str
    check: tuple[str, ...]
    likely_causes: tuple[str, ...]
    next_action: str
    note: str = ""
    side: str = "unknown"  # whose side this symptom is on when nothing more is known
    proof: str = ""  # for side "api": what proves the integration is not at fault
    decide: str = ""  # for side "unknown": what would decide it

    def score(self, obs: Observation) -> int | None:
        """The entry's specificity for `obs`, or None when a field does not match."""
        total = 0
        for name, want in self.match.items():
            if not _field_matches(name, want, obs):
                return None
            total += WEIGHTS[name]
        return total


@dataclass(frozen=True, slots=True)
class GuideEntry:
    """The guide's entry for an observation, its placeholders filled."""

    id: str
    symptom: str
    section: str
    check: tuple[str, ...]
    likely_causes: tuple[str, ...]
    next_action: str
    note: str
    score: int
    also: tuple[str, ...] = field(default=())  # other applicable guide sections
    side: str = "unknown"
    proof: str = ""
    decide: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("check", "likely_causes", "also"):
            data[key] = list(data[key])
        return data


def _field_matches(name: str, want: Any, obs: Observation) -> bool:
    if name == "checks":
        return obs.check is not None and obs.check in want
    if name == "status":
        if obs.status is None:
            return False
        if isinstance(want, str) and re.fullmatch(r"[1-5]xx", want):
            return obs.status // 100 == int(want[0])
        return obs.status == want
    if name == "body":
        return obs.body_json is not None and want == ("json" if obs.body_json else "non-json")
    if name in ("kind", "error_code", "stage", "failure"):
        return getattr(obs, name) == want
    raise ValueError(f"diagnosis.json: unknown match field {name!r}")


@cache
def entries() -> tuple[Entry, ...]:
    """Every entry of diagnosis.json, in file order."""
    raw = json.loads(
        files("redcloud_check.reporting").joinpath("diagnosis.json").read_text("utf-8"))
    out = []
    for item in raw["entries"]:
        unknown = set(item["match"]) - set(WEIGHTS)
        if unknown:
            raise ValueError(f"diagnosis.json {item['id']}: unknown match fields {unknown}")
        out.append(Entry(id=item["id"], match=dict(item["match"]), symptom=item["symptom"],
                         section=item["section"], check=tuple(item["check"]),
                         likely_causes=tuple(item["likely_causes"]),
                         next_action=item["next_action"], note=item.get("note", ""),
                         side=item["side"], proof=item.get("proof", ""),
                         decide=item.get("decide", "")))
    return tuple(out)


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def _fill(text: str, obs: Observation) -> str:
    values = _Blank({k: str(v) for k, v in asdict(obs).items() if v not in (None, "")})
    return text.format_map(values)


def candidates(obs: Observation) -> list[tuple[int, Entry]]:
    """Applicable entries, best first (score descending, then file order)."""
    scored = [(score, i, e) for i, e in enumerate(entries())
              if (score := e.score(obs)) is not None]
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [(score, e) for score, _, e in scored]


def lookup(obs: Observation, ruled_out: frozenset[str] = frozenset()) -> GuideEntry:
    """The most specific applicable entry, its placeholders filled from `obs`; entries whose
    symptom the run ruled out (`ruled_out`, by symptom) are passed over (the fallback never
    is)."""
    ranked = [(score, e) for score, e in candidates(obs)
              if e.symptom not in ruled_out or not e.match]
    score, best = ranked[0]
    also = tuple(dict.fromkeys(e.section for _, e in ranked[1:]
                               if e.section != best.section and e.match))[:2]
    return GuideEntry(
        id=best.id, symptom=_fill(best.symptom, obs), section=best.section,
        check=tuple(_fill(c, obs) for c in best.check),
        likely_causes=tuple(_fill(c, obs) for c in best.likely_causes),
        next_action=_fill(best.next_action, obs), note=_fill(best.note, obs), score=score,
        also=also, side=best.side, proof=best.proof, decide=_fill(best.decide, obs),
    )
