"""CPU collector: time shares by mode, the busiest cores, run queue and load.

Provides, for entity "host", from /proc/stat: host.cpu.user (user + nice), host.cpu.system
(system + irq + softirq), host.cpu.iowait, host.cpu.steal and host.cpu.idle as shares of all the
ticks of the interval (guest and guest_nice are already counted inside user and nice, so they are
not added again); host.cpu.core_busy_max and host.cpu.cores_saturated (cores at least 90 % busy,
busy = 1 - (idle + iowait) / total); host.cpu.count (online CPUs); host.procs_running and
host.procs_blocked. From /proc/loadavg: host.load1. For entity "cpuN", only the `top_cores`
busiest cores of each tick: cpu.busy, cpu.user, cpu.system, cpu.iowait.

Shares come from the change between two ticks, so the first tick gives none. Only cores online at
both ends of an interval count: an offline CPU leaves /proc/stat, and a core whose counters went
backwards (offline and back) is left out of that interval. Also gives the HostInfo of this node.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from collectors.base import Collector, SampleBuffer, register
from collectors.procfs import ProcFile, line_int, list_dir, read_text
from profiler.catalog import HOST_ENTITY
from profiler.trace import HostInfo

log = logging.getLogger(__name__)

SATURATED = 0.9
"""A core at least this busy counts in host.cpu.cores_saturated."""

# /proc/stat columns used: user nice system idle iowait irq softirq steal (guest* are inside user).
_COLUMNS = 8
_NOT_CPU_LINE = re.compile(r"\n(?!cpu)")


@dataclass(frozen=True, slots=True)
class CpuStat:
    """One reading of /proc/stat: online CPU ids, their tick counters, and the run queue."""

    ids: np.ndarray  # (n,) CPU numbers
    ids_key: bytes  # the same as bytes: one cheap comparison tells whether CPUs came or went
    ticks: np.ndarray  # (n, 8) user nice system idle iowait irq softirq steal
    running: int | None
    blocked: int | None


def parse_stat(text: str) -> CpuStat:
    """Parse /proc/stat; raises ValueError when its per-CPU lines are malformed."""
    start = text.find("\ncpu") + 1
    if start == 0:
        raise ValueError("no per-CPU lines in /proc/stat")
    after = _NOT_CPU_LINE.search(text, start)
    block = text[start:after.start() if after else len(text)]
    first_end = block.find("\n")
    width = len(block[:first_end if first_end >= 0 else len(block)].split())
    if width < 5:
        raise ValueError(f"/proc/stat CPU line has {width - 1} fields")
    # "cpu12 a b c" -> " 12 a b c": the CPU id becomes column 0 of one fast numeric parse.
    flat = np.fromstring(block.replace("cpu", " "), dtype=np.int64, sep=" ")
    lines = block.count("\n") + (not block.endswith("\n"))
    if flat.size != lines * width:  # numpy < 2.3 stops at a bad token with only a warning
        raise ValueError("/proc/stat CPU lines are malformed or differ in length")
    table = flat.reshape(lines, width)
    ticks = table[:, 1:_COLUMNS + 1]
    if ticks.shape[1] < _COLUMNS:  # kernels before 2.6.11 had no steal column
        ticks = np.pad(ticks, ((0, 0), (0, _COLUMNS - ticks.shape[1])))
    ids = table[:, 0].copy()
    return CpuStat(ids, ids.tobytes(), np.ascontiguousarray(ticks),
                   line_int(text, "procs_running "), line_int(text, "procs_blocked "))


@register
class CpuCollector(Collector):
    name = "cpu"
    provides = ("host.cpu.user", "host.cpu.system", "host.cpu.iowait", "host.cpu.steal",
                "host.cpu.idle", "host.cpu.core_busy_max", "host.cpu.cores_saturated",
                "host.cpu.count", "host.procs_running", "host.procs_blocked", "host.load1",
                "cpu.busy", "cpu.user", "cpu.system", "cpu.iowait")

    def __init__(self, root: Path = Path("/"), top_cores: int = 2) -> None:
        super().__init__()
        self.root = root
        self.top_cores = top_cores
        self._stat = ProcFile(root / "proc/stat", size=16384)
        self._loadavg = ProcFile(root / "proc/loadavg", size=256)
        self._available = False
        self._last: CpuStat | None = None
        self._names: dict[int, str] = {}

    def open(self, host: str) -> None:
        super().open(host)
        self._last = None
        try:
            parse_stat(self._stat.read())
        except (OSError, ValueError) as e:
            self._available = False
            for metric in self.provides:
                self.absent(metric, f"cannot read {self._stat.path} ({e}): not Linux, "
                                    "or /proc is not mounted")
            return
        self._available = True
        try:
            self._loadavg.read()
        except OSError as e:
            self.absent("host.load1", f"cannot read {self._loadavg.path} ({e})")

    def close(self) -> None:
        self._stat.close()
        self._loadavg.close()

    def sample(self, buf: SampleBuffer) -> None:
        if not self._available:
            return
        try:
            stat = parse_stat(self._stat.read())
        except (OSError, ValueError) as e:
            log.debug("skipping /proc/stat this tick: %s", e)
            return
        buf.add(HOST_ENTITY, "host.cpu.count", float(len(stat.ids)))
        if stat.running is not None:
            buf.add(HOST_ENTITY, "host.procs_running", float(stat.running))
        if stat.blocked is not None:
            buf.add(HOST_ENTITY, "host.procs_blocked", float(stat.blocked))
        self._sample_load(buf)
        last, self._last = self._last, stat
        if last is not None:
            self._sample_shares(buf, last, stat)

    def _sample_load(self, buf: SampleBuffer) -> None:
        try:
            words = self._loadavg.read().split(None, 1)
            if words:
                buf.add(HOST_ENTITY, "host.load1", float(words[0]))
        except (OSError, ValueError) as e:
            log.debug("skipping /proc/loadavg this tick: %s", e)

    def _sample_shares(self, buf: SampleBuffer, last: CpuStat, now: CpuStat) -> None:
        # Few numpy calls on purpose: after a 100 ms sleep each one runs with cold caches.
        if now.ids_key == last.ids_key:
            ids, delta = now.ids, now.ticks - last.ticks
        else:  # a CPU went offline or came online: compare the cores present both times
            ids, i_now, i_last = np.intersect1d(now.ids, last.ids, assume_unique=True,
                                                return_indices=True)
            delta = now.ticks[i_now] - last.ticks[i_last]
        totals = delta.sum(axis=1)
        if len(totals) and (delta.min() < 0 or totals.min() <= 0):
            valid = (delta >= 0).all(axis=1) & (totals > 0)
            ids, delta, totals = ids[valid], delta[valid], totals[valid]
        if not len(totals):
            return
        u, n, s, idle, iowait, irq, softirq, steal = delta.sum(axis=0).tolist()
        whole = float(u + n + s + idle + iowait + irq + softirq + steal)
        buf.add(HOST_ENTITY, "host.cpu.user", (u + n) / whole)
        buf.add(HOST_ENTITY, "host.cpu.system", (s + irq + softirq) / whole)
        buf.add(HOST_ENTITY, "host.cpu.iowait", iowait / whole)
        buf.add(HOST_ENTITY, "host.cpu.steal", steal / whole)
        buf.add(HOST_ENTITY, "host.cpu.idle", idle / whole)
        busy = 1.0 - (delta[:, 3] + delta[:, 4]) / totals
        buf.add(HOST_ENTITY, "host.cpu.core_busy_max", float(busy.max()))
        buf.add(HOST_ENTITY, "host.cpu.cores_saturated", float(np.count_nonzero(busy >= SATURATED)))
        k = min(self.top_cores, len(busy))
        if k <= 0:
            return
        top = np.argpartition(busy, -k)[-k:] if k < len(busy) else np.arange(len(busy))
        rows = zip(busy[top].tolist(), ids[top].tolist(), totals[top].tolist(),
                   delta[top].tolist(), strict=True)
        for core_busy, cpu_id, total, (u, n, s, _, iowait, irq, softirq, _) in sorted(
                rows, key=lambda row: -row[0]):
            entity = self._names.get(cpu_id)
            if entity is None:
                entity = self._names[cpu_id] = f"cpu{cpu_id}"
            buf.add(entity, "cpu.busy", core_busy)
            buf.add(entity, "cpu.user", (u + n) / total)
            buf.add(entity, "cpu.system", (s + irq + softirq) / total)
            buf.add(entity, "cpu.iowait", iowait / total)

    def host_info(self) -> HostInfo:
        """This node: name, online CPUs, memory, NUMA nodes and kernel; None where unknown."""
        local = self.root == Path("/")
        cpu_count: int | None
        try:
            cpu_count = len(parse_stat(read_text(self.root / "proc/stat")).ids)
        except (OSError, ValueError):
            cpu_count = os.cpu_count() if local else None
        try:
            kib = line_int(read_text(self.root / "proc/meminfo"), "MemTotal:")
            mem_total = float(kib * 1024) if kib is not None else None
        except (OSError, ValueError):
            mem_total = None
        node_dir = self.root / "sys/devices/system/node"
        nodes = [n for n in list_dir(node_dir) if n.startswith("node") and n[4:].isdigit()]
        try:
            kernel: str | None = read_text(self.root / "proc/sys/kernel/osrelease").strip()
        except OSError:
            kernel = os.uname().release if local else None
        return HostInfo(
            name=self.host or socket.gethostname().split(".")[0] or "localhost",
            cpu_count=cpu_count,
            mem_total=mem_total,
            numa_nodes=len(nodes) if nodes else None,
            kernel=kernel,
        )
