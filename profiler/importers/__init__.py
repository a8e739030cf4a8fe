"""Importers: other tools' recordings (nvidia-smi, dmon, dcgmi, Prometheus) -> a Trace.

Each importer module has `detect(path) -> bool` (from the content, never the name) and
`load(path, options) -> Trace`. IMPORTERS lists them in detection order; profiler.loaders adds
them after the native trace format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from profiler.importers import nvidia_smi
from profiler.importers.options import ImportOptions
from profiler.trace import Trace


@dataclass(frozen=True, slots=True)
class Importer:
    name: str
    detect: Callable[[Path], bool]
    load: Callable[[Path, ImportOptions | None], Trace]


IMPORTERS: tuple[Importer, ...] = (
    Importer(nvidia_smi.FORMAT, nvidia_smi.detect, nvidia_smi.load),
)

__all__ = ["IMPORTERS", "ImportOptions", "Importer"]
