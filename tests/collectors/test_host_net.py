"""NetCollector on fake /proc/net/dev and /sys/class/net: rates, which NICs count, link speed."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.net import NetCollector
from collectors.procfs import RESCAN_NS
from tests.collectors.host_fakes import Driver, FakeNode, absence_for, net_dev

RESCAN_S = RESCAN_NS / 1e9


def physical(node: FakeNode, name: str, speed: str | None = "25000") -> None:
    node.mkdir(f"sys/class/net/{name}/device")
    if speed is not None:
        node.write(f"sys/class/net/{name}/speed", speed + "\n")


def virtual(node: FakeNode, name: str) -> None:
    node.write(f"sys/class/net/{name}/speed", "10000\n")  # veth and tun report a speed too


def test_rates_and_speed_are_exact(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    physical(node, "eth0", "25000")
    node.write("proc/net/dev", net_dev({"eth0": (1_000_000, 5_000)}))
    d = Driver(NetCollector(tmp_path))
    assert d.tick(1.0).values == {("eth0", "nic.speed"): 25000 * 125_000.0}
    node.write("proc/net/dev", net_dev({"eth0": (1_500_000, 6_000)}))
    assert d.tick(1.5).values == pytest.approx({
        ("eth0", "nic.rx"): 1_000_000.0, ("eth0", "nic.tx"): 2_000.0,
        ("eth0", "nic.speed"): 3.125e9,
    })


def test_the_interface_rule_with_sysfs(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    physical(node, "eth0")
    physical(node, "ens1f0np0")
    node.mkdir("sys/class/net/bond0/bonding")
    node.mkdir("sys/class/net/ib0")  # IPoIB: kept even without a device link
    node.mkdir("sys/class/net/lo")
    skipped = ("veth1a2b3c", "docker0", "br-5f2e", "virbr0", "cali12ab", "flannel.1", "ifb0",
               "eth0.100")
    for name in skipped:
        virtual(node, name)
    names = ("lo", "eth0", "ens1f0np0", "bond0", "ib0", *skipped)
    node.write("proc/net/dev", net_dev({n: (0, 0) for n in names}))
    d = Driver(NetCollector(tmp_path))
    d.tick(0.0)
    node.write("proc/net/dev", net_dev({n: (100, 100) for n in names}))
    assert d.tick(1.0).entities("nic.rx") == {"eth0", "ens1f0np0", "bond0", "ib0"}
    assert d.absences() == []


def test_the_interface_rule_without_sysfs_goes_by_name(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    names = ("lo", "eth0", "enp3s0", "bond0", "ib1", "veth0", "docker0", "br-1", "virbr0",
             "cali0", "flannel.1", "ifb1")
    node.write("proc/net/dev", net_dev({n: (0, 0) for n in names}))
    d = Driver(NetCollector(tmp_path))
    d.tick(0.0)
    node.write("proc/net/dev", net_dev({n: (10, 10) for n in names}))
    tick = d.tick(1.0)
    assert tick.entities("nic.tx") == {"eth0", "enp3s0", "bond0", "ib1"}
    assert tick.entities("nic.speed") == set()


@pytest.mark.parametrize("speed", [pytest.param("-1", id="unknown"),
                                   pytest.param("0", id="zero"),
                                   pytest.param(None, id="unreadable")])
def test_no_speed_sample_when_the_speed_is_unknown(tmp_path: Path, speed: str | None) -> None:
    node = FakeNode(tmp_path)
    physical(node, "eth0", speed)
    node.write("proc/net/dev", net_dev({"eth0": (0, 0)}))
    d = Driver(NetCollector(tmp_path))
    d.tick(0.0)
    node.write("proc/net/dev", net_dev({"eth0": (10, 10)}))
    assert d.tick(1.0).metrics() == {"nic.rx", "nic.tx"}


def test_the_speed_is_reread_only_at_a_rescan(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    physical(node, "eth0", "10000")
    node.write("proc/net/dev", net_dev({"eth0": (0, 0)}))
    d = Driver(NetCollector(tmp_path))
    assert d.tick(0.0).get("eth0", "nic.speed") == 10000 * 125_000.0
    node.write("sys/class/net/eth0/speed", "100000\n")
    assert d.tick(1.0).get("eth0", "nic.speed") == 10000 * 125_000.0
    assert d.tick(RESCAN_S + 0.1).get("eth0", "nic.speed") == 100000 * 125_000.0


def test_old_format_without_a_space_after_the_colon(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    physical(node, "eth0")
    node.write("proc/net/dev", net_dev({}) + "  eth0:4294967295 1 0 0 0 0 0 0 17 2 0 0 0 0 0 0\n")
    d = Driver(NetCollector(tmp_path))
    d.tick(0.0)
    node.write("proc/net/dev", net_dev({}) + "  eth0:4294968295 1 0 0 0 0 0 0 27 2 0 0 0 0 0 0\n")
    tick = d.tick(1.0)
    assert (tick.get("eth0", "nic.rx"), tick.get("eth0", "nic.tx")) == (1000.0, 10.0)


def test_reset_and_interfaces_coming_and_going(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    physical(node, "eth0")
    physical(node, "eth1")
    node.write("proc/net/dev", net_dev({"eth0": (5000, 0), "eth1": (0, 0)}))
    d = Driver(NetCollector(tmp_path))
    d.tick(0.0)
    node.write("proc/net/dev", net_dev({"eth0": (100, 0)}))  # eth0 reset, eth1 gone
    tick = d.tick(1.0)
    assert tick.entities("nic.rx") == set()
    node.write("proc/net/dev", net_dev({"eth0": (300, 0), "eth1": (7000, 0)}))
    tick = d.tick(2.0)
    assert tick.entities("nic.rx") == {"eth0"} and tick.get("eth0", "nic.rx") == 200.0
    node.write("proc/net/dev", net_dev({"eth0": (300, 0), "eth1": (7500, 0)}))
    assert d.tick(3.0).get("eth1", "nic.rx") == 500.0


def test_an_interface_gone_at_a_rescan_tick_starts_afresh(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    physical(node, "eth0")
    physical(node, "eth1")
    node.write("proc/net/dev", net_dev({"eth0": (0, 0), "eth1": (1000, 0)}))
    d = Driver(NetCollector(tmp_path))
    d.tick(0.0)
    node.write("proc/net/dev", net_dev({"eth0": (0, 0)}))
    d.tick(RESCAN_S + 0.1)  # eth1 vanishes on the very tick the device list is re-read
    node.write("proc/net/dev", net_dev({"eth0": (0, 0), "eth1": (5000, 0)}))
    assert d.tick(RESCAN_S + 1.1).get("eth1", "nic.rx") is None
    node.write("proc/net/dev", net_dev({"eth0": (0, 0), "eth1": (5600, 0)}))
    assert d.tick(RESCAN_S + 2.1).get("eth1", "nic.rx") == pytest.approx(600.0)


def test_only_virtual_interfaces_is_an_absence_with_the_reason(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    node.mkdir("sys/class/net/lo")
    virtual(node, "eth0")  # a container's eth0 is a veth peer: no device link
    node.write("proc/net/dev", net_dev({"lo": (0, 0), "eth0": (0, 0)}))
    d = Driver(NetCollector(tmp_path))
    d.tick(0.0)
    assert d.tick(1.0).values == {}
    absence = absence_for(d.absences(), "nic.rx")
    assert absence is not None and "container" in absence.reason and "eth0" in absence.reason


def test_no_proc_net_dev_records_every_metric_absent(tmp_path: Path) -> None:
    d = Driver(NetCollector(tmp_path))
    assert d.tick(1.0).values == {}
    for metric in NetCollector.provides:
        absence = absence_for(d.absences(), metric)
        assert absence is not None and "not Linux" in absence.reason
