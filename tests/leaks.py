"""Assert that no secret appears in a text, without ever printing the secret."""

from __future__ import annotations

import base64
import html
import itertools
import json
import re
import shlex
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, unquote, unquote_plus, urlsplit


def leaked(text: str | bytes, secrets: Iterable[str]) -> list[int]:
    """Indexes (into `secrets`) of the secrets found in `text`; never the values."""
    haystack = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return [i for i, s in enumerate(secrets) if s and s in haystack]


def assert_no_secret(text: str | bytes, secrets: Iterable[str], where: str = "output") -> None:
    __tracebackhide__ = True
    found = leaked(text, list(secrets))
    if found:
        raise AssertionError(f"secret(s) #{found} leaked into {where}")


# --- "no leak wherever the secret stood as a value" (the redaction property) ---------------

MIN_SCRUB = 8  # redaction.MIN_SCRUB_LENGTH, restated: the test must not trust the code


def _string_values(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _string_values(value)
    elif isinstance(node, list):
        for item in node:
            yield from _string_values(item)


def body_values(text: str | None) -> list[str]:
    """The values a body carries: JSON string values, form values, or the whole body."""
    if not text:
        return []
    try:
        return list(_string_values(json.loads(text)))
    except ValueError:
        pass
    try:
        return [v for _, v in parse_qsl(text, keep_blank_values=True, strict_parsing=True)]
    except ValueError:
        return [text]


def url_values(url: str) -> list[str]:
    parts = urlsplit(url)
    values = [v for _, v in parse_qsl(parts.query, keep_blank_values=True)]
    return values + [unquote(p) for p in (parts.username, parts.password) if p]


def _curl_values(curl: str) -> list[str]:
    words = shlex.split(curl.replace("\\\n", " "))
    values: list[str] = []
    for flag, word in itertools.pairwise(words):
        if flag == "-H":
            values.append(word.partition(": ")[2])
        elif flag == "--data-raw":
            values += body_values(word)
        elif flag == "-u":
            values += word.split(":", 1)
        elif word.startswith("http"):
            values += url_values(word)
    return values


def escalation_values(doc: dict[str, Any]) -> list[str]:
    """Every value of escalation.json that came from an exchange (where a secret stands)."""
    values: list[str] = []
    for bundle in doc["bundles"]:
        for ex in bundle["exchanges"]:
            values += [*ex["request_headers"].values(), *ex["response_headers"].values()]
            values += url_values(ex["url"]) + body_values(ex["request_body"])
            values += body_values(ex["response_body"])
        if bundle["curl"]:
            values += _curl_values(bundle["curl"])
    return values


def har_values(doc: dict[str, Any]) -> list[str]:
    values: list[str] = []
    for entry in doc["log"]["entries"]:
        request, response = entry["request"], entry["response"]
        values += [h["value"] for h in request["headers"] + response["headers"]]
        values += [q["value"] for q in request.get("queryString", [])]
        values += url_values(request["url"])
        post = request.get("postData") or {}
        values += [p.get("value", "") for p in post.get("params", [])]
        values += body_values(post.get("text")) + body_values(response["content"].get("text"))
    return values


def _written_forms(secret: str) -> set[str]:
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1],
             json.dumps(secret, ensure_ascii=False)[1:-1]}
    return {f for f in forms if f}


def text_leaks(text: str, secret: str, *, client_id: str, free_text: bool = True) -> list[str]:
    """How `secret` shows in a text artifact (none: []): as the client_secret form value or
    the Basic credential always; anywhere when it is long enough to be scrubbed from free
    text, unless `free_text` is False (the secret is a word of our own output, so finding
    it in text says nothing)."""
    found = []
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    if basic in text:
        found.append("the Basic credential")
    for m in re.finditer(r"client_secret=([^&\s\"'<>]*)", text):
        if unquote_plus(m[1]) == secret:
            found.append("a client_secret form value")
    if free_text and len(secret) >= MIN_SCRUB:
        # Neither our masks nor a key (keys are never redacted) is where a value stood.
        rest = re.sub(r"\[redacted:[a-z_]+\]|\$\{[A-Z_]+\}", " ", text)
        for form in _written_forms(secret):
            key = re.escape(form)
            rest = re.sub(rf"([\"']){key}\1\s*:|(?<![^\s&?\"'{{])(?:{key})=", " ", rest)
        if any(f in rest for f in _written_forms(secret)):
            found.append("the secret in free text")
    return found


def run_texts(reports: Path, output: str) -> dict[str, str]:
    """Every text a run wrote or printed; HTML and XML unescaped."""
    texts = {"terminal output": output}
    for path in reports.rglob("*"):
        if path.is_file():
            raw = path.read_text(encoding="utf-8", errors="replace")
            texts[str(path.relative_to(reports))] = html.unescape(raw) \
                if path.suffix in (".html", ".xml") else raw
    return texts


def assert_no_value_leak(reports: Path, output: str, secret: str, *, client_id: str,
                         free_text: bool = True) -> None:
    """No secret where it stood as a value: in the exchanges and curl of escalation.json,
    in exchanges.har, and (see `text_leaks`) in every text the run wrote or printed."""
    __tracebackhide__ = True
    problems = []
    escalation = json.loads((reports / "escalation.json").read_text(encoding="utf-8"))
    if secret in escalation_values(escalation):
        problems.append("escalation.json: an exchange or the curl holds it as a value")
    har_path = reports / "exchanges.har"
    if har_path.is_file() and secret in har_values(
            json.loads(har_path.read_text(encoding="utf-8"))):
        problems.append("exchanges.har: an entry holds it as a value")
    for where, text in run_texts(reports, output).items():
        problems += [f"{where}: {what}" for what in text_leaks(
            text, secret, client_id=client_id, free_text=free_text)]
    if problems:  # never the value itself: the message names where, not what
        raise AssertionError("the secret leaked: " + "; ".join(sorted(set(problems))))
