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


DMON_COLUMNS = {  # name: (unit, value for (gpu, second))
    "pwr": ("W", lambda g, s: 631 - 60 * g), "gtemp": ("C", lambda g, s: 63 + 20 * g),
    "mtemp": ("C", lambda g, s: "-"), "sm": ("%", lambda g, s: 100),
    "mem": ("%", lambda g, s: 10), "enc": ("%", lambda g, s: 0), "dec": ("%", lambda g, s: 0),
    "jpg": ("%", lambda g, s: 0), "ofa": ("%", lambda g, s: 0),
    "mclk": ("MHz", lambda g, s: 2619), "pclk": ("MHz", lambda g, s: 1980 - 480 * g),
}


def write_smi_dmon(path: Path, *, gpus: int = 2, seconds: int = 30, date_time: bool = False,
                   start: datetime | None = None, repeat_every: int = 0) -> Path:
    """`nvidia-smi dmon [-o DT]` output: right-aligned columns, header pair (re)printed."""
    start = start or datetime(2026, 8, 16, 9, 22, 34)
    names = (["Date", "Time"] if date_time else []) + ["gpu", *DMON_COLUMNS]
    units = (["YYYYMMDD", "HH:MM:SS"] if date_time else []) + ["Idx"] + [
        u for u, _ in DMON_COLUMNS.values()]
    def row(cells: list[str], first: str = " ") -> str:
        lead = cells[:2] if date_time else []
        return first + "".join(f"{c:<13}" for c in lead) + "".join(
            f"{c:>7}" for c in cells[len(lead):]) + " \n"

    header = row(names, "#") + row(units, "#")
    out = [header]
    for s in range(seconds):
        if repeat_every and s and s % repeat_every == 0:
            out.append(header)
        now = start + timedelta(seconds=s)
        for g in range(gpus):
            cells = ([now.strftime("%Y%m%d"), now.strftime("%H:%M:%S")] if date_time else [])
            cells += [str(g)] + [str(fn(g, s)) for _, fn in DMON_COLUMNS.values()]
            out.append(row(cells))
    path.write_text("".join(out))
    return path


DCGMI_FIELDS = ["GPUTL", "SMACT", "SMOCC", "TENSO", "DRAMA", "POWER", "TMPTR"]


def write_dcgmi_dmon(path: Path, values: Callable[[str, int, int], str], *, gpus: int = 2,
                     rounds: int = 30, links: bool = False) -> Path:
    """`dcgmi dmon -e 203,1002,1003,1004,1005,155,150` output, header every 14 rounds."""
    head = "#Entity".ljust(16) + "".join(f.ljust(13) for f in DCGMI_FIELDS) + "\n" + \
        "ID".ljust(16) + "".join(("W" if f == "POWER" else "C" if f == "TMPTR" else "").ljust(13)
                                 for f in DCGMI_FIELDS) + "\n"
    out = []
    for r in range(rounds):
        if r % 14 == 0:
            out.append(head)
        for g in range(gpus):
            out.append(f"GPU {g}".ljust(16) + "".join(values(f, g, r).ljust(13)
                                                       for f in DCGMI_FIELDS) + "\n")
            if links:
                out.append(f"GPU {g} LINK 0".ljust(16) + "N/A ".ljust(13) * 7 + "\n")
    out.append("dmon was stopped due to receiving a signal.\n")
    path.write_text("".join(out))
    return path
