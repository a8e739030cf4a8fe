"""The Trace: one tidy table of samples, the metadata needed to read it, and an event list.

Every path in (live collectors, importers, the simulator) produces a Trace, and everything after
(features, rules, reports, the gate) reads only a Trace. On disk it is a Parquet dataset; see
profiler.storage and docs/trace-format.md.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from profiler import __version__
from profiler.catalog import HOST_ENTITY, kind_of

FORMAT_VERSION = 1

SAMPLE_COLUMNS = ("ts", "host", "entity", "metric", "value")
EVENT_COLUMNS = ("ts", "host", "entity", "kind", "code", "message")
EVENT_KINDS = ("xid", "gpu_lost", "ecc", "collector_fault", "note")


@dataclass(frozen=True, slots=True)
class HostInfo:
    """A host in the trace. Fields a source did not know are None, never this machine's value."""

    name: str
    cpu_count: int | None = None
    mem_total: float | None = None
    numa_nodes: int | None = None
    kernel: str | None = None
    driver_version: str | None = None
    cuda_driver_version: str | None = None


@dataclass(frozen=True, slots=True)
class GpuInfo:
    """Identity and fixed properties of one GPU (units: bytes, W, Hz)."""

    host: str
    entity: str
    index: int
    name: str | None = None
    uuid: str | None = None
    bus_id: str | None = None
    numa_node: int | None = None
    cpu_affinity: tuple[int, ...] = ()
    architecture: str | None = None
    pcie_max_gen: int | None = None
    pcie_max_width: int | None = None
    nvlink_count: int | None = None
    nvlink_version: int | None = None
    memory_total: float | None = None
    power_limit: float | None = None
    max_sm_clock: float | None = None
    gpm: bool | None = None
    mig: bool | None = None


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """A compute process seen on a GPU, with where the kernel lets it run (for NUMA placement)."""

    host: str
    gpu: str
    pid: int
    name: str | None = None
    gpu_memory: float | None = None
    cpus_allowed: tuple[int, ...] = ()
    mems_allowed: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Absence:
    """Something that could not be measured, and why.

    `what` is a canonical metric name or a pattern of them ("gpu.*" when NVML is missing);
    `collector` names who found out; host/entity None means every host/entity.
    """

    what: str
    reason: str
    host: str | None = None
    entity: str | None = None
    collector: str | None = None

    def covers(self, metric_name: str) -> bool:
        return fnmatch.fnmatchcase(metric_name, self.what)


@dataclass(frozen=True, slots=True)
class Overhead:
    """What the recorder itself cost: its CPU time over the wall time it sampled."""

    cpu_seconds: float
    wall_seconds: float
    ticks: int

    @property
    def cpu_percent(self) -> float:
        """CPU time as a percentage of one core."""
        return 100.0 * self.cpu_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0


@dataclass(frozen=True, slots=True)
class TraceMeta:
    """Everything needed to read the samples. Unknown means None, never a default guessed here."""

    source: str = "unknown"
    tool_version: str = __version__
    format_version: int = FORMAT_VERSION
    interval_s: float | None = None
    started: str | None = None
    ended: str | None = None
    complete: bool = True
    hosts: tuple[HostInfo, ...] = ()
    gpus: tuple[GpuInfo, ...] = ()
    processes: tuple[ProcessInfo, ...] = ()
    unavailable: tuple[Absence, ...] = ()
    overhead: Overhead | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TraceMeta:
        """Build from a parsed JSON object; raises ValueError/TypeError on a malformed one."""
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {k: v for k, v in data.items() if k in known}
        nested: dict[str, type] = {"hosts": HostInfo, "gpus": GpuInfo, "processes": ProcessInfo,
                                   "unavailable": Absence}
        for key, record in nested.items():
            kwargs[key] = tuple(_record(record, item) for item in data.get(key) or ())
        if data.get("overhead") is not None:
            kwargs["overhead"] = _record(Overhead, data["overhead"])
        if not isinstance(kwargs.get("labels", {}), dict):
            raise TypeError("labels must be an object")
        return cls(**kwargs)

    def gpu(self, host: str, entity: str) -> GpuInfo | None:
        return next((g for g in self.gpus if g.host == host and g.entity == entity), None)

    def host(self, name: str) -> HostInfo | None:
        return next((h for h in self.hosts if h.name == name), None)


