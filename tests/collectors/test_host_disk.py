"""DiskCollector on fake /proc/diskstats and /sys/class/block: rates, filters, wraps, hotplug."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from collectors.disk import DiskCollector
from collectors.procfs import RESCAN_NS, ProcFile
from tests.collectors.host_fakes import (
    Driver,
    FakeNode,
    absence_for,
    diskstats_line,
    fail_with,
)


def write_disks(node: FakeNode, *lines: str) -> None:
    node.write("proc/diskstats", "\n".join(lines) + "\n")


@pytest.mark.parametrize("fields", [pytest.param(14, id="14-fields-kernel<4.18"),
                                    pytest.param(18, id="18-fields-kernel<5.5"),
                                    pytest.param(20, id="20-fields")])
def test_rates_are_exact_for_every_line_width(tmp_path: Path, fields: int) -> None:
    node = FakeNode(tmp_path)
    write_disks(node, diskstats_line("sda", 5000, 8000, 1000, 4000, fields=fields))
    d = Driver(DiskCollector(tmp_path))
    assert d.tick(1.0).values == {}
    write_disks(node, diskstats_line("sda", 6000, 10000, 1250, 5500, fields=fields))
    assert d.tick(2.0).values == pytest.approx({
        ("sda", "disk.read"): 1000 * 512.0,  # sectors are 512 bytes, always
        ("sda", "disk.write"): 2000 * 512.0,
        ("sda", "disk.busy"): 0.25,
        ("sda", "disk.queue_depth"): 1.5,
    })
    write_disks(node, diskstats_line("sda", 6000, 12000, 1500, 5500, fields=fields))
    tick = d.tick(2.5)
    assert tick.get("sda", "disk.write") == pytest.approx(2000 * 512.0 / 0.5)
    assert tick.get("sda", "disk.busy") == pytest.approx(0.5)


def test_busy_is_clipped_to_one(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    write_disks(node, diskstats_line("nvme0n1", io_ms=0, weighted_ms=0))
    d = Driver(DiskCollector(tmp_path))
    d.tick(0.0)
    write_disks(node, diskstats_line("nvme0n1", io_ms=1040, weighted_ms=32000))
    tick = d.tick(1.0)
    assert tick.get("nvme0n1", "disk.busy") == 1.0
    assert tick.get("nvme0n1", "disk.queue_depth") == pytest.approx(32.0)


def test_partitions_are_skipped_as_sysfs_marks_them(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    for disk in ("sda", "md0", "dm-0", "nvme0n1"):
        node.mkdir(f"sys/class/block/{disk}")
    for part in ("sda1", "md0p1", "nvme0n1p2"):  # md0p1: no name pattern would catch it
        node.write(f"sys/class/block/{part}/partition", "1\n")
    names = ("sda", "sda1", "md0", "md0p1", "dm-0", "nvme0n1", "nvme0n1p2", "loop0", "ram0",
             "zram0", "fd0")
    write_disks(node, *(diskstats_line(n) for n in names))
    d = Driver(DiskCollector(tmp_path))
    d.tick(0.0)
    write_disks(node, *(diskstats_line(n, sectors_read=8) for n in names))
    assert d.tick(1.0).entities("disk.read") == {"sda", "md0", "dm-0", "nvme0n1"}


def test_without_sysfs_a_name_pattern_finds_partitions(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    names = ("sda", "sda1", "vdb", "vdb3", "xvda", "xvda1", "nvme1n1", "nvme1n1p1", "mmcblk0",
             "mmcblk0p1", "dm-3", "md127", "loop7", "sr0")
    write_disks(node, *(diskstats_line(n) for n in names))
    d = Driver(DiskCollector(tmp_path))
    d.tick(0.0)
    assert d.tick(1.0).entities("disk.busy") == {"sda", "vdb", "xvda", "nvme1n1", "mmcblk0",
                                                 "dm-3", "md127", "sr0"}


def test_old_kernels_short_partition_lines_are_ignored(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    write_disks(node, diskstats_line("hda", 10), "   3    1 hda1 6 12 3 4")
    d = Driver(DiskCollector(tmp_path))
    d.tick(0.0)
    write_disks(node, diskstats_line("hda", 20), "   3    1 hda1 8 16 3 4")
    assert d.tick(1.0).entities("disk.read") == {"hda"}


def test_a_counter_reset_drops_one_interval_then_rates_resume(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    write_disks(node, diskstats_line("sdb", sectors_read=90_000))
    d = Driver(DiskCollector(tmp_path))
    d.tick(0.0)
    write_disks(node, diskstats_line("sdb", sectors_read=100_000))
    assert d.tick(1.0).get("sdb", "disk.read") == pytest.approx(10_000 * 512.0)
    write_disks(node, diskstats_line("sdb", sectors_read=50))  # the driver was reloaded
    assert d.tick(2.0).get("sdb", "disk.read") is None
    write_disks(node, diskstats_line("sdb", sectors_read=1050))
    assert d.tick(3.0).get("sdb", "disk.read") == pytest.approx(1000 * 512.0)


def test_32_bit_millisecond_counters_wrap_exactly(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    top = 2**32
    write_disks(node, diskstats_line("sdc", io_ms=top - 400, weighted_ms=top - 1000))
    d = Driver(DiskCollector(tmp_path))
    d.tick(0.0)
    write_disks(node, diskstats_line("sdc", io_ms=600, weighted_ms=3000))
    tick = d.tick(2.0)
    assert tick.get("sdc", "disk.busy") == pytest.approx(0.5)
    assert tick.get("sdc", "disk.queue_depth") == pytest.approx(2.0)


def test_disks_appearing_and_vanishing_mid_run(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    sda = [diskstats_line("sda", sectors_read=1000 * i) for i in range(7)]
    write_disks(node, sda[0])
    d = Driver(DiskCollector(tmp_path))
    d.tick(0.0)
    write_disks(node, sda[1], diskstats_line("sdb", sectors_written=0))
    tick = d.tick(1.0)
    assert tick.entities("disk.write") == {"sda"}  # sdb's first reading gives no rate
    assert tick.events == [("sdb", "note", "disk sdb appeared")]
    write_disks(node, sda[2], diskstats_line("sdb", sectors_written=4000))
    assert d.tick(2.0).get("sdb", "disk.write") == pytest.approx(4000 * 512.0)
    write_disks(node, sda[3])
    tick = d.tick(3.0)
    assert tick.entities("disk.write") == {"sda"}
    assert tick.events == [("sdb", "note", "disk sdb disappeared")]
    # Back with counters that restarted: again no rate from its first reading.
    write_disks(node, sda[4], diskstats_line("sdb", sectors_written=100))
    assert d.tick(4.0).entities("disk.write") == {"sda"}
    write_disks(node, sda[5], diskstats_line("sdb", sectors_written=300))
    assert d.tick(5.0).get("sdb", "disk.write") == pytest.approx(200 * 512.0)


def test_partition_flags_are_rechecked_after_a_rescan(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    node.mkdir("sys/class/block/sdx")
    write_disks(node, diskstats_line("sdx"))
    d = Driver(DiskCollector(tmp_path))
    d.tick(0.0)
    assert d.tick(1.0).entities("disk.read") == {"sdx"}
    node.write("sys/class/block/sdx/partition", "1\n")  # the name now belongs to a partition
    assert d.tick(2.0).entities("disk.read") == {"sdx"}  # cached until the next rescan
    assert d.tick(RESCAN_NS / 1e9 + 0.5).entities("disk.read") == set()


def test_a_read_error_mid_run_skips_that_tick(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    node = FakeNode(tmp_path)
    write_disks(node, diskstats_line("sda", 0))
    d = Driver(DiskCollector(tmp_path))
    d.tick(0.0)
    with monkeypatch.context() as m:
        m.setattr(ProcFile, "read", fail_with(errno.EIO))
        assert d.tick(1.0).values == {}
    write_disks(node, diskstats_line("sda", 2000))
    assert d.tick(2.0).get("sda", "disk.read") == pytest.approx(1000 * 512.0)


def test_garbage_fields_skip_only_that_value(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    write_disks(node, diskstats_line("sda", 0, 0))
    d = Driver(DiskCollector(tmp_path))
    d.tick(0.0)
    write_disks(node, diskstats_line("sda", 1000, 0).replace(" 1000 ", " x1000 "))
    tick = d.tick(1.0)
    assert "disk.read" not in tick.metrics() and tick.get("sda", "disk.write") == 0.0


def test_no_diskstats_records_every_metric_absent(tmp_path: Path) -> None:
    d = Driver(DiskCollector(tmp_path))
    assert d.tick(1.0).values == {}
    for metric in DiskCollector.provides:
        absence = absence_for(d.absences(), metric)
        assert absence is not None and "not Linux" in absence.reason
