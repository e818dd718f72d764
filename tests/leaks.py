"""Assert that no secret appears in a text, without ever printing the secret."""

from __future__ import annotations

from collections.abc import Iterable


def leaked(text: str | bytes, secrets: Iterable[str]) -> list[int]:
    """Indexes (into `secrets`) of the secrets found in `text`; never the values."""
    haystack = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return [i for i, s in enumerate(secrets) if s and s in haystack]


def assert_no_secret(text: str | bytes, secrets: Iterable[str], where: str = "output") -> None:
    __tracebackhide__ = True
    found = leaked(text, list(secrets))
    if found:
        raise AssertionError(f"secret(s) #{found} leaked into {where}")
