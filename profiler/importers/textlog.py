"""Shared pieces of the whitespace-column logs (nvidia-smi dmon, dcgmi dmon)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from profiler.catalog import OutsideName
from profiler.errors import InputError
from profiler.importers.assemble import NS, Part
from profiler.importers.options import ImportOptions
from profiler.importers.times import parse_time
from profiler.importers.values import parse_column


def row_times(gpu: np.ndarray, options: ImportOptions, path: Path,
              default_interval: float) -> tuple[np.ndarray, str]:
    """Rows without a time: the k-th row of a GPU is at start + k x interval (ns), and how."""
    interval = options.interval_s or default_interval
    k = np.asarray(pd.Series(gpu).groupby(gpu).cumcount(), dtype="int64")
    if options.start:
        start_ns = int(parse_time(options.start, option="--first-row-time") * NS)
        how = f"first row at {options.start}, rows {interval:g} s apart"
    else:
        start_ns = int(path.stat().st_mtime * NS) - int(k.max(initial=0) * interval * NS)
        how = f"last row at the file's modification time, rows {interval:g} s apart"
    return np.asarray(start_ns + (k * interval * NS).astype("int64"), dtype="int64"), how


def column_values(cells: list[str], field: str, source: str, first_line: list[int]) -> np.ndarray:
    """Floats of one column's cells; InputError naming the field and line of a bad cell."""
    values, bad, cell = parse_column(pa.array(cells, type=pa.string()))
    if bad is not None:
        raise InputError(source, f"column {field!r}: {cell!r} is not a number",
                         where=f"line {first_line[bad]}")
    return values


def gpu_parts(host: str, gpu: np.ndarray, ts: np.ndarray,
              columns: dict[str, tuple[OutsideName, np.ndarray]]) -> list[Part]:
    """One Part per (column, GPU)."""
    parts = []
    for g in np.unique(gpu):
        rows = np.flatnonzero(gpu == g)
        for outside, values in columns.values():
            parts.append(Part(host, f"gpu{int(g)}", outside, ts[rows], values[rows]))
    return parts


def gpu_numbers(cells: list[str], field: str, source: str, lines: list[int]) -> np.ndarray:
    """GPU indices of a column; InputError naming the line of one that is not 0..4096."""
    values = column_values(cells, field, source, lines)
    wrong = ~np.isfinite(values) | (values < 0) | (values > 4096) | (values != np.round(values))
    if wrong.any():
        bad = int(np.flatnonzero(wrong)[0])
        raise InputError(source, f"{field} {cells[bad]!r} is not a GPU index",
                         where=f"line {lines[bad]}")
    return values.astype("int64")
