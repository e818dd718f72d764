"""The probe's documents hold to schemas/reports/probe.schema.json: probe.json and the stdout
line, each line of a fleet, and fleet.json (`$defs/fleet`)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from redcloud_check.rules.schemas import schemas_dir


@cache
def _validator(definition: str) -> Draft202012Validator:
    schema = json.loads((schemas_dir() / "reports" / "probe.schema.json").read_text("utf-8"))
    registry: Registry[Any] = Registry().with_resource(schema["$id"],
                                                       Resource.from_contents(schema))
    root = {"$ref": schema["$id"] + (f"#/$defs/{definition}" if definition else "")}
    return Draft202012Validator(root, registry=registry)


def probe_violations(document: Any, definition: str = "") -> list[str]:
    """Where `document` breaks the probe schema (`definition`: "" for a probe document,
    "fleet" for fleet.json); [] when it holds."""
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in _validator(definition).iter_errors(document)]
