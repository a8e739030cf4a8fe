"""A Trace on disk: a directory that is a Parquet dataset (docs/trace-format.md).

    TRACE/
      _trace.json                 metadata (format, version, hosts, GPUs, absences, overhead)
      part-000000.parquet ...     samples written while recording, one file per flush
      samples.parquet             all samples, written when a recording is finalized
      _events/part-000000.parquet events (XID, GPU lost, collector faults)

Every file appears by an atomic rename of a complete temporary file, so a recorder killed at any
moment leaves a readable trace that lacks at most the samples of its last flush interval.
Names starting with "_" are skipped by pyarrow/pandas dataset discovery, so
`pandas.read_parquet(TRACE)` and DuckDB's `read_parquet('TRACE/*.parquet')` read just the samples.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from profiler.errors import InputError
from profiler.trace import (
    FORMAT_VERSION,
    SAMPLE_COLUMNS,
    Trace,
    TraceMeta,
    empty_events,
    empty_samples,
    infer_interval,
    normalize_events,
    normalize_samples,
)

META_FILE = "_trace.json"
EVENTS_DIR = "_events"
COMPACT_FILE = "samples.parquet"
FORMAT_NAME = "profiler-trace"

SAMPLE_SCHEMA = pa.schema([
    ("ts", pa.timestamp("ns", tz="UTC")),
    ("host", pa.dictionary(pa.int32(), pa.string())),
    ("entity", pa.dictionary(pa.int32(), pa.string())),
    ("metric", pa.dictionary(pa.int32(), pa.string())),
    ("value", pa.float64()),
])
EVENT_SCHEMA = pa.schema([
    ("ts", pa.timestamp("ns", tz="UTC")),
    ("host", pa.string()),
    ("entity", pa.string()),
    ("kind", pa.string()),
    ("code", pa.int64()),
    ("message", pa.string()),
])


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"_{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _atomic_write_table(path: Path, table: pa.Table) -> None:
    tmp = path.with_name(f"_{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd", row_group_size=1 << 20)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _grouped_by_metric(table: pa.Table) -> pa.Table:
    """Rows sorted by metric name, then time: a reader then finds each metric's samples in one
    contiguous run (what diagnosis reads metric by metric, and what compresses best)."""
    metric = table.column("metric").unify_dictionaries()
    if metric.num_chunks == 0:
        return table
    names = metric.chunk(0).dictionary.to_pylist()
    rank = np.empty(len(names), dtype="int32")
    rank[np.argsort(np.asarray(names, dtype=object), kind="stable")] = np.arange(len(names))
    codes = _numpy(pa.chunked_array([c.indices for c in metric.chunks]))
    ts = _numpy(table.column("ts").cast(pa.int64()))
    order = np.lexsort((ts, rank[codes]))
    return table.take(pa.array(order))


def _samples_table(samples: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(samples[list(SAMPLE_COLUMNS)], schema=SAMPLE_SCHEMA,
                                preserve_index=False)


def _events_table(events: pd.DataFrame) -> pa.Table:
    frame = events.astype({"host": str, "entity": str, "kind": str, "message": str})
    return pa.Table.from_pandas(frame, schema=EVENT_SCHEMA, preserve_index=False)


def _meta_bytes(meta: TraceMeta) -> bytes:
    doc: dict[str, Any] = {"format": FORMAT_NAME, **meta.to_dict()}
    return json.dumps(doc, indent=1, sort_keys=False).encode()


class TraceWriter:
    """Writes a trace incrementally: metadata first, then one samples part per `append`."""

    def __init__(self, path: str | os.PathLike[str], meta: TraceMeta) -> None:
        self.path = Path(path)
        try:
            if self.path.exists() and not self.path.is_dir():
                raise InputError(str(self.path), "exists and is not a trace directory")
            if self.path.is_dir() and any(self.path.iterdir()):
                if not (self.path / META_FILE).exists():
                    raise InputError(str(self.path), "directory is not empty and is not a trace")
                _clear_trace_dir(self.path)
            (self.path / EVENTS_DIR).mkdir(parents=True, exist_ok=True)
            self.write_meta(meta)
        except OSError as e:
            raise InputError(str(self.path), f"cannot write trace: {e.strerror or e}") from None
        self._parts = 0
        self._event_parts = 0

    def write_meta(self, meta: TraceMeta) -> None:
        _atomic_write_bytes(self.path / META_FILE, _meta_bytes(meta))

    def append(self, samples: pd.DataFrame, events: pd.DataFrame | None = None) -> None:
        """Write one flush: a samples part and, if any, an events part. Each is all-or-nothing."""
        if not samples.empty:
            _atomic_write_table(self.path / f"part-{self._parts:06d}.parquet",
                                _samples_table(samples))
            self._parts += 1
        if events is not None and not events.empty:
            _atomic_write_table(self.path / EVENTS_DIR / f"part-{self._event_parts:06d}.parquet",
                                _events_table(events))
            self._event_parts += 1

    def finalize(self, meta: TraceMeta) -> None:
        """Merge the parts into samples.parquet (grouped by metric, each in time order) and
        write the final metadata."""
        parts = sorted(self.path.glob("part-*.parquet"))
        if parts:
            table = pq.ParquetDataset(parts).read().cast(SAMPLE_SCHEMA)
            _atomic_write_table(self.path / COMPACT_FILE, _grouped_by_metric(table))
            for part in parts:
                part.unlink()
        self.write_meta(meta)


def _clear_trace_dir(path: Path) -> None:
    for item in [*path.glob("*.parquet"), *path.glob(f"{EVENTS_DIR}/*.parquet"),
                 *path.glob("_*.tmp")]:
        item.unlink()


def write_trace(trace: Trace, path: str | os.PathLike[str]) -> Path:
    """Write a whole Trace as a finalized trace directory."""
    writer = TraceWriter(path, trace.meta)
    try:
        writer.append(trace.samples, trace.events)
        writer.finalize(trace.meta)
    except OSError as e:
        raise InputError(str(path), f"cannot write trace: {e.strerror or e}") from None
    return writer.path


def is_trace(path: str | os.PathLike[str]) -> bool:
    p = Path(path)
    return (p / META_FILE).is_file() or (p.is_file() and p.suffix == ".parquet")


def read_trace(path: str | os.PathLike[str]) -> Trace:
    """Read a trace directory (finished or left by a killed recorder) or one Parquet file."""
    p = Path(path)
    source = str(p)
    if not p.exists():
        raise InputError(source, "no such file or directory")
    try:
        if p.is_dir():
            return _read_dir(p, source)
        return _read_single_file(p, source)
    except PermissionError:
        raise InputError(source, "permission denied") from None
    except IsADirectoryError:
        raise InputError(source, "is a directory, not a trace") from None


def _read_meta(p: Path, source: str) -> TraceMeta:
    try:
        doc = json.loads((p / META_FILE).read_bytes())
    except (OSError, ValueError) as e:
        raise InputError(source, f"unreadable trace metadata: {e}", where=META_FILE) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise InputError(source, "not a profiler trace (metadata has no profiler-trace format)",
                         where=META_FILE)
    version = doc.get("format_version")
    if not isinstance(version, int):
        raise InputError(source, "metadata lacks an integer format_version", where=META_FILE)
    if version > FORMAT_VERSION:
        raise InputError(source, f"written in trace format {version} by a newer profiler; this "
                         f"version reads formats up to {FORMAT_VERSION}: upgrade profiler")
    try:
        return TraceMeta.from_dict(doc)
    except (TypeError, ValueError) as e:
        raise InputError(source, f"malformed trace metadata: {e}", where=META_FILE) from None


def _read_dir(p: Path, source: str) -> Trace:
    if not (p / META_FILE).is_file():
        raise InputError(source, f"not a profiler trace: no {META_FILE} in this directory")
    meta = _read_meta(p, source)
    compact = p / COMPACT_FILE
    # A finished compaction makes any leftover parts (a crash before they were deleted) redundant.
    files = [compact] if compact.exists() else sorted(p.glob("part-*.parquet"))
    samples = _read_parquet_files(files, source, SAMPLE_COLUMNS)
    event_files = sorted((p / EVENTS_DIR).glob("*.parquet"))
    events = _read_parquet_files(event_files, source, tuple(empty_events().columns))
    try:
        return Trace(normalize_samples(samples) if samples is not None else empty_samples(), meta,
                     normalize_events(events) if events is not None else empty_events())
    except (TypeError, ValueError) as e:
        raise InputError(source, f"malformed samples: {e}") from None


def _read_single_file(p: Path, source: str) -> Trace:
    samples = _read_parquet_files([p], source, SAMPLE_COLUMNS)
    if samples is None:
        raise InputError(source, "empty Parquet file")
    try:
        samples = normalize_samples(samples)
    except (TypeError, ValueError) as e:
        raise InputError(source, f"malformed samples: {e}") from None
    meta = TraceMeta(source=f"parquet:{p.name}", interval_s=infer_interval(samples),
                     complete=True)
    return Trace(samples, meta, empty_events())


DICTIONARY_COLUMNS = ("host", "entity", "metric")


def _fast_samples(files: list[Path], source: str) -> pd.DataFrame | None:
    """Our own samples layout straight into pandas, one column at a time; None for any other
    layout (the generic path reads it).

    A day of 8 GPUs is ~30 M rows: converting column by column keeps the peak near the final
    frame plus one column, and skips `to_pandas`' slow tz-aware timestamp path.
    """
    try:
        schemas = [pq.read_schema(f) for f in files]
    except (pa.ArrowException, OSError):
        return None  # the generic path reports it
    for schema in schemas:
        if not all(c in schema.names for c in SAMPLE_COLUMNS):
            return None
        ts_type = schema.field("ts").type
        if not (pa.types.is_timestamp(ts_type) and ts_type.tz in ("UTC", "+00:00")
                and pa.types.is_floating(schema.field("value").type)
                and all(pa.types.is_dictionary(schema.field(c).type)
                        for c in DICTIONARY_COLUMNS)):
            return None
    columns: dict[str, Any] = {}
    for name in SAMPLE_COLUMNS:
        column = _read_column(files, source, name)
        if name == "ts":
            ts_ns = _numpy(column.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()))
            columns[name] = pd.Series(
                pd.DatetimeIndex(ts_ns.view("M8[ns]")).tz_localize("UTC").array, copy=False)
        elif name == "value":
            columns[name] = _numpy(column.cast(pa.float64()))
        else:
            category = _categorical(column)
            if category is None:
                return None
            columns[name] = category
        del column
    pa.default_memory_pool().release_unused()  # give Arrow's freed buffers back to the OS
    return pd.DataFrame(columns, copy=False)


def _read_column(files: list[Path], source: str, name: str) -> pa.ChunkedArray:
    read = {"read_dictionary": [name]} if name in DICTIONARY_COLUMNS else {}
    try:
        parts = [pq.read_table(f, columns=[name], **read).column(0) for f in files]
        return pa.chunked_array([c for p in parts for c in p.chunks], type=parts[0].type) \
            if len(parts) > 1 else parts[0]
    except (pa.ArrowException, OSError) as e:
        raise InputError(source, f"unreadable Parquet data: {e}") from None


def _categorical(column: pa.ChunkedArray) -> pd.Categorical | None:
    """Dictionary chunks (each file has its own dictionary) as one pandas Categorical."""
    if column.num_chunks == 0:
        return pd.Categorical([])
    column = column.unify_dictionaries()
    names = column.chunk(0).dictionary.to_pylist()
    if any(n is None for n in names) or len(names) != len(set(names)):
        return None
    codes = _numpy(pa.chunked_array([c.indices for c in column.chunks]))
    if (codes < 0).any():
        return None  # nulls: the generic path rejects them with a message
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(names))


def _numpy(column: pa.ChunkedArray) -> np.ndarray:
    """A chunked column as one numpy array (nulls become -1 for integers, NaN for floats)."""
    if pa.types.is_integer(column.type):
        column = column.fill_null(-1)
    chunks = [c.to_numpy(zero_copy_only=False) for c in column.chunks]
    if not chunks:
        return np.empty(0, dtype=column.type.to_pandas_dtype())
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)


def _read_parquet_files(files: list[Path], source: str,
                        columns: tuple[str, ...]) -> pd.DataFrame | None:
    if columns == SAMPLE_COLUMNS and files:
        fast = _fast_samples(files, source)
        if fast is not None:
            return fast
    tables = []
    for f in files:
        try:
            table = pq.read_table(f, read_dictionary=[c for c in DICTIONARY_COLUMNS
                                                      if c in columns])
        except (pa.ArrowException, OSError) as e:
            raise InputError(source, f"unreadable Parquet data: {e}", where=f.name) from None
        missing = [c for c in columns if c not in table.column_names]
        if missing:
            raise InputError(source, f"not a profiler trace: no column {missing[0]!r}",
                             where=f.name)
        tables.append(table.select(list(columns)))
    if not tables:
        return None
    try:
        # Concatenating in Arrow and converting once keeps the peak near one copy of the data.
        table = pa.concat_tables(tables, promote_options="permissive").unify_dictionaries()
    except pa.ArrowException as e:
        raise InputError(source, f"trace parts disagree on their columns: {e}") from None
    del tables
    frame = table.to_pandas(self_destruct=True, split_blocks=True)
    try:
        if "value" in frame and not pd.api.types.is_float_dtype(frame["value"].dtype):
            frame["value"] = pd.to_numeric(frame["value"], errors="raise")
    except (TypeError, ValueError):
        raise InputError(source, "column 'value' is not numeric") from None
    return frame
