"""`redcloud-check listen`: the signed-webhook listener alone, like `stripe listen`.

Prints the URL to configure as the delivery webhook, then one line per request: time,
eventType, messageId, sequence, and "signature ok" or why it was rejected (`--json`: one
JSON object per line). `--forward-to URL` forwards each verified request (headers and raw
body as received) to a local app and prints the app's status; rejected requests are never
forwarded (their bodies are not trusted). `--respond 503,200` scripts the answers, to see
what a sender does with a refusal: each event's (messageId, eventType, sequence; else its
body) n-th verified delivery gets the n-th code, the last code repeating once they run out
(`webhooks.answers`). Ctrl-C (or SIGTERM) stops cleanly. The secret is read from the
environment variable named by `--secret-env` and never printed.

Exit codes (core.exit_codes): 0 once stopped; 3 when it cannot listen (no secret, a bad
--path or --respond, an address it cannot bind, a tunnel that did not open); 7 when code of
ours raised while it listened (the listener's or the printer's, raised once stopped as
HandlerError).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import sys
import threading
import time
from collections import deque
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from redcloud_check.core.config import Settings, read_dotenv
from redcloud_check.core.errors import CollectsHandlerErrors, RedcloudCheckError
from redcloud_check.core.exit_codes import ExitCode, help_text

if TYPE_CHECKING:  # the server stack loads only when `listen` runs, not for --help or probe
    from redcloud_check.webhooks.listener import Delivery

# Not forwarded: hop-by-hop, and what the HTTP client sets itself for the new connection.
_NOT_FORWARDED = frozenset({"host", "content-length", "connection", "keep-alive",
                            "transfer-encoding", "te", "trailer", "upgrade",
                            "proxy-connection"})


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = help_text("listen")
    parser.add_argument("--port", type=int, default=8787,
                        help="port to listen on (default 8787; 0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--path", default="/webhooks/red-cloud",
                        help="webhook path (default /webhooks/red-cloud)")
    parser.add_argument("--tunnel", choices=("none", "ngrok"), default="none",
                        help="ngrok: expose the listener publicly (NGROK_AUTHTOKEN, "
                             "RC_NGROK_PATH)")
    parser.add_argument("--forward-to", metavar="URL",
                        help="forward each verified request to this local URL")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--strict", action="store_true",
                        help="answer 401 to a timestamp outside --tolerance (replay "
                             "protection; by default it is accepted and flagged, since the "
                             "docs name no window)")
    parser.add_argument("--tolerance", type=float, default=300.0, metavar="SECONDS",
                        help="allowed distance of X-RedCloud-Timestamp from now (default 300)")
    parser.add_argument("--respond", type=_codes, metavar="CODES",
                        help="answer each event's deliveries with these HTTP codes in order, "
                             "e.g. 503,200: the 1st delivery 503, the 2nd and later 200 (the "
                             "last code repeats); only verified deliveries are scripted")
    parser.add_argument("--secret-env", default="RC_WEBHOOK_SECRET", metavar="NAME",
                        help="environment variable holding the signing secret "
                             "(default RC_WEBHOOK_SECRET; .env is read too)")


def _codes(text: str) -> tuple[int, ...]:
    """--respond's value; a bad list is a usage error (exit 3)."""
    from redcloud_check.webhooks.answers import parse_codes

    try:
        return parse_codes(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _setting(name: str) -> str | None:
    return os.environ.get(name) or read_dotenv(Path(".env")).get(name) or None


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at)) + f".{int(at % 1 * 1000):03d}"


FLUSH_AFTER_S = 0.005  # a printed line waits at most this long for the next ones


