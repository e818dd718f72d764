"""The catalog of checks (results/checks.json and docs/checks.md) is generated from the
checks' declarations and kept current here, as ruff keeps its rule list."""

from __future__ import annotations

import json

from redcloud_check.results.catalog import CHECK_ID, catalog, function_of
from redcloud_check.rules.stages import STAGES
from redcloud_check.suite.catalog import targets

from .suite_runner import REPO


def test_the_catalog_and_its_page_are_current() -> None:
    for path, content in targets(REPO).items():
        assert path.read_text("utf-8") == content, (
            f"{path.relative_to(REPO)} is out of date: run "
            "`python -m redcloud_check.suite.catalog`")


def test_every_check_has_one_well_formed_id_and_each_stage_one_gate() -> None:
    rows = catalog()
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) and all(CHECK_ID.match(i) for i in ids)
    assert [sum(1 for r in rows if r["gate"] and r["stage"] == s.name) for s in STAGES] == \
        [1] * len(STAGES)
    assert {r["stage"] for r in rows} == {s.name for s in STAGES}
    assert function_of("RC-TOKEN-01") == "test_basic_credentials_issue_a_bearer_token"
    page = (REPO / "docs" / "checks.md").read_text("utf-8")
    assert all(f"| {i} |" in page for i in ids)
    assert json.loads((REPO / "src/redcloud_check/results/checks.json").read_text())["checks"]
