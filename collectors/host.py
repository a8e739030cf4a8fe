"""The host collectors together: what to sample on any Linux node, GPU or not."""

from __future__ import annotations

from pathlib import Path

from collectors.base import Collector
from collectors.cpu import CpuCollector
from collectors.disk import DiskCollector
from collectors.infiniband import InfinibandCollector
from collectors.memory import MemoryCollector
from collectors.net import NetCollector
from collectors.pressure import PressureCollector


def host_collectors(root: Path = Path("/")) -> list[Collector]:
    """One of each host collector, reading /proc and /sys under `root`, in sampling order."""
    return [
        CpuCollector(root), MemoryCollector(root), PressureCollector(root), DiskCollector(root),
        NetCollector(root), InfinibandCollector(root),
    ]
