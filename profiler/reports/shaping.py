"""Formatting every renderer shares: numbers with units, entity lists, percentages."""

from __future__ import annotations

import math
import re
from collections import defaultdict

_INDEXED = re.compile(r"^(?P<stem>[a-z]+)(?P<n>\d+)$")


def percent(fraction: float | None, digits: int = 0) -> str:
    if fraction is None or math.isnan(fraction):
        return "n/a"
    return f"{fraction * 100:.{digits}f} %"


def value(observed: float | None, unit: str) -> str:
    """A number in the unit people read: 0.98 ratio -> "98 %", 3.2e9 bytes/s -> "3.20 GB/s"."""
    if observed is None or (isinstance(observed, float) and math.isnan(observed)):
        return "n/a"
    x = float(observed)
    if unit == "ratio":
        return percent(x, 1 if abs(x) < 0.1 else 0)
    if unit == "bytes/s":
        return _scaled(x, 1000.0, ("B/s", "kB/s", "MB/s", "GB/s", "TB/s"))
    if unit == "bytes":
        return _scaled(x, 1024.0, ("B", "KiB", "MiB", "GiB", "TiB"))
    if unit == "Hz":
        return f"{x / 1e6:.0f} MHz"
    if unit == "W":
        return f"{x:.0f} W"
    if unit == "celsius":
        return f"{x:.0f} °C"
    if unit == "bitmask":
        return f"0x{int(x):X}"
    if unit == "generation":
        return f"Gen{x:.0f}"
    if unit == "1/s":
        return f"{x:.3g}/s"
    if unit == "kWh":
        return f"{x:.2f} kWh"
    if unit == "s":
        return duration(x)
    return f"{x:.3g}" + (f" {unit}" if unit and unit != "count" else "")


def _scaled(x: float, base: float, names: tuple[str, ...]) -> str:
    i = 0
    while abs(x) >= base and i < len(names) - 1:
        x /= base
        i += 1
    return f"{x:.0f} {names[i]}" if i == 0 else f"{x:.2f} {names[i]}"


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def entities(labels: tuple[str, ...] | list[str], limit: int = 40) -> str:
    """"node1/gpu0, node1/gpu1, node1/gpu2" -> "node1/gpu[0-2]"; other names listed as they are."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    plain: list[str] = []
    for label in labels:
        host, _, entity = label.rpartition("/")
        match = _INDEXED.match(entity)
        if host and match:
            groups[(host, match["stem"])].append(int(match["n"]))
        else:
            plain.append(label)
    parts = [f"{host}/{stem}{_ranges(sorted(ns))}" for (host, stem), ns in groups.items()]
    text = ", ".join([*parts, *plain])
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ranges(numbers: list[int]) -> str:
    if len(numbers) == 1:
        return str(numbers[0])
    spans: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        spans.append(f"{start}" if start == prev else f"{start}-{prev}")
        if n is not None:
            start = prev = n
    return "[" + ",".join(spans) + "]"
