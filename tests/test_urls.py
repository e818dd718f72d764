"""IPv6 literals stand in brackets in every URL redcloud-check builds."""

from __future__ import annotations

import pytest

from redcloud_check.core.urls import bracket_host, http_url


@pytest.mark.parametrize(("host", "shown"), [("::1", "[::1]"), ("[::1]", "[::1]"),
                                             ("fe80::1", "[fe80::1]"),
                                             ("127.0.0.1", "127.0.0.1"),
                                             ("localhost", "localhost")])
def test_bracket_host(host: str, shown: str) -> None:
    assert bracket_host(host) == shown


def test_http_url() -> None:
    assert http_url("::1", 8787, "/webhooks/red-cloud") == "http://[::1]:8787/webhooks/red-cloud"
    assert http_url("127.0.0.1", 5) == "http://127.0.0.1:5"
