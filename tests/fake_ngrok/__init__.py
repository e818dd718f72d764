"""The fake ngrok agent (`ngrok.py`) and a helper that installs an executable wrapper for it
running under this interpreter."""

from __future__ import annotations

import shlex
import stat
import sys
from pathlib import Path

AGENT = Path(__file__).resolve().with_name("ngrok.py")


def install(directory: Path) -> Path:
    """Write `directory/ngrok`, an executable that runs the fake agent; return its path."""
    wrapper = directory / "ngrok"
    wrapper.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} "
                       f"{shlex.quote(str(AGENT))} \"$@\"\n", encoding="utf-8")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return wrapper
