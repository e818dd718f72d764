"""Drift: the response and webhook event fields a run saw that the documented schemas do not
describe (DESIGN.md: additive fields are conformant, reported as undocumented, never a
failure), in the spirit of Optic's and oasdiff's "undocumented" findings.

Which schema documents a response comes from ``schemas/openapi.yaml``: the operation for the
request's method and path template, and the response for its status (``components/
responses`` and ``components/schemas`` resolved to the ``schemas/*.schema.json`` files of
`rules.schemas`). A webhook event is documented by ``webhook_event``. The instance is walked
alongside its schema: a key that neither ``properties`` nor ``patternProperties`` names, and
that no ``additionalProperties`` schema describes, is undocumented at its JSON path
(``$.results[*].carrier``). An object the docs leave open (its schema names none of its
fields: PATCH's 200 rendered as ``{}``, the collapsed search groups, an error's ``details``)
is not walked: nothing about its fields is documented, so nothing there can drift from it.

Public surface: `Undocumented`, `undocumented_fields`, `find_drift`, `response_schema`,
`endpoint_template`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from redcloud_check.rules import schemas

__all__ = ["Undocumented", "endpoint_template", "find_drift", "response_schema",
           "undocumented_fields"]

WEBHOOK_SCHEMA = "webhook_event"
_FILE_REF = re.compile(r"^\./(?P<name>[\w-]+)\.schema\.json$")


@cache
def _document(name: str) -> Mapping[str, Any]:
    return schemas.load(name)  # a private copy, read-only here


@dataclass(frozen=True, slots=True)
class Undocumented:
    """A field the documented schema does not describe, where it was seen and how often."""

    endpoint: str  # "GET /api/core/whoami" (path template), or "webhook message.sent"
    path: str  # JSON path, "$.assignedNumbers.tollFree"
    status: int | None  # the HTTP status whose schema was used (None: a webhook event)
    schema: str  # the schema the instance was held to
    count: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "path": self.path, "status": self.status,
                "schema": self.schema, "count": self.count}


def _resolve(schema: Mapping[str, Any], doc: str) -> tuple[Mapping[str, Any], str]:
    """Follow $ref (same file or another schema file) until a schema without one."""
    seen = 0
    while "$ref" in schema and seen < 20:
        seen += 1
        target, _, pointer = str(schema["$ref"]).partition("#")
        if target:
            doc = target.removesuffix(".schema.json").rpartition("/")[2]
        node: Any = _document(doc)
        for part in [p for p in pointer.split("/") if p]:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        schema = node
    return schema, doc


def _names(schema: Mapping[str, Any], doc: str, value: Any) -> Iterator[tuple[Mapping, str]]:
    """The schema and the branches of allOf/anyOf/oneOf that describe `value`."""
    schema, doc = _resolve(schema, doc)
    yield schema, doc
    for key in ("allOf", "anyOf", "oneOf"):
        for branch in schema.get(key, ()):
            yield from _names(branch, doc, value)


def undocumented_fields(instance: Any, schema: Mapping[str, Any], doc: str,
                        path: str = "$") -> list[str]:
    """JSON paths of the fields of `instance` that `schema` (in schema file `doc`) does not
    describe; each path once, in the order first met."""
    found: dict[str, None] = {}
    _walk(instance, schema, doc, path, found)
    return list(found)


def _walk(value: Any, schema: Mapping[str, Any], doc: str, path: str,
          found: dict[str, None]) -> None:
    parts = list(_names(schema, doc, value))
    if isinstance(value, dict) and not any(_names_fields(p) for p, _ in parts):
        return  # an object the docs leave open: they describe none of its fields
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if re.fullmatch(r"[A-Za-z_]\w*", str(key)) else \
                f"{path}[{key!r}]"
            described = False
            for part, part_doc in parts:
                sub = _describing(part, str(key))
                if sub is not None:
                    described = True
                    _walk(item, sub, part_doc, child, found)
            if not described:
                found.setdefault(child)
    elif isinstance(value, list):
        for item in value:
            for part, part_doc in parts:
                items = part.get("items")
                if isinstance(items, Mapping):
                    _walk(item, items, part_doc, f"{path}[*]", found)


def _names_fields(schema: Mapping[str, Any]) -> bool:
    return any(k in schema for k in ("properties", "patternProperties", "additionalProperties"))


def _describing(schema: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    props = schema.get("properties") or {}
    if key in props:
        return dict(props[key])
    for pattern, sub in (schema.get("patternProperties") or {}).items():
        if re.search(pattern, key):
            return dict(sub)
    extra = schema.get("additionalProperties")
    return dict(extra) if isinstance(extra, Mapping) else None


@cache
def _operations() -> tuple[tuple[str, re.Pattern[str], str, dict[str, str]], ...]:
    """(method, path regex, path template, status -> schema name) per documented operation."""
    spec = schemas.openapi()
    components = spec.get("components", {})
    ops = []
    for template, item in (spec.get("paths") or {}).items():
        regex = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            by_status = {}
            for status, response in op["responses"].items():
                name = _response_schema(response, components)
                if name is not None:
                    by_status[str(status)] = name
            ops.append((method.upper(), regex, template, by_status))
    return tuple(ops)


def _response_schema(response: Mapping[str, Any], components: Mapping[str, Any]) -> str | None:
    ref = response.get("$ref", "")
    if ref.startswith("#/components/responses/"):
        response = components["responses"][ref.rpartition("/")[2]]
    content = (response.get("content") or {}).get("application/json") or {}
    schema = content.get("schema") or {}
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        schema = components["schemas"][ref.rpartition("/")[2]]
        match = _FILE_REF.match(str(schema.get("$ref", "")))
        return match["name"] if match else None
    if schema:
        return "inline:" + str(schema.get("type", "object"))
    return None


def endpoint_template(method: str, path: str) -> str:
    """"PATCH /api/core/numbers/{numberId}" for a documented operation, else method and path."""
    for op_method, regex, template, _ in _operations():
        if op_method == method.upper() and regex.match(path):
            return f"{op_method} {template}"
    return f"{method.upper()} {path}"


def response_schema(method: str, path: str, status: int) -> tuple[str, str] | None:
    """(endpoint template, schema name) documenting this response; None if undocumented."""
    for op_method, regex, template, by_status in _operations():
        if op_method == method.upper() and regex.match(path):
            name = by_status.get(str(status))
            return (f"{op_method} {template}", name) if name else None
    return None


def _schema_for(name: str) -> tuple[Mapping[str, Any], str]:
    if name.startswith("inline:"):
        return {"type": name.partition(":")[2]}, name
    return _document(name), name


def find_drift(responses: Iterable[tuple[str, str, int, Any]],
               events: Iterable[Any]) -> list[Undocumented]:
    """Undocumented fields of (method, path, status, JSON body) responses and of webhook
    events, merged per (endpoint, status, path) with how often each was seen."""
    seen: dict[tuple[str, int, str], Undocumented] = {}

    def add(endpoint: str, path: str, status: int | None, schema: str) -> None:
        key = (endpoint, status or 0, path)
        old = seen.get(key)
        seen[key] = Undocumented(endpoint, path, status, schema,
                                 1 if old is None else old.count + 1)

    for method, path, status, body in responses:
        documented = response_schema(method, path, status)
        if documented is None or not isinstance(body, dict | list):
            continue
        endpoint, name = documented
        schema, doc = _schema_for(name)
        for field in undocumented_fields(body, schema, doc):
            add(endpoint, field, status, name)
    for event in events:
        if not isinstance(event, dict):
            continue
        endpoint = f"webhook {event.get('eventType') or 'event'}"
        for field in undocumented_fields(event, _document(WEBHOOK_SCHEMA), WEBHOOK_SCHEMA):
            add(endpoint, field, None, WEBHOOK_SCHEMA)
    return [seen[key] for key in sorted(seen)]
