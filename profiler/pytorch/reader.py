"""Kineto Chrome-trace files -> one column table of complete ("X") events per rank.

Strings (name, cat) are interned into per-rank symbol tables and stored as int32 codes; times
are int64 nanoseconds from the rank's `origin_ns`, so sub-microsecond precision survives and
the analyses compare integers. Only the fields the analyses read are kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from profiler.errors import InputError
from profiler.pytorch.jsonstream import open_text, stream_events
from profiler.pytorch.prettystream import NotPretty, stream_pretty

SNIFF_BYTES = 1 << 16
_RANK_IN_NAME = re.compile(r"rank[-_]?(\d+)", re.IGNORECASE)
_EMPTY: dict[str, Any] = {}


@dataclass(slots=True)
class RankEvents:
    """The complete events of one rank, as columns (one row per event)."""

    rank: int
    path: Path
    rank_source: str  # "distributedInfo", "file name" or "ordinal"
    origin_ns: int  # absolute time (epoch ns where the trace says so) of ts == 0
    frame: pd.DataFrame  # ts, dur (int64 ns), cat, name (categorical), stream, correlation,
    # external_id, device (int64, -1 when absent)
    devices: list[dict[str, Any]] = field(default_factory=list)
    distributed: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> pd.Index:
        return self.frame["name"].cat.categories

    @property
    def cats(self) -> pd.Index:
        return self.frame["cat"].cat.categories


def sniff(path: Path) -> bool:
    """Whether `path` looks like a Chrome/Kineto trace (by content; .json or .json.gz)."""
    if not path.is_file() or not path.name.endswith((".json", ".json.gz")):
        return False
    try:
        with open_text(path) as fh:
            head = fh.read(SNIFF_BYTES)
    except (OSError, EOFError):
        return False
    return head.lstrip()[:1] in (b"{", b"[") and (b'"traceEvents"' in head
                                                  or b'"schemaVersion"' in head)


def trace_files(path: Path) -> list[Path]:
    """The trace files of a path: itself, or the traces inside a directory (not recursive)."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if sniff(p))
    return [path]


class _Columns:
    """Accumulates batches of parsed events into lists of column chunks."""

    FIELDS = ("ts", "dur", "cat", "name", "stream", "correlation", "external_id", "device")

    def __init__(self) -> None:
        self.chunks: dict[str, list[np.ndarray]] = {f: [] for f in self.FIELDS}
        self.symbols: dict[str, dict[str, int]] = {"cat": {}, "name": {}}

    def add(self, batch: list[Any]) -> None:
        # HTA's rule: an event with a duration and a category (so no instants, flows, metadata).
        # One pass over the events, one over their args; columns come out of zip (in C).
        rows = [(e.get("ts"), e["dur"], e["cat"], e.get("name", ""),
                 (a := e["args"] if type(e.get("args")) is dict else _EMPTY).get("stream", -1),
                 a.get("correlation", -1), a.get("External id", a.get("external id", -1)),
                 a.get("device", -1))
                for e in batch if type(e) is dict and "dur" in e and e.get("cat")]
        if not rows:
            return
        columns = zip(*rows, strict=True)
        c = self.chunks
        for key in self.FIELDS:
            values = next(columns)
            if key in ("ts", "dur"):
                c[key].append(_floats(values))
            elif key in self.symbols:
                c[key].append(self._intern(key, values))
            else:
                c[key].append(_ints(values))


    def _intern(self, key: str, values: Sequence[Any]) -> np.ndarray:
        """Codes into the rank's symbol table: factorize the batch in C, then map only its
        distinct values through the table."""
        codes, uniques = pd.factorize(np.array(values, dtype=object), use_na_sentinel=False)
        table = self.symbols[key]
        remap = np.fromiter((table.setdefault(str(u), len(table)) for u in uniques),
                            dtype=np.int32, count=len(uniques))
        out: np.ndarray = remap[codes]
        return out


def _floats(values: Sequence[Any]) -> np.ndarray:
    out: np.ndarray
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        out = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(
            dtype=np.float64)
    return out


