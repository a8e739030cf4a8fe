"""NvmlCollector over a fake 8x H100: every metric NVML can give, in SI units, at its cadence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pynvml
import pytest

from collectors import COLLECTORS
from collectors.nvml import NvmlCollector
from profiler.catalog import METRICS
from tests.collectors.nvml_helpers import Run
from tests.fake_nvml_core import FI_HW_THERMAL, FI_NVLINK_TX, FI_SW_THERMAL, MIB
from tests.fake_pynvml import FakeNvml, fake_nvml

__all__ = ["fake_nvml"]

MakeFake = Callable[..., FakeNvml]
# Catalog gpu.* metrics NVML does not give: DCGM's last-XID field (XIDs arrive as events here)
# and the NVLink sum for sources that only give the sum (NVML gives TX and RX).
NOT_FROM_NVML = {"gpu.xid_last", "gpu.nvlink_total"}


@pytest.fixture
def h100(fake_nvml: MakeFake) -> FakeNvml:
    return fake_nvml("h100x8")


def test_provides_every_catalog_gpu_metric_nvml_can_give() -> None:
    gpu_metrics = {m for m in METRICS if m.startswith("gpu.")}
    assert set(NvmlCollector.provides) == gpu_metrics - NOT_FROM_NVML
    assert COLLECTORS["nvml"] is NvmlCollector


def test_h100_samples_every_provided_metric_on_every_gpu(h100: FakeNvml) -> None:
    run = Run(h100).tick(3)
    for i in range(8):
        assert run.metrics(f"gpu{i}") == set(NvmlCollector.provides), i
    assert run.collector.absences() == []
    assert h100.unfaked == []
    run.close()


def test_h100_values_are_in_si_units(h100: FakeNvml) -> None:
    run = Run(h100).tick(2)
    v = {m: run.values("gpu0", m)[-1] for m in NvmlCollector.provides}
    assert v["gpu.power"] == pytest.approx(612.45, rel=1e-12)
    assert v["gpu.power_limit"] == pytest.approx(700.0)
    assert v["gpu.util"] == pytest.approx(0.97)
    assert v["gpu.mem_util"] == pytest.approx(0.41)
    assert v["gpu.fb_used"] == 61440 * MIB
    assert v["gpu.fb_total"] == 81559 * MIB
    assert v["gpu.fb_free"] == (81559 - 479 - 61440) * MIB
    assert v["gpu.fb_used_ratio"] == pytest.approx(61440 / (81559 - 479))
    assert v["gpu.clock_sm"] == 1980e6
    assert v["gpu.clock_sm_max"] == 1980e6
    assert v["gpu.clock_mem"] == 2619e6
    assert v["gpu.temp"] == 62.0
    assert v["gpu.mem_temp"] == 55.0
    assert (v["gpu.pcie_gen"], v["gpu.pcie_gen_max"]) == (5.0, 5.0)
    assert (v["gpu.pcie_width"], v["gpu.pcie_width_max"]) == (16.0, 16.0)
    assert v["gpu.pcie_tx"] == 1200 * MIB  # GPM, MiB/s
    assert v["gpu.pcie_rx"] == 3400 * MIB
    assert v["gpu.sm_active"] == pytest.approx(0.875)
    assert v["gpu.gr_engine_active"] == pytest.approx(0.98)
    assert v["gpu.tensor_active"] == pytest.approx(0.61)
    assert v["gpu.throttle.power_cap"] == pytest.approx(0.25, rel=1e-9)
    assert v["gpu.throttle.thermal"] == 0.0
    assert v["gpu.process_count"] == 0.0
    run.close()


def test_nvlink_kib_counter_delta_becomes_exact_bytes_per_second(h100: FakeNvml) -> None:
    h100.set_rate(0, FI_NVLINK_TX, 0.0)
    run = Run(h100)
    gpu = h100.gpus[0]
    gpu.set_counter(FI_NVLINK_TX, 5_000_000, h100.now())
    run.tick()
    gpu.set_counter(FI_NVLINK_TX, 5_000_000 + 1_953_125, h100.now())  # KiB, over the next 1 s
    run.tick(2)
    assert run.values("gpu0", "gpu.nvlink_tx") == [2_000_000_000.0, 0.0]
    run.close()


def test_thermal_is_sw_plus_hw_slowdown_capped_at_one(h100: FakeNvml) -> None:
    h100.set_rate(3, FI_SW_THERMAL, 0.7e9)
    h100.set_rate(3, FI_HW_THERMAL, 0.6e9)
    h100.set_rate(4, FI_SW_THERMAL, 0.2e9)
    h100.set_rate(4, FI_HW_THERMAL, 0.1e9)
    h100.gpus[3].temp, h100.gpus[3].reasons = 90, 0x20
    run = Run(h100).tick(3)
    assert run.values("gpu3", "gpu.throttle.thermal") == [1.0, 1.0]
    assert run.values("gpu4", "gpu.throttle.thermal") == pytest.approx([0.3, 0.3])
    assert run.values("gpu3", "gpu.temp")[-1] == 90.0
    assert run.values("gpu3", "gpu.clocks_event_reasons")[-1] == 0x20
    assert run.values("gpu2", "gpu.clocks_event_reasons")[-1] == 0.0
    run.close()


def test_slow_signals_run_once_a_second_at_10_hz(h100: FakeNvml) -> None:
    run = Run(h100)
    at_open = h100.calls("nvmlDeviceGetEnforcedPowerLimit", 0)  # GpuInfo.power_limit
    run.tick(30, step_s=0.1)  # 3 s
    assert h100.calls("nvmlDeviceGetPowerUsage", 0) == 30
    assert h100.calls("nvmlDeviceGetEnforcedPowerLimit", 0) - at_open == 3
    assert h100.calls("nvmlDeviceGetRemappedRows", 0) == 3
    assert h100.calls("nvmlGpmSampleGet", 0) == 3  # one to start, then one per interval
    assert h100.calls("nvmlGpmMetricsGet", 0) == 2
    assert len(run.values("gpu0", "gpu.sm_active")) == 2
    assert h100.calls("nvmlDeviceGetComputeRunningProcesses", 0) == 1
    run.close()


def test_one_field_values_call_per_gpu_per_tick_with_every_field(h100: FakeNvml) -> None:
    run = Run(h100)
    at_open = h100.calls("nvmlDeviceGetFieldValues", 0)  # the NVLink link count
    run.tick(4)
    for i in range(8):
        assert h100.calls("nvmlDeviceGetFieldValues", i) - at_open == 4
    assert h100.field_calls(82, 0) == 4
    assert h100.field_calls(FI_NVLINK_TX, 0) == 4
    run.close()


def test_static_properties_and_host_versions(h100: FakeNvml) -> None:
    run = Run(h100).tick()
    infos = run.collector.gpus()
    assert [g.entity for g in infos] == [f"gpu{i}" for i in range(8)]
    g5 = infos[5]
    assert g5.name == "NVIDIA H100 80GB HBM3"
    assert g5.uuid == h100.gpus[5].uuid and g5.bus_id == "00000000:68:00.0"
    assert (g5.architecture, g5.pcie_max_gen, g5.pcie_max_width) == ("hopper", 5, 16)
    assert (g5.nvlink_count, g5.nvlink_version) == (18, pynvml.NVML_NVLINK_VERSION_4_0)
    assert g5.memory_total == 81559 * MIB
    assert (g5.power_limit, g5.max_sm_clock) == (700.0, 1980e6)
    assert (g5.gpm, g5.mig) == (True, False)
    assert g5.numa_node == 1  # no such sysfs device here: from NVML's memory affinity
    assert infos[0].cpu_affinity == tuple(range(56))
    assert g5.cpu_affinity[0] == 56
    info = run.collector.host_info()
    assert info is not None
    assert (info.driver_version, info.cuda_driver_version) == ("590.48.01", "13.1")
    run.close()


def test_numa_node_comes_from_sysfs_first(fake_nvml: MakeFake, tmp_path: Path) -> None:
    sysfs = tmp_path
    device = sysfs / "bus/pci/devices/0000:28:00.0"  # NVML 00000000:28:00.0 = gpu1
    device.mkdir(parents=True)
    (device / "numa_node").write_text("3\n")
    run = Run(fake_nvml("h100x8"), NvmlCollector(sysfs=sysfs, event_wait_ms=20))
    assert [g.numa_node for g in run.collector.gpus()[:3]] == [0, 3, 0]
    run.close()
