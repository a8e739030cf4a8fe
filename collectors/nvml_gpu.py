"""One GPU's sampling plan: bound readers per cadence, built once in open().

Each reader calls NVML with arguments fixed in advance and adds rows in SI units with catalog
scales, so a tick is a loop over prepared callables. `fast` runs every tick, `slow` about once a
second (GPM, limits, health counters, the 20 ms-window PCIe throughput fallback), `rare` every
few seconds (the process list).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from collectors.base import SampleBuffer
from collectors.nvml_common import Reader, Signal, Source, catalog_metric, gpm_names, scale
from collectors.nvml_fields import ALL_LINKS, FIELD_NAMES, NVLINK_FIELD_NAMES, FieldSet, FieldSpec
from collectors.nvml_gpm import Gpm, GpmSpec
from collectors.nvml_static import Probe

PCIE = ("gpu.pcie_tx", "gpu.pcie_rx")
NVLINK = ("gpu.nvlink_tx", "gpu.nvlink_rx")
GPM_NVLINK = {"gpu.nvlink_tx": "NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC",
              "gpu.nvlink_rx": "NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC"}


@dataclass(eq=False, slots=True)
class GpuState:
    index: int
    entity: str
    handle: Any
    probe: Probe
    fast: list[Signal] = field(default_factory=list)
    slow: list[Signal] = field(default_factory=list)
    rare: list[Signal] = field(default_factory=list)
    fields: FieldSet | None = None
    gpm: Gpm | None = None
    pcie_fallback: bool = False
    lost: bool = False

    def retire(self, src: Source) -> tuple[str, ...]:
        """Stop asking `src`; returns the metrics nothing else of this GPU still provides."""
        if isinstance(src, FieldSpec) and self.fields is not None:
            return self.fields.remove(src)
        if isinstance(src, GpmSpec) and self.gpm is not None:
            return self.gpm.remove(src)
        self.fast = [s for s in self.fast if s is not src]
        self.slow = [s for s in self.slow if s is not src]
        self.rare = [s for s in self.rare if s is not src]
        if self.gpm is not None and src is self.gpm.signal:
            self.gpm = None
        if self.fields is not None and src is self.fields.signal:
            self.fields = None
        return src.metrics


def _util(nv: ModuleType, h: Any, e: str) -> Reader:
    get = nv.nvmlDeviceGetUtilizationRates
    s_gpu = scale("nvmlDeviceGetUtilizationRates().gpu")
    s_mem = scale("nvmlDeviceGetUtilizationRates().memory")

    def read(buf: SampleBuffer) -> None:
        u = get(h)
        buf.add(e, "gpu.util", u.gpu * s_gpu)
        buf.add(e, "gpu.mem_util", u.memory * s_mem)

    return read


def _memory(nv: ModuleType, h: Any, e: str) -> tuple[Reader, Reader]:
    get = nv.nvmlDeviceGetMemoryInfo
    v2 = nv.nvmlMemory_v2

    def read_v2(buf: SampleBuffer) -> None:
        m = get(h, version=v2)
        used, total = m.used, m.total
        usable = total - m.reserved
        buf.add(e, "gpu.fb_used", used)
        buf.add(e, "gpu.fb_free", m.free)
        buf.add(e, "gpu.fb_total", total)
        if usable > 0:
            buf.add(e, "gpu.fb_used_ratio", used / usable)

    def read_v1(buf: SampleBuffer) -> None:
        # Old drivers: `used` includes driver-reserved memory and there is no `reserved`.
        m = get(h)
        used, total = m.used, m.total
        buf.add(e, "gpu.fb_used", used)
        buf.add(e, "gpu.fb_free", m.free)
        buf.add(e, "gpu.fb_total", total)
        if total > 0:
            buf.add(e, "gpu.fb_used_ratio", used / total)

    return read_v2, read_v1


def _scalar(call: Any, args: tuple[Any, ...], e: str, metric: str, factor: float) -> Reader:
    if len(args) == 1:
        (a,) = args

        def read1(buf: SampleBuffer) -> None:
            buf.add(e, metric, call(a) * factor)

        return read1
    a, b = args

    def read2(buf: SampleBuffer) -> None:
        buf.add(e, metric, call(a, b) * factor)

    return read2


def _constants(e: str, values: list[tuple[str, float]]) -> Reader:
    def read(buf: SampleBuffer) -> None:
        for metric, value in values:
            buf.add(e, metric, value)

    return read


def _ecc(nv: ModuleType, h: Any, e: str) -> Reader:
    get = nv.nvmlDeviceGetTotalEccErrors
    corrected, uncorrected = (nv.NVML_MEMORY_ERROR_TYPE_CORRECTED,
                              nv.NVML_MEMORY_ERROR_TYPE_UNCORRECTED)
    volatile = nv.NVML_VOLATILE_ECC

    def read(buf: SampleBuffer) -> None:
        c = get(h, corrected, volatile)
        u = get(h, uncorrected, volatile)
        buf.add(e, "gpu.ecc_corrected", c)
        buf.add(e, "gpu.ecc_uncorrected", u)

    return read


def _remapped(nv: ModuleType, h: Any, e: str) -> Reader:
    get = nv.nvmlDeviceGetRemappedRows

    def read(buf: SampleBuffer) -> None:
        _, unc, pending, failure = get(h)
        buf.add(e, "gpu.remapped_rows_uncorrectable", unc)
        buf.add(e, "gpu.row_remap_pending", 1.0 if pending else 0.0)
        buf.add(e, "gpu.row_remap_failure", 1.0 if failure else 0.0)

    return read


def pcie_throughput(nv: ModuleType, h: Any, e: str) -> Signal:
    get = nv.nvmlDeviceGetPcieThroughput
    tx, rx = nv.NVML_PCIE_UTIL_TX_BYTES, nv.NVML_PCIE_UTIL_RX_BYTES
    s_tx = scale("nvmlDeviceGetPcieThroughput(NVML_PCIE_UTIL_TX_BYTES)")
    s_rx = scale("nvmlDeviceGetPcieThroughput(NVML_PCIE_UTIL_RX_BYTES)")

    def read(buf: SampleBuffer) -> None:
        t = get(h, tx)
        r = get(h, rx)
        buf.add(e, "gpu.pcie_tx", t * s_tx)
        buf.add(e, "gpu.pcie_rx", r * s_rx)

    return Signal(call="nvmlDeviceGetPcieThroughput", metrics=PCIE, read=read)


def build_plan(nv: ModuleType, gpu: GpuState) -> None:
    """Fill `gpu.fast` and `gpu.slow` with every per-tick NVML signal (fields and GPM apart)."""
    h, e, p = gpu.handle, gpu.entity, gpu.probe
    v2, v1 = _memory(nv, h, e)
    fast = [
        Signal(call="nvmlDeviceGetUtilizationRates", metrics=("gpu.util", "gpu.mem_util"),
               read=_util(nv, h, e)),
        Signal(call="nvmlDeviceGetMemoryInfo",
               metrics=("gpu.fb_used", "gpu.fb_free", "gpu.fb_total", "gpu.fb_used_ratio"),
               read=v2, fallback=v1),
        _call(nv, "nvmlDeviceGetClockInfo", (h, nv.NVML_CLOCK_SM), e,
              "nvmlDeviceGetClockInfo(NVML_CLOCK_SM)"),
        _call(nv, "nvmlDeviceGetClockInfo", (h, nv.NVML_CLOCK_MEM), e,
              "nvmlDeviceGetClockInfo(NVML_CLOCK_MEM)"),
        _call(nv, "nvmlDeviceGetTemperatureV", (h, nv.NVML_TEMPERATURE_GPU), e,
              "nvmlDeviceGetTemperature(NVML_TEMPERATURE_GPU)",
              fallback="nvmlDeviceGetTemperature"),
        _call(nv, "nvmlDeviceGetPowerUsage", (h,), e, "nvmlDeviceGetPowerUsage"),
        _call(nv, "nvmlDeviceGetCurrentClocksEventReasons", (h,), e,
              "nvmlDeviceGetCurrentClocksEventReasons",
              fallback="nvmlDeviceGetCurrentClocksThrottleReasons"),
        _call(nv, "nvmlDeviceGetCurrPcieLinkGeneration", (h,), e,
              "nvmlDeviceGetCurrPcieLinkGeneration"),
        _call(nv, "nvmlDeviceGetCurrPcieLinkWidth", (h,), e, "nvmlDeviceGetCurrPcieLinkWidth"),
    ]
    constants = [(m, float(v)) for m, v in (("gpu.clock_sm_max", p.max_sm_clock),
                                            ("gpu.pcie_gen_max", p.pcie_gen_max),
                                            ("gpu.pcie_width_max", p.pcie_width_max))
                 if v is not None]
    slow = [
        _call(nv, "nvmlDeviceGetEnforcedPowerLimit", (h,), e, "nvmlDeviceGetEnforcedPowerLimit"),
        Signal(call="nvmlDeviceGetTotalEccErrors", metrics=("gpu.ecc_corrected",
                                                            "gpu.ecc_uncorrected"),
               read=_ecc(nv, h, e)),
        Signal(call="nvmlDeviceGetRemappedRows", metrics=(
            "gpu.remapped_rows_uncorrectable", "gpu.row_remap_pending", "gpu.row_remap_failure"),
            read=_remapped(nv, h, e)),
    ]
    if constants:  # read once in open(), repeated so a window of the trace carries them
        slow.append(Signal(call="static", metrics=tuple(m for m, _ in constants),
                           read=_constants(e, constants)))
    gpu.fast.extend(fast)
    gpu.slow.extend(slow)


def _call(nv: ModuleType, call: str, args: tuple[Any, ...], e: str, outside: str,
          fallback: str | None = None) -> Signal:
    metric, factor = catalog_metric(outside), scale(outside)
    return Signal(call=call, metrics=(metric,), read=_scalar(getattr(nv, call), args, e, metric,
                                                             factor),
                  fallback=_scalar(getattr(nv, fallback), args, e, metric, factor)
                  if fallback else None)


def fields_and_gpm(gpu: GpuState, fields: FieldSet, gpm: Gpm | None, nvlink: bool) -> None:
    """Add the field-values batch (fast) and GPM (slow) of a GPU; NVLink only where it has links."""
    for name in FIELD_NAMES:
        if name in NVLINK_FIELD_NAMES:
            if nvlink:
                fields.add(name, ALL_LINKS)
        else:
            fields.add(name)
    gpu.fields = fields
    gpu.fast.append(fields.signal)
    if gpm is None:
        return
    for entry in gpm_names():
        if entry.metric not in NVLINK:  # GPM NVLink only replaces failing NVLink fields
            gpm.add(entry.name)
    gpu.gpm = gpm
    gpu.slow.append(gpm.signal)
