"""The collector while a command starts (core.startup_gc): off, then frozen and back on."""

from __future__ import annotations

import argparse
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from redcloud_check import cli
from redcloud_check.cli import diff
from redcloud_check.core import config, startup_gc
from redcloud_check.probe import runner


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    frozen = gc.get_freeze_count()
    gc.enable()
    yield
    gc.enable()
    if gc.get_freeze_count() > frozen:  # what a test froze goes back to the collector
        gc.unfreeze()


def test_paused_turns_the_collector_off_and_back_on() -> None:
    with startup_gc.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_resume_freezes_what_start_up_built_and_turns_the_collector_on() -> None:
    with startup_gc.paused():
        before = gc.get_freeze_count()
        startup_gc.resume()
        assert gc.isenabled() and gc.get_freeze_count() > before
        gc.disable()  # what the command does later is its own: no second resume on leaving
    assert not gc.isenabled()


def test_resume_without_a_pause_leaves_the_process_as_it_is() -> None:
    before = gc.get_freeze_count()
    gc.disable()
    startup_gc.resume()
    assert not gc.isenabled() and gc.get_freeze_count() == before
    startup_gc.resume(freeze_anyway=True)
    assert not gc.isenabled() and gc.get_freeze_count() > before


def test_a_collector_someone_else_turned_off_stays_off() -> None:
    gc.disable()
    with startup_gc.paused():
        startup_gc.resume()
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_an_error_in_the_command_gives_the_collector_back() -> None:
    with pytest.raises(RuntimeError), startup_gc.paused():
        raise RuntimeError("the command failed")
    assert gc.isenabled()


def test_a_command_that_does_not_resume_itself_runs_with_a_collector(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def run(args: argparse.Namespace) -> int:
        seen.append(gc.isenabled())
        return 0

    monkeypatch.setattr(diff, "run", run)
    assert cli.main(["diff", "old.json", "new.json"]) == 0
    assert seen == [True] and gc.isenabled()


def test_the_probe_reads_its_settings_paused_and_probes_with_a_collector(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict[str, bool] = {}
    load_settings = config.load_settings

    def load(*args: Any, **kwargs: Any) -> config.Settings:
        seen["settings"] = gc.isenabled()
        return load_settings(*args, **kwargs)

    def run_probe(settings: config.Settings, **kwargs: Any) -> runner.ProbeResult:
        seen["stages"] = gc.isenabled()
        return runner.config_error_result("stopped by the test")

    monkeypatch.setattr(config, "load_settings", load)
    monkeypatch.setattr(runner, "run_probe", run_probe)
    monkeypatch.setenv("RC_REPORTS_DIR", str(tmp_path))
    monkeypatch.delenv("RC_BASE_URL", raising=False)
    assert cli.main(["probe", "--json"]) == 3
    assert seen == {"settings": False, "stages": True}
    assert gc.isenabled()
