"""One E.164 pattern: "+", then up to 15 digits, the first of them 1-9."""

from __future__ import annotations

import pytest

from redcloud_check.core.e164 import is_e164


@pytest.mark.parametrize("value", ["+15551234567", "+442071234567", "+12", "+123456789012345"])
def test_e164_numbers(value: str) -> None:
    assert is_e164(value)


@pytest.mark.parametrize("value", [
    "15551234567",  # no "+": a phone number, but not written in E.164
    "+05551234567",  # a country code never starts with 0
    "+1", "+1234567890123456",  # too short, too long (16 digits)
    "+1555123456\n", " +15551234567", "+1 555 123 4567", "+1555-123-4567",
    "+1555" + "".join(map(chr, range(0x661, 0x668))),  # Arabic-Indic digits: "\\d" takes them
    "num_abc123", "", None, 15551234567,
])
def test_not_e164(value: object) -> None:
    assert not is_e164(value)
