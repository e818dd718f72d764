"""atomic_write: readers see the old content or the new, and both the file and the rename
are synced to disk."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from redcloud_check.core.files import atomic_write


def test_writes_and_replaces_leaving_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "probe.json"
    atomic_write(target, "first\n")
    atomic_write(target, "second ✓\n")
    assert target.read_text(encoding="utf-8") == "second ✓\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["probe.json"]


def test_a_failed_write_keeps_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "escalation.json"
    atomic_write(target, "old")
    with pytest.raises(UnicodeEncodeError):
        atomic_write(target, "half \udc80 written")  # a lone surrogate cannot be UTF-8
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["escalation.json"]


def test_syncs_the_file_and_then_its_directory(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    atomic_write(tmp_path / ".webhook-override-journal.json", "{}")
    assert synced == ["file", "dir"]


def test_atomic_write_gives_the_file_its_mode_before_anyone_can_read_it(tmp_path: Path) -> None:
    private, shared = tmp_path / "private.txt", tmp_path / "shared.prom"
    atomic_write(private, "secret")
    atomic_write(shared, "metrics", mode=0o644)
    assert private.stat().st_mode & 0o777 == 0o600
    assert shared.stat().st_mode & 0o777 == 0o644 and shared.read_text() == "metrics"


def test_a_non_durable_write_is_atomic_without_fsync(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    atomic_write(tmp_path / "report.json", "{}", durable=False)
    assert synced == [] and (tmp_path / "report.json").read_text() == "{}"
    atomic_write(tmp_path / "journal.json", "{}")
    assert len(synced) == 2  # the file, then its directory
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.json", "report.json"]