def _record(cls: type, item: Any) -> Any:
    if not isinstance(item, Mapping):
        raise TypeError(f"{cls.__name__} must be an object, not {type(item).__name__}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in item.items() if k in names}
    return cls(**kwargs)


TS_DTYPE = pd.DatetimeTZDtype("ns", "UTC")


def empty_samples() -> pd.DataFrame:
    return pd.DataFrame({
        "ts": pd.Series([], dtype="datetime64[ns, UTC]"),
        "host": pd.Categorical([]),
        "entity": pd.Categorical([]),
        "metric": pd.Categorical([]),
        "value": pd.Series([], dtype="float64"),
    })


def empty_events() -> pd.DataFrame:
    return pd.DataFrame({
        "ts": pd.Series([], dtype="datetime64[ns, UTC]"),
        "host": pd.Series([], dtype="object"),
        "entity": pd.Series([], dtype="object"),
        "kind": pd.Series([], dtype="object"),
        "code": pd.Series([], dtype="Int64"),
        "message": pd.Series([], dtype="object"),
    })


def normalize_samples(frame: pd.DataFrame) -> pd.DataFrame:
    """Coerce a samples frame to the canonical dtypes (raises ValueError/KeyError when it can't).

    Columns already in their canonical dtype are kept as they are, not copied: a day of samples
    is tens of millions of rows.
    """
    missing = [c for c in SAMPLE_COLUMNS if c not in frame.columns]
    if missing:
        raise KeyError(f"missing column {missing[0]!r}")
    ts = frame["ts"]
    if ts.dtype != TS_DTYPE:
        if not isinstance(ts.dtype, pd.DatetimeTZDtype):
            ts = pd.to_datetime(ts, utc=True)
        ts = ts.dt.tz_convert("UTC").astype(TS_DTYPE)
    columns: dict[str, pd.Series] = {"ts": ts}
    for name in ("host", "entity", "metric"):
        col = frame[name]
        columns[name] = col if isinstance(col.dtype, pd.CategoricalDtype) else col.astype(
            "category")
    value = frame["value"]
    columns["value"] = value if value.dtype == "float64" else pd.to_numeric(
        value, errors="raise").astype("float64")
    out = pd.DataFrame(columns, copy=False)
    if not isinstance(out.index, pd.RangeIndex) or out.index.start != 0 or out.index.step != 1:
        out = out.reset_index(drop=True)
    return out


def normalize_events(frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in EVENT_COLUMNS if c not in frame.columns]
    if missing:
        raise KeyError(f"missing event column {missing[0]!r}")
    ts = frame["ts"]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        ts = pd.to_datetime(ts, utc=True)
    return pd.DataFrame({
        "ts": ts.dt.tz_convert("UTC").astype("datetime64[ns, UTC]"),
        "host": frame["host"].astype("object"),
        "entity": frame["entity"].astype("object"),
        "kind": frame["kind"].astype("object"),
        "code": pd.array(frame["code"], dtype="Int64"),
        "message": frame["message"].astype("object"),
    }).reset_index(drop=True)


@dataclass(slots=True)
class Trace:
    """Samples (ts, host, entity, metric, value) in SI units, metadata, and events."""

    samples: pd.DataFrame
    meta: TraceMeta = field(default_factory=TraceMeta)
    events: pd.DataFrame = field(default_factory=empty_events)
    # Results a loader derived from richer input (a profiler timeline's per-rank breakdown),
    # kept in memory for the report; not part of the on-disk format.
    analyses: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_series(
        cls,
        series: Mapping[str, Mapping[str, Sequence[float]]],
        *,
        interval_s: float = 1.0,
        host: str = "node1",
        start: str = "2026-01-01T00:00:00Z",
        meta: TraceMeta | None = None,
        events: Iterable[Mapping[str, Any]] = (),
    ) -> Trace:
        """A Trace from {entity: {metric: [values...]}} sampled every `interval_s` from `start`.

        An entity key may name its host ("node2/gpu0"); NaN values are gaps, not samples.
        Metadata lists the hosts and GPUs seen unless `meta` is given.
        """
        t0 = pd.Timestamp(start)
        t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0.tz_convert("UTC")
        columns: dict[str, list[Any]] = {c: [] for c in SAMPLE_COLUMNS}
        for key, metrics in series.items():
            entity_host, entity = key.split("/", 1) if "/" in key else (host, key)
            for name, values in metrics.items():
                kind_of(name)  # raises on a name that is not canonical
                arr = np.asarray(values, dtype="float64")
                keep = ~np.isnan(arr)
                offsets = np.arange(len(arr), dtype="float64")[keep] * interval_s
                columns["ts"].extend(t0 + pd.to_timedelta(offsets, unit="s"))
                columns["host"].extend([entity_host] * int(keep.sum()))
                columns["entity"].extend([entity] * int(keep.sum()))
                columns["metric"].extend([name] * int(keep.sum()))
                columns["value"].extend(arr[keep].tolist())
        samples = normalize_samples(pd.DataFrame(columns)) if columns["ts"] else empty_samples()
        event_frame = pd.DataFrame(list(events)) if events else None
        if event_frame is not None and not event_frame.empty:
            event_frame["ts"] = pd.to_datetime(event_frame["ts"], utc=True)
            for col, default in (("code", None), ("message", ""), ("entity", HOST_ENTITY),
                                 ("host", host)):
                if col not in event_frame:
                    event_frame[col] = default
            ev = normalize_events(event_frame)
        else:
            ev = empty_events()
        if meta is None:
            meta = _meta_from_samples(samples, interval_s, source="series")
        return cls(samples, meta, ev)

    # --- facts about the trace -------------------------------------------------------------------

    @property
    def hosts(self) -> list[str]:
        return sorted(str(h) for h in self.samples["host"].unique())

    @property
    def metrics(self) -> list[str]:
        return sorted(str(m) for m in self.samples["metric"].unique())

    @property
    def start(self) -> pd.Timestamp | None:
        return None if self.samples.empty else self.samples["ts"].min()

    @property
    def end(self) -> pd.Timestamp | None:
        return None if self.samples.empty else self.samples["ts"].max()

    @property
    def duration_s(self) -> float:
        """From the first to the last sample, plus one interval (each sample covers one)."""
        if self.samples.empty:
            return 0.0
        span: float = (self.samples["ts"].max() - self.samples["ts"].min()).total_seconds()
        return span + (self.meta.interval_s or 0.0)

    @property
    def tick_count(self) -> int:
        """Distinct sample times: how many times the node was sampled."""
        return int(self.samples["ts"].nunique())

    def has(self, metric_name: str) -> bool:
        return bool((self.samples["metric"] == metric_name).any())

    def absence_reason(self, metric_name: str) -> str | None:
        """Why `metric_name` is missing, from the recorded absences (exact names first)."""
        exact = [a for a in self.meta.unavailable if a.what == metric_name]
        matches = exact or [a for a in self.meta.unavailable if a.covers(metric_name)]
        return matches[0].reason if matches else None

    @staticmethod
    def concat(traces: Sequence[Trace]) -> Trace:
        """Join traces of different hosts (or consecutive windows) into one."""
        if not traces:
            raise ValueError("no traces to join")
        if len(traces) == 1:
            return traces[0]
        samples = normalize_samples(pd.concat([t.samples.astype({"host": str, "entity": str,
                                                                 "metric": str})
                                               for t in traces], ignore_index=True))
        events = pd.concat([t.events for t in traces if not t.events.empty] or [empty_events()],
                           ignore_index=True)
        metas = [t.meta for t in traces]
        intervals = [m.interval_s for m in metas if m.interval_s]
        meta = dataclasses.replace(
            metas[0],
            source=",".join(dict.fromkeys(m.source for m in metas)),
            interval_s=max(intervals) if intervals else None,
            started=min((m.started for m in metas if m.started), default=None),
            ended=max((m.ended for m in metas if m.ended), default=None),
            complete=all(m.complete for m in metas),
            hosts=_unique(h for m in metas for h in m.hosts),
            gpus=_unique(g for m in metas for g in m.gpus),
            processes=_unique(p for m in metas for p in m.processes),
            unavailable=_unique(a for m in metas for a in m.unavailable),
            overhead=None,
        )
        analyses: dict[str, Any] = {}
        for t in traces:
            analyses.update(t.analyses)
        return Trace(samples, meta, normalize_events(events) if not events.empty else events,
                     analyses)


def _unique(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(items))


def _meta_from_samples(samples: pd.DataFrame, interval_s: float | None, source: str) -> TraceMeta:
    hosts = sorted(str(h) for h in samples["host"].unique()) if not samples.empty else []
    gpu_keys = samples.loc[samples["metric"].astype(str).str.startswith("gpu."),
                           ["host", "entity"]].drop_duplicates() if not samples.empty else None
    gpus: list[GpuInfo] = []
    if gpu_keys is not None:
        pairs = zip(gpu_keys["host"].astype(str), gpu_keys["entity"].astype(str), strict=True)
        for host_name, entity in sorted(pairs):
            digits = entity.removeprefix("gpu")
            gpus.append(GpuInfo(host_name, entity, int(digits) if digits.isdigit() else -1))
    return TraceMeta(source=source, interval_s=interval_s,
                     started=None if samples.empty else samples["ts"].min().isoformat(),
                     ended=None if samples.empty else samples["ts"].max().isoformat(),
                     hosts=tuple(HostInfo(h) for h in hosts), gpus=tuple(gpus))


def infer_interval(samples: pd.DataFrame) -> float | None:
    """The median spacing of sample times, in seconds; None with fewer than two times."""
    times = np.unique(samples["ts"].to_numpy(dtype="datetime64[ns]").astype("int64"))
    if len(times) < 2:
        return None
    step = float(np.median(np.diff(times)) / 1e9)
    return step if math.isfinite(step) and step > 0 else None
