"""The probe as a function: stages, verdicts, latency, grading, read-only behaviour."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from redcloud_check.context import RunContext
from redcloud_check.core.config import CANONICAL, Settings, load_settings
from redcloud_check.core.errors import TargetUnreachable, TunnelError
from redcloud_check.core.exit_codes import PROBE_EXIT_CODES
from redcloud_check.core.urls import without_userinfo
from redcloud_check.probe.runner import (
    ProbeResult,
    StageResult,
    probe,
    run_probe,
)
from redcloud_check.reporting.diagnosis import diagnose, one_line
from redcloud_check.simulator import Simulator
from redcloud_check.webhooks.session import WebhookSession

from .bad_targets import bad_target, closed_port_url
from .remote_env import REMOTE


def remote_settings(base_url: str, **env: str) -> Settings:
    return load_settings(environ={"RC_BASE_URL": base_url, **REMOTE, **env})


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@pytest.fixture
def clean_sim(sim: Simulator) -> Iterator[Simulator]:
    sim.set_faults(())
    yield sim
    sim.set_faults(())


def probe_sim(sim: Simulator, **kwargs: object) -> ProbeResult:
    rc = RunContext.create(remote_settings(sim.base_url), sim.base_url)
    try:
        return probe(rc, **kwargs)  # type: ignore[arg-type]
    finally:
        rc.client.close()


def verdicts(result: ProbeResult) -> dict[str, str]:
    return {s.stage: s.verdict for s in result.stages}


def test_clean_target_is_healthy(clean_sim: Simulator) -> None:
    result = probe_sim(clean_sim)
    assert (result.status, result.exit_code) == ("healthy", 0)
    assert verdicts(result) == {"token": "pass", "whoami": "pass", "numbers": "pass"}
    for stage in result.stages:
        assert stage.latency is not None and stage.latency.total > 0
        assert stage.latency.first_byte is not None
        assert stage.latency.first_byte <= stage.latency.total
        assert stage.latency.connect is None and stage.latency.tls is None
        assert stage.http_status == 200 and stage.diagnosis is None
    assert result.target == clean_sim.base_url and not result.embedded


def test_read_only_probe_never_sends_or_patches(clean_sim: Simulator) -> None:
    before = len(clean_sim.requests)
    assert probe_sim(clean_sim).status == "healthy"
    made = clean_sim.requests[before:]
    seen = [(r.method, r.path) for r in made]  # whoami and numbers go together: either first
    assert seen[0] == ("POST", "/api/auth/token")
    assert sorted(seen[1:]) == [("GET", "/api/core/numbers"), ("GET", "/api/core/whoami")]
    assert not [r for r in made if r.path == "/api/core/messages/send" or r.method == "PATCH"]


@pytest.mark.parametrize(("fault", "failed", "status"), [
    ("token-basic-auth-rejected", "token", 401),
    ("whoami-client-inactive", "whoami", 200),
    ("number-not-active", "numbers", 200),
    ("number-missing", "numbers", 200),
])
def test_fault_fails_its_stage_and_blocks_the_rest(clean_sim: Simulator, fault: str,
                                                   failed: str, status: int) -> None:
    clean_sim.set_faults([fault])
    result = probe_sim(clean_sim)
    assert (result.status, result.exit_code) == ("unhealthy", 1)
    order = ["token", "whoami", "numbers"]
    here = order.index(failed)
    stage = result.stages[here]
    assert (stage.stage, stage.verdict, stage.http_status) == (failed, "fail", status)
    assert stage.title and stage.detail and stage.clause
    # HTTP Basic refused while body credentials work: the differential cause, with the
    # clause it breaks; an inactive client: the quickstart's step that asks for ACTIVE; a
    # number: the guide's section
    assert stage.diagnosis and {
        "token-basic-auth-rejected": "3-api-reference-0.2.0.txt, Authentication",
        "whoami-client-inactive": "1-quickstart.txt, Section 5"}.get(
            fault, "5-troubleshooting.txt") in stage.diagnosis
    assert stage.request_id  # from the body's requestId or the X-Request-Id header
    assert all(s.verdict == "pass" for s in result.stages[:here])
    for later in result.stages[here + 1:]:
        assert (later.verdict, later.blocked_by) == ("blocked", failed)
        assert later.title == f"blocked by {failed}: fix that first" and later.latency is None


def test_slow_target_is_degraded() -> None:
    with Simulator(latency_ms=40) as slow:
        result = probe_sim(slow, warn_latency_ms=20)
        assert (result.status, result.exit_code) == ("degraded", 2)
        assert all(s.verdict == "pass" and s.slow for s in result.stages)
        relaxed = probe_sim(slow, warn_latency_ms=5000)
        assert (relaxed.status, relaxed.exit_code) == ("healthy", 0)
        assert not any(s.slow for s in relaxed.stages)


def test_total_over_the_threshold_alone_is_degraded() -> None:
    with Simulator(latency_ms=20) as slow:  # each stage ~20 ms; the token, then whoami and
        result = probe_sim(slow, warn_latency_ms=35)  # numbers together: > 35 ms in all
        assert result.duration_s > 0.035
        assert result.status == "degraded"


def test_unreachable_target_exits_4_without_waiting() -> None:
    url = closed_port_url()
    t0 = time.perf_counter()
    result = run_probe(remote_settings(url, RC_TIMEOUT="2"))
    assert time.perf_counter() - t0 < 2
    assert (result.status, result.exit_code) == ("unreachable", 4)
    assert verdicts(result) == {"token": "unreachable", "whoami": "blocked",
                                "numbers": "blocked"}
    first = result.stages[0]
    assert first.http_status is None and first.title == "No HTTP answer (refused)"
    assert first.diagnosis and "RC_BASE_URL" in first.diagnosis and url in first.diagnosis
    assert result.error and "refused" in result.error


def test_hanging_target_is_unreachable_within_the_timeout() -> None:
    with bad_target("hang") as url:
        t0 = time.perf_counter()
        result = run_probe(remote_settings(url, RC_TIMEOUT="0.5"))
        elapsed = time.perf_counter() - t0
    assert (result.status, result.exit_code) == ("unreachable", 4)
    assert result.stages[0].title == "No HTTP answer (timeout)"
    assert elapsed < 3


def test_gateway_error_page_is_unhealthy_with_its_status() -> None:
    with bad_target("html-502") as url:
        result = run_probe(remote_settings(url))
    assert (result.status, result.stages[0].http_status) == ("unhealthy", 502)
    assert result.stages[0].diagnosis


def test_embedded_simulator_is_probed_without_a_base_url() -> None:
    result = run_probe(load_settings(environ={}))
    assert result.embedded and result.status == "healthy"
    assert result.target.startswith("http://127.0.0.1:")


def test_embedded_simulator_faults_come_from_settings() -> None:
    result = run_probe(load_settings(environ={"RC_SIM_FAULTS": "whoami-client-inactive"}))
    assert result.status == "unhealthy"
    assert verdicts(result)["whoami"] == "fail"


def test_exit_codes_are_the_documented_ones() -> None:
    assert PROBE_EXIT_CODES == {"healthy": 0, "unhealthy": 1, "degraded": 2, "config_error": 3,
                          "tool_error": 3, "unreachable": 4}


def test_the_probe_shows_its_target_without_credentials() -> None:
    assert without_userinfo("https://user:pw@api.example.com:8443/base") == \
        "https://api.example.com:8443/base"
    assert without_userinfo("http://[::1]:8080") == "http://[::1]:8080"


def test_diagnosis_names_the_guide_section(clean_sim: Simulator) -> None:
    clean_sim.set_faults(["whoami-client-inactive"])
    whoami = probe_sim(clean_sim).stages[1]
    assert whoami.cause == "client-not-active" and whoami.diagnosis  # the gate's own cause
    assert "RC_CLIENT_ID is SUSPENDED" in whoami.diagnosis
    assert "1-quickstart.txt, Section 5" in whoami.diagnosis
    clean_sim.set_faults(["token-basic-auth-rejected"])  # body credentials work: not the secret
    token = probe_sim(clean_sim).stages[0]
    assert token.cause == "basic-auth-refused" and "invalid credentials" not in token.diagnosis
    dns = TargetUnreachable("http://nowhere.invalid", "dns", "name does not resolve")
    assert "RC_BASE_URL" in one_line(diagnose(dns, stage="token"))


def test_a_tool_error_is_never_an_unhealthy_api(clean_sim: Simulator, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The tool's own error (here: the webhook tunnel) ends the probe with exit 3, keeping
    the stages that ran; no stage is failed for it."""
    def no_tunnel(self: WebhookSession) -> WebhookSession:
        raise TunnelError("ngrok could not open a tunnel: test")

    monkeypatch.setattr(WebhookSession, "start", no_tunnel)
    result = run_probe(canary_settings(clean_sim, tmp_path), canary=True)
    assert (result.status, result.exit_code) == ("tool_error", 3)
    assert verdicts(result) == {"token": "pass", "whoami": "pass", "numbers": "pass"}
    assert result.error and "TunnelError" in result.error and "send stage" in result.error


