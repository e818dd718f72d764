"""The embedded simulator in a process of its own, started before pytest is imported.

`redcloud-check run` calls `prestart()` before it imports pytest: when the run will use the
embedded simulator and a core is free for it (core.cpu_pressure), a child (`python -m
redcloud_check.simulator.child`) starts the same `Simulator` that `redcloud-check simulate`
serves, so its start-up (interpreter, uvicorn, starlette, httpx, the seed), its request
handling and its webhook lifecycles run on another core while pytest starts here, and never
take this process's GIL. The plugin's
`embedded_simulator()` uses that child when its `SimSpec` equals the run's settings, and
otherwise starts a `Simulator` in a thread of this process, as plain `pytest` runs do.

The protocol, on private pipes, one JSON object a line (secrets never reach a terminal):

    parent -> child  stdin: closing it stops the child (so does the parent's death: EOF)
    child -> parent  stdout: {"event": "ready", "base_url", "webhook_secrets"} or
                     {"event": "failed", "type", "message"}; once stopped,
                     {"event": "stopped", "reason", "errors": [{"type", "message", ...}]}
    child stderr     copied line by line to this process's sys.stderr, where pytest
                     captures it as it captured the in-thread simulator's; the last lines
                     name the cause when the child dies before it listens

Errors of ours that the child collected while serving come back at `stop()` as
`handler_errors`, raised by `check_handler_errors()` as `HandlerError`, as the in-thread
simulator's are (core.errors.CollectsHandlerErrors).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from redcloud_check.core.errors import CollectsHandlerErrors

if TYPE_CHECKING:
    from redcloud_check.simulator.server import Simulator

__all__ = ["ChildError", "SimSpec", "SimulatorProcess", "embedded_simulator", "planned_spec",
           "prestart", "release_prestarted"]

CHILD_MODULE = "redcloud_check.simulator.child"
# 2 ms between a message's events (20 by default): in order, without 40 ms of pacing.
EMBEDDED_LIFECYCLE_DELAY_MS = 2
START_TIMEOUT_S = 10.0  # as HTTPServerBase.start's
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class SimSpec:
    """Everything the embedded simulator is built from: equal specs, equal simulators."""

    faults: frozenset[str] = frozenset()
    variants: frozenset[str] = frozenset()
    lifecycle_delay_ms: int = EMBEDDED_LIFECYCLE_DELAY_MS

    def kwargs(self) -> dict[str, Any]:
        """`Simulator` keyword arguments."""
        return {"faults": sorted(self.faults), "variants": sorted(self.variants),
                "lifecycle_delay_ms": self.lifecycle_delay_ms}

    def to_json(self) -> str:
        return json.dumps(self.kwargs())

    @classmethod
    def from_json(cls, text: str) -> SimSpec:
        data = json.loads(text)
        return cls(frozenset(data["faults"]), frozenset(data["variants"]),
                   int(data["lifecycle_delay_ms"]))


def embedded_spec(faults: Iterable[str], variants: Iterable[str]) -> SimSpec:
    """The spec of a run's embedded simulator (RC_SIM_FAULTS, RC_SIM_VARIANTS)."""
    return SimSpec(frozenset(faults), frozenset(variants))


class ChildError(Exception):
    """An error raised in the simulator's process, rebuilt here under its own type name
    (`errors[i]` of a HandlerError reads "KeyError: ...", as an in-thread one does)."""

    child_traceback = ""


def child_error(type_name: str, message: str, traceback: str = "") -> ChildError:
    kind = type(type_name if type_name.isidentifier() else "ChildError", (ChildError,),
                {"__module__": CHILD_MODULE})
    error = kind(message)
    error.child_traceback = traceback
    return error


def _child_env() -> dict[str, str]:
    """Our environment; from a source checkout, with its root first on PYTHONPATH, so that
    the child runs the code this process runs (an installed package is found as it is)."""
    import site

    env = dict(os.environ)
    root = Path(__file__).resolve().parents[2]
    installed = [*site.getsitepackages(), site.getusersitepackages()]
    if root not in {Path(p).resolve() for p in installed}:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH"))
                                            if p)
    return env


