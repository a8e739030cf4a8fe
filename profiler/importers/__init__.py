"""Importers: other tools' recordings (nvidia-smi, dmon, dcgmi, Prometheus) -> a Trace.

Each importer module has `detect(path) -> bool` (from the content, never the name) and
`load(path, options) -> Trace`. IMPORTERS lists them in detection order; profiler.loaders adds
them after the native trace format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from profiler.importers import dcgmi_dmon, nvidia_smi, prom_json, prom_text, smi_dmon
from profiler.importers.options import ImportOptions
from profiler.trace import Trace


@dataclass(frozen=True, slots=True)
class Importer:
    name: str
    detect: Callable[[Path], bool]
    load: Callable[[Path, ImportOptions | None], Trace]


IMPORTERS: tuple[Importer, ...] = (
    Importer(nvidia_smi.FORMAT, nvidia_smi.detect, nvidia_smi.load),
    Importer(prom_json.FORMAT, prom_json.detect, prom_json.load),
    Importer(prom_text.FORMAT, prom_text.detect, prom_text.load),
    Importer(smi_dmon.FORMAT, smi_dmon.detect, smi_dmon.load),
    Importer(dcgmi_dmon.FORMAT, dcgmi_dmon.detect, dcgmi_dmon.load),
)

__all__ = ["IMPORTERS", "ImportOptions", "Importer"]
