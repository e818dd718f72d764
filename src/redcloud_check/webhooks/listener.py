"""The signed-webhook listener: a plain ASGI app on uvicorn in a background thread.

It receives Red Cloud's lifecycle POSTs (1-quickstart.txt, Sections 8-9), verifies
``X-RedCloud-Signature == hex(HMAC_SHA256(secret, "{timestamp}.{rawBody}"))`` over the raw body
bytes before doing anything else with the body, answers fast, and records every request,
accepted or rejected, as a `Delivery` saying why.

    missing X-RedCloud-Timestamp / X-RedCloud-Signature   400
    body over 1 MiB (reading stops at the limit)          413
    signature mismatch                                    401
    timestamp outside tolerance                           401 in strict mode, else 200 + warning
    body not a JSON object (after verification)           400
    exact redelivery (same messageId, sequence, eventType  200, recorded as a duplicate
      and body)
    a different event reusing a (messageId, sequence)     200, recorded as sequence_reused
                                                          (never dropped: stage 5 judges it)
    a verified event under a script (`answers`)           the script's code, recorded with
                                                          `script_delivery` (webhooks.answers)

A scripted refusal (a verified event answered non-2xx on purpose: RC_DELIVERY_SEMANTICS,
`listen --respond`) is not remembered as received: its redelivery is the event's first
accepted copy, never a duplicate, whatever its body.

Waiting is event-driven: `wait_for(predicate, timeout)` wakes on every recorded delivery.
Public surface: `WebhookListener`, `Delivery`, `SignatureMistake`, `signature_mistake`,
`MAX_BODY`, `DEFAULT_TOLERANCE_S`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from redcloud_check.core.asgi_request import AsgiRequest, ClientDisconnect, lifespan
from redcloud_check.core.http_server import HTTPServerBase
from redcloud_check.core.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    timestamp_seconds,
    verify,
)
from redcloud_check.webhooks.answers import NO_BODY, Answers
from redcloud_check.webhooks.signature_mistakes import SignatureMistake, signature_mistake

MAX_BODY = 1024 * 1024
_UNJUDGED = {"body_size": 0, "verified": False, "reason": "", "status_returned": 400}
DEFAULT_TOLERANCE_S = 300.0
# Never kept, although Red Cloud sends none of them: a listener behind a proxy might get them.
_DROPPED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
# A repeated header is recorded as Node's http module presents it to the docs' listener
# (webhooks.reference): these keep their first value, every other one joins its values ", ".
_FIRST_WINS = frozenset({"content-type", "content-length", "user-agent", "referer", "host",
                         "if-modified-since", "if-unmodified-since", "from", "location",
                         "max-forwards", "retry-after", "etag", "last-modified", "server",
                         "age", "expires"})


@dataclass(frozen=True, slots=True)
class Delivery:
    """One request that reached the listener, and what the listener made of it."""

    received_at: float  # epoch seconds
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names, a repeated one as Node presents it; nothing
    #                          secret is ever in them
    body_size: int
    verified: bool  # the signature matched the configured secret
    reason: str  # "signature ok", or why it was rejected
    status_returned: int
    event: dict[str, Any] | None = None  # parsed only once verified
    duplicate: bool = False  # an exact redelivery: same messageId, sequence, eventType, body
    sequence_reused: bool = False  # a different event already used this (messageId, sequence)
    timestamp: str | None = None  # the X-RedCloud-Timestamp header as sent
    skew_s: float | None = None  # receipt time minus the timestamp, seconds
    # what a failing signature looks like it was computed over
    signature_mistake: SignatureMistake | None = None
    warnings: tuple[str, ...] = ()
    # under a script (`answers`): which delivery of its event this was (1, 2, ...); the
    # status is then the script's, not the listener's verdict
    script_delivery: int | None = None
    # the body as received, verified or not (bounded by max_body): stage 5's evidence and the
    # signature forensics read it; an unverified body is never trusted, only shown as such
    raw_body: bytes = field(default=b"", repr=False, compare=False)

    @property
    def signature_hint(self) -> str | None:
        """The signature mistake in words (None when none was recognised)."""
        return None if self.signature_mistake is None else self.signature_mistake.value

    @property
    def accepted(self) -> bool:
        return 200 <= self.status_returned < 300

    @property
    def refused_on_purpose(self) -> bool:
        """A verified event the script answered non-2xx: the listener's doing, not the
        sender's fault (stage 5 never counts its event as missing)."""
        return self.script_delivery is not None and not self.accepted

    @property
    def message_id(self) -> str | None:
        value = (self.event or {}).get("messageId")
        return value if isinstance(value, str) else None

    @property
    def sequence(self) -> int | None:
        value = (self.event or {}).get("sequence")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def event_type(self) -> str | None:
        value = (self.event or {}).get("eventType")
        return value if isinstance(value, str) else None


