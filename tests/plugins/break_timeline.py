"""Make the webhook timeline raise KeyError('label'), the bug a one-letter secret once caused
in the evidence code; every artifact is still written."""

from __future__ import annotations

from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    from redcloud_check.suite import reports

    def broken(*_: Any, **__: Any) -> str:
        raise KeyError("label")

    reports.html_render.timeline_svg = broken  # type: ignore[assignment]
