"""The metric catalog: every canonical metric name, its unit and entity kind, and how outside
names map onto it.

Canonical names are the only names rules, features and renderers use. Values in a trace are in SI
base units (bytes, bytes/s, W, Hz, celsius, seconds) or ratios 0..1; conversion happens at the edge,
in collectors and importers, with the `scale` given here. Outside names come from NVML (pynvml),
DCGM / dcgm-exporter, `dcgmi dmon`, `nvidia-smi --query-gpu`, `nvidia-smi dmon` and node_exporter;
facts are in ../shared/reference/ (nvml.md, dcgm-and-nvidia-smi.md, node-exporter.md).

Entities: a GPU is "gpuN" (NVML index), host-wide metrics use the entity "host", a CPU core is
"cpuN", a disk or NIC is its kernel name ("nvme0n1", "eth0"), an InfiniBand port is "mlx5_0:1".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EntityKind = Literal["gpu", "host", "cpu", "disk", "nic", "link"]
Source = Literal["nvml", "dcgm", "dcgmi-dmon", "nvidia-smi", "nvidia-smi-dmon", "node_exporter"]

HOST_ENTITY = "host"

UNITS: dict[str, str] = {
    "ratio": "fraction 0..1 (of time, of capacity or of cycles, as the meaning says)",
    "bytes": "bytes",
    "bytes/s": "bytes per second",
    "W": "watts",
    "Hz": "hertz",
    "celsius": "degrees Celsius",
    "count": "a number of things (cores, lanes, rows, tasks)",
    "1/s": "events per second",
    "bitmask": "an integer bit set stored exactly in a float64",
    "generation": "PCIe generation number (1..6)",
}


@dataclass(frozen=True, slots=True)
class Metric:
    """One canonical metric: its name, SI unit, the kind of entity it describes, its meaning."""

    name: str
    unit: str
    kind: EntityKind
    meaning: str


def _m(name: str, unit: str, kind: EntityKind, meaning: str) -> Metric:
    if unit not in UNITS:
        raise ValueError(f"metric {name}: unknown unit {unit!r}")
    return Metric(name, unit, kind, meaning)


_METRICS: tuple[Metric, ...] = (
    # --- GPU: activity -------------------------------------------------------------------------
    _m("gpu.util", "ratio", "gpu",
       "share of time at least one kernel ran (NVML utilization.gpu); not SM activity"),
    _m("gpu.mem_util", "ratio", "gpu",
       "share of time device memory was read or written (NVML utilization.memory)"),
    _m("gpu.gr_engine_active", "ratio", "gpu",
       "share of time a graphics/compute context was active (GPM / DCGM GR_ENGINE_ACTIVE)"),
    _m("gpu.sm_active", "ratio", "gpu",
       "share of cycles an SM had at least one warp resident, averaged over SMs"),
    _m("gpu.sm_occupancy", "ratio", "gpu", "resident warps over the maximum, averaged over SMs"),
    _m("gpu.tensor_active", "ratio", "gpu", "share of cycles any tensor-core pipe was active"),
    _m("gpu.dram_active", "ratio", "gpu", "share of cycles the DRAM interface moved data"),
    _m("gpu.fp64_active", "ratio", "gpu", "share of cycles the FP64 pipe was active"),
    _m("gpu.fp32_active", "ratio", "gpu", "share of cycles the FP32 pipe was active"),
    _m("gpu.fp16_active", "ratio", "gpu", "share of cycles the FP16 pipe was active"),
    # --- GPU: memory ---------------------------------------------------------------------------
    _m("gpu.fb_used", "bytes", "gpu", "framebuffer memory in use (excluding driver-reserved)"),
    _m("gpu.fb_free", "bytes", "gpu", "framebuffer memory free"),
    _m("gpu.fb_total", "bytes", "gpu", "framebuffer memory in total"),
    _m("gpu.fb_used_ratio", "ratio", "gpu", "used / (total - reserved) framebuffer memory"),
    # --- GPU: clocks, power, thermal -----------------------------------------------------------
    _m("gpu.clock_sm", "Hz", "gpu", "current SM clock"),
    _m("gpu.clock_sm_max", "Hz", "gpu", "maximum SM clock of this GPU"),
    _m("gpu.clock_mem", "Hz", "gpu", "current memory clock"),
    _m("gpu.temp", "celsius", "gpu", "GPU die temperature"),
    _m("gpu.mem_temp", "celsius", "gpu", "memory (HBM) temperature"),
    _m("gpu.power", "W", "gpu", "board power draw"),
    _m("gpu.power_limit", "W", "gpu", "enforced power limit"),
    _m("gpu.clocks_event_reasons", "bitmask", "gpu",
       "NVML clock event (throttle) reasons bitmask; bits in CLOCK_EVENT_BITS"),
    _m("gpu.throttle.power_cap", "ratio", "gpu",
       "share of wall time clocks were held down by the software power cap (duration counter)"),
    _m("gpu.throttle.thermal", "ratio", "gpu",
       "share of wall time clocks were held down by software or hardware thermal slowdown"),
    _m("gpu.throttle.power_brake", "ratio", "gpu",
       "share of wall time the external hardware power brake slowed the clocks"),
    _m("gpu.throttle.sync_boost", "ratio", "gpu",
       "share of wall time clocks were held to the slowest GPU of a sync-boost group"),
    # --- GPU: interconnect ---------------------------------------------------------------------
    _m("gpu.pcie_gen", "generation", "gpu", "current PCIe link generation (drops at idle)"),
    _m("gpu.pcie_gen_max", "generation", "gpu",
       "maximum PCIe generation of this GPU in this system (GPU and slot)"),
    _m("gpu.pcie_width", "count", "gpu", "current PCIe link width in lanes (drops at idle)"),
    _m("gpu.pcie_width_max", "count", "gpu", "maximum PCIe link width in lanes"),
    _m("gpu.pcie_tx", "bytes/s", "gpu", "PCIe traffic from the GPU to the host (D2H)"),
    _m("gpu.pcie_rx", "bytes/s", "gpu", "PCIe traffic from the host to the GPU (H2D)"),
    _m("gpu.nvlink_tx", "bytes/s", "gpu", "NVLink data sent, all links"),
    _m("gpu.nvlink_rx", "bytes/s", "gpu", "NVLink data received, all links"),
    _m("gpu.nvlink_total", "bytes/s", "gpu",
       "NVLink data sent plus received, all links (where a source gives only the sum)"),
    # --- GPU: health ---------------------------------------------------------------------------
    _m("gpu.ecc_corrected", "count", "gpu", "corrected ECC errors since the driver loaded"),
    _m("gpu.ecc_uncorrected", "count", "gpu", "uncorrected ECC errors since the driver loaded"),
    _m("gpu.row_remap_pending", "count", "gpu",
       "1 while a row remap (or page retirement) waits for a GPU reset, else 0"),
    _m("gpu.row_remap_failure", "count", "gpu", "1 when row remapping failed: replace the GPU"),
    _m("gpu.remapped_rows_uncorrectable", "count", "gpu", "rows remapped for uncorrectable errors"),
    _m("gpu.xid_last", "count", "gpu", "number of the last XID error seen (DCGM); 0 = none"),
    _m("gpu.process_count", "count", "gpu", "compute processes running on the GPU"),
    # --- host: CPU and scheduler ---------------------------------------------------------------
    _m("host.cpu.user", "ratio", "host", "share of all CPU time in user mode (user + nice)"),
    _m("host.cpu.system", "ratio", "host",
       "share of all CPU time in the kernel (system + irq + softirq)"),
    _m("host.cpu.iowait", "ratio", "host", "share of all CPU time idle with I/O outstanding"),
    _m("host.cpu.steal", "ratio", "host", "share of all CPU time stolen by the hypervisor"),
    _m("host.cpu.idle", "ratio", "host", "share of all CPU time idle (without iowait)"),
    _m("host.cpu.core_busy_max", "ratio", "host", "busy share of the busiest core"),
    _m("host.cpu.cores_saturated", "count", "host", "cores at least 90 % busy"),
    _m("host.cpu.count", "count", "host", "online logical CPUs (hardware threads)"),
    _m("host.load1", "count", "host", "1-minute load average (runnable + uninterruptible tasks)"),
    _m("host.procs_running", "count", "host", "runnable tasks"),
    _m("host.procs_blocked", "count", "host", "tasks blocked in uninterruptible (I/O) sleep"),
    # --- host: memory, swap, pressure ----------------------------------------------------------
    _m("host.mem_total", "bytes", "host", "physical memory"),
    _m("host.mem_available", "bytes", "host", "memory available without swapping (MemAvailable)"),
    _m("host.swap_total", "bytes", "host", "swap space"),
    _m("host.swap_used", "bytes", "host", "swap space in use"),
    _m("host.swap_in", "bytes/s", "host", "pages swapped in"),
    _m("host.swap_out", "bytes/s", "host", "pages swapped out"),
    _m("host.major_faults", "1/s", "host", "major page faults (reads from disk)"),
    _m("host.psi.cpu_some", "ratio", "host", "share of time some task waited for a CPU (PSI)"),
    _m("host.psi.io_some", "ratio", "host", "share of time some task stalled on I/O (PSI)"),
    _m("host.psi.io_full", "ratio", "host",
       "share of time all non-idle tasks stalled on I/O (PSI)"),
    _m("host.psi.memory_some", "ratio", "host", "share of time some task stalled on memory (PSI)"),
    _m("host.psi.memory_full", "ratio", "host",
       "share of time all non-idle tasks stalled on memory (PSI)"),
    # --- per core ------------------------------------------------------------------------------
    _m("cpu.busy", "ratio", "cpu", "busy share of one core (not idle, not iowait)"),
    _m("cpu.user", "ratio", "cpu", "user + nice share of one core"),
    _m("cpu.system", "ratio", "cpu", "system + irq + softirq share of one core"),
    _m("cpu.iowait", "ratio", "cpu", "iowait share of one core"),
    # --- disks ---------------------------------------------------------------------------------
    _m("disk.read", "bytes/s", "disk", "bytes read"),
    _m("disk.write", "bytes/s", "disk", "bytes written"),
    _m("disk.busy", "ratio", "disk",
       "share of time with I/O in flight (%util; 1.0 is not saturation on NVMe or RAID)"),
    _m("disk.queue_depth", "count", "disk", "average requests in flight (weighted I/O time)"),
    # --- GPU timeline from a profiler trace (PyTorch/Kineto), one entity per rank's GPU ---------
    _m("timeline.gpu_busy", "ratio", "gpu",
       "share of the bin with GPU activity in the profiler timeline: kernels, copies, memsets "
       "and sync waits of the rank, all streams pooled (HTA's busy time)"),
    _m("timeline.compute_busy", "ratio", "gpu",
       "share of the bin with a computation kernel running (HTA's compute time)"),
    # --- network -------------------------------------------------------------------------------
    _m("nic.rx", "bytes/s", "nic", "bytes received"),
    _m("nic.tx", "bytes/s", "nic", "bytes sent"),
    _m("nic.speed", "bytes/s", "nic", "link speed, per direction"),
    _m("ib.rx", "bytes/s", "link", "InfiniBand/RoCE port data received (RDMA included)"),
    _m("ib.tx", "bytes/s", "link", "InfiniBand/RoCE port data sent (RDMA included)"),
    _m("ib.rate", "bytes/s", "link", "InfiniBand/RoCE port link rate, per direction"),
    _m("ib.xmit_wait", "1/s", "link",
       "ticks with data queued but not sent (congestion or credit starvation)"),
)

METRICS: dict[str, Metric] = {m.name: m for m in _METRICS}
if len(METRICS) != len(_METRICS):
    raise RuntimeError("duplicate metric name in the catalog")


def metric(name: str) -> Metric:
    """The catalog entry for `name`; KeyError names the metric when it is not canonical."""
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a canonical metric name (see profiler.catalog)") from None


def kind_of(name: str) -> EntityKind:
    return metric(name).kind


# Clock event ("throttle") reason bits: NVML nvmlClocksEventReason*,
# DCGM DCGM_CLOCKS_EVENT_REASON_*.
CLOCK_EVENT_BITS: dict[str, int] = {
    "gpu_idle": 0x001,
    "applications_clocks_setting": 0x002,
    "sw_power_cap": 0x004,
    "hw_slowdown": 0x008,
    "sync_boost": 0x010,
    "sw_thermal_slowdown": 0x020,
    "hw_thermal_slowdown": 0x040,
    "hw_power_brake_slowdown": 0x080,
    "display_clock_setting": 0x100,
}

# Per-lane, per-direction PCIe payload bandwidth in bytes/s after line coding (nvml.md §3.5).
PCIE_LANE_BYTES_PER_S: dict[int, float] = {
    1: 0.25e9, 2: 0.5e9, 3: 0.985e9, 4: 1.969e9, 5: 3.938e9, 6: 7.56e9,
}


def pcie_bandwidth(gen: float, width: float) -> float:
    """Per-direction PCIe bandwidth in bytes/s of a link at `gen` x `width`; NaN if unknown."""
    per_lane = PCIE_LANE_BYTES_PER_S.get(int(gen)) if gen == gen else None
    return per_lane * width if per_lane and width == width else float("nan")


# ------------------------------------------------------------------------------------------------
# Outside names
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutsideName:
    """How one outside name becomes a canonical metric.

    value_in_trace = value * scale for gauges; for counters (cumulative), the trace holds
    rate(value) * scale, the rate taken over consecutive samples with resets dropped.
    `bit` marks a per-reason flag that sets that bit of gpu.clocks_event_reasons.
    `labels` restricts a Prometheus series (e.g. mode="user"); `entity_labels` name the labels
    whose values, joined by ":", give the entity; `aggregate` says how series of several label
    values (e.g. every `cpu`) combine into one entity ("mean" or "sum").
    `preference` orders several outside names of one metric: the highest present wins.
    """

    source: Source
    name: str
    metric: str
    scale: float = 1.0
    counter: bool = False
    bit: int | None = None
    labels: tuple[tuple[str, str], ...] = ()
    entity_labels: tuple[str, ...] = ()
    aggregate: Literal["mean", "sum"] | None = None
    preference: int = 0
    field_id: int | None = None
    note: str = ""


PERCENT = 0.01
MIB = 1024.0 * 1024.0
MHZ = 1e6
KIB = 1024.0

NVML: tuple[OutsideName, ...] = (
    OutsideName("nvml", "nvmlDeviceGetUtilizationRates().gpu", "gpu.util", PERCENT),
    OutsideName("nvml", "nvmlDeviceGetUtilizationRates().memory", "gpu.mem_util", PERCENT),
    OutsideName("nvml", "NVML_GPM_METRIC_GRAPHICS_UTIL", "gpu.gr_engine_active", PERCENT),
    OutsideName("nvml", "NVML_GPM_METRIC_SM_UTIL", "gpu.sm_active", PERCENT),
    OutsideName("nvml", "NVML_GPM_METRIC_SM_OCCUPANCY", "gpu.sm_occupancy", PERCENT),
    OutsideName("nvml", "NVML_GPM_METRIC_ANY_TENSOR_UTIL", "gpu.tensor_active", PERCENT),
    OutsideName("nvml", "NVML_GPM_METRIC_DRAM_BW_UTIL", "gpu.dram_active", PERCENT),
    OutsideName("nvml", "NVML_GPM_METRIC_FP64_UTIL", "gpu.fp64_active", PERCENT),
    OutsideName("nvml", "NVML_GPM_METRIC_FP32_UTIL", "gpu.fp32_active", PERCENT),
    OutsideName("nvml", "NVML_GPM_METRIC_FP16_UTIL", "gpu.fp16_active", PERCENT),
    OutsideName("nvml", "NVML_GPM_METRIC_PCIE_TX_PER_SEC", "gpu.pcie_tx", MIB, preference=1),
    OutsideName("nvml", "NVML_GPM_METRIC_PCIE_RX_PER_SEC", "gpu.pcie_rx", MIB, preference=1),
    OutsideName("nvml", "NVML_GPM_METRIC_NVLINK_TOTAL_TX_PER_SEC", "gpu.nvlink_tx", MIB,
                preference=1),
    OutsideName("nvml", "NVML_GPM_METRIC_NVLINK_TOTAL_RX_PER_SEC", "gpu.nvlink_rx", MIB,
                preference=1),
    OutsideName("nvml", "nvmlDeviceGetMemoryInfo(v2).used", "gpu.fb_used"),
    OutsideName("nvml", "nvmlDeviceGetMemoryInfo(v2).free", "gpu.fb_free"),
    OutsideName("nvml", "nvmlDeviceGetMemoryInfo(v2).total", "gpu.fb_total"),
    OutsideName("nvml", "nvmlDeviceGetClockInfo(NVML_CLOCK_SM)", "gpu.clock_sm", MHZ),
    OutsideName("nvml", "nvmlDeviceGetMaxClockInfo(NVML_CLOCK_SM)", "gpu.clock_sm_max", MHZ),
    OutsideName("nvml", "nvmlDeviceGetClockInfo(NVML_CLOCK_MEM)", "gpu.clock_mem", MHZ),
    OutsideName("nvml", "nvmlDeviceGetTemperature(NVML_TEMPERATURE_GPU)", "gpu.temp"),
    OutsideName("nvml", "NVML_FI_DEV_MEMORY_TEMP", "gpu.mem_temp", field_id=82),
    OutsideName("nvml", "nvmlDeviceGetPowerUsage", "gpu.power", 1e-3, note="milliwatts"),
    OutsideName("nvml", "nvmlDeviceGetEnforcedPowerLimit", "gpu.power_limit", 1e-3,
                note="milliwatts"),
    OutsideName("nvml", "nvmlDeviceGetCurrentClocksEventReasons", "gpu.clocks_event_reasons",
                note="falls back to nvmlDeviceGetCurrentClocksThrottleReasons on old drivers"),
    OutsideName("nvml", "NVML_FI_DEV_CLOCKS_EVENT_REASON_SW_POWER_CAP", "gpu.throttle.power_cap",
                1e-9, counter=True, field_id=74, note="cumulative ns"),
    OutsideName("nvml", "NVML_FI_DEV_CLOCKS_EVENT_REASON_SW_THERM_SLOWDOWN",
                "gpu.throttle.thermal", 1e-9, counter=True, field_id=269,
                note="cumulative ns; summed with HW_THERM_SLOWDOWN, capped at 1"),
    OutsideName("nvml", "NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_THERM_SLOWDOWN",
                "gpu.throttle.thermal", 1e-9, counter=True, field_id=270, note="cumulative ns"),
    OutsideName("nvml", "NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_POWER_BRAKE_SLOWDOWN",
                "gpu.throttle.power_brake", 1e-9, counter=True, field_id=271, note="cumulative ns"),
    OutsideName("nvml", "NVML_FI_DEV_CLOCKS_EVENT_REASON_SYNC_BOOST", "gpu.throttle.sync_boost",
                1e-9, counter=True, field_id=76, note="cumulative ns"),
    OutsideName("nvml", "nvmlDeviceGetCurrPcieLinkGeneration", "gpu.pcie_gen"),
    OutsideName("nvml", "nvmlDeviceGetMaxPcieLinkGeneration", "gpu.pcie_gen_max"),
    OutsideName("nvml", "nvmlDeviceGetCurrPcieLinkWidth", "gpu.pcie_width"),
    OutsideName("nvml", "nvmlDeviceGetMaxPcieLinkWidth", "gpu.pcie_width_max"),
    OutsideName("nvml", "nvmlDeviceGetPcieThroughput(NVML_PCIE_UTIL_TX_BYTES)", "gpu.pcie_tx", KIB,
                note="KB/s over a 20 ms window; aliased at low sample rates"),
    OutsideName("nvml", "nvmlDeviceGetPcieThroughput(NVML_PCIE_UTIL_RX_BYTES)", "gpu.pcie_rx", KIB,
                note="KB/s over a 20 ms window; aliased at low sample rates"),
    OutsideName("nvml", "NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX", "gpu.nvlink_tx", KIB,
                counter=True, field_id=138, note="cumulative KiB, scopeId 0xFFFFFFFF = all links"),
    OutsideName("nvml", "NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX", "gpu.nvlink_rx", KIB,
                counter=True, field_id=139, note="cumulative KiB, scopeId 0xFFFFFFFF = all links"),
    OutsideName("nvml", "nvmlDeviceGetTotalEccErrors(UNCORRECTED, VOLATILE)",
                "gpu.ecc_uncorrected"),
    OutsideName("nvml", "nvmlDeviceGetTotalEccErrors(CORRECTED, VOLATILE)", "gpu.ecc_corrected"),
    OutsideName("nvml", "nvmlDeviceGetRemappedRows()[1]", "gpu.remapped_rows_uncorrectable"),
    OutsideName("nvml", "nvmlDeviceGetRemappedRows()[2]", "gpu.row_remap_pending"),
    OutsideName("nvml", "nvmlDeviceGetRemappedRows()[3]", "gpu.row_remap_failure"),
    OutsideName("nvml", "len(nvmlDeviceGetComputeRunningProcesses)", "gpu.process_count"),
)


def _dcgm(names: tuple[str, ...], field_id: int, metric_name: str, scale: float = 1.0,
          counter: bool = False, preference: int = 0, note: str = "") -> tuple[OutsideName, ...]:
    return tuple(OutsideName("dcgm", n, metric_name, scale, counter, preference=preference,
                             field_id=field_id, note=note) for n in names)


# dcgm-exporter metric names are the DCGM field names: the pre-4.6 names the exporter ships and the
# DCGM 4.6 names ("DCGM Field Naming Standard"). Both are accepted.
DCGM: tuple[OutsideName, ...] = (
    *_dcgm(("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_GPU_UTIL_RATIO"), 203, "gpu.util", PERCENT,
           note="integer percent even under the _RATIO name"),
    *_dcgm(("DCGM_FI_DEV_MEM_COPY_UTIL",), 204, "gpu.mem_util", PERCENT),
    *_dcgm(("DCGM_FI_DEV_SM_CLOCK",), 100, "gpu.clock_sm", MHZ),
    *_dcgm(("DCGM_FI_DEV_MEM_CLOCK",), 101, "gpu.clock_mem", MHZ),
    *_dcgm(("DCGM_FI_DEV_MAX_SM_CLOCK",), 113, "gpu.clock_sm_max", MHZ),
    *_dcgm(("DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_GPU_TEMP_CELSIUS"), 150, "gpu.temp"),
    *_dcgm(("DCGM_FI_DEV_MEMORY_TEMP", "DCGM_FI_DEV_MEMORY_TEMP_CELSIUS"), 140, "gpu.mem_temp"),
    *_dcgm(("DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_BOARD_POWER_WATTS"), 155, "gpu.power",
           preference=1),
    *_dcgm(("DCGM_FI_DEV_POWER_USAGE_INSTANT", "DCGM_FI_DEV_BOARD_POWER_RAW_WATTS"), 157,
           "gpu.power"),
    *_dcgm(("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",), 156, "gpu.power", 1e-3, counter=True,
           preference=2, note="cumulative mJ; its rate is the mean power"),
    *_dcgm(("DCGM_FI_DEV_ENFORCED_POWER_LIMIT", "DCGM_FI_DEV_BOARD_POWER_LIMIT_ENFORCED_WATTS"),
           164, "gpu.power_limit", preference=1),
    *_dcgm(("DCGM_FI_DEV_POWER_MGMT_LIMIT", "DCGM_FI_DEV_BOARD_POWER_LIMIT_REQUESTED_WATTS"), 160,
           "gpu.power_limit", note="requested limit; the enforced one wins when both are present"),
    *_dcgm(("DCGM_FI_DEV_FB_TOTAL",), 250, "gpu.fb_total", MIB),
    *_dcgm(("DCGM_FI_DEV_FB_FREE",), 251, "gpu.fb_free", MIB),
    *_dcgm(("DCGM_FI_DEV_FB_USED",), 252, "gpu.fb_used", MIB),
    *_dcgm(("DCGM_FI_DEV_FB_USED_PERCENT", "DCGM_FI_DEV_FB_USED_RATIO"), 254, "gpu.fb_used_ratio",
           note="already a ratio 0..1 despite the old name"),
    *_dcgm(("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", "DCGM_FI_DEV_CLOCKS_EVENT_REASONS"), 112,
           "gpu.clocks_event_reasons"),
    *_dcgm(("DCGM_FI_DEV_POWER_VIOLATION",), 240, "gpu.throttle.power_cap", 1e-9, counter=True,
           note="cumulative ns"),
    *_dcgm(("DCGM_FI_DEV_THERMAL_VIOLATION",), 241, "gpu.throttle.thermal", 1e-9, counter=True,
           note="cumulative ns"),
    *_dcgm(("DCGM_FI_DEV_SYNC_BOOST_VIOLATION",), 242, "gpu.throttle.sync_boost", 1e-9,
           counter=True, note="cumulative ns"),
    *_dcgm(("DCGM_FI_DEV_CLOCKS_EVENT_REASON_SW_POWER_CAP_NS",), 1420, "gpu.throttle.power_cap",
           1e-9, counter=True, preference=1),
    *_dcgm(("DCGM_FI_DEV_CLOCKS_EVENT_REASON_SYNC_BOOST_NS",), 1421, "gpu.throttle.sync_boost",
           1e-9, counter=True, preference=1),
    *_dcgm(("DCGM_FI_DEV_CLOCKS_EVENT_REASON_SW_THERM_SLOWDOWN_NS",), 1422, "gpu.throttle.thermal",
           1e-9, counter=True, preference=1, note="summed with HW_THERM_SLOWDOWN_NS, capped at 1"),
    *_dcgm(("DCGM_FI_DEV_CLOCKS_EVENT_REASON_HW_THERM_SLOWDOWN_NS",), 1423, "gpu.throttle.thermal",
           1e-9, counter=True, preference=1),
    *_dcgm(("DCGM_FI_DEV_CLOCKS_EVENT_REASON_HW_POWER_BRAKE_SLOWDOWN_NS",), 1424,
           "gpu.throttle.power_brake", 1e-9, counter=True, preference=1),
    *_dcgm(("DCGM_FI_DEV_PCIE_MAX_LINK_GEN",), 235, "gpu.pcie_gen_max"),
    *_dcgm(("DCGM_FI_DEV_PCIE_MAX_LINK_WIDTH",), 236, "gpu.pcie_width_max"),
    *_dcgm(("DCGM_FI_DEV_PCIE_LINK_GEN",), 237, "gpu.pcie_gen"),
    *_dcgm(("DCGM_FI_DEV_PCIE_LINK_WIDTH",), 238, "gpu.pcie_width"),
    *_dcgm(("DCGM_FI_DEV_PCIE_TX_THROUGHPUT",), 200, "gpu.pcie_tx", KIB, note="KB/s, 20 ms window"),
    *_dcgm(("DCGM_FI_DEV_PCIE_RX_THROUGHPUT",), 201, "gpu.pcie_rx", KIB, note="KB/s, 20 ms window"),
    *_dcgm(("DCGM_FI_PROF_PCIE_TX_BYTES",), 1009, "gpu.pcie_tx", preference=1,
           note="bytes per second despite the name"),
    *_dcgm(("DCGM_FI_PROF_PCIE_RX_BYTES",), 1010, "gpu.pcie_rx", preference=1,
           note="bytes per second despite the name"),
    *_dcgm(("DCGM_FI_PROF_PCIE_TX_BYTES_TOTAL",), 1091, "gpu.pcie_tx", counter=True, preference=2),
    *_dcgm(("DCGM_FI_PROF_PCIE_RX_BYTES_TOTAL",), 1092, "gpu.pcie_rx", counter=True, preference=2),
    *_dcgm(("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "DCGM_FI_DEV_NVLINK_THROUGHPUT_TOTAL"), 449,
           "gpu.nvlink_total", KIB * 1000.0,
           note="already a rate (KiB/s / 1000, RX+TX) though declared a counter: never rate() it"),
    *_dcgm(("DCGM_FI_DEV_NVLINK_TX_BANDWIDTH_TOTAL", "DCGM_FI_DEV_NVLINK_TX_THROUGHPUT_TOTAL"), 843,
           "gpu.nvlink_tx", KIB * 1000.0),
    *_dcgm(("DCGM_FI_DEV_NVLINK_RX_BANDWIDTH_TOTAL", "DCGM_FI_DEV_NVLINK_RX_THROUGHPUT_TOTAL"), 897,
           "gpu.nvlink_rx", KIB * 1000.0),
    *_dcgm(("DCGM_FI_PROF_NVLINK_TX_BYTES",), 1011, "gpu.nvlink_tx", preference=1),
    *_dcgm(("DCGM_FI_PROF_NVLINK_RX_BYTES",), 1012, "gpu.nvlink_rx", preference=1),
    *_dcgm(("DCGM_FI_DEV_XID_ERRORS", "DCGM_FI_DEV_XID_ERROR"), 230, "gpu.xid_last",
           note="the number of the last XID, not a count; a change is an XID event"),
    *_dcgm(("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",), 310, "gpu.ecc_corrected"),
    *_dcgm(("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",), 311, "gpu.ecc_uncorrected"),
    *_dcgm(("DCGM_FI_DEV_RETIRED_PENDING", "DCGM_FI_DEV_PAGE_RETIRED_PENDING"), 392,
           "gpu.row_remap_pending", note="pre-Ampere page retirement pending"),
    *_dcgm(("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "DCGM_FI_DEV_ROW_REMAP_UNCORRECTABLE_TOTAL"),
           393, "gpu.remapped_rows_uncorrectable"),
    *_dcgm(("DCGM_FI_DEV_ROW_REMAP_FAILURE", "DCGM_FI_DEV_ROW_REMAP_FAILED"), 395,
           "gpu.row_remap_failure"),
    *_dcgm(("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_PROF_GR_ENGINE_UTIL_RATIO"), 1001,
           "gpu.gr_engine_active"),
    *_dcgm(("DCGM_FI_PROF_SM_ACTIVE", "DCGM_FI_PROF_SM_UTIL_RATIO"), 1002, "gpu.sm_active"),
    *_dcgm(("DCGM_FI_PROF_SM_OCCUPANCY", "DCGM_FI_PROF_SM_OCCUPANCY_RATIO"), 1003,
           "gpu.sm_occupancy"),
    *_dcgm(("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "DCGM_FI_PROF_TENSOR_UTIL_RATIO"), 1004,
           "gpu.tensor_active"),
    *_dcgm(("DCGM_FI_PROF_DRAM_ACTIVE", "DCGM_FI_PROF_DRAM_UTIL_RATIO"), 1005, "gpu.dram_active"),
    *_dcgm(("DCGM_FI_PROF_PIPE_FP64_ACTIVE", "DCGM_FI_PROF_FP64_UTIL_RATIO"), 1006,
           "gpu.fp64_active"),
    *_dcgm(("DCGM_FI_PROF_PIPE_FP32_ACTIVE", "DCGM_FI_PROF_FP32_UTIL_RATIO"), 1007,
           "gpu.fp32_active"),
    *_dcgm(("DCGM_FI_PROF_PIPE_FP16_ACTIVE", "DCGM_FI_PROF_FP16_UTIL_RATIO"), 1008,
           "gpu.fp16_active"),
)

DCGM_BLANK_INT = 9223372036854775792  # DCGM_INT64_BLANK; this and above mean "no value"
DCGM_BLANK_FLOAT = 140737488355328.0  # DCGM_FP64_BLANK

# `dcgmi dmon` column headers are DCGM short names; they resolve through the field id.
DCGMI_SHORT_NAMES: dict[str, int] = {
    "SMCLK": 100, "MMCLK": 101, "SMMAX": 113, "MMTMP": 140, "TMPTR": 150, "POWER": 155,
    "TOTEC": 156, "POWINST": 157, "EPLMT": 164, "TXTPT": 200, "RXTPT": 201, "GPUTL": 203,
    "MCUTL": 204, "DVCCTR": 112, "XIDER": 230, "PCIMG": 235, "PCIMW": 236, "PCILG": 237,
    "PCILW": 238, "PVIOL": 240, "TVIOL": 241, "SBVIO": 242, "FBTTL": 250, "FBFRE": 251,
    "FBUSD": 252, "FBUSP": 254, "ESVTL": 310, "EDVTL": 311, "RPPEN": 392, "URMPS": 393,
    "RRF": 395, "NBWLT": 449, "GRACT": 1001, "SMACT": 1002, "SMOCC": 1003, "TENSO": 1004,
    "DRAMA": 1005, "FP64A": 1006, "FP32A": 1007, "FP16A": 1008, "PCITX": 1009, "PCIRX": 1010,
    "NVLTX": 1011, "NVLRX": 1012,
}


def _smi(names: tuple[str, ...], metric_name: str, scale: float = 1.0, counter: bool = False,
         bit: int | None = None, preference: int = 0, note: str = "") -> tuple[OutsideName, ...]:
    return tuple(OutsideName("nvidia-smi", n, metric_name, scale, counter, bit,
                             preference=preference, note=note) for n in names)


def _reasons(reason: str) -> tuple[str, ...]:
    return (f"clocks_event_reasons.{reason}", f"clocks_throttle_reasons.{reason}")


# nvidia-smi --query-gpu header names, without the " [unit]" suffix. Old and new spellings.
NVIDIA_SMI: tuple[OutsideName, ...] = (
    *_smi(("utilization.gpu",), "gpu.util", PERCENT),
    *_smi(("utilization.memory",), "gpu.mem_util", PERCENT),
    *_smi(("memory.used",), "gpu.fb_used", MIB),
    *_smi(("memory.free",), "gpu.fb_free", MIB),
    *_smi(("memory.total",), "gpu.fb_total", MIB),
    *_smi(("temperature.gpu",), "gpu.temp"),
    *_smi(("temperature.memory",), "gpu.mem_temp"),
    *_smi(("power.draw", "power.draw.average"), "gpu.power", preference=1),
    *_smi(("power.draw.instant",), "gpu.power"),
    *_smi(("enforced.power.limit",), "gpu.power_limit", preference=1),
    *_smi(("power.limit",), "gpu.power_limit", note="requested limit"),
    *_smi(("clocks.current.sm", "clocks.sm"), "gpu.clock_sm", MHZ),
    *_smi(("clocks.max.sm", "clocks.max.sm"), "gpu.clock_sm_max", MHZ),
    *_smi(("clocks.current.memory", "clocks.mem"), "gpu.clock_mem", MHZ),
    *_smi(("clocks_event_reasons.active", "clocks_throttle_reasons.active"),
          "gpu.clocks_event_reasons", preference=1, note="hex bitmask"),
    *(o for reason, bit in CLOCK_EVENT_BITS.items()
      for o in _smi(_reasons(reason), "gpu.clocks_event_reasons", bit=bit,
                    note="Active / Not Active")),
    *_smi(("clocks_event_reasons_counters.sw_power_cap",
           "clocks_throttle_reasons_counters.sw_power_cap"), "gpu.throttle.power_cap", 1e-6,
          counter=True, note="cumulative µs"),
    *_smi(("clocks_event_reasons_counters.sw_thermal_slowdown",
           "clocks_event_reasons_counters.hw_thermal_slowdown"), "gpu.throttle.thermal", 1e-6,
          counter=True, note="cumulative µs; the two are summed, capped at 1"),
    *_smi(("clocks_event_reasons_counters.hw_power_brake_slowdown",),
          "gpu.throttle.power_brake", 1e-6, counter=True, note="cumulative µs"),
    *_smi(("clocks_event_reasons_counters.sync_boost",), "gpu.throttle.sync_boost", 1e-6,
          counter=True, note="cumulative µs"),
    *_smi(("pcie.link.gen.gpucurrent", "pcie.link.gen.current"), "gpu.pcie_gen"),
    *_smi(("pcie.link.gen.max",), "gpu.pcie_gen_max"),
    *_smi(("pcie.link.width.current",), "gpu.pcie_width"),
    *_smi(("pcie.link.width.max",), "gpu.pcie_width_max"),
    *_smi(("ecc.errors.corrected.volatile.total",), "gpu.ecc_corrected"),
    *_smi(("ecc.errors.uncorrected.volatile.total",), "gpu.ecc_uncorrected"),
    *_smi(("remapped_rows.uncorrectable",), "gpu.remapped_rows_uncorrectable"),
    *_smi(("remapped_rows.pending", "retired_pages.pending"), "gpu.row_remap_pending",
          note="Yes / No"),
    *_smi(("remapped_rows.failure",), "gpu.row_remap_failure", note="Yes / No"),
)

# nvidia-smi dmon column names (the first header line); units from its second header line.
NVIDIA_SMI_DMON: tuple[OutsideName, ...] = (
    OutsideName("nvidia-smi-dmon", "pwr", "gpu.power"),
    OutsideName("nvidia-smi-dmon", "gtemp", "gpu.temp"),
    OutsideName("nvidia-smi-dmon", "mtemp", "gpu.mem_temp"),
    OutsideName("nvidia-smi-dmon", "sm", "gpu.util", PERCENT, note="NVML utilization.gpu"),
    OutsideName("nvidia-smi-dmon", "mem", "gpu.mem_util", PERCENT),
    OutsideName("nvidia-smi-dmon", "mclk", "gpu.clock_mem", MHZ),
    OutsideName("nvidia-smi-dmon", "pclk", "gpu.clock_sm", MHZ, note="processor (graphics) clock"),
    OutsideName("nvidia-smi-dmon", "pviol", "gpu.throttle.power_cap", PERCENT),
    OutsideName("nvidia-smi-dmon", "tviol", "gpu.throttle.thermal", note="0/1 flag"),
    OutsideName("nvidia-smi-dmon", "fb", "gpu.fb_used", MIB, note="MB column, MiB values"),
    OutsideName("nvidia-smi-dmon", "sbecc", "gpu.ecc_corrected"),
    OutsideName("nvidia-smi-dmon", "dbecc", "gpu.ecc_uncorrected"),
    OutsideName("nvidia-smi-dmon", "rxpci", "gpu.pcie_rx", MIB, note="MB/s column"),
    OutsideName("nvidia-smi-dmon", "txpci", "gpu.pcie_tx", MIB, note="MB/s column"),
    OutsideName("nvidia-smi-dmon", "gract", "gpu.gr_engine_active", PERCENT, note="GPM:%"),
    OutsideName("nvidia-smi-dmon", "smutil", "gpu.sm_active", PERCENT, note="GPM:%"),
    OutsideName("nvidia-smi-dmon", "fp16", "gpu.fp16_active", PERCENT, note="GPM:%"),
)

PAGE_SIZE = 4096  # pswpin/pswpout are in pages: 4 KiB on x86-64; arm64 kernels may use 16 or 64 KiB


def _node(name: str, metric_name: str, scale: float = 1.0, counter: bool = False,
          labels: tuple[tuple[str, str], ...] = (), entity_labels: tuple[str, ...] = (),
          aggregate: Literal["mean", "sum"] | None = None, note: str = "") -> OutsideName:
    return OutsideName("node_exporter", name, metric_name, scale, counter, labels=labels,
                       entity_labels=entity_labels, aggregate=aggregate, note=note)


def _cpu_mode(mode: str, metric_name: str) -> OutsideName:
    return _node("node_cpu_seconds_total", metric_name, counter=True, labels=(("mode", mode),),
                 aggregate="mean", note="summed over modes that share a metric, mean over `cpu`")


NODE_EXPORTER: tuple[OutsideName, ...] = (
    _cpu_mode("user", "host.cpu.user"),
    _cpu_mode("nice", "host.cpu.user"),
    _cpu_mode("system", "host.cpu.system"),
    _cpu_mode("irq", "host.cpu.system"),
    _cpu_mode("softirq", "host.cpu.system"),
    _cpu_mode("iowait", "host.cpu.iowait"),
    _cpu_mode("steal", "host.cpu.steal"),
    _cpu_mode("idle", "host.cpu.idle"),
    _node("node_load1", "host.load1"),
    _node("node_procs_running", "host.procs_running"),
    _node("node_procs_blocked", "host.procs_blocked"),
    _node("node_memory_MemTotal_bytes", "host.mem_total"),
    _node("node_memory_MemAvailable_bytes", "host.mem_available"),
    _node("node_memory_SwapTotal_bytes", "host.swap_total"),
    _node("node_vmstat_pswpin", "host.swap_in", PAGE_SIZE, counter=True, note="pages"),
    _node("node_vmstat_pswpout", "host.swap_out", PAGE_SIZE, counter=True, note="pages"),
    _node("node_vmstat_pgmajfault", "host.major_faults", counter=True),
    _node("node_pressure_cpu_waiting_seconds_total", "host.psi.cpu_some", counter=True),
    _node("node_pressure_io_waiting_seconds_total", "host.psi.io_some", counter=True),
    _node("node_pressure_io_stalled_seconds_total", "host.psi.io_full", counter=True),
    _node("node_pressure_memory_waiting_seconds_total", "host.psi.memory_some", counter=True),
    _node("node_pressure_memory_stalled_seconds_total", "host.psi.memory_full", counter=True),
    _node("node_disk_read_bytes_total", "disk.read", counter=True, entity_labels=("device",)),
    _node("node_disk_written_bytes_total", "disk.write", counter=True, entity_labels=("device",)),
    _node("node_disk_io_time_seconds_total", "disk.busy", counter=True, entity_labels=("device",)),
    _node("node_disk_io_time_weighted_seconds_total", "disk.queue_depth", counter=True,
          entity_labels=("device",)),
    _node("node_network_receive_bytes_total", "nic.rx", counter=True, entity_labels=("device",)),
    _node("node_network_transmit_bytes_total", "nic.tx", counter=True, entity_labels=("device",)),
    _node("node_network_speed_bytes", "nic.speed", entity_labels=("device",)),
    _node("node_infiniband_port_data_received_bytes_total", "ib.rx", counter=True,
          entity_labels=("device", "port"), note="already x4 (sysfs counts 4-octet words)"),
    _node("node_infiniband_port_data_transmitted_bytes_total", "ib.tx", counter=True,
          entity_labels=("device", "port"), note="already x4"),
    _node("node_infiniband_rate_bytes_per_second", "ib.rate", entity_labels=("device", "port")),
    _node("node_infiniband_port_transmit_wait_total", "ib.xmit_wait", counter=True,
          entity_labels=("device", "port")),
)

# Canonical metrics that an importer derives from two outside series rather than maps one to one.
DERIVED: dict[str, str] = {
    "host.swap_used": "node_memory_SwapTotal_bytes - node_memory_SwapFree_bytes",
    "host.cpu.count": "count(node_cpu_seconds_total{mode=\"idle\"}) by instance",
}

OUTSIDE_NAMES: dict[Source, tuple[OutsideName, ...]] = {
    "nvml": NVML,
    "dcgm": DCGM,
    "nvidia-smi": NVIDIA_SMI,
    "nvidia-smi-dmon": NVIDIA_SMI_DMON,
    "node_exporter": NODE_EXPORTER,
}


def outside_names(source: Source) -> dict[str, list[OutsideName]]:
    """Outside name -> its mappings (several when per-label or per-bit), for one source."""
    table: dict[str, list[OutsideName]] = {}
    for entry in OUTSIDE_NAMES.get(source, ()):
        table.setdefault(entry.name, []).append(entry)
    return table


def _check_tables() -> None:
    for entries in OUTSIDE_NAMES.values():
        for entry in entries:
            metric(entry.metric)
    for target in DERIVED:
        metric(target)
    dcgm_ids = {e.field_id for e in DCGM}
    missing = sorted(set(DCGMI_SHORT_NAMES.values()) - dcgm_ids)
    if missing:
        raise RuntimeError(f"dcgmi short names without a DCGM mapping: {missing}")


_check_tables()
