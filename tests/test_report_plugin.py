"""The report plugin end to end: a tiny fake suite (pytester) against the simulator, then the
real suite in a subprocess with a fault; every artifact is scanned for every secret."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from secrets import token_hex

import pytest

from redcloud_check.core.errors import CheckFailure
from redcloud_check.reporting import html as html_render
from redcloud_check.reporting.artifacts import validate_escalation
from redcloud_check.reporting.evidence import CheckInfo, build_bundle
from redcloud_check.simulator import Simulator

from .bad_targets import closed_port_url
from .leaks import assert_no_secret
from .suite_runner import run_suite

pytest_plugins = ["pytester"]

CLIENT_ID, SECRET = "rc_test_client_123", "rc_secret_abc123"  # the simulator's seed (docs)

INI = """
[pytest]
rc_suite = true
"""


def _fake_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, base: str,
                checks: str) -> Path:
    """A fake suite run by the real plugin against `base`: returns its reports dir."""
    reports = pytester.path / "reports"
    pytester.makeini(INI)
    pytester.makepyfile(test_checks=checks)
    for name, value in {"RC_BASE_URL": base, "RC_CLIENT_ID": CLIENT_ID,
                        "RC_CLIENT_SECRET": SECRET, "RC_NUMBER_ID": "num_abc123",
                        "RC_TO": "+15551234567", "RC_WEBHOOK_SECRET": SECRET,
                        "RC_REPORTS_DIR": str(reports)}.items():
        monkeypatch.setenv(name, value)
    return reports


CHECKS = '''
from redcloud_check.rules import expect
from redcloud_check.suite.declare import check


@check("RC-TOKEN-01", clause="1-quickstart.txt, Section 4")
def test_token_is_issued(rc):
    """A token is issued for HTTP Basic credentials."""
    exchange, token = rc.tokens.acquire()
    print("issued", token.value, exchange.request_headers["Authorization"])
    assert token is not None


@check("RC-WHOAMI-02", clause="1-quickstart.txt, Section 5 <Step 2>")
def test_client_<b>_is_active(rc):
    """An <unknown> token still reads the client context (it must not)."""
    token = rc.tokens.current()
    print("using", token.value)
    exchange = rc.core("GET", "/api/core/whoami", label="whoami: bad token",
                       bearer="Bearer not-" + token.value)
    expect.status(exchange, 200, clause="1-quickstart.txt, Section 5",
                  title="whoami refused the token")


@check("RC-NUMBERS-02", clause="c")
def test_suite_bug(rc):
    """A bug in the suite itself."""
    rc.core("GET", "/api/core/numbers", label="numbers")
    {}["missing"]


class FakeWebhooks:
    def deliveries(self):
        return []

    def close(self):
        pass

    def timeline(self, message_id):
        return [{"offset_ms": 0, "eventType": "message.queued", "sequence": 1, "verified": True,
                 "note": ""},
                {"offset_ms": 42.5, "eventType": None, "sequence": None, "verified": False,
                 "note": "HTTP 401: bad signature"}]


@check("RC-WEBHOOKS-01", clause="c")
def test_lifecycle(rc):
    """Lifecycle events arrive for the accepted message."""
    from redcloud_check.core.models import AcceptedMessage
    rc.webhooks = FakeWebhooks()
    rc.accepted.append(AcceptedMessage("msg_timeline_1", "+15551234567", "ref", "key",
                                       "num_abc123", 0.0, None))


@check("RC-WEBHOOKS-03", clause="c")
def test_signatures(rc):
    """Every webhook signature is valid."""
    raise expect.fail("An invalid signature", expected="valid", actual="401",
                      clause="1-quickstart.txt, Section 9")
'''


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    with Simulator() as sim:
        yield sim


def _scan(reports: Path, secrets: list[str]) -> None:
    files = [p for p in reports.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert_no_secret(path.read_bytes(), secrets, path.name)


def test_fake_suite_reports(pytester: pytest.Pytester, simulator: Simulator,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    reports = _fake_suite(pytester, monkeypatch, simulator.base_url,
                          CHECKS.replace("test_client_<b>_is_active", "test_client_is_active"))
    result = pytester.runpytest_inprocess(
        f"--html={reports / 'report.html'}", "--self-contained-html",
        f"--junitxml={reports / 'junit.xml'}", "-o", "junit_logging=all", "-rA",
        "--metadata", "ci_api_token", SECRET, "--metadata", "build note", f"see {SECRET}")
    result.assert_outcomes(passed=2, failed=3)
    out = result.stdout.str()
    assert "redcloud-check: failed" in out and "internal error" not in out
    assert "check:    RC-WHOAMI-02 (test_checks.py::test_client_is_active)" in out
    doc = json.loads((reports / "escalation.json").read_text())
    validate_escalation(doc)
    by_name = {b["check"]["name"]: b for b in doc["bundles"]}
    whoami = by_name["test_client_is_active"]
    assert whoami["escalation"]["http_status"] == 401
    assert whoami["escalation"]["requestId"], "a CORE error body carries its requestId"
    assert whoami["escalation"]["reproduces"]["retried"] is True
    assert whoami["check"]["statement"].startswith("An <unknown> token")
    assert by_name["test_suite_bug"]["kind"] == "suite_error"
    html = (reports / "report.html").read_text()
    assert whoami["escalation"]["requestId"] in html
    assert "rc-stages" in html and "rc-latency" in html and "Target" in html
    assert "&amp;lt;unknown&amp;gt;" in html and "<unknown>" not in html  # escaped twice
    assert "rc-timeline-svg" in html and "msg_timeline_1" in html and "UNVERIFIED" in html
    assert "ci_api_token" not in html and "build note" in html
    case = next(c for c in ET.parse(reports / "junit.xml").getroot().iter("testcase")
                if c.get("name") == "test_client_is_active")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["rc_request_id"] == whoami["escalation"]["requestId"]
    assert props["check_id"] == whoami["checkId"] == "RC-WHOAMI-02"
    md = (reports / "escalation.md").read_text()
    assert md.count("requestId: **") == 3
    assert "Lifecycle events received for msg_timeline_1" in md and "UNVERIFIED" in md
    signatures = by_name["test_signatures"]
    assert signatures["timeline"][0]["messageId"] == "msg_timeline_1"
    assert signatures["escalation"]["messageIds"] == ["msg_timeline_1"]
    assert signatures["diagnosis"]["id"] == "webhook-signature"
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    tokens = simulator.issued_tokens
    assert tokens
    _scan(reports, [SECRET, basic, *tokens])
    assert_no_secret(out, [SECRET, basic, *tokens], "terminal output")


# --- the real suite, in a subprocess ------------------------------------------------------


def _error_bodies_carry_request_ids(doc: dict) -> None:
    for bundle in doc["bundles"]:
        esc = bundle["escalation"]
        failing = [e for e in bundle["exchanges"] if e["status"] == esc["http_status"]
                   and e["url"] == esc["url"]]
        body = failing[0]["response_body"] if failing else None
        if body and '"requestId"' in body:
            assert esc["requestId"], bundle["check"]["nodeid"]


@pytest.mark.slow
def test_remote_run_with_a_fault_leaks_no_secret(tmp_path: Path) -> None:
    seed = json.loads(files("redcloud_check.simulator").joinpath("seed.json").read_text())
    client = seed["clients"][0]
    secret, webhook = f"cs-{token_hex(12)}", f"wh-{token_hex(12)}"
    client["clientSecret"], client["webhookSecret"] = secret, webhook
    with Simulator(seed=seed, faults=["send-idempotency-optional"]) as sim:
        run = run_suite(tmp_path, RC_BASE_URL=sim.base_url, RC_CLIENT_ID=CLIENT_ID,
                        RC_CLIENT_SECRET=secret, RC_NUMBER_ID="num_abc123",
                        RC_TO="+15551234567", RC_WEBHOOK_SECRET=webhook, RC_ALLOW_SEND="1",
                        RC_WEBHOOK_TIMEOUT="5")
        tokens = sim.issued_tokens
    output = run.stdout + run.stderr
    assert run.returncode == 1, output[-3000:]
    assert "internal error" not in output and "Traceback" not in output, output[-3000:]
    failed = {c.name.rpartition("::")[2] for c in run.failed}
    assert "test_missing_idempotency_key_is_rejected" in failed
    doc = json.loads((tmp_path / "escalation.json").read_text())
    validate_escalation(doc)
    assert doc["run"]["embedded"] is False and doc["run"]["target"] == sim.base_url
    bundle = next(b for b in doc["bundles"]
                  if b["check"]["name"] == "test_missing_idempotency_key_is_rejected")
    assert bundle["escalation"]["messageId"], "the accepted send's messageId is kept"
    # a remote target: no send is ever sent twice for the bundle
    assert bundle["escalation"]["reproduces"]["note"].startswith("not retried: a send")
    _error_bodies_carry_request_ids(doc)
    # Exactly the documented artifacts: a missing one fails, and so does a stray one (the
    # override journal left behind, a temporary file of a write that did not finish).
    # The run's own folder holds the originals; the top level their copies, the marker and
    # the history that spans runs.
    artifacts = ["escalation.json", "escalation.md", "exchanges.har", "junit.xml", "report.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".latest-run.json", *artifacts[:3], "history.jsonl", *artifacts[3:], "runs"]
    (folder,) = (tmp_path / "runs").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == artifacts
    basic = base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode()
    assert len(tokens) >= 2
    _scan(tmp_path, [secret, webhook, basic, *tokens])
    assert_no_secret(output, [secret, webhook, basic, *tokens], "terminal output")


@pytest.mark.slow
def test_embedded_run_with_a_fault_reports_the_failure(tmp_path: Path) -> None:
    run = run_suite(tmp_path, RC_SIM_FAULTS="core-errors-without-request-id",
                    RC_WEBHOOK_TIMEOUT="5")
    assert run.returncode == 1, run.stdout[-3000:]
    doc = json.loads((tmp_path / "escalation.json").read_text())
    validate_escalation(doc)
    assert doc["run"]["embedded"] is True and doc["bundles"]
    assert {s["name"]: s["verdict"] for s in doc["summary"]["stages"]}["whoami"] == "failed"
    html = (tmp_path / "report.html").read_text()
    assert "embedded simulator at http://127.0.0.1:" in html
    assert doc["bundles"][0]["check"]["nodeid"] in html
    _scan(tmp_path, [SECRET, base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()])


@pytest.mark.slow
def test_misconfigured_run_still_writes_junit_and_escalation(tmp_path: Path) -> None:
    run = run_suite(tmp_path, RC_TO="5551234567")
    assert run.returncode == 3, run.stdout + run.stderr  # the probe's code for the same
    assert [c.name for c in run.cases] == ["redcloud-check::configuration"]
    assert run.cases[0].outcome == "error" and "RC_TO" in run.cases[0].message
    doc = json.loads((tmp_path / "escalation.json").read_text())
    validate_escalation(doc)
    assert doc["summary"]["config_error"]["setting"] == "RC_TO"
    assert (tmp_path / "escalation.md").is_file()


@pytest.mark.slow
def test_unreachable_target_is_diagnosed_in_the_bundle(tmp_path: Path) -> None:
    url = closed_port_url()
    run = run_suite(tmp_path, RC_BASE_URL=url, RC_CLIENT_ID=CLIENT_ID,
                    RC_CLIENT_SECRET=SECRET, RC_NUMBER_ID="num_abc123")
    assert run.returncode == 1
    doc = json.loads((tmp_path / "escalation.json").read_text())
    validate_escalation(doc)
    assert doc["summary"]["verdict"] == "unreachable"
    bundle = doc["bundles"][0]
    assert bundle["kind"] == "unreachable" and bundle["diagnosis"]["id"] == "unreachable-refused"
    assert bundle["diagnosis"]["note"].startswith("target unreachable: connection refused at")
    blocked = {b["stage"]: b["blocked_by"] for b in doc["summary"]["blocked"]}
    assert blocked["whoami"] == blocked["numbers"] == "target"


# --- the HTML fragments -------------------------------------------------------------------


def test_bundle_html_escapes_every_text() -> None:
    failure = CheckFailure(title="<script>alert(1)</script>", expected="a & b",
                           actual='"quoted" <b>', clause="x")
    bundle = build_bundle(CheckInfo("n::<t>", "<t>", "send"), failure, exchanges=[],
                          secrets={})
    out = html_render.bundle_html(bundle)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "a &amp; b" in out and "&quot;quoted&quot; &lt;b&gt;" in out
    assert 'data-nodeid="n::&lt;t&gt;"' in out


def test_timeline_marks_each_event_and_flags_unverified_ones() -> None:
    events = [{"offset_ms": -5, "eventType": "message.queued", "sequence": 1, "verified": True},
              {"offset_ms": 120, "eventType": "message.sent", "sequence": 2, "verified": True},
              {"offset_ms": 300, "eventType": None, "sequence": None, "verified": False,
               "note": "<bad signature>"}]
    out = html_render.timeline_svg(events, "msg_<1>")
    assert out.count("<circle") == 3 and out.count('fill="white"') == 1
    assert "+120 ms" in out and "-5 ms" in out and "&lt;bad signature&gt;" in out
    assert "msg_&lt;1&gt;" in out
    assert "No lifecycle event" in html_render.timeline_svg([], "m")


def test_twelve_forged_deliveries_get_labels_that_never_overlap() -> None:
    """Twelve unverified deliveries within 30 ms used to print their labels on top of each
    other: each label now has its own box (estimated on the wide side), inside the chart."""
    import re

    events = [{"offset_ms": 900 + 2.5 * i, "eventType": None, "sequence": None,
               "verified": False, "note": "HTTP 401: invalid signature"} for i in range(12)]
    out = html_render.timeline_svg(events, "msg_1")
    width = float(re.search(r'<svg class="rc-timeline-svg"[^>]* width="([\d.]+)"', out)[1])
    texts = re.findall(r'<text class="rc-timeline-label" x="([\d.]+)" y="([\d.]+)" '
                       r'font-size="(\d+)"[^>]*>([^<]+)</text>', out)
    assert len(texts) == 12
    boxes = []
    for x, y, size, text in texts:
        w = html_render.label_width(text, float(size))
        boxes.append((float(x) - w / 2, float(y) - float(size), w, float(size)))
    assert all(left >= 0 and left + w <= width for left, _, w, _ in boxes)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart_x = a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0]
            apart_y = a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1]
            assert apart_x or apart_y, (a, b)
    assert "unattributed request ✗ +900 ms" in out


def test_label_lanes_reuse_a_lane_once_it_is_free() -> None:
    placed = html_render.label_lanes([10, 12, 300, 305], [100, 100, 100, 100], 640)
    assert [lane for _, lane in placed] == [0, 1, 0, 1]
    assert placed[0][0] == 50  # pushed inside the chart's left edge


def test_latency_chart_groups_by_stage() -> None:
    out = html_render.latency_svg([("token", "POST /api/auth/token", 5.0),
                                   ("token", "POST /api/auth/token <2>", 10.0),
                                   ("whoami", "GET /api/core/whoami", 2.5)])
    assert out.count("<rect") == 3 and ">token</text>" in out and ">whoami</text>" in out
    assert "&lt;2&gt;" in out


BROKEN_SUBSCRIBER = '''
import httpx
from redcloud_check.suite.declare import check
from redcloud_check.webhooks.session import WebhookSession


@check("RC-WEBHOOKS-01", clause="c")
def test_listener_runs(rc):
    """The webhook listener answers; a subscriber of ours is broken."""
    session = WebhookSession(rc)
    rc.webhooks = session
    session.listener.start()
    session.listener.subscribe(lambda delivery, raw: {}["bug in a subscriber"])
    assert httpx.post(session.listener.url, content=b"{}", trust_env=False).status_code == 400
    session.close()
'''


def test_a_listener_handler_error_is_the_tools_error_not_the_apis(
        pytester: pytest.Pytester, simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    reports = _fake_suite(pytester, monkeypatch, simulator.base_url, BROKEN_SUBSCRIBER)
    result = pytester.runpytest_inprocess(f"--junitxml={reports / 'junit.xml'}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "redcloud-check internal error (a bug in redcloud-check, not the API): webhook "
        "listener: HandlerError: 1 error(s) in the webhook listener while serving: "
        "KeyError: 'bug in a subscriber' (traceback in *runs/*/redcloud-check.log)"])
    doc = json.loads((reports / "escalation.json").read_text())
    assert doc["bundles"] == [] and doc["summary"]["counts"]["failed"] == 0
