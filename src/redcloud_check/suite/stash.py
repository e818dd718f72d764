"""The keys under which the suite keeps its state in pytest's stashes, in one place.

    config.stash[SUITE]   the run: settings, folder, the RunContext once the session starts
    item.stash[SPEC]      the check's CheckSpec (its id, clause, title; gate by id)
    item.stash[WAIVER]    the waiver naming the check, when one does
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from redcloud_check.core.waivers import Waiver
from redcloud_check.results.catalog import CheckSpec

if TYPE_CHECKING:
    from redcloud_check.suite.run import SuiteRun

__all__ = ["SPEC", "SUITE", "WAIVER"]

SUITE: pytest.StashKey[SuiteRun] = pytest.StashKey()
SPEC = pytest.StashKey[CheckSpec]()
WAIVER = pytest.StashKey[Waiver]()
