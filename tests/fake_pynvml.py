"""A faithful fake NVML at the pynvml boundary, for tests and the sampler benchmark.

Built on the real pynvml module (nvml.md section 6): its constants, structs and exception
classes are the genuine ones and only its nvml* functions are replaced, so the collector's
`import pynvml` sees the fake. Errors are raised as pynvml raises them (NVMLError(code) picks the
subclass; before nvmlInit every call raises NVMLError_Uninitialized). A pynvml function the fake
does not model raises NVMLError_NotSupported and is listed in `fake.unfaked`.

Use the `fake_nvml` fixture (`fake = fake_nvml("h100x8")`) or, without pytest,
`fake, undo = install("h100x8")`. Profiles: h100x8, a100x4, t4, no_driver. Tests change a GPU
directly (`fake.gpus[3].temp = 90; fake.gpus[3].reasons = 0x20`), make one lost
(`fake.gpus[2].lost_after = 40` calls), deny a call (`gpu.errors["nvml..."] = 4`), freeze the
clock (`fake.clock_s = 1000.0`) and reset counters (`fake.reload_driver()`).
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from typing import Any

import pynvml as nv

from collectors.nvml_fields import plain
from tests.fake_nvml_core import (
    ALL_LINKS,
    FI_HW_THERMAL,
    FI_LINK_COUNT,
    FI_MEM_TEMP,
    FI_NVLINK_RX,
    FI_NVLINK_TX,
    FI_POWER_CAP,
    FI_SW_THERMAL,
    THROTTLE_FIELDS,
    FakeGpu,
    _pointer,
    address,
)
from tests.fake_nvml_device import FakeDevice

try:
    import pytest
except ImportError:  # the benchmark runs without pytest
    pytest = None  # type: ignore[assignment]

_PLAIN_FIELD = plain(nv.c_nvmlFieldValue_t)
_PLAIN_METRIC = plain(nv.c_nvmlGpmMetric_t)
_UINT = nv.NVML_VALUE_TYPE_UNSIGNED_INT
_ULL = nv.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG


class FakeNvml(FakeDevice):
    # --- field values ----------------------------------------------------------------------------

    def nvmlDeviceGetFieldValues(self, handle: Any, fieldIds: list[Any]) -> Any:
        g = self._dev(handle, "nvmlDeviceGetFieldValues")
        values = (nv.c_nvmlFieldValue_t * len(fieldIds))()
        # Written through a plain-struct view: the fake stands in for the C library, which does
        # not pay pynvml's per-attribute Python hooks.
        view = (_PLAIN_FIELD * len(fieldIds)).from_buffer(values)
        now = self.now()
        stamp = int(now * 1e6)
        counts = g.field_calls
        for v, item in zip(view, fieldIds, strict=True):
            fid, scope = item if isinstance(item, tuple) else (item, 0)
            v.fieldId, v.scopeId, v.timestamp = fid, scope, stamp
            counts[fid] = counts.get(fid, 0) + 1
            code = g.field_errors.get(fid) or (3 if fid in g.fields_unsupported else 0)
            v.nvmlReturn = code or self._field(g, v, fid, scope, now)
        return values

    def _field(self, g: FakeGpu, v: Any, fid: int, scope: int, now: float) -> int:
        if fid in THROTTLE_FIELDS or (fid in (FI_NVLINK_TX, FI_NVLINK_RX) and g.nvlink_links
                                      and scope == ALL_LINKS):
            v.valueType, v.value.ullVal = _ULL, g.counter(fid, now)
        elif fid == FI_MEM_TEMP and g.mem_temp is not None:
            v.valueType, v.value.uiVal = _UINT, g.mem_temp
        elif fid == FI_LINK_COUNT and g.nvlink_links:
            v.valueType, v.value.uiVal = _UINT, g.nvlink_links
        else:
            return int(nv.NVML_ERROR_NOT_SUPPORTED)
        return 0

    def field_calls(self, field_id: int, gpu: int | None = None) -> int:
        """How many times a field was asked for (each nvmlDeviceGetFieldValues element)."""
        gpus = self.gpus if gpu is None else [self.gpus[gpu]]
        return sum(g.field_calls.get(field_id, 0) for g in gpus)

    # --- GPM -------------------------------------------------------------------------------------

    def nvmlGpmQueryDeviceSupport(self, device: Any) -> Any:
        g = self._dev(device, "nvmlGpmQueryDeviceSupport")
        support = nv.c_nvmlGpmSupport_t()
        support.version, support.isSupportedDevice = nv.NVML_GPM_SUPPORT_VERSION, int(g.gpm)
        return support

    def nvmlGpmSampleAlloc(self) -> Any:
        self._lib("nvmlGpmSampleAlloc")
        sample = _pointer(nv.c_nvmlGpmSample_t, self._keep)
        self._gpm_samples[address(sample)] = None
        return sample

    def nvmlGpmSampleFree(self, gpmSample: Any) -> None:
        self._lib("nvmlGpmSampleFree")
        if self._gpm_samples.pop(address(gpmSample), False) is False:
            raise nv.NVMLError(nv.NVML_ERROR_INVALID_ARGUMENT)

    def nvmlGpmSampleGet(self, device: Any, gpmSample: Any) -> Any:
        g = self._dev(device, "nvmlGpmSampleGet")
        if not g.gpm:
            raise nv.NVMLError(nv.NVML_ERROR_NOT_SUPPORTED)
        key = address(gpmSample)
        if key not in self._gpm_samples:
            raise nv.NVMLError(nv.NVML_ERROR_INVALID_ARGUMENT)
        self._gpm_samples[key] = (g, self.now())
        return gpmSample

    def nvmlGpmMetricsGet(self, metricsGet: Any) -> Any:
        self._lib("nvmlGpmMetricsGet")
        first = self._gpm_samples.get(address(metricsGet.sample1))
        second = self._gpm_samples.get(address(metricsGet.sample2))
        if (metricsGet.version != nv.NVML_GPM_METRICS_GET_VERSION or first is None
                or second is None or first[0] is not second[0] or second[1] < first[1]):
            raise nv.NVMLError(nv.NVML_ERROR_INVALID_ARGUMENT)
        g = first[0]
        g.calls["nvmlGpmMetricsGet"] = g.calls.get("nvmlGpmMetricsGet", 0) + 1
        metrics = (_PLAIN_METRIC * nv.NVML_GPM_METRIC_MAX).from_buffer(
            metricsGet, nv.c_nvmlGpmMetricsGet_t.metrics.offset)
        for i in range(metricsGet.numMetrics):
            m = metrics[i]
            if m.metricId in g.gpm_unsupported or m.metricId not in g.gpm_values:
                m.nvmlReturn, m.value = nv.NVML_ERROR_NOT_SUPPORTED, 0.0
            else:
                m.nvmlReturn, m.value = nv.NVML_SUCCESS, g.gpm_values[m.metricId]
        return metricsGet

    # --- events ----------------------------------------------------------------------------------

    def nvmlEventSetCreate(self) -> Any:
        self._lib("nvmlEventSetCreate")
        event_set = _pointer(nv.c_nvmlEventSet_t, self._keep)
        self._event_sets[address(event_set)] = {}
        return event_set

    def nvmlDeviceGetSupportedEventTypes(self, handle: Any) -> int:
        return self._dev(handle, "nvmlDeviceGetSupportedEventTypes").supported_events

    def nvmlDeviceRegisterEvents(self, handle: Any, eventTypes: int, eventSet: Any) -> None:
        g = self._dev(handle, "nvmlDeviceRegisterEvents")
        if eventTypes & ~g.supported_events:
            raise nv.NVMLError(nv.NVML_ERROR_NOT_SUPPORTED)  # and nothing is registered
        registered = self._event_sets[address(eventSet)]
        registered[g.index] = registered.get(g.index, 0) | eventTypes

    def nvmlEventSetWait(self, eventSet: Any, timeoutms: int) -> Any:
        self._lib("nvmlEventSetWait")
        registered = self._event_sets.get(address(eventSet))
        if registered is None:
            raise nv.NVMLError(nv.NVML_ERROR_INVALID_ARGUMENT)
        deadline = timeoutms / 1000.0
        while True:
            try:
                g, kind, data = self._events.get(timeout=deadline)
            except queue.Empty:
                raise nv.NVMLError(nv.NVML_ERROR_TIMEOUT) from None
            if registered.get(g.index, 0) & kind:
                event = nv.c_nvmlEventData_t()
                event.device, event.eventType, event.eventData = g.handle, kind, data
                event.gpuInstanceId = event.computeInstanceId = 0xFFFFFFFF
                return event

    nvmlEventSetWait_v2 = nvmlEventSetWait

    def nvmlEventSetFree(self, eventSet: Any) -> None:
        self._lib("nvmlEventSetFree")
        if self._event_sets.pop(address(eventSet), None) is None:
            raise nv.NVMLError(nv.NVML_ERROR_INVALID_ARGUMENT)

    # --- processes -------------------------------------------------------------------------------

    def nvmlDeviceGetComputeRunningProcesses(self, handle: Any) -> list[Any]:
        if "nvmlDeviceGetComputeRunningProcesses_v3" in self.missing:
            self._lib("nvmlDeviceGetComputeRunningProcesses")
            raise nv.NVMLLibraryMismatchError("Unversioned function called and the pyNVML "
                                              "version does not match the NVML lib version.")
        g = self._dev(handle, "nvmlDeviceGetComputeRunningProcesses")
        return [nv.nvmlFriendlyObject({"pid": pid, "usedGpuMemory": used,
                                       "gpuInstanceId": 0xFFFFFFFF,
                                       "computeInstanceId": 0xFFFFFFFF})
                for pid, used in g.processes]

    nvmlDeviceGetComputeRunningProcesses_v3 = nvmlDeviceGetComputeRunningProcesses


# --- machine profiles --------------------------------------------------------------------------


def _busy_rates(fake: FakeNvml, links: bool) -> None:
    for i in range(len(fake.gpus)):
        fake.set_rate(i, FI_POWER_CAP, 0.25e9)  # 25 % of wall time power-capped
        fake.set_rate(i, FI_SW_THERMAL, 0.0)
        fake.set_rate(i, FI_HW_THERMAL, 0.0)
        fake.set_rate(i, "energy", 612450.0)
        if links:
            fake.set_rate(i, FI_NVLINK_TX, 150e6)  # KiB/s
            fake.set_rate(i, FI_NVLINK_RX, 140e6)


def h100x8() -> FakeNvml:
    """8x H100 SXM 80GB: NVLink 4 (18 links), GPM, HBM3 temperature, no fan, two NUMA nodes."""
    gpus = [FakeGpu(i, "NVIDIA H100 80GB HBM3", nv.NVML_DEVICE_ARCH_HOPPER, 81559, 479,
                    700000, 1980, 2619, 5, 18, nv.NVML_NVLINK_VERSION_4_0, i // 4,
                    range(56 * (i // 4), 56 * (i // 4) + 56), gpm=True) for i in range(8)]
    fake = FakeNvml(gpus)
    _busy_rates(fake, links=True)
    return fake


def a100x4() -> FakeNvml:
    """4x A100 SXM4 80GB: NVLink 3 (12 links), no GPM, HBM2e temperature, row remapping."""
    gpus = [FakeGpu(i, "NVIDIA A100-SXM4-80GB", nv.NVML_DEVICE_ARCH_AMPERE, 81920, 553,
                    400000, 1410, 1593, 4, 12, nv.NVML_NVLINK_VERSION_3_0, i // 2,
                    range(32 * (i // 2), 32 * (i // 2) + 32), gpm=False, power_mw=351200,
                    pcie_gen=4, used_mib=40960, clock_sm=1410) for i in range(4)]
    fake = FakeNvml(gpus, driver="535.183.01", cuda=12020)
    _busy_rates(fake, links=True)
    return fake


def t4() -> FakeNvml:
    """1x T4 PCIe: GDDR6 (no memory temperature), no NVLink, no GPM, no row remapping."""
    gpu = FakeGpu(0, "Tesla T4", nv.NVML_DEVICE_ARCH_TURING, 15360, 265, 70000, 1590, 5001,
                  3, 0, 0, 0, range(0, 16), gpm=False, mem_temp=None, remapped=None, mig=None,
                  power_mw=27340, pcie_gen=3, used_mib=2048, clock_sm=585, util_gpu=12, fan=None)
    fake = FakeNvml([gpu], driver="470.256.02", cuda=11040)
    _busy_rates(fake, links=False)
    return fake


def no_driver() -> FakeNvml:
    """No libnvidia-ml.so.1: nvmlInit raises NVMLError_LibraryNotFound."""
    return FakeNvml([], init_error=nv.NVML_ERROR_LIBRARY_NOT_FOUND)


PROFILES: dict[str, Callable[[], FakeNvml]] = {
    "h100x8": h100x8, "a100x4": a100x4, "t4": t4, "no_driver": no_driver,
}

Setter = Callable[[object, str, Any], None]


def patch(fake: FakeNvml, setter: Setter) -> None:
    """Replace every nvml* function of the real pynvml module through `setter`."""
    for name, function in fake.functions():
        setter(nv, name, function)


def install(profile: str | FakeNvml) -> tuple[FakeNvml, Callable[[], None]]:
    """Install a fake without pytest; returns it and the callable that restores pynvml."""
    fake = PROFILES[profile]() if isinstance(profile, str) else profile
    saved = {name: getattr(nv, name) for name, _ in fake.functions()}
    patch(fake, setattr)

    def undo() -> None:
        for name, function in saved.items():
            setattr(nv, name, function)

    return fake, undo


if pytest is not None:

    @pytest.fixture
    def fake_nvml(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FakeNvml]]:
        """fake_nvml("a100x4") -> the installed FakeNvml; pynvml is restored afterwards."""

        def make(profile: str | FakeNvml = "h100x8") -> FakeNvml:
            fake = PROFILES[profile]() if isinstance(profile, str) else profile
            patch(fake, monkeypatch.setattr)
            return fake

        yield make