def _ints(values: Sequence[Any]) -> np.ndarray:
    """Integer arguments; anything not a number (a string stream, null) becomes -1, as in HTA."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        arr = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(
            dtype=np.float64)
    out: np.ndarray = np.where(np.isfinite(arr), arr, -1).astype(np.int64)
    return out


def read_rank(path: Path) -> tuple[pd.DataFrame, int, dict[str, Any]]:
    """One file -> (events frame, origin_ns, top-level metadata). Raises InputError."""
    cols = _Columns()
    try:
        meta = stream_pretty(path, cols.add)
    except NotPretty:
        cols = _Columns()  # start over with the scanner, which reads any layout
        meta = stream_events(path, cols.add)
    if not cols.chunks["ts"]:
        frame = _frame(cols, np.zeros(0, np.int64), np.zeros(0, np.int64))
        return frame, _base_ns(meta), meta
    ts = np.concatenate(cols.chunks["ts"])
    dur = np.concatenate(cols.chunks["dur"])
    bad = ~np.isfinite(ts) | ~np.isfinite(dur)
    if bad.any():
        raise InputError(str(path), f"{int(bad.sum())} complete events have a ts or dur that is "
                                    "not a number", where="traceEvents")
    base_us = int(np.floor(ts.min()))
    # integer microseconds stay exact: subtract the base before scaling to ns
    ts_ns = np.rint((ts - base_us) * 1000.0).astype(np.int64)
    dur_ns = np.rint(dur * 1000.0).astype(np.int64)
    return _frame(cols, ts_ns, dur_ns), _base_ns(meta) + base_us * 1000, meta


def _base_ns(meta: dict[str, Any]) -> int:
    base = meta.get("baseTimeNanoseconds")
    return int(base) if isinstance(base, int | float) else 0


def _frame(cols: _Columns, ts: np.ndarray, dur: np.ndarray) -> pd.DataFrame:
    def cat(key: str) -> pd.Categorical:
        codes = (np.concatenate(cols.chunks[key]) if cols.chunks[key]
                 else np.zeros(0, np.int32))
        return pd.Categorical.from_codes(codes, categories=pd.Index(list(cols.symbols[key]),
                                                                   dtype=object))

    def ints(key: str) -> np.ndarray:
        return (np.concatenate(cols.chunks[key]) if cols.chunks[key]
                else np.zeros(0, np.int64))

    return pd.DataFrame({
        "ts": ts, "dur": dur, "cat": cat("cat"), "name": cat("name"), "stream": ints("stream"),
        "correlation": ints("correlation"), "external_id": ints("external_id"),
        "device": ints("device"),
    })


def read_ranks(paths: list[Path]) -> list[RankEvents]:
    """Read every file; rank from distributedInfo, else the file name, else the file's ordinal."""
    files = [f for p in paths for f in trace_files(p)]
    if not files:
        raise InputError(str(paths[0]), "no PyTorch profiler trace (*.json, *.json.gz) here")
    out: list[RankEvents] = []
    for path in files:
        frame, origin, meta = read_rank(path)
        dist = meta.get("distributedInfo")
        dist = dist if isinstance(dist, dict) else {}
        devices = meta.get("deviceProperties")
        devices = [d for d in devices if isinstance(d, dict)] if isinstance(devices, list) else []
        rank, source = _rank_of(path, dist)
        out.append(RankEvents(rank, path, source, origin, frame, devices, dist))
    return _unique_ranks(out)


def _rank_of(path: Path, dist: dict[str, Any]) -> tuple[int, str]:
    rank = dist.get("rank")
    if isinstance(rank, int) and not isinstance(rank, bool) and rank >= 0:
        return rank, "distributedInfo"
    m = _RANK_IN_NAME.search(path.name)
    if m:
        return int(m.group(1)), "file name"
    return -1, "ordinal"


def _unique_ranks(ranks: list[RankEvents]) -> list[RankEvents]:
    """Ordinal ranks fill the numbers nobody claimed; two files claiming one rank is an error."""
    seen: dict[int, Path] = {}
    for r in ranks:
        if r.rank < 0:
            continue
        if r.rank in seen:
            raise InputError(str(r.path), f"rank {r.rank} is also claimed by {seen[r.rank]} "
                                          f"(from its {r.rank_source}): pass one trace per rank")
        seen[r.rank] = r.path
    free = (n for n in range(len(ranks) + len(seen)) if n not in seen)
    for r in ranks:
        if r.rank < 0:
            r.rank = next(free)
    return sorted(ranks, key=lambda r: r.rank)
