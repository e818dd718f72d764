"""How each kind of setting value is read and checked: a .env file as python-dotenv reads
it, booleans, seconds, URLs (RC_BASE_URL names the API host only), choices and name lists.
Each raises a ConfigError naming the setting."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlsplit

from redcloud_check.core.errors import ConfigError

__all__ = ["api_host", "choice", "parse_bool", "parse_float", "parse_url", "read_dotenv",
           "split_names"]


def read_dotenv(path: Path) -> dict[str, str]:
    """The settings in a .env file as python-dotenv reads it (`export`, quotes, escapes,
    comments, inline comments); {} when there is no file.

    Never expands ${VAR}: a secret may hold a "$". A key with no "=" has no value and is
    left out, as python-dotenv does. A line python-dotenv cannot parse is a ConfigError
    naming the file and line, where python-dotenv itself would log a warning and skip it:
    a setting that silently does not apply is worse than a stop.
    """
    if not path.is_file():
        return {}
    from dotenv import dotenv_values  # only with a file: ~2 ms of import (and 15 patterns)
    from dotenv.parser import parse_stream

    text = path.read_text(encoding="utf-8")
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            raise ConfigError(f"{path}:{binding.original.line}", "not a KEY=VALUE line")
    values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    return {key: value for key, value in values.items() if value is not None}


def parse_bool(env: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("", "0", "false", "no", "off"):
        return False
    raise ConfigError(env, f"expected 1 or 0, got {value!r}")


def parse_float(env: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(env, f"expected a number of seconds, got {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise ConfigError(env, f"must be a positive number of seconds, got {value!r}")
    return number


def parse_url(env: str, value: str) -> str:
    parts = urlsplit(value)
    try:  # urlsplit reads the port when asked: ValueError for one not from 0 to 65535
        url = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:
        url = False
    if not url:
        raise ConfigError(env, f"not an http(s) URL: {value!r}", "e.g. https://api.example.com")
    if parts.query or parts.fragment:
        raise ConfigError(env, "must not carry a query or fragment")
    return value.rstrip("/")


def api_host(env: str, url: str) -> str:
    """RC_BASE_URL names the API host: the suite adds /api/auth/token and /api/core/...
    itself, so a path that already holds /api would double it (/api/api/auth/token)."""
    parts = urlsplit(url)
    if "api" in parts.path.split("/"):
        raise ConfigError(env, f"ends in an API path ({parts.path}): give the API host only",
                          f"e.g. {parts.scheme}://{parts.netloc}: the suite adds "
                          "/api/auth/token and /api/core/... itself")
    return url


def choice(env: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(env, f"must be one of {', '.join(choices)}; got {value!r}")
    return value


def split_names(value: str | None) -> tuple[str, ...]:
    """A comma-separated list of names (RC_SIM_FAULTS, RC_SIM_VARIANTS), blanks left out."""
    return tuple(n.strip() for n in (value or "").split(",") if n.strip())
