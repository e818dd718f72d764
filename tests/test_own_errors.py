"""A bug of ours in a real run is the tool's, never the API's (reporting.own_errors).

A bug is planted in the embedded simulator's webhook delivery (tests/plugins/break_delivery):
no lifecycle event can reach the listener. The run must end as an internal error (7) with
the traceback in its log, and no bundle (nor any artifact) may say the events did not
arrive: the simulator serves in a thread of the run, whose errors the check sees at once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from redcloud_check.core.config import CANONICAL
from redcloud_check.core.exit_codes import ExitCode

from .leaks import assert_no_secret
from .plugins.break_delivery import PLANTED
from .suite_runner import REPO, clean_env, run_suite

LINE = re.compile(r"redcloud-check internal error \(a bug in redcloud-check, not the API\): "
                  r"simulator: HandlerError: \d error\(s\) in the simulator while serving: "
                  r"KeyError: .*\(traceback in (?P<log>\S+redcloud-check\.log)\)")
API_BLAMED = "did not arrive"  # the gate's title when the API sent no lifecycle event
def assert_ours_not_the_apis(reports: Path, output: str) -> str:
    """The run's line names its log; the log holds the planted bug's traceback; no artifact
    blames the API. Returns the log's text."""
    found = LINE.search(output)
    assert found, output[-3000:]
    log = Path(found["log"])
    assert log.parent.parent == reports / "runs", "the log is in the run's own folder"
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text and "in _deliver" in text
    assert PLANTED in text
    assert_no_secret(text, [CANONICAL["client_secret"], CANONICAL["webhook_secret"]], "the log")
    doc = json.loads((reports / "escalation.json").read_text(encoding="utf-8"))
    assert doc["bundles"], "the failing gate still has its bundle"
    for bundle in doc["bundles"]:
        assert bundle["kind"] == "suite_error", bundle["title"]
        assert bundle["diagnosis"]["lead"]["cause"] == "tool-error"
        assert API_BLAMED not in bundle["title"] + bundle["actual"]
    return text


@pytest.mark.slow
def test_a_delivery_bug_in_the_in_thread_simulator_is_ours(tmp_path: Path) -> None:
    run = run_suite(tmp_path, "-p", "tests.plugins.break_delivery", RC_WEBHOOK_TIMEOUT="2")
    assert run.returncode == ExitCode.INTERNAL_ERROR, run.stdout[-3000:]
    assert_ours_not_the_apis(tmp_path, run.stdout + run.stderr)
    gate = next(c for c in run.cases if c.name.endswith("test_lifecycle_events_arrive_for_"
                                                        "every_accepted_message"))
    assert gate.outcome == "failed", gate
    assert gate.message.startswith("RC-WEBHOOKS-02 HandlerError"), gate
    for name in ("junit.xml", "escalation.json", "escalation.md", "report.html"):
        assert API_BLAMED not in (tmp_path / name).read_text(encoding="utf-8"), name
    assert API_BLAMED not in run.stdout


@pytest.mark.slow
def test_a_delivery_bug_under_the_probes_canary_is_ours(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    from redcloud_check.cli import main
    from redcloud_check.simulator import webhooks

    from .plugins.break_delivery import broken

    for name in [n for n in os.environ if n.startswith(("RC_", "NGROK_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("RC_WEBHOOK_TIMEOUT", "1")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(webhooks, "event_body", broken)  # the bug the runs above plant
    code = main(["probe", "--canary", "--json", "--reports-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == ExitCode.INTERNAL_ERROR, out + err
    log = tmp_path / "probe.log"
    assert err.splitlines() == [
        "redcloud-check probe: internal error (a bug in redcloud-check, not the API): "
        "HandlerError: 1 error(s) in the simulator while serving: KeyError: "
        f"\"{PLANTED}\" (traceback in {log})"]
    assert "in _deliver" in log.read_text(encoding="utf-8")
    assert out == "" and not (tmp_path / "probe.json").exists(), \
        "no verdict on the API's health"


LISTEN_WITH_A_BUG = [sys.executable, "-c",
                     "import sys\n"
                     "from redcloud_check.cli import listen\n"
                     "def broken(self, delivery): raise KeyError('printer bug')\n"
                     "listen.Printer._line = broken\n"
                     "from redcloud_check.cli import main; sys.exit(main(sys.argv[1:]))"]


def test_a_bug_in_listen_ends_it_with_7_and_one_line(tmp_path: Path) -> None:
    from .webhook_support import SECRET, event, post_signed

    proc = subprocess.Popen([*LISTEN_WITH_A_BUG, "listen", "--port", "0", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env=clean_env(RC_WEBHOOK_SECRET=SECRET, TMPDIR=str(tmp_path)))
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    for sequence in (1, 2):  # the first delivery's bug stops no other
        payload = event("msg_bug", "message.queued", sequence)
        assert post_signed(ready["url"], payload).status_code == 200
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == ExitCode.INTERNAL_ERROR, err
    assert json.loads(out.splitlines()[-1])["received"] == 2
    [line] = err.splitlines()
    [log] = tmp_path.glob("redcloud-check-listen-*.log")
    assert line == ("redcloud-check listen: internal error (a bug in redcloud-check, not the "
                    "API): HandlerError: 2 error(s) in the listen printer while serving: "
                    f"KeyError: 'printer bug'; KeyError: 'printer bug' (traceback in {log})")
    assert "in broken" in log.read_text(encoding="utf-8")
    assert SECRET not in log.read_text(encoding="utf-8") + out + err
