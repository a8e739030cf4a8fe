"""Outside series -> canonical samples: units, counters to rates, name preference, aggregation.

Every importer hands over `Part`s: one outside series (a CSV column of one GPU, a Prometheus
series) with the catalog entry it maps to. `assemble` does the rest with numpy over each series;
Python loops only over series, never over samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from profiler.catalog import DCGM_BLANK_FLOAT, DCGM_BLANK_INT, METRICS, OutsideName
from profiler.trace import TS_DTYPE, empty_samples

NS = 1_000_000_000
NAT = np.iinfo("int64").min
_RATIO_CAPPED = ("gpu.throttle.",)


@dataclass(frozen=True, slots=True)
class Part:
    """One outside series: times (int64 ns since the epoch, UTC) and raw values.

    `sub` names a series inside an aggregated entity (a CPU of node_cpu_seconds_total);
    `is_rate` says a counter arrives already differenced (Prometheus rate()).
    """

    host: str
    entity: str
    outside: OutsideName
    ts: np.ndarray
    values: np.ndarray
    sub: str = ""
    is_rate: bool = False


def _clean(part: Part) -> tuple[np.ndarray, np.ndarray]:
    """Finite, non-sentinel values, sorted by time, one per time; counters become rates."""
    ts = np.asarray(part.ts, dtype="int64")
    v = np.asarray(part.values, dtype="float64")
    keep = np.isfinite(v) & (ts != NAT)  # NaT: a local time DST repeats, not placeable
    if part.outside.source in ("dcgm", "dcgmi-dmon"):  # DCGM's blank sentinels mean "no value"
        keep &= (v < DCGM_BLANK_INT) & ~((v >= DCGM_BLANK_FLOAT) & (v < DCGM_BLANK_FLOAT + 4))
    if not keep.all():
        ts, v = ts[keep], v[keep]
    if len(ts) > 1 and not (np.diff(ts) > 0).all():
        ts, first = np.unique(ts, return_index=True)
        v = v[first]
    out = part.outside
    if out.counter and not part.is_rate:
        if len(ts) < 2:
            return ts[:0], v[:0]
        dt = np.diff(ts) / NS
        dv = np.diff(v)
        ok = (dv >= 0) & (dt > 0)  # a decrease is a reset: that interval is dropped
        ts, v = ts[1:][ok], dv[ok] / dt[ok]
    if out.bit is not None:
        return ts, np.where(v != 0, float(out.bit), 0.0)
    return ts, v * out.scale if out.scale != 1.0 else v


def _group_key(o: OutsideName) -> object:
    return o.field_id if o.field_id is not None else (o.source, o.name, o.labels, o.bit)


def _choose(parts: list[tuple[Part, np.ndarray, np.ndarray]]
            ) -> list[tuple[Part, np.ndarray, np.ndarray]]:
    """The parts of the highest preference present; of aliases of one field, the first name."""
    best = max(p.outside.preference for p, _, _ in parts)
    chosen: dict[object, str] = {}
    seen: set[tuple[OutsideName, str]] = set()
    kept = []
    for p, ts, v in parts:
        if p.outside.preference != best or (p.outside, p.sub) in seen:
            continue
        seen.add((p.outside, p.sub))
        name = chosen.setdefault(_group_key(p.outside), p.outside.name)
        if name == p.outside.name:
            kept.append((p, ts, v))
    return kept


def _combine(metric: str, parts: list[tuple[Part, np.ndarray, np.ndarray]]
             ) -> tuple[np.ndarray, np.ndarray]:
    """Series of one (host, entity, metric): summed per sub and time, then mean/sum over subs."""
    if len(parts) == 1:
        return parts[0][1], parts[0][2]
    frame = pd.DataFrame({
        "sub": np.concatenate([np.full(len(ts), p.sub, dtype=object) for p, ts, _ in parts]),
        "ts": np.concatenate([ts for _, ts, _ in parts]),
        "v": np.concatenate([v for _, _, v in parts]),
    })
    per_sub = frame.groupby(["sub", "ts"], sort=False)["v"].sum().reset_index()
    mean = any(p.outside.aggregate == "mean" for p, _, _ in parts)
    grouped = per_sub.groupby("ts")["v"]
    out = grouped.mean() if mean else grouped.sum()
    return out.index.to_numpy(dtype="int64"), out.to_numpy(dtype="float64")


def assemble(parts: Iterable[Part]) -> pd.DataFrame:
    """Canonical samples (ts, host, entity, metric, value) from outside series."""
    groups: dict[tuple[str, str, str], list[tuple[Part, np.ndarray, np.ndarray]]] = {}
    for part in parts:
        ts, v = _clean(part)
        if len(ts):
            groups.setdefault((part.host, part.entity, part.outside.metric), []).append(
                (part, ts, v))
    if not groups:
        return empty_samples()
    keys: list[tuple[str, str, str]] = []
    times: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for key, members in groups.items():
        ts, v = _combine(key[2], _choose(members))
        if key[2].startswith(_RATIO_CAPPED):
            v = np.clip(v, 0.0, 1.0)
        keys.append(key)
        times.append(ts)
        values.append(v)
    return _frame(keys, times, values)


def _frame(keys: Sequence[tuple[str, str, str]], times: Sequence[np.ndarray],
           values: Sequence[np.ndarray]) -> pd.DataFrame:
    lengths = np.array([len(t) for t in times], dtype="int64")
    columns: dict[str, object] = {"ts": pd.DatetimeIndex(
        np.concatenate(times).view("datetime64[ns]")).tz_localize("UTC").astype(TS_DTYPE)}
    for i, name in enumerate(("host", "entity", "metric")):
        labels = [k[i] for k in keys]
        cats = sorted(set(labels))
        index = {c: j for j, c in enumerate(cats)}
        codes = np.repeat(np.array([index[x] for x in labels], dtype="int32"), lengths)
        columns[name] = pd.Categorical.from_codes(codes, categories=cats)
    columns["value"] = np.concatenate(values).astype("float64")
    frame = pd.DataFrame(columns)
    unknown = set(frame["metric"].cat.categories) - set(METRICS)
    if unknown:
        raise ValueError(f"not canonical: {sorted(unknown)}")
    return frame


def is_blank(value: float) -> bool:
    """DCGM's blank sentinels (no value, not found, not supported, not permitted)."""
    return value >= DCGM_BLANK_INT or DCGM_BLANK_FLOAT <= value < DCGM_BLANK_FLOAT + 4
