"""What every collector is: open, sample, close, a name and the metrics it provides.

A collector writes (entity, metric, value) rows for one tick into a SampleBuffer, in SI units with
catalog names. Absence is data: a missing library, device, permission or field becomes an Absence
(recorded once), never an exception out of `sample`, never silence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from profiler.trace import Absence, GpuInfo, HostInfo, ProcessInfo, empty_events, empty_samples


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened once: an XID, a lost GPU, a collector fault."""

    ts_ns: int
    host: str
    entity: str
    kind: str
    message: str
    code: int | None = None


@dataclass(frozen=True, slots=True)
class _KeyCategories:
    keys: int  # how many (entity, metric) keys these were built from
    host: pd.CategoricalDtype
    entity: pd.CategoricalDtype
    entity_codes: np.ndarray
    metric: pd.CategoricalDtype
    metric_codes: np.ndarray


class SampleBuffer:
    """Rows of one host's samples, appended tick by tick, taken out as a DataFrame at each flush.

    Cheap per row (three list appends); the DataFrame is built once per flush.
    """

    def __init__(self, host: str) -> None:
        self.host = host
        self._keys: dict[tuple[str, str], int] = {}
        self._key_list: list[tuple[str, str]] = []
        self._tick_ts: list[int] = []
        self._tick_rows: list[int] = []
        self._key_ids: list[int] = []
        self._values: list[float] = []
        self._events: list[Event] = []
        self._rows_at_tick_start = 0
        self.ticks = 0
        self._cached: _KeyCategories | None = None
        self._no_events: pd.DataFrame | None = None

    def begin_tick(self, ts_ns: int) -> None:
        self._close_tick()
        self._tick_ts.append(ts_ns)
        self._rows_at_tick_start = len(self._values)
        self.ticks += 1

    def _close_tick(self) -> None:
        if len(self._tick_rows) < len(self._tick_ts):
            self._tick_rows.append(len(self._values) - self._rows_at_tick_start)

    @property
    def now_ns(self) -> int:
        return self._tick_ts[-1]

    def add(self, entity: str, metric: str, value: float) -> None:
        key = (entity, metric)
        key_id = self._keys.get(key)
        if key_id is None:
            key_id = self._keys[key] = len(self._key_list)
            self._key_list.append(key)
        self._key_ids.append(key_id)
        self._values.append(value)

    def event(self, entity: str, kind: str, message: str, code: int | None = None,
              ts_ns: int | None = None) -> None:
        stamp = ts_ns if ts_ns is not None else (self._tick_ts[-1] if self._tick_ts else 0)
        self._events.append(Event(stamp, self.host, entity, kind, message, code))

    def __len__(self) -> int:
        return len(self._values)

    def take(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Return (samples, events) collected since the last take, and start afresh."""
        self._close_tick()
        samples = self._samples_frame()
        events = self._events_frame()
        self._tick_ts, self._tick_rows, self._key_ids, self._values = [], [], [], []
        self._events = []
        self._rows_at_tick_start = 0
        return samples, events

    def _samples_frame(self) -> pd.DataFrame:
        if not self._values:
            return empty_samples()
        ts = np.repeat(np.asarray(self._tick_ts, dtype="int64"),
                       np.asarray(self._tick_rows, dtype="int64"))
        ids = np.asarray(self._key_ids, dtype="int64")
        keys = self._categories()
        return pd.DataFrame({
            "ts": pd.to_datetime(ts, unit="ns", utc=True),
            "host": pd.Categorical.from_codes(np.zeros(len(ids), dtype="int32"),
                                              dtype=keys.host),
            "entity": pd.Categorical.from_codes(keys.entity_codes[ids], dtype=keys.entity),
            "metric": pd.Categorical.from_codes(keys.metric_codes[ids], dtype=keys.metric),
            "value": np.asarray(self._values, dtype="float64"),
        })

    def _categories(self) -> _KeyCategories:
        """Category dtypes for the keys seen so far, rebuilt only when a new key appears.

        Building a categorical from names costs ~100x building it from a ready dtype, and
        after the first ticks the keys rarely change: this keeps a flush cheap at 1 Hz.
        """
        cached = self._cached
        if cached is not None and cached.keys == len(self._key_list):
            return cached
        entity_codes, entity_cats = _codes([e for e, _ in self._key_list])
        metric_codes, metric_cats = _codes([m for _, m in self._key_list])
        self._cached = _KeyCategories(
            len(self._key_list), pd.CategoricalDtype([self.host]),
            pd.CategoricalDtype(entity_cats), entity_codes,
            pd.CategoricalDtype(metric_cats), metric_codes)
        return self._cached

    def _events_frame(self) -> pd.DataFrame:
        if not self._events:
            if self._no_events is None:
                self._no_events = empty_events()
            return self._no_events  # shared: consumers only read or concatenate it
        frame = pd.DataFrame({
            "ts": pd.to_datetime([e.ts_ns for e in self._events], unit="ns", utc=True),
            "host": [e.host for e in self._events],
            "entity": [e.entity for e in self._events],
            "kind": [e.kind for e in self._events],
            "code": pd.array([e.code for e in self._events], dtype="Int64"),
            "message": [e.message for e in self._events],
        })
        return frame


def _codes(names: list[str]) -> tuple[np.ndarray, list[str]]:
    """Per-key category codes into the sorted unique names."""
    categories = sorted(set(names))
    index = {name: i for i, name in enumerate(categories)}
    return np.asarray([index[n] for n in names], dtype="int32"), categories


class Rates:
    """Turns cumulative counters into per-second rates.

    The first reading of a key gives no rate. A decrease is a reset (driver reload, device
    re-plugged) and that interval is dropped, unless the counter is declared `wrap_bits` wide and
    the previous reading was in the top half of its range: then it wrapped and the delta is exact.
    """

    def __init__(self) -> None:
        self._last: dict[object, tuple[float, float]] = {}

    def rate(self, key: object, t_s: float, value: float, wrap_bits: int | None = None
             ) -> float | None:
        last = self._last.get(key)
        self._last[key] = (t_s, value)
        if last is None:
            return None
        t0, v0 = last
        dt = t_s - t0
        if dt <= 0:
            return None
        delta = value - v0
        if delta < 0:
            span = 2.0 ** wrap_bits if wrap_bits is not None else 0.0
            # A wrap only if both readings fit the declared width; anything else is a reset.
            if wrap_bits is None or not span / 2 <= v0 < span or value >= span:
                return None
            delta += span
        return delta / dt

    def forget(self, key: object) -> None:
        self._last.pop(key, None)

    def keys(self) -> list[object]:
        return list(self._last)


class Collector(ABC):
    """A source of samples on this host. Subclasses register with @collectors.register."""

    name: ClassVar[str]
    provides: ClassVar[tuple[str, ...]]  # canonical metric names, checked against the catalog

    def __init__(self) -> None:
        self.host = ""
        self._absences: dict[tuple[str, str | None], Absence] = {}

    def open(self, host: str) -> None:
        """Prepare to sample; record what cannot be measured here with `self.absent`."""
        self.host = host

    @abstractmethod
    def sample(self, buf: SampleBuffer) -> None:
        """Append this tick's rows to `buf`. Must not raise for anything the machine does."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what `open` took."""

    def absent(self, what: str, reason: str, entity: str | None = None) -> None:
        """Record once that `what` (a metric or pattern) cannot be measured, and why."""
        key = (what, entity)
        if key not in self._absences:
            self._absences[key] = Absence(what, reason, self.host or None, entity, self.name)

    def absences(self) -> list[Absence]:
        return list(self._absences.values())

    def host_info(self) -> HostInfo | None:
        return None

    def gpus(self) -> list[GpuInfo]:
        return []

    def processes(self) -> list[ProcessInfo]:
        return []


COLLECTORS: dict[str, type[Collector]] = {}


def register(cls: type[Collector]) -> type[Collector]:
    """Class decorator: add a collector to the registry (refuses duplicates)."""
    if cls.name in COLLECTORS:
        raise RuntimeError(f"collector {cls.name!r} registered twice")
    COLLECTORS[cls.name] = cls
    return cls


CollectorFactory = Callable[[], Collector]
