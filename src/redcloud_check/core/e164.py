"""E.164 phone numbers: "+", then up to 15 digits, the first of them 1-9 (ITU-T E.164).

The one pattern of the project: the settings (RC_TO must be one, RC_NUMBER_ID must not),
the consistency rules (the numbers a search answer holds), the checks (a numberId must not
be one), the simulator (its seed, its send rules) and the schemas (`send_request` to[],
`number` e164; tests/test_schemas.py holds them to it) all use it.
"""

from __future__ import annotations

import re

__all__ = ["E164", "is_e164"]

# At least two digits, as the schemas have it. ASCII digits only ("\d" would take any
# Unicode digit); use `fullmatch` (`is_e164`): as in JSON Schema (ECMA-262), "$" then
# admits no trailing newline.
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")


def is_e164(value: object) -> bool:
    """`value` is a string holding an E.164 phone number and nothing else."""
    return isinstance(value, str) and E164.fullmatch(value) is not None