class Printer(CollectsHandlerErrors):
    """Prints deliveries (and forwards them) in arrival order. What code of ours raises on
    its thread is collected (`check_handler_errors()` once stopped); the next deliveries
    are still printed.

    Without --forward-to, a delivery's line is made on the listener's thread as it is
    recorded, and this thread writes the lines in batches, once FLUSH_AFTER_S passed after
    the first of them: one write per burst, and no hand-over per event between threads
    (each cost the listener's thread the GIL: about a fifth of its CPU per event). With
    --forward-to each delivery is handed to this thread, which prints and forwards it."""

    name = "listen printer"

    def __init__(self, out: TextIO, as_json: bool, forward_to: str | None) -> None:
        self.handler_errors: list[BaseException] = []
        self.out = out
        self.as_json = as_json
        self.forward_to = forward_to
        self.queue: queue.Queue[tuple[Delivery, bytes] | None] = queue.Queue()
        self.counts = {"received": 0, "verified": 0, "forwarded": 0}
        self._lines: deque[str] = deque()  # made on the listener's thread, not yet written
        self._due = threading.Event()  # a line is waiting to be written
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="listen-printer")
        self._client: Any = None

    def start(self) -> None:
        if self.forward_to:
            import httpx

            self._client = httpx.Client(timeout=10, trust_env=False)
        self._thread.start()

    def submit(self, delivery: Delivery, raw: bytes) -> None:
        """On the listener's thread, for every delivery."""
        if self.forward_to:
            self.queue.put((delivery, raw))
            return
        self._count(delivery)
        try:
            line = self._line(delivery)
        except Exception as error:  # a bug of ours: collected, never lost, exit 7 at the
            self.handler_errors.append(error)  # end; one delivery's bug stops no other
            return
        self._lines.append(line)
        self._due.set()

    def emit(self, record: dict[str, Any], text: str) -> None:
        self.out.write((json.dumps(record) if self.as_json else text) + "\n")
        self.out.flush()

    def _run(self) -> None:
        if self.forward_to:
            self._forwarding()
            return
        while not self._stopping.is_set():
            self._due.wait()
            self._stopping.wait(FLUSH_AFTER_S)  # the rest of the burst, if one is coming
            self._due.clear()
            self._write_pending()

    def _write_pending(self) -> None:
        lines = []
        while self._lines:
            lines.append(self._lines.popleft())
        if lines:
            self.out.write("\n".join(lines) + "\n")
            self.out.flush()

    def _forwarding(self) -> None:
        unflushed = False  # flushed once no delivery came for FLUSH_AFTER_S
        while True:
            try:
                item = self.queue.get(timeout=FLUSH_AFTER_S) if unflushed else self.queue.get()
            except queue.Empty:
                self.out.flush()
                unflushed = False
                continue
            if item is None:
                break
            try:
                self._handle(*item)
            except Exception as error:  # a bug of ours: collected, never lost, exit 7 at the
                self.handler_errors.append(error)  # end; one delivery's bug stops no other
            unflushed = True
        self.out.flush()

    def _count(self, delivery: Delivery) -> None:
        self.counts["received"] += 1
        self.counts["verified"] += delivery.verified

    def _handle(self, delivery: Delivery, raw: bytes) -> None:
        self._count(delivery)
        self.out.write(self._line(delivery) + "\n")
        if delivery.verified:
            self._forward(delivery, raw)

    def _line(self, d: Delivery) -> str:
        """The delivery's line, in the form asked for (only that one is built)."""
        if self.as_json:
            return json.dumps({"type": "delivery", "receivedAt": d.received_at,
                               "eventType": d.event_type, "messageId": d.message_id,
                               "sequence": d.sequence, "verified": d.verified,
                               "status": d.status_returned, "reason": d.reason,
                               "duplicate": d.duplicate, "sequenceReused": d.sequence_reused,
                               "scriptedDelivery": d.script_delivery,
                               "warnings": list(d.warnings)})
        verdict = "signature ok" if d.reason == "signature ok" else (
            f"{d.status_returned} {d.reason}")
        if d.script_delivery is not None and d.accepted:  # a refusal's reason says it all
            verdict += (f" ({d.status_returned}: delivery {d.script_delivery} of this event, "
                        "as scripted)")
        notes = "".join(f" [{w}]" for w in d.warnings)
        return (f"{_clock(d.received_at)}  {d.event_type or '-':<17} "
                f"{d.message_id or '-':<20} seq "
                f"{d.sequence if d.sequence is not None else '-'}  {verdict}{notes}")

    def _forward(self, d: Delivery, raw: bytes) -> None:
        import httpx  # loaded by start() with the client

        headers = {k: v for k, v in d.headers.items() if k not in _NOT_FORWARDED}
        try:
            answer = self._client.request(d.method, self.forward_to, content=raw,
                                          headers=headers)
            status: int | None = answer.status_code
            text = f"HTTP {status}"
        except (httpx.HTTPError, httpx.InvalidURL) as error:  # the app is down, slow, broke
            # the connection, or its URL is one httpx cannot use: the app's, not our bug
            status, text = None, f"failed ({type(error).__name__}: {error})"
        else:
            self.counts["forwarded"] += 1
        self.emit({"type": "forward", "messageId": d.message_id, "sequence": d.sequence,
                   "url": self.forward_to, "status": status, "detail": text},
                  f"  -> {self.forward_to}  {text}")

    def stop(self) -> None:
        """Write what was received, then stop; a no-op if never started."""
        if not self._thread.is_alive():
            return
        self._stopping.set()
        self._due.set()
        self.queue.put(None)
        self._thread.join(15)
        self._write_pending()  # what came in while it stopped
        if self._client is not None:
            self._client.close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    secret = _setting(args.secret_env)
    if not secret:
        print(f"redcloud-check listen: {args.secret_env} is not set: it must hold the webhook "
              "signing secret", file=sys.stderr)
        return int(ExitCode.CONFIG_ERROR)
    if not args.path.startswith("/"):
        print("redcloud-check listen: --path must start with '/'", file=sys.stderr)
        return int(ExitCode.CONFIG_ERROR)
    if args.forward_to and not _forwardable(args.forward_to):
        print(f"redcloud-check listen: --forward-to {args.forward_to!r} is not an http(s) URL",
              file=sys.stderr)
        return int(ExitCode.CONFIG_ERROR)
    from redcloud_check.webhooks.answers import Answers, AnswerScript
    from redcloud_check.webhooks.listener import WebhookListener
    from redcloud_check.webhooks.tunnel import Tunnel

    listener = WebhookListener(secret, host=args.host, port=args.port, path=args.path,
                               strict=args.strict, tolerance_s=args.tolerance,
                               answers=Answers(AnswerScript(args.respond)) if args.respond
                               else None)
    tunnel = Tunnel(Settings(None, "", "", "", "", "", tunnel=args.tunnel,
                             ngrok_path=_setting("RC_NGROK_PATH"),
                             ngrok_authtoken=_setting("NGROK_AUTHTOKEN")))
    printer = Printer(out, args.json, args.forward_to)
    listener.subscribe(printer.submit)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        try:
            listener.start()
            exposure = tunnel.open(listener.url)
        except (OSError, RedcloudCheckError) as error:  # a busy port, a tunnel not opened
            print(f"redcloud-check listen: {error}", file=sys.stderr)
            return int(ExitCode.CONFIG_ERROR)
        printer.start()
        printer.emit({"type": "ready", "url": exposure.url, "local": listener.url,
                      "via": exposure.kind, "secretEnv": args.secret_env,
                      "forwardTo": args.forward_to,
                      "respond": list(args.respond) if args.respond else None},
                     f"Ready. Configure this delivery webhook URL: {exposure.url}\n"
                     f"  ({exposure.detail}; verifying signatures with ${args.secret_env}"
                     + (f"; forwarding to {args.forward_to}" if args.forward_to else "")
                     + (f"; answering each event's deliveries {','.join(map(str, args.respond))}"
                        if args.respond else "")
                     + "; Ctrl-C to stop)")
        threading.Event().wait()  # until Ctrl-C / SIGTERM
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        listener.stop()
        tunnel.close()
        printer.stop()
    counts = printer.counts
    printer.emit({"type": "stopped", **counts},
                 f"Stopped. {counts['received']} request(s), {counts['verified']} verified"
                 + (f", {counts['forwarded']} forwarded" if args.forward_to else "") + ".")
    listener.check_handler_errors()  # HandlerError: exit 7, logged (core.run_log.ended_by)
    printer.check_handler_errors()
    return 0


def _forwardable(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
