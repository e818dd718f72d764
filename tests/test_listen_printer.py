"""listen's printer: a delivery's line is written without waiting for another, a burst's
lines in arrival order and in fewer writes than lines, and the counts kept."""

from __future__ import annotations

import io
import json
import threading

from redcloud_check.cli.listen import Printer
from redcloud_check.webhooks.listener import Delivery


class Out(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.flushed = threading.Event()

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)

    def flush(self) -> None:
        super().flush()
        self.flushed.set()


def _delivery(sequence: int, verified: bool = True) -> Delivery:
    return Delivery(received_at=1.0, method="POST", path="/webhooks/red-cloud", headers={},
                    body_size=10, verified=verified, status_returned=200 if verified else 401,
                    reason="signature ok" if verified else "invalid signature",
                    event={"messageId": "msg_p", "sequence": sequence,
                           "eventType": "message.sent"} if verified else None)


def test_a_lone_delivery_is_written_without_waiting_for_another() -> None:
    out = Out()
    printer = Printer(out, as_json=True, forward_to=None)
    printer.start()
    try:
        printer.submit(_delivery(1), b"{}")
        assert out.flushed.wait(5)
        line = json.loads(out.getvalue())
        assert (line["type"], line["messageId"], line["sequence"]) == ("delivery", "msg_p", 1)
    finally:
        printer.stop()


def test_a_burst_is_written_in_arrival_order_in_fewer_writes_than_lines() -> None:
    out = Out()
    printer = Printer(out, as_json=True, forward_to=None)
    printer.start()
    for n in range(1, 201):
        printer.submit(_delivery(n, verified=n % 10 != 0), b"")
    printer.stop()  # writes what is left
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["sequence"] for line in lines if line["verified"]] == [
        n for n in range(1, 201) if n % 10 != 0]
    assert len(lines) == 200 and out.writes < 200
    assert printer.counts == {"received": 200, "verified": 180, "forwarded": 0}
