"""core.cpu_pressure: is a core free for the simulator's own process?"""

from __future__ import annotations

from pathlib import Path

import pytest

from redcloud_check.core import cpu_pressure
from redcloud_check.core.cpu_pressure import PRESSURE_LIMIT, spare_core
from redcloud_check.core.cpu_pressure import cpu_pressure as read_pressure

PSI = "some avg10={} avg60=22.77 avg300=17.77 total=8077437180\nfull avg10=0.00 total=0\n"


def psi_file(tmp_path: Path, avg10: float) -> Path:
    path = tmp_path / "cpu"
    path.write_text(PSI.format(f"{avg10:.2f}"))
    return path


def test_pressure_is_the_some_avg10_share(tmp_path: Path) -> None:
    assert read_pressure(psi_file(tmp_path, 8.3)) == 8.3
    assert read_pressure(tmp_path / "absent") is None
    (tmp_path / "odd").write_text("some total=1\n")
    assert read_pressure(tmp_path / "odd") is None


@pytest.mark.parametrize(("avg10", "spare"), [(0.0, True), (PRESSURE_LIMIT - 0.1, True),
                                             (PRESSURE_LIMIT, False), (60.0, False)])
def test_a_core_is_spare_while_the_pressure_stays_low(tmp_path: Path, avg10: float,
                                                      spare: bool,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_pressure.os, "sched_getaffinity", lambda _: {0, 1})
    monkeypatch.setattr(cpu_pressure.os, "getloadavg", lambda: (0.5, 0.0, 0.0))
    assert spare_core(psi_file(tmp_path, avg10)) is spare


def test_one_cpu_has_none_to_spare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_pressure.os, "sched_getaffinity", lambda _: {0})
    assert spare_core(psi_file(tmp_path, 0.0)) is False


@pytest.mark.parametrize(("load", "spare"), [(1.3, True), (1.5, False), (2.7, False)])
def test_the_load_average_must_leave_a_core(tmp_path: Path, load: float, spare: bool,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_pressure.os, "sched_getaffinity", lambda _: {0, 1})
    monkeypatch.setattr(cpu_pressure.os, "getloadavg", lambda: (load, 0.0, 0.0))
    assert spare_core(tmp_path / "no-psi") is spare  # without pressure information
    assert spare_core(psi_file(tmp_path, 1.0)) is spare  # with little pressure
