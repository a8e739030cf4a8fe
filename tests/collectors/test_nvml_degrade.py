"""What a GPU or driver cannot give is absent with its reason, and never asked for again."""

from __future__ import annotations

from collections.abc import Callable

import pynvml
import pytest

from collectors.nvml import GPM_CORE, NvmlCollector
from tests.collectors.nvml_helpers import Run
from tests.fake_nvml_core import FI_HW_THERMAL, FI_NVLINK_RX, FI_NVLINK_TX, FI_SW_THERMAL, MIB
from tests.fake_pynvml import FakeNvml, fake_nvml

__all__ = ["fake_nvml"]

MakeFake = Callable[..., FakeNvml]


def test_a100_has_no_gpm_and_takes_pcie_from_the_throughput_call(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("a100x4")
    run = Run(fake).tick(5)
    for i in range(4):
        gpu = f"gpu{i}"
        assert not run.metrics(gpu) & set(GPM_CORE)
        for metric in GPM_CORE:
            absence = run.absence(metric, gpu)
            assert absence is not None and absence.entity == gpu
            assert absence.reason == ("GPM needs Hopper or newer (NVIDIA A100-SXM4-80GB, ampere "
                                      "architecture)")
        assert run.metrics(gpu) == set(NvmlCollector.provides) - set(GPM_CORE)
    assert fake.calls("nvmlGpmSampleGet") == 0
    assert fake.calls("nvmlGpmQueryDeviceSupport") == 0  # the architecture already says no
    assert run.values("gpu0", "gpu.pcie_tx")[-1] == 2100 * 1024
    assert run.values("gpu0", "gpu.pcie_rx")[-1] == 8800 * 1024
    assert run.values("gpu0", "gpu.mem_temp")[-1] == 55.0
    assert run.values("gpu1", "gpu.nvlink_rx")[-1] == pytest.approx(140e6 * 1024)
    assert fake.unfaked == []
    run.close()


def test_t4_lists_what_it_lacks_and_is_asked_once(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("t4")
    run = Run(fake).tick(6)
    missing = {
        "gpu.nvlink_tx": "this GPU has no NVLink (nvmlDeviceGetNvLinkState: "
                         "NVMLError_NotSupported)",
        "gpu.mem_temp": "not supported on this GPU (nvmlDeviceGetFieldValues("
                        "NVML_FI_DEV_MEMORY_TEMP): NVMLError_NotSupported)",
        "gpu.row_remap_pending": "not supported on this GPU (nvmlDeviceGetRemappedRows: "
                                 "NVMLError_NotSupported)",
        "gpu.sm_active": "GPM needs Hopper or newer (Tesla T4, turing architecture)",
    }
    for metric, reason in missing.items():
        absence = run.absence(metric, "gpu0")
        assert absence is not None and absence.reason == reason, metric
        assert metric not in run.metrics("gpu0")
    expected_absent = {"gpu.nvlink_tx", "gpu.nvlink_rx", "gpu.mem_temp", *GPM_CORE,
                       "gpu.remapped_rows_uncorrectable", "gpu.row_remap_pending",
                       "gpu.row_remap_failure"}
    assert run.metrics("gpu0") == set(NvmlCollector.provides) - expected_absent
    assert {a.what for a in run.collector.absences()} == expected_absent
    assert fake.calls("nvmlDeviceGetRemappedRows") == 1
    assert fake.field_calls(82) == 1
    assert fake.field_calls(FI_NVLINK_TX) == 0
    assert fake.calls("nvmlDeviceGetFanSpeed") == 0
    run.close()


def test_one_unsupported_thermal_counter_leaves_the_other(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("h100x8")
    fake.set_rate(0, FI_SW_THERMAL, 0.4e9)
    fake.gpus[0].fields_unsupported = {FI_HW_THERMAL}
    fake.gpus[1].fields_unsupported = {FI_HW_THERMAL, FI_SW_THERMAL}
    run = Run(fake).tick(3)
    assert run.values("gpu0", "gpu.throttle.thermal") == pytest.approx([0.4, 0.4])
    assert run.absence("gpu.throttle.thermal", "gpu0") is None
    absence = run.absence("gpu.throttle.thermal", "gpu1")
    assert absence is not None and "NVML_FI_DEV_CLOCKS_EVENT_REASON_" in absence.reason
    assert fake.field_calls(FI_HW_THERMAL, 0) == 1
    run.close()


def test_nvlink_fields_missing_fall_back_to_gpm_totals(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("h100x8")
    fake.gpus[2].fields_unsupported = {FI_NVLINK_TX, FI_NVLINK_RX}
    run = Run(fake).tick(4)
    assert run.values("gpu2", "gpu.nvlink_tx")[-1] == 180000.0 * MIB
    assert run.values("gpu2", "gpu.nvlink_rx")[-1] == 175000.0 * MIB
    assert run.absence("gpu.nvlink_tx", "gpu2") is None
    run.close()


def test_gpm_failing_for_good_moves_pcie_to_the_throughput_call(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("h100x8")
    run = Run(fake).tick(2)
    fake.gpus[0].errors["nvmlGpmSampleGet"] = pynvml.NVML_ERROR_NOT_SUPPORTED
    run.tick(3)
    assert run.absence("gpu.sm_active", "gpu0") is not None
    assert run.absence("gpu.pcie_tx", "gpu0") is None
    assert run.values("gpu0", "gpu.pcie_tx")[-1] == 2100 * 1024  # KB/s, no longer GPM's
    assert fake.calls("nvmlGpmSampleGet", 0) == 3
    assert run.values("gpu1", "gpu.pcie_tx")[-1] == 1200 * MIB
    run.close()


def test_old_driver_uses_the_older_calls(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("a100x4")
    fake.missing |= {"nvmlDeviceGetMemoryInfo_v2", "nvmlDeviceGetTemperatureV",
                     "nvmlDeviceGetCurrentClocksEventReasons"}
    fake.gpus[0].reasons = 0x4
    run = Run(fake).tick(3)
    assert run.collector.absences() == [a for a in run.collector.absences()
                                        if a.what in GPM_CORE]
    assert run.values("gpu0", "gpu.temp") == [62.0, 62.0, 62.0]
    assert run.values("gpu0", "gpu.clocks_event_reasons")[-1] == 0x4
    # v1: `used` includes the driver-reserved memory
    assert run.values("gpu0", "gpu.fb_used")[-1] == (40960 + 553) * MIB
    assert fake.calls("nvmlDeviceGetTemperature", 0) == 3
    run.close()


def test_pynvml_newer_than_the_library_is_a_permanent_absence(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("t4")
    fake.missing.add("nvmlDeviceGetComputeRunningProcesses_v3")
    run = Run(fake, NvmlCollector(process_period_s=1.0, event_wait_ms=20)).tick(3)
    absence = run.absence("gpu.process_count", "gpu0")
    assert absence is not None
    assert absence.reason == ("pynvml does not match this driver's NVML (nvmlDeviceGetCompute"
                              "RunningProcesses: NVMLLibraryMismatchError)")
    run.close()


def test_no_permission_for_processes(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("h100x8")
    for gpu in fake.gpus:
        gpu.errors["nvmlDeviceGetComputeRunningProcesses"] = pynvml.NVML_ERROR_NO_PERMISSION
    run = Run(fake, NvmlCollector(process_period_s=1.0, event_wait_ms=20)).tick(4)
    absence = run.absence("gpu.process_count", "gpu7")
    assert absence is not None and absence.reason.startswith("needs permission (")
    assert "NVMLError_NoPermission" in absence.reason
    assert fake.calls("nvmlDeviceGetComputeRunningProcesses", 7) == 1
    assert run.collector.processes() == []
    assert run.values("gpu7", "gpu.power")  # the rest goes on
    run.close()


def test_mig_mode_loses_utilization_and_gpm(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("h100x8")
    fake.gpus[1].mig = True
    run = Run(fake).tick(3)
    gpm = run.absence("gpu.sm_active", "gpu1")
    assert gpm is not None and gpm.reason.startswith("MIG mode is on")
    util = run.absence("gpu.util", "gpu1")
    assert util is not None and "NVMLError_NotSupported" in util.reason
    assert run.collector.gpus()[1].mig is True
    assert run.values("gpu1", "gpu.fb_used")
    run.close()


def test_transient_errors_skip_ticks_then_record_an_absence(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("h100x8")
    fake.gpus[0].errors["nvmlDeviceGetPowerUsage"] = pynvml.NVML_ERROR_TIMEOUT
    run = Run(fake).tick(4)
    assert run.absence("gpu.power", "gpu0") is None
    run.tick()
    absence = run.absence("gpu.power", "gpu0")
    assert absence is not None
    assert absence.reason == ("failing: NVMLError_Timeout from nvmlDeviceGetPowerUsage on 5 "
                              "consecutive samples")
    del fake.gpus[0].errors["nvmlDeviceGetPowerUsage"]
    run.tick(2)
    assert run.values("gpu0", "gpu.power") == pytest.approx([612.45, 612.45])
    assert fake.calls("nvmlDeviceGetPowerUsage", 0) == 7
    run.close()


def test_a_field_failing_transiently_is_kept_and_reported_after_five(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("h100x8")
    fake.gpus[0].field_errors[82] = pynvml.NVML_ERROR_TIMEOUT
    run = Run(fake).tick(6)
    absence = run.absence("gpu.mem_temp", "gpu0")
    assert absence is not None
    assert absence.reason == ("failing: NVMLError_Timeout from nvmlDeviceGetFieldValues("
                              "NVML_FI_DEV_MEMORY_TEMP) on 5 consecutive samples")
    assert fake.field_calls(82, 0) == 6
    del fake.gpus[0].field_errors[82]
    run.tick()
    assert run.values("gpu0", "gpu.mem_temp") == [55.0]
    assert len(run.values("gpu0", "gpu.throttle.power_cap")) == 6  # the rest of the batch
    run.close()
