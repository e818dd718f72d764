"""Make writing escalation.json fail, as a full disk or a bug would."""

from __future__ import annotations

from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    from redcloud_check.suite import reports

    def broken(*_: Any, **__: Any) -> None:
        raise OSError(28, "No space left on device")

    reports.write_escalation = broken  # type: ignore[assignment]
