"""The catalog is the one place names live: every mapping lands on a canonical metric."""

from __future__ import annotations

import pytest

from profiler import catalog


def test_every_outside_name_maps_to_a_canonical_metric_with_a_known_unit() -> None:
    for source, entries in catalog.OUTSIDE_NAMES.items():
        assert entries, source
        for entry in entries:
            assert entry.metric in catalog.METRICS, (source, entry.name)
            assert catalog.METRICS[entry.metric].unit in catalog.UNITS
            assert entry.scale > 0


def test_both_throttle_reason_names_are_read_as_the_same_dcgm_field() -> None:
    table = catalog.outside_names("dcgm")
    old = table["DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"][0]
    new = table["DCGM_FI_DEV_CLOCKS_EVENT_REASONS"][0]
    assert old.field_id == new.field_id == 112
    assert old.metric == new.metric == "gpu.clocks_event_reasons"


@pytest.mark.parametrize(("source", "name", "metric", "scale"), [
    ("dcgm", "DCGM_FI_DEV_GPU_UTIL", "gpu.util", 0.01),
    ("dcgm", "DCGM_FI_PROF_SM_ACTIVE", "gpu.sm_active", 1.0),
    ("dcgm", "DCGM_FI_DEV_FB_USED", "gpu.fb_used", 1048576.0),
    ("dcgm", "DCGM_FI_DEV_SM_CLOCK", "gpu.clock_sm", 1e6),
    ("nvml", "nvmlDeviceGetPowerUsage", "gpu.power", 1e-3),
    ("nvidia-smi", "clocks_throttle_reasons.active", "gpu.clocks_event_reasons", 1.0),
    ("nvidia-smi", "clocks_event_reasons.active", "gpu.clocks_event_reasons", 1.0),
    ("nvidia-smi", "memory.used", "gpu.fb_used", 1048576.0),
    ("node_exporter", "node_disk_read_bytes_total", "disk.read", 1.0),
    ("node_exporter", "node_vmstat_pswpin", "host.swap_in", 4096.0),
])
def test_outside_names_convert_to_si(source: str, name: str, metric: str, scale: float) -> None:
    entry = catalog.outside_names(source)[name][0]  # type: ignore[arg-type]
    assert (entry.metric, entry.scale) == (metric, scale)


def test_nvlink_bandwidth_total_is_a_rate_not_a_counter() -> None:
    entry = catalog.outside_names("dcgm")["DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL"][0]
    assert entry.counter is False
    assert entry.scale == pytest.approx(1.024e6)


def test_per_reason_flags_set_the_right_bits() -> None:
    table = catalog.outside_names("nvidia-smi")
    assert table["clocks_event_reasons.sw_thermal_slowdown"][0].bit == 0x20
    assert table["clocks_throttle_reasons.sw_power_cap"][0].bit == 0x04


def test_every_dcgmi_short_name_resolves() -> None:
    dcgm_ids = {e.field_id: e.metric for e in catalog.DCGM}
    for short, field_id in catalog.DCGMI_SHORT_NAMES.items():
        assert field_id in dcgm_ids, short


def test_unknown_metric_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="not a canonical metric"):
        catalog.metric("gpu.utilisation")


def test_pcie_bandwidth_per_direction() -> None:
    assert catalog.pcie_bandwidth(4, 16) == pytest.approx(31.5e9, rel=0.01)
    assert catalog.pcie_bandwidth(5, 16) == pytest.approx(63.0e9, rel=0.01)
    assert catalog.pcie_bandwidth(float("nan"), 16) != catalog.pcie_bandwidth(float("nan"), 16)
