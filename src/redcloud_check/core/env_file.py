"""Writing settings into a .env file the way a person would edit it (`doctor --write-env`).

    update_env_file(path, values, placeholders) -> EnvFileChange

Each `values` key is set where the file already binds it (the last binding, the one
python-dotenv keeps; its `export ` and indentation kept) or appended; every other line, comment
and blank line stays as it was, in its order. `placeholders` are the names of secret settings:
a `NAME=` line with no value is appended for each one the file does not bind at all, under a
comment saying to fill it in; a secret's value is never written, and a binding already in the
file is never touched. The file is read and checked with the settings' own reader
(`config.read_dotenv`: a line it cannot parse is a ConfigError naming the file and line), and
the new text is read back before it replaces the file (atomically, `files.atomic_write`): it
must bind exactly what was asked. A new file is private (0600); an existing one keeps its mode.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from redcloud_check.core.config import SECRET_ENV, read_dotenv
from redcloud_check.core.errors import ConfigError
from redcloud_check.core.files import atomic_write

__all__ = ["EnvFileChange", "update_env_file"]

HEADER = "# Red Cloud settings (redcloud-check doctor wrote this file; edit it freely)\n"
PLACEHOLDER_NOTE = ("# Fill in: redcloud-check never writes a secret's value (or leave it "
                    "empty and keep the secret in the environment)\n")
_PLAIN = re.compile(r"[A-Za-z0-9_./:@+,=-]*")  # written as is; anything else single-quoted


@dataclass(frozen=True, slots=True)
class EnvFileChange:
    """What `update_env_file` did to the file: setting names only, never a value."""

    path: Path
    created: bool
    written: tuple[str, ...] = ()  # set or changed
    unchanged: tuple[str, ...] = ()  # already held that value
    placeholders: tuple[str, ...] = ()  # `NAME=` lines added, to fill in

    @property
    def changed(self) -> bool:
        return bool(self.written or self.placeholders)


def _quoted(value: str) -> str:
    """`value` as python-dotenv reads it back unchanged: plain, or single-quoted with its
    backslashes and quotes escaped (the only escapes single quotes know)."""
    if _PLAIN.fullmatch(value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _bindings(text: str) -> list[tuple[str | None, str]]:
    """The file as python-dotenv cuts it: (key or None, its original text), in order;
    joined, the originals are the file."""
    from dotenv.parser import parse_stream

    return [(b.key, b.original.string) for b in parse_stream(io.StringIO(text))]


def _rebind(original: str, key: str, value: str) -> str:
    """`original` (one binding's text, the blank lines before it included) binding `key` to
    `value`: the blank lines, indentation and `export ` kept; an inline comment is dropped
    (it described the old value)."""
    stripped = original.lstrip()
    cut = original[:len(original) - len(stripped)].rfind("\n") + 1
    lead, line = original[:cut], original[cut:]
    indent = line[:len(line) - len(line.lstrip())]
    export = "export " if line.lstrip().startswith("export ") else ""
    return f"{lead}{indent}{export}{key}={_quoted(value)}" + ("\n" if line.endswith("\n") else "")


def update_env_file(path: Path, values: Mapping[str, str],
                    placeholders: Sequence[str] = ()) -> EnvFileChange:
    """Set `values` in the .env file `path` and add an empty line for each name of
    `placeholders` it lacks (see the module docstring). ConfigError when the file cannot be
    read or parsed; OSError when it cannot be written."""
    secret = sorted(set(values) & set(SECRET_ENV))
    if secret:  # a secret's value is never written: a bug of the caller
        raise ValueError(f"update_env_file: refusing to write the value of {', '.join(secret)}")
    target = path.resolve() if path.is_symlink() else path
    created = not target.exists()
    try:
        text = "" if created else target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), f"cannot be read ({error})") from None
    before = read_dotenv(target) if not created else {}  # ConfigError naming file and line
    parts = _bindings(text)
    keys = [key for key, _ in parts]
    unchanged = tuple(k for k, v in values.items() if before.get(k) == v)
    written = tuple(k for k in values if k not in unchanged)
    for key in written:
        if key in keys:
            at = len(keys) - 1 - keys[::-1].index(key)
            parts[at] = (key, _rebind(parts[at][1], key, values[key]))
    new = "".join(original for _, original in parts)
    if created:
        new = HEADER + new
    tail = [f"{k}={_quoted(values[k])}\n" for k in written if k not in keys]
    added = tuple(dict.fromkeys(n for n in placeholders if n not in keys))
    if added:
        tail += ["\n" if new or tail else "", PLACEHOLDER_NOTE, *(f"{n}=\n" for n in added)]
    if tail and new and not new.endswith("\n"):
        new += "\n"
    new += "".join(tail)
    change = EnvFileChange(path, created, written, unchanged, added)
    if not change.changed:
        return change
    _check_reads_back(path, new, {**before, **values, **{n: "" for n in added}})
    mode = None if created else os.stat(target).st_mode & 0o7777
    atomic_write(target, new, mode=mode)
    return change


def _check_reads_back(path: Path, text: str, expected: Mapping[str, str]) -> None:
    """The new text binds `expected` (python-dotenv's reading), or nothing is written."""
    from dotenv import dotenv_values

    got = {k: v for k, v in dotenv_values(stream=io.StringIO(text), interpolate=False).items()
           if v is not None}
    wrong = sorted(k for k in set(expected) | set(got) if got.get(k) != expected.get(k))
    if wrong:
        raise ConfigError(str(path), f"not written: {', '.join(wrong)} would not read back "
                          "as set")
