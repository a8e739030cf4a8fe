"""No driver, a lost GPU, resetting counters and any NVML error: never a crash, always a reason."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pynvml
import pytest

from collectors.base import SampleBuffer
from collectors.nvml import NvmlCollector
from tests.collectors.nvml_helpers import Run
from tests.fake_nvml_core import FI_NVLINK_TX, FI_POWER_CAP
from tests.fake_pynvml import FakeNvml, fake_nvml

__all__ = ["fake_nvml"]

MakeFake = Callable[..., FakeNvml]


@pytest.mark.parametrize(("code", "reason"), [
    pytest.param(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "NVML unavailable: NVMLError_LibraryNotFound"
                 " (no NVIDIA driver on this host)", id="no-library"),
    pytest.param(pynvml.NVML_ERROR_DRIVER_NOT_LOADED, "NVML unavailable: NVMLError_DriverNotLoaded"
                 " (the NVIDIA kernel module is not loaded)", id="no-kernel-module"),
    pytest.param(pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH, "NVML unavailable: NVMLError_LibRm"
                 "VersionMismatch (driver library and kernel module differ: reload the driver "
                 "or reboot)", id="version-mismatch"),
    pytest.param(pynvml.NVML_ERROR_NO_PERMISSION, "NVML unavailable: NVMLError_NoPermission (no "
                 "permission to open /dev/nvidia*)", id="no-permission"),
    pytest.param(42, "NVML unavailable: NVMLError(code 42) (nvmlInit failed, code 42)",
                 id="unmapped-code"),
])
def test_nvml_that_does_not_start_leaves_gpu_star_absent(fake_nvml: MakeFake, code: int,
                                                         reason: str) -> None:
    fake = fake_nvml("no_driver")
    fake.init_error = code
    collector = NvmlCollector()
    collector.open("node1")
    buf = SampleBuffer("node1")
    buf.begin_tick(1)
    collector.sample(buf)
    collector.close()
    assert len(buf) == 0
    [absence] = collector.absences()
    assert (absence.what, absence.reason, absence.entity) == ("gpu.*", reason, None)
    assert collector.gpus() == [] and collector.host_info() is None
    assert pynvml.nvmlDeviceGetCount  # and the fake library was never initialized:
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        pynvml.nvmlDeviceGetCount()


def test_no_pynvml_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    collector = NvmlCollector()
    collector.open("node1")
    assert [(a.what, a.reason) for a in collector.absences()] == [
        ("gpu.*", "NVML unavailable: pynvml (nvidia-ml-py) is not installed")]
    collector.close()


def test_no_gpu(fake_nvml: MakeFake) -> None:
    fake_nvml(FakeNvml([]))
    collector = NvmlCollector()
    collector.open("node1")
    assert [(a.what, a.reason) for a in collector.absences()] == [("gpu.*", "no NVIDIA GPU found")]
    collector.close()


def test_a_gpu_lost_mid_run_stops_alone(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("h100x8")
    run = Run(fake).tick(3)
    lost = fake.gpus[2]
    lost.lost_after = lost.total_calls + 6  # mid-tick: after util, memory, clocks, temp, power
    run.tick(4)
    events = run.event_frame()
    [event] = events[events["kind"] == "gpu_lost"].itertuples()
    assert event.entity == "gpu2"
    assert event.message.startswith("gpu2 GPU lost (")
    assert "NVMLError_GpuIsLost" in event.message
    assert event.ts.value == round((1_000_000.0 + 3) * 1e9)
    assert len(run.values("gpu2", "gpu.power")) == 3 + 1  # the lost tick's early calls stay
    assert len(run.values("gpu1", "gpu.power")) == 7
    assert len(run.values("gpu3", "gpu.power")) == 7
    absence = run.absence("gpu.power", "gpu2")
    assert absence is not None and absence.what == "gpu.*" and absence.entity == "gpu2"
    assert lost.total_calls == lost.lost_after + 1  # one failing call, then never again
    run.close()


@pytest.mark.parametrize(("code", "lost"), [(pynvml.NVML_ERROR_GPU_IS_LOST, True),
                                            (pynvml.NVML_ERROR_NO_PERMISSION, False)])
def test_a_gpu_that_cannot_be_opened_is_skipped(fake_nvml: MakeFake, code: int,
                                                lost: bool) -> None:
    fake = fake_nvml("h100x8")
    fake.gpus[1].errors["nvmlDeviceGetHandleByIndex"] = code
    run = Run(fake).tick(2)
    absence = run.absence("gpu.util", "gpu1")
    assert absence is not None and absence.what == "gpu.*"
    assert absence.reason.startswith("gpu1 not sampled: " + ("GPU lost" if lost else
                                                               "needs permission"))
    assert run.metrics("gpu1") == set() and len(run.values("gpu2", "gpu.util")) == 2
    events = run.event_frame()
    assert list(events["kind"]) == (["gpu_lost"] if lost else [])
    assert [g.entity for g in run.collector.gpus()] == [f"gpu{i}" for i in range(8)]
    run.close()


def test_gpu_lost_in_the_field_batch_is_the_whole_gpu(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("h100x8")
    fake.gpus[4].field_errors[82] = pynvml.NVML_ERROR_GPU_IS_LOST
    run = Run(fake).tick(2)
    events = run.event_frame()
    assert list(events["entity"]) == ["gpu4"] and list(events["kind"]) == ["gpu_lost"]
    run.close()


def test_counters_reset_by_a_driver_reload_drop_one_interval(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("h100x8")
    run = Run(fake).tick(3)
    fake.gpus[0].ecc = [7, 1]
    run.tick()
    fake.reload_driver()
    run.tick(3)
    nvlink = run.values("gpu0", "gpu.nvlink_tx")
    power_cap = run.values("gpu0", "gpu.throttle.power_cap")
    assert len(nvlink) == len(power_cap) == 3 + 2  # ticks 2-4, none at the reset, 6-7
    assert min(nvlink) > 0 and power_cap == pytest.approx([0.25] * 5)
    assert run.values("gpu0", "gpu.ecc_corrected") == [0, 0, 0, 7, 0, 0, 0]


def test_wrapping_64_bit_counter_is_a_reset(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("h100x8")
    run = Run(fake)
    gpu = fake.gpus[0]
    gpu.rates[FI_POWER_CAP] = 0.0
    gpu.set_counter(FI_POWER_CAP, 2**64 - 1000, fake.now())
    run.tick()
    gpu.set_counter(FI_POWER_CAP, 500, fake.now())
    run.tick(2)
    assert run.values("gpu0", "gpu.throttle.power_cap") == [0.0]
    run.close()


CODES = [*range(1, 31), 999, 42]
CALLS = ["nvmlDeviceGetUtilizationRates", "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetClockInfo",
         "nvmlDeviceGetTemperatureV", "nvmlDeviceGetPowerUsage", "nvmlDeviceGetFieldValues",
         "nvmlGpmSampleGet", "nvmlDeviceGetTotalEccErrors", "nvmlDeviceGetComputeRunningProcesses",
         "nvmlDeviceGetCurrPcieLinkWidth", "nvmlDeviceGetEnforcedPowerLimit"]


@pytest.mark.parametrize("code", [pytest.param(c, id=str(c)) for c in CODES])
def test_no_nvml_error_escapes_sample_nor_is_turned_into_text(
        fake_nvml: MakeFake, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    def no_str(self: pynvml.NVMLError) -> str:
        raise AssertionError("str() of an NVMLError asks the library for codes it lacks")

    monkeypatch.setattr(pynvml.NVMLError, "__str__", no_str)
    fake = fake_nvml("h100x8")
    for call in CALLS:
        fake.gpus[0].errors[call] = code
    fake.gpus[1].field_errors = {f: code for f in (82, FI_POWER_CAP, FI_NVLINK_TX)}
    run = Run(fake, NvmlCollector(process_period_s=1.0, event_wait_ms=20)).tick(7)
    assert len(run.values("gpu3", "gpu.power")) == 7
    for absence in run.collector.absences():
        assert absence.entity in ("gpu0", "gpu1"), absence
    run.close()
