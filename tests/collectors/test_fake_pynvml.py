"""The fake behaves like pynvml 13.615.71 where the collector can tell the difference."""

from __future__ import annotations

from collections.abc import Callable

import pynvml
import pytest

from tests.fake_pynvml import FakeNvml, fake_nvml, install

__all__ = ["fake_nvml"]

MakeFake = Callable[..., FakeNvml]


def test_every_call_before_init_raises_uninitialized(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("h100x8")
    for call in (pynvml.nvmlDeviceGetCount, pynvml.nvmlSystemGetDriverVersion,
                 pynvml.nvmlEventSetCreate, pynvml.nvmlGpmSampleAlloc):
        with pytest.raises(pynvml.NVMLError_Uninitialized):
            call()
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        pynvml.nvmlDeviceGetPowerUsage(fake.gpus[0].handle)
    pynvml.nvmlInit()
    pynvml.nvmlShutdown()
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        pynvml.nvmlDeviceGetHandleByIndex(0)


def test_errors_are_the_real_classes(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("t4")
    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByIndex(0)
    with pytest.raises(pynvml.NVMLError_NotSupported) as info:
        pynvml.nvmlDeviceGetRemappedRows(h)
    # As pynvml's _nvmlCheckReturn raises it: NVMLError(ret), so args carries the code.
    assert info.value.value == 3 and info.value.args == (3,)
    assert repr(info.value) == "NVMLError_NotSupported(3)"
    fake.gpus[0].errors["nvmlDeviceGetPowerUsage"] = 21
    with pytest.raises(pynvml.NVMLError_NoData):
        pynvml.nvmlDeviceGetPowerUsage(h)
    pynvml.nvmlShutdown()


def test_returns_real_structs_and_values(fake_nvml: MakeFake) -> None:
    fake_nvml("h100x8")
    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByIndex(1)
    assert isinstance(h, pynvml.c_nvmlDevice_t)
    assert isinstance(pynvml.nvmlDeviceGetUtilizationRates(h), pynvml.c_nvmlUtilization_t)
    memory = pynvml.nvmlDeviceGetMemoryInfo(h, version=pynvml.nvmlMemory_v2)
    assert isinstance(memory, pynvml.c_nvmlMemory_v2_t)
    assert memory.total == memory.reserved + memory.used + memory.free
    assert pynvml.nvmlDeviceGetPciInfo(h).busId == "00000000:28:00.0"
    values = pynvml.nvmlDeviceGetFieldValues(h, [82, (139, 0xFFFFFFFF), 999])
    assert [v.nvmlReturn for v in values] == [0, 0, pynvml.NVML_ERROR_NOT_SUPPORTED]
    assert values[0].value.uiVal == 55 and values[1].scopeId == 0xFFFFFFFF
    with pytest.raises(pynvml.NVMLError_Timeout):
        pynvml.nvmlEventSetWait(pynvml.nvmlEventSetCreate(), 1)
    with pytest.raises(pynvml.NVMLError_NotSupported):
        pynvml.nvmlDeviceGetFanSpeed(h)
    pynvml.nvmlShutdown()


def test_gpm_needs_two_samples_of_one_gpu(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("h100x8")
    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByIndex(0)
    s1, s2 = pynvml.nvmlGpmSampleAlloc(), pynvml.nvmlGpmSampleAlloc()
    mg = pynvml.c_nvmlGpmMetricsGet_t()
    mg.version, mg.numMetrics, mg.sample1, mg.sample2 = 1, 1, s1, s2
    mg.metrics[0].metricId = pynvml.NVML_GPM_METRIC_SM_UTIL
    with pytest.raises(pynvml.NVMLError_InvalidArgument):
        pynvml.nvmlGpmMetricsGet(mg)
    pynvml.nvmlGpmSampleGet(h, s1)
    fake.clock_s = fake.now() + 1
    pynvml.nvmlGpmSampleGet(h, s2)
    assert pynvml.nvmlGpmMetricsGet(mg).metrics[0].value == 87.5
    pynvml.nvmlShutdown()


def test_unfaked_calls_are_listed(fake_nvml: MakeFake) -> None:
    fake = fake_nvml("t4")
    pynvml.nvmlInit()
    with pytest.raises(pynvml.NVMLError_NotSupported):
        pynvml.nvmlDeviceGetBoardId(pynvml.nvmlDeviceGetHandleByIndex(0))
    assert fake.unfaked == ["nvmlDeviceGetBoardId"]
    pynvml.nvmlShutdown()


def test_install_without_pytest_and_undo() -> None:
    real = pynvml.nvmlInit
    fake, undo = install("a100x4")
    try:
        pynvml.nvmlInit()
        assert pynvml.nvmlDeviceGetCount() == 4
    finally:
        undo()
    assert pynvml.nvmlInit is real and fake.initialized == 1
