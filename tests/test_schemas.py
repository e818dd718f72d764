"""Self-checks of the contract data: schemas/*.schema.json, schemas/openapi.yaml, the registry.

Every schema is valid JSON Schema 2020-12 and accepts every example the docs show (copied into
tests/data/doc_examples/, sources in its index.json); documented rules reject the payloads that
break them; openapi.yaml is valid OpenAPI 3.1 and every $ref lands on an existing file and
definition; validation never touches the network.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from redcloud_check.rules import schemas

EXAMPLES_DIR = Path(__file__).parent / "data" / "doc_examples"
INDEX: dict[str, Any] = json.loads((EXAMPLES_DIR / "index.json").read_text("utf-8"))
DOCS = {
    "1-quickstart.txt",
    "2-examples.txt",
    "3-api-reference-0.2.0.txt",
    "4-sending-messages.txt",
    "5-troubleshooting.txt",
}
EXPECTED_NAMES = [
    "core_error",
    "number",
    "numbers_list",
    "oauth_error",
    "search_request",
    "search_response",
    "send_request",
    "send_response",
    "token_response",
    "update_request",
    "webhook_event",
    "whoami",
]
# Schemas with no example of their own in the docs, and why.
NO_OWN_EXAMPLE = {
    "oauth_error": "the docs describe OAuth-style errors but show no sample",
    "number": "its sample is the item of the numbers_list example",
}


def example(file: str) -> Any:
    return json.loads((EXAMPLES_DIR / file).read_text("utf-8"))


def _split(pointer: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]


def _walk(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def changed(file: str, pointer: str, value: Any = ..., *, delete: bool = False) -> Any:
    """The example `file` with the member at `pointer` set to `value` (or deleted)."""
    doc = copy.deepcopy(example(file))
    *parents, last = _split(pointer)
    parent = _walk(doc, parents)
    key: Any = int(last) if isinstance(parent, list) else last
    if delete:
        del parent[key]
    else:
        parent[key] = value
    return doc


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


# --- the schema files -------------------------------------------------------------------


def test_names_are_exactly_the_schema_files_present() -> None:
    on_disk = sorted(
        p.name.removesuffix(".schema.json")
        for p in schemas.schemas_dir().iterdir()
        if p.name.endswith(".schema.json")
    )
    assert schemas.names() == on_disk == EXPECTED_NAMES


def test_schemas_dir_is_the_checkout_directory_when_running_from_a_checkout() -> None:
    assert schemas.schemas_dir() == Path(__file__).resolve().parents[1] / "schemas"


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_schema_is_valid_json_schema_2020_12(name: str) -> None:
    schema = schemas.load(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://redcloud-check.dev/schemas/{name}.schema.json"
    assert schema["title"].strip(), f"{name} has an empty title"
    cited = set(re.findall(r"\b\d-[a-z0-9.-]+\.txt\b", schema["description"]))
    assert cited and cited <= DOCS, f"{name} description must cite doc files, cites {cited}"


# --- the documented examples -----------------------------------------------------------


@pytest.mark.parametrize(
    "entry", INDEX["examples"], ids=[e["description"] for e in INDEX["examples"]]
)
def test_documented_example_is_valid(entry: dict[str, Any]) -> None:
    violations = schemas.errors(entry["schema"], example(entry["file"]))
    assert violations == [], "\n".join(map(str, violations))


def test_example_index_lists_every_example_file_with_its_sources() -> None:
    files = {p.name for p in EXAMPLES_DIR.iterdir()} - {"index.json"}
    assert {e["file"] for e in INDEX["examples"]} == files
    for entry in INDEX["examples"]:
        assert entry["schema"] in schemas.names(), entry
        assert entry["sources"], entry
        assert {s["doc"] for s in entry["sources"]} <= DOCS, entry
    for skipped in INDEX["not_copied"]:
        assert skipped["doc"] in DOCS and skipped["reason"], skipped


def test_every_schema_has_a_documented_example_or_a_stated_reason() -> None:
    covered = {e["schema"] for e in INDEX["examples"]}
    assert set(schemas.names()) - covered == set(NO_OWN_EXAMPLE)


# --- documented rules reject what breaks them -------------------------------------------

CORE = "core_error_request.json"
SCHEMA_OF = {e["file"]: e["schema"] for e in INDEX["examples"]}


def broken(description: str, file: str, pointer: str, value: Any = ..., *,
           at: str | None = None) -> tuple[str, str, Any, str]:
    """A case: the example `file` with the member at `pointer` set to `value` (none given:
    deleted), which the example's own schema rejects with a violation at `at` (by default
    `pointer`; for a deleted member, its parent)."""
    deleted = value is ...
    instance = changed(file, pointer, delete=True) if deleted else changed(file, pointer, value)
    default = pointer.rpartition("/")[0] if deleted else pointer
    return description, SCHEMA_OF[file], instance, default if at is None else at


NEGATIVE = [
    ("a CORE error wrapper is not an OAuth error", "oauth_error", example(CORE), "/error"),
    broken("expires_in as the string 3600 is rejected",
           "token_response.json", "/expires_in", "3600"),
    broken("expires_in of 0 is rejected", "token_response.json", "/expires_in", 0),
    broken("token_type mac is rejected", "token_response.json", "/token_type", "mac"),
    broken("an empty access_token is rejected", "token_response.json", "/access_token", ""),
    broken("whoami without capabilities is rejected", "whoami.json", "/capabilities"),
    broken("a negative assigned-number count is rejected",
           "whoami.json", "/assignedNumbers/total", -1),
    broken('smsEnabled as the string "true" is rejected',
           "numbers_list.json", "/numbers/0/smsEnabled", "true"),
    broken("an E.164 number without the leading + is rejected",
           "numbers_list.json", "/numbers/0/e164", "15551234567"),
    broken("a send result without messageId is rejected",
           "send_response.json", "/results/0/messageId"),
    broken("a per-recipient send error without details is rejected",
           "send_response_partial.json", "/errors/0/error/details"),
    broken("a send response without errors is rejected", "send_response.json", "/errors"),
    ("an update request with an unknown field is rejected", "update_request",
     {"campaignRegId": "A1B2C3"}, ""),
    broken("an empty eventType is rejected", "webhook_event.json", "/eventType", ""),
    broken("an occurredAt that is not an integer is rejected",
           "webhook_event.json", "/occurredAt", "2026-04-01T00:00:00Z"),
    broken("an SMS send with media is rejected",
           "send_request_mms.json", "/messageType", "SMS", at="/media"),
    broken("an MMS send without media is rejected", "send_request_mms.json", "/media"),
    broken("a send to no recipient is rejected", "send_request_sms.json", "/to", []),
    broken("a send without externalReference is rejected",
           "send_request_sms.json", "/externalReference"),
    broken("a send with neither text nor media is rejected", "send_request_sms.json", "/text"),
    broken("a send whose only text is empty, without media, is rejected",
           "send_request_sms.json", "/text", "", at=""),
    broken("a send with no E.164 recipient at all is rejected",
           "send_request_sms.json", "/to", ["invalid", "15551234567"]),
    broken("a media item with an undocumented field is rejected",
           "send_request_mms.json", "/media/0/caption", "x", at="/media/0"),
    broken("a search response with a non-integer count is rejected",
           "search_response.json", "/providerResultCount", "1"),
    broken("a CORE error without requestId is rejected", CORE, "/requestId"),
]


@pytest.mark.parametrize(
    ("schema", "instance", "path"), [c[1:] for c in NEGATIVE], ids=[c[0] for c in NEGATIVE]
)
def test_payload_breaking_a_documented_rule_is_rejected(
    schema: str, instance: Any, path: str
) -> None:
    violations = schemas.errors(schema, instance)
    assert path in {v.path for v in violations}, f"expected a violation at {path!r}: {violations}"


POSITIVE = [
    (
        "token_type BEARER in another case is accepted",
        "token_response",
        changed("token_response.json", "/token_type", "Bearer"),
    ),
    (
        "an OAuth error with a description is accepted",
        "oauth_error",
        {"error": "invalid_client", "error_description": "Client authentication failed"},
    ),
    (
        "a number with null campaign and webhook overrides is accepted",
        "number",
        {
            **example("numbers_list.json")["numbers"][0],
            "campaignRegId": None,
            "webhookInboundOverride": None,
            "webhookDeliveryOverride": None,
        },
    ),
    (
        "a response field the docs do not list is accepted",
        "whoami",
        changed("whoami.json", "/accountId", "acct_1"),
    ),
    (
        "an event type the docs do not list is accepted (DESIGN.md: unknown event types)",
        "webhook_event",
        changed("webhook_event.json", "/eventType", "message.read"),
    ),
    (
        "a failed event with an error object is accepted",
        "webhook_event",
        {
            **example("webhook_event.json"),
            "eventType": "message.failed",
            "data": {**example("webhook_event.json")["data"], "error": {"code": "UNDELIVERABLE"}},
        },
    ),
    (
        "an update request clearing overrides with null is accepted",
        "update_request",
        {"campaignregId": None, "webhookDeliveryOverride": None, "smsEnabled": True},
    ),
    (
        "an MMS send with media and no text is accepted",
        "send_request",
        changed("send_request_mms.json", "/text", delete=True),
    ),
]


@pytest.mark.parametrize(
    ("schema", "instance"), [c[1:] for c in POSITIVE], ids=[c[0] for c in POSITIVE]
)
def test_payload_within_the_documented_rules_is_accepted(schema: str, instance: Any) -> None:
    violations = schemas.errors(schema, instance)
    assert violations == [], "\n".join(map(str, violations))


# --- the registry -----------------------------------------------------------------------


def test_load_of_an_unknown_name_raises_keyerror_naming_the_known_schemas() -> None:
    with pytest.raises(KeyError, match="send_response"):
        schemas.load("send_respnse")


def test_load_returns_a_copy_that_callers_may_mutate() -> None:
    schemas.load("token_response")["required"].clear()
    assert schemas.errors("token_response", {}) != []


def test_validator_is_cached_per_name() -> None:
    assert schemas.validator("whoami") is schemas.validator("whoami")


def test_violations_are_frozen_sorted_json_pointers() -> None:
    bad = changed("send_response_partial.json", "/results/0/status", 1)
    bad["errors"][0]["error"]["code"] = 2
    violations = schemas.errors("send_response", bad)
    assert [v.path for v in violations] == ["/errors/0/error/code", "/results/0/status"]
    assert violations[1].schema_path.endswith("/status/type")
    assert str(violations[1]).startswith("/results/0/status: 1 is not of type 'string'")
    with pytest.raises(dataclasses.FrozenInstanceError):
        violations[0].path = "/"  # type: ignore[misc]


def test_an_equal_instance_is_judged_once_and_its_verdict_cannot_be_changed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    judged: list[object] = []
    judge = schemas._judge
    monkeypatch.setattr(schemas, "_judge", lambda name, i: judged.append(i) or judge(name, i))
    monkeypatch.setattr(schemas, "_verdicts", {})
    bad = changed("send_response_partial.json", "/results/0/status", 1)
    first = schemas.errors("send_response", bad)
    first.clear()
    again = schemas.errors("send_response", copy.deepcopy(bad))
    assert len(judged) == 1 and [v.path for v in again] == ["/results/0/status"]
    assert schemas.errors("whoami", bad) and len(judged) == 2  # another schema: judged


def test_kept_verdicts_tell_apart_what_a_schema_tells_apart(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schemas, "_verdicts", {})
    good = example("send_response_partial.json")
    assert schemas.errors("send_response", good) == []
    as_tuple = {**good, "results": tuple(good["results"])}  # not a JSON array
    assert schemas.errors("send_response", as_tuple)
    assert schemas.errors("whoami", example("whoami.json")) == []
    assert schemas.errors("whoami", changed("whoami.json", "/assignedNumbers/total", True))
    assert schemas.errors("whoami", changed("whoami.json", "/assignedNumbers/total", 1.5))
    reordered = dict(reversed(list(good.items())))
    assert schemas.errors("send_response", reordered) == []


def test_kept_verdicts_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schemas, "_verdicts", {})
    monkeypatch.setattr(schemas, "_VERDICTS_KEPT", 3)
    for n in range(10):
        schemas.errors("whoami", {"n": n})
    assert len(schemas._verdicts) == 3


def test_pointer_segments_are_escaped_per_rfc_6901() -> None:
    assert schemas._pointer(["a/b", "c~d", 0]) == "/a~1b/c~0d/0"
    assert schemas._pointer([]) == ""


@pytest.mark.usefixtures("no_network")
def test_validation_with_cross_file_refs_never_touches_the_network() -> None:
    schemas.validator.cache_clear()
    for entry in INDEX["examples"]:
        assert schemas.errors(entry["schema"], example(entry["file"])) == []


# --- openapi.yaml -----------------------------------------------------------------------

OPERATIONS = {
    ("post", "/api/auth/token"),
    ("get", "/api/core/whoami"),
    ("get", "/api/core/numbers"),
    ("post", "/api/core/numbers/search"),
    ("patch", "/api/core/numbers/{numberId}"),
    ("post", "/api/core/messages/send"),
}


@pytest.mark.usefixtures("no_network")
def test_openapi_is_a_valid_openapi_3_1_document() -> None:
    path = schemas.schemas_dir() / "openapi.yaml"
    spec = schemas.openapi()
    assert spec["openapi"].startswith("3.1.")
    validate(spec, base_uri=path.resolve().as_uri(), cls=OpenAPIV31SpecValidator)


def test_openapi_describes_the_six_operations_and_the_documented_contract() -> None:
    spec = schemas.openapi()
    ops = {(m, p) for p, item in spec["paths"].items() for m in item if m != "parameters"}
    assert ops == OPERATIONS
    send = spec["paths"]["/api/core/messages/send"]["post"]
    assert set(send["responses"]) == {"202", "400", "401", "403", "409"}
    key = [p for p in send["parameters"] if p["name"] == "Idempotency-Key"]
    assert key and key[0]["in"] == "header" and key[0]["required"] is True
    token = spec["paths"]["/api/auth/token"]["post"]
    assert "application/x-www-form-urlencoded" in token["requestBody"]["content"]
    assert spec["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
    hook = spec["webhooks"]["messageLifecycle"]["post"]
    assert {p["name"] for p in hook["parameters"]} == {
        "X-RedCloud-Timestamp",
        "X-RedCloud-Signature",
    }


@pytest.fixture
def schemas_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """openapi.yaml alone in a directory of its own, as `schemas_dir()`."""
    (tmp_path / "openapi.yaml").write_bytes((schemas.schemas_dir() / "openapi.yaml").read_bytes())
    monkeypatch.setattr(schemas, "schemas_dir", lambda: tmp_path)
    schemas._openapi.cache_clear()
    yield tmp_path
    schemas._openapi.cache_clear()


def test_openapi_is_parsed_once_per_version_and_read_back_without_yaml(
        schemas_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    parsed = yaml.safe_load((schemas_copy / "openapi.yaml").read_text("utf-8"))
    assert schemas.openapi() == parsed
    [kept] = (schemas_copy / "__pycache__").iterdir()
    assert json.loads(kept.read_text("utf-8")) == parsed
    schemas._openapi.cache_clear()
    monkeypatch.setitem(sys.modules, "yaml", None)  # importing yaml now fails
    assert schemas.openapi() == parsed
    schemas._openapi.cache_clear()  # an edited file is parsed afresh, never the old parse
    (schemas_copy / "openapi.yaml").write_text("openapi: 3.1.1\npaths: {}\n", "utf-8")
    with pytest.raises(ImportError):
        schemas.openapi()


def test_openapi_is_parsed_every_time_where_its_parse_cannot_be_kept(
        schemas_copy: Path) -> None:
    (schemas_copy / "__pycache__").write_text("a file where the cache directory would be")
    assert schemas.openapi()["openapi"].startswith("3.1.")


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _documents() -> dict[str, Any]:
    docs: dict[str, Any] = {f"{n}.schema.json": schemas.load(n) for n in schemas.names()}
    docs["openapi.yaml"] = schemas.openapi()
    return docs


@pytest.mark.parametrize(
    "document", [*(f"{n}.schema.json" for n in EXPECTED_NAMES), "openapi.yaml"]
)
def test_every_ref_points_to_an_existing_file_and_definition(document: str) -> None:
    docs = _documents()
    for ref in _refs(docs[document]):
        target, _, fragment = ref.partition("#")
        target = target.removeprefix("./")
        assert target == "" or target in docs, f"{document}: {ref} names no schema file"
        try:
            _walk(docs[target or document], _split(fragment))
        except (KeyError, IndexError, ValueError) as exc:
            raise AssertionError(f"{document}: {ref} points to nothing ({exc!r})") from exc


def test_openapi_wires_every_schema_file() -> None:
    refs = {r.removeprefix("./") for r in _refs(schemas.openapi()) if not r.startswith("#")}
    assert refs == {f"{n}.schema.json" for n in schemas.names()}


def test_the_schemas_and_the_code_share_one_e164_pattern() -> None:
    from redcloud_check.core.e164 import E164

    assert schemas.load("send_request")["properties"]["to"]["contains"]["pattern"] == \
        E164.pattern
    assert schemas.load("number")["properties"]["e164"]["pattern"] == E164.pattern
