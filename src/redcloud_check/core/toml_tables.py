"""Read a TOML file of `[[name]]` tables, each with the line of its header, for messages.

    read_tables(path, "waiver", setting="RC_WAIVERS") -> [(table, line), ...]

The waiver file (`core.waivers`) and the fleet's targets file (`probe.fleet`) are both such
files. Every problem is a ConfigError for `setting` that names the file (and, from
tomllib, the line and column of a syntax error); the caller validates each table's keys
and names its line: `FromTable` (the record's `where`), `complaint` (its errors) and
`checked_keys` serve both.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from redcloud_check.core.errors import ConfigError

__all__ = ["Complaint", "FromTable", "checked_keys", "complaint", "read_tables", "where"]

Complaint = Callable[..., ConfigError]  # (problem, hint="") -> the error to raise


def where(source: str, line: int | None) -> str:
    """How messages point at a table: "file:line", or the file alone when the line is unknown."""
    return f"{source}:{line}" if line else source


class FromTable:
    """A record read from a `[[name]]` table (a dataclass declaring `source`, the file's
    name, and `line`, its header's): `where` points messages at it."""

    __slots__ = ()
    source: str
    line: int | None

    @property
    def where(self) -> str:
        return where(self.source, self.line)


def complaint(setting: str, place: str) -> Complaint:
    """How one table's problems are raised: ConfigError(`setting`, "<place>: <problem>",
    hint), `place` saying which table ("waivers.toml:6: waiver #2")."""

    def bad(problem: str, hint: str = "") -> ConfigError:
        return ConfigError(setting, f"{place}: {problem}", hint)

    return bad


def checked_keys(table: Any, keys: Sequence[str], name: str, bad: Complaint) -> dict[str, Any]:
    """`table`, once it is a `[[name]]` table of exactly `keys` (its values are the caller's
    to check); else raises `bad(problem, hint)`."""
    if not isinstance(table, dict):
        raise bad("not a table")
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise bad(f"unknown key(s) {', '.join(unknown)}", f"keys are {', '.join(keys)}")
    missing = [key for key in keys if key not in table]
    if missing:
        listed = f"{', '.join(keys[:-1])} and {keys[-1]}"
        raise bad(f"{', '.join(repr(k) for k in missing)} "
                  f"{'is' if len(missing) == 1 else 'are'} missing",
                  f"each [[{name}]] has {listed}")
    return table


def _header_lines(text: str, name: str) -> list[int]:
    header = re.compile(rf"^\s*\[\[\s*{re.escape(name)}\s*\]\]")
    return [n for n, line in enumerate(text.splitlines(), 1) if header.match(line)]


def read_tables(path: Path, name: str, *, setting: str) -> list[tuple[Any, int | None]]:
    """The `[[name]]` tables of the file at `path`, in order, each with its header's line
    (None if it cannot be told, e.g. an inline array of tables)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: the same parser, from PyPI
        import tomli as tomllib
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(setting, f"cannot read {path}: {error}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:  # its message names the line and column
        raise ConfigError(setting, f"{path}: not valid TOML: {error}") from None
    extra = sorted(set(data) - {name})
    if extra:
        raise ConfigError(setting, f"{path}: unknown top-level key(s) {', '.join(extra)}",
                          f"write each {name} as a [[{name}]] table")
    tables = data.get(name, [])
    if not isinstance(tables, list):
        raise ConfigError(setting, f"{path}: '{name}' must be [[{name}]] tables")
    lines = _header_lines(text, name)
    return [(table, lines[i] if i < len(lines) else None) for i, table in enumerate(tables)]
