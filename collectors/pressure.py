"""Pressure collector: how much of the time tasks stalled waiting for CPU, I/O or memory (PSI).

Provides, for entity "host", from /proc/pressure/{cpu,io,memory}: host.psi.cpu_some,
host.psi.io_some, host.psi.io_full, host.psi.memory_some and host.psi.memory_full, each the share
of wall time (0..1) in which some task (`some`) or every non-idle task (`full`) was stalled: the
rate of the cumulative `total=` microseconds over the tick interval, clipped to [0, 1]. The `avg*`
fields are the kernel's own smoothing and are not used. The `full` line of /proc/pressure/cpu
(kernel >= 5.13) is not meaningful system-wide and is ignored.

PSI needs kernel >= 4.20 built with CONFIG_PSI; some distributions also need the `psi=1` boot
argument, without which the files exist but reads fail with EOPNOTSUPP. Either way the metrics are
recorded absent once, with that reason.
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path

from collectors.base import Collector, Rates, SampleBuffer, register
from collectors.procfs import ProcFile
from profiler.catalog import HOST_ENTITY

log = logging.getLogger(__name__)

US_PER_S = 1e6
_RESOURCES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("cpu", (("some", "host.psi.cpu_some"),)),
    ("io", (("some", "host.psi.io_some"), ("full", "host.psi.io_full"))),
    ("memory", (("some", "host.psi.memory_some"), ("full", "host.psi.memory_full"))),
)
_HOW = "kernel >= 4.20 with CONFIG_PSI, maybe the psi=1 boot argument"


def parse_psi(text: str) -> dict[str, int]:
    """{"some": µs, "full": µs} totals from one /proc/pressure file; ValueError if malformed."""
    totals: dict[str, int] = {}
    for line in text.splitlines():
        at = line.rfind("total=")
        if at >= 0:
            totals[line[:4]] = int(line[at + 6:])
    return totals


@register
class PressureCollector(Collector):
    name = "pressure"
    provides = ("host.psi.cpu_some", "host.psi.io_some", "host.psi.io_full",
                "host.psi.memory_some", "host.psi.memory_full")

    def __init__(self, root: Path = Path("/")) -> None:
        super().__init__()
        self.root = root
        self._files: list[tuple[ProcFile, tuple[tuple[str, str], ...]]] = []
        self._rates = Rates()

    def open(self, host: str) -> None:
        super().open(host)
        self.close()
        directory = self.root / "proc/pressure"
        if not directory.is_dir():
            self.absent("host.psi.*", f"PSI not available: {directory} is missing ({_HOW})")
            return
        for resource, lines in _RESOURCES:
            file = ProcFile(directory / resource, size=512)
            try:
                parse_psi(file.read())
            except OSError as e:
                self._unavailable(file, lines, e)
                continue
            except ValueError as e:
                for _, metric in lines:
                    self.absent(metric, f"cannot parse {file.path}: {e}")
                file.close()
                continue
            self._files.append((file, lines))

    def _unavailable(self, file: ProcFile, lines: tuple[tuple[str, str], ...],
                     error: OSError) -> None:
        if error.errno == errno.EOPNOTSUPP:
            self.absent("host.psi.*", f"PSI not available: reading {file.path} fails with "
                                      f"EOPNOTSUPP, PSI is disabled ({_HOW})")
            return
        if error.errno == errno.ENOENT:
            reason = f"PSI not available: {file.path} is missing ({_HOW})"
        else:
            reason = f"cannot read {file.path}: {error}"
        for _, metric in lines:
            self.absent(metric, reason)

    def close(self) -> None:
        for file, _ in self._files:
            file.close()
        self._files = []

    def sample(self, buf: SampleBuffer) -> None:
        t_s = buf.now_ns / 1e9
        for file, lines in self._files:
            try:
                totals = parse_psi(file.read())
            except (OSError, ValueError) as e:
                log.debug("skipping %s this tick: %s", file.path, e)
                continue
            for kind, metric in lines:
                total = totals.get(kind)
                if total is None:
                    continue
                rate = self._rates.rate(metric, t_s, float(total))
                if rate is not None:
                    buf.add(HOST_ENTITY, metric, min(max(rate / US_PER_S, 0.0), 1.0))
