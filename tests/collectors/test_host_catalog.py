"""Every host collector speaks catalog names only, keeps to what it provides, and registers."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.base import COLLECTORS, Collector
from collectors.host import host_collectors
from profiler.catalog import METRICS, kind_of
from tests.collectors.host_fakes import (
    Driver,
    FakeNode,
    Tick,
    cpu_ticks,
    diskstats_line,
    net_dev,
    proc_stat,
    psi,
)

NAMES = [type(c).__name__ for c in host_collectors()]


def full_node(node: FakeNode, step: int) -> None:
    """Every file any host collector reads, with counters that grow with `step`."""
    s = step
    node.write("proc/stat", proc_stat({0: cpu_ticks(user=90 * s, idle=10 * s),
                                       1: cpu_ticks(system=5 * s, idle=95 * s, iowait=s)}))
    node.write("proc/loadavg", "1.50 0.37 0.39 2/470 12345\n")
    node.write("proc/meminfo", "MemTotal: 1000 kB\nMemAvailable: 500 kB\nSwapTotal: 100 kB\n"
                               "SwapFree: 40 kB\n")
    node.write("proc/vmstat", f"pswpin {3 * s}\npswpout {4 * s}\npgmajfault {5 * s}\n")
    for resource in ("cpu", "io", "memory"):
        node.write(f"proc/pressure/{resource}", psi(1000 * s, 500 * s))
    node.write("proc/diskstats", diskstats_line("nvme0n1", 8 * s, 16 * s, 10 * s, 20 * s) + "\n")
    node.write("proc/net/dev", net_dev({"lo": (s, s), "eth0": (100 * s, 50 * s)}))
    node.mkdir("sys/class/net/eth0/device")
    node.write("sys/class/net/eth0/speed", "100000\n")
    base = "sys/class/infiniband/mlx5_0/ports/1"
    for counter in ("port_rcv_data", "port_xmit_data", "port_xmit_wait"):
        node.write(f"{base}/counters/{counter}", f"{7 * s}\n")
    node.write(f"{base}/rate", "200 Gb/sec (4X HDR)\n")


@pytest.fixture
def fake_ticks(tmp_path: Path) -> dict[str, list[Tick]]:
    node = FakeNode(tmp_path)
    full_node(node, 1)
    drivers = {type(c).__name__: Driver(c) for c in host_collectors(tmp_path)}
    ticks: dict[str, list[Tick]] = {name: [] for name in drivers}
    for step in (1, 2, 3):
        full_node(node, step)
        for name, d in drivers.items():
            ticks[name].append(d.tick(float(step)))
    for d in drivers.values():
        d.close()
    return ticks


@pytest.mark.parametrize("collector", host_collectors(), ids=NAMES)
def test_provides_only_catalog_names_and_is_registered(collector: Collector) -> None:
    assert set(collector.provides) <= set(METRICS)
    assert len(set(collector.provides)) == len(collector.provides)
    assert COLLECTORS[collector.name] is type(collector)


@pytest.mark.parametrize("name", NAMES)
def test_on_a_full_fake_node_emits_exactly_what_it_provides(
        fake_ticks: dict[str, list[Tick]], name: str) -> None:
    provides = {c.provides for c in host_collectors() if type(c).__name__ == name}.pop()
    emitted = {m for tick in fake_ticks[name] for m in tick.metrics()}
    assert emitted == set(provides)
    for tick in fake_ticks[name]:
        for entity, metric in tick.values:
            _check_entity(entity, metric)


@pytest.mark.skipif(not Path("/proc/stat").is_file(), reason="needs Linux /proc")
@pytest.mark.parametrize("collector", host_collectors(), ids=NAMES)
def test_on_this_machine_emits_only_what_it_provides(collector: Collector) -> None:
    d = Driver(collector)
    ticks = d.live_ticks(2, gap_s=0.05)
    d.close()
    for tick in ticks:
        assert tick.metrics() <= set(collector.provides)
        for entity, metric in tick.values:
            _check_entity(entity, metric)
    for absence in d.absences():
        assert any(absence.covers(m) for m in collector.provides), absence


def _check_entity(entity: str, metric: str) -> None:
    kind = kind_of(metric)
    if kind == "host":
        assert entity == "host", (entity, metric)
    elif kind == "cpu":
        assert entity.startswith("cpu") and entity[3:].isdigit(), (entity, metric)
    elif kind == "link":
        assert ":" in entity, (entity, metric)
    else:
        assert entity not in ("host", ""), (entity, metric)
