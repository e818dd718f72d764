"""Writing a file so that readers see the old content or the new, never a torn one.

`atomic_write` writes a temporary file in the target's directory, flushes and fsyncs it,
renames it over the target (`os.replace`, atomic on POSIX and Windows) and fsyncs the
directory so the rename itself survives a crash. Every artifact, journal and probe output
of redcloud-check is written through it. What only describes the run that just ended (its
reports, probe.json, the metrics textfile) passes ``durable=False``: still atomic, never
torn, but without the two fsyncs (about 2-15 ms each on the reference machine, 20 of them
per run); what must survive a power loss (the override journal, the history) is durable.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: Path, text: str, mode: int | None = None, durable: bool = True) -> None:
    """Replace `path` with `text` (UTF-8) atomically and durably; creates the directory.

    The file is private (0600) unless `mode` says otherwise (set before the rename, so no
    reader ever sees it with other permissions)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:  # whatever stopped the write (Ctrl-C too) leaves no temp file;
        with contextlib.suppress(OSError):  # re-raised as it was
            os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable. Where a directory cannot be opened or synced
    (Windows, some network file systems) the rename is still atomic, only less durable."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
