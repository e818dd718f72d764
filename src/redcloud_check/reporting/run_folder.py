"""Where a run's evidence goes: its own folder, and the documented paths of the latest run.

Layout of the reports directory (RC_REPORTS_DIR, default ``reports``)::

    reports/runs/<run-id>/report.html, junit.xml, escalation.json, escalation.md, exchanges.har
                          redcloud-check.log (only after an internal error: core.run_log)
    reports/report.html, junit.xml, ...                              copies of the latest run
    reports/.latest-run.json                                         which run those copies are
    reports/.webhook-override-journal.json                           never touched here

A run writes only into its own folder (`RunFolder.path`). At the start (`start_run`) the
documented copies of an earlier run are taken away, so nothing an earlier run wrote can be
presented as this run's: copies whose original is kept under ``runs/`` are removed, any
other file at a documented path (written before this layout, or by hand) is moved into
``runs/<its time>-earlier/``. At the end, `publish` copies the run's files to the documented
paths, so CI integrations that read ``reports/junit.xml`` keep working, and `prune` keeps
the newest `keep` run folders (RC_KEEP_RUNS, default `config.KEEP_RUNS_DEFAULT`). The
override journal is never moved or removed here: the webhook code recovers it and deletes
it once the override is restored.

Public surface: `RunFolder`, `DOCUMENTED`, `TITLES`, `start_run`, `complete` (`Completion`),
`publish`, `listing`, `prune`.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from redcloud_check.core.files import atomic_write

__all__ = ["DOCUMENTED", "RUNS", "TITLES", "Completion", "RunFolder", "complete", "expected",
           "listing", "prune", "publish", "start_run"]

DOCUMENTED = ("report.html", "junit.xml", "escalation.json", "escalation.md", "exchanges.har")
RUNS = "runs"
MARKER = ".latest-run.json"
TITLES = {"report.html": "HTML report", "junit.xml": "JUnit XML",
          "escalation.json": "Escalation bundle", "escalation.md": "Ticket text",
          "exchanges.har": "HTTP archive (HAR 1.2)",
          "redcloud-check.log": "Log of redcloud-check's own errors"}  # core.run_log.LOG_NAME


@dataclass(frozen=True, slots=True)
class RunFolder:
    reports_dir: Path
    run_id: str

    @property
    def path(self) -> Path:
        return self.reports_dir / RUNS / self.run_id

    def artifact(self, name: str) -> Path:
        return self.path / name

    def latest(self, name: str) -> Path:
        """The documented path that points at the latest run's `name`."""
        return self.reports_dir / name


def _read_marker(reports_dir: Path) -> tuple[str | None, list[str]]:
    try:
        data = json.loads((reports_dir / MARKER).read_text(encoding="utf-8"))
        return str(data["run_id"]), [str(n) for n in data["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None, []


def start_run(reports_dir: Path, run_id: str) -> RunFolder:
    """Create the run's folder and take an earlier run's documented files out of the way.

    Raises OSError when the reports directory cannot be written."""
    folder = RunFolder(reports_dir, run_id)
    folder.path.mkdir(parents=True, exist_ok=True)
    latest_id, published = _read_marker(reports_dir)
    kept = reports_dir / RUNS / latest_id if latest_id else None
    aside: Path | None = None
    for name in dict.fromkeys([*published, *DOCUMENTED]):
        current = reports_dir / name
        if not current.is_file() or current.parent != reports_dir:
            continue
        if kept is not None and name in published and (kept / name).is_file():
            current.unlink()  # a copy; the original stays in runs/<latest-id>/
        else:
            if aside is None:  # named like a run id from the file's age, so prune sorts it
                stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(current.stat().st_mtime))
                aside = reports_dir / RUNS / f"{stamp}-earlier"
                aside.mkdir(parents=True, exist_ok=True)
            current.replace(aside / name)
    (reports_dir / MARKER).unlink(missing_ok=True)
    return folder


def publish(folder: RunFolder, names: Iterable[str]) -> list[Path]:
    """Copy the run's files to the documented paths (each replaced atomically); returns
    the documented paths written."""
    written: list[Path] = []
    order = {name: i for i, name in enumerate(DOCUMENTED)}
    for name in sorted(names, key=lambda n: (order.get(n, len(order)), n)):
        source = folder.artifact(name)
        if not source.is_file():
            continue
        target = folder.latest(name)
        atomic_write(target, source.read_text(encoding="utf-8"), durable=False)
        written.append(target)
    marker = {"run_id": folder.run_id, "files": [p.name for p in written]}
    atomic_write(folder.reports_dir / MARKER, json.dumps(marker), durable=False)
    return written


@dataclass(frozen=True, slots=True)
class Completion:
    """What the end of a run found: the artifacts it failed to write, the copies made."""

    missing: tuple[str, ...] = ()
    published: tuple[Path, ...] = ()
    folder: RunFolder | None = None

    def lines(self) -> list[str]:
        """For the terminal: what is missing (exit 6), then what this run wrote."""
        lines = [f"redcloud-check: evidence incomplete: {name} was not written (exit 6)"
                 for name in self.missing]
        if self.folder is not None:
            lines += listing(self.folder, self.published)
        return lines


def expected(run_dir: Path, *reports: str | None) -> list[Path]:
    """What a run must leave behind: escalation.json and escalation.md in its folder, and
    each report path given (junit.xml; report.html unless pytest-html is off)."""
    return [run_dir / "escalation.json", run_dir / "escalation.md",
            *(Path(p) for p in reports if p)]


def complete(folder: RunFolder | None, expected: Iterable[Path], keep: int, *,
             protect: Iterable[str] = ()) -> Completion:
    """The end of a run: note which `expected` artifacts are missing, then publish the
    run's files at the documented paths and prune old run folders (never those of
    `protect`: the run a replay re-ran)."""
    missing = tuple(p.name for p in expected if not p.is_file())
    if folder is None:
        return Completion(missing)
    names = [p.name for p in folder.path.iterdir() if p.is_file() and not p.name.startswith(".")]
    published = tuple(publish(folder, names))
    prune(folder.reports_dir, keep, current=folder.run_id, protect=protect)
    return Completion(missing, published, folder)


def listing(folder: RunFolder, published: Iterable[Path]) -> list[str]:
    """The lines that name what this run wrote: the documented paths, then its folder."""
    lines = [f"{TITLES.get(p.name, p.name)}: {p.resolve()}" for p in published]
    return [*lines, f"This run's evidence (kept): {folder.path.resolve()}"]


def prune(reports_dir: Path, keep: int, *, current: str,
          protect: Iterable[str] = ()) -> list[Path]:
    """Remove the oldest run folders beyond `keep` (never `current`, nor a folder named in
    `protect`: they count towards `keep`); returns them.

    Run ids start with their UTC start time, so their names sort by age."""
    runs = reports_dir / RUNS
    if not runs.is_dir():
        return []
    spared = {current, *protect}
    folders = sorted(p for p in runs.iterdir() if p.is_dir() and p.name not in spared)
    kept = sum(1 for name in spared if (runs / name).is_dir())
    excess = max(0, len(folders) + max(kept, 1) - max(keep, 1))
    removed = folders[:excess]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed
