"""`nvidia-smi dmon` logs: any -s selection, -o D/T/DT prefixes, --gpm-metrics, repeated headers.

Header line 1 names the columns (`# gpu pwr gtemp ...` or `#Date Time gpu ...`), line 2 their
units; `-` is a missing value. Without `-o T` rows carry no time: the k-th row of a GPU is
placed k x interval (ImportOptions.interval_s, default dmon's 1 s) after the start.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from profiler.catalog import OutsideName, outside_names
from profiler.errors import InputError
from profiler.importers._io import file_label, head_text, open_text
from profiler.importers.assemble import assemble
from profiler.importers.meta import absences, build_meta
from profiler.importers.options import ImportOptions
from profiler.importers.textlog import column_values, gpu_numbers, gpu_parts, row_times
from profiler.importers.times import local_to_utc_ns, parse_time
from profiler.trace import Trace

FORMAT = "nvidia-smi-dmon"
_HEADER = re.compile(r"#\s*(Date\s+)?(Time\s+)?gpu(\s+\S+)+\s*")
TABLE = outside_names("nvidia-smi-dmon")


def detect(path: Path) -> bool:
    lines = [ln.strip() for ln in head_text(path, 8192).splitlines() if ln.strip()]
    return len(lines) >= 2 and bool(_HEADER.fullmatch(lines[0])) and lines[1].startswith("#") \
        and any(w in TABLE for w in lines[0].lstrip("#").split())


class _Segment:
    """Rows under one header (a log may restart with other columns)."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.rows: list[list[str]] = []
        self.lines: list[int] = []


def _read(path: Path, options: ImportOptions) -> list[_Segment]:
    source = str(path)
    segments: list[_Segment] = []
    current: _Segment | None = None
    expect_units = False
    with open_text(path, options.max_decompressed_bytes) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("#"):
                names = line.lstrip("#").split()
                if expect_units:
                    expect_units = False
                elif current is None or names != current.names:
                    if not _HEADER.fullmatch(line):
                        raise InputError(source, f"not a dmon header: {line[:80]!r}",
                                         where=f"line {lineno}")
                    current = _Segment(names)
                    segments.append(current)
                    expect_units = True
                else:
                    expect_units = True
                continue
            if current is None:
                raise InputError(source, "data before the first header", where=f"line {lineno}")
            cells = line.split()
            if len(cells) != len(current.names):
                raise InputError(source, f"{len(cells)} columns, the header has "
                                 f"{len(current.names)}", where=f"line {lineno}")
            current.rows.append(cells)
            current.lines.append(lineno)
    return segments


def load(path: Path, options: ImportOptions | None = None) -> Trace:
    """Read an nvidia-smi dmon log (plain or gzip) into a Trace."""
    options = options or ImportOptions()
    source = str(path)
    host = options.host or file_label(path)
    segments = [s for s in _read(path, options) if s.rows]
    if not segments:
        raise InputError(source, "no data rows")
    parts = []
    origin = ""
    for seg in segments:
        table = np.array(seg.rows, dtype=object)
        col = {name: table[:, i].tolist() for i, name in enumerate(seg.names)}
        gpu = gpu_numbers(col["gpu"], "gpu", source, seg.lines)
        ts, origin = _times(col, gpu, options, path, source, seg.lines)
        mapped: dict[str, tuple[OutsideName, np.ndarray]] = {
            name: (TABLE[name][0], column_values(col[name], name, source, seg.lines))
            for name in seg.names if name in TABLE}
        parts.extend(gpu_parts(host, gpu, ts, mapped))
    samples = assemble(parts)
    meta = build_meta(samples, source=FORMAT,
                      unavailable=absences(samples, ["nvidia-smi-dmon"], "this dmon log",
                                           host_data=False, noun="column"),
                      labels={"import.format": FORMAT, "import.time_origin": origin})
    return Trace(samples, meta)


def _times(col: dict[str, list[str]], gpu: np.ndarray, options: ImportOptions, path: Path,
           source: str, lines: list[int]) -> tuple[np.ndarray, str]:
    if "Time" not in col:
        return row_times(gpu, options, path, 1.0)
    if "Date" in col:
        text = pd.Series(col["Date"]) + " " + pd.Series(col["Time"])
        fmt = "%Y%m%d %H:%M:%S"
    else:  # time of day only: the date comes from --first-row-time or the file's date
        base = pd.Timestamp(parse_time(options.start, option="--first-row-time"), unit="s") \
            if options.start else pd.Timestamp(path.stat().st_mtime, unit="s")
        text = base.strftime("%Y%m%d ") + pd.Series(col["Time"])
        fmt = "%Y%m%d %H:%M:%S"
    parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    if parsed.isna().any():
        bad = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise InputError(source, f"time {text.iloc[bad]!r} is not YYYYMMDD HH:MM:SS",
                         where=f"line {lines[bad]}")
    if "Date" not in col:  # past midnight the time of day wraps: add a day at each wrap
        seconds = parsed.astype("int64").to_numpy() // 10**9
        days = np.cumsum(np.r_[0, np.diff(seconds) < -43200])
        parsed = parsed + pd.to_timedelta(days, unit="D")
    ns = local_to_utc_ns(pd.DatetimeIndex(parsed), options.timezone, source)
    return ns, f"dmon -o {'DT' if 'Date' in col else 'T'} local times, zone {options.timezone}"