def test_records_are_frozen() -> None:
    stage = StageResult(stage="token", verdict="pass")
    with pytest.raises(AttributeError):
        stage.verdict = "fail"  # type: ignore[misc]


# -- --canary ---------------------------------------------------------------------------------

def canary_settings(sim: Simulator, tmp_path: Path, **env: str) -> Settings:
    return remote_settings(sim.base_url, RC_ALLOW_SEND="1", RC_TO=CANONICAL["to"],
                           RC_WEBHOOK_SECRET=CANONICAL["webhook_secret"],
                           RC_REPORTS_DIR=str(tmp_path), **env)


def delivery_override(sim: Simulator) -> str | None:
    [number] = [n for n in sim.state.numbers_of(CANONICAL["client_id"])
                if n.number_id == CANONICAL["number_id"]]
    return number.webhook_delivery_override


def test_canary_sends_once_and_confirms_the_lifecycle(clean_sim: Simulator,
                                                      tmp_path: Path) -> None:
    original = delivery_override(clean_sim)
    before = len(clean_sim.requests)
    result = run_probe(canary_settings(clean_sim, tmp_path), canary=True)
    assert (result.status, result.canary) == ("healthy", True), result
    assert verdicts(result) == dict.fromkeys(("token", "whoami", "numbers", "send", "webhooks"),
                                             "pass")
    made = clean_sim.requests[before:]
    assert [r.status for r in made if r.path == "/api/core/messages/send"] == [202]
    patches = [r for r in made if r.method == "PATCH"]
    assert len(patches) == 2  # the override, then its restoration
    assert delivery_override(clean_sim) == original


