"""The anchors every bench figure is a ratio against, run as a user would run them.

- The docs' Python quickstart (2-examples.txt, "Python example"): extracted from the docs at
  run time and re-indented (the docs' text lost its indentation), so the anchor is the docs'
  own code. `quickstart_script(read_only=True)` drops the send: the read-only anchor for the
  probe (token, whoami, numbers).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path

from _measure import Sample, python, run_once

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO.parent.parent / "shared" / "redcloud-docs"
_BLOCK_CLOSERS = ("except", "else", "elif", "finally")
_STRINGS = re.compile(r"'[^']*'|\"[^\"]*\"")


def docs_dir() -> Path:
    """The API docs: RC_DOCS_DIR, else /work/shared/redcloud-docs beside the worktrees."""
    import os

    override = os.environ.get("RC_DOCS_DIR")
    if override:
        return Path(override)
    for candidate in (DOCS, Path("/work/shared/redcloud-docs")):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the Red Cloud docs are not found: set RC_DOCS_DIR")


def _depth_change(line: str) -> int:
    bare = _STRINGS.sub("", line)
    return sum(bare.count(c) for c in "([{") - sum(bare.count(c) for c in ")]}")


def reindent(lines: list[str]) -> str:
    """Give flattened Python its indentation back: blocks open after a ':' at bracket depth
    0, close at 'except/else/...' (back to their opener) and after two blank lines (a new
    top-level statement, as PEP 8 spaces them); lines inside brackets indent by depth."""
    out: list[str] = []
    openers: list[tuple[str, int]] = []  # (keyword, level of the opening line)
    level = depth = blanks = 0
    for raw in lines:
        line = raw.strip()
        if not line:
            blanks += 1
            out.append("")
            continue
        if blanks >= 2 and depth == 0:
            level, openers = 0, []
        blanks = 0
        word = line.split(" ", 1)[0].rstrip(":")
        if depth == 0 and word in _BLOCK_CLOSERS:
            while openers and openers[-1][0] not in ("try", "if", "for", "while"):
                openers.pop()
            level = openers[-1][1] if openers else level - 1
        pad = level + depth - (1 if line[0] in ")]}" else 0)
        out.append("    " * pad + line)
        depth += _depth_change(line)
        if depth == 0 and line.endswith(":"):
            if word not in _BLOCK_CLOSERS:
                openers.append((word, level))
            level += 1
    return "\n".join(out).strip() + "\n"


def quickstart_script(read_only: bool = False) -> str:
    """The docs' Python quickstart (2-examples.txt), runnable; without the send if read_only."""
    text = (docs_dir() / "2-examples.txt").read_text(encoding="utf-8")
    section = text.split("Python example", 1)[1]
    code = section.split("\nRequest\n", 1)[1].split("\nExplanation\n", 1)[0]
    lines = code.strip("\n").splitlines()
    if read_only:
        cut = next(i for i, line in enumerate(lines) if line.startswith("send = send_message("))
        lines = lines[:cut]
    script = reindent(lines)
    compile(script, "quickstart.py", "exec")  # a broken extraction fails here, not in a run
    return script


def write_quickstart(directory: Path, read_only: bool = False) -> Path:
    path = directory / ("quickstart_read_only.py" if read_only else "quickstart.py")
    path.write_text(quickstart_script(read_only), encoding="utf-8")
    return path


def path_python3() -> str | None:
    """`python3` as the docs' `python3 quickstart.py` finds it on PATH (None if absent)."""
    import shutil

    return shutil.which("python3")


def quickstart_anchors(directory: Path, base_url: str, read_only: bool,
                       env: dict[str, str]) -> dict[str, Callable[[], Sample]]:
    """The quickstart as `python3 quickstart.py` against `base_url`: with this environment's
    interpreter (the same Python our command runs on: the strict anchor) and with `python3`
    on PATH when that is another file (the docs' literal command; here it may be a shim)."""
    script = str(write_quickstart(directory, read_only))
    env = {**env, "RC_BASE_URL": base_url}
    name = "read-only quickstart" if read_only else "quickstart"
    anchors = {f"{name} (same python)": partial(run_once, [python(), script], env,
                                                 str(directory))}
    on_path = path_python3()
    if on_path and Path(on_path).resolve() != Path(python()).resolve():
        anchors[f"{name} (python3 on PATH)"] = partial(run_once, [on_path, script], env,
                                                        str(directory))
    return anchors


def user_env(directory: Path) -> dict[str, str]:
    """The environment a user's shell has: no RC_* settings, no ngrok token, and Python
    caching bytecode as it does by default (a PYTHONDONTWRITEBYTECODE=1 left in the bench's
    environment would recompile our ~60 modules on every run, which no user meets: pip
    compiles an installed wheel, and an editable install caches on its first run); reports
    in `directory`."""
    import os

    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RC_", "NGROK_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env["RC_REPORTS_DIR"] = str(directory / "reports")
    return env
