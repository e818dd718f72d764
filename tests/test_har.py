"""reports/exchanges.har: a full sending run against a simulator over real HTTP, read back
with a third-party HAR reader (haralyzer) and held to HAR 1.2's required fields."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from haralyzer import HarParser

from redcloud_check.core.exchange import Exchange, Timings
from redcloud_check.reporting.har import har_document
from redcloud_check.simulator import Simulator

from .leaks import assert_no_secret
from .suite_runner import run_suite

SECRET = "rc_secret_abc123"
SENDING = {"RC_CLIENT_ID": "rc_test_client_123", "RC_CLIENT_SECRET": SECRET,
           "RC_NUMBER_ID": "num_abc123", "RC_TO": "+15551234567",
           "RC_WEBHOOK_SECRET": SECRET, "RC_ALLOW_SEND": "1"}

# HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/): the fields it requires.
LOG = {"version", "creator", "entries"}
CREATOR = {"name", "version"}
PAGE = {"startedDateTime", "id", "title", "pageTimings"}
ENTRY = {"startedDateTime", "time", "request", "response", "cache", "timings"}
REQUEST = {"method", "url", "httpVersion", "cookies", "headers", "queryString", "headersSize",
           "bodySize"}
RESPONSE = {"status", "statusText", "httpVersion", "cookies", "headers", "content",
            "redirectURL", "headersSize", "bodySize"}
CONTENT = {"size", "mimeType"}
TIMINGS = {"send", "wait", "receive"}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(lifecycle_delay_ms=1) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def har(tmp_path_factory: pytest.TempPathFactory, sim: Simulator) -> tuple[Path, str]:
    reports = tmp_path_factory.mktemp("har")
    run = run_suite(reports, RC_BASE_URL=sim.base_url, **SENDING)
    assert run.returncode == 0, run.stdout[-3000:]
    path = reports / "exchanges.har"
    return path, path.read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_har_reader_opens_it_with_every_exchange_of_the_run(har: tuple[Path, str],
                                                              sim: Simulator) -> None:
    parser = HarParser.from_file(str(har[0]))
    assert parser.version == "1.2"
    assert parser.creator["name"] == "redcloud-check"
    entries = [entry for page in parser.pages for entry in page.entries]
    seen = Counter((e.request.method, urlsplit(e.request.url).path, e.response.status)
                   for e in entries)
    answered = Counter((r.method, r.path, r.status) for r in sim.requests)
    assert seen == answered  # every request the simulator answered, and nothing else
    assert {p.page_id for p in parser.pages} >= {"token", "whoami", "numbers", "send"}


@pytest.mark.slow
def test_every_required_har_1_2_field_is_there(har: tuple[Path, str]) -> None:
    log = json.loads(har[1])["log"]
    assert log.keys() >= LOG and log["creator"].keys() >= CREATOR
    assert all(page.keys() >= PAGE for page in log["pages"])
    assert log["entries"]
    for entry in log["entries"]:
        assert entry.keys() >= ENTRY
        assert entry["request"].keys() >= REQUEST
        assert entry["response"].keys() >= RESPONSE
        assert entry["response"]["content"].keys() >= CONTENT
        timings = entry["timings"]
        assert timings.keys() >= TIMINGS
        phases = [v for k, v in timings.items() if k != "ssl" and v != -1]
        assert all(v >= 0 for v in phases)
        assert sum(phases) == pytest.approx(entry["time"], abs=0.01)
        for header in entry["request"]["headers"] + entry["response"]["headers"]:
            assert header.keys() == {"name", "value"}


@pytest.mark.slow
def test_the_request_id_is_visible_in_each_entry(har: tuple[Path, str]) -> None:
    entries = json.loads(har[1])["log"]["entries"]
    for entry in entries:
        header = {h["name"].lower(): h["value"] for h in entry["response"]["headers"]}
        assert entry["_requestId"] == header["x-request-id"]
        assert entry["_requestId"].startswith("req_")
    errors = [e for e in entries if e["response"]["status"] >= 400
              and e["request"]["url"].endswith("/whoami")]
    assert errors and all(e["_requestId"] in e["response"]["content"]["text"] for e in errors)


@pytest.mark.slow
def test_it_is_redacted_like_every_other_artifact(har: tuple[Path, str]) -> None:
    text = har[1]
    assert_no_secret(text, [SECRET], "exchanges.har")
    log = json.loads(text)["log"]
    auth = [h["value"] for e in log["entries"] for h in e["request"]["headers"]
            if h["name"].lower() == "authorization"]
    # stage 1 also sends the token under the scheme spelled "bearer" (RFC 7235: any case)
    assert auth and set(auth) <= {"Basic ***", "Bearer ***", "bearer ***", "***"}
    issued = [json.loads(e["response"]["content"]["text"]).get("access_token")
              for e in log["entries"] if e["request"]["url"].endswith("/api/auth/token")
              and e["response"]["status"] == 200]
    assert issued and set(issued) == {"[redacted:access_token]"}


def test_a_request_without_an_answer_is_an_entry_with_status_0() -> None:
    ex = Exchange(method="GET", url="http://127.0.0.1:9/api/core/whoami",
                  request_headers={"Authorization": "Bearer tok-123"}, request_body=None,
                  started_at=1.0e9, timings=Timings(total=0.25), error="refused",
                  error_kind="refused", check="checks/x.py::test_y")
    doc = har_document([ex], secrets={"tok-123": "access_token"},
                       stage_of=lambda nodeid: "whoami")
    entry = doc["log"]["entries"][0]
    assert entry["response"]["status"] == 0 and entry["_errorKind"] == "refused"
    assert entry["pageref"] == "whoami" and entry["time"] == 250
    assert "tok-123" not in json.dumps(doc)
