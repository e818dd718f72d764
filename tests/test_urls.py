"""IPv6 literals stand in brackets in every URL redcloud-check builds."""

from __future__ import annotations

import pytest

from redcloud_check.core.urls import bracket_host, http_url, is_loopback_host, without_userinfo


@pytest.mark.parametrize(("host", "shown"), [("::1", "[::1]"), ("[::1]", "[::1]"),
                                             ("fe80::1", "[fe80::1]"),
                                             ("127.0.0.1", "127.0.0.1"),
                                             ("localhost", "localhost")])
def test_bracket_host(host: str, shown: str) -> None:
    assert bracket_host(host) == shown


def test_http_url() -> None:
    assert http_url("::1", 8787, "/webhooks/red-cloud") == "http://[::1]:8787/webhooks/red-cloud"
    assert http_url("127.0.0.1", 5) == "http://127.0.0.1:5"


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost", True), ("LocalHost", True), ("127.0.0.1", True), ("127.9.9.9", True),
    ("::1", True), ("[::1]", True), ("::ffff:127.0.0.1", True),
    ("localhost.evil.com", False), ("127.0.0.1.nip.io", False), ("10.0.0.1", False),
    ("169.254.169.254", False), ("::ffff:10.0.0.1", False), ("api.example.com", False),
    ("", False),
])
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(("url", "shown"), [
    ("https://user:pw@api.example.com:8443/base?token=x#f", "https://api.example.com:8443/base"),
    ("http://[::1]:8080", "http://[::1]:8080"),
    ("https://u:p@a@b.example.com/x", "https://b.example.com/x"),
    ("https://API.example.com/Path", "https://API.example.com/Path"),
    ("not a url", "not a url"),
])
def test_without_userinfo(url: str, shown: str) -> None:
    assert without_userinfo(url) == shown


def test_without_userinfo_keeping_the_query() -> None:
    assert without_userinfo("https://u:p@h.example.com/x?a=1#f", keep_query=True) == \
        "https://h.example.com/x?a=1#f"
    assert without_userinfo("https://h.example.com/x?", keep_query=True) == \
        "https://h.example.com/x?"