Subscriber = Callable[[Delivery, bytes], None]


class WebhookListener(HTTPServerBase):
    """Binds on start() (OSError if it cannot); `url` is the local URL; stop() is idempotent.

    `strict`: reject (401) a timestamp more than `tolerance_s` from now; otherwise accept it
    and add a warning (the docs name no window, DESIGN.md: a warning, never a failure).
    A subscriber that raises is collected in `handler_errors`; `check_handler_errors()`
    raises them as the tool's own error at the end of the run.
    """

    name = "webhook listener"

    def __init__(self, secret: str, *, host: str = "127.0.0.1", port: int = 0,
                 path: str = "/webhooks/red-cloud", strict: bool = False,
                 tolerance_s: float = DEFAULT_TOLERANCE_S, max_body: int = MAX_BODY,
                 answers: Answers | None = None) -> None:
        super().__init__(host=host, port=port)
        self.answers = answers  # what to answer verified events (None: 200 to every one)
        self._secret = secret
        self.path = path
        self.strict = strict
        self.tolerance_s = tolerance_s
        self.max_body = max_body
        self._cond = threading.Condition()
        self._deliveries: list[Delivery] = []
        # (messageId, sequence) -> digests of the distinct event bodies seen under it
        self._seen: dict[tuple[str, int], set[bytes]] = {}
        self._subscribers: list[Subscriber] = []

    def __repr__(self) -> str:  # never shows the secret
        return f"<WebhookListener {self.url if self._port else 'stopped'}>"

    @property
    def url(self) -> str:
        return self.url_for(self.path)

    # -- what was received -----------------------------------------------------------------

    def deliveries(self) -> list[Delivery]:
        with self._cond:
            return list(self._deliveries)

    def wait_for(self, predicate: Callable[[Sequence[Delivery]], bool],
                 timeout: float) -> bool:
        """Block until `predicate(deliveries)` holds (True) or `timeout` passes (False).

        The predicate is evaluated now and after every recorded delivery, never on a timer.
        """
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self._deliveries), max(0.0, timeout))

    def subscribe(self, callback: Subscriber) -> None:
        """Call `callback(delivery, raw_body)` for every delivery, on the server thread.

        The raw body is given only for verified deliveries (b"" otherwise). Keep it quick:
        hand work to another thread.
        """
        self._subscribers.append(callback)

    def _record(self, delivery: Delivery, raw_body: bytes) -> None:
        with self._cond:
            self._deliveries.append(delivery)
            self._cond.notify_all()
        for callback in list(self._subscribers):
            try:
                callback(delivery, raw_body if delivery.verified else b"")
            except Exception as error:  # a subscriber's bug: collected, never swallowed
                # A bug of ours, kept for check_handler_errors(). Not raised into the
                # request: the delivery was judged, and a 500 would make the target deliver
                # it again, turning our bug into duplicates blamed on the API.
                self.handler_errors.append(error)

    def _identity(self, event: dict[str, Any]) -> tuple[bool, bool]:
        """(duplicate, sequence_reused) for a verified event.

        Only an exact redelivery (same messageId, sequence, eventType and body, compared as
        canonical JSON) is a duplicate (DESIGN.md: webhook duplicates). A different event under
        an already used (messageId, sequence) is kept and flagged. Events without a messageId
        or an integer sequence are neither.
        """
        message_id, sequence = event.get("messageId"), event.get("sequence")
        if not isinstance(message_id, str) or not isinstance(sequence, int) \
                or isinstance(sequence, bool):
            return False, False
        canonical = json.dumps(event, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False)
        digest = hashlib.sha256(canonical.encode("utf-8")).digest()
        with self._cond:
            bodies = self._seen.setdefault((message_id, sequence), set())
            if digest in bodies:
                return True, False
            reused = bool(bodies)
            bodies.add(digest)
            return False, reused

    # -- the ASGI app ----------------------------------------------------------------------
    # One endpoint for every path and method, so every request is recorded with its reason;
    # plain ASGI rather than a framework's routing and middleware, which cost about a third
    # of the listener's CPU per event and a run ~20 ms of imports.

    def application(self) -> ASGIApp:
        return self._asgi

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        status, body = await self._endpoint(AsgiRequest(scope, receive))
        payload = b"" if status in NO_BODY else json.dumps(
            body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", str(len(payload)).encode("ascii")),
                                (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})

    async def _endpoint(self, request: AsgiRequest) -> tuple[int, dict[str, Any]]:
        headers: dict[str, str] = {}
        for key, value in request.header_items:
            name = key.lower()
            if name in headers:
                if name not in _FIRST_WINS:
                    headers[name] += ", " + value
            elif name not in _DROPPED_HEADERS:
                headers[name] = value
        received_at = time.time()
        try:
            found, raw = await self._judge(request, received_at)
        except ClientDisconnect:  # the sender went away before its body was read
            found, raw = {"reason": "unreadable request (ClientDisconnect)"}, b""
        except Exception as error:  # a bug of ours: never blamed on the sender
            self.handler_errors.append(error)
            found, raw = {"status_returned": 500, "reason": "internal error in the listener "
                          f"({type(error).__name__}), a bug in redcloud-check"}, b""
        # made once from what the verdict found (rebuilt at each step: a tenth of the CPU)
        delivery = Delivery(**{"received_at": received_at, "method": request.method,
                               "path": request.path, "headers": headers, **_UNJUDGED, **found})
        self._record(delivery, raw)
        body: dict[str, Any] = ({"ok": True} if delivery.accepted
                                else {"error": delivery.reason})
        return delivery.status_returned, body

    async def _judge(self, request: AsgiRequest, at: float) -> tuple[dict[str, Any], bytes]:
        """The Delivery fields the request earns (beyond `_UNJUDGED`: a request's fields until
        its verdict says otherwise), and its raw body once its signature verified."""
        if request.path != self.path:
            return {"status_returned": 404, "reason": f"not the webhook path {self.path}"}, b""
        if request.method != "POST":
            return {"status_returned": 405,
                    "reason": f"method {request.method} (webhooks are POSTs)"}, b""
        timestamp = request.header(TIMESTAMP_HEADER)
        signature = request.header(SIGNATURE_HEADER)
        if not timestamp or not signature:
            missing = [h for h, v in ((TIMESTAMP_HEADER, timestamp),
                                      (SIGNATURE_HEADER, signature)) if not v]
            return {"status_returned": 400, "timestamp": timestamp,
                    "reason": "missing signing headers: " + ", ".join(missing)}, b""
        found: dict[str, Any] = {"timestamp": timestamp}
        raw = await self._read_limited(request)
        if raw is None:
            return {**found, "status_returned": 413, "body_size": self.max_body + 1,
                    "reason": f"body over {self.max_body} bytes"}, b""
        found.update(body_size=len(raw), raw_body=raw)
        if not verify(self._secret, timestamp, raw, signature):
            mistake = signature_mistake(self._secret, timestamp, raw, signature)
            hint = None if mistake is None else mistake.value  # Delivery.signature_hint
            return {**found, "status_returned": 401, "signature_mistake": mistake,
                    "reason": "invalid signature" + (f": {hint}" if hint else "")}, b""
        # Verified: from here on the body may be looked at.
        try:
            skew: float | None = at - timestamp_seconds(timestamp)
        except ValueError:
            skew = None
        found.update(verified=True, skew_s=skew)
        if skew is None or abs(skew) > self.tolerance_s:
            why = ("timestamp is not a number" if skew is None else
                   f"timestamp outside tolerance ({skew:+.0f} s from receipt, "
                   f"tolerance {self.tolerance_s:.0f} s)")
            if self.strict:
                return {**found, "status_returned": 401, "reason": why}, raw
            found["warnings"] = (why,)
        try:  # a UTF-8 byte order mark is dropped, as express.json() drops it
            event = json.loads(raw.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            event = None
        if not isinstance(event, dict):
            return {**found, "status_returned": 400, "reason": "body is not a JSON object"}, raw
        scripted = self.answers.answer(event, raw) if self.answers is not None else None
        status, nth = (200, None) if scripted is None else scripted
        found.update(event=event, status_returned=status, script_delivery=nth)
        if nth is not None and not 200 <= status < 300:  # Delivery.refused_on_purpose: not
            return {**found, "reason": f"refused on purpose (delivery {nth} of this event, "
                                       "as scripted)"}, raw  # remembered, so no duplicate
        duplicate, reused = self._identity(event)
        reason = ("duplicate (exact redelivery)" if duplicate else
                  "signature ok; a different event already used this (messageId, sequence)"
                  if reused else "signature ok")
        return {**found, "duplicate": duplicate, "sequence_reused": reused,
                "reason": reason}, raw

    async def _read_limited(self, request: AsgiRequest) -> bytes | None:
        """The raw body, or None once it is known to exceed `max_body` (reading stops)."""
        declared = request.header("content-length") or ""
        if declared.isdigit() and int(declared) > self.max_body:
            return None
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect
            chunk = message.get("body", b"")
            more = bool(message.get("more_body", False))
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
        return b"".join(chunks)


__all__ = ["DEFAULT_TOLERANCE_S", "MAX_BODY", "Delivery", "SignatureMistake", "WebhookListener",
           "signature_mistake"]