class SimulatorProcess(CollectsHandlerErrors):
    """A simulator child: `spawn()` at once, `wait_ready()` when the run needs its URL,
    `stop()` (idempotent) at the end; what it served is in the child, not here."""

    name = "simulator"

    def __init__(self, spec: SimSpec, proc: subprocess.Popen[bytes]) -> None:
        self.spec = spec
        self.handler_errors: list[BaseException] = []
        self._proc = proc
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._stderr_tail: deque[str] = deque(maxlen=20)
        self._ready: dict[str, Any] | None = None
        self._stopped = False
        self._eof = False
        assert proc.stdout is not None and proc.stderr is not None
        self._readers = [threading.Thread(target=target, args=(pipe,), daemon=True,
                                          name=f"simulator-child:{proc.pid}:{what}")
                         for target, pipe, what in ((self._read_events, proc.stdout, "events"),
                                                    (self._copy_stderr, proc.stderr, "stderr"))]
        for reader in self._readers:
            reader.start()

    @classmethod
    def spawn(cls, spec: SimSpec, command: Sequence[str] | None = None) -> SimulatorProcess:
        """Start the child (`command` + the spec; by default this Python running
        CHILD_MODULE) and return at once, without waiting for it to listen."""
        argv = [*(command or (sys.executable, "-m", CHILD_MODULE)), spec.to_json()]
        # Its own process group: the terminal's Ctrl-C interrupts the run, whose teardown
        # still talks to the simulator; the child stops when the run closes its stdin.
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=_child_env(),
                                process_group=0 if os.name == "posix" else None)
        return cls(spec, proc)

    # -- the pipes' readers (daemon threads, blocked on a read, never polling) --------------

    def _read_events(self, pipe: IO[bytes]) -> None:
        with pipe:
            for line in pipe:
                try:
                    self._events.put(json.loads(line))
                except ValueError:
                    self._events.put({"event": "garbled", "type": "ValueError",
                                      "message": "an unreadable line on the simulator's pipe"})
        self._events.put(None)  # EOF: the child closed its end (it exited)

    def _copy_stderr(self, pipe: IO[bytes]) -> None:
        with pipe:
            for raw in pipe:
                text = raw.decode("utf-8", "replace")
                self._stderr_tail.append(text.rstrip())
                try:
                    sys.stderr.write(text)
                    sys.stderr.flush()
                except (OSError, ValueError):  # our stderr is closed: the tail keeps it
                    continue

    def _cause(self) -> str:
        """Why the child ended, from its exit code and the last line it wrote to stderr."""
        for reader in self._readers:  # the child exited: the pipes reach EOF at once
            reader.join(1.0)
        last = next((line for line in reversed(self._stderr_tail) if line.strip()), "")
        code = self._proc.poll()
        how = f"exited with code {code}" if code is not None else "is still running"
        return f"the simulator process {how}" + (f": {last.strip()}" if last else "")

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """The child's exit code once it was reaped (by `stop()`), else None."""
        return self._proc.returncode

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> SimulatorProcess:
        """Block until the child listens (an event on its pipe); RuntimeError, as a failing
        `Simulator.start()` raises, when it failed, died or did not answer in `timeout`."""
        if self._ready is not None:
            return self
        event = self._next_event(timeout) or {
            "event": "failed", "type": "TimeoutError",
            "message": f"no answer from the simulator process within {timeout:g} s"}
        if event.get("event") == "ready":
            self._ready = event
            return self
        self.discard()
        if event.get("event") == "eof":
            raise RuntimeError(f"the simulator did not start: {self._cause()}")
        if event.get("type") == "RuntimeError":  # Simulator.start()'s own message
            raise RuntimeError(str(event.get("message")))
        raise RuntimeError(f"the simulator did not start: {event.get('type')}: "
                           f"{event.get('message')}")

    @property
    def base_url(self) -> str:
        if self._ready is None:
            raise RuntimeError("the simulator is not running")
        return str(self._ready["base_url"])

    def webhook_secret(self, client_id: str) -> str | None:
        """The webhook signing secret the client had when the child started (None: no
        such client), as `Simulator.webhook_secret` answers."""
        secrets: Mapping[str, str | None] = (self._ready or {}).get("webhook_secrets", {})
        return secrets.get(client_id)

    def request_stop(self) -> None:
        """Close the child's stdin: it stops serving and reports; returns at once."""
        stdin = self._proc.stdin
        if stdin is not None and not stdin.closed:
            with contextlib.suppress(BrokenPipeError):  # gone already: stop() says how
                stdin.close()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop the child and wait for it (up to `timeout`, then kill it); its errors while
        serving, or how it died, land in `handler_errors`. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self.request_stop()
        deadline = time.monotonic() + timeout
        report = self._stop_report(deadline)
        if not self._exited(max(0.0, deadline - time.monotonic())):
            self._proc.kill()
            self._proc.wait()
            self.handler_errors.append(child_error(
                "TimeoutError", f"the simulator process did not stop within {timeout:g} s"))
            return
        for reader in self._readers:  # the child exited: its pipes are at EOF, or about to be
            reader.join(1.0)
        if report is None:
            self.handler_errors.append(child_error("ChildProcessError", self._cause()))
            return
        self.handler_errors.extend(child_error(str(e.get("type")), str(e.get("message")),
                                               str(e.get("traceback", "")))
                                   for e in report.get("errors", ()))
        if report.get("reason") != "stdin closed":  # a signal stopped it under the run
            self.handler_errors.append(child_error(
                "ChildProcessError", f"the simulator process was stopped by "
                                     f"{report.get('reason')} during the run"))

    def _exited(self, timeout: float) -> bool:
        """Wait for the child's exit (an event on its pidfd: no polling) and reap it."""
        try:
            pidfd = os.pidfd_open(self._proc.pid)
        except (AttributeError, OSError):  # not Linux, or reaped already
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        try:
            if not select.select([pidfd], [], [], timeout)[0]:
                return False
        finally:
            os.close(pidfd)
        self._proc.wait()
        return True

    def _next_event(self, timeout: float) -> dict[str, Any] | None:
        """The child's next event; {"event": "eof"} once it closed the pipe (then always);
        None when `timeout` ran out first."""
        if self._eof:
            return {"event": "eof"}
        try:
            event = self._events.get(timeout=timeout)
        except queue.Empty:
            return None
        self._eof = event is None
        return event or {"event": "eof"}

    def _stop_report(self, deadline: float) -> dict[str, Any] | None:
        """The child's "stopped" event, None when it ended (or `deadline` came) without."""
        while (event := self._next_event(max(0.0, deadline - time.monotonic()))) is not None:
            if event["event"] in ("stopped", "eof"):
                return event if event["event"] == "stopped" else None
        return None

    def discard(self) -> None:
        """Stop a child the run will not use; what it did is of no interest."""
        self.stop()
        self.handler_errors.clear()


