"""The host collectors on this machine: real files, real load, checked against psutil."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil
import pytest

from collectors.cpu import CpuCollector
from collectors.disk import DiskCollector
from collectors.infiniband import InfinibandCollector
from collectors.memory import MemoryCollector
from collectors.net import NetCollector
from collectors.pressure import PressureCollector
from tests.collectors.host_fakes import Driver, absence_for

pytestmark = pytest.mark.skipif(not Path("/proc/stat").is_file(), reason="needs Linux /proc")

HOST_MODES = ("host.cpu.user", "host.cpu.system", "host.cpu.iowait", "host.cpu.steal",
              "host.cpu.idle")


def test_cpu_shares_are_sane_and_the_count_matches_psutil() -> None:
    d = Driver(CpuCollector())
    ticks = d.live_ticks(3)
    d.close()
    for tick in ticks:
        assert tick.get("host", "host.cpu.count") == psutil.cpu_count()
        assert (tick.get("host", "host.procs_running") or 0) >= 1  # this test is running
        assert (tick.get("host", "host.load1") or -1) >= 0
    seen = [t for t in ticks[1:] if t.get("host", "host.cpu.idle") is not None]
    assert seen, "no interval had any CPU ticks"
    for tick in seen:
        shares = [tick.get("host", m) for m in HOST_MODES]
        assert all(s is not None and 0.0 <= s <= 1.0 for s in shares)
        assert sum(s or 0.0 for s in shares) == pytest.approx(1.0)
        busy = [v for (e, m), v in tick.values.items() if m == "cpu.busy"]
        assert 1 <= len(busy) <= 2 and max(busy) == tick.get("host", "host.cpu.core_busy_max")


def test_cpu_collector_sees_this_process_burning_cpu() -> None:
    d = Driver(CpuCollector())
    [before] = d.live_ticks(1)
    used0 = os.times().user
    deadline = time.monotonic() + 0.5
    x = 0
    while time.monotonic() < deadline:
        x += 1
    used = os.times().user - used0
    [after] = d.live_ticks(1)
    d.close()
    assert used > 0.1, "this test got almost no CPU; the machine is overloaded"
    user_share = after.get("host", "host.cpu.user")
    assert user_share is not None
    host_user_s = user_share * psutil.cpu_count() * (after.ts_s - before.ts_s)
    # All user time on the host includes ours (USER_HZ ticks: allow a few ticks of rounding).
    assert host_user_s >= 0.7 * used - 0.03
    assert (after.get("host", "host.cpu.core_busy_max") or 0.0) >= 0.5


def test_memory_matches_psutil() -> None:
    d = Driver(MemoryCollector())
    ticks = d.live_ticks(3)
    d.close()
    last = ticks[-1]
    assert last.get("host", "host.mem_total") == psutil.virtual_memory().total
    assert last.get("host", "host.swap_total") == psutil.swap_memory().total
    available = last.get("host", "host.mem_available")
    assert available is not None and 0 < available <= psutil.virtual_memory().total
    swap_used = last.get("host", "host.swap_used")
    assert swap_used is not None and 0 <= swap_used <= psutil.swap_memory().total
    for metric in ("host.swap_in", "host.swap_out", "host.major_faults"):
        value = last.get("host", metric)
        assert value is not None and value >= 0


def test_pressure_is_a_share_or_a_reasoned_absence() -> None:
    d = Driver(PressureCollector())
    ticks = d.live_ticks(3)
    d.close()
    emitted = {m for t in ticks for m in t.metrics()}
    for metric in PressureCollector.provides:
        if metric in emitted:
            assert all(0.0 <= (t.get("host", metric) or 0.0) <= 1.0 for t in ticks)
        else:
            absence = absence_for(d.absences(), metric)
            assert absence is not None and absence.reason


def _disk_of(path: Path) -> str | None:
    """The whole disk in /proc/diskstats that holds `path`, or None (tmpfs, overlay, NFS)."""
    dev = os.stat(path).st_dev
    node = Path(f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}")
    if not node.exists():
        return None
    node = node.resolve()
    return node.parent.name if (node / "partition").exists() else node.name


def test_disk_names_are_psutils_and_a_synced_write_is_seen(tmp_path: Path) -> None:
    d = Driver(DiskCollector())
    [first] = d.live_ticks(1)
    size = 8 << 20
    with open(tmp_path / "blob", "wb") as f:
        f.write(os.urandom(size))
        f.flush()
        os.fsync(f.fileno())
    [after] = d.live_ticks(1)
    d.close()
    disks = after.entities("disk.write")
    assert disks <= set(psutil.disk_io_counters(perdisk=True))
    assert not any(n.startswith(("loop", "ram", "zram")) for n in disks)
    for (_, metric), value in after.values.items():
        assert value >= 0 and (metric != "disk.busy" or value <= 1.0)
    disk = _disk_of(tmp_path)
    if disk is None or disk not in disks:
        pytest.skip(f"{tmp_path} is not on a disk in /proc/diskstats here")
    written = (after.get(disk, "disk.write") or 0.0) * (after.ts_s - first.ts_s)
    assert written >= 0.9 * size


def test_nic_names_are_psutils_physical_ones() -> None:
    d = Driver(NetCollector())
    ticks = d.live_ticks(3)
    d.close()
    nics = {e for t in ticks for e in t.entities("nic.rx")}
    assert nics <= set(psutil.net_io_counters(pernic=True))
    assert "lo" not in nics
    if not nics:
        assert absence_for(d.absences(), "nic.rx") is not None
    for tick in ticks:
        assert all(v >= 0 for v in tick.values.values())


def test_infiniband_here_or_its_absence() -> None:
    d = Driver(InfinibandCollector())
    ticks = d.live_ticks(2)
    d.close()
    if not Path("/sys/class/infiniband").is_dir():
        assert [a.reason for a in d.absences()] == [
            "no InfiniBand/RoCE devices (/sys/class/infiniband absent)"]
        assert ticks[-1].values == {}
    else:
        assert all(v >= 0 for v in ticks[-1].values.values())


def test_host_info_matches_psutil() -> None:
    collector = CpuCollector()
    collector.open("this-node")
    info = collector.host_info()
    collector.close()
    assert info.name == "this-node"
    assert info.cpu_count == psutil.cpu_count()
    assert info.mem_total == psutil.virtual_memory().total
    assert info.kernel == os.uname().release
    assert info.numa_nodes is None or info.numa_nodes >= 1
