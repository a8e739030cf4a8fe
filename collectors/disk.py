"""Disk collector: throughput, busy time and queue depth of each whole disk.

Provides, per whole disk (entity = kernel name: "nvme0n1", "sda", "dm-0", "md0"), from
/proc/diskstats: disk.read and disk.write in bytes/s (sectors x 512: the kernel counts 512-byte
sectors whatever the device's sector size), disk.busy (share of the interval with at least one
request in flight: io_ticks ms / interval ms, clipped to [0, 1]; 1.0 does not mean saturated for
NVMe or RAID, which serve many requests at once) and disk.queue_depth (average requests in flight:
weighted I/O ms / interval ms).

Which devices count: partitions are skipped the way the kernel marks them
(/sys/class/block/<dev>/partition exists), and so are loop, ram, zram and fd devices. Without
/sys/class/block (a fake tree, no sysfs) a name pattern stands in for partitions. Device-mapper and
md devices are kept; they count the I/O of their member disks again, so never sum disks blindly.

Lines of 14, 18 or 20 fields (kernels < 4.18, < 5.5, >= 5.5) are read alike; shorter lines (old
partition lines) are ignored. The ms counters are printed as 32-bit unsigned and wrap after 2^32 ms,
which is undone; any other decrease is a reset and drops that interval. A disk that appears gives
rates from its second reading; one that disappears just stops, with a note event.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from collectors.base import Collector, Rates, SampleBuffer, register
from collectors.procfs import Every, ProcFile

log = logging.getLogger(__name__)

SECTOR = 512
_NEVER = re.compile(r"(loop|ram|zram|fd)\d+$")
_PARTITION_NAME = re.compile(r"((h|s|v|xv)d[a-z]+|nvme\d+n\d+p|mmcblk\d+p)\d+$")
_MS_BITS = 32  # io_ticks and weighted time are printed with %u
# Fields after major, minor and name: (index, metric, scale to SI, wrap bits).
_FIELDS = ((2, "disk.read", float(SECTOR), None), (6, "disk.write", float(SECTOR), None),
           (9, "disk.busy", 1e-3, _MS_BITS), (10, "disk.queue_depth", 1e-3, _MS_BITS))


@register
class DiskCollector(Collector):
    name = "disk"
    provides = ("disk.read", "disk.write", "disk.busy", "disk.queue_depth")

    def __init__(self, root: Path = Path("/")) -> None:
        super().__init__()
        self._file = ProcFile(root / "proc/diskstats", size=16384)
        self._block = root / "sys/class/block"
        self._rates = Rates()
        self._rescan = Every()
        self._keep: dict[str, bool] = {}
        self._present: set[str] | None = None
        self._available = False

    def open(self, host: str) -> None:
        super().open(host)
        try:
            self._file.read()
        except OSError as e:
            for metric in self.provides:
                self.absent(metric, f"cannot read {self._file.path} ({e}): not Linux, "
                                    "or /proc is not mounted")
            self._available = False
            return
        self._available = True

    def close(self) -> None:
        self._file.close()

    def is_whole_disk(self, name: str) -> bool:
        """True for a disk to report: not a partition, not loop/ram/zram/fd."""
        if _NEVER.match(name):
            return False
        device = self._block / name.replace("/", "!")  # cciss/c0d0 is cciss!c0d0 in sysfs
        if device.exists():
            return not (device / "partition").exists()
        return not _PARTITION_NAME.match(name)

    def sample(self, buf: SampleBuffer) -> None:
        if not self._available:
            return
        try:
            text = self._file.read()
        except OSError as e:
            log.debug("skipping /proc/diskstats this tick: %s", e)
            return
        if self._rescan.due(buf.now_ns):
            self._keep.clear()
        t_s = buf.now_ns / 1e9
        seen: set[str] = set()
        for line in text.splitlines():
            parts = line.split(None, 3)
            if len(parts) < 4:
                continue
            name = parts[2]
            keep = self._keep.get(name)
            if keep is None:
                keep = self._keep[name] = self.is_whole_disk(name)
            if not keep:
                continue
            fields = parts[3].split()
            if len(fields) < 11:
                continue
            seen.add(name)
            for index, metric, scale, wrap_bits in _FIELDS:
                try:
                    value = float(fields[index])
                except ValueError:
                    continue
                rate = self._rates.rate((name, metric), t_s, value, wrap_bits)
                if rate is not None:
                    rate *= scale
                    buf.add(name, metric, min(rate, 1.0) if metric == "disk.busy" else rate)
        self._note_changes(buf, seen)

    def _note_changes(self, buf: SampleBuffer, seen: set[str]) -> None:
        present, self._present = self._present, seen
        if present is None or present == seen:
            return
        for name in sorted(present - seen):
            for _, metric, _, _ in _FIELDS:
                self._rates.forget((name, metric))
            buf.event(name, "note", f"disk {name} disappeared")
        for name in sorted(seen - present):
            buf.event(name, "note", f"disk {name} appeared")
