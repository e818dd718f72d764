"""The project as a new user meets it, on every Python we declare (>= 3.10).

For each interpreter: the wheel built from this checkout, installed alone in a fresh venv,
runs `redcloud-check run` in an empty folder (the conformance suite against the embedded
simulator) and must exit 0; with --fast-tests, a second fresh venv with the project
installed editable with its dev extras runs the fast tests (`-m "not slow"`). A step that
fails, an install included, fails the whole check, loudly: nothing is skipped.

    python tests/fresh_install.py                  # this interpreter
    python tests/fresh_install.py --all --fast-tests   # every CPython 3.10+ found (CI)
    python tests/fresh_install.py /usr/bin/python3.12  # the interpreters named

--all finds the CPythons under pyenv ($PYENV_ROOT/versions) and python3 on PATH and in
/usr/bin and /usr/local/bin, and fails when a version pyproject.toml declares (its
"Programming Language :: Python :: 3.x" classifiers) is not among them. Standard library
only: it runs under any of them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = (REPO / "pyproject.toml").read_text(encoding="utf-8")
_FLOOR = re.search(r'^requires-python = ">=(\d+)\.(\d+)"', PYPROJECT, re.M)
assert _FLOOR is not None, "pyproject.toml: requires-python is not a >=X.Y floor"
MINIMUM = (int(_FLOOR[1]), int(_FLOOR[2]))  # requires-python's floor
INSTALL_TIMEOUT_S = 900
RUN_TIMEOUT_S = 300
TESTS_TIMEOUT_S = 1800
# what a user's shell would not have, or that would point the venvs at this process's
LEAKY = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTEST_ADDOPTS", "NGROK_AUTHTOKEN")


@dataclass(frozen=True, slots=True)
class Interpreter:
    path: str  # its own sys.executable, resolved
    version: tuple[int, int, int]

    @property
    def label(self) -> str:
        return f"Python {'.'.join(map(str, self.version))} ({self.path})"


class StepFailed(Exception):
    """A step of the check failed; the message says which and shows its output's end."""


def user_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith("RC_") and k not in LEAKY}


def describe(python: str) -> Interpreter | None:
    """The CPython at `python`, None when it is not one (or does not start)."""
    code = ("import json, platform, sys; print(json.dumps([platform.python_implementation(),"
            " sys.executable, list(sys.version_info[:3])]))")
    try:
        done = subprocess.run([python, "-c", code], capture_output=True, text=True,
                              timeout=60, env=user_env(), stdin=subprocess.DEVNULL)
    except OSError:
        return None
    if done.returncode != 0:
        return None
    implementation, executable, version = json.loads(done.stdout)
    if implementation != "CPython":
        return None
    return Interpreter(str(Path(executable).resolve()), (version[0], version[1], version[2]))


def candidates() -> list[str]:
    """Every python3 this machine has where --all looks."""
    found: list[str] = []
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    if pyenv.is_dir():
        found += [str(p) for p in sorted(pyenv.glob("*/bin/python3"))]
    on_path = shutil.which("python3")
    if on_path:
        found.append(on_path)
    found += [p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if Path(p).exists()]
    return found


def declared_versions() -> set[tuple[int, int]]:
    """The Python versions pyproject.toml's classifiers declare, e.g. {(3, 10), (3, 11)}."""
    found = re.findall(r'"Programming Language :: Python :: (\d+)\.(\d+)"', PYPROJECT)
    return {(int(major), int(minor)) for major, minor in found}


def interpreters(pythons: Iterable[str]) -> list[Interpreter]:
    """The distinct CPythons >= 3.10 among `pythons`, oldest first."""
    seen: dict[str, Interpreter] = {}
    for python in pythons:
        interpreter = describe(python)
        if interpreter is not None and interpreter.version[:2] >= MINIMUM:
            seen.setdefault(interpreter.path, interpreter)
    return sorted(seen.values(), key=lambda i: (i.version, i.path))


