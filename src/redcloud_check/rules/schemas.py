"""The schema registry: every JSON Schema of the contract, loaded from one place.

The schemas are data files (``schemas/<name>.schema.json``, JSON Schema 2020-12, plus
``schemas/openapi.yaml``). They are read from the repository's ``schemas/`` directory when
running from a checkout, else from the copy packaged in the wheel (``redcloud_check/_schemas``).

Cross-file ``$ref``s (``number.schema.json``, ``core_error.schema.json#/$defs/error``) are
resolved offline through a ``referencing.Registry`` holding every schema under its ``$id``;
nothing is ever fetched over the network (an unknown reference raises instead).

Public surface: ``names``, ``load``, ``validator``, ``errors``, ``openapi``, ``SchemaViolation``.
Everything is read lazily on first use and cached; so is each verdict of ``errors`` (a run
checks the same response or webhook event from several checks: 101 validations, 41 distinct).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import pickle
import threading
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["SchemaViolation", "errors", "load", "names", "openapi", "schemas_dir", "validator"]

_SUFFIX = ".schema.json"


@dataclass(frozen=True, slots=True)
class SchemaViolation:
    """One way an instance breaks a schema.

    ``path`` is a JSON pointer into the instance (``"/results/0/status"``; ``""`` is the whole
    document), ``schema_path`` a JSON pointer into the schema naming the failed keyword.
    """

    path: str
    message: str
    schema_path: str

    def __str__(self) -> str:
        return f"{self.path or '(root)'}: {self.message} [schema {self.schema_path}]"


@cache
def schemas_dir() -> Path:
    """The directory holding the schema files: the checkout's, else the packaged copy."""
    in_repo = Path(__file__).resolve().parents[3] / "schemas"
    if in_repo.is_dir():
        return in_repo
    # Wheels force-include schemas/ as redcloud_check/_schemas (see pyproject.toml); an
    # installed (unzipped) package is a real directory, so a Path is enough.
    return Path(str(files("redcloud_check") / "_schemas"))


@cache
def _names() -> tuple[str, ...]:
    return tuple(sorted(p.name[: -len(_SUFFIX)] for p in schemas_dir().glob(f"*{_SUFFIX}")))


def names() -> list[str]:
    """Names of every schema (file ``<name>.schema.json``), sorted."""
    return list(_names())


@cache
def _load(name: str) -> dict[str, Any]:
    if name not in _names():
        raise KeyError(f"unknown schema {name!r}; known schemas: {', '.join(_names())}")
    data: dict[str, Any] = json.loads((schemas_dir() / f"{name}{_SUFFIX}").read_text("utf-8"))
    return data


def load(name: str) -> dict[str, Any]:
    """The parsed schema ``name`` (a copy: mutate it freely). KeyError names the known ones."""
    return copy.deepcopy(_load(name))


@cache
def _registry() -> Registry[Any]:
    resources = [
        (_load(n)["$id"], Resource.from_contents(_load(n), default_specification=DRAFT202012))
        for n in _names()
    ]
    # No `retrieve` callable: an unknown $ref raises Unresolvable instead of being fetched.
    registry: Registry[Any] = Registry().with_resources(resources)
    return registry


@cache
def validator(name: str) -> Draft202012Validator:
    """A cached 2020-12 validator for schema ``name``, resolving $refs offline.

    Format checking uses jsonschema's default checker, which only checks the formats whose
    (optional) libraries are installed; the schemas rely on patterns, not formats.
    """
    return Draft202012Validator(
        _load(name),
        registry=_registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def _pointer(parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


_VERDICTS_KEPT = 512
_verdicts: dict[tuple[str, bytes], tuple[SchemaViolation, ...]] = {}
_verdicts_lock = threading.Lock()  # a fleet probe judges from several threads


def errors(name: str, instance: object) -> list[SchemaViolation]:
    """Every violation of schema ``name`` by ``instance``, sorted by path (empty: valid).

    The verdict is kept (the last `_VERDICTS_KEPT`) under the instance's pickle, which tells
    apart everything a schema can (types, values, key order): an equal instance is judged
    once."""
    try:
        key = (name, pickle.dumps(instance, protocol=pickle.HIGHEST_PROTOCOL))
    except (pickle.PicklingError, TypeError, AttributeError):  # no pickle: judged afresh
        return list(_judge(name, instance))
    verdict = _verdicts.get(key)
    if verdict is None:
        verdict = _judge(name, instance)
        with _verdicts_lock:
            if len(_verdicts) >= _VERDICTS_KEPT:
                _verdicts.pop(next(iter(_verdicts)), None)
            _verdicts[key] = verdict
    return list(verdict)


def _judge(name: str, instance: object) -> tuple[SchemaViolation, ...]:
    found = (
        SchemaViolation(
            path=_pointer(e.absolute_path),
            message=e.message,
            schema_path=_pointer(e.absolute_schema_path),
        )
        for e in validator(name).iter_errors(instance)
    )
    return tuple(sorted(found, key=lambda v: (v.path, v.schema_path, v.message)))


@cache
def report_vocabulary() -> frozenset[str]:
    """Our own words in the documents we write (escalation.json, probe.json, fleet.json,
    exchanges.har, the terminal): every string the report schemas (`schemas/reports/`)
    enumerate (enum, const: verdicts, statuses, the tool's name) and the stage names. The
    one list of the words redaction keeps: it never changes a value equal to one of them
    (`redaction.redact(keep=...)`), so a secret such as "passed" cannot corrupt a verdict."""
    from redcloud_check.core.stage_names import STAGE_NAMES

    words: set[str] = set(STAGE_NAMES)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "enum" and isinstance(value, list):
                    words.update(v for v in value if isinstance(v, str))
                elif key == "const" and isinstance(value, str):
                    words.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in sorted((schemas_dir() / "reports").glob("*.schema.json")):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return frozenset(words)


@cache
def _openapi() -> dict[str, Any]:
    """openapi.yaml, parsed once per version of the file: the parse is kept as JSON in
    ``__pycache__/openapi.<hash of the file>.json`` beside it, as Python keeps a module's
    bytecode, because every run and probe reads the spec (drift, endpoint names) and yaml
    costs ~12 ms of import and parse, its JSON ~0.2 ms. Where the cache cannot be written
    (a read-only install), the file is parsed every time."""
    source = (schemas_dir() / "openapi.yaml").read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:20]
    cached = schemas_dir() / "__pycache__" / f"openapi.{digest}.json"
    with contextlib.suppress(OSError, ValueError):
        kept: dict[str, Any] = json.loads(cached.read_text("utf-8"))
        return kept
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when there: ~10x faster
    data: dict[str, Any] = yaml.load(source.decode("utf-8"), Loader=loader)
    text = json.dumps(data)
    if json.loads(text) == data:  # only what JSON keeps exactly (str keys, no dates)
        from redcloud_check.core.files import atomic_write

        with contextlib.suppress(OSError):
            atomic_write(cached, text, mode=0o644, durable=False)
    return data


def openapi() -> dict[str, Any]:
    """The parsed ``schemas/openapi.yaml`` (OpenAPI 3.1; a copy)."""
    return copy.deepcopy(_openapi())
