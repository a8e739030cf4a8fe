"""The fake NVML's core: GPU state, call plumbing, lifecycle and system calls.

See tests/fake_pynvml.py for what the fake is and how to use it.
"""

from __future__ import annotations

import ctypes
import inspect
import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pynvml as nv

MIB = 1024 * 1024
FI_MEM_TEMP = nv.NVML_FI_DEV_MEMORY_TEMP
FI_LINK_COUNT = nv.NVML_FI_DEV_NVLINK_LINK_COUNT
FI_NVLINK_TX = nv.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX
FI_NVLINK_RX = nv.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX
FI_POWER_CAP = nv.NVML_FI_DEV_CLOCKS_EVENT_REASON_SW_POWER_CAP
FI_SYNC_BOOST = nv.NVML_FI_DEV_CLOCKS_EVENT_REASON_SYNC_BOOST
FI_SW_THERMAL = nv.NVML_FI_DEV_CLOCKS_EVENT_REASON_SW_THERM_SLOWDOWN
FI_HW_THERMAL = nv.NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_THERM_SLOWDOWN
FI_POWER_BRAKE = nv.NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_POWER_BRAKE_SLOWDOWN
THROTTLE_FIELDS = (FI_POWER_CAP, FI_SYNC_BOOST, FI_SW_THERMAL, FI_HW_THERMAL, FI_POWER_BRAKE)
ALL_LINKS = 0xFFFFFFFF
EVENT_TYPES = (nv.nvmlEventTypeSingleBitEccError | nv.nvmlEventTypeDoubleBitEccError
               | nv.nvmlEventTypePState | nv.nvmlEventTypeXidCriticalError)
# Kept real: helpers that never reach the library, or that fail as the real one does.
KEEP_REAL = frozenset({"nvmlExceptionClass", "nvmlStructToFriendlyObject", "nvmlErrorString"})

# GPM metric id -> value (percent, or MiB/s for PCIe and NVLink) of a busy training GPU.
BUSY_GPM: dict[int, float] = {
    nv.NVML_GPM_METRIC_GRAPHICS_UTIL: 98.0, nv.NVML_GPM_METRIC_SM_UTIL: 87.5,
    nv.NVML_GPM_METRIC_SM_OCCUPANCY: 42.0, nv.NVML_GPM_METRIC_ANY_TENSOR_UTIL: 61.0,
    nv.NVML_GPM_METRIC_DRAM_BW_UTIL: 55.0, nv.NVML_GPM_METRIC_FP64_UTIL: 0.0,
    nv.NVML_GPM_METRIC_FP32_UTIL: 12.5, nv.NVML_GPM_METRIC_FP16_UTIL: 3.0,
    nv.NVML_GPM_METRIC_PCIE_TX_PER_SEC: 1200.0, nv.NVML_GPM_METRIC_PCIE_RX_PER_SEC: 3400.0,
    nv.NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC: 180000.0,
    nv.NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC: 175000.0,
}


def _pointer(kind: Any, keep: list[Any]) -> Any:
    """A real ctypes pointer of `kind` to memory of its own (distinct address, kept alive)."""
    cell = (ctypes.c_uint64 * 2)()
    keep.append(cell)
    return ctypes.cast(cell, kind)


def address(pointer: Any) -> int | None:
    value: int | None = ctypes.cast(pointer, ctypes.c_void_p).value
    return value


