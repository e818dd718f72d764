"""Escalation bundles: everything support needs about one failed check, as plain JSON data.

A bundle carries the check (nodeid, name, stage, gate, doc clause, plain statement), the
failure (title, expected, actual), the escalation fields of 5-troubleshooting.txt ("What to
capture before escalation": endpoint, HTTP status, request timestamp, requestId (and the
W3C traceparent the request carried, core.trace_context), payload
shape without secrets, token freshness, whether it reproduces, messageId), the recorded
exchanges, a curl repro and the diagnosis (`reporting.diagnosis`, the one pipeline). It is
redacted before it is returned.

Whether it reproduces is `reporting.reproduce`'s to say (the failing request sent once more,
only where that is safe).

Public surface: `CheckInfo`, `build_bundle`, `attributed_to_tool`, `named_secrets`,
`failing_exchange`, `payload_shape`, `exchange_record`,
`error_code`, `iso_utc`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from redcloud_check.core.citation import quote
from redcloud_check.core.errors import CheckFailure, ConfigError, TargetUnreachable
from redcloud_check.core.exchange import Exchange
from redcloud_check.core.redaction import redact, redact_headers
from redcloud_check.core.timefmt import iso_utc
from redcloud_check.reporting.curl import to_curl
from redcloud_check.reporting.diagnosis import diagnose
from redcloud_check.reporting.reproduce import outcome, reproduce
from redcloud_check.reporting.ruled_out import RunFacts
from redcloud_check.results.catalog import CheckSpec
from redcloud_check.rules.schemas import report_vocabulary

__all__ = ["CheckInfo", "attributed_to_tool", "build_bundle", "error_code", "exchange_record",
           "failing_exchange", "iso_utc", "named_secrets", "payload_shape"]

BODY_LIMIT = 16 * 1024
MAX_EXCHANGES = 20


@dataclass(frozen=True, slots=True)
class CheckInfo:
    """The check a bundle is about, as the bundle's `check` section shows it."""

    nodeid: str
    name: str
    stage: str | None = None
    gate: bool = False
    clause: str | None = None  # the clause the check's declaration names
    statement: str | None = None  # the check's docstring: the rule in plain words
    check_id: str | None = None  # RC-<STAGE>-<NN>

    @classmethod
    def of(cls, spec: CheckSpec, nodeid: str, name: str) -> CheckInfo:
        return cls(nodeid, name, spec.stage, spec.gate, spec.clause, spec.statement or None,
                   spec.id)


def named_secrets(values: Iterable[str], *, client_id: str = "", client_secret: str = "",
                  webhook_secret: str = "", ngrok_authtoken: str | None = None
                  ) -> dict[str, str]:
    """Secret value -> what it is. Unnamed values (issued tokens) are access tokens."""
    named = {v: "access_token" for v in values if v}
    for value, label in ((ngrok_authtoken, "ngrok_authtoken"),
                         (webhook_secret, "webhook_secret"), (client_secret, "client_secret")):
        if value:
            named[value] = label
    if client_id and client_secret:
        raw = f"{client_id}:{client_secret}".encode()
        named[base64.b64encode(raw).decode("ascii")] = "basic_credential"
    return named


def error_code(exchange: Exchange | None) -> str | None:
    """error.code of the CORE wrapper, or the OAuth `error` string."""
    return exchange.error_code if exchange is not None else None


def failing_exchange(error: BaseException, exchanges: Sequence[Exchange]) -> Exchange | None:
    """The exchange the failure is about: the one it names, else the check's last one."""
    named = getattr(error, "exchange", None)
    if isinstance(named, Exchange):
        return named
    if isinstance(error, TargetUnreachable):
        broken = [e for e in exchanges if e.error is not None]
        if broken:
            return broken[-1]
    return exchanges[-1] if exchanges else None


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        shapes: list[Any] = []
        for item in value:
            shaped = _shape(item)
            if shaped not in shapes:
                shapes.append(shaped)
        return shapes
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if value is None:
        return "null"
    return "string"


