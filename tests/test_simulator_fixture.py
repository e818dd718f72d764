"""The simulator fixtures integrators use in their own tests: one server, reset per test."""

from __future__ import annotations

import pytest

from redcloud_check.simulator import Simulator


def test_reset_restores_the_seed_and_clears_faults_and_logs() -> None:
    with Simulator(faults=["number-missing"]) as sim:
        import requests

        token = requests.post(f"{sim.base_url}/api/auth/token",
                              auth=("rc_test_client_123", "rc_secret_abc123"),
                              data={"grant_type": "client_credentials"}, timeout=5).json()
        requests.patch(f"{sim.base_url}/api/core/numbers/num_abc123",
                       json={"webhookDeliveryOverride": None}, timeout=5,
                       headers={"Authorization": f"Bearer {token['access_token']}"})
        assert sim.state.numbers["num_abc123"].webhook_delivery_override is None
        sim.reset()
        assert sim.faults == frozenset()
        assert sim.requests == [] and sim.issued_tokens == []
        assert sim.state.numbers["num_abc123"].webhook_delivery_override == \
            "https://example.com/webhooks/delivery"
        old = requests.get(f"{sim.base_url}/api/core/whoami", timeout=5,
                           headers={"Authorization": f"Bearer {token['access_token']}"})
        assert old.status_code == 401, "tokens issued before the reset are gone"


def test_wait_until_wakes_on_a_logged_request_and_times_out_otherwise() -> None:
    import threading

    import requests

    with Simulator() as sim:
        assert sim.wait_until(lambda s: bool(s.requests), timeout=0.05) is False
        threading.Thread(target=requests.get, args=(f"{sim.base_url}/api/core/whoami",),
                         kwargs={"timeout": 5}, daemon=True).start()
        assert sim.wait_until(lambda s: ("GET", "/api/core/whoami", 401) in s.requests,
                              timeout=10)


@pytest.mark.slow
def test_fixture_pair_in_an_integrators_test_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import requests

        PORTS = set()

        def _token(sim):
            r = requests.post(sim.base_url + "/api/auth/token",
                              auth=("rc_test_client_123", "rc_secret_abc123"),
                              data={"grant_type": "client_credentials"}, timeout=5)
            return r

        def test_first(redcloud_simulator):
            PORTS.add(redcloud_simulator.port)
            redcloud_simulator.set_faults(["token-basic-auth-rejected"])
            assert _token(redcloud_simulator).status_code == 401

        def test_second_starts_clean_on_the_same_server(redcloud_simulator):
            PORTS.add(redcloud_simulator.port)
            assert len(PORTS) == 1
            assert redcloud_simulator.requests == []
            assert _token(redcloud_simulator).status_code == 200
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
