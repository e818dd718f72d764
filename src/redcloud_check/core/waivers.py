"""Waivers: known deviations accepted until a date, like pytest's xfail or Schemathesis's
check exclusions, so that an open ticket does not fail every scheduled run.

The file (RC_WAIVERS, default ``redcloud-waivers.toml`` in the current directory when it
exists) holds ``[[waiver]]`` tables::

    [[waiver]]
    check = "RC-WHOAMI-01"                      # a check's id (docs/checks.md), function
                                                # name, or node id
    reason = "SUP-1234: client suspended for the migration"
    expires = 2026-12-31                        # a TOML date: the last day it applies (UTC)

A waiver applies to failures of the check it names (a typed CheckFailure: the API does not
conform), never to the tool's own errors or an unreachable target. Through its `expires`
day a failing check is *waived*: shown with the reason, and it fails neither the run nor
the probe, nor blocks later stages. From the next day the waiver is *expired*: the check's
failure stands, and says the waiver expired. A waiver whose check passed is *stale*: a
warning, so it gets removed.

A probe stage answers to its stage's gate check (`rules.stages.Stage.gate_id`).

Public surface: `Waiver`, `WaiverBook`, `book_for`, `load_waivers`, `find_waivers_file`,
`waived_reason`, `DEFAULT_FILE`, `WAIVED_PREFIX`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Literal

from redcloud_check.core.errors import ConfigError
from redcloud_check.core.toml_tables import FromTable, checked_keys, complaint, read_tables, where

__all__ = ["DEFAULT_FILE", "WAIVED_PREFIX", "Use", "Waiver", "WaiverBook", "book_for",
           "find_waivers_file", "load_waivers", "waived_reason"]

DEFAULT_FILE = "redcloud-waivers.toml"
SETTING = "RC_WAIVERS"
_KEYS = ("check", "reason", "expires")


@dataclass(frozen=True, slots=True)
class Waiver(FromTable):
    check: str  # a function name or a node id
    reason: str
    expires: date  # the last day (UTC) the waiver applies
    index: int  # 1-based position in the file
    line: int | None  # line of its [[waiver]] header
    source: str  # the file's name, for messages

    @property
    def label(self) -> str:
        """How messages name the waiver."""
        return f"waiver #{self.index} ({self.where}) for {self.check!r}"

    def expired(self, today: date | None = None) -> bool:
        return (today or utc_today()) > self.expires

    def matches(self, nodeid: str, name: str, check_id: str | None = None) -> bool:
        """`check_id` is the check's stable id (RC-TOKEN-01); `name` its function name (a
        parametrized check: with or without its parameters)."""
        return self.check in (check_id, nodeid, name, name.partition("[")[0])

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "reason": self.reason,
                "expires": self.expires.isoformat(), "waiver": self.label}


Use = Literal["waived", "expired", "stale"]


def utc_today() -> date:
    return datetime.now(timezone.utc).date()


def find_waivers_file(given: str | None, cwd: Path | None = None) -> Path | None:
    """RC_WAIVERS when set (it must exist), else redcloud-waivers.toml in `cwd` if present."""
    if given:
        path = Path(given)
        if not path.is_file():
            raise ConfigError(SETTING, f"no such file: {given}",
                              "a TOML file of [[waiver]] tables (see docs/waivers.md)")
        return path
    default = (cwd or Path.cwd()) / DEFAULT_FILE
    return default if default.is_file() else None


def load_waivers(path: Path) -> tuple[Waiver, ...]:
    """Parse and validate the waiver file; ConfigError(RC_WAIVERS) naming the line."""
    waivers = [_waiver(table, i, line, path) for i, (table, line)
               in enumerate(read_tables(path, "waiver", setting=SETTING), 1)]
    seen: dict[str, Waiver] = {}
    for w in waivers:
        if w.check in seen:
            raise ConfigError(SETTING, f"{w.where}: waiver #{w.index} names {w.check!r} again "
                                       f"(waiver #{seen[w.check].index} already does)")
        seen[w.check] = w
    return tuple(waivers)


def _waiver(table: Any, index: int, line: int | None, path: Path) -> Waiver:
    bad = complaint(SETTING, f"{where(str(path), line)}: waiver #{index}")
    table = checked_keys(table, _KEYS, "waiver", bad)
    for key in ("check", "reason"):
        value = table.get(key)
        if not isinstance(value, str) or not value.strip():
            raise bad(f"'{key}' must be a non-empty string")
    expires = table.get("expires")
    if not isinstance(expires, date) or isinstance(expires, datetime):
        raise bad(f"'expires' must be a TOML date, got {expires!r}",
                  "e.g. expires = 2026-12-31, unquoted")
    return Waiver(check=table["check"].strip(), reason=table["reason"].strip(),
                  expires=expires, index=index, line=line, source=path.name)


class WaiverBook:
    """The run's waivers and what became of each: waived, expired or stale."""

    def __init__(self, waivers: Sequence[Waiver] = (), file: Path | None = None,
                 today: date | None = None) -> None:
        self.waivers = tuple(waivers)
        self.file = file
        self.today = today or utc_today()
        self._uses: list[tuple[Use, Waiver, str]] = []
        self._lock = threading.Lock()

    def find(self, nodeid: str, name: str, check_id: str | None = None) -> Waiver | None:
        return next((w for w in self.waivers if w.matches(nodeid, name, check_id)), None)

    def active(self, waiver: Waiver) -> bool:
        return not waiver.expired(self.today)

    def record(self, use: Use, waiver: Waiver, check: str) -> None:
        with self._lock:
            self._uses.append((use, waiver, check))

    def uses(self, use: Use) -> list[dict[str, Any]]:
        with self._lock:
            got = [(w, c) for u, w, c in self._uses if u == use]
        return [{**w.as_dict(), "nodeid": c} for w, c in got]

    def summary(self) -> dict[str, Any]:
        """The `waivers` block of escalation.json's summary."""
        return {"file": str(self.file) if self.file else None,
                "waived": self.uses("waived"), "expired": self.uses("expired"),
                "stale": self.uses("stale")}

    @staticmethod
    def expired_message(waiver: Waiver) -> str:
        return (f"{waiver.label} expired on {waiver.expires.isoformat()} "
                f"(reason: {waiver.reason}); the failure counts again: fix it, or renew "
                "the waiver with a new date")

    @staticmethod
    def stale_message(waiver: Waiver, expired: bool) -> str:
        state = "expired and stale" if expired else "stale"
        return (f"{waiver.label} is {state}: the check passed, so the waiver accepts "
                f"nothing (reason: {waiver.reason}); remove it")


WAIVED_PREFIX = "waived: "


def waived_reason(waiver: Waiver) -> str:
    """The xfail reason a waived check carries (terminal, junit.xml, report.html)."""
    return (f"{WAIVED_PREFIX}{waiver.reason} ({waiver.label}, until "
            f"{waiver.expires.isoformat()})")


def book_for(path: Path | None) -> WaiverBook:
    """The run's waiver book: the file's waivers, or none."""
    return WaiverBook(load_waivers(path) if path is not None else (), file=path)
