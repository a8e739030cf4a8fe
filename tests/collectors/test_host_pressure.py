"""PressureCollector on fake /proc/pressure files: stall shares, clipping, resets, PSI missing."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from collectors.pressure import PressureCollector, parse_psi
from collectors.procfs import ProcFile
from tests.collectors.host_fakes import Driver, FakeNode, absence_for, fail_with, psi


def write_psi(node: FakeNode, cpu: int, io: tuple[int, int], memory: tuple[int, int]) -> None:
    node.write("proc/pressure/cpu", psi(cpu, 0))  # kernel >= 5.13 also writes a cpu "full" line
    node.write("proc/pressure/io", psi(*io))
    node.write("proc/pressure/memory", psi(*memory))


def test_stall_share_is_the_rate_of_total_microseconds(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    write_psi(node, 159229614, (1000, 500), (0, 0))
    d = Driver(PressureCollector(tmp_path))
    assert d.tick(100.0).values == {}
    write_psi(node, 159229614 + 250_000, (1000 + 500_000, 500 + 100_000), (0, 0))
    assert d.tick(101.0).values == pytest.approx({
        ("host", "host.psi.cpu_some"): 0.25, ("host", "host.psi.io_some"): 0.5,
        ("host", "host.psi.io_full"): 0.1, ("host", "host.psi.memory_some"): 0.0,
        ("host", "host.psi.memory_full"): 0.0,
    })
    write_psi(node, 159229614 + 300_000, (501_000 + 100_000, 100_500), (0, 0))
    tick = d.tick(101.5)
    assert tick.get("host", "host.psi.cpu_some") == pytest.approx(0.1)
    assert tick.get("host", "host.psi.io_some") == pytest.approx(0.2)


def test_shares_are_clipped_to_one_and_a_reset_drops_the_interval(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    write_psi(node, 0, (0, 0), (5_000_000, 0))
    d = Driver(PressureCollector(tmp_path))
    d.tick(0.0)
    write_psi(node, 0, (0, 0), (7_000_000, 0))  # 2 s of stall in 1 s: rounding in the kernel
    assert d.tick(1.0).get("host", "host.psi.memory_some") == 1.0
    write_psi(node, 0, (0, 0), (100, 0))
    assert d.tick(2.0).get("host", "host.psi.memory_some") is None
    write_psi(node, 0, (0, 0), (300_100, 0))
    assert d.tick(3.0).get("host", "host.psi.memory_some") == pytest.approx(0.3)


def test_missing_psi_is_one_absence_with_the_reason(tmp_path: Path) -> None:
    FakeNode(tmp_path).mkdir("proc")
    d = Driver(PressureCollector(tmp_path))
    assert d.tick(1.0).values == {}
    assert d.tick(2.0).values == {}
    assert len(d.absences()) == 1
    absence = d.absences()[0]
    assert absence.what == "host.psi.*"
    assert absence.reason.startswith("PSI not available")
    assert "4.20" in absence.reason and "CONFIG_PSI" in absence.reason and "psi=1" in absence.reason
    assert all(absence.covers(m) for m in PressureCollector.provides)


def test_psi_disabled_at_boot_gives_eopnotsupp_and_one_absence(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_psi(FakeNode(tmp_path), 0, (0, 0), (0, 0))
    monkeypatch.setattr(ProcFile, "read", fail_with(errno.EOPNOTSUPP))
    d = Driver(PressureCollector(tmp_path))
    assert d.tick(1.0).values == {}
    assert [a.what for a in d.absences()] == ["host.psi.*"]
    assert "EOPNOTSUPP" in d.absences()[0].reason and "psi=1" in d.absences()[0].reason


def test_one_missing_file_makes_only_its_metrics_absent(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    node.write("proc/pressure/io", psi(0, 0))
    node.write("proc/pressure/memory", psi(0, 0))
    d = Driver(PressureCollector(tmp_path))
    d.tick(0.0)
    node.write("proc/pressure/io", psi(100_000, 0))
    assert d.tick(1.0).metrics() == {"host.psi.io_some", "host.psi.io_full",
                                     "host.psi.memory_some", "host.psi.memory_full"}
    assert absence_for(d.absences(), "host.psi.cpu_some") is not None
    assert absence_for(d.absences(), "host.psi.io_some") is None


def test_a_read_error_mid_run_skips_that_tick(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    node = FakeNode(tmp_path)
    write_psi(node, 0, (0, 0), (0, 0))
    d = Driver(PressureCollector(tmp_path))
    d.tick(0.0)
    with monkeypatch.context() as m:
        m.setattr(ProcFile, "read", fail_with(errno.EIO))
        assert d.tick(1.0).values == {}
    write_psi(node, 400_000, (0, 0), (0, 0))
    assert d.tick(2.0).get("host", "host.psi.cpu_some") == pytest.approx(0.2)
    assert d.absences() == []


def test_parse_psi_reads_some_and_full() -> None:
    text = ("some avg10=0.00 avg60=0.02 avg300=0.06 total=81546573\n"
            "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
    assert parse_psi(text) == {"some": 81546573, "full": 0}
    with pytest.raises(ValueError):
        parse_psi("some avg10=0.00 total=12x\n")
