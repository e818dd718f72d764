"""The fake ngrok agent (`ngrok.py`) and a helper that installs an executable wrapper for it
running under this interpreter. Each start of the agent appends what it was given (argv, its
config file's path and mode) to `directory/RECORD`, read back with `starts()`."""

from __future__ import annotations

import json
import shlex
import stat
import sys
from pathlib import Path

AGENT = Path(__file__).resolve().with_name("ngrok.py")
RECORD = "ngrok-starts.jsonl"


def install(directory: Path) -> Path:
    """Write `directory/ngrok`, an executable that runs the fake agent; return its path."""
    wrapper = directory / "ngrok"
    record = shlex.quote(str(directory / RECORD))
    wrapper.write_text(f"#!/bin/sh\nFAKE_NGROK_RECORD={record} exec "
                       f"{shlex.quote(sys.executable)} {shlex.quote(str(AGENT))} \"$@\"\n",
                       encoding="utf-8")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return wrapper


def starts(directory: Path) -> list[dict[str, object]]:
    """What each agent started from `directory`'s wrapper was given, in order."""
    record = directory / RECORD
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
