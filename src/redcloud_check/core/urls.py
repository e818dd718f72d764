"""Hosts and ports in URLs: an IPv6 literal stands in brackets (RFC 3986, 3.2.2)."""

from __future__ import annotations

__all__ = ["bracket_host", "http_url"]


def bracket_host(host: str) -> str:
    """`host` as it stands in a URL: ::1 -> [::1]; names, IPv4 and bracketed hosts as given."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def http_url(host: str, port: int, path: str = "") -> str:
    """http://host:port/path with the host bracketed when it is an IPv6 literal."""
    return f"http://{bracket_host(host)}:{port}{path}"
