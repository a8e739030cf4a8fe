"""MemoryCollector on fake /proc/meminfo and /proc/vmstat: bytes, rates, resets, absence."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from collectors.memory import MemoryCollector
from tests.collectors.host_fakes import Driver, FakeNode, absence_for

PAGE = os.sysconf("SC_PAGE_SIZE")


def meminfo(total: int = 528277584, available: int | None = 401234560, swap_total: int = 8388604,
            swap_free: int = 8388000) -> str:
    lines = [f"MemTotal:       {total} kB", "MemFree:         1234 kB"]
    if available is not None:
        lines.append(f"MemAvailable:   {available} kB")
    lines += ["Cached:          4321 kB", "SwapCached:        12 kB", "Active(anon):     7 kB",
              f"SwapTotal:      {swap_total} kB", f"SwapFree:       {swap_free} kB",
              "Dirty:             1024 kB", "HugePages_Total:       0"]
    return "\n".join(lines) + "\n"


def vmstat(pswpin: int, pswpout: int, pgmajfault: int) -> str:
    return (f"nr_free_pages 123\npgpgin 7344136\npgpgout 99\npswpin {pswpin}\n"
            f"pswpout {pswpout}\npgfault 2320168809\npgmajfault {pgmajfault}\noom_kill 0\n")


@pytest.fixture
def node(tmp_path: Path) -> FakeNode:
    node = FakeNode(tmp_path)
    node.write("proc/meminfo", meminfo())
    node.write("proc/vmstat", vmstat(0, 0, 0))
    return node


def test_sizes_are_kib_times_1024_from_the_first_tick(node: FakeNode) -> None:
    tick = Driver(MemoryCollector(node.root)).tick(1.0)
    assert tick.values == {
        ("host", "host.mem_total"): 528277584 * 1024.0,
        ("host", "host.mem_available"): 401234560 * 1024.0,
        ("host", "host.swap_total"): 8388604 * 1024.0,
        ("host", "host.swap_used"): (8388604 - 8388000) * 1024.0,
    }


def test_swap_traffic_is_pages_times_page_size_per_second(node: FakeNode) -> None:
    d = Driver(MemoryCollector(node.root))
    node.write("proc/vmstat", vmstat(1000, 2000, 500))
    d.tick(10.0)
    node.write("proc/vmstat", vmstat(1100, 2400, 550))
    tick = d.tick(10.5)
    assert tick.get("host", "host.swap_in") == pytest.approx(200 * PAGE)
    assert tick.get("host", "host.swap_out") == pytest.approx(800 * PAGE)
    assert tick.get("host", "host.major_faults") == pytest.approx(100.0)


def test_a_counter_reset_drops_one_interval(node: FakeNode) -> None:
    d = Driver(MemoryCollector(node.root))
    for t, faults in ((0.0, 500), (1.0, 600)):
        node.write("proc/vmstat", vmstat(0, 0, faults))
        d.tick(t)
    node.write("proc/vmstat", vmstat(0, 0, 10))
    assert d.tick(2.0).get("host", "host.major_faults") is None
    node.write("proc/vmstat", vmstat(0, 0, 40))
    assert d.tick(3.0).get("host", "host.major_faults") == pytest.approx(30.0)


def test_a_kernel_without_memavailable_says_so(node: FakeNode) -> None:
    node.write("proc/meminfo", meminfo(available=None))
    d = Driver(MemoryCollector(node.root))
    tick = d.tick(1.0)
    assert "host.mem_available" not in tick.metrics()
    assert tick.get("host", "host.mem_total") == 528277584 * 1024.0
    absence = absence_for(d.absences(), "host.mem_available")
    assert absence is not None and "3.14" in absence.reason
    assert absence_for(d.absences(), "host.mem_total") is None


def test_no_proc_records_every_metric_absent(tmp_path: Path) -> None:
    d = Driver(MemoryCollector(tmp_path))
    assert d.tick(1.0).values == {}
    for metric in MemoryCollector.provides:
        absence = absence_for(d.absences(), metric)
        assert absence is not None and "not Linux" in absence.reason
