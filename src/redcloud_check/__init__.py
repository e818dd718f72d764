"""redcloud-check: conformance and diagnostics suite for the Red Cloud CORE API."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
