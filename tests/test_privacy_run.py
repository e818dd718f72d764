"""The whole suite, as a user runs it: no recipient's full number in any file under the
reports folder nor in the terminal (unless RC_SHARE_RECIPIENTS=1), and one W3C trace per run
on every request (RC_TRACEPARENT=0: none)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from redcloud_check.simulator import Simulator

from .leaks import run_texts
from .recording_proxy import header, recording_proxy
from .remote_env import REMOTE
from .suite_runner import SuiteRun, run_suite

PERSON = "+14155550123"  # RC_TO: a person's mobile
WRONG = "+15550009999"  # the number event-wrong-recipient puts in data.to
OWN = "+15551234567"  # num_abc123's number, the simulator's default RC_TO
# The spec's grammar, restated (the test must not trust the code).
W3C = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01")


def _digits(number: str) -> str:
    """The national digits: found in any written form of the number (+, %2B, none)."""
    return number[2:]


def _json(reports: Path, name: str) -> Any:
    return json.loads((reports / name).read_text(encoding="utf-8"))


def _where(run: SuiteRun, text: str) -> list[str]:
    return sorted(where for where, content in run_texts(run.reports, run.stdout + run.stderr)
                  .items() if text in content)


def _traces(har: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for entry in har["log"]["entries"]:
        values = [h["value"] for h in entry["request"]["headers"]
                  if h["name"].lower() == "traceparent"]
        assert len(values) == 1, entry["request"]["url"]
        match = W3C.fullmatch(values[0])
        assert match is not None and set(match[1]) != {"0"} and set(match[2]) != {"0"}, values
        found.append((match[1], match[2]))
    return found


@pytest.mark.slow
def test_a_sending_run_shares_no_recipients_number_and_traces_every_request(
        tmp_path: Path) -> None:
    run = run_suite(tmp_path, RC_TO=PERSON, RC_SIM_FAULTS="event-wrong-recipient")
    assert run.returncode == 1, run.stdout[-3000:]
    assert {c.stage for c in run.failed} == {"webhooks"}, run.stdout[-3000:]
    assert len(list(tmp_path.rglob("*.*"))) >= 10  # the copies and the run's own folder
    assert _where(run, _digits(PERSON)) == []
    assert _where(run, _digits(WRONG)) == []
    # the data.to mismatch is still explained: two numbers, told apart
    assert "data.to expected '+1******0123', seen '+1******9999'" in run.stdout
    doc = _json(tmp_path, "escalation.json")
    assert "data.to expected '+1******0123', seen '+1******9999'" in json.dumps(doc)
    # every request: a valid traceparent of the run's one trace, a span of its own
    trace = doc["run"]["traceId"]
    spans = _traces(_json(tmp_path, "exchanges.har"))
    assert {t for t, _ in spans} == {trace} and len({s for _, s in spans}) == len(spans)
    bundle = doc["bundles"][0]["escalation"]
    match = W3C.fullmatch(bundle["traceparent"] or "")
    assert match is not None and match[1] == trace
    assert all(W3C.fullmatch(s["traceparent"]) for s in doc["webhooks"]["sends"])
    ticket = (tmp_path / "escalation.md").read_text(encoding="utf-8")
    assert f"ask Red Cloud to look up trace {trace}" in ticket
    assert f"traceparent (W3C trace context): {bundle['traceparent']}" in ticket
    assert f"trace: {trace}" in run.stdout


@pytest.mark.slow
def test_rc_share_recipients_keeps_them_and_rc_traceparent_0_sends_none(
        tmp_path: Path) -> None:
    run = run_suite(tmp_path, RC_TO=PERSON, RC_SHARE_RECIPIENTS="1", RC_TRACEPARENT="0")
    assert run.returncode == 0, run.stdout[-3000:]
    found = _where(run, PERSON)
    assert {"escalation.json", "exchanges.har"} <= set(found), found
    assert "full phone numbers in the reports (RC_SHARE_RECIPIENTS=1)" in run.stdout
    doc = _json(tmp_path, "escalation.json")
    assert doc["run"]["traceId"] is None
    har = _json(tmp_path, "exchanges.har")
    assert har["log"]["entries"]
    assert not [h for e in har["log"]["entries"] for h in e["request"]["headers"]
                if h["name"].lower() == "traceparent"]


@pytest.mark.slow
def test_the_client_s_own_number_stays_where_it_stands_as_such(tmp_path: Path) -> None:
    """The default RC_TO is num_abc123's number: masked as the recipient, kept in the
    numbers list (e164) and where a check sends it as sendFrom."""
    run = run_suite(tmp_path)
    assert run.returncode == 0, run.stdout[-3000:]
    entries = _json(tmp_path, "exchanges.har")["log"]["entries"]
    listed = [json.loads(e["response"]["content"]["text"]) for e in entries
              if e["request"]["method"] == "GET" and e["request"]["url"].endswith("/numbers")]
    assert listed and all(OWN in [n["e164"] for n in body["numbers"]] for body in listed)
    sends = [json.loads(e["request"]["postData"]["text"]) for e in entries
             if e["request"]["url"].endswith("/messages/send")]
    assert [s["to"] for s in sends if s.get("to") == ["+1******4567"]]
    assert not [s for s in sends if OWN in json.dumps(s.get("to"))]
    assert [s for s in sends if s.get("sendFrom") == OWN]  # RC-SEND-03's E.164 sendFrom
    assert OWN not in run.stdout + run.stderr


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@pytest.mark.slow
def test_the_target_receives_the_runs_trace_on_every_request(tmp_path: Path,
                                                             sim: Simulator) -> None:
    with recording_proxy(sim.base_url) as (url, received):
        run = run_suite(tmp_path, RC_BASE_URL=url, RC_TO=PERSON, RC_ALLOW_SEND="1",
                        RC_WEBHOOK_SECRET=REMOTE["RC_CLIENT_SECRET"], RC_TUNNEL="none", **REMOTE)
    assert run.returncode == 0, run.stdout[-3000:]
    trace = _json(tmp_path, "escalation.json")["run"]["traceId"]
    sent = [W3C.fullmatch(header(h, "traceparent") or "") for h in received]
    assert received and all(sent), [header(h, "traceparent") for h in received]
    assert {m[1] for m in sent if m} == {trace}
    assert len({m[2] for m in sent if m}) == len(received)  # a span per request
    assert len(received) == len(_json(tmp_path, "exchanges.har")["log"]["entries"])
    assert _where(run, _digits(PERSON)) == []
