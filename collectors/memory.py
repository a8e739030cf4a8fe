"""Memory collector: memory and swap sizes, swap traffic and major faults.

Provides, for entity "host", from /proc/meminfo (kB x 1024): host.mem_total, host.mem_available
(MemAvailable, kernel >= 3.14), host.swap_total and host.swap_used (SwapTotal - SwapFree). From
/proc/vmstat, as per-second rates: host.swap_in and host.swap_out in bytes (pswpin / pswpout pages x
the page size) and host.major_faults (pgmajfault). Rates start at the second tick; a counter that
went backwards drops that interval.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from collectors.base import Collector, Rates, SampleBuffer, register
from collectors.procfs import ProcFile, line_int
from profiler.catalog import HOST_ENTITY

log = logging.getLogger(__name__)

KIB = 1024
_MEMINFO = (("MemTotal:", "host.mem_total"), ("MemAvailable:", "host.mem_available"),
            ("SwapTotal:", "host.swap_total"), ("SwapFree:", "host.swap_used"))
_VMSTAT = (("pswpin ", "host.swap_in"), ("pswpout ", "host.swap_out"),
           ("pgmajfault ", "host.major_faults"))


@register
class MemoryCollector(Collector):
    name = "memory"
    provides = ("host.mem_total", "host.mem_available", "host.swap_total", "host.swap_used",
                "host.swap_in", "host.swap_out", "host.major_faults")

    def __init__(self, root: Path = Path("/")) -> None:
        super().__init__()
        self._meminfo = ProcFile(root / "proc/meminfo")
        self._vmstat = ProcFile(root / "proc/vmstat", size=16384)
        self._rates = Rates()
        self._page_size = float(os.sysconf("SC_PAGE_SIZE")) if hasattr(os, "sysconf") else 4096.0
        self._scale = {"host.swap_in": self._page_size, "host.swap_out": self._page_size,
                       "host.major_faults": 1.0}
        self._has_meminfo = self._has_vmstat = False

    def open(self, host: str) -> None:
        super().open(host)
        self._has_meminfo = self._probe(self._meminfo, _MEMINFO)
        self._has_vmstat = self._probe(self._vmstat, _VMSTAT)

    def _probe(self, file: ProcFile, fields: tuple[tuple[str, str], ...]) -> bool:
        """Read `file` once; record as absent what it cannot give (the whole file, or a field)."""
        try:
            text = file.read()
        except OSError as e:
            for _, metric in fields:
                self.absent(metric, f"cannot read {file.path} ({e}): not Linux, "
                                    "or /proc is not mounted")
            return False
        for key, metric in fields:
            try:
                found = line_int(text, key) is not None
            except ValueError:
                found = False
            if not found:
                note = " (kernel older than 3.14)" if key == "MemAvailable:" else ""
                self.absent(metric, f"{file.path} has no {key.strip()} field{note}")
        return True

    def close(self) -> None:
        self._meminfo.close()
        self._vmstat.close()

    def sample(self, buf: SampleBuffer) -> None:
        if self._has_meminfo:
            self._sample_meminfo(buf)
        if self._has_vmstat:
            self._sample_vmstat(buf)

    def _sample_meminfo(self, buf: SampleBuffer) -> None:
        try:
            text = self._meminfo.read()
            total = line_int(text, "MemTotal:")
            available = line_int(text, "MemAvailable:")
            swap_total = line_int(text, "SwapTotal:")
            swap_free = line_int(text, "SwapFree:")
        except (OSError, ValueError) as e:
            log.debug("skipping /proc/meminfo this tick: %s", e)
            return
        if total is not None:
            buf.add(HOST_ENTITY, "host.mem_total", float(total * KIB))
        if available is not None:
            buf.add(HOST_ENTITY, "host.mem_available", float(available * KIB))
        if swap_total is not None:
            buf.add(HOST_ENTITY, "host.swap_total", float(swap_total * KIB))
            if swap_free is not None:
                buf.add(HOST_ENTITY, "host.swap_used", float((swap_total - swap_free) * KIB))

    def _sample_vmstat(self, buf: SampleBuffer) -> None:
        try:
            text = self._vmstat.read()
            counts = [(metric, line_int(text, key)) for key, metric in _VMSTAT]
        except (OSError, ValueError) as e:
            log.debug("skipping /proc/vmstat this tick: %s", e)
            return
        t_s = buf.now_ns / 1e9
        for metric, count in counts:
            if count is None:
                continue
            rate = self._rates.rate(metric, t_s, float(count))
            if rate is not None:
                buf.add(HOST_ENTITY, metric, rate * self._scale[metric])
