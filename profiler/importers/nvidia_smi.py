"""`nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]` logs (-l / -lms loops).

Any subset and order of fields; several GPUs interleaved; units in the header (`[%]`) and/or in
the values (`97 %`); absence tokens (`[N/A]`, `[Not Supported]`, `N/A`) are gaps, never zeros.
Timestamps are local time without a zone: ImportOptions.timezone says which (default UTC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from profiler.catalog import MHZ, MIB, NVIDIA_SMI, OutsideName, outside_names
from profiler.errors import InputError
from profiler.importers._io import file_label, head_text, open_binary
from profiler.importers.assemble import NS, Part, assemble
from profiler.importers.meta import absences, build_meta
from profiler.importers.options import ImportOptions
from profiler.importers.times import local_to_utc_ns, parse_time
from profiler.importers.values import parse_column
from profiler.trace import GpuInfo, Trace

FORMAT = "nvidia-smi-csv"
IDENTITY = {"timestamp", "index", "uuid", "name", "pci.bus_id", "gpu_name", "gpu_uuid",
            "gpu_bus_id", "driver_version", "pstate", "serial", "vbios_version", "count",
            "pci.device_id", "pci.sub_device_id", "pci.domain", "pci.bus", "pci.device"}
_FIELD = re.compile(r"[a-z_][a-z0-9_.]*")
_HEADER_CELL = re.compile(r"([a-z_][a-z0-9_.]*)(\s*\[[^\]]*\])?")
_TS_LINE = re.compile(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?\s*,")
KNOWN = set(outside_names("nvidia-smi")) | IDENTITY
BLOCK = 16 << 20


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip().lstrip("\ufeff")
    return ""


def parse_header(line: str) -> list[str] | None:
    """Field names of a header line (units dropped), or None when it is not one."""
    cells = [c.strip() for c in line.split(",")]
    names = []
    for cell in cells:
        m = _HEADER_CELL.fullmatch(cell)
        if not m:
            return None
        names.append(m.group(1))
    return names


def detect(path: Path) -> bool:
    line = _first_line(head_text(path))
    names = parse_header(line)
    if names is not None:
        return len(names) >= 2 and any(n in KNOWN for n in names) and "," in line
    return bool(_TS_LINE.match(line))


@dataclass(slots=True)
class _Columns:
    """Parsed columns accumulated over CSV blocks."""

    ts: list[np.ndarray]
    gpu: list[np.ndarray]
    values: dict[int, list[np.ndarray]]
    text: dict[str, list[pa.Array]]


def _mappings(names: list[str]) -> dict[int, OutsideName | list[OutsideName]]:
    table = outside_names("nvidia-smi")
    return {i: table[n][0] if len(table[n]) == 1 else table[n]
            for i, n in enumerate(names) if n in table}


def _timestamps(col: pa.ChunkedArray | pa.Array, tz: str, source: str, row0: int) -> np.ndarray:
    """Local 'YYYY/MM/DD HH:MM:SS[.mmm]' -> int64 ns UTC (each distinct text parsed once)."""
    encoded = col.dictionary_encode()
    words = pd.Index(encoded.dictionary.to_pylist(), dtype=object)
    parsed = pd.to_datetime(words, format="%Y/%m/%d %H:%M:%S.%f", errors="coerce")
    retry = parsed.isna()
    if retry.any():
        parsed = parsed.where(~retry, pd.to_datetime(words, format="%Y/%m/%d %H:%M:%S",
                                                     errors="coerce"))
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    if parsed.isna().any():
        bad = int(np.flatnonzero(np.isin(indices, np.flatnonzero(parsed.isna())))[0])
        raise InputError(source, f"timestamp {words[indices[bad]]!r} is not "
                         "YYYY/MM/DD HH:MM:SS.mmm", where=f"row {row0 + bad + 1}")
    ns = local_to_utc_ns(pd.DatetimeIndex(parsed), tz, source)
    return np.asarray(ns[indices], dtype="int64")


def _gpu_numbers(names: list[str], batch: pa.RecordBatch, source: str,
                 row0: int) -> np.ndarray | None:
    """The `index` column as GPU numbers; an index that is not a small integer is an error."""
    if "index" not in names:
        return None
    values, bad, cell = parse_column(batch.column(names.index("index")))
    wrong = ~np.isfinite(values) | (values < 0) | (values > 4096) | (values != np.round(values))
    if bad is None and wrong.any():
        bad = int(np.flatnonzero(wrong)[0])
        cell = str(batch.column(names.index("index"))[bad])
    if bad is not None:
        raise InputError(source, f"field 'index': {cell!r} is not a GPU index",
                         where=f"row {row0 + bad + 1}")
    return values.astype("int64")


def load(path: Path, options: ImportOptions | None = None) -> Trace:
    """Read an nvidia-smi --query-gpu CSV log (plain or gzip) into a Trace."""
    options = options or ImportOptions()
    source = str(path)
    header_line = _first_line(head_text(path))
    names = parse_header(header_line)
    has_header = names is not None
    if names is None:
        if not options.fields:
            raise InputError(source, "nvidia-smi CSV without a header (noheader): give the "
                             "--query-gpu field list with --fields")
        names = [f.strip() for f in options.fields]
    unknown = [n for n in names if not _FIELD.fullmatch(n)]
    if unknown:
        raise InputError(source, f"bad field name {unknown[0]!r}", where="header")
    mapped = _mappings(names)
    if not mapped:
        raise InputError(source, "no field nvidia-smi logs that profiler reads (e.g. "
                         "utilization.gpu, power.draw, clocks.sm)", where="header")
    cols = _read(path, names, has_header, mapped, options)
    return _to_trace(path, names, mapped, cols, options)


def _read(path: Path, names: list[str], has_header: bool,
          mapped: dict[int, OutsideName | list[OutsideName]], options: ImportOptions) -> _Columns:
    source = str(path)
    col_names = [f"c{i}" for i in range(len(names))]
    read = pacsv.ReadOptions(column_names=col_names, skip_rows=1 if has_header else 0,
                             block_size=BLOCK)
    parse = pacsv.ParseOptions(delimiter=",", quote_char='"', newlines_in_values=False)
    convert = pacsv.ConvertOptions(column_types={c: pa.string() for c in col_names},
                                   strings_can_be_null=False, quoted_strings_can_be_null=False)
    out = _Columns([], [], {i: [] for i in mapped}, {n: [] for n in names if n in IDENTITY})
    row0 = 1 if has_header else 0
    with open_binary(path, options.max_decompressed_bytes) as stream:
        try:
            reader = pacsv.open_csv(stream, read_options=read, parse_options=parse,
                                    convert_options=convert)
            for batch in reader:
                row0 = _take_batch(batch, names, has_header, mapped, out, options, source,
                                   row0)
        except pa.ArrowInvalid as e:
            msg = str(e).splitlines()[0].removeprefix("CSV parse error: ")
            raise InputError(source, f"malformed CSV row: {msg[:160]}") from None
    if not out.ts:
        raise InputError(source, "no data rows after the header")
    return out


def _take_batch(batch: pa.RecordBatch, names: list[str], has_header: bool,
                mapped: dict[int, OutsideName | list[OutsideName]],
                out: _Columns, options: ImportOptions, source: str, row0: int) -> int:
    n = batch.num_rows
    first = batch.column(0)
    # Repeated header lines (logs appended to by several runs) are dropped.
    head = pc.starts_with(pc.utf8_trim_whitespace(first), names[0])
    if has_header and pc.any(head).as_py():
        batch = batch.filter(pc.invert(head))
    if batch.num_rows == 0:
        return int(row0 + n)
    gpus = _gpu_numbers(names, batch, source, row0)
    if gpus is None:
        gpus = _positional_gpus(names, batch)
    if "timestamp" in names:
        ts = _timestamps(batch.column(names.index("timestamp")), options.timezone, source, row0)
    else:
        ts = np.full(batch.num_rows, -1, dtype="int64")  # filled in from row order later
    keep = ts != np.iinfo("int64").min
    out.ts.append(ts[keep])
    out.gpu.append(gpus[keep])
    for i in mapped:
        values, bad, cell = parse_column(batch.column(i))
        if bad is not None:
            raise InputError(source, f"field {names[i]!r}: {cell!r} is not a number or a "
                             "known token", where=f"row {row0 + bad + 1}")
        out.values[i].append(values[keep])
    for name in out.text:
        out.text[name].append(batch.column(names.index(name)).filter(pa.array(keep)))
    return int(row0 + n)


def _positional_gpus(names: list[str], batch: pa.RecordBatch) -> np.ndarray:
    """Without an index column: by uuid / bus id order of appearance, else position in a tick."""
    for key in ("uuid", "pci.bus_id", "gpu_uuid", "gpu_bus_id"):
        if key in names:
            codes, _ = pd.factorize(np.asarray(batch.column(names.index(key)).to_pylist(),
                                               dtype=object))
            return np.asarray(codes, dtype="int64")
    if "timestamp" in names:
        ts = pd.Series(np.asarray(batch.column(names.index("timestamp")).to_pylist(),
                                  dtype=object))
        return np.asarray(ts.groupby(ts, sort=False).cumcount(), dtype="int64")
    return np.zeros(batch.num_rows, dtype="int64")


def _row_times(gpu: np.ndarray, options: ImportOptions, path: Path) -> np.ndarray:
    """Rows without timestamps: the k-th row of a GPU is at start + k x interval."""
    interval = options.interval_s or 1.0
    k = pd.Series(gpu).groupby(gpu).cumcount().to_numpy(dtype="int64")
    if options.start:
        start_ns = int(parse_time(options.start, option="--first-row-time") * NS)
    else:
        start_ns = int(path.stat().st_mtime * NS) - int(k.max(initial=0) * interval * NS)
    return np.asarray(start_ns + (k * interval * NS).astype("int64"), dtype="int64")


def _to_trace(path: Path, names: list[str], mapped: dict[int, OutsideName | list[OutsideName]],
              cols: _Columns, options: ImportOptions) -> Trace:
    host = options.host or file_label(path)
    ts = np.concatenate(cols.ts)
    gpu = np.concatenate(cols.gpu)
    labels = {"import.format": FORMAT, "import.timezone": options.timezone}
    if "timestamp" not in names:
        ts = _row_times(gpu, options, path)
        labels["import.time_origin"] = "row order x interval (no timestamp field)"
    order = np.argsort(gpu, kind="stable")
    bounds = np.flatnonzero(np.diff(gpu[order])) + 1
    per_gpu = np.split(order, bounds)
    starts = np.r_[0, bounds]
    ends = np.r_[bounds, len(order)]
    ts_sorted = ts[order]
    parts: list[Part] = []
    for i, target in mapped.items():
        values = np.concatenate(cols.values[i])[order]  # sorted by GPU: each GPU is a view
        cols.values[i] = []
        for outside in target if isinstance(target, list) else [target]:
            for a, b in zip(starts, ends, strict=True):
                entity = f"gpu{int(gpu[order[a]])}"
                parts.append(Part(host, entity, outside, ts_sorted[a:b], values[a:b]))
    samples = assemble(parts)
    gpus = _gpu_infos(host, names, mapped, cols, gpu, per_gpu, parts)
    meta = build_meta(samples, source=FORMAT, gpus=gpus,
                      unavailable=absences(samples, ["nvidia-smi"], "this nvidia-smi log",
                                           host_data=False, noun="field"),
                      labels=labels)
    return Trace(samples, meta)


def _gpu_infos(host: str, names: list[str], mapped: dict[int, OutsideName | list[OutsideName]],
               cols: _Columns, gpu: np.ndarray, per_gpu: list[np.ndarray],
               parts: list[Part]) -> list[GpuInfo]:
    from profiler.importers.values import first_text

    text = {n: pa.concat_arrays([c for a in arrs for c in (
        a.chunks if isinstance(a, pa.ChunkedArray) else [a])]) for n, arrs in cols.text.items()}
    by_field = {names[i]: (t if isinstance(t, list) else [t])[0] for i, t in mapped.items()}
    first_values = {(p.outside, p.entity): p.values for p in parts}

    def first_number(field: str, rows: np.ndarray, scale: float = 1.0) -> float | None:
        outside = by_field.get(field)
        v = first_values.get((outside, f"gpu{int(gpu[rows[0]])}")) if outside else None
        if v is None:
            return None
        finite = v[np.isfinite(v)]
        return float(finite[0] * scale) if len(finite) else None

    infos = []
    for rows in per_gpu:
        index = int(gpu[rows[0]])

        def txt(*fields: str, rows: np.ndarray = rows) -> str | None:
            for f in fields:
                if f in text:
                    value = first_text(text[f], rows)
                    if value:
                        return value
            return None

        gen = first_number("pcie.link.gen.max", rows)
        width = first_number("pcie.link.width.max", rows)
        infos.append(GpuInfo(
            host, f"gpu{index}", index, name=txt("name", "gpu_name"),
            uuid=txt("uuid", "gpu_uuid"), bus_id=txt("pci.bus_id", "gpu_bus_id"),
            memory_total=first_number("memory.total", rows, MIB),
            power_limit=first_number("enforced.power.limit", rows) or first_number(
                "power.limit", rows),
            max_sm_clock=first_number("clocks.max.sm", rows, MHZ),
            pcie_max_gen=int(gen) if gen else None, pcie_max_width=int(width) if width else None))
    return infos


__all__ = ["FORMAT", "NVIDIA_SMI", "detect", "load"]
