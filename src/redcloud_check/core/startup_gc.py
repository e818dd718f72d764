"""The garbage collector while a command starts: off, then frozen and back on.

Start-up imports modules and builds classes, functions and compiled patterns: tens of
thousands of objects that live until the process exits, and almost no garbage. Every
collection the allocations trigger meanwhile scans them again for nothing (about 14 ms of
the read-only probe, 40 ms of a run's start-up on the reference machine).

`paused()` wraps the console script's `main`: the collector is off while the command
imports its machinery and reads its settings. `resume()`, where the command's real work
begins (the probe's stages, the suite's session), moves what start-up built out of the
collector's sight (`gc.freeze()`) and turns it back on, so a long-running command
(simulate, listen, a fleet probe, a canary's wait, the checks of a run) collects as usual.
Leaving `paused()` turns it back on in any case: a caller of `main` in-process gets its
collector back as it was.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused", "resume"]

_paused = False


@contextmanager
def paused() -> Iterator[None]:
    """The collector off for the block (unless someone else turned it off already: then it
    stays as it is)."""
    global _paused
    if not gc.isenabled():
        yield
        return
    gc.disable()
    _paused = True
    try:
        yield
    finally:
        if _paused:
            _paused = False
            gc.enable()


def resume(*, freeze_anyway: bool = False) -> None:
    """Start-up is over: if `paused()` turned the collector off, what start-up built moves
    out of its sight (`gc.freeze()`: the collections from now on scan only what the work
    allocates) and it is back on. `freeze_anyway`: freeze even when nothing was paused (the
    suite's session, whoever started it); otherwise a process we did not start is left as
    it is."""
    global _paused
    if _paused or freeze_anyway:
        gc.freeze()
    if _paused:
        _paused = False
        gc.enable()