def step(what: str, argv: Sequence[str], *, cwd: Path, timeout: float) -> str:
    """Run one step; StepFailed (with the output's end) unless it exits 0."""
    try:
        done = subprocess.run(list(argv), cwd=cwd, env=user_env(), capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as expired:
        raise StepFailed(f"{what}: no result within {timeout:g} s") from expired
    output = done.stdout + done.stderr
    if done.returncode != 0:
        tail = "\n".join(output.splitlines()[-40:])
        raise StepFailed(f"{what}: exit {done.returncode}\n{tail}")
    return output


def build_wheel(dist: Path) -> Path:
    """The wheel of this checkout (pure Python: one for every version)."""
    step("build the wheel", [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                             "-w", str(dist), str(REPO)], cwd=REPO, timeout=INSTALL_TIMEOUT_S)
    wheels = sorted(dist.glob("redcloud_check-*.whl"))
    if len(wheels) != 1:
        raise StepFailed(f"build the wheel: expected one wheel in {dist}, found {wheels}")
    return wheels[0]


def fresh_venv(interpreter: Interpreter, where: Path, *requirements: str) -> Path:
    """A new venv at `where` holding `requirements`; returns its bin directory."""
    step("create a venv", [interpreter.path, "-m", "venv", str(where)], cwd=where.parent,
         timeout=INSTALL_TIMEOUT_S)
    bindir = where / "bin"
    step(f"pip install {' '.join(requirements)}",
         [str(bindir / "python"), "-m", "pip", "install", "--quiet",
          "--disable-pip-version-check", *requirements], cwd=where.parent,
         timeout=INSTALL_TIMEOUT_S)
    return bindir


def check_wheel(interpreter: Interpreter, wheel: Path, work: Path) -> str:
    """`redcloud-check run` from the wheel alone, in an empty folder: exit 0."""
    bindir = fresh_venv(interpreter, work / "wheel-venv", str(wheel))
    empty = work / "empty"
    empty.mkdir()
    output = step("redcloud-check run in an empty folder", [str(bindir / "redcloud-check"),
                                                           "run"], cwd=empty,
                  timeout=RUN_TIMEOUT_S)
    if not (empty / "reports" / "escalation.json").is_file():
        raise StepFailed("redcloud-check run in an empty folder: exit 0 but no "
                         "reports/escalation.json")
    return summary_line(output)


def check_fast_tests(interpreter: Interpreter, work: Path) -> str:
    """The fast tests, in a fresh venv holding the project (editable) and its dev extras."""
    bindir = fresh_venv(interpreter, work / "dev-venv", "-e", f"{REPO}[dev]")
    output = step("the fast tests (pytest tests -m 'not slow')",
                  [str(bindir / "python"), "-m", "pytest", "tests", "-m", "not slow", "-q",
                   ], cwd=REPO, timeout=TESTS_TIMEOUT_S)
    return summary_line(output)


def summary_line(output: str) -> str:
    """pytest's closing line (e.g. "58 passed in 0.62s"), without its '=' padding."""
    lines = [line.strip("= ") for line in output.splitlines() if " in " in line
             and ("passed" in line or "failed" in line)]
    return lines[-1] if lines else "(no pytest summary)"


def check(interpreter: Interpreter, wheel: Path, fast_tests: bool, root: Path) -> list[str]:
    """The interpreter's checks; the failures' messages (none: it passed)."""
    failures = []
    work = root / "py{}.{}.{}".format(*interpreter.version)
    work.mkdir()
    checks = [("wheel", lambda: check_wheel(interpreter, wheel, work))]
    if fast_tests:
        checks.append(("fast tests", lambda: check_fast_tests(interpreter, work)))
    for name, run in checks:
        started = time.monotonic()
        try:
            result = run()
        except StepFailed as failed:
            failures.append(f"{interpreter.label}: {name}: {failed}")
            result = "FAILED"
        print(f"  {name}: {result.splitlines()[0]} ({time.monotonic() - started:.0f} s)",
              flush=True)
    return failures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pythons", nargs="*", help="interpreters to check (default: this one)")
    parser.add_argument("--all", action="store_true",
                        help="every CPython 3.10+ under pyenv and python3 on PATH or in /usr")
    parser.add_argument("--fast-tests", action="store_true",
                        help="also run the fast tests in a fresh dev venv on each")
    parser.add_argument("--whole-suite-ran-on", action="append", default=[], metavar="PYTHON",
                        help="no fast tests on this interpreter: the whole suite ran on it")
    args = parser.parse_args(argv)
    pythons = [*args.pythons, *(candidates() if args.all else ())] or [sys.executable]
    found = interpreters(pythons)
    if not found:
        print(f"fresh install: no CPython {MINIMUM[0]}.{MINIMUM[1]}+ among {pythons}")
        return 1
    missing = sorted(declared_versions() - {i.version[:2] for i in found}) if args.all else []
    if missing:
        print("fresh install: no interpreter on this machine for the declared "
              + ", ".join(f"Python {major}.{minor}" for major, minor in missing)
              + f" (looked at {', '.join(dict.fromkeys(pythons))})")
        return 1
    tested = {i.path for i in interpreters(args.whole_suite_ran_on)}
    failures: list[str] = []
    failed = 0
    with tempfile.TemporaryDirectory(prefix="redcloud-fresh-") as tmp:
        root = Path(tmp)
        try:
            wheel = build_wheel(root / "dist")
        except StepFailed as failed:
            print(f"fresh install: {failed}")
            return 1
        print(f"fresh install of {wheel.name} on {len(found)} interpreter(s)", flush=True)
        for interpreter in found:
            print(interpreter.label, flush=True)
            fast_tests = args.fast_tests and interpreter.path not in tested
            if args.fast_tests and not fast_tests:
                print("  fast tests: not again (the whole suite ran on it)")
            mine = check(interpreter, wheel, fast_tests, root)
            failures += mine
            failed += bool(mine)
    for failure in failures:
        print(f"\nFAILED {failure}")
    print(f"fresh install: {len(found) - failed} of {len(found)} interpreter(s) passed")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