@dataclass(eq=False)
class FakeGpu:
    """One GPU's state; every field is plain data a test may change between ticks."""

    index: int
    name: str
    arch: int
    memory_mib: int
    reserved_mib: int
    power_limit_mw: int
    clock_sm_max: int
    clock_mem: int
    pcie_gen_max: int
    nvlink_links: int
    nvlink_version: int
    numa_node: int
    cpus: range
    gpm: bool
    mem_temp: int | None = 55
    remapped: tuple[int, int, int, int] | None = (0, 0, 0, 0)
    ecc: list[int] | None = field(default_factory=lambda: [0, 0])
    mig: bool | None = False
    util_gpu: int = 97
    util_mem: int = 41
    used_mib: int = 61440
    clock_sm: int = 1980
    temp: int = 62
    power_mw: int = 612450
    reasons: int = 0
    pcie_gen: int = 5
    pcie_width: int = 16
    pcie_width_max: int = 16
    pcie_tx_kbs: int = 2100
    pcie_rx_kbs: int = 8800
    fan: int | None = None
    gpm_values: dict[int, float] = field(default_factory=lambda: dict(BUSY_GPM))
    gpm_unsupported: set[int] = field(default_factory=set)
    fields_unsupported: set[int] = field(default_factory=set)
    field_errors: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # function name -> NVML error code
    processes: list[tuple[int, int | None]] = field(default_factory=list)
    supported_events: int = EVENT_TYPES
    lost_after: int | None = None  # calls on this handle before it is lost for good
    lost: bool = False
    calls: dict[str, int] = field(default_factory=dict)
    field_calls: dict[int, int] = field(default_factory=dict)
    total_calls: int = 0
    # Counter rates per second: throttle fields in ns/s, NVLink in KiB/s, "energy" in mJ/s.
    rates: dict[int | str, float] = field(default_factory=dict)
    _base: dict[int | str, int] = field(default_factory=dict)
    _t0: dict[int | str, float] = field(default_factory=dict)
    handle: Any = None

    @property
    def uuid(self) -> str:
        return f"GPU-{self.index:08x}-1111-2222-3333-{0xABCDEF000000 + self.index:012x}"

    @property
    def bus_id(self) -> str:
        return f"00000000:{0x18 + 0x10 * self.index:02X}:00.0"

    def counter(self, key: int | str, now: float) -> int:
        grown = self.rates.get(key, 0.0) * (now - self._t0.get(key, now))
        return self._base.get(key, 0) + int(grown)

    def set_counter(self, key: int | str, value: float, now: float) -> None:
        self._base[key] = int(value)
        self._t0[key] = now


