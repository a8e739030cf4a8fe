"""InfinibandCollector on fake /sys/class/infiniband trees: x4 words, rate, N/A, saturation."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from collectors.infiniband import InfinibandCollector, parse_rate
from collectors.procfs import RESCAN_NS, ProcFile
from tests.collectors.host_fakes import Driver, FakeNode, absence_for, fail_with

RESCAN_S = RESCAN_NS / 1e9
MAX32 = 2**32 - 1


def port(node: FakeNode, dev: str, number: int, rcv: int | str, xmit: int | str,
         wait: int | str = 0, rate: str = "400 Gb/sec (4X NDR)") -> None:
    base = f"sys/class/infiniband/{dev}/ports/{number}"
    node.write(f"{base}/counters/port_rcv_data", f"{rcv}\n")
    node.write(f"{base}/counters/port_xmit_data", f"{xmit}\n")
    node.write(f"{base}/counters/port_xmit_wait", f"{wait}\n")
    node.write(f"{base}/rate", rate + "\n")
    node.write(f"{base}/state", "4: ACTIVE\n")
    node.write(f"{base}/link_layer", "InfiniBand\n")


def test_data_counters_count_4_octet_words(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    port(node, "mlx5_0", 1, rcv=4631917, xmit=1000, wait=50)
    d = Driver(InfinibandCollector(tmp_path))
    assert d.tick(1.0).values == {("mlx5_0:1", "ib.rate"): 400 * 125e6}
    port(node, "mlx5_0", 1, rcv=4631917 + 2500, xmit=2000, wait=350)
    assert d.tick(2.0).values == pytest.approx({
        ("mlx5_0:1", "ib.rx"): 10_000.0, ("mlx5_0:1", "ib.tx"): 4000.0,
        ("mlx5_0:1", "ib.xmit_wait"): 300.0, ("mlx5_0:1", "ib.rate"): 5e10,
    })
    port(node, "mlx5_0", 1, rcv=4631917 + 2500, xmit=2500, wait=350)
    assert d.tick(2.5).get("mlx5_0:1", "ib.tx") == pytest.approx(4000.0)


def test_every_port_of_every_device_is_an_entity(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    for dev, number in (("mlx5_0", 1), ("mlx5_1", 1), ("mlx5_bond_0", 1), ("qib0", 2)):
        port(node, dev, number, 0, 0, rate="100 Gb/sec (2X HDR)")
    d = Driver(InfinibandCollector(tmp_path))
    d.tick(0.0)
    tick = d.tick(1.0)
    assert tick.entities("ib.rx") == {"mlx5_0:1", "mlx5_1:1", "mlx5_bond_0:1", "qib0:2"}
    assert tick.get("qib0:2", "ib.rate") == 100 * 125e6


@pytest.mark.parametrize(("text", "expected"), [
    ("400 Gb/sec (4X NDR)", 5e10), ("2.5 Gb/sec (1X SDR)", 3.125e8),
    ("56 Gb/sec (4X FDR)", 7e9), ("0 GB/sec", None), ("Invalid argument", None), ("", None)])
def test_parse_rate(text: str, expected: float | None) -> None:
    assert parse_rate(text) == expected


def test_no_infiniband_class_is_one_absence(tmp_path: Path) -> None:
    d = Driver(InfinibandCollector(tmp_path))
    assert d.tick(1.0).values == {}
    [absence] = d.absences()
    assert absence.what == "ib.*"
    assert absence.reason == (f"no InfiniBand/RoCE devices ({tmp_path}/sys/class/infiniband "
                              "absent)")


def test_an_empty_infiniband_class_is_one_absence(tmp_path: Path) -> None:
    FakeNode(tmp_path).mkdir("sys/class/infiniband")
    d = Driver(InfinibandCollector(tmp_path))
    assert d.tick(1.0).values == {}
    assert [a.what for a in d.absences()] == ["ib.*"]
    assert "is empty" in d.absences()[0].reason


def test_no_pma_makes_that_ports_counters_absent(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    port(node, "irdma0", 1, "N/A (no PMA)", "N/A (no PMA)", "N/A (no PMA)", "100 Gb/sec (4X EDR)")
    port(node, "mlx5_0", 1, 0, 0)
    d = Driver(InfinibandCollector(tmp_path))
    d.tick(0.0)
    port(node, "mlx5_0", 1, 10, 10)
    tick = d.tick(1.0)
    assert tick.entities("ib.rx") == {"mlx5_0:1"}
    assert tick.get("irdma0:1", "ib.rate") == 100 * 125e6  # the rate is still known
    for metric in ("ib.rx", "ib.tx", "ib.xmit_wait"):
        absence = absence_for(d.absences(), metric, "irdma0:1")
        assert absence is not None and "N/A (no PMA)" in absence.reason
        assert absence_for(d.absences(), metric, "mlx5_0:1") is None
    assert len(d.absences()) == 3  # once each, not once per tick


def test_a_saturated_32_bit_counter_gives_no_rate_and_one_absence(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    port(node, "mlx4_0", 1, 0, 0, wait=MAX32 - 1000)
    d = Driver(InfinibandCollector(tmp_path))
    d.tick(0.0)
    port(node, "mlx4_0", 1, 0, 0, wait=MAX32)  # got there during this interval: an undercount
    assert d.tick(1.0).get("mlx4_0:1", "ib.xmit_wait") is None
    assert absence_for(d.absences(), "ib.xmit_wait", "mlx4_0:1") is None
    d.tick(2.0)  # stuck there: saturated, not passing by
    d.tick(3.0)
    absence = absence_for(d.absences(), "ib.xmit_wait", "mlx4_0:1")
    assert absence is not None and "saturates" in absence.reason
    assert len(d.absences()) == 1
    port(node, "mlx4_0", 1, 0, 0, wait=10)  # someone reset it (perfquery -R)
    assert d.tick(4.0).get("mlx4_0:1", "ib.xmit_wait") is None
    port(node, "mlx4_0", 1, 0, 0, wait=110)
    assert d.tick(5.0).get("mlx4_0:1", "ib.xmit_wait") == 100.0


def test_a_counter_reset_drops_one_interval(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    port(node, "mlx5_0", 1, 1_000_000, 0)
    d = Driver(InfinibandCollector(tmp_path))
    d.tick(0.0)
    port(node, "mlx5_0", 1, 5, 0)
    assert d.tick(1.0).get("mlx5_0:1", "ib.rx") is None
    port(node, "mlx5_0", 1, 105, 0)
    assert d.tick(2.0).get("mlx5_0:1", "ib.rx") == 400.0


def test_legacy_64_bit_counters_ext_are_preferred(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    port(node, "qib0", 1, MAX32, MAX32)
    ext = "sys/class/infiniband/qib0/ports/1/counters_ext"
    node.write(f"{ext}/port_rcv_data_64", "8000000000\n")
    node.write(f"{ext}/port_xmit_data_64", "9000000000\n")
    d = Driver(InfinibandCollector(tmp_path))
    d.tick(0.0)
    node.write(f"{ext}/port_rcv_data_64", "8000000100\n")
    node.write(f"{ext}/port_xmit_data_64", "9000000200\n")
    tick = d.tick(1.0)
    assert (tick.get("qib0:1", "ib.rx"), tick.get("qib0:1", "ib.tx")) == (400.0, 800.0)


def test_ports_appearing_and_vanishing_are_found_at_rescans(tmp_path: Path) -> None:
    node = FakeNode(tmp_path)
    port(node, "mlx5_0", 1, 0, 0)
    d = Driver(InfinibandCollector(tmp_path))
    d.tick(0.0)
    port(node, "mlx5_1", 1, 0, 0)  # hot-plugged, or its driver just loaded
    assert d.tick(1.0).entities("ib.rate") == {"mlx5_0:1"}
    t = RESCAN_S + 0.5
    assert d.tick(t).entities("ib.rate") == {"mlx5_0:1", "mlx5_1:1"}
    port(node, "mlx5_1", 1, 100, 100)
    assert d.tick(t + 1).get("mlx5_1:1", "ib.rx") == 400.0
    node.remove("sys/class/infiniband/mlx5_1")
    tick = d.tick(t + RESCAN_S + 1)
    assert tick.entities("ib.rate") == {"mlx5_0:1"}
    assert tick.events == [("mlx5_1:1", "note", "InfiniBand port mlx5_1:1 disappeared")]


def test_a_port_that_stops_reading_skips_the_tick(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    node = FakeNode(tmp_path)
    port(node, "mlx5_0", 1, 0, 0)
    d = Driver(InfinibandCollector(tmp_path))
    d.tick(0.0)
    with monkeypatch.context() as m:
        m.setattr(ProcFile, "read", fail_with(errno.ENODEV))  # what a removed sysfs node gives
        assert d.tick(1.0).entities("ib.rx") == set()
    port(node, "mlx5_0", 1, 50, 0)
    assert d.tick(2.0).get("mlx5_0:1", "ib.rx") == pytest.approx(200.0 / 2)
    assert d.absences() == []
