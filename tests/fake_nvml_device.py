"""The fake NVML's per-device calls: identity, topology and the plain samples.

Return shapes follow pynvml 13.615.71: structs for utilization, memory and PCI info, ints for
the rest, ctypes arrays of 64-bit masks for affinities, tuples/lists where pynvml returns them.
"""

from __future__ import annotations

from typing import Any

import pynvml as nv

from tests.fake_nvml_core import MIB, FakeCore


class FakeDevice(FakeCore):
    # --- identity and topology -------------------------------------------------------------------

    def nvmlDeviceGetName(self, handle: Any) -> str:
        return self._dev(handle, "nvmlDeviceGetName").name

    def nvmlDeviceGetUUID(self, handle: Any) -> str:
        return self._dev(handle, "nvmlDeviceGetUUID").uuid

    def nvmlDeviceGetPciInfo(self, handle: Any) -> Any:
        g = self._dev(handle, "nvmlDeviceGetPciInfo")
        info = nv.nvmlPciInfo_t()
        info.busId = g.bus_id.encode()
        info.busIdLegacy = g.bus_id[4:].encode()
        info.domain, info.bus, info.device = 0, int(g.bus_id[9:11], 16), 0
        return info

    nvmlDeviceGetPciInfo_v3 = nvmlDeviceGetPciInfo

    def nvmlDeviceGetArchitecture(self, handle: Any) -> int:
        return self._dev(handle, "nvmlDeviceGetArchitecture").arch

    def nvmlDeviceGetCudaComputeCapability(self, handle: Any) -> tuple[int, int]:
        arch = self._dev(handle, "nvmlDeviceGetCudaComputeCapability").arch
        return {nv.NVML_DEVICE_ARCH_TURING: (7, 5), nv.NVML_DEVICE_ARCH_AMPERE: (8, 0),
                nv.NVML_DEVICE_ARCH_HOPPER: (9, 0)}.get(arch, (10, 0))

    def nvmlDeviceGetMigMode(self, handle: Any) -> list[int]:
        g = self._dev(handle, "nvmlDeviceGetMigMode")
        if g.mig is None:
            raise nv.NVMLError(nv.NVML_ERROR_NOT_SUPPORTED)
        mode = nv.NVML_DEVICE_MIG_ENABLE if g.mig else nv.NVML_DEVICE_MIG_DISABLE
        return [mode, mode]

    def nvmlDeviceGetCpuAffinity(self, handle: Any, cpuSetSize: int) -> Any:
        g = self._dev(handle, "nvmlDeviceGetCpuAffinity")
        words = (nv.c_ulonglong * cpuSetSize)()
        for cpu in g.cpus:
            if cpu < 64 * cpuSetSize:
                words[cpu // 64] |= 1 << (cpu % 64)
        return words

    def nvmlDeviceGetMemoryAffinity(self, handle: Any, nodeSetSize: int, scope: int) -> Any:
        g = self._dev(handle, "nvmlDeviceGetMemoryAffinity")
        words = (nv.c_ulonglong * nodeSetSize)()
        words[g.numa_node // 64] |= 1 << (g.numa_node % 64)
        return words

    def nvmlDeviceGetNvLinkState(self, handle: Any, link: int) -> int:
        g = self._dev(handle, "nvmlDeviceGetNvLinkState")
        if g.nvlink_links == 0:
            raise nv.NVMLError(nv.NVML_ERROR_NOT_SUPPORTED)
        if link >= g.nvlink_links:
            raise nv.NVMLError(nv.NVML_ERROR_INVALID_ARGUMENT)
        return int(nv.NVML_FEATURE_ENABLED)

    def nvmlDeviceGetNvLinkVersion(self, handle: Any, link: int) -> int:
        g = self._dev(handle, "nvmlDeviceGetNvLinkVersion")
        if not g.nvlink_links:
            raise nv.NVMLError(nv.NVML_ERROR_NOT_SUPPORTED)
        if link >= g.nvlink_links:
            raise nv.NVMLError(nv.NVML_ERROR_INVALID_ARGUMENT)
        return g.nvlink_version

    # --- samples ---------------------------------------------------------------------------------

    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> Any:
        g = self._dev(handle, "nvmlDeviceGetUtilizationRates")
        if g.mig:
            raise nv.NVMLError(nv.NVML_ERROR_NOT_SUPPORTED)
        u = nv.c_nvmlUtilization_t()
        u.gpu, u.memory = g.util_gpu, g.util_mem
        return u

    def nvmlDeviceGetMemoryInfo(self, handle: Any, version: int | None = None) -> Any:
        g = self._dev(handle, "nvmlDeviceGetMemoryInfo")
        total, reserved, used = g.memory_mib * MIB, g.reserved_mib * MIB, g.used_mib * MIB
        if not version:
            m = nv.c_nvmlMemory_t()
            m.total, m.used, m.free = total, used + reserved, total - used - reserved
            return m
        if "nvmlDeviceGetMemoryInfo_v2" in self.missing:
            raise nv.NVMLError(nv.NVML_ERROR_FUNCTION_NOT_FOUND)
        m2 = nv.c_nvmlMemory_v2_t()
        m2.version, m2.total, m2.reserved = version, total, reserved
        m2.used, m2.free = used, total - used - reserved
        return m2

    def nvmlDeviceGetClockInfo(self, handle: Any, type: int) -> int:
        g = self._dev(handle, "nvmlDeviceGetClockInfo")
        return g.clock_sm if type in (nv.NVML_CLOCK_SM, nv.NVML_CLOCK_GRAPHICS) else g.clock_mem

    def nvmlDeviceGetMaxClockInfo(self, handle: Any, type: int) -> int:
        g = self._dev(handle, "nvmlDeviceGetMaxClockInfo")
        return g.clock_sm_max if type in (nv.NVML_CLOCK_SM, nv.NVML_CLOCK_GRAPHICS) else g.clock_mem

    def nvmlDeviceGetTemperatureV(self, handle: Any, sensor: int,
                                  version: int = nv.nvmlTemperature_v1) -> int:
        return self._dev(handle, "nvmlDeviceGetTemperatureV").temp

    def nvmlDeviceGetTemperature(self, handle: Any, sensor: int) -> int:
        return self._dev(handle, "nvmlDeviceGetTemperature").temp

    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int:
        return self._dev(handle, "nvmlDeviceGetPowerUsage").power_mw

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: Any) -> int:
        return self._dev(handle, "nvmlDeviceGetEnforcedPowerLimit").power_limit_mw

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any) -> int:
        g = self._dev(handle, "nvmlDeviceGetTotalEnergyConsumption")
        return g.counter("energy", self.now())

    def nvmlDeviceGetFanSpeed(self, handle: Any) -> int:
        g = self._dev(handle, "nvmlDeviceGetFanSpeed")
        if g.fan is None:
            raise nv.NVMLError(nv.NVML_ERROR_NOT_SUPPORTED)
        return g.fan

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: Any) -> int:
        return self._dev(handle, "nvmlDeviceGetCurrentClocksEventReasons").reasons

    def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle: Any) -> int:
        return self._dev(handle, "nvmlDeviceGetCurrentClocksThrottleReasons").reasons

    def nvmlDeviceGetSupportedClocksEventReasons(self, handle: Any) -> int:
        self._dev(handle, "nvmlDeviceGetSupportedClocksEventReasons")
        return 0x1FF

    def nvmlDeviceGetCurrPcieLinkGeneration(self, handle: Any) -> int:
        return self._dev(handle, "nvmlDeviceGetCurrPcieLinkGeneration").pcie_gen

    def nvmlDeviceGetMaxPcieLinkGeneration(self, handle: Any) -> int:
        return self._dev(handle, "nvmlDeviceGetMaxPcieLinkGeneration").pcie_gen_max

    def nvmlDeviceGetGpuMaxPcieLinkGeneration(self, handle: Any) -> int:
        return self._dev(handle, "nvmlDeviceGetGpuMaxPcieLinkGeneration").pcie_gen_max

    def nvmlDeviceGetCurrPcieLinkWidth(self, handle: Any) -> int:
        return self._dev(handle, "nvmlDeviceGetCurrPcieLinkWidth").pcie_width

    def nvmlDeviceGetMaxPcieLinkWidth(self, handle: Any) -> int:
        return self._dev(handle, "nvmlDeviceGetMaxPcieLinkWidth").pcie_width_max

    def nvmlDeviceGetPcieThroughput(self, device: Any, counter: int) -> int:
        g = self._dev(device, "nvmlDeviceGetPcieThroughput")
        return g.pcie_tx_kbs if counter == nv.NVML_PCIE_UTIL_TX_BYTES else g.pcie_rx_kbs

    def nvmlDeviceGetTotalEccErrors(self, handle: Any, errorType: int, counterType: int) -> int:
        g = self._dev(handle, "nvmlDeviceGetTotalEccErrors")
        if g.ecc is None:
            raise nv.NVMLError(nv.NVML_ERROR_NOT_SUPPORTED)
        return g.ecc[errorType]

    def nvmlDeviceGetRemappedRows(self, device: Any) -> tuple[int, int, int, int]:
        g = self._dev(device, "nvmlDeviceGetRemappedRows")
        if g.remapped is None:
            raise nv.NVMLError(nv.NVML_ERROR_NOT_SUPPORTED)
        return g.remapped
