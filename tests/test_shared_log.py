"""SharedLog: what several threads append is all kept, and all() is a snapshot."""

from __future__ import annotations

import threading

from redcloud_check.core.findings import Finding, FindingLog
from redcloud_check.core.shared_log import SharedLog


def test_concurrent_adds_are_all_kept_and_all_is_a_snapshot() -> None:
    log: SharedLog[int] = SharedLog()
    threads = [threading.Thread(target=lambda base=base: [log.add(base + i)
                                                          for i in range(500)])
               for base in range(0, 4000, 1000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    snapshot = log.all()
    assert sorted(snapshot) == [b + i for b in range(0, 4000, 1000) for i in range(500)]
    snapshot.clear()
    assert len(log.all()) == 2000


def test_finding_log_lists_the_warnings() -> None:
    log = FindingLog()
    log.add(Finding("info", "journal recovered", "d", "DESIGN.md"))
    log.add(Finding("warning", "no Cache-Control", "d", "RFC 6749"))
    assert [f.title for f in log.warnings()] == ["no Cache-Control"]
