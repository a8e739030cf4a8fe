"""Host-side causes of GPU waiting (storage, CPU, swap) as series per host (not a rule module).

Each builder returns a HostCause: the signals that can make the cause "present" in a bin (each with
its threshold) and evidence-only signals. Rules decide blame with rules._attribution.attribute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from profiler.engine import Threshold, Thresholds
from profiler.features import Features
from rules._attribution import host_columns, host_series, hot

AWESOME_ALERTS = "samber/awesome-prometheus-alerts dist/rules/host-and-hardware/node-exporter.yml"
NODE_MIXIN = "prometheus/node_exporter docs/node-mixin (alerts.libsonnet, config.libsonnet)"

DISK_BUSY = Threshold(
    0.90, unit="ratio", bounds=(0.0, 1.0),
    source="iostat(1) %util (= disk.busy): 'device saturation occurs when this value is close to "
           "100% for devices serving requests serially' (sysstat man page; netdata "
           "10min_disk_utilization warns at 98 %); a 1 s bin holding a short gap averages below "
           "1, hence 0.9. On NVMe/RAID 1.0 is not saturation by itself: the timing test decides")
IO_WAIT = Threshold(
    0.10, unit="ratio", bounds=(0.0, 1.0),
    source=f"{AWESOME_ALERTS}: HostCpuHighIowait fires at iowait > 10 % ('you are disk or "
           "network bound')")
PSI_IO = Threshold(
    0.10, unit="ratio", bounds=(0.0, 1.0),
    source=f"the 10 % of HostCpuHighIowait ({AWESOME_ALERTS}) applied to PSI io 'some', the "
           "share of wall time at least one task stalled on I/O (kernel Documentation/"
           "accounting/psi.rst); PSI also sees network filesystems that diskstats misses")
NIC_BUSY = Threshold(
    0.80, unit="ratio", bounds=(0.0, 1.0),
    source=f"{AWESOME_ALERTS}: HostNetworkInterfaceSaturated at traffic / "
           "node_network_speed_bytes > 0.8")
CPU_BUSY = Threshold(
    0.90, unit="ratio", bounds=(0.0, 1.0),
    source=f"{NODE_MIXIN}: NodeCPUHighUsage, cpuHighUsageThreshold = 90 (% of CPU time not idle "
           "or iowait)")
CORE_BUSY = Threshold(
    0.90, unit="ratio", bounds=(0.0, 1.0),
    source="the same 90 % applied per core, as the USE method checks CPUs per CPU (Gregg, "
           "use-linux.html: mpstat -P ALL) and as host.cpu.cores_saturated counts cores: a "
           "single-threaded loader pegs one core while the node mean looks low "
           "(node-exporter.md 1)")
PSI_CPU = Threshold(
    0.10, unit="ratio", bounds=(0.0, 1.0),
    source=f"the 10 % bar of HostCpuHighIowait and HostCpuStealNoisyNeighbor ({AWESOME_ALERTS}) "
           "applied to PSI cpu 'some', the share of wall time a runnable task waited for a CPU")
SWAP_RATE = Threshold(
    409600.0, unit="bytes/s", bounds=(0.0, 1e12),
    source="USE method (Gregg, use-linux.html): vmstat si/so (swapping) is memory-capacity "
           "saturation; 100 pages/s of 4 KiB (node-exporter.md 11) keeps out the trickle of "
           "idle daemons being paged")
PSI_MEMORY = Threshold(
    0.10, unit="ratio", bounds=(0.0, 1.0),
    source=f"the 10 % bar of HostCpuHighIowait ({AWESOME_ALERTS}) applied to PSI memory "
           "'some', the share of wall time a task stalled on memory reclaim or swap-in; used "
           "only where the trace has no swap counters")

# Evidence-only reference levels (not decisions): shown next to the observed value.
LOAD_PER_CORE = 2.0  # node-mixin NodeSystemSaturation, systemSaturationPerCoreThreshold = 2
MAJOR_FAULTS = 500.0  # node-mixin NodeMemoryMajorPagesFaults, memoryMajorPagesFaultsThreshold
MEM_AVAILABLE = 0.10  # awesome-prometheus-alerts HostOutOfMemory: < 10 % of memory available

STORAGE_THRESHOLDS = {"disk_busy": DISK_BUSY, "iowait": IO_WAIT, "psi_io": PSI_IO,
                      "nic_busy": NIC_BUSY, "swap_rate": SWAP_RATE}
CPU_THRESHOLDS = {"cpu_busy": CPU_BUSY, "core_busy": CORE_BUSY, "psi_cpu": PSI_CPU}
SWAP_THRESHOLDS = {"swap_rate": SWAP_RATE, "psi_memory": PSI_MEMORY}


@dataclass(frozen=True, slots=True)
class Signal:
    """One measured series behind a cause; `hot` (1/0/NaN per bin) is None for evidence only.

    A `timing_only` signal can blame a cause only by its timing, never by being present
    throughout: one core pegged all the time is the training loop's own thread, not a cause.
    """

    metric: str
    entity: str
    values: pd.Series
    threshold: float | None
    unit: str
    hot: pd.Series | None = None
    note: str = ""
    timing_only: bool = False


@dataclass(frozen=True, slots=True)
class HostCause:
    """A cause on one host: present in a bin when any of its trigger signals is hot."""

    name: str
    host: str
    signals: tuple[Signal, ...]

    @property
    def triggers(self) -> tuple[Signal, ...]:
        return tuple(s for s in self.signals if s.hot is not None)

    @property
    def present(self) -> pd.Series:
        """Per bin: 1 where a trigger that may stand on presence alone is hot (NaN: unknown)."""
        hots = [s.hot for s in self.triggers if s.hot is not None and not s.timing_only]
        if not hots:
            index = self.triggers[0].values.index
            return pd.Series(np.nan, index=index, dtype="float64")
        return pd.concat(hots, axis=1).max(axis=1)


def _finish(name: str, host: str, signals: list[Signal]) -> HostCause | None:
    cause = HostCause(name, host, tuple(signals))
    return cause if cause.triggers else None


def _disk_writing(f: Features, disk: str, index: pd.Index) -> pd.Series:
    """True in bins where the disk is known to be writing more than reading (or not reading)."""
    reads, writes = f.wide("disk.read"), f.wide("disk.write")
    writing = pd.Series(False, index=index)
    if disk in reads.columns:
        read = reads[disk]
        writing |= read <= 0  # busy with no reads: not serving input
        if disk in writes.columns:
            writing |= read < writes[disk]  # a checkpoint or log write, not the input pipeline
    return writing


def write_stall(f: Features, host: str, th: Thresholds) -> pd.Series | None:
    """1.0 in bins where a disk of `host` is saturated writing (a checkpoint), else 0.0."""
    busy = f.wide("disk.busy")
    disks = host_columns(busy, host)
    if not disks:
        return None
    flags = [hot(busy[d], th.disk_busy).where(_disk_writing(f, d, busy.index), 0.0)
             for d in disks]
    return pd.concat(flags, axis=1).max(axis=1).fillna(0.0)


def _swap_rate(f: Features, host: str) -> pd.Series | None:
    """Bytes/s `host` swaps in plus out, or None without swap counters."""
    parts = [s for s in (host_series(f, "host.swap_in", host),
                         host_series(f, "host.swap_out", host)) if s is not None]
    return pd.concat(parts, axis=1).sum(axis=1, min_count=1) if parts else None


def _swapping(f: Features, host: str, th: Thresholds) -> pd.Series | None:
    """1.0 in bins where `host` swaps at least `swap_rate` (in plus out), else 0.0."""
    swap = _swap_rate(f, host)
    return hot(swap, th.swap_rate).fillna(0.0) if swap is not None else None


def storage_cause(f: Features, host: str, th: Thresholds) -> HostCause | None:
    """Local disks busy while reading, or tasks stalled on I/O (which also covers NFS/Lustre);
    stalls while a local disk is saturated writing are checkpoints, not input, and disk load and
    stalls while the host swaps are the swap device's (host-swap-storm's ground)."""
    signals: list[Signal] = []
    busy = f.wide("disk.busy")
    reads = f.wide("disk.read")
    swapping = _swapping(f, host, th)
    not_swapping = 1.0 - swapping if swapping is not None else 1.0
    for disk in host_columns(busy, host):
        b = busy[disk]
        reading = hot(b, th.disk_busy).where(~_disk_writing(f, disk, b.index), 0.0)
        signals.append(Signal("disk.busy", disk, b, th.disk_busy, "ratio",
                              reading * not_swapping,
                              note="busy while reading more than writing"))
        if disk in reads.columns:
            signals.append(Signal("disk.read", disk, reads[disk], None, "bytes/s"))
    checkpointing = write_stall(f, host, th)
    not_writing = ((1.0 - checkpointing) if checkpointing is not None else 1.0) * not_swapping
    stalls: list[pd.Series] = []
    for metric, key in (("host.psi.io_some", "psi_io"), ("host.cpu.iowait", "iowait")):
        s = host_series(f, metric, host)
        if s is not None:
            h = hot(s, getattr(th, key)) * not_writing
            stalls.append(h)
            signals.append(Signal(metric, host, s, getattr(th, key), "ratio", h))
    stalled = pd.concat(stalls, axis=1).max(axis=1) if stalls else None
    rx, speed = f.wide("nic.rx"), f.wide("nic.speed")
    for nic in host_columns(rx, host):
        if nic not in speed.columns or stalled is None:
            continue
        line = speed[nic].ffill().bfill()
        util = rx[nic] / line.where(line > 0)
        signals.append(Signal("nic.rx", nic, util, th.nic_busy, "ratio",
                              hot(util, th.nic_busy) * stalled,
                              note="receive rate over link speed while tasks wait on I/O "
                                   "(network filesystem)"))
    blocked = host_series(f, "host.procs_blocked", host)
    if blocked is not None:
        signals.append(Signal("host.procs_blocked", host, blocked, None, "count",
                              note="tasks in uninterruptible (I/O) sleep"))
    return _finish("storage", host, signals)


def cpu_cause(f: Features, host: str, th: Thresholds) -> HostCause | None:
    """All CPUs busy, one core pegged (a single-threaded loader), or tasks waiting for a CPU."""
    signals: list[Signal] = []
    user = host_series(f, "host.cpu.user", host)
    system = host_series(f, "host.cpu.system", host)
    if user is not None or system is not None:
        parts = [s for s in (user, system) if s is not None]
        total = pd.concat(parts, axis=1).sum(axis=1, min_count=1)
        signals.append(Signal("host.cpu.user+system", host, total, th.cpu_busy, "ratio",
                              hot(total, th.cpu_busy), note="share of all CPU time busy"))
    core = host_series(f, "host.cpu.core_busy_max", host)
    if core is not None:
        signals.append(Signal("host.cpu.core_busy_max", host, core, th.core_busy, "ratio",
                              hot(core, th.core_busy), note="busiest core",
                              timing_only=True))
    else:
        saturated = host_series(f, "host.cpu.cores_saturated", host)
        if saturated is not None:
            signals.append(Signal("host.cpu.cores_saturated", host, saturated, 1.0, "count",
                                  hot(saturated, 1.0), note="cores at least 90 % busy",
                                  timing_only=True))
    psi = host_series(f, "host.psi.cpu_some", host)
    if psi is not None:
        signals.append(Signal("host.psi.cpu_some", host, psi, th.psi_cpu, "ratio",
                              hot(psi, th.psi_cpu), note="share of time a task waited for CPU"))
    load = host_series(f, "host.load1", host)
    count = host_series(f, "host.cpu.count", host)
    info = f.trace.meta.host(host)
    cpus = count.ffill().bfill() if count is not None else (
        float(info.cpu_count) if info is not None and info.cpu_count else None)
    if load is not None and cpus is not None:
        signals.append(Signal("host.load1", host, load / cpus, LOAD_PER_CORE, "count",
                              note="1-minute load per core (node-mixin NodeSystemSaturation "
                                   "level shown; evidence only)"))
    return _finish("cpu", host, signals)


def swap_cause(f: Features, host: str, th: Thresholds) -> HostCause | None:
    """Pages swapped in or out; PSI memory stalls where the trace has no swap counters."""
    signals: list[Signal] = []
    swap = _swap_rate(f, host)
    if swap is not None:
        signals.append(Signal("host.swap_in+swap_out", host, swap, th.swap_rate, "bytes/s",
                              hot(swap, th.swap_rate), note="pages swapped in plus out"))
    for metric in ("host.psi.memory_some", "host.psi.memory_full"):
        s = host_series(f, metric, host)
        if s is not None:
            trigger = hot(s, th.psi_memory) if swap is None and metric.endswith("some") else None
            signals.append(Signal(metric, host, s, th.psi_memory, "ratio", trigger,
                                  note="share of time tasks stalled on memory"))
    faults = host_series(f, "host.major_faults", host)
    if faults is not None:
        signals.append(Signal("host.major_faults", host, faults, MAJOR_FAULTS, "1/s",
                              note="node-mixin NodeMemoryMajorPagesFaults level shown"))
    avail, total = host_series(f, "host.mem_available", host), host_series(f, "host.mem_total",
                                                                          host)
    info = f.trace.meta.host(host)
    mem_total = total.ffill().bfill() if total is not None else (
        info.mem_total if info is not None and info.mem_total else None)
    if avail is not None and mem_total is not None:
        signals.append(Signal("host.mem_available", host, avail / mem_total, MEM_AVAILABLE,
                              "ratio", note="share of memory available (HostOutOfMemory level "
                                            "shown)"))
    return _finish("swap", host, signals)
