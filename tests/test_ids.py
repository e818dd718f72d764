"""The run id: UTC start second plus random hex, one format for the suite and the probe."""

from __future__ import annotations

import re

from redcloud_check.core.ids import new_run_id


def test_run_id_names_the_utc_second_and_differs_within_it() -> None:
    first, second = new_run_id(0.0), new_run_id(0.0)
    assert re.fullmatch(r"19700101T000000Z-[0-9a-f]{6}", first), first
    assert first != second
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", new_run_id())
