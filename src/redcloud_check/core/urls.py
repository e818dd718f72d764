"""Hosts and URLs: an IPv6 literal stands in brackets (RFC 3986, 3.2.2); what is a loopback
host; a URL as it may be shown (no userinfo: it may carry credentials).

One definition each: the settings (is the target on loopback?), the simulator's SSRF guard
(events go to loopback hosts only), the webhook evidence (how the listener was exposed),
the probe's target, the diagnosis and every message naming a webhook URL use them.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

__all__ = ["bracket_host", "http_url", "is_loopback_host", "without_userinfo"]


def bracket_host(host: str) -> str:
    """`host` as it stands in a URL: ::1 -> [::1]; names, IPv4 and bracketed hosts as given."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def http_url(host: str, port: int, path: str = "") -> str:
    """http://host:port/path with the host bracketed when it is an IPv6 literal."""
    return f"http://{bracket_host(host)}:{port}{path}"


def is_loopback_host(host: str) -> bool:
    """`host` (a name or an IP literal, bracketed or not, any case) is this machine:
    localhost, 127.0.0.0/8, ::1, or an IPv4-mapped 127.x (::ffff:127.0.0.1). A name that
    only starts like an address (127.0.0.1.nip.io) is not: it resolves wherever its DNS says."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def without_userinfo(url: str, *, keep_query: bool = False) -> str:
    """`url` without its user:password@ part, and without query and fragment unless
    `keep_query` (they may carry tokens): the URL as a report or a message may show it.
    The rest stands as given; never raises for a URL `urlsplit` can read."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    if not keep_query:
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return url if netloc == parts.netloc else urlunsplit(parts._replace(netloc=netloc))
