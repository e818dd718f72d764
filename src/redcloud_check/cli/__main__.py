"""``python -m redcloud_check.cli``: the same as the ``redcloud-check`` command."""

from __future__ import annotations

from redcloud_check.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
