"""report.html in a real browser: pytest-html 4 renders its rows with JavaScript from a JSON
blob, so only a browser shows whether the inline bundle (requestId included) is in the DOM."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .suite_runner import run_suite

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                             "/usr/bin/chromium") if p and Path(p).is_file()), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium binary (CI installs it with `apt-get install -y chromium`)")


def dump_dom(page: Path, profile: Path) -> str:
    assert CHROMIUM is not None
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
         "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.slow
def test_failing_check_bundle_is_rendered_in_the_dom(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    run = run_suite(reports, RC_SIM_FAULTS="send-idempotency-optional", RC_WEBHOOK_TIMEOUT="5")
    assert run.returncode == 1, run.stdout[-3000:]
    doc = json.loads((reports / "escalation.json").read_text())
    bundle = next(b for b in doc["bundles"]
                  if b["check"]["name"] == "test_missing_idempotency_key_is_rejected")
    request_id = bundle["escalation"]["requestId"]
    assert request_id
    dom = dump_dom(reports / "report.html", tmp_path / "profile")
    # The row of the failing check, rendered by the page's script (not the JSON blob).
    row = re.search(r'<tbody class="results-table-row failed" id="([^"]+)">(.*?)</tbody>', dom,
                    re.S)
    assert row is not None, "no failed row was rendered"
    assert row.group(1).endswith("test_missing_idempotency_key_is_rejected")
    body = row.group(2)
    assert '<div class="rc-bundle"' in body
    assert f'<dd class="rc-request-id"><code>{request_id}</code></dd>' in body
    assert "Best next action:" in body and 'class="rc-curl"' in body
    # The summary: stage verdicts and the latency chart, and the environment table.
    assert 'class="rc-stages"' in dom and '<svg class="rc-latency"' in dom
    assert re.search(r"<td>Target</td>\s*<td><div>embedded simulator at http://127\.0\.0\.1:",
                     dom), "the environment table names the target"


GEOMETRY = """<script>
window.addEventListener("load", () => setTimeout(() => {
  const top = (s) => { const e = document.querySelector(s);
                       return e ? e.getBoundingClientRect().top + window.scrollY : null; };
  const timelines = [...document.querySelectorAll(".rc-first-failure svg.rc-timeline-svg")]
    .map((svg) => ({width: svg.width.baseVal.value, labels: [
      ...svg.querySelectorAll("text.rc-timeline-label")].map((t) => {
        const b = t.getBBox(); return [b.x, b.y, b.width, b.height]; })}));
  document.body.setAttribute("data-geometry", JSON.stringify({
    banner: top(".rc-verdict"), roots: top(".rc-roots"),
    verdict: top(".rc-summary"), first: top(".rc-first-failure"),
    latency: top("svg.rc-latency"), environment: top("#environment"),
    results: top("#results-table"), timelines: timelines}));
}, 0));
</script>"""


def overlapping(boxes: list[list[float]]) -> list[tuple[int, int]]:
    return [(i, j) for i, a in enumerate(boxes) for j, b in enumerate(boxes) if i < j
            and a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3]
            and b[1] < a[1] + a[3]]


@pytest.mark.slow
def test_the_report_opens_on_the_verdict_and_the_first_failure(tmp_path: Path) -> None:
    """A run whose deliveries all carry a forged signature: report.html shows the verdict,
    then the first failure's bundle with its lifecycle timeline, whose labels (measured by
    the browser, real fonts) never overlap; the latency chart, the environment table and
    the results come after."""
    reports = tmp_path / "reports"
    run = run_suite(reports, RC_SIM_FAULTS="webhook-wrong-secret", RC_WEBHOOK_TIMEOUT="3")
    assert run.returncode == 1, run.stdout[-3000:]
    page = tmp_path / "measured.html"
    html = (reports / "report.html").read_text(encoding="utf-8")
    page.write_text(html.replace("</body>", GEOMETRY + "</body>"), encoding="utf-8")
    dom = dump_dom(page, tmp_path / "profile")
    found = re.search(r'data-geometry="([^"]+)"', dom)
    assert found is not None, "the page's measuring script did not run"
    geometry = json.loads(found.group(1).replace("&quot;", '"'))
    assert geometry["banner"] < geometry["roots"] < geometry["verdict"] < geometry["first"]
    assert geometry["first"] < geometry["latency"]
    assert geometry["latency"] < geometry["environment"] < geometry["results"]
    assert geometry["timelines"], "the first failure shows its lifecycle timelines"
    # Stage 5 gives its verdict once 3 deliveries failed the same way (the fast verdict), so
    # a message's chart holds those few; twelve labels in one chart are measured below.
    for timeline in geometry["timelines"]:  # each chart has its own coordinates
        labels = timeline["labels"]
        assert len(labels) >= 1, "every forged delivery has its label"
        assert overlapping(labels) == [], labels
        assert all(x >= 0 and x + w <= timeline["width"] for x, _, w, _ in labels)
    assert sum(len(t["labels"]) for t in geometry["timelines"]) >= 3


@pytest.mark.slow
def test_twelve_forged_deliveries_in_one_burst_get_labels_that_never_overlap(
        tmp_path: Path) -> None:
    """Twelve unverified deliveries of one message within a second (a sender's retries): the
    timeline's labels, measured by the browser, never overlap and stay inside the chart."""
    from redcloud_check.reporting.html import STYLE, timeline_svg

    rows = [{"offset_ms": offset, "eventType": "message.queued", "sequence": 1,
             "verified": False, "note": "HTTP 401: invalid signature; body unverified"}
            for offset in (-43, 5, 66, 108, 280, 313, 684, 737, 1497, 1509, 1554, 1565)]
    page = tmp_path / "burst.html"
    page.write_text(f"<html><head>{STYLE}</head><body><div class='rc-first-failure'>"
                    f"{timeline_svg(rows, 'msg_burst')}</div>{GEOMETRY}</body></html>",
                    encoding="utf-8")
    found = re.search(r'data-geometry="([^"]+)"', dump_dom(page, tmp_path / "profile"))
    assert found is not None, "the page's measuring script did not run"
    [timeline] = json.loads(found.group(1).replace("&quot;", '"'))["timelines"]
    labels = timeline["labels"]
    assert len(labels) == 12, "every forged delivery has its label"
    assert overlapping(labels) == [], labels
    assert all(x >= 0 and x + w <= timeline["width"] for x, _, w, _ in labels)


def visible_text(dom: str, cls: str) -> str:
    """The text of the first element with this class, outside any <details> (what a reader
    sees without expanding anything)."""
    closed = re.sub(r"<details.*?</details>", "", dom, flags=re.S)
    found = re.search(rf'<div class="{cls}[^"]*"[^>]*>(.*?)</div>', closed, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)) if found else ""


