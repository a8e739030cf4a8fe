"""Writers of nvidia-smi and dmon logs exactly as the real tools print them (for tests/benches)."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

UNITS = {"utilization.gpu": "%", "utilization.memory": "%", "memory.used": "MiB",
         "memory.total": "MiB", "memory.free": "MiB", "power.draw": "W",
         "enforced.power.limit": "W", "power.limit": "W", "clocks.current.sm": "MHz",
         "clocks.sm": "MHz", "clocks.max.sm": "MHz", "clocks.current.memory": "MHz",
         "clocks_event_reasons_counters.sw_thermal_slowdown": "us",
         "clocks_event_reasons_counters.sw_power_cap": "us", "fan.speed": "%"}

Value = Callable[[int, int], str]  # (gpu, second) -> the cell as nvidia-smi prints it


def smi_cell(field: str, value: float | str, nounits: bool = False) -> str:
    """A value as nvidia-smi prints it: '97 %', '631.95 W', '[N/A]' passes through."""
    if isinstance(value, str):
        return value
    unit = UNITS.get(field)
    text = f"{value:.2f}" if field.startswith("power") or "limit" in field else f"{value:.0f}"
    return text if unit is None or nounits else f"{text} {unit}"


def write_smi_csv(path: Path, fields: Sequence[str], cell: Callable[[str, int, int], float | str],
                  *, gpus: int = 2, seconds: int = 60, start: datetime | None = None,
                  header: bool = True, nounits: bool = False, compress: bool = False,
                  ms: int = 1000) -> Path:
    """`nvidia-smi --query-gpu=FIELDS --format=csv[,noheader][,nounits] -lms MS` output."""
    start = start or datetime(2026, 7, 14, 8, 0, 0)
    lines = []
    if header:
        lines.append(", ".join(f"{f} [{UNITS[f]}]" if f in UNITS else f for f in fields))
    for s in range(seconds):
        stamp = (start + timedelta(milliseconds=s * ms + 353)).strftime("%Y/%m/%d %H:%M:%S.%f")
        for g in range(gpus):
            row = []
            for f in fields:
                if f == "timestamp":
                    row.append(stamp[:-3])
                elif f == "index":
                    row.append(str(g))
                else:
                    row.append(smi_cell(f, cell(f, g, s), nounits))
            lines.append(", ".join(row))
    text = "\n".join(lines) + "\n"
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path
