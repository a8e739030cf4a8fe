"""NVIDIA GPUs through NVML (pynvml): activity, memory, clocks, power, thermal, links, health.

Facts, units and error codes: ../shared/reference/nvml.md. pynvml is imported in open(), never
at import time. Without a driver the collector records `gpu.*` absent and samples nothing; the
host collectors go on. Each (GPU, signal) degrades on its own, decided at its first failure and
cached (nvml.md section 5): unsupported or missing -> absent and never asked again; no
permission -> absent ("needs permission"); GPU lost -> a gpu_lost event, that GPU stops, the others
go on; transient errors -> the tick is skipped, an absence after TRANSIENT_LIMIT in a row.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, ClassVar

from collectors.base import Collector, Rates, SampleBuffer, register
from collectors.nvml_common import TRANSIENT_LIMIT, Policy, Signal, Source, Verdict, error_name
from collectors.nvml_events import EventWatcher
from collectors.nvml_fields import FieldSet, FieldSpec
from collectors.nvml_gpm import Gpm, GpmSpec
from collectors.nvml_gpu import (
    GPM_NVLINK,
    NVLINK,
    PCIE,
    GpuState,
    build_plan,
    fields_and_gpm,
    pcie_throughput,
)
from collectors.nvml_procs import ProcessTable
from collectors.nvml_static import driver_versions, probe
from profiler.trace import GpuInfo, HostInfo, ProcessInfo

log = logging.getLogger(__name__)

# Why nvmlInit failed, by error class (nvml.md section 1).
INIT_HINTS: dict[str, str] = {
    "NVMLError_LibraryNotFound": "no NVIDIA driver on this host",
    "NVMLError_DriverNotLoaded": "the NVIDIA kernel module is not loaded",
    "NVMLError_LibRmVersionMismatch": "driver library and kernel module differ: reload the "
                                      "driver or reboot",
    "NVMLError_NoPermission": "no permission to open /dev/nvidia*",
    "NVMLError_Uninitialized": "NVML did not initialize",
}
GPM_CORE = ("gpu.gr_engine_active", "gpu.sm_active", "gpu.sm_occupancy", "gpu.tensor_active",
            "gpu.dram_active", "gpu.fp64_active", "gpu.fp32_active", "gpu.fp16_active")


@register
class NvmlCollector(Collector):
    name = "nvml"
    provides: ClassVar[tuple[str, ...]] = (
        "gpu.util", "gpu.mem_util", *GPM_CORE,
        "gpu.fb_used", "gpu.fb_free", "gpu.fb_total", "gpu.fb_used_ratio",
        "gpu.clock_sm", "gpu.clock_sm_max", "gpu.clock_mem", "gpu.temp", "gpu.mem_temp",
        "gpu.power", "gpu.power_limit", "gpu.clocks_event_reasons",
        "gpu.throttle.power_cap", "gpu.throttle.thermal", "gpu.throttle.power_brake",
        "gpu.throttle.sync_boost", "gpu.pcie_gen", "gpu.pcie_gen_max", "gpu.pcie_width",
        "gpu.pcie_width_max", "gpu.pcie_tx", "gpu.pcie_rx", "gpu.nvlink_tx", "gpu.nvlink_rx",
        "gpu.ecc_corrected", "gpu.ecc_uncorrected", "gpu.remapped_rows_uncorrectable",
        "gpu.row_remap_pending", "gpu.row_remap_failure", "gpu.process_count",
    )

    def __init__(self, *, slow_period_s: float = 1.0, process_period_s: float = 5.0,
                 event_wait_ms: int = 500, sysfs: str | os.PathLike[str] = "/sys",
                 proc: str | os.PathLike[str] = "/proc") -> None:
        super().__init__()
        # Ticks a little early still count, so 1 Hz ticks with jitter run slow signals every tick.
        self._slow_ns = int(slow_period_s * 0.95e9)
        self._rare_ns = int(process_period_s * 0.95e9)
        self._event_wait_ms = event_wait_ms
        self._sysfs = Path(sysfs)
        self._proc = Path(proc)
        self._nv: Any = None
        self._policy: Policy  # set by open() before any GPU is sampled
        self._errors: tuple[type[BaseException], ...] = ()
        self._gpus: list[GpuState] = []
        self._gpms: list[Gpm] = []
        self._lost_at_open: list[tuple[str, str]] = []
        self._active: list[GpuState] = []
        self._infos: list[GpuInfo] = []
        self._host_info: HostInfo | None = None
        self._rates = Rates()
        self._events: EventWatcher | None = None
        self._procs: ProcessTable | None = None
        self._next_slow = 0
        self._next_rare = 0

    # --- open ------------------------------------------------------------------------------------

    def open(self, host: str) -> None:
        super().open(host)
        try:
            import pynvml
        except ImportError:
            self.absent("gpu.*", "NVML unavailable: pynvml (nvidia-ml-py) is not installed")
            return
        policy = Policy(pynvml)
        try:
            pynvml.nvmlInit()
        except policy.errors as e:
            name = error_name(e)
            hint = INIT_HINTS.get(name, f"nvmlInit failed, code {getattr(e, 'value', '?')}")
            self.absent("gpu.*", f"NVML unavailable: {name} ({hint})")
            return
        self._nv, self._policy, self._errors = pynvml, policy, policy.errors
        try:
            count = pynvml.nvmlDeviceGetCount()
        except policy.errors as e:
            self.absent("gpu.*", f"NVML unavailable: {error_name(e)} from nvmlDeviceGetCount")
            self._shutdown()
            return
        if count == 0:
            self.absent("gpu.*", "no NVIDIA GPU found")
            self._shutdown()
            return
        driver, cuda = driver_versions(pynvml, self._errors)
        self._host_info = HostInfo(host, driver_version=driver, cuda_driver_version=cuda)
        procs = self._procs = ProcessTable(pynvml, host, self._proc, self._errors)
        self._open_events()
        for index in range(count):
            self._open_gpu(index, procs)
        if self._events is not None:
            self._events.start()
        self._active = [g for g in self._gpus if not g.lost]

    def _open_events(self) -> None:
        try:
            self._events = EventWatcher(self._nv, self._policy, self._event_wait_ms)
        except self._errors as e:
            reason = self._policy.classify(e, "nvmlEventSetCreate")[1]
            self.absent("gpu.xid_last", f"XID events unavailable: {reason}")

    def _open_gpu(self, index: int, procs: ProcessTable) -> None:
        nv, policy, entity = self._nv, self._policy, f"gpu{index}"
        try:
            handle = nv.nvmlDeviceGetHandleByIndex(index)
            facts = probe(nv, policy, handle, self._sysfs, os.cpu_count() or 1)
        except self._errors as e:  # the handle, or a lost GPU while reading its properties
            verdict, reason = policy.classify(e, "nvmlDeviceGetHandleByIndex")
            self.absent("gpu.*", f"{entity} not sampled: {reason}", entity)
            self._infos.append(GpuInfo(self.host, entity, index))
            if verdict is Verdict.LOST:
                self._lost_at_open.append((entity, reason))
            return
        gpu = GpuState(index, entity, handle, facts)
        self._infos.append(self._gpu_info(gpu))
        build_plan(nv, gpu)
        for metric, call in (("gpu.clock_sm_max", "nvmlDeviceGetMaxClockInfo"),
                             ("gpu.pcie_gen_max", "nvmlDeviceGetMaxPcieLinkGeneration"),
                             ("gpu.pcie_width_max", "nvmlDeviceGetMaxPcieLinkWidth")):
            if call in facts.reasons:
                self.absent(metric, facts.reasons[call], entity)
        fields = FieldSet(nv, handle, entity, self._rates,
                          lambda spec, e: self._element_failed(gpu, spec, e))
        gpm = self._open_gpm(gpu)
        has_nvlink = facts.nvlink_count != 0  # unknown (None): let the fields tell
        if not has_nvlink:
            why = facts.reasons.get("nvlink", "NVML_FI_DEV_NVLINK_LINK_COUNT = 0")
            for metric in NVLINK:
                self.absent(metric, f"this GPU has no NVLink ({why})", entity)
        fields_and_gpm(gpu, fields, gpm, has_nvlink)
        if gpm is None:
            gpu.slow.append(pcie_throughput(nv, handle, entity))
            gpu.pcie_fallback = True
        gpu.rare.append(Signal(call="nvmlDeviceGetComputeRunningProcesses",
                               metrics=("gpu.process_count",), read=procs.reader(handle, entity)))
        if self._events is not None:
            why_not = self._events.register(handle, entity)
            if why_not:
                self.absent("gpu.xid_last", why_not, entity)
        self._gpus.append(gpu)

    def _open_gpm(self, gpu: GpuState) -> Gpm | None:
        facts, entity = gpu.probe, gpu.entity
        reason = facts.gpm_reason
        if facts.gpm and facts.mig:
            reason = "MIG mode is on: GPM is per GPU instance, which is not sampled"
        if facts.gpm and not facts.mig:
            try:
                gpm = Gpm(self._nv, gpu.handle, entity, self._slow_ns,
                          lambda spec, e: self._element_failed(gpu, spec, e))
            except self._errors as e:
                reason = f"GPM unavailable: {self._policy.classify(e, 'nvmlGpmSampleAlloc')[1]}"
            else:
                self._gpms.append(gpm)
                return gpm
        for metric in GPM_CORE:
            self.absent(metric, reason, entity)
        return None

    def _gpu_info(self, gpu: GpuState) -> GpuInfo:
        p = gpu.probe
        return GpuInfo(self.host, gpu.entity, gpu.index, name=p.name, uuid=p.uuid,
                       bus_id=p.bus_id, numa_node=p.numa_node, cpu_affinity=p.cpu_affinity,
                       architecture=p.arch_name, pcie_max_gen=p.pcie_gen_max,
                       pcie_max_width=p.pcie_width_max, nvlink_count=p.nvlink_count,
                       nvlink_version=p.nvlink_version, memory_total=p.memory_total,
                       power_limit=p.power_limit, max_sm_clock=p.max_sm_clock, gpm=p.gpm,
                       mig=p.mig)

    # --- sample ----------------------------------------------------------------------------------

    def sample(self, buf: SampleBuffer) -> None:
        now = buf.now_ns
        slow = now >= self._next_slow
        if slow:
            self._next_slow = now + self._slow_ns
        rare = now >= self._next_rare
        if rare:
            self._next_rare = now + self._rare_ns
        for gpu in self._active:
            ok = self._run(gpu, gpu.fast, buf)
            if ok and slow:
                ok = self._run(gpu, gpu.slow, buf)
            if ok and rare:
                self._run(gpu, gpu.rare, buf)
        if self._lost_at_open:
            for entity, reason in self._lost_at_open:
                buf.event(entity, "gpu_lost", f"{entity} {reason}; never sampled")
            self._lost_at_open = []
        events = self._events
        if events is not None and events.pending:
            for message in events.drain(buf):
                buf.event(self.name, "collector_fault", message)
                self.absent("gpu.xid_last", message)

    def _run(self, gpu: GpuState, signals: list[Signal], buf: SampleBuffer) -> bool:
        """Read `signals`; False once the GPU is lost."""
        for sig in signals:
            try:
                sig.read(buf)
            except self._errors as e:
                if self._failed(gpu, sig, e, buf):
                    return False
                continue
            if sig.fails:
                sig.fails = 0
        return True

    def _element_failed(self, gpu: GpuState, spec: FieldSpec | GpmSpec, error: BaseException
                        ) -> None:
        """A failing field or GPM metric; a lost GPU re-raises so the whole call fails."""
        if self._policy.classify(error, spec.call)[0] is Verdict.LOST:
            raise error
        self._failed(gpu, spec, error, None)

    def _failed(self, gpu: GpuState, src: Source, error: BaseException,
                buf: SampleBuffer | None) -> bool:
        """Apply the policy to one failure; True when the GPU is lost."""
        verdict, reason = self._policy.classify(error, src.call)
        if verdict is Verdict.LOST:
            if buf is not None and not gpu.lost:
                self._lose(gpu, reason, buf)
            return True
        if verdict is Verdict.TRANSIENT:
            src.fails += 1
            if src.fails == TRANSIENT_LIMIT:
                for metric in src.metrics:
                    self.absent(metric, f"{reason} on {TRANSIENT_LIMIT} consecutive samples",
                                gpu.entity)
            return False
        if (verdict is Verdict.FALLBACK and isinstance(src, Signal) and src.fallback is not None
                and buf is not None):
            log.debug("%s %s: %s, using the older call", gpu.entity, src.call, reason)
            src.read, src.fallback = src.fallback, None
            try:
                src.read(buf)
            except self._errors as e:
                return self._failed(gpu, src, e, buf)
            return False
        for metric in gpu.retire(src):
            self._drop(gpu, metric, reason, src.origin)
        return False

    def _drop(self, gpu: GpuState, metric: str, reason: str, origin: str) -> None:
        """`metric` lost its source on `gpu`: switch to the next source, or record it absent."""
        if metric in PCIE and origin == "gpm":
            if gpu.gpm is not None:
                gpu.gpm.remove_metrics(PCIE)
            if not gpu.pcie_fallback:
                gpu.pcie_fallback = True
                gpu.slow.append(pcie_throughput(self._nv, gpu.handle, gpu.entity))
            return
        if metric in NVLINK and origin == "fields" and gpu.gpm is not None:
            gpu.gpm.add(GPM_NVLINK[metric])
            return
        self.absent(metric, reason, gpu.entity)

    def _lose(self, gpu: GpuState, reason: str, buf: SampleBuffer) -> None:
        gpu.lost = True
        buf.event(gpu.entity, "gpu_lost", f"{gpu.entity} {reason}; its sampling stopped")
        self.absent("gpu.*", f"{reason}; not sampled after that", gpu.entity)
        self._active = [g for g in self._active if g is not gpu]

    # --- close and metadata ----------------------------------------------------------------------

    def close(self) -> None:
        if self._nv is None:
            return
        if self._events is not None:
            self._events.stop()
            self._events = None
        for gpm in self._gpms:
            gpm.close(self._errors)
        self._gpms = []
        self._active = []
        self._shutdown()

    def _shutdown(self) -> None:
        try:
            self._nv.nvmlShutdown()
        except self._errors as e:
            log.debug("nvmlShutdown: %s", error_name(e))
        self._nv = None

    def host_info(self) -> HostInfo | None:
        return self._host_info

    def gpus(self) -> list[GpuInfo]:
        return list(self._infos)

    def processes(self) -> list[ProcessInfo]:
        return self._procs.processes() if self._procs is not None else []
