"""Schemathesis hooks for tests/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

Each generated send is a business operation of its own: a generator reuses short keys ("0"),
and a key reused with another payload is answered 409 CONFLICT before the body is looked at,
which would hide every body rule behind the idempotency rule. A valid key (1 to 255
characters, not blank) stays valid and becomes unique; an invalid one is left as it is.
"""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis

KEY = "Idempotency-Key"
MAX_KEY = 255  # the spec's maxLength for the header


@schemathesis.hook
def map_headers(context: Any, headers: dict[str, str] | None) -> dict[str, str] | None:
    key = (headers or {}).get(KEY)
    if headers is not None and key and key.strip() and len(key) <= MAX_KEY:
        suffix = "-" + uuid.uuid4().hex
        headers[KEY] = key[: MAX_KEY - len(suffix)] + suffix
    return headers
