"""The simulator's two catalogs, faults and conformant variants: one data file, one shape.

    fault     a named deviation that breaks exactly one documented rule; `stage` is the suite
              stage expected to fail against it (token | whoami | numbers | send | webhooks):
              the fault matrix holds the suite to that
    variant   a named conformant variation a correct suite must pass unchanged; `basis` is the
              DESIGN.md decision or docs clause it rests on: the variant matrix holds the
              suite to zero failures against it

Both are switched on by name: ``Simulator(faults=[...], variants=[...])``,
``Simulator.set_faults`` / ``set_variants``, ``redcloud-check simulate --fault NAME
--variant NAME``, ``RC_SIM_FAULTS`` / ``RC_SIM_VARIANTS``. Adding one is one entry in
``catalog.json`` (next to this module), in the order ``--list-faults`` shows them; the
simulator's code then gives it its behaviour. Importing this module reads that file once
(stdlib json only, so it stays cheap).

Public surface: `Entry`, `FAULTS`, `VARIANTS`, `STAGES`, `validate_faults`,
`validate_variants`, `describe_faults`, `describe_variants`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redcloud_check.core.stage_names import STAGE_NAMES

__all__ = ["FAULTS", "STAGES", "VARIANTS", "Entry", "describe_faults", "describe_variants",
           "validate_faults", "validate_variants"]

STAGES = STAGE_NAMES  # the suite's stages, named once (core.stage_names)
CATALOG = Path(__file__).with_name("catalog.json")
# what each kind of entry holds besides its name (the file is checked against it on load)
_FIELDS = {"fault": ("stage", "description"), "variant": ("description", "basis")}


@dataclass(frozen=True, slots=True)
class Entry:
    """One fault or variant: its name, what it does, and (faults) the stage expected to fail
    or (variants) the decision or clause it rests on."""

    kind: str  # "fault" | "variant"
    name: str
    description: str
    stage: str | None = None
    basis: str | None = None


def _entries(data: Mapping[str, Any], kind: str) -> dict[str, Entry]:
    table = data.get(kind)
    if not isinstance(table, dict):
        raise ValueError(f"{CATALOG.name}: no {kind!r} table")
    out: dict[str, Entry] = {}
    for name, fields in table.items():
        if not isinstance(fields, dict) or sorted(fields) != sorted(_FIELDS[kind]) or not all(
                isinstance(v, str) and v and v.strip() == v and "\n" not in v
                for v in fields.values()):
            raise ValueError(f"{CATALOG.name}: {kind} {name!r} must have exactly "
                             f"{', '.join(_FIELDS[kind])}, each a non-empty one-line string")
        if kind == "fault" and fields["stage"] not in STAGES:
            raise ValueError(f"{CATALOG.name}: fault {name!r} has stage {fields['stage']!r}, "
                             f"not one of {', '.join(STAGES)}")
        out[name] = Entry(kind, name, **fields)
    return out


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"{CATALOG.name}: {', '.join(twice)} declared twice")
    return dict(pairs)


def _load() -> tuple[dict[str, Entry], dict[str, Entry]]:
    data = json.loads(CATALOG.read_text(encoding="utf-8"), object_pairs_hook=_unique)
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ValueError(f"{CATALOG.name}: unknown table(s) {', '.join(unknown)}")
    return _entries(data, "fault"), _entries(data, "variant")


FAULTS, VARIANTS = _load()


def _validate(names: Iterable[str], catalog: Mapping[str, Entry], kind: str) -> frozenset[str]:
    chosen = frozenset(n.strip() for n in names if n.strip())
    unknown = sorted(chosen - catalog.keys())
    if unknown:
        raise ValueError(f"unknown simulator {kind}(s): {', '.join(unknown)}; "
                         f"valid {kind}s: {', '.join(sorted(catalog))}")
    return chosen


def validate_faults(names: Iterable[str]) -> frozenset[str]:
    """The given fault names as a set; ValueError naming the valid ones for an unknown name."""
    return _validate(names, FAULTS, "fault")


def validate_variants(names: Iterable[str]) -> frozenset[str]:
    """The given variant names as a set; ValueError naming the valid ones for an unknown name."""
    return _validate(names, VARIANTS, "variant")


def describe_faults() -> str:
    """The fault catalog as text, one fault per line, grouped by stage (--list-faults)."""
    width = max(len(name) for name in FAULTS)
    return "\n".join(f"{f.stage:<9} {f.name:<{width}}  {f.description}"
                     for stage in STAGES for f in FAULTS.values() if f.stage == stage)


def describe_variants() -> str:
    """The variant catalog as text, one variant per line (--list-variants)."""
    width = max(len(name) for name in VARIANTS)
    return "\n".join(f"{v.name:<{width}}  {v.description} [{v.basis}]"
                     for v in VARIANTS.values())