def payload_shape(exchange: Exchange) -> Any:
    """Keys and value types of the request body (JSON or form); no value is kept."""
    if not exchange.request_body:
        return None
    body = exchange.request_json()
    if body is not None:
        return _shape(body)
    try:
        pairs = parse_qsl(exchange.request_body.decode("ascii"), keep_blank_values=True,
                          strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return f"{len(exchange.request_body)} bytes, neither JSON nor a form"
    return {k: "string" for k, _ in pairs}


def _body_text(body: bytes | None) -> str | None:
    if not body:
        return None
    if len(body) > BODY_LIMIT:
        head = body[:BODY_LIMIT].decode("utf-8", "replace")
        return f"{head}\n... ({len(body) - BODY_LIMIT} more bytes)"
    try:
        return json.dumps(json.loads(body.decode("utf-8")), indent=2, ensure_ascii=False)
    except (ValueError, UnicodeDecodeError):
        return body.decode("utf-8", "replace")


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def exchange_record(exchange: Exchange) -> dict[str, Any]:
    """One exchange as JSON data (headers redacted here; the bundle is redacted again)."""
    t = exchange.timings
    return {
        "label": exchange.label, "method": exchange.method, "url": exchange.url,
        "started_at": iso_utc(exchange.started_at),
        "request_headers": redact_headers(exchange.request_headers),
        "request_body": _body_text(exchange.request_body),
        "status": exchange.status,
        "response_headers": redact_headers(exchange.response_headers),
        "response_body": _body_text(exchange.response_body),
        "timings_ms": {"total": _ms(t.total), "connect": _ms(t.connect), "tls": _ms(t.tls),
                       "first_byte": _ms(t.first_byte)},
        "error": exchange.error, "error_kind": exchange.error_kind,
        "token_fresh": exchange.token_fresh, "token_age_s": exchange.token_age_s,
    }


def _message_ids(exchange: Exchange | None, accepted_ids: Sequence[str]) -> list[str]:
    ids: list[str] = []
    body = exchange.json_or_none() if exchange is not None else None
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        ids += [r["messageId"] for r in body["results"]
                if isinstance(r, dict) and isinstance(r.get("messageId"), str)]
    return list(dict.fromkeys([*ids, *accepted_ids]))


def _failure(error: BaseException) -> tuple[str, dict[str, Any]]:
    if isinstance(error, CheckFailure):
        return "nonconformance", {"title": error.title, "expected": error.expected,
                                  "actual": error.actual, "failure_clause": error.clause,
                                  "details": error.details}
    if isinstance(error, TargetUnreachable):
        return "unreachable", {"title": f"Target unreachable ({error.kind})",
                               "expected": "an HTTP answer",
                               "actual": f"{error.kind} at {error.url}: {error.detail}",
                               "failure_clause": None, "details": {}}
    if isinstance(error, ConfigError):
        return "config_error", {"title": "Configuration error", "expected": error.setting,
                                "actual": str(error), "failure_clause": None,
                                "details": {"setting": error.setting}}
    return "suite_error", {
        "title": f"{type(error).__name__} in redcloud-check (a bug in the suite, not the API)",
        "expected": "the check runs to a verdict", "actual": f"{type(error).__name__}: {error}",
        "failure_clause": None, "details": {}}


def build_bundle(check: CheckInfo, error: BaseException, *, exchanges: Sequence[Exchange],
                 secrets: Mapping[str, str], accepted_ids: Sequence[str] = (),
                 replay: Callable[[Exchange], Exchange] | None = None,
                 timeout: float | None = None, embedded: bool = False,
                 related: Exchange | None = None,
                 facts: RunFacts | None = None) -> dict[str, Any]:
    """The redacted escalation bundle for one failed check. `embedded`: the target is the
    embedded simulator (a keyed send may then be replayed); by default it is remote.
    `related`: for a failure that made no request of its own (stage 5), the request it is
    about (the send whose messages' webhooks failed): it fills the escalation fields and is
    never sent again. `facts`: what the run established so far (`reporting.ruled_out`): the
    diagnosis never names a cause they rule out."""
    kind, failure = _failure(error)
    ex = failing_exchange(error, exchanges)
    repro, again = reproduce(ex, replay, embedded=embedded) if kind != "suite_error" else (
        {"retried": False, "consistent": None, "policy": "a bug in the suite",
         "first": None, "replay": None, "note": "not retried: a bug in the suite"}, None)
    if ex is None and related is not None and kind != "suite_error":
        why = ("a webhook failure is judged from the deliveries already recorded; the send "
               "is not repeated")
        repro = {"retried": False, "consistent": None, "policy": why,
                 "first": outcome(related), "replay": None, "note": f"not retried: {why}"}
    about = ex if ex is not None else related
    # the exchange the failure is about, when another check made it (a read the run shares)
    named = [ex] if ex is not None and ex not in exchanges else []
    recorded = [*named, *exchanges[-MAX_EXCHANGES:], *([again] if again is not None else []),
                *([related] if ex is None and related is not None else [])]
    request_id = about.request_id if about is not None else None
    if request_id is None:
        request_id = next((e.request_id for e in reversed(exchanges) if e.request_id), None)
    message_ids = _message_ids(ex, accepted_ids)
    bundle: dict[str, Any] = {
        "checkId": check.check_id,
        "check": {"checkId": check.check_id, "nodeid": check.nodeid, "name": check.name,
                  "stage": check.stage, "gate": check.gate, "clause": check.clause,
                  "statement": check.statement},
        "kind": kind, **failure,
        "escalation": {
            "endpoint": about.endpoint if about is not None else None,
            "url": about.url if about is not None else getattr(error, "url", None),
            "http_status": about.status if about is not None else None,
            "request_timestamp": iso_utc(about.started_at) if about is not None else None,
            "requestId": request_id,
            "traceparent": about.traceparent if about is not None else None,
            "error_code": error_code(about),
            "api_said": quote(about),
            "payload_shape": payload_shape(about) if about is not None else None,
            "request_header_names": sorted(about.request_headers) if about is not None else [],
            "token_fresh": about.token_fresh if about is not None else None,
            "token_age_s": about.token_age_s if about is not None else None,
            "reproduces": repro,
            "messageId": message_ids[0] if message_ids else None,
            "messageIds": message_ids,
        },
        "exchanges": [exchange_record(e) for e in recorded],
        "curl": to_curl(ex, secrets) if ex is not None else None,
        "diagnosis": diagnose(error, stage=check.stage, check=check.check_id, exchange=ex,
                              timeout=timeout, facts=facts).as_dict(),
    }
    return redact(bundle, secrets, keep=report_vocabulary())


def attributed_to_tool(bundle: Mapping[str, Any], error: BaseException,
                       secrets: Mapping[str, str]) -> dict[str, Any]:
    """`bundle` once code of ours explains its failure (`error`: the HandlerError of a server
    of ours that raised while serving): the failure and the diagnosis are the tool's, as
    `build_bundle` makes them for an error of ours; what the check saw is kept under
    details.check_failure, the evidence (escalation fields, exchanges) as recorded."""
    if bundle.get("kind") == "suite_error":
        return dict(bundle)
    kind, failure = _failure(error)
    failure["details"] = {"check_failure": {k: bundle.get(k) for k in ("kind", "title",
                                                                       "actual")}}
    check = bundle["check"]
    tool = {**bundle, "kind": kind, **failure,
            "diagnosis": diagnose(error, stage=check.get("stage"),
                                  check=check.get("checkId")).as_dict()}
    return redact(tool, secrets, keep=report_vocabulary())