@pytest.mark.slow
def test_the_report_opens_on_what_to_do(tmp_path: Path) -> None:
    """Issue 21 item 6 in the rendered page: the verdict as a banner, the lead root cause
    with its side and next action, the API's own error message readable without expanding
    anything, and the history chart only from the second run in the reports folder."""
    import html as html_lib

    from redcloud_check.reporting.root_cause_view import side_words

    reports = tmp_path / "reports"
    run = run_suite(reports, RC_CLIENT_SECRET="not-the-simulator-secret")
    assert run.returncode == 1, run.stdout[-3000:]
    doc = json.loads((reports / "escalation.json").read_text())
    lead = doc["summary"]["rootCauses"][0]
    said = doc["bundles"][0]["escalation"]["api_said"]
    assert said, "the first bundle quotes the API"
    dom = html_lib.unescape(dump_dom(reports / "report.html", tmp_path / "profile"))
    banner = re.search(r'<div class="rc-verdict rc-verdict-bad" role="status" '
                       r'data-verdict="failed">(.*?)</div>', dom, re.S)
    assert banner is not None, "the verdict is a banner"
    text = re.sub(r"<[^>]+>", "", banner.group(1))
    assert text.startswith("FAILED failed — failed: token")
    assert lead["id"] == "credentials-refused"
    assert lead["id"] in text and side_words(lead) in text and lead["next"] in text
    root = re.search(rf'data-root-cause="{lead["id"]}" data-side="{lead["side"]}"', dom)
    assert root is not None, "the lead root cause carries its side"
    assert said in visible_text(dom, "rc-first-failure"), "the API's words need no click"
    assert 'class="rc-history"' not in dom, "one run is not a trend: no history chart"

    assert run_suite(reports).returncode == 0
    dom = html_lib.unescape(dump_dom(reports / "report.html", tmp_path / "profile"))
    assert re.search(r'data-verdict="passed"', dom) and "rc-verdict-ok" in dom
    assert '<svg class="rc-history"' in dom and 'aria-label="last 2 runs' in dom
