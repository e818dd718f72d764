"""The log of the command running in this process: where the tool's own errors go, each with
its traceback, redacted. The terminal gets one line naming the log, never the traceback.

    use(path, secrets)          this command's log: `run` writes <reports>/runs/<run-id>/
                                redcloud-check.log (LOG_NAME), the probe <reports>/probe.log
                                (PROBE_LOG); `secrets` (called when an error is written) adds
                                the command's own secrets to those of the environment
    begin(command)              a new command: until it calls `use`, its log is a file in the
                                temp directory, named for the command, the time and the pid
    internal_error(where, error, secrets=())
                                append `error` with its traceback (for a HandlerError, each
                                error it collected) and return what
                                the terminal shows: "<Type>: <message> (traceback in <path>)"
    path()                      where the log is (it is created by the first error written)
    ended_by(command, error)    the exit code of a command that `error` ended (mapped by type,
                                core.exit_codes.for_error), with its one line on stderr; for
                                a bug of ours (7) the line names the log holding the traceback

Every caller records an internal error here: the CLI's top-level handler (cli.main), the
report plugin's guard, and the end of a command whose servers collected handler errors.
Secrets never reach the file: the whole entry is redacted (core.redaction) before it is
written, with the secrets of the environment, of .env and the ones the command knows.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from redcloud_check.core.log_names import LOG_NAME, PROBE_LOG

if TYPE_CHECKING:  # the rest loads when an error is written: every command imports this
    from redcloud_check.core.secret_index import Secrets

__all__ = ["BUG", "LOG_NAME", "PROBE_LOG", "begin", "describe", "ended_by", "internal_error",
           "path", "use"]

BUG = "internal error (a bug in redcloud-check, not the API)"
SHOWN_CHARS = 300  # of an error's message on the terminal's one line

_lock = threading.Lock()


class _Log:
    command = "command"
    path: Path | None = None  # None: the temp file, chosen on first use
    secrets: Callable[[], Secrets] | None = None


_current = _Log()


def begin(command: str) -> None:
    """A new command (`probe`, ...) starts in this process: its errors go to a temp file
    until it calls `use`."""
    with _lock:
        _current.command, _current.path, _current.secrets = command, None, None


def use(log: Path | None, secrets: Callable[[], Secrets] | None = None) -> None:
    """This command's errors go to `log` (None: a file in the temp directory); `secrets()`
    names the ones to redact besides the environment's."""
    with _lock:
        _current.path, _current.secrets = log, secrets


def path() -> Path:
    """The log's path (chosen now when the command named none)."""
    with _lock:
        if _current.path is None:
            import tempfile

            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            name = f"redcloud-check-{_current.command}-{stamp}-{os.getpid()}.log"
            _current.path = Path(tempfile.gettempdir()) / name
        return _current.path


def describe(error: BaseException) -> str:
    """`Type: message` on one line, shortened: what the terminal shows of an error."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 3] + "..."


def _traceback(error: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def _entry(where: str, error: BaseException) -> str:
    from redcloud_check.core.errors import HandlerError
    from redcloud_check.core.timefmt import iso_utc

    lines = [f"== {iso_utc()} {BUG} in {where} (pid {os.getpid()})"]
    if isinstance(error, HandlerError):  # what the server collected, each with its traceback
        lines.append(str(error))
        for index, collected in enumerate(error.errors, 1):
            lines.append(f"-- error {index} of {len(error.errors)} in the {error.server}:")
            lines.append(_traceback(collected).rstrip("\n"))
    else:
        lines.append(_traceback(error).rstrip("\n"))
    return "\n".join(lines) + "\n\n"


def _all_secrets(extra: Secrets) -> dict[str, str]:
    from redcloud_check.core.config import SECRET_ENV, env_secrets, read_dotenv
    from redcloud_check.core.errors import ConfigError

    named = dict.fromkeys(env_secrets(), "secret")
    try:
        dotenv = read_dotenv(Path(".env"))
    except (OSError, UnicodeDecodeError, ConfigError):  # unreadable: it configured nothing
        dotenv = {}
    named.update(dict.fromkeys((v for k, v in dotenv.items() if k in SECRET_ENV and v),
                               "secret"))
    for source in (extra, _current.secrets() if _current.secrets is not None else ()):
        if isinstance(source, Mapping):
            named.update(source)
        else:
            named.update(dict.fromkeys((s for s in source if s), "secret"))
    return named


def internal_error(where: str, error: BaseException, secrets: Secrets = ()) -> str:
    """Write `error` with its traceback to the log (redacted), under `where` (what raised
    it); returns what the terminal shows of it, redacted too:
    "<Type>: <message> (traceback in <path>)"."""
    from redcloud_check.core.redaction import redact

    named = _all_secrets(secrets)
    log = path()
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        text = redact(_entry(where, error), named)
        with _lock:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(text)
        where_logged = f"traceback in {log}"
    except OSError as problem:
        where_logged = f"its traceback could not be written to {log}: " \
                       f"{problem.strerror or problem}"
    return redact(f"{describe(error)} ({where_logged})", named)


def ended_by(command: str, error: BaseException) -> int:
    """The exit code of `command`, which `error` ended, with one line on stderr: for a bug
    of ours (7), naming the log that now holds its traceback."""
    import sys

    from redcloud_check.core.exit_codes import ExitCode, for_error

    code = for_error(error)
    if code == ExitCode.INTERNAL_ERROR:
        said = f"{BUG}: {internal_error(f'redcloud-check {command}', error)}"
    elif isinstance(error, KeyboardInterrupt):
        said = "interrupted"
    else:  # the tool's own known failure (core.errors): its message says what to do
        from redcloud_check.core.redaction import redact

        said = redact(describe(error), _all_secrets(()))
    print(f"redcloud-check {command}: {said}", file=sys.stderr, flush=True)
    return int(code)
