"""The simulator's catalogs are one data file read into one shape: a broken entry is refused
on load, naming it, rather than turning into a fault or variant that means nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redcloud_check.simulator import catalog


def _load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(catalog, "CATALOG", path)
    catalog._load()


def test_the_shipped_catalog_holds_both_kinds_in_one_shape() -> None:
    assert {e.kind for e in catalog.FAULTS.values()} == {"fault"}
    assert {e.kind for e in catalog.VARIANTS.values()} == {"variant"}
    assert all(e.stage in catalog.STAGES and e.basis is None for e in catalog.FAULTS.values())
    assert all(e.basis and e.stage is None for e in catalog.VARIANTS.values())
    assert not set(catalog.FAULTS) & set(catalog.VARIANTS)


@pytest.mark.parametrize(("text", "message"), [
    ('{"fault": {"a-fault": {"stage": "token", "description": "x"}, '
     '"a-fault": {"stage": "send", "description": "y"}}, "variant": {}}', "a-fault declared twice"),
    ('{"fault": {"a-fault": {"stage": "billing", "description": "x"}}, "variant": {}}',
     "stage 'billing'"),
    ('{"fault": {"a-fault": {"description": "x"}}, "variant": {}}', "exactly stage, description"),
    ('{"fault": {}, "variant": {"v": {"description": "two\\nlines", "basis": "b"}}}',
     "one-line"),
    ('{"fault": {}, "variant": {}, "faults": {}}', "unknown table"),
])
def test_a_broken_entry_is_refused_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             text: str, message: str) -> None:
    json.loads(text)  # the case is valid JSON: only the catalog's own rules refuse it
    with pytest.raises(ValueError, match=message):
        _load(tmp_path, monkeypatch, text)