# -- the prestarted child: spawned by `redcloud-check run`, taken by the plugin -------------

_prestarted: list[SimulatorProcess] = []


def _option_value(tokens: Sequence[str], flag: str) -> str | None:
    """The last value given to `flag` (`--flag V` or `--flag=V`), as argparse keeps it."""
    found = None
    for index, token in enumerate(tokens):
        if token == flag and index + 1 < len(tokens):
            found = tokens[index + 1]
        elif token.startswith(flag + "="):
            found = token.partition("=")[2]
    return found


def planned_spec(pytest_args: Sequence[str], environ: Mapping[str, str] | None = None,
                 dotenv: Path | None = None) -> SimSpec | None:
    """The embedded simulator a run with these pytest arguments will want, None when it
    targets RC_BASE_URL; read from the same sources as `load_settings`, unvalidated. The
    plugin compares it with the real settings, so a wrong guess costs time, never a result."""
    from redcloud_check.core.config import OPTIONS_BY_ATTR, given_value, split_names

    env = os.environ if environ is None else environ
    tokens = list(pytest_args)
    if env.get("PYTEST_ADDOPTS"):  # before the command line's: its values lose
        import shlex

        tokens = [*shlex.split(env["PYTEST_ADDOPTS"]), *tokens]
    dotenv = Path.cwd() / ".env" if dotenv is None else dotenv
    attrs = ("base_url", "sim_faults", "sim_variants")
    options = {a: _option_value(tokens, OPTIONS_BY_ATTR[a].flag) for a in attrs}
    given = {a: given_value(a, options, env, dotenv) for a in attrs}
    if given["base_url"] is not None:
        return None
    return embedded_spec(split_names(given["sim_faults"]), split_names(given["sim_variants"]))


def prestart(pytest_args: Sequence[str]) -> SimulatorProcess | None:
    """Spawn the run's simulator child when the run will want one (see `planned_spec`) and
    a core is free to start it on (core.cpu_pressure)."""
    from redcloud_check.core.cpu_pressure import spare_core

    spec = planned_spec(pytest_args)
    if spec is None or not spare_core():
        return None
    child = SimulatorProcess.spawn(spec)
    _prestarted.append(child)
    return child


def release_prestarted() -> None:
    """Stop a prestarted child the run did not take (e.g. a configuration error)."""
    while _prestarted:
        _prestarted.pop().discard()


def embedded_simulator(faults: Iterable[str], variants: Iterable[str]) -> Simulator | \
        SimulatorProcess:
    """The run's embedded simulator, serving: the prestarted child when it was built for
    these settings, else a `Simulator` in a thread of this process (plain `pytest`)."""
    spec = embedded_spec(faults, variants)
    child = _prestarted.pop() if _prestarted else None
    if child is not None:
        if child.spec != spec:
            child.discard()
        else:
            try:
                return child.wait_ready()
            except BaseException:  # e.g. Ctrl-C while it starts: nobody else will stop it
                child.discard()
                raise
    from redcloud_check.simulator.server import Simulator

    return Simulator(**spec.kwargs()).start()