def test_the_canary_refuses_no_delivery_under_delivery_semantics(clean_sim: Simulator,
                                                                 tmp_path: Path) -> None:
    """RC_DELIVERY_SEMANTICS is a suite run's: a canary accepts every signed delivery."""
    clean_sim.set_variants(["no-delivery-retry"])  # a refusal would show: never retried
    before = len(clean_sim.deliveries)
    try:
        result = run_probe(canary_settings(clean_sim, tmp_path, RC_DELIVERY_SEMANTICS="1"),
                           canary=True)
    finally:
        clean_sim.set_variants(())
    assert result.status == "healthy", result
    assert [d.status for d in clean_sim.deliveries[before:]] == [200, 200, 200]


def test_canary_without_lifecycle_events_fails_the_webhooks_stage(clean_sim: Simulator,
                                                                  tmp_path: Path) -> None:
    clean_sim.set_faults(["webhook-not-delivered"])
    original = delivery_override(clean_sim)
    result = run_probe(canary_settings(clean_sim, tmp_path, RC_WEBHOOK_TIMEOUT="0.5"),
                       canary=True)
    assert result.status == "unhealthy"
    webhooks = result.stages[-1]
    assert (webhooks.stage, webhooks.verdict) == ("webhooks", "fail")
    assert webhooks.detail and "missing" in webhooks.detail and webhooks.diagnosis
    assert delivery_override(clean_sim) == original


def test_canary_is_not_sent_when_the_override_does_not_take(clean_sim: Simulator,
                                                            tmp_path: Path) -> None:
    clean_sim.set_faults(["patch-ignored"])
    before = len(clean_sim.requests)
    result = run_probe(canary_settings(clean_sim, tmp_path), canary=True)
    assert verdicts(result)["send"] == "fail" and verdicts(result)["webhooks"] == "blocked"
    assert "no canary was sent" in (result.stages[3].title or "")
    assert not [r for r in clean_sim.requests[before:] if r.path == "/api/core/messages/send"]


def test_embedded_canary_needs_no_allow_send(tmp_path: Path) -> None:
    result = run_probe(load_settings(environ={"RC_REPORTS_DIR": str(tmp_path)}), canary=True)
    assert result.status == "healthy" and len(result.stages) == 5