class FakeCore:
    """The fake library's state: `gpus`, a clock, call counts; lifecycle and system calls."""

    def __init__(self, gpus: list[FakeGpu], *, driver: str = "590.48.01", cuda: int = 13010,
                 init_error: int | None = None, missing: frozenset[str] = frozenset()) -> None:
        self.gpus = gpus
        self.driver = driver
        self.cuda = cuda
        self.init_error = init_error
        self.missing = set(missing)  # symbols this "driver" lacks -> NVMLError_FunctionNotFound
        self._clock: float | None = None
        self.initialized = 0
        self.unfaked: list[str] = []
        self.process_names: dict[int, str] = {}
        self._keep: list[Any] = []
        self._by_id: dict[int, FakeGpu] = {}
        self._by_address: dict[int | None, FakeGpu] = {}
        self._gpm_samples: dict[int | None, tuple[FakeGpu, float] | None] = {}
        self._event_sets: dict[int | None, dict[int, int]] = {}
        self._events: queue.Queue[tuple[FakeGpu, int, int]] = queue.Queue()
        now = self.now()
        for gpu in gpus:
            gpu.handle = _pointer(nv.c_nvmlDevice_t, self._keep)
            self._by_id[id(gpu.handle)] = gpu
            self._by_address[address(gpu.handle)] = gpu
            for key in gpu.rates:
                gpu.set_counter(key, 0.0, now)

    # --- test controls ---------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock if self._clock is not None else time.time()

    @property
    def clock_s(self) -> float | None:
        """The fake's time in seconds since the epoch; None follows the real clock."""
        return self._clock

    @clock_s.setter
    def clock_s(self, value: float | None) -> None:
        if self._clock is None and value is not None:  # counters carry on from real time
            real = time.time()
            for g in self.gpus:
                for key in set(g.rates) | set(g._base):
                    g.set_counter(key, g.counter(key, real), value)
        self._clock = value

    def set_rate(self, gpu: int, key: int | str, per_s: float) -> None:
        g, now = self.gpus[gpu], self.now()
        g.set_counter(key, g.counter(key, now), now)
        g.rates[key] = per_s

    def reload_driver(self) -> None:
        """Volatile counters (ECC, energy, throttle time, NVLink traffic) restart from zero."""
        now = self.now()
        for g in self.gpus:
            for key in set(g.rates) | set(g._base):
                g.set_counter(key, 0.0, now)
            if g.ecc is not None:
                g.ecc = [0, 0]

    def inject_event(self, gpu: int, event_type: int, data: int) -> None:
        """An event as the driver raises it; only sets that registered the type see it."""
        self._events.put((self.gpus[gpu], event_type, data))

    def calls(self, fn: str, gpu: int | None = None) -> int:
        gpus = self.gpus if gpu is None else [self.gpus[gpu]]
        return sum(g.calls.get(fn, 0) for g in gpus)

    # --- plumbing --------------------------------------------------------------------------------

    def _lib(self, fn: str) -> None:
        if not self.initialized:
            raise nv.NVMLError(nv.NVML_ERROR_UNINITIALIZED)
        if fn in self.missing:
            raise nv.NVMLError(nv.NVML_ERROR_FUNCTION_NOT_FOUND)

    def _dev(self, handle: Any, fn: str) -> FakeGpu:
        if not self.initialized:
            raise nv.NVMLError(nv.NVML_ERROR_UNINITIALIZED)
        if fn in self.missing:
            raise nv.NVMLError(nv.NVML_ERROR_FUNCTION_NOT_FOUND)
        g = self._by_id.get(id(handle)) or self._by_address.get(address(handle))
        if g is None:
            raise nv.NVMLError(nv.NVML_ERROR_INVALID_ARGUMENT)
        g.calls[fn] = g.calls.get(fn, 0) + 1
        g.total_calls += 1
        if g.lost or (g.lost_after is not None and g.total_calls > g.lost_after):
            g.lost = True
            raise nv.NVMLError(nv.NVML_ERROR_GPU_IS_LOST)
        code = g.errors.get(fn)
        if code:
            raise nv.NVMLError(code)
        return g

    def functions(self) -> Iterator[tuple[str, Callable[..., Any]]]:
        """(name, replacement) for every nvml* function of the real pynvml module."""
        for name, real in vars(nv).items():
            if not name.startswith("nvml") or name in KEEP_REAL or not inspect.isfunction(real):
                continue
            yield name, getattr(self, name, None) or self._unfaked(name)

    def _unfaked(self, name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.unfaked.append(name)
            self._lib(name)
            raise nv.NVMLError(nv.NVML_ERROR_NOT_SUPPORTED)

        return call

    # --- lifecycle and system --------------------------------------------------------------------

    def nvmlInitWithFlags(self, flags: int) -> None:
        if self.init_error is not None:
            raise nv.NVMLError(self.init_error)
        self.initialized += 1

    def nvmlInit(self) -> None:
        self.nvmlInitWithFlags(0)

    def nvmlShutdown(self) -> None:
        self._lib("nvmlShutdown")
        self.initialized -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        self._lib("nvmlSystemGetDriverVersion")
        return self.driver

    def nvmlSystemGetNVMLVersion(self) -> str:
        self._lib("nvmlSystemGetNVMLVersion")
        return "13." + self.driver

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        self._lib("nvmlSystemGetCudaDriverVersion")
        return self.cuda

    def nvmlSystemGetProcessName(self, pid: int) -> str:
        self._lib("nvmlSystemGetProcessName")
        if pid not in self.process_names:
            raise nv.NVMLError(nv.NVML_ERROR_NOT_FOUND)
        return self.process_names[pid]

    def nvmlDeviceGetCount(self) -> int:
        self._lib("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Any:
        self._lib("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.gpus):
            raise nv.NVMLError(nv.NVML_ERROR_INVALID_ARGUMENT)
        return self._dev(self.gpus[index].handle, "nvmlDeviceGetHandleByIndex").handle

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> Any:
        self._lib("nvmlDeviceGetHandleByUUID")
        for g in self.gpus:
            if g.uuid == uuid:
                return g.handle
        raise nv.NVMLError(nv.NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetIndex(self, handle: Any) -> int:
        return self._dev(handle, "nvmlDeviceGetIndex").index
