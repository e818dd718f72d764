"""The command's log (core.run_log): the tracebacks of the tool's own errors, redacted, and
the one line on the terminal that names it; the command line's one handler (cli._main)."""

from __future__ import annotations

import json
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from redcloud_check.cli import main
from redcloud_check.core import run_log
from redcloud_check.core.errors import HandlerError
from redcloud_check.core.exit_codes import ExitCode

from .leaks import assert_no_secret

SECRET = "s3cr3t-value-for-the-log"


@pytest.fixture(autouse=True)
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The temp directory of this test: where a command with no log of its own writes."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no .env of the repo's
    for name in ("RC_CLIENT_SECRET", "RC_WEBHOOK_SECRET", "NGROK_AUTHTOKEN"):
        monkeypatch.delenv(name, raising=False)
    run_log.begin("test")
    yield tmp_path
    run_log.begin("test")


def raised(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as caught:  # the error, now with the traceback of its raise
        return caught


def test_an_error_goes_to_the_log_with_its_traceback_redacted(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setenv("RC_CLIENT_SECRET", SECRET)
    log = tmp_path / "reports" / "probe.log"
    run_log.use(log, lambda: ["token-of-the-run-123456"])
    line = run_log.internal_error("the probe", raised(KeyError(f"{SECRET} token-of-the-run-"
                                                               "123456")))
    assert line.startswith("KeyError: ") and line.endswith(f"(traceback in {log})")
    text = log.read_text(encoding="utf-8")
    assert "internal error (a bug in redcloud-check, not the API) in the probe" in text
    assert "Traceback (most recent call last)" in text and "in raised" in text
    assert_no_secret(text + line, [SECRET, "token-of-the-run-123456"], "the log")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    run_log.internal_error("again", raised(ValueError("second")))
    assert log.read_text(encoding="utf-8").startswith(text), "appended, never overwritten"


def test_a_handler_error_logs_every_collected_error_with_its_traceback(
        tmp_path: Path) -> None:
    error = HandlerError("simulator", [raised(KeyError("label")),
                                       raised(ZeroDivisionError("in this process"))])
    run_log.internal_error("simulator", error)
    text = run_log.path().read_text(encoding="utf-8")
    assert "-- error 1 of 2 in the simulator:" in text and "-- error 2 of 2" in text
    assert "KeyError: 'label'" in text and text.count("Traceback (most recent call last)") == 2
    assert "ZeroDivisionError: in this process" in text
    assert run_log.path().parent == tmp_path and "redcloud-check-test-" in run_log.path().name


def test_a_log_that_cannot_be_written_is_said_on_the_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    run_log.use(blocker / "probe.log")
    line = run_log.internal_error("probe", raised(KeyError("k")))
    assert line.startswith("KeyError: 'k' (its traceback could not be written to ")


def test_a_bug_that_ends_a_command_is_one_line_naming_the_log(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from redcloud_check.reporting import run_diff

    monkeypatch.setenv("RC_CLIENT_SECRET", SECRET)

    def broken(*_: object) -> None:
        raise TypeError(f"a bug that quotes {SECRET}")

    monkeypatch.setattr(run_diff, "compare", broken)
    run = {"run": {"run_id": "r"}, "checks": []}
    for name in ("old.json", "new.json"):
        (tmp_path / name).write_text(json.dumps(run), encoding="utf-8")
    assert main(["diff", str(tmp_path / "old.json"), str(tmp_path / "new.json")]) == \
        ExitCode.INTERNAL_ERROR
    err = capsys.readouterr().err
    [line] = err.splitlines()
    log = run_log.path()
    assert line == ("redcloud-check diff: internal error (a bug in redcloud-check, not the "
                    f"API): TypeError: a bug that quotes [redacted:secret] (traceback in {log})")
    assert log.parent == tmp_path and log.name.startswith("redcloud-check-diff-")
    text = log.read_text(encoding="utf-8")
    assert "in broken" in text and "Traceback" not in err
    assert_no_secret(text, [SECRET], "the log")


def test_a_known_failure_or_ctrl_c_is_its_code_without_a_log(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from redcloud_check.cli import diff
    from redcloud_check.core.errors import TargetUnreachable

    for error, code, said in (
            (KeyboardInterrupt(), ExitCode.INTERRUPTED_OR_DEGRADED, "interrupted"),
            (TargetUnreachable("http://127.0.0.1:9", "refused", "no answer"),
             ExitCode.UNREACHABLE, "TargetUnreachable: target unreachable (refused)")):
        def ended(_: object, error: BaseException = error) -> int:
            raise error

        monkeypatch.setattr(diff, "run", ended)
        assert main(["diff", "a", "b"]) == code
        assert capsys.readouterr().err.startswith(f"redcloud-check diff: {said}")
    assert not run_log.path().exists()
