"""CpuCollector on fake /proc/stat trees: exact shares, busiest cores, CPU hotplug, absence."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from collectors.cpu import CpuCollector, parse_stat
from collectors.procfs import ProcFile
from tests.collectors.host_fakes import (
    Driver,
    FakeNode,
    absence_for,
    cpu_ticks,
    fail_with,
    proc_stat,
)

HOST_MODES = ("host.cpu.user", "host.cpu.system", "host.cpu.iowait", "host.cpu.steal",
              "host.cpu.idle")


@pytest.fixture
def node(tmp_path: Path) -> FakeNode:
    node = FakeNode(tmp_path)
    node.write("proc/loadavg", "0.21 0.37 0.39 1/470 12345\n")
    return node


def drive(node: FakeNode, top_cores: int = 2) -> Driver:
    return Driver(CpuCollector(node.root, top_cores=top_cores))


def test_first_tick_gives_counts_and_load_but_no_shares(node: FakeNode) -> None:
    node.write("proc/stat", proc_stat({0: cpu_ticks(idle=100), 1: cpu_ticks(idle=100)},
                                      running=3, blocked=2))
    tick = drive(node).tick(1.0)
    assert tick.values == {("host", "host.cpu.count"): 2.0, ("host", "host.procs_running"): 3.0,
                           ("host", "host.procs_blocked"): 2.0, ("host", "host.load1"): 0.21}


def test_shares_are_exact_and_guest_time_is_not_counted_twice(node: FakeNode) -> None:
    node.write("proc/stat", proc_stat({0: cpu_ticks(), 1: cpu_ticks()}))
    d = drive(node)
    d.tick(1.0)
    # cpu0: 200 ticks, of which guest 30 is already inside user 50.
    node.write("proc/stat", proc_stat({
        0: cpu_ticks(user=50, nice=10, system=20, idle=100, iowait=10, irq=5, softirq=5, guest=30),
        1: cpu_ticks(idle=190, steal=10),
    }))
    tick = d.tick(2.0)
    assert [tick.get("host", m) for m in HOST_MODES] == pytest.approx(
        [60 / 400, 30 / 400, 10 / 400, 10 / 400, 290 / 400])
    assert sum(tick.get("host", m) or 0.0 for m in HOST_MODES) == pytest.approx(1.0)
    assert tick.get("host", "host.cpu.core_busy_max") == pytest.approx(1 - 110 / 200)
    assert tick.get("host", "host.cpu.cores_saturated") == 0.0
    assert tick.get("cpu0", "cpu.busy") == pytest.approx(0.45)
    assert tick.get("cpu0", "cpu.user") == pytest.approx(0.30)
    assert tick.get("cpu0", "cpu.system") == pytest.approx(0.15)
    assert tick.get("cpu0", "cpu.iowait") == pytest.approx(0.05)
    assert tick.get("cpu1", "cpu.busy") == pytest.approx(0.05)  # steal is busy, not idle


def test_only_the_busiest_cores_are_reported(node: FakeNode) -> None:
    busy = {0: 95, 1: 20, 2: 99, 3: 50, 4: 90}
    node.write("proc/stat", proc_stat({i: cpu_ticks() for i in busy}))
    d = drive(node, top_cores=2)
    d.tick(0.0)
    node.write("proc/stat",
               proc_stat({i: cpu_ticks(user=b, idle=100 - b) for i, b in busy.items()}))
    tick = d.tick(0.1)
    assert tick.entities("cpu.busy") == {"cpu2", "cpu0"}
    assert tick.get("cpu2", "cpu.busy") == pytest.approx(0.99)
    assert tick.get("cpu0", "cpu.user") == pytest.approx(0.95)
    assert tick.get("host", "host.cpu.core_busy_max") == pytest.approx(0.99)
    assert tick.get("host", "host.cpu.cores_saturated") == 3.0  # 95, 99 and exactly 90 %
    assert tick.get("host", "host.cpu.count") == 5.0


def test_no_per_core_rows_when_top_cores_is_zero(node: FakeNode) -> None:
    node.write("proc/stat", proc_stat({0: cpu_ticks()}))
    d = drive(node, top_cores=0)
    d.tick(0.0)
    node.write("proc/stat", proc_stat({0: cpu_ticks(user=10)}))
    assert d.tick(1.0).entities("cpu.busy") == set()


def test_cpus_going_offline_and_online_count_only_while_present(node: FakeNode) -> None:
    node.write("proc/stat", proc_stat({0: cpu_ticks(idle=0), 1: cpu_ticks(idle=0),
                                       2: cpu_ticks(idle=0)}))
    d = drive(node)
    d.tick(0.0)
    # cpu1 goes offline: the interval counts cpu0 (all user) and cpu2 (all idle).
    node.write("proc/stat", proc_stat({0: cpu_ticks(user=100), 2: cpu_ticks(idle=100)}))
    tick = d.tick(1.0)
    assert tick.get("host", "host.cpu.count") == 2.0
    assert tick.get("host", "host.cpu.user") == pytest.approx(0.5)
    assert "cpu1" not in tick.entities("cpu.busy")
    # cpu1 is back, with an idle count lower than before it left: not in this interval.
    node.write("proc/stat", proc_stat({0: cpu_ticks(user=200), 1: cpu_ticks(user=5),
                                       2: cpu_ticks(idle=200)}))
    tick = d.tick(2.0)
    assert tick.get("host", "host.cpu.count") == 3.0
    assert tick.get("host", "host.cpu.user") == pytest.approx(0.5)
    # From now on cpu1 counts again.
    node.write("proc/stat", proc_stat({0: cpu_ticks(user=200, idle=100), 1: cpu_ticks(user=105),
                                       2: cpu_ticks(idle=300)}))
    tick = d.tick(3.0)
    assert tick.get("host", "host.cpu.user") == pytest.approx(100 / 300)
    assert tick.get("cpu1", "cpu.busy") == pytest.approx(1.0)


def test_a_core_whose_counters_went_backwards_is_left_out(node: FakeNode) -> None:
    node.write("proc/stat", proc_stat({0: cpu_ticks(user=500), 1: cpu_ticks(idle=500)}))
    d = drive(node)
    d.tick(0.0)
    node.write("proc/stat", proc_stat({0: cpu_ticks(user=600), 1: cpu_ticks(idle=400, user=10)}))
    tick = d.tick(1.0)
    assert tick.get("host", "host.cpu.user") == pytest.approx(1.0)  # cpu0 only
    assert tick.entities("cpu.busy") == {"cpu0"}


def test_no_shares_from_an_interval_without_ticks(node: FakeNode) -> None:
    node.write("proc/stat", proc_stat({0: cpu_ticks(idle=5)}))
    d = drive(node)
    d.tick(0.0)
    tick = d.tick(0.01)  # nothing moved
    assert "host.cpu.user" not in tick.metrics()
    assert tick.get("host", "host.cpu.count") == 1.0


def test_a_malformed_stat_skips_the_tick_without_raising(node: FakeNode) -> None:
    node.write("proc/stat", proc_stat({0: cpu_ticks(idle=5)}))
    d = drive(node)
    d.tick(0.0)
    node.write("proc/stat", "cpu  1 2 3\ncpu0 1 2 x 4 5 6 7 8 9 10\n")
    assert d.tick(1.0).values == {}
    node.write("proc/stat", "cpu  1 2 3\ncpu0 1 2 3 4 5 6 7 8 9 10\ncpu1 1 2 3\n")
    assert d.tick(2.0).values == {}
    node.write("proc/stat", proc_stat({0: cpu_ticks(user=10, idle=15)}))
    d.tick(3.0)
    node.write("proc/stat", proc_stat({0: cpu_ticks(user=20, idle=25)}))
    assert d.tick(4.0).get("host", "host.cpu.user") == pytest.approx(0.5)


def test_an_unreadable_stat_skips_the_tick_without_raising(
        node: FakeNode, monkeypatch: pytest.MonkeyPatch) -> None:
    node.write("proc/stat", proc_stat({0: cpu_ticks(idle=5)}))
    d = drive(node)
    d.tick(0.0)
    with monkeypatch.context() as m:
        m.setattr(ProcFile, "read", fail_with(errno.EIO))
        assert d.tick(1.0).values == {}
    node.write("proc/stat", proc_stat({0: cpu_ticks(user=10, idle=15)}))
    assert d.tick(2.0).get("host", "host.cpu.user") == pytest.approx(10 / 20)


def test_no_proc_stat_records_every_metric_absent_with_the_reason(tmp_path: Path) -> None:
    d = Driver(CpuCollector(tmp_path))
    assert d.tick(1.0).values == {}
    for metric in CpuCollector.provides:
        absence = absence_for(d.absences(), metric)
        assert absence is not None and "not Linux" in absence.reason


def test_no_loadavg_is_an_absence_of_load1_only(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    node.write("proc/stat", proc_stat({0: cpu_ticks(idle=5)}))
    d = Driver(CpuCollector(tmp_path))
    assert "host.load1" not in d.tick(1.0).metrics()
    assert [a.what for a in d.absences()] == ["host.load1"]


@pytest.mark.parametrize("width", [pytest.param(7, id="2.6.0-no-steal"),
                                   pytest.param(8, id="no-guest"),
                                   pytest.param(10, id="guest_nice")])
def test_parse_stat_reads_old_and_new_line_widths(width: int) -> None:
    ticks = cpu_ticks(user=1, nice=2, system=3, idle=4, iowait=5, irq=6, softirq=7, steal=8)
    stat = parse_stat(proc_stat({0: ticks[:width], 12: ticks[:width]}))
    assert stat.ids.tolist() == [0, 12]
    assert stat.ticks[1].tolist() == [1, 2, 3, 4, 5, 6, 7, 8 if width >= 8 else 0]
    assert (stat.running, stat.blocked) == (1, 0)


def test_host_info_reads_the_tree(node: FakeNode) -> None:
    node.write("proc/stat", proc_stat({i: cpu_ticks() for i in range(4)}))
    node.write("proc/meminfo", "MemTotal:       528277584 kB\nMemFree:  1 kB\n")
    node.write("proc/sys/kernel/osrelease", "6.8.0-fake\n")
    for name in ("node0", "node1", "possible"):
        node.mkdir(f"sys/devices/system/node/{name}")
    collector = CpuCollector(node.root)
    collector.open("gpu-node-7")
    info = collector.host_info()
    assert (info.name, info.cpu_count, info.mem_total, info.numa_nodes, info.kernel) == (
        "gpu-node-7", 4, 528277584 * 1024.0, 2, "6.8.0-fake")


def test_host_info_says_unknown_rather_than_guessing(tmp_path: Path) -> None:
    info = CpuCollector(tmp_path).host_info()
    assert (info.cpu_count, info.mem_total, info.numa_nodes, info.kernel) == (None,) * 4
